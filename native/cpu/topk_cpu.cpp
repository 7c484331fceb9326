// CPU kernels of the hard top-k and of the perturbed top-k mask (native/core/ops.h).
//
// Invariant: every output is a pure function of the inputs under rank_key.h's selectKey
// order (larger key first, ties to the lower column, NaN the largest value, -0 == +0), so the
// selection algorithm (threshold buffer, nth_element), the SIMD path and the thread split can
// never show in the results, and lib/ops-kernel.ts (the 'js' backend) gives the same bits.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <vector>

#include "../core/ops.h"
#include "../core/philox_normal.h"
#include "kernel_internal.h"
#include "thread_pool.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(NTK_NO_AVX2_PATH)
#define NTK_TOPK_HAVE_AVX2 1
#include <immintrin.h>
#define NTK_TOPK_AVX2 __attribute__((target("avx2")))
#endif

namespace ntk {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// The AVX2 scan where the CPU has it, unless NOISED_TOPK_CPU_ISA=baseline (read once). Both
// paths select the same columns (the scan only skips blocks that cannot enter).
bool useAvx2() {
  static const bool on = [] {
    const char* env = std::getenv("NOISED_TOPK_CPU_ISA");
    if (env && std::strcmp(env, "baseline") == 0) return false;
    return cpu::avx2Usable();
  }();
  return on;
}

// k <= kBufferK: a sorted buffer with a threshold (most columns of a row fail one float
// comparison against the k-th held value); k up to d / kHeapRatio: the same scan with a binary
// min-heap of the k best; above: nth_element over every column's composite.
constexpr uint32_t kBufferK = 32;
constexpr uint32_t kHeapRatio = 8;

struct Best {
  uint64_t key[kBufferK];
  uint32_t k = 1;
  uint32_t filled = 0;

  // Offers column c (columns come in increasing order, so an equal key ranks below every one
  // held: only a strictly larger key enters a full buffer). True when the buffer is full
  // after the call and its k-th entry may have changed.
  inline bool offer(uint32_t kk, uint32_t c) {
    uint32_t p;
    if (filled == k) {
      if (kk <= static_cast<uint32_t>(key[k - 1] >> 32)) return false;
      p = k - 1;
    } else {
      p = filled++;
    }
    const uint64_t v = composite(kk, c);
    while (p > 0 && key[p - 1] < v) {
      key[p] = key[p - 1];
      --p;
    }
    key[p] = v;
    return filled == k;
  }
  uint64_t kth() const { return key[k - 1]; }
};

// The k best held in a min-heap of composites (the root is the k-th best), same contract.
struct Heap {
  uint64_t* key = nullptr;  // [k]
  uint32_t k = 1;
  uint32_t filled = 0;

