// CPU kernels. The answer for each (row, sample) is unique under the rank order of
// philox_normal.h, so neither the selection algorithm nor the thread split can change it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../core/noised_topk.h"
#include "../core/philox_normal.h"
#include "thread_pool.h"

namespace ntk {

const char* statusName(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kOutOfMemory: return "out of memory";
    case Status::kDeviceUnavailable: return "no CUDA device";
    case Status::kDeviceError: return "CUDA error";
  }
  return "unknown status";
}

namespace {

constexpr uint32_t kMaxSamples = 1u << 24;  // counts / nSample stay exact in float

bool layoutOverflows(const Layout& l) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  if (l.d != 0 && l.outer > max / l.d) return true;
  const uint64_t od = l.outer * l.d;
  return l.inner != 0 && od > max / l.inner;
}

Status fail(const char** why, const char* msg) {
  if (why) *why = msg;
  return Status::kInvalidArgument;
}

// Composite rank: the float's rank key above, the complemented column below, so a larger
// composite is a higher rank and every composite in a slice is distinct.
inline uint64_t composite(float y, uint32_t c) {
  return (static_cast<uint64_t>(rankKey(y)) << 32) | static_cast<uint32_t>(~c);
}
inline uint32_t compositeColumn(uint64_t key) { return ~static_cast<uint32_t>(key); }

struct Scratch {
  std::vector<float> y;
  std::vector<uint64_t> keys;
  std::vector<uint32_t> counts;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Fills y[0, d) with the perturbed slice (row, sample).
void perturbedSlice(const ForwardArgs& a, uint64_t row, uint32_t sample, float* y) {
  const Layout& l = a.layout;
  const uint64_t o = row / l.inner, i = row % l.inner;
  const uint64_t base = o * l.d * l.inner + i;
  const float eps = a.epsilon;
  if (a.noise.explicitNoise) {
    const float* z = a.noise.explicitNoise;
    for (uint64_t c = 0; c < l.d; ++c) {
      const uint64_t e = base + c * l.inner;
      y[c] = perturb(a.x[e], eps, z[e * a.nSample + sample]);
    }
    return;
  }
  const uint64_t groups = (l.d + 3) / 4;
  for (uint64_t g = 0; g < groups; ++g) {
    const Normal4 z = normal4(a.noise.seedLo, a.noise.seedHi, a.noise.offset,
                              static_cast<uint32_t>(row), sample, static_cast<uint32_t>(g));
    const uint64_t c0 = g * 4;
    const uint64_t n = std::min<uint64_t>(4, l.d - c0);
    for (uint64_t j = 0; j < n; ++j) y[c0 + j] = perturb(a.x[base + (c0 + j) * l.inner], eps, z.z[j]);
  }
}

// Column of the k-th largest of y[0, d) under the rank order.
uint32_t kthColumn(const float* y, uint32_t d, uint32_t k, std::vector<uint64_t>& keys) {
  if (k <= 32) {
    // Sorted (descending) top-k buffer; an element enters only if it beats the current k-th.
    uint64_t top[32];
    uint32_t filled = 0;
    for (uint32_t c = 0; c < d; ++c) {
      const uint64_t key = composite(y[c], c);
      if (filled == k) {
        if (key <= top[k - 1]) continue;
        --filled;
      }
      uint32_t p = filled++;
      while (p > 0 && top[p - 1] < key) {
        top[p] = top[p - 1];
        --p;
      }
      top[p] = key;
    }
    return compositeColumn(top[k - 1]);
  }
  keys.resize(d);
  for (uint32_t c = 0; c < d; ++c) keys[c] = composite(y[c], c);
  std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end(), std::greater<uint64_t>());
  return compositeColumn(keys[k - 1]);
}

}  // namespace

