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

// The row's largest and smallest x, and whether every x is finite: one branch-free pass, four
// lanes wide with SSE2 (baseline x86-64). Only the values matter, not which column they come
// from; on a row with both 0 and -0 the sign of a zero extreme may differ from a sequential scan,
// which changes no bucket (0 - v and -0 - v scale to the same bucket) and no threshold.
void rowExtremes(const float* x, uint32_t d, float* hiOut, float* loOut, bool* finiteOut) {
  uint32_t c = 0;
  float hi = x[0], lo = x[0];
  bool finite = true;
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
    finite = _mm_movemask_ps(ok) == 0xF;
    hi = hv[0];
    lo = lv[0];
    for (int j = 1; j < 4; ++j) {
      hi = hv[j] > hi ? hv[j] : hi;
      lo = lv[j] < lo ? lv[j] : lo;
    }
  }
#endif
  for (; c < d; ++c) {
    const float v = x[c];
    finite = finite && (v - v == 0.0f);
    hi = v > hi ? v : hi;
    lo = v < lo ? v : lo;
  }
  *hiOut = hi;
  *loOut = lo;
  *finiteOut = finite;
}

// Whether the row takes the lazy path, and if so its top list and buckets. The rule depends
// only on the row, k and eps (so 'js' and 'cpu' agree): eps > 0, every x finite, max|x| + 64 eps
// below 1e38 (no perturbed value can overflow), d <= 2^24 and 2m <= d.
bool prepareLazyRow(const float* x, uint32_t d, uint32_t k, float eps, LazyScratch& sc) {
  const uint64_t m = lazy::lazyTopCount(k);
  if (!(eps > 0.0f) || d > lazy::kMaxLazyD || 2 * m > d) return false;
  float hi, lo;
  bool finite;
  rowExtremes(x, d, &hi, &lo, &finite);
  if (!finite) return false;
  const double maxAbs = std::max(std::fabs(static_cast<double>(hi)), std::fabs(static_cast<double>(lo)));
  if (maxAbs + static_cast<double>(eps) * lazy::kZBound > lazy::kSafeMagnitude) return false;
  const uint32_t mm = static_cast<uint32_t>(m);
  const float scale = lazy::lazyBucketScale(eps);
  static const lazy::BucketTable table = lazy::makeBucketTable();
  grow(sc.nearCols, d);
  grow(sc.nearBucket, d);
  uint32_t* nearCols = sc.nearCols.data();
  uint8_t* nearBucket = sc.nearBucket.data();
  // One pass over the row: the bucket of every column (float32 arithmetic and a table), the near
  // columns appended in column order (branch-free: the slot is written either way, the count
  // moves only for a near column), and the largest far x.
  uint32_t nearBuckets = lazy::kNearBuckets;
  uint32_t nearCount = 0;
  float farMax = -std::numeric_limits<float>::infinity();
  uint32_t c = 0;
#if defined(__SSE2__)
  // Four columns at a time, everything in registers: the scaled distance, the near mask (s < 12,
  // the complement of lazyIsFar), the far maximum, and the near bucket, which is floor(s) itself
  // below 12 (the table is the identity there). The appends take their position and bucket from
  // registers only: with the bucket loaded from memory (a table), each append's address waited on
  // a load that the processor would not start before the previous, still unaddressed, append
  // (about 10 cycles a column measured, against 3 now).
  {
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
        nearCols[nearCount] = c + l;
        nearBucket[nearCount] = static_cast<uint8_t>(bytes >> (8 * l));
        nearCount += (mask >> l) & 1u;
      }
    }
    alignas(16) float fm[4];
    _mm_store_ps(fm, farMaxV);
    for (uint32_t l = 0; l < 4; ++l) farMax = fm[l] > farMax ? fm[l] : farMax;
  }
#endif
  for (; c < d; ++c) {
    const float v = x[c];
    const uint32_t b = lazy::lazyBucketIndex(table, (hi - v) * scale);
    // 1 for a near column (b < kNearBuckets <= 33), by the sign of b - kNearBuckets: a
    // compiler turns `near ? 1 : 0` into a branch, which mispredicts on every boundary crossing.
    const uint32_t nearBit = (b - lazy::kNearBuckets) >> 31;
    nearCols[nearCount] = c;
    nearBucket[nearCount] = static_cast<uint8_t>(b);
    nearCount += nearBit;
    // v for a far column, -inf (bits 0xFF800000) for a near one, without a branch.
    const uint32_t nearMask = 0u - nearBit;
    const float f = bitsToFloat((floatToBits(v) & ~nearMask) | (0xFF800000u & nearMask));
    farMax = f > farMax ? f : farMax;
  }
  if (nearCount < mm) {
    // T must be near: sort every column (no far set).
    nearBuckets = lazy::kBuckets;
    for (c = 0; c < d; ++c) {
      nearCols[c] = c;
      nearBucket[c] = static_cast<uint8_t>(lazy::lazyBucketIndex(table, (hi - x[c]) * scale));
    }
    nearCount = d;
    farMax = -std::numeric_limits<float>::infinity();
  }
  // Counts and maxima of the near buckets, then a counting sort (columns increasing within each
  // bucket); the first m entries are T.
  uint32_t count[lazy::kBuckets] = {};
  float bmax[lazy::kBuckets];
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) bmax[b] = -std::numeric_limits<float>::infinity();
  for (uint32_t j = 0; j < nearCount; ++j) {
    const uint32_t b = nearBucket[j];
    const float v = x[nearCols[j]];
    bmax[b] = v > bmax[b] ? v : bmax[b];
    ++count[b];
  }
  uint32_t fill[lazy::kBuckets];
  uint32_t at = 0;
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) {
    fill[b] = at;
    at += count[b];
  }
  grow(sc.bucketCols, d);
  uint32_t* cols = sc.bucketCols.data();
  for (uint32_t j = 0; j < nearCount; ++j) cols[fill[nearBucket[j]]++] = nearCols[j];
  // bucketStart: the part of each bucket after T.
  at = 0;
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) {
    const uint32_t begin = at, end = at + count[b];
    sc.bucketStart[b] = std::max(begin, std::min(end, mm));
    sc.bucketEnd[b] = end;
    sc.bucketMax[b] = count[b] ? bmax[b] : 0.0f;
    at = end;
  }
  grow(sc.key, mm + d);
  grow(sc.val, mm + d);
  lazy::LazyRow& r = sc.row;
  r.x = x;
  r.d = d;
  r.k = k;
  r.m = mm;
  r.eps = eps;
  r.hi = hi;
  r.scale = scale;
  r.nearBuckets = nearBuckets;
  r.nearCount = nearCount;
  r.farCount = d - nearCount;
  r.farMax = farMax;
  r.top = sc.bucketCols.data();  // T: the first m entries
  r.bucketStart = sc.bucketStart;
  r.bucketEnd = sc.bucketEnd;
  r.bucketCols = sc.bucketCols.data();
  r.bucketMax = sc.bucketMax;
  r.tail = &tailTable();
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