  inline bool offer(uint32_t kk, uint32_t c) {
    const uint64_t v = composite(kk, c);
    if (filled < k) {
      uint32_t p = filled++;
      while (p > 0 && key[(p - 1) / 2] > v) {
        key[p] = key[(p - 1) / 2];
        p = (p - 1) / 2;
      }
      key[p] = v;
      return filled == k;
    }
    if (kk <= static_cast<uint32_t>(key[0] >> 32)) return false;
    uint32_t p = 0;
    for (;;) {
      uint32_t child = 2 * p + 1;
      if (child >= k) break;
      if (child + 1 < k && key[child + 1] < key[child]) ++child;
      if (key[child] >= v) break;
      key[p] = key[child];
      p = child;
    }
    key[p] = v;
    return true;
  }
  uint64_t kth() const { return key[0]; }
};

// A column can enter the buffer only if its value is not certainly worse than tau, the k-th
// held value (+-inf before the buffer is full): !(y < tau) for largest, !(y > tau) for
// smallest. Both are true for NaN and for every tie, so the test never drops a candidate; the
// exact key comparison in offer() decides.
template <bool Largest>
inline bool maybe(float y, float tau) {
  return Largest ? !(y < tau) : !(y > tau);
}

template <bool Largest, typename Buf>
inline void scanScalar(const float* y, uint32_t begin, uint32_t d, Buf& b, float& tau) {
  for (uint32_t c = begin; c < d; ++c) {
    const float v = y[c];
    if (!maybe<Largest>(v, tau)) continue;
    if (b.offer(selectKey(v, Largest), c)) tau = y[compositeColumn(b.kth())];
  }
}

#ifdef NTK_TOPK_HAVE_AVX2
// 32 columns per test: four compares OR-ed, one branch. Returns the first column not scanned.
template <bool Largest, typename Buf>
NTK_TOPK_AVX2 uint32_t scanAvx2(const float* y, uint32_t d, Buf& b, float& tau) {
  constexpr int kPred = Largest ? _CMP_NLT_UQ : _CMP_NGT_UQ;  // "maybe", true for NaN
  __m256 t = _mm256_set1_ps(tau);
  uint32_t c0 = 0;
  for (; c0 + 32 <= d; c0 += 32) {
    const __m256 m0 = _mm256_cmp_ps(_mm256_loadu_ps(y + c0), t, kPred);
    const __m256 m1 = _mm256_cmp_ps(_mm256_loadu_ps(y + c0 + 8), t, kPred);
    const __m256 m2 = _mm256_cmp_ps(_mm256_loadu_ps(y + c0 + 16), t, kPred);
    const __m256 m3 = _mm256_cmp_ps(_mm256_loadu_ps(y + c0 + 24), t, kPred);
    const __m256 any = _mm256_or_ps(_mm256_or_ps(m0, m1), _mm256_or_ps(m2, m3));
    if (_mm256_testz_ps(any, any)) continue;
    // Some lane may enter: the exact scalar step, in column order, for this block.
    uint32_t bits =
        static_cast<uint32_t>(_mm256_movemask_ps(m0)) | (static_cast<uint32_t>(_mm256_movemask_ps(m1)) << 8) |
        (static_cast<uint32_t>(_mm256_movemask_ps(m2)) << 16) | (static_cast<uint32_t>(_mm256_movemask_ps(m3)) << 24);
    while (bits) {
      const uint32_t c = c0 + static_cast<uint32_t>(__builtin_ctz(bits));
      bits &= bits - 1;
      const float v = y[c];
      if (!maybe<Largest>(v, tau)) continue;  // tau may have risen within the block
      if (b.offer(selectKey(v, Largest), c)) tau = y[compositeColumn(b.kth())];
    }
    t = _mm256_set1_ps(tau);
  }
  return c0;
}
#endif

// True when every y[0, d) is finite.
bool rowFiniteScalar(const float* y, uint32_t d, uint32_t begin) {
  bool ok = true;
  for (uint32_t c = begin; c < d; ++c) ok = ok && std::isfinite(y[c]);
  return ok;
}

#ifdef NTK_TOPK_HAVE_AVX2
NTK_TOPK_AVX2 bool rowFiniteAvx2(const float* y, uint32_t d) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 inf = _mm256_set1_ps(kInf);
  __m256 bad = _mm256_setzero_ps();
  uint32_t c = 0;
  for (; c + 8 <= d; c += 8) {
    // |y| >= inf or unordered: an infinity or a NaN.
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(y + c), absMask), inf, _CMP_NLT_UQ));
  }
  return _mm256_testz_ps(bad, bad) && rowFiniteScalar(y, d, c);
}
#endif

bool rowFinite(const float* y, uint32_t d) {
#ifdef NTK_TOPK_HAVE_AVX2
  if (useAvx2()) return rowFiniteAvx2(y, d);
#endif
  return rowFiniteScalar(y, d, 0);
}

