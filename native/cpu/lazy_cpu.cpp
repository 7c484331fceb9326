// The CPU side of the lazy sampler (native/core/lazy_sampler.h): per-thread scratch, the row
// preparation (top-m list and buckets) and the per-sample call. lib/lazy-sampler.ts is its twin.
#include "lazy_cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "../core/lazy_sampler.h"

namespace ntk {
namespace cpu {

namespace {

std::atomic<uint64_t> lazyHeld{0};

// Per-thread scratch, reused across calls; O(d) per thread.
struct LazyScratch {
  std::vector<float> x;             // the row, contiguous
  std::vector<uint64_t> rowKeys;    // composite keys of x, for the top-m selection
  std::vector<uint32_t> top;        // m columns
  std::vector<uint32_t> bucketCols; // d - m columns
  std::vector<uint64_t> key;        // kept items of one sample: m + d
  std::vector<float> val;
  uint32_t bucketStart[lazy::kBuckets + 1] = {};
  float bucketMax[lazy::kBuckets] = {};
  lazy::LazyRow row;
  bool eligible = false;
  uint64_t preparedCall = ~0ull;
  uint64_t preparedRow = ~0ull;
  uint64_t accounted = 0;

  ~LazyScratch() { lazyHeld.fetch_sub(accounted); }
  uint64_t bytes() const {
    return (x.capacity() + val.capacity()) * sizeof(float) + (rowKeys.capacity() + key.capacity()) * sizeof(uint64_t) +
           (top.capacity() + bucketCols.capacity()) * sizeof(uint32_t);
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

// Whether the row takes the lazy path, and if so its top-m list and buckets. The rule depends
// only on the row, k and eps (so 'js' and 'cpu' agree): every x finite, max|x| + 64 eps below
// 1e38 (no perturbed value can overflow), d <= 2^24 and 2m <= d.
bool prepareLazyRow(const float* x, uint32_t d, uint32_t k, float eps, LazyScratch& sc) {
  const uint64_t m = lazy::lazyTopCount(k);
  if (d > lazy::kMaxLazyD || 2 * m > d) return false;
  double maxAbs = 0.0;
  for (uint32_t c = 0; c < d; ++c) {
    if (!std::isfinite(x[c])) return false;
    const double a = std::fabs(static_cast<double>(x[c]));
    if (a > maxAbs) maxAbs = a;
  }
  if (maxAbs + static_cast<double>(eps) * lazy::kZBound > lazy::kSafeMagnitude) return false;
  const uint32_t mm = static_cast<uint32_t>(m);
  grow(sc.rowKeys, d);
  for (uint32_t c = 0; c < d; ++c) sc.rowKeys[c] = lazy::lazyComposite(x[c], c);
  std::nth_element(sc.rowKeys.begin(), sc.rowKeys.begin() + (mm - 1), sc.rowKeys.begin() + d,
                   std::greater<uint64_t>());
  const uint64_t mthKey = sc.rowKeys[mm - 1];
  const uint32_t mthColumn = ~static_cast<uint32_t>(mthKey);
  const double xm = static_cast<double>(x[mthColumn]);
  grow(sc.top, mm);
  grow(sc.bucketCols, d - mm);
  // The bucket of each other column, in rowKeys (free again): counting sort by bucket,
  // columns in increasing order within each.
  uint32_t count[lazy::kBuckets] = {};
  uint32_t* bucketOf = reinterpret_cast<uint32_t*>(sc.rowKeys.data());
  uint32_t nTop = 0;
  for (uint32_t c = 0; c < d; ++c) {
    if (lazy::lazyComposite(x[c], c) >= mthKey) {
      sc.top[nTop++] = c;
      bucketOf[c] = lazy::kBuckets;
      continue;
    }
    const uint32_t b = eps > 0.0f ? lazy::lazyBucketOf((xm - static_cast<double>(x[c])) / static_cast<double>(eps)) : 0;
    bucketOf[c] = b;
    if (count[b] == 0 || x[c] > sc.bucketMax[b]) sc.bucketMax[b] = x[c];
    ++count[b];
  }
  sc.bucketStart[0] = 0;
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) sc.bucketStart[b + 1] = sc.bucketStart[b] + count[b];
  uint32_t fill[lazy::kBuckets];
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) fill[b] = sc.bucketStart[b];
  for (uint32_t c = 0; c < d; ++c) {
    const uint32_t b = bucketOf[c];
    if (b < lazy::kBuckets) sc.bucketCols[fill[b]++] = c;
  }
  grow(sc.key, mm + d);
  grow(sc.val, mm + d);
  lazy::LazyRow& r = sc.row;
  r.x = x;
  r.d = d;
  r.k = k;
  r.m = mm;
  r.eps = eps;
  r.top = sc.top.data();
  r.bucketStart = sc.bucketStart;
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
    std::vector<uint64_t>().swap(sc.rowKeys);
    std::vector<uint64_t>().swap(sc.key);
    std::vector<uint32_t>().swap(sc.top);
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
