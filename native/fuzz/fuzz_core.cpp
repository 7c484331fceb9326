// libFuzzer target for the core C++ entry points (native/core/noised_topk.h), below the N-API
// layer: ntk::validate, ntk::forwardCpu and ntk::backwardCpu on layouts, k, epsilon, nSample,
// seeds and raw float bits (NaN, ±Inf, ±0, denormals) taken from the input. Every buffer is
// allocated at its exact size so ASan sees any out-of-bounds access; invalid arguments must be
// refused by validate and by the kernels alike without a memory access; valid ones must give
// the answer of a naive reference written here (rank order, noise stream, mean in order).
//
// Build and run: scripts/fuzz-native.sh [seconds]   (clang with -fsanitize=fuzzer,address,undefined)
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "../core/noised_topk.h"
#include "../core/philox_normal.h"
#include "../core/sample_mean.h"

namespace {

// Reads the fuzz input front to back; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  uint8_t u8() { return p_ < end_ ? *p_++ : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(u8()) << (8 * i);
    return v;
  }
  float f32() {
    // Mostly interesting values, sometimes raw bits.
    const uint8_t tag = u8();
    static const float table[] = {0.0f,
                                  -0.0f,
                                  1.0f,
                                  -1.0f,
                                  2.0f,
                                  0.5f,
                                  1e30f,
                                  -1e30f,
                                  3.4028235e38f,
                                  1e-45f,
                                  __builtin_inff(),
                                  -__builtin_inff(),
                                  __builtin_nanf("")};
    if (tag < 200) return table[tag % (sizeof(table) / sizeof(table[0]))];
    const uint32_t b = u32();
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

template <typename T>
std::unique_ptr<T[]> exact(uint64_t n) {
  return std::unique_ptr<T[]>(n ? new T[n] : nullptr);
}

[[noreturn]] void fail(const char* what) {
  __builtin_printf("fuzz_core: %s\n", what);
  std::abort();
}

bool sameFloat(float a, float b) {
  if (a != a) return b != b;  // NaN: sign and payload are not part of the contract
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t flags = in.u8();
  ntk::Layout l;
  l.outer = in.u8() % 6;
  l.d = in.u8() % 48;  // 0 is invalid
  l.inner = in.u8() % 5;
  const uint32_t kRaw = in.u8();
  const uint32_t k = (flags & 1) ? kRaw : 1 + (l.d ? kRaw % l.d : 0);  // sometimes out of range
  const uint32_t S = (flags & 2) ? in.u8() % 10 : 1 + in.u8() % 6;     // sometimes 0
  const float eps = (flags & 4) ? in.f32() : static_cast<float>(in.u8() % 4) * 0.5f;
  const bool explicitNoise = flags & 8;
  ntk::setCpuThreads((flags & 16) ? 2 : 1);

  const uint64_t size_ = l.size(), rows = l.rows();
  auto x = exact<float>(size_);
  for (uint64_t j = 0; j < size_; ++j) x[j] = in.f32();
  auto noise = exact<float>(explicitNoise ? size_ * (S ? S : 1) : 0);
  if (explicitNoise)
    for (uint64_t j = 0; j < size_ * (S ? S : 1); ++j) noise[j] = in.f32();
  auto values = exact<float>(rows);
  auto positions = exact<int32_t>(rows * (S ? S : 1));

  ntk::ForwardArgs a;
  a.x = x.get();
  a.layout = l;
  a.k = k;
  a.epsilon = eps;
  a.nSample = S;
  a.noise.explicitNoise = explicitNoise ? noise.get() : nullptr;
  a.noise.seedLo = in.u32();
  a.noise.seedHi = in.u32();
  a.noise.offset = in.u32();
  a.values = values.get();
  a.positions = positions.get();

  const bool valid = l.d >= 1 && k >= 1 && k <= l.d && S >= 1 && eps >= 0.0f && eps <= 3.4028235e38f;
  const char* why = nullptr;
  const ntk::Status v = ntk::validate(a, &why);
  if ((v == ntk::Status::kOk) != valid) fail("validate disagrees with the contract");
  const ntk::Status f = ntk::forwardCpu(a);
  if (!valid) {
    if (f != ntk::Status::kInvalidArgument) fail("forwardCpu accepted invalid arguments");
    return 0;
  }
  if (f != ntk::Status::kOk) fail("forwardCpu failed on valid arguments");

  // Reference: every (row, sample) from scratch.
  const uint32_t d = static_cast<uint32_t>(l.d);
  std::vector<uint64_t> keys(d);
  std::vector<float> y(d);
  for (uint64_t row = 0; row < rows; ++row) {
    const uint64_t o = row / l.inner, i = row % l.inner;
    ntk::SampleMean sum;  // the mean rule: a float64 sum in sample order, rounded once
    for (uint32_t s = 0; s < S; ++s) {
      for (uint32_t c = 0; c < d; ++c) {
        const uint64_t e = (o * l.d + c) * l.inner + i;
        float z;
        if (explicitNoise) {
          z = noise[e * S + s];
        } else {
          z = ntk::normal4(a.noise.seedLo, a.noise.seedHi, a.noise.offset, static_cast<uint32_t>(row), s, c / 4)
                  .z[c % 4];
        }
        y[c] = ntk::perturb(x[e], eps, z);
        keys[c] = ntk::rankComposite(y[c], c);
      }
      std::sort(keys.begin(), keys.end(), [](uint64_t p, uint64_t q) { return p > q; });
      const uint32_t col = ntk::compositeColumn(keys[k - 1]);
      if (positions[row * S + s] != static_cast<int32_t>(col)) {
        __builtin_printf(
            "layout [%llu, %u, %llu] k=%u S=%u eps=%a explicit=%d row=%llu sample=%u: kernel column %d, reference %u\n",
            (unsigned long long)l.outer, d, (unsigned long long)l.inner, k, S, eps, explicitNoise ? 1 : 0,
            (unsigned long long)row, s, positions[row * S + s], col);
        for (uint32_t c = 0; c < d; ++c) __builtin_printf("  y[%u] = %a\n", c, y[c]);
        fail("forwardCpu picked another column than the reference");
      }
      sum.add(y[col]);
    }
    if (!sameFloat(values[row], sum.mean(S))) fail("forwardCpu value differs from the reference");
  }

  // Backward on the forward's positions, then on positions the input may corrupt.
  auto rowScale = exact<float>(rows);
  for (uint64_t r = 0; r < rows; ++r) rowScale[r] = in.f32();
  auto grad = exact<float>(size_);
  ntk::BackwardArgs b;
  b.positions = positions.get();
  b.rowScale = rowScale.get();
  b.layout = l;
  b.nSample = S;
  b.grad = grad.get();
  bool corrupt = false;
  if ((flags & 32) && rows) {
    const uint64_t at = in.u32() % (rows * S);
    positions[at] = static_cast<int32_t>(in.u32());
    corrupt = positions[at] < 0 || static_cast<uint64_t>(positions[at]) >= l.d;
  }
  if (ntk::validate(b, &why) != ntk::Status::kOk) fail("backward validate refused valid arguments");
  const ntk::Status g = ntk::backwardCpu(b);
  if (corrupt) {
    if (g != ntk::Status::kInvalidArgument) fail("backwardCpu accepted a position outside [0, d)");
    return 0;
  }
  if (g != ntk::Status::kOk) fail("backwardCpu failed on valid arguments");
  std::vector<uint32_t> counts(d);
  for (uint64_t row = 0; row < rows; ++row) {
    const uint64_t o = row / l.inner, i = row % l.inner;
    std::fill(counts.begin(), counts.end(), 0);
    for (uint32_t s = 0; s < S; ++s) ++counts[positions[row * S + s]];
    for (uint32_t c = 0; c < d; ++c) {
      // pytopk's dense mask: unselected entries are 0 * rowScale.
      const float want = ntk::countShare(counts[c], S, rowScale[row]);
      if (!sameFloat(grad[(o * l.d + c) * l.inner + i], want)) fail("backwardCpu gradient differs from the reference");
    }
  }
  return 0;
}