struct Scratch {
  std::vector<float> row;      // a strided row gathered, or x padded for the stream
  std::vector<float> y;        // perturbed row
  std::vector<float> zeros;    // zeros, to read the raw noise through perturbedRow*
  std::vector<double> acc;     // backward accumulator (binary64: the mean rule)
  std::vector<uint64_t> keys;  // composites (heap and nth_element paths)
  std::vector<uint32_t> cols;
  std::vector<uint32_t> counts;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// parallelFor over rows with this thread's scratch; a chunk that cannot allocate stops there
// and the call reports kOutOfMemory (the outputs are then unspecified).
template <class RowsBody>
Status parallelRows(uint64_t rows, size_t grain, RowsBody body) {
  std::atomic<bool> oom{false};
  parallelFor(rows, grain, [&](size_t begin, size_t end) {
    try {
      body(scratch(), begin, end);
    } catch (const std::bad_alloc&) {
      oom.store(true);
    }
  });
  return oom.load() ? Status::kOutOfMemory : Status::kOk;
}

// Runs the threshold scan over y[0, d) into buffer b (AVX2 where available).
template <typename Buf>
void scan(const float* y, uint32_t d, bool largest, Buf& b) {
  float tau = largest ? -kInf : kInf;
  uint32_t c0 = 0;
#ifdef NTK_TOPK_HAVE_AVX2
  if (useAvx2()) c0 = largest ? scanAvx2<true>(y, d, b, tau) : scanAvx2<false>(y, d, b, tau);
#endif
  if (largest)
    scanScalar<true>(y, c0, d, b, tau);
  else
    scanScalar<false>(y, c0, d, b, tau);
}

// The k best columns of y[0, d) into cols: in rank order when sorted, else increasing column
// order. y must be readable on [0, d) only.
void selectRow(const float* y, uint32_t d, uint32_t k, bool largest, bool sorted, Scratch& sc, uint32_t* cols) {
  if (k <= kBufferK) {
    Best b;
    b.k = k;
    scan(y, d, largest, b);
    for (uint32_t j = 0; j < k; ++j) cols[j] = compositeColumn(b.key[j]);
    if (!sorted) std::sort(cols, cols + k);
    return;
  }
  if (sc.keys.size() < d) sc.keys.resize(d);
  uint64_t* keys = sc.keys.data();
  if (static_cast<uint64_t>(k) * kHeapRatio <= d) {
    Heap h;
    h.key = keys;
    h.k = k;
    scan(y, d, largest, h);
  } else {
    for (uint32_t c = 0; c < d; ++c) keys[c] = composite(selectKey(y[c], largest), c);
    if (k < d) std::nth_element(keys, keys + (k - 1), keys + d, std::greater<uint64_t>());
  }
  // keys[0, k) holds the k best composites, in no particular order.
  if (sorted) {
    std::sort(keys, keys + k, std::greater<uint64_t>());
    for (uint32_t j = 0; j < k; ++j) cols[j] = compositeColumn(keys[j]);
  } else {
    for (uint32_t j = 0; j < k; ++j) cols[j] = compositeColumn(keys[j]);
    std::sort(cols, cols + k);
  }
}

// The row of x at `row`, contiguous: x itself when inner == 1, else gathered into buf (padded
// with zeros to `padded` columns when padded > d).
const float* rowOf(const float* x, const Layout& l, uint64_t row, std::vector<float>& buf, uint32_t padded) {
  const uint32_t d = static_cast<uint32_t>(l.d);
  const uint64_t o = row / l.inner, i = row % l.inner;
  const float* src = x + o * l.d * l.inner + i;
  if (l.inner == 1 && padded <= d) return src;
  if (buf.size() < std::max(padded, d)) buf.resize(std::max(padded, d));
  float* dst = buf.data();
  if (l.inner == 1)
    std::memcpy(dst, src, static_cast<size_t>(d) * sizeof(float));
  else
    for (uint32_t c = 0; c < d; ++c) dst[c] = src[static_cast<uint64_t>(c) * l.inner];
  for (uint32_t c = d; c < padded; ++c) dst[c] = 0.0f;
  return dst;
}

// y[0, d) = x + eps * z(sp) (x readable and y writable on [0, 32 * ceil(d / 32))).
void perturbedRow(const cpu::StreamPos& sp, float eps, const float* x, uint32_t d, float* y) {
  if (useAvx2())
    cpu::perturbedRowAvx2(sp, eps, x, d, y);
  else
    cpu::perturbedRowScalar(sp, eps, x, d, y);
}

// Rows per parallel chunk for about `work` elements per chunk.
size_t rowGrain(uint64_t perRow, size_t work) {
  return std::max<size_t>(1, work / static_cast<size_t>(std::max<uint64_t>(perRow, 1)));
}

}  // namespace

Status topkCpu(const TopKArgs& a) {
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  const Layout& l = a.layout;
  if (l.size() == 0) return Status::kOk;
  const uint32_t d = static_cast<uint32_t>(l.d), k = a.k;
  std::atomic<bool> nonFinite{false};
  const Status status = parallelRows(l.rows(), rowGrain(d, 1u << 16), [&](Scratch& sc, size_t begin, size_t end) {
    if (sc.cols.size() < k) sc.cols.resize(k);
    for (size_t row = begin; row < end; ++row) {
      const float* y = rowOf(a.x, l, row, sc.row, 0);
      if (a.checkFinite && !rowFinite(y, d)) nonFinite.store(true, std::memory_order_relaxed);
      selectRow(y, d, k, a.largest, a.sorted, sc, sc.cols.data());
      const uint64_t o = row / l.inner, i = row % l.inner;
      for (uint32_t j = 0; j < k; ++j) {
        const uint64_t at = (o * k + j) * l.inner + i;
        a.values[at] = y[sc.cols[j]];
        a.indices[at] = static_cast<int32_t>(sc.cols[j]);
      }
    }
  });
  if (a.checkFinite && a.nonFinite) *a.nonFinite = nonFinite.load();
  return status;
}

