// The warp-wide k-best queue of the small-k selection kernels (select.cuh's noised warp path,
// topk_select.cuh's hard top-k): lane j holds the j-th best (composite, value) seen so far,
// lanes 0 .. k-1 sorted descending, k <= 32. Composites are distinct and never 0, so 0 marks an
// empty slot. Written against the intrinsics the SIMT emulator provides, like its callers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ntk {
namespace cudak {

struct WarpQueue {
  unsigned long long key = 0ull;  // this lane's held composite (0: empty)
  float val = 0.0f;               // its value
  unsigned long long thr = 0ull;  // the k-th held composite, the same in every lane; 0 while fewer than k are held
  float kthVal = 0.0f;            // the k-th held value (meaningful once thr != 0)
};

// Offers every lane's (key, y): each composite above the k-th held enters, one at a time in
// lane order, chosen by ballot. Warp-uniform: every lane of the warp must call it together.
__device__ __forceinline__ void warpQueueOffer(WarpQueue& q, uint32_t lane, uint32_t k, unsigned long long key,
                                               float y) {
  constexpr unsigned kAllLanes = 0xFFFFFFFFu;
  unsigned want = __ballot_sync(kAllLanes, key > q.thr);
  while (want) {
    const int src = __ffs(want) - 1;
    const unsigned long long kk = __shfl_sync(kAllLanes, key, src);
    const float vv = __shfl_sync(kAllLanes, y, src);
    // kk > thr, so fewer than k held composites are above it: pos <= k - 1.
    const uint32_t pos = __popc(__ballot_sync(kAllLanes, lane < k && q.key > kk));
    const unsigned long long upKey = __shfl_up_sync(kAllLanes, q.key, 1);
    const float upVal = __shfl_up_sync(kAllLanes, q.val, 1);
    if (lane == pos) {
      q.key = kk;
      q.val = vv;
    } else if (lane > pos) {
      q.key = upKey;
      q.val = upVal;
    }
    q.thr = __shfl_sync(kAllLanes, q.key, static_cast<int>(k - 1));
    q.kthVal = __shfl_sync(kAllLanes, q.val, static_cast<int>(k - 1));
    want &= ~(1u << src);
    want &= __ballot_sync(kAllLanes, key > q.thr);
  }
}

}  // namespace cudak
}  // namespace ntk
