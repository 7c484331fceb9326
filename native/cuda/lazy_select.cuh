// Device code of the lazy sampler ('lazy', native/core/lazy_sampler.h) on the CUDA backend. The
// row preparation is lazy::lazyPrepareRow and the per-sample work lazy::lazySample, the header
// the CPU kernel runs (its SIMD passes equal the header's scalar ones; its binary64 operations
// compile to add/sub/mul/div.rn.f64 under --fmad=false, its binary32 ones are NTK_F*: __f*_rn
// here), so each (row, sample) answer is forwardCpu's with sampler 'lazy', bit for bit.
//
// A simple mapping, chosen for clarity (no GPU was available to tune it):
//   lazyTailTableKernel: one thread fills the normal-tail table (lazy::fillTailTable), once per
//     process (a tuned version: a thread per grid point);
//   lazyPrepareKernel: one thread per row copies it contiguous and runs lazy::lazyPrepareRow (the
//     eligibility rule, the histogram, the threshold, the groups and the columns by bin) into
//     global scratch,
//     and marks the rows it answers in LazyParams::lazyRows; the dense selection kernels
//     (select.cuh) skip those rows and answer the others, the rows that fall back to dense by the
//     fixed rule;
//   lazySampleKernel: one thread per (row, sample) unit of an eligible row, grid-stride over the
//     units with a fixed number of threads, each owning a slot of lazy::lazySlotWidth(d) key /
//     value entries (lazySample's drawn list can reach d entries, and its marks follow the keys).
// A tuned version would prepare a row with a block (parallel histogram and scan), give a unit a
// warp (a group's candidates spread over lanes) and keep the drawn list in shared memory,
// spilling to global only past its size.
#pragma once

#include "../core/lazy_sampler.h"
#include "select.cuh"

namespace ntk {
namespace cudak {

// One row's preparation. row's pointers lead into this record and the call's scratch
// (LazyParams), so it is valid on the device for the call.
struct LazyRowInfo {
  uint32_t eligible;  // 1: the lazy kernel answers this row; 0: the dense kernels do
  lazy::LazyRow row;
  uint32_t binCount[lazy::kBins];
  float binMax[lazy::kBins];
  lazy::LazyGroup group[lazy::kBins];
};

struct LazyParams {
  FwdParams call;  // the call as the dense kernels see it: x, shape, seed, positions, kth
  uint64_t rows;
  float* rowX;                  // [rows, d]: each row contiguous (LazyRow::x)
  uint8_t* binOf;               // [rows, d]: each column's bin
  uint32_t* cols;               // [rows, d]: the columns by (bin, column)
  LazyRowInfo* info;            // [rows]
  uint8_t* lazyRows;            // [rows]: info[row].eligible, for the dense kernels to skip
  const lazy::TailTable* tail;  // filled by lazyTailTableKernel
  uint64_t* key;                // [slots, lazySlotWidth(d)]: drawn keys, then the marks
  float* val;                   // [slots, lazySlotWidth(d)]
  uint64_t slots;               // threads of lazySampleKernel: each owns one scratch slot
};

__global__ void lazyTailTableKernel(lazy::TailTable* tab) {
  if (blockIdx.x == 0 && threadIdx.x == 0) lazy::fillTailTable(*tab);
}

__device__ __forceinline__ void lazyPrepareRow(const LazyParams& p, uint64_t row) {
  const FwdParams& c = p.call;
  const uint64_t o = row / c.inner, i = row % c.inner;
  const float* src = c.x + o * c.d * c.inner + i;
  const uint64_t at = row * c.d;
  float* x = p.rowX + at;
  for (uint32_t col = 0; col < c.d; ++col) x[col] = src[static_cast<uint64_t>(col) * c.inner];
  LazyRowInfo& info = p.info[row];
  const lazy::LazyRowStorage storage{p.binOf + at, p.cols + at, info.binCount, info.binMax, info.group};
  // raise 0: the CPU's test hook (lazySetTestRaise) has no device twin.
  const bool eligible = lazy::lazyPrepareRow(x, c.d, c.k, c.eps, storage, p.tail, 0, info.row);
  info.eligible = eligible ? 1u : 0u;
  p.lazyRows[row] = eligible ? 1 : 0;
}

constexpr int kLazyPrepareThreads = 128;

__global__ void __launch_bounds__(kLazyPrepareThreads) lazyPrepareKernel(LazyParams p) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t row = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < p.rows; row += stride)
    lazyPrepareRow(p, row);
}

constexpr int kLazySampleThreads = 128;

// Units of eligible rows: lazy::lazySample over the prepared row. Thread `slot` (< p.slots) owns
// key / val [slot * w, (slot + 1) * w), w = lazySlotWidth(d); it clears its marks (the keys' tail)
// once, and lazySample leaves them clear.
__global__ void __launch_bounds__(kLazySampleThreads) lazySampleKernel(LazyParams p) {
  const uint64_t slot = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (slot >= p.slots) return;
  const FwdParams& c = p.call;
  const uint64_t width = lazy::lazySlotWidth(c.d);
  uint64_t* key = p.key + slot * width;
  float* val = p.val + slot * width;
  for (uint64_t w = c.d; w < width; ++w) key[w] = 0;
  for (uint64_t u = slot; u < c.units; u += p.slots) {
    const uint64_t row = u / c.nSample;
    const LazyRowInfo& info = p.info[row];
    if (!info.eligible) continue;  // a dense kernel answers it
    const uint32_t s = static_cast<uint32_t>(u % c.nSample);
    const lazy::LazyResult res =
        lazy::lazySample(info.row, c.seedLo, c.seedHi, c.offset, static_cast<uint32_t>(row), s, key, val, key + c.d);
    c.positions[u] = static_cast<int32_t>(res.column);
    c.kth[u] = res.value;
  }
}

}  // namespace cudak
}  // namespace ntk
