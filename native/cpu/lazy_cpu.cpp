// The CPU side of the lazy sampler (native/core/lazy_sampler.h): per-thread scratch, the row
// preparation (top-m list and buckets) and the per-sample call. lib/lazy-sampler.ts is its twin.
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

// Per-thread scratch, reused across calls; O(d) per thread.
struct LazyScratch {
  std::vector<float> x;              // the row made contiguous (strided rows only)
  std::vector<uint32_t> nearCols;    // the near columns in column order
  std::vector<uint8_t> nearBucket;   // and their buckets
  std::vector<uint32_t> bucketCols;  // the near columns by (bucket, column): T first
  std::vector<uint64_t> key;         // kept items of one sample: m + d
  std::vector<float> val;
  uint32_t bucketStart[lazy::kBuckets] = {};
  uint32_t bucketEnd[lazy::kBuckets] = {};
  float bucketMax[lazy::kBuckets] = {};
  lazy::LazyRow row;
  bool eligible = false;
  uint64_t preparedCall = ~0ull;
  uint64_t preparedRow = ~0ull;
  uint64_t accounted = 0;

  ~LazyScratch() { lazyHeld.fetch_sub(accounted); }
  uint64_t bytes() const {
    return (x.capacity() + val.capacity()) * sizeof(float) + key.capacity() * sizeof(uint64_t) +
           (bucketCols.capacity() + nearCols.capacity()) * sizeof(uint32_t) + nearBucket.capacity();
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
// no bucket (0 - v and -0 - v scale to the same bucket), no far test and no threshold.
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

// lazy::lazyNearFrom over the whole row, four columns at a time with SSE2, everything in
// registers: the scaled distance, the near mask (s < 12, the complement of lazyIsFar), the far
// maximum, and the near bucket, which is floor(s) itself below 12 (the table is the identity
// there). The appends take their position and bucket from registers only: with the bucket loaded
// from memory (a table), each append's address waited on a load that the processor would not
// start before the previous, still unaddressed, append (about 10 cycles a column measured, against
// 3 now).
lazy::LazyNearSet nearPass(const float* x, uint32_t d, float hi, float scale, const lazy::BucketTable& table,
                           uint32_t* nearCols, uint8_t* nearBucket) {
  lazy::LazyNearSet s = lazy::lazyNearStart();
  uint32_t c = 0;
#if defined(__SSE2__)
  const __m128 hiV = _mm_set1_ps(hi), scaleV = _mm_set1_ps(scale);
  const __m128 edgeV = _mm_set1_ps(lazy::kNearEdge);
  const __m128 negInf = _mm_set1_ps(-std::numeric_limits<float>::infinity());
  __m128 farMaxV = negInf;
  for (; c + 4 <= d; c += 4) {
    const __m128 v = _mm_loadu_ps(x + c);
    const __m128 sd = _mm_mul_ps(_mm_sub_ps(hiV, v), scaleV);
    const __m128 nearM = _mm_cmplt_ps(sd, edgeV);
    farMaxV = _mm_max_ps(farMaxV, _mm_or_ps(_mm_and_ps(nearM, negInf), _mm_andnot_ps(nearM, v)));
    const uint32_t mask = static_cast<uint32_t>(_mm_movemask_ps(nearM));
    __m128i fi = _mm_cvttps_epi32(_mm_min_ps(sd, edgeV));  // 0 .. 12
    fi = _mm_packs_epi32(fi, fi);
    fi = _mm_packus_epi16(fi, fi);
    const uint32_t bytes = static_cast<uint32_t>(_mm_cvtsi128_si32(fi));
    for (uint32_t l = 0; l < 4; ++l) {
      nearCols[s.count] = c + l;
      nearBucket[s.count] = static_cast<uint8_t>(bytes >> (8 * l));
      s.count += (mask >> l) & 1u;
    }
  }
  alignas(16) float fm[4];
  _mm_store_ps(fm, farMaxV);
  for (uint32_t l = 0; l < 4; ++l) s.farMax = fm[l] > s.farMax ? fm[l] : s.farMax;
#endif
  lazy::lazyNearFrom(x, c, d, hi, scale, table, nearCols, nearBucket, s);
  return s;
}

// lazy::lazyPrepareRow with the two column passes in SIMD (the same results): whether the row
// takes the lazy path, and if so its top list and buckets in sc.
bool prepareLazyRow(const float* x, uint32_t d, uint32_t k, float eps, LazyScratch& sc) {
  if (!lazy::lazyShapeEligible(d, k, eps)) return false;
  const lazy::LazyExtremes e = rowExtremes(x, d);
  if (!lazy::lazyValuesEligible(e, eps)) return false;
  const uint32_t m = lazy::lazyTopCount(k);
  const float scale = lazy::lazyBucketScale(eps);
  static const lazy::BucketTable table = lazy::makeBucketTable();
  grow(sc.nearCols, d);
  grow(sc.nearBucket, d);
  grow(sc.bucketCols, d);
  grow(sc.key, m + d);
  grow(sc.val, m + d);
  const lazy::LazyRowStorage storage{sc.nearCols.data(), sc.nearBucket.data(), sc.bucketCols.data(),
                                     sc.bucketStart,     sc.bucketEnd,         sc.bucketMax};
  const lazy::LazyNearSet nearSet = nearPass(x, d, e.hi, scale, table, storage.nearCols, storage.nearBucket);
  lazy::lazyFinishRow(x, d, k, eps, e.hi, scale, table, nearSet, storage, &tailTable(), sc.row);
  return true;
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
  const lazy::LazyResult res = lazy::lazySample(sc.row, a.noise.seedLo, a.noise.seedHi, a.noise.offset,
                                                static_cast<uint32_t>(row), s, sc.key.data(), sc.val.data());
  *pos = static_cast<int32_t>(res.column);
  *value = res.value;
  return true;
}

void lazySettleScratch(uint64_t keepBytes) {
  LazyScratch& sc = lazyScratch();
  if (sc.bytes() > keepBytes) {
    std::vector<float>().swap(sc.x);
    std::vector<float>().swap(sc.val);
    std::vector<uint8_t>().swap(sc.nearBucket);
    std::vector<uint32_t>().swap(sc.nearCols);
    std::vector<uint64_t>().swap(sc.key);
    std::vector<uint32_t>().swap(sc.bucketCols);
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

}  // namespace cpu
}  // namespace ntk