Status validate(const ForwardArgs& a, const char** why) {
  const Layout& l = a.layout;
  if (layoutOverflows(l)) return fail(why, "layout size overflows 64 bits");
  if (l.d == 0) return fail(why, "the reduced dim is empty");
  if (l.d > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    return fail(why, "the reduced dim exceeds 2^31 - 1");
  if (l.rows() > std::numeric_limits<uint32_t>::max()) return fail(why, "more than 2^32 - 1 rows");
  if (a.k < 1 || a.k > l.d) return fail(why, "k must be in [1, d]");
  if (!std::isfinite(a.epsilon) || a.epsilon < 0.0f) return fail(why, "epsilon must be finite and >= 0");
  if (a.nSample < 1 || a.nSample > kMaxSamples) return fail(why, "nSample must be in [1, 2^24]");
  if (l.size() > 0 && !a.x) return fail(why, "x is null");
  if (l.rows() > 0 && (!a.values || !a.positions)) return fail(why, "an output is null");
  return Status::kOk;
}

Status validate(const BackwardArgs& a, const char** why) {
  const Layout& l = a.layout;
  if (layoutOverflows(l)) return fail(why, "layout size overflows 64 bits");
  if (l.d == 0) return fail(why, "the reduced dim is empty");
  if (l.d > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    return fail(why, "the reduced dim exceeds 2^31 - 1");
  if (a.nSample < 1 || a.nSample > kMaxSamples) return fail(why, "nSample must be in [1, 2^24]");
  if (l.rows() > 0 && (!a.positions || !a.rowScale || !a.grad)) return fail(why, "an argument is null");
  return Status::kOk;
}

Status forwardCpu(const ForwardArgs& a) {
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  const uint64_t rows = a.layout.rows();
  const uint32_t d = static_cast<uint32_t>(a.layout.d);
  const uint32_t S = a.nSample;
  if (rows == 0) return Status::kOk;
  std::vector<float> kth;
  try {
    kth.resize(rows * S);
  } catch (const std::bad_alloc&) {
    return Status::kOutOfMemory;
  }
  bool oom = false;
  const uint64_t units = rows * S;
  const size_t grain = std::max<size_t>(1, 32768 / (static_cast<size_t>(d) + 1));
  parallelFor(units, grain, [&](size_t begin, size_t end) {
    Scratch& sc = scratch();
    try {
      if (sc.y.size() < d) sc.y.resize(d);
    } catch (const std::bad_alloc&) {
      oom = true;
      return;
    }
    for (size_t u = begin; u < end; ++u) {
      const uint64_t row = u / S;
      const uint32_t s = static_cast<uint32_t>(u % S);
      perturbedSlice(a, row, s, sc.y.data());
      uint32_t c;
      try {
        c = kthColumn(sc.y.data(), d, a.k, sc.keys);
      } catch (const std::bad_alloc&) {
        oom = true;
        return;
      }
      a.positions[u] = static_cast<int32_t>(c);
      kth[u] = sc.y[c];
    }
  });
  if (oom) return Status::kOutOfMemory;
  const float fS = static_cast<float>(S);
  for (uint64_t r = 0; r < rows; ++r) {
    float sum = 0.0f;  // samples in order: the rounding is part of the contract
    for (uint32_t s = 0; s < S; ++s) sum = NTK_FADD(sum, kth[r * S + s]);
    a.values[r] = NTK_FDIV(sum, fS);
  }
  return Status::kOk;
}

Status backwardCpu(const BackwardArgs& a) {
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  const Layout& l = a.layout;
  const uint64_t rows = l.rows();
  const uint32_t S = a.nSample;
  const uint32_t d = static_cast<uint32_t>(l.d);
  for (uint64_t r = 0; r < rows * S; ++r) {
    if (a.positions[r] < 0 || static_cast<uint64_t>(a.positions[r]) >= l.d) return Status::kInvalidArgument;
  }
  bool oom = false;
  const float fS = static_cast<float>(S);
  const size_t grain = std::max<size_t>(1, 65536 / (static_cast<size_t>(d) + S));
  parallelFor(l.outer, std::max<size_t>(1, grain / std::max<uint64_t>(l.inner, 1)), [&](size_t ob, size_t oe) {
    Scratch& sc = scratch();
    try {
      if (sc.counts.size() < d) sc.counts.assign(d, 0);
    } catch (const std::bad_alloc&) {
      oom = true;
      return;
    }
    uint32_t* counts = sc.counts.data();
    for (uint64_t o = ob; o < oe; ++o) {
      for (uint64_t i = 0; i < l.inner; ++i) {
        const uint64_t r = o * l.inner + i;
        const int32_t* pos = a.positions + r * S;
        for (uint32_t s = 0; s < S; ++s) ++counts[pos[s]];
        const float scale = a.rowScale[r];
        // Unselected columns get 0 * scale, as a dense mask times grad_output would: -0 for
        // a negative scale, NaN for a non-finite one.
        const float unselected = NTK_FMUL(0.0f, scale);
        float* slice = a.grad + o * l.d * l.inner + i;
        for (uint32_t c = 0; c < d; ++c) slice[static_cast<uint64_t>(c) * l.inner] = unselected;
        for (uint32_t s = 0; s < S; ++s) {
          const uint32_t c = static_cast<uint32_t>(pos[s]);
          if (counts[c] == 0) continue;  // already written
          const float share = NTK_FDIV(static_cast<float>(counts[c]), fS);
          a.grad[(o * l.d + c) * l.inner + i] = NTK_FMUL(share, scale);
          counts[c] = 0;
        }
      }
    }
  });
  return oom ? Status::kOutOfMemory : Status::kOk;
}

void setCpuThreads(unsigned n) { setPoolThreads(n); }
unsigned cpuThreads() { return poolThreads(); }

}  // namespace ntk