Status perturbedTopKForwardCpu(const PerturbedForwardArgs& a) {
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  const Layout& l = a.layout;
  if (l.size() == 0) return Status::kOk;
  const uint32_t d = static_cast<uint32_t>(l.d), k = a.k, S = a.nSample;
  const uint32_t padded = (d + 31) & ~31u;
  const float fS = static_cast<float>(S);
  const size_t grain = rowGrain(static_cast<uint64_t>(d) * S, 1u << 15);
  return parallelRows(l.rows(), grain, [&](Scratch& sc, size_t begin, size_t end) {
    if (sc.y.size() < padded) sc.y.resize(padded);
    if (sc.counts.size() < d) sc.counts.resize(d);
    if (sc.cols.size() < k) sc.cols.resize(k);
    for (size_t row = begin; row < end; ++row) {
      const float* x = rowOf(a.x, l, row, sc.row, padded);
      uint32_t* counts = sc.counts.data();
      std::fill(counts, counts + d, 0u);
      cpu::StreamPos sp{a.seedLo, a.seedHi, a.offset, static_cast<uint32_t>(row), 0};
      for (uint32_t s = 0; s < S; ++s) {
        sp.sample = s;
        perturbedRow(sp, a.epsilon, x, d, sc.y.data());
        selectRow(sc.y.data(), d, k, true, false, sc, sc.cols.data());
        int32_t* out = a.indices + (static_cast<uint64_t>(row) * S + s) * k;
        for (uint32_t j = 0; j < k; ++j) {
          out[j] = static_cast<int32_t>(sc.cols[j]);
          ++counts[sc.cols[j]];
        }
      }
      const uint64_t o = row / l.inner, i = row % l.inner;
      for (uint32_t c = 0; c < d; ++c)
        a.mask[(o * l.d + c) * l.inner + i] = NTK_FDIV(static_cast<float>(counts[c]), fS);
    }
  });
}

Status perturbedTopKBackwardCpu(const PerturbedBackwardArgs& a) {
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  const Layout& l = a.layout;
  if (l.size() == 0) return Status::kOk;
  const uint32_t d = static_cast<uint32_t>(l.d), k = a.k, S = a.nSample;
  const uint64_t total = l.rows() * S * k;
  for (uint64_t j = 0; j < total; ++j)
    if (a.indices[j] < 0 || static_cast<uint64_t>(a.indices[j]) >= l.d) return Status::kInvalidArgument;
  const uint32_t padded = (d + 31) & ~31u;
  // Exact: a float times an integer below 2^25 fits binary64's 53 bits.
  const double denom = static_cast<double>(a.epsilon) * static_cast<double>(S);
  const size_t grain = rowGrain(static_cast<uint64_t>(d) * S, 1u << 15);
  return parallelRows(l.rows(), grain, [&](Scratch& sc, size_t begin, size_t end) {
    if (sc.y.size() < padded) sc.y.resize(padded);
    if (sc.zeros.size() < padded) sc.zeros.assign(padded, 0.0f);
    if (sc.acc.size() < d) sc.acc.resize(d);
    float* z = sc.y.data();
    double* acc = sc.acc.data();
    for (size_t row = begin; row < end; ++row) {
      const uint64_t o = row / l.inner, i = row % l.inner;
      const float* g = a.grad + o * l.d * l.inner + i;
      std::fill(acc, acc + d, 0.0);
      cpu::StreamPos sp{a.seedLo, a.seedHi, a.offset, static_cast<uint32_t>(row), 0};
      for (uint32_t s = 0; s < S; ++s) {
        const int32_t* sel = a.indices + (static_cast<uint64_t>(row) * S + s) * k;
        float dot = 0.0f;
        for (uint32_t j = 0; j < k; ++j) dot = NTK_FADD(dot, g[static_cast<uint64_t>(sel[j]) * l.inner]);
        if (dot == 0.0f) continue;
        sp.sample = s;
        // z itself: 0 + 1 * z is z (only -0 becomes +0, which changes no sum here).
        perturbedRow(sp, 1.0f, sc.zeros.data(), d, z);
        // dot * z is exact in binary64 (24 + 24 bits); the sum over samples is in sample order.
        const double dd = static_cast<double>(dot);
        for (uint32_t c = 0; c < d; ++c) acc[c] = acc[c] + dd * static_cast<double>(z[c]);
      }
      float* out = a.gradX + o * l.d * l.inner + i;
      for (uint32_t c = 0; c < d; ++c) out[static_cast<uint64_t>(c) * l.inner] = static_cast<float>(acc[c] / denom);
    }
  });
}

}  // namespace ntk
