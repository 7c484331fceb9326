// The CPU side of the lazy sampler (native/core/lazy_sampler.h): per-thread scratch, the row
// preparation (histogram, threshold, groups) and the per-sample call. lib/lazy-sampler.ts is its twin.
#include "lazy_cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../core/lazy_sampler.h"

namespace ntk {
namespace cpu {

namespace {

std::atomic<uint64_t> lazyHeld{0};

// The test hook's raise of the first threshold, in grid points (lazySetTestRaise); 0 in use.
std::atomic<int32_t> lazyRaise{0};

// Per-thread scratch, reused across calls; O(d) per thread.
struct LazyScratch {
  std::vector<float> x;        // the row made contiguous (strided rows only)
  std::vector<uint8_t> binOf;  // each column's bin
  std::vector<uint32_t> cols;  // every column by (bin, column)
  std::vector<uint64_t> key;   // one sample's drawn items: d
  std::vector<float> val;
  std::vector<uint64_t> marks;  // a bit per column, all 0 between samples (lazySample)
  uint32_t binCount[lazy::kBins] = {};
  float binMax[lazy::kBins] = {};
  lazy::LazyGroup group[lazy::kBins] = {};
  lazy::LazyRow row;
  bool eligible = false;
  uint64_t preparedCall = ~0ull;
  uint64_t preparedRow = ~0ull;
  uint64_t accounted = 0;

