// Device code of the lazy sampler ('lazy', native/core/lazy_sampler.h) on the CUDA backend. The
// per-sample work is lazy::lazySample itself, the header the CPU kernel runs (its binary64
// operations compile to add/sub/mul/div.rn.f64 under --fmad=false, its binary32 ones are NTK_F*:
// __f*_rn here), so each (row, sample) answer is forwardCpu's with sampler 'lazy', bit for bit.
// The row preparation below is prepareLazyRow of native/cpu/lazy_cpu.cpp, operation for
// operation: a change there must be made here too (the emulator check compares the two).
//
// A simple mapping, chosen for clarity (no GPU was available to tune it):
//   lazyTailTableKernel: one thread fills the normal-tail table (lazy::fillTailTable), once per
//     process (a tuned version: a thread per grid point);
//   lazyPrepareKernel: one thread per row mirrors prepareLazyRow of native/cpu/lazy_cpu.cpp (the
//     eligibility rule, the buckets and the top list) into global scratch, and marks the rows it
//     answers in LazyParams::lazyRows; the dense selection kernels (select.cuh) skip those rows
//     and answer the others, the rows that fall back to dense by the fixed rule;
//   lazySampleKernel: one thread per (row, sample) unit of an eligible row, grid-stride over the
//     units with a fixed number of threads, each owning an m + d slot of key / value scratch
//     (lazySample's kept list can reach m + d entries).
// A tuned version would prepare a row with a block (parallel histogram and scan), give a unit a
// warp (the top-m draws and the bucket walk's candidates spread over lanes) and keep the kept list
// in shared memory, spilling to global only past its size.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "../core/lazy_sampler.h"

namespace ntk {
namespace cudak {

constexpr int kLazyPrepareThreads = 128;
constexpr int kLazySampleThreads = 128;

// One row's preparation: lazy::LazyRow's arrays, in global scratch.
struct LazyRowInfo {
  uint32_t eligible;  // 1: the lazy kernel answers this row; 0: the dense kernels do
  uint32_t bucketStart[lazy::kBuckets];
  uint32_t bucketEnd[lazy::kBuckets];
  float bucketMax[lazy::kBuckets];
};

struct LazyParams {
  const float* x;  // [outer, d, inner]
  uint64_t inner;
  uint64_t rows;
  uint64_t units;  // rows * nSample
  uint32_t d;
  uint32_t nSample;
  uint32_t k;
  float eps;
  uint32_t seedLo;
  uint32_t seedHi;
  uint32_t offset;
  float* rowX;                  // [rows, d]: each row contiguous (LazyRow::x)
  uint32_t* cols;               // [rows, d]: the columns by (bucket, column); the first m are T
  LazyRowInfo* info;            // [rows]
  uint8_t* lazyRows;            // [rows]: info[row].eligible, for the dense kernels to skip
  const lazy::TailTable* tail;  // filled by lazyTailTableKernel
  uint64_t* key;                // [slots, m + d]
  float* val;                   // [slots, m + d]
  uint64_t slots;               // threads of lazySampleKernel: each owns one scratch slot
  int32_t* positions;           // [units]
  float* kth;                   // [units]
};

__global__ void lazyTailTableKernel(lazy::TailTable* tab) {
  if (blockIdx.x == 0 && threadIdx.x == 0) lazy::fillTailTable(*tab);
}

// prepareLazyRow (native/cpu/lazy_cpu.cpp) for one row, the same decisions and the same
// operations: eps > 0, every x finite, max|x| + 64 eps <= 1e38, d <= 2^24 and 2m <= d, else the
// row is dense; then buckets by (x_max - x) * 4 / eps, counting-sorted with columns increasing
// within a bucket.
__device__ __forceinline__ void lazyPrepareRow(const LazyParams& p, uint64_t row) {
  LazyRowInfo& info = p.info[row];
  info.eligible = 0;
  p.lazyRows[row] = 0;
  const uint64_t m = lazy::lazyTopCount(p.k);
  if (!(p.eps > 0.0f) || p.d > lazy::kMaxLazyD || 2 * m > p.d) return;
  const uint64_t o = row / p.inner, i = row % p.inner;
  const float* src = p.x + o * p.d * p.inner + i;
  float* x = p.rowX + row * p.d;
  float hi = src[0], lo = src[0];
  bool finite = true;
  for (uint32_t c = 0; c < p.d; ++c) {
    const float v = src[static_cast<uint64_t>(c) * p.inner];
    x[c] = v;
    finite = finite && (NTK_FSUB(v, v) == 0.0f);  // false for NaN and +-inf
    hi = v > hi ? v : hi;
    lo = v < lo ? v : lo;
  }
  if (!finite) return;
  const double hd = static_cast<double>(hi), ld = static_cast<double>(lo);
  const double ah = hd < 0.0 ? -hd : hd, al = ld < 0.0 ? -ld : ld;  // fabs: exact
  const double maxAbs = ah < al ? al : ah;                          // std::max(ah, al)
  if (NTK_DADD(maxAbs, NTK_DMUL(static_cast<double>(p.eps), lazy::kZBound)) > lazy::kSafeMagnitude) return;
  const uint32_t mm = static_cast<uint32_t>(m);
  const double xmax = hd;
  const double scale = NTK_DDIV(4.0, static_cast<double>(p.eps));
  const lazy::BucketTable table = lazy::makeBucketTable();
  uint32_t count[lazy::kBuckets];
  float bmax[lazy::kBuckets];
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) {
    count[b] = 0;
    bmax[b] = bitsToFloat(0xFF800000u);  // -inf
  }
  // The bucket of column c; computed in both passes below (no per-column scratch), the same
  // operations each time.
  auto bucketOf = [&](float v) {
    return lazy::lazyBucketIndex(table, NTK_DMUL(NTK_DSUB(xmax, static_cast<double>(v)), scale));
  };
  for (uint32_t c = 0; c < p.d; ++c) {
    const float v = x[c];
    const uint32_t b = bucketOf(v);
    bmax[b] = v > bmax[b] ? v : bmax[b];
    ++count[b];
  }
  uint32_t fill[lazy::kBuckets];
  uint32_t at = 0;
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) {
    fill[b] = at;
    at += count[b];
  }
  uint32_t* cols = p.cols + row * p.d;
  for (uint32_t c = 0; c < p.d; ++c) cols[fill[bucketOf(x[c])]++] = c;
  at = 0;
  for (uint32_t b = 0; b < lazy::kBuckets; ++b) {
    const uint32_t begin = at, end = at + count[b];
    const uint32_t capped = end < mm ? end : mm;
    info.bucketStart[b] = begin > capped ? begin : capped;  // the part of the bucket after T
    info.bucketEnd[b] = end;
    info.bucketMax[b] = count[b] ? bmax[b] : 0.0f;
    at = end;
  }
  info.eligible = 1;
  p.lazyRows[row] = 1;
}

