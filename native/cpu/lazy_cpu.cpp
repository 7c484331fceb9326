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

#include "../core/lazy_sampler.h"

namespace ntk {
namespace cpu {

namespace {

std::atomic<uint64_t> lazyHeld{0};

// Per-thread scratch, reused across calls; O(d) per thread.
struct LazyScratch {
  std::vector<float> x;             // the row, contiguous
  std::vector<uint8_t> bucketOf;    // bucket of each column
  std::vector<uint32_t> bucketCols; // all columns by (bucket, column): T first
  std::vector<uint64_t> key;        // kept items of one sample: m + d
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
           bucketCols.capacity() * sizeof(uint32_t) + bucketOf.capacity();
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

// Whether the row takes the lazy path, and if so its top list and buckets. The rule depends
// only on the row, k and eps (so 'js' and 'cpu' agree): eps > 0, every x finite, max|x| + 64 eps
// below 1e38 (no perturbed value can overflow), d <= 2^24 and 2m <= d.
bool prepareLazyRow(const float* x, uint32_t d, uint32_t k, float eps, LazyScratch& sc) {
  const uint64_t m = lazy::lazyTopCount(k);
  if (!(eps > 0.0f) || d > lazy::kMaxLazyD || 2 * m > d) return false;
  // One pass for finiteness and the extremes (vectorizable: no early exit).
  float hi = x[0], lo = x[0];
  bool finite = true;
  for (uint32_t c = 0; c < d; ++c) {
    const float v = x[c];
    finite = finite && (v - v == 0.0f);  // false for NaN and +-inf
    hi = v > hi ? v : hi;
    lo = v < lo ? v : lo;
  }
  if (!finite) return false;
  const double maxAbs = std::max(std::fabs(static_cast<double>(hi)), std::fabs(static_cast<double>(lo)));
  if (maxAbs + static_cast<double>(eps) * lazy::kZBound > lazy::kSafeMagnitude) return false;
  const uint32_t mm = static_cast<uint32_t>(m);
  const double xmax = static_cast<double>(hi);
  const double scale = 4.0 / static_cast<double>(eps);
  grow(sc.bucketOf, d);
  static const lazy::BucketTable table = lazy::makeBucketTable();
  uint32_t count[lazy::kBuckets] = {};
  float bmax[lazy::kBuckets];
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) bmax[b] = -std::numeric_limits<float>::infinity();
  for (uint32_t c = 0; c < d; ++c) {
    const float v = x[c];
    const uint32_t b = lazy::lazyBucketIndex(table, (xmax - static_cast<double>(v)) * scale);
    sc.bucketOf[c] = static_cast<uint8_t>(b);
    bmax[b] = v > bmax[b] ? v : bmax[b];
    ++count[b];
  }
  // Counting sort by bucket (columns increasing within each); the first m entries are T.
  uint32_t fill[lazy::kBuckets];
  uint32_t at = 0;
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) {
    fill[b] = at;
    at += count[b];
  }
  grow(sc.bucketCols, d);
  for (uint32_t c = 0; c < d; ++c) sc.bucketCols[fill[sc.bucketOf[c]]++] = c;
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
    grow(sc.x, d);
    const uint64_t o = row / l.inner, i = row % l.inner;
    const float* src = a.x + o * l.d * l.inner + i;
    if (l.inner == 1) {
      std::memcpy(sc.x.data(), src, static_cast<size_t>(d) * sizeof(float));
    } else {
      for (uint32_t c = 0; c < d; ++c) sc.x[c] = src[static_cast<uint64_t>(c) * l.inner];
    }
    sc.eligible = prepareLazyRow(sc.x.data(), d, a.k, a.epsilon, sc);
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
    std::vector<uint8_t>().swap(sc.bucketOf);
    std::vector<uint64_t>().swap(sc.key);
    std::vector<uint32_t>().swap(sc.bucketCols);
    sc.preparedCall = ~0ull;
    sc.preparedRow = ~0ull;
  }
  const uint64_t now = sc.bytes();
  if (now >= sc.accounted) lazyHeld.fetch_add(now - sc.accounted);
  else lazyHeld.fetch_sub(sc.accounted - now);
  sc.accounted = now;
}

uint64_t lazyScratchBytes() { return lazyHeld.load(); }

}  // namespace cpu
}  // namespace ntk