  ~LazyScratch() { lazyHeld.fetch_sub(accounted); }
  uint64_t bytes() const {
    return (x.capacity() + val.capacity()) * sizeof(float) + key.capacity() * sizeof(uint64_t) +
           cols.capacity() * sizeof(uint32_t) + binOf.capacity() + marks.capacity() * sizeof(uint64_t);
  }
};

// The table of the fast normal tail, built once per process (thread-safe static init).
const lazy::TailTable& tailTable() {
  static const lazy::TailTable* table = [] {
    auto* t = new lazy::TailTable;
    lazy::fillTailTable(*t);
    return t;
  }();
  return *table;
}

LazyScratch& lazyScratch() {
  thread_local LazyScratch s;
  return s;
}

template <typename T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// lazy::lazyExtremesFrom over the whole row, four lanes wide with SSE2 (baseline x86-64) where
// the row has 8 columns or more. Only the values matter, not which column they come from; on a
// row with both 0 and -0 the sign of a zero extreme may differ from the scalar scan, which changes
// no bin (0 - v and -0 - v scale to the same bin) and no threshold (x_max + a eps / 32 is the
// same for either zero when a != 0, and +0 for both when a = 0).
lazy::LazyExtremes rowExtremes(const float* x, uint32_t d) {
  lazy::LazyExtremes e = lazy::lazyExtremesStart(x);
  uint32_t c = 0;
#if defined(__SSE2__)
  if (d >= 8) {
    __m128 h0 = _mm_loadu_ps(x), h1 = _mm_loadu_ps(x + 4);
    __m128 l0 = h0, l1 = h1;
    __m128 ok = _mm_castsi128_ps(_mm_set1_epi32(-1));
    const __m128 zero = _mm_setzero_ps();
    for (; c + 8 <= d; c += 8) {
      const __m128 v0 = _mm_loadu_ps(x + c), v1 = _mm_loadu_ps(x + c + 4);
      h0 = _mm_max_ps(h0, v0);
      h1 = _mm_max_ps(h1, v1);
      l0 = _mm_min_ps(l0, v0);
      l1 = _mm_min_ps(l1, v1);
      // v - v == 0 is false for NaN and +-inf
      ok = _mm_and_ps(ok, _mm_and_ps(_mm_cmpeq_ps(_mm_sub_ps(v0, v0), zero), _mm_cmpeq_ps(_mm_sub_ps(v1, v1), zero)));
    }
    alignas(16) float hv[4], lv[4];
    _mm_store_ps(hv, _mm_max_ps(h0, h1));
    _mm_store_ps(lv, _mm_min_ps(l0, l1));
    e.finite = _mm_movemask_ps(ok) == 0xF;
    e.hi = hv[0];
    e.lo = lv[0];
    for (int j = 1; j < 4; ++j) {
      e.hi = hv[j] > e.hi ? hv[j] : e.hi;
      e.lo = lv[j] < e.lo ? lv[j] : e.lo;
    }
  }
#endif
  lazy::lazyExtremesFrom(x, c, d, e);
  return e;
}

// lazy::lazyBinFrom over the whole row: the scaled distance, its clamp and floor four columns at
// a time with SSE2 (the same float32 operations: max(s, 0) is s > 0 ? s : 0, NaN included, and
// min(p, 704) is p < 704 ? p : 704), then the table, binOf and the histogram from the same four
// values. The histogram is kept four times, one per lane, and merged: consecutive columns of the
// same bin would otherwise wait on each other's increment through memory. Counts add up to the
// same; a bin's largest x is the same value (only the sign of a zero may differ, which changes no
// threshold).
void binPass(const float* x, uint32_t d, float hi, float scale, const lazy::BinTable& table, uint8_t* binOf,
             uint32_t* binCount, float* binMax) {
  lazy::lazyHistogramStart(binCount, binMax);
  uint32_t c = 0;
#if defined(__SSE2__)
  if (d >= 16) {
    uint32_t count4[4][lazy::kBins];
    float max4[4][lazy::kBins];
    for (int l = 0; l < 4; ++l) lazy::lazyHistogramStart(count4[l], max4[l]);
    const __m128 hiV = _mm_set1_ps(hi), scaleV = _mm_set1_ps(scale);
    const __m128 zero = _mm_setzero_ps(), edge = _mm_set1_ps(static_cast<float>(lazy::kBinSteps));
    alignas(16) int32_t idx[4];
    alignas(16) float vv[4];
    for (; c + 4 <= d; c += 4) {
      const __m128 v = _mm_loadu_ps(x + c);
      const __m128 sd = _mm_mul_ps(_mm_sub_ps(hiV, v), scaleV);
      const __m128 cl = _mm_min_ps(_mm_max_ps(sd, zero), edge);
      _mm_store_si128(reinterpret_cast<__m128i*>(idx), _mm_cvttps_epi32(cl));
      _mm_store_ps(vv, v);
      for (int l = 0; l < 4; ++l) {
        const uint32_t b = table.of[idx[l]];
        binOf[c + l] = static_cast<uint8_t>(b);
        ++count4[l][b];
        max4[l][b] = vv[l] > max4[l][b] ? vv[l] : max4[l][b];
      }
    }
    for (uint32_t b = 0; b < lazy::kBins; ++b) {
      binCount[b] = count4[0][b] + count4[1][b] + count4[2][b] + count4[3][b];
      float m = max4[0][b];
      for (int l = 1; l < 4; ++l) m = max4[l][b] > m ? max4[l][b] : m;
      binMax[b] = m;
    }
  }
#endif
  lazy::lazyBinFrom(x, c, d, hi, scale, table, binOf, binCount, binMax);
}

// lazy::lazyPrepareRow with the two column passes in SIMD (the same results): whether the row
// takes the lazy path, and if so its threshold, groups and columns by bin in sc.
bool prepareLazyRow(const float* x, uint32_t d, uint32_t k, float eps, LazyScratch& sc) {
  if (!lazy::lazyShapeEligible(d, k, eps)) return false;
  const lazy::LazyExtremes e = rowExtremes(x, d);
  if (!lazy::lazyValuesEligible(e, eps)) return false;
  static const lazy::BinTable table = lazy::makeBinTable();
  grow(sc.binOf, d);
  grow(sc.cols, d);
  grow(sc.key, d);
  grow(sc.val, d);
  grow(sc.marks, lazy::lazyMarkWords(d));  // new words are 0, and lazySample leaves them 0
  const lazy::LazyRowStorage storage{sc.binOf.data(), sc.cols.data(), sc.binCount, sc.binMax, sc.group};
  binPass(x, d, e.hi, lazy::lazyBinScale(eps), table, storage.binOf, storage.binCount, storage.binMax);
  return lazy::lazyFinishRow(x, d, k, eps, e.hi, storage, &tailTable(), lazyRaise.load(std::memory_order_relaxed),
                             sc.row);
}

}  // namespace

bool lazySolveUnit(const ForwardArgs& a, uint64_t call, uint64_t row, uint32_t s, int32_t* pos, float* value) {
  LazyScratch& sc = lazyScratch();
  if (sc.preparedCall != call || sc.preparedRow != row) {
    sc.preparedCall = ~0ull;  // stays invalid if an allocation below throws
    const Layout& l = a.layout;
    const uint32_t d = static_cast<uint32_t>(l.d);
    const uint64_t o = row / l.inner, i = row % l.inner;
    const float* src = a.x + o * l.d * l.inner + i;
    const float* rowX = src;  // a contiguous row is read in place (a.x outlives the call)
    if (l.inner != 1) {
      grow(sc.x, d);
      for (uint32_t c = 0; c < d; ++c) sc.x[c] = src[static_cast<uint64_t>(c) * l.inner];
      rowX = sc.x.data();
    }
    sc.eligible = prepareLazyRow(rowX, d, a.k, a.epsilon, sc);
    sc.preparedCall = call;
    sc.preparedRow = row;
  }
  if (!sc.eligible) return false;
  const lazy::LazyResult res =
      lazy::lazySample(sc.row, a.noise.seedLo, a.noise.seedHi, a.noise.offset, static_cast<uint32_t>(row), s,
                       sc.key.data(), sc.val.data(), sc.marks.data());
  *pos = static_cast<int32_t>(res.column);
  *value = res.value;
  return true;
}

void lazySettleScratch(uint64_t keepBytes) {
  LazyScratch& sc = lazyScratch();
  if (sc.bytes() > keepBytes) {
    std::vector<float>().swap(sc.x);
    std::vector<float>().swap(sc.val);
    std::vector<uint8_t>().swap(sc.binOf);
    std::vector<uint64_t>().swap(sc.key);
    std::vector<uint64_t>().swap(sc.marks);
    std::vector<uint32_t>().swap(sc.cols);
    sc.preparedCall = ~0ull;
    sc.preparedRow = ~0ull;
  }
  const uint64_t now = sc.bytes();
  if (now >= sc.accounted)
    lazyHeld.fetch_add(now - sc.accounted);
  else
    lazyHeld.fetch_sub(sc.accounted - now);
  sc.accounted = now;
}

uint64_t lazyScratchBytes() { return lazyHeld.load(); }

void lazySetTestRaise(int32_t gridPoints) { lazyRaise.store(gridPoints < 0 ? 0 : gridPoints); }

}  // namespace cpu
}  // namespace ntk