__global__ void __launch_bounds__(kLazyPrepareThreads) lazyPrepareKernel(LazyParams p) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t row = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < p.rows; row += stride)
    lazyPrepareRow(p, row);
}

// Units of eligible rows: lazy::lazySample over the prepared row. Thread `slot` (< p.slots) owns
// key / val [slot * (m + d), (slot + 1) * (m + d)).
__global__ void __launch_bounds__(kLazySampleThreads) lazySampleKernel(LazyParams p) {
  const uint64_t slot = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (slot >= p.slots) return;
  const uint32_t m = lazy::lazyTopCount(p.k);
  const uint64_t width = static_cast<uint64_t>(m) + p.d;
  uint64_t* key = p.key + slot * width;
  float* val = p.val + slot * width;
  for (uint64_t u = slot; u < p.units; u += p.slots) {
    const uint64_t row = u / p.nSample;
    const LazyRowInfo& info = p.info[row];
    if (!info.eligible) continue;  // a dense kernel answers it
    lazy::LazyRow r;
    r.x = p.rowX + row * p.d;
    r.d = p.d;
    r.k = p.k;
    r.m = m;
    r.eps = p.eps;
    r.top = p.cols + row * p.d;
    r.bucketStart = info.bucketStart;
    r.bucketEnd = info.bucketEnd;
    r.bucketCols = p.cols + row * p.d;
    r.bucketMax = info.bucketMax;
    r.tail = p.tail;
    const uint32_t s = static_cast<uint32_t>(u % p.nSample);
    const lazy::LazyResult res =
        lazy::lazySample(r, p.seedLo, p.seedHi, p.offset, static_cast<uint32_t>(row), s, key, val);
    p.positions[u] = static_cast<int32_t>(res.column);
    p.kth[u] = res.value;
  }
}

}  // namespace cudak
}  // namespace ntk
