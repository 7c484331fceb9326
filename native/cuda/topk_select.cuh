// Device code of the hard top-k on CUDA (host API in core/ops_cuda.h, launcher topk_cuda.cu).
// One warp per row, k <= 32: lane j holds the j-th best composite seen so far (lanes 0 .. k-1
// sorted descending); the warp sweeps the row 32 columns at a time and inserts, one at a time
// and chosen by ballot, only the columns whose composite beats the k-th held (the threshold
// filter of the CPU kernel). The composite is rank_key.h's selectKey above the complemented
// column, the CPU's order, and the answer is unique under it: the same values and indices as
// topkCpu whatever the algorithm. Written against the intrinsics test/native/cuda-emu emulates,
// so the same source runs there as host C++ (test/native/cuda-emu/topk_emu_check.cpp).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "../core/philox_normal.h"
#include "warp_queue.cuh"

namespace ntk {
namespace cudak {

constexpr uint32_t kTopkMaxK = 32;
constexpr int kTopkWarpsPerBlock = 8;

struct TopkParams {
  const float* x;  // [outer, d, inner]
  uint64_t inner;
  uint64_t rows;  // outer * inner
  uint32_t d;
  uint32_t k;  // <= kTopkMaxK
  bool largest;
  bool sorted;
  float* values;        // [outer, k, inner]
  int32_t* indices;     // [outer, k, inner]
  unsigned* nonFinite;  // set to 1 when a NaN or an infinity is seen (null: not checked)
};

// Composite of column c (rank_key.h): never 0, so 0 stands for "empty".
__device__ __forceinline__ unsigned long long topkComposite(float y, uint32_t c, bool largest) {
  return composite(selectKey(y, largest), c);
}

__global__ void __launch_bounds__(kTopkWarpsPerBlock * 32) topkWarpKernel(TopkParams p) {
  const uint32_t lane = threadIdx.x & 31u;
  const uint64_t nWarps = static_cast<uint64_t>(gridDim.x) * kTopkWarpsPerBlock;
  // Warp-uniform loops: every lane takes part in every shuffle and ballot.
  for (uint64_t row = static_cast<uint64_t>(blockIdx.x) * kTopkWarpsPerBlock + threadIdx.x / 32u; row < p.rows;
       row += nWarps) {
    const uint64_t o = row / p.inner, i = row % p.inner;
    const uint64_t base = o * p.d * p.inner + i;
    WarpQueue q;
    bool bad = false;
    for (uint32_t c0 = 0; c0 < p.d; c0 += 32u) {
      const uint32_t c = c0 + lane;
      float y = 0.0f;
      unsigned long long key = 0ull;
      if (c < p.d) {
        y = p.x[base + static_cast<uint64_t>(c) * p.inner];
        key = topkComposite(y, c, p.largest);
        bad = bad || !((floatToBits(y) & 0x7F800000u) != 0x7F800000u);
      }
      warpQueueOffer(q, lane, p.k, key, y);
    }
    if (p.nonFinite && __ballot_sync(0xFFFFFFFFu, bad) != 0u && lane == 0) *p.nonFinite = 1u;
    // Where lane j's entry goes: j in rank order, or its rank by column among the k held.
    const uint32_t col = compositeColumn(q.key);
    uint32_t slot = lane;
    if (!p.sorted) {
      slot = 0;
      for (uint32_t j = 0; j < p.k; ++j) {
        const uint32_t other = __shfl_sync(0xFFFFFFFFu, col, static_cast<int>(j));
        if (other < col) ++slot;
      }
    }
    if (lane < p.k) {
      const uint64_t at = (o * p.k + slot) * p.inner + i;
      p.values[at] = q.val;
      p.indices[at] = static_cast<int32_t>(col);
    }
  }
}

}  // namespace cudak
}  // namespace ntk
