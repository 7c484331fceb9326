// Device code of the CUDA backend: the per-(row, sample) selection kernels, the per-row mean
// and the backward kernel. The noise and the rank order come from core/philox_normal.h and
// core/rank_key.h, the headers every backend shares (their NTK_F* macros become __f*_rn
// intrinsics here), so each (row, sample) answer is the CPU's: the k-th largest under a
// strict total order is unique, whichever algorithm finds it.
//
// Layout (core/noised_topk.h): x is [outer, d, inner]; row = o * inner + i; element (row, c) at
// x[(o * d + c) * inner + i]; explicit noise for sample s at noise[element * nSample + s]; the
// stream's counter for columns 4g .. 4g+3 is (g, row, sample, offset), its key (seedLo, seedHi).
// A "unit" is one (row, sample): unit = row * nSample + sample.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "../core/philox_normal.h"
#include "../core/sample_mean.h"
#include "warp_queue.cuh"

namespace ntk {
namespace cudak {

constexpr unsigned kFullMask = 0xFFFFFFFFu;
constexpr uint32_t kShortD = 16;     // "short" path: one thread per unit, d <= 16
constexpr uint32_t kWarpMaxK = 32;   // "warp" path: one warp per unit, k <= 32
constexpr uint32_t kSharedD = 8192;  // "radix-shared": the perturbed row fits in shared memory
constexpr int kShortThreads = 128;
constexpr int kWarpsPerBlock = 8;
constexpr int kRadixThreads = 256;  // one block per unit on the radix paths
constexpr int kMeanThreads = 256;
constexpr int kBackwardThreads = 256;  // one block per row

struct FwdParams {
  const float* x;
  const float* noise;  // explicit noise, or null for the Philox stream
  uint64_t inner;
  uint64_t units;  // rows * nSample
  uint32_t d;
  uint32_t nSample;
  uint32_t k;
  float eps;
  uint32_t seedLo;
  uint32_t seedHi;
  uint32_t offset;
  int32_t* positions;  // [units]
  float* kth;          // [units]: the k-th value of each unit, before the mean
  // Rows the lazy sampler answers (lazy_select.cuh), or null: these kernels skip a row marked 1
  // and leave its units to lazySampleKernel.
  const uint8_t* lazyRows = nullptr;
};

// Whether the selection kernels leave this row to the lazy sampler.
__device__ __forceinline__ bool lazyAnswers(const FwdParams& p, uint64_t row) {
  return p.lazyRows != nullptr && p.lazyRows[row] != 0;
}

struct BwdParams {
  const int32_t* positions;  // [rows, nSample]
  const float* rowScale;     // [rows]
  float* grad;               // [outer, d, inner]
  uint64_t inner;
  uint64_t rows;
  uint32_t d;
  uint32_t nSample;
};

// Index of element (row, 0); element (row, c) is at base + c * inner.
__device__ __forceinline__ uint64_t rowBase(uint64_t row, uint32_t d, uint64_t inner) {
  const uint64_t o = row / inner, i = row % inner;
  return o * d * inner + i;
}

// Composite rank, as the CPU's (rank_key.h): never 0, so 0 can stand for "empty". The 64-bit
// atomics and shuffles take unsigned long long, the width of uint64_t.
__device__ __forceinline__ unsigned long long compositeKey(float y, uint32_t c) { return rankComposite(y, c); }

// Perturbed values y = x + eps * z of columns 4g .. 4g+3 of one unit. Columns at or beyond d
// get 0 and must be ignored by the caller.
__device__ __forceinline__ void groupValues(const FwdParams& p, uint64_t base, uint32_t row, uint32_t s, uint32_t g,
                                            float y[4]) {
  const uint32_t c0 = 4u * g;
  if (p.noise) {
#pragma unroll
    for (uint32_t j = 0; j < 4; ++j) {
      y[j] = 0.0f;
      const uint32_t c = c0 + j;
      if (c < p.d) {
        const uint64_t e = base + static_cast<uint64_t>(c) * p.inner;
        y[j] = perturb(p.x[e], p.eps, p.noise[e * p.nSample + s]);
      }
    }
  } else {
    const Normal4 z = normal4(p.seedLo, p.seedHi, p.offset, row, s, g);
#pragma unroll
    for (uint32_t j = 0; j < 4; ++j) {
      y[j] = 0.0f;
      const uint32_t c = c0 + j;
      if (c < p.d) y[j] = perturb(p.x[base + static_cast<uint64_t>(c) * p.inner], p.eps, z.z[j]);
    }
  }
}

// The stream's perturbed values of columns 4g .. 4g+3 (below d), computing a pair's Box-Muller
// only where its bound reaches tau: a pair whose values are certainly below tau gets keys 0
// ("not a candidate"). A pair with a NaN x is never skipped. Keys as compositeKey.
__device__ __forceinline__ void groupCandidates(const FwdParams& p, uint64_t base, uint32_t row, uint32_t s, uint32_t g,
                                                float tau, float y[4], unsigned long long key[4]) {
  const Philox4 w = philox4x32_10(g, row, s, p.offset, p.seedLo, p.seedHi);
#pragma unroll
  for (uint32_t h = 0; h < 2; ++h) {
    const uint32_t c0 = 4u * g + 2u * h, c1 = c0 + 1u;
    y[2 * h] = 0.0f;
    y[2 * h + 1] = 0.0f;
    key[2 * h] = 0ull;
    key[2 * h + 1] = 0ull;
    if (c0 >= p.d) continue;
    const float x0 = p.x[base + static_cast<uint64_t>(c0) * p.inner];
    const float x1 = c1 < p.d ? p.x[base + static_cast<uint64_t>(c1) * p.inner] : x0;
    const bool nan = x0 != x0 || x1 != x1;
    const float xm = x1 > x0 ? x1 : x0;
    const float upper = NTK_FADD(xm, NTK_FMUL(p.eps, ntk::radiusBound(w.v[2 * h])));
    if (!nan && upper < tau) continue;
    const NormalPair z = boxMuller(w.v[2 * h], w.v[2 * h + 1]);
    y[2 * h] = perturb(x0, p.eps, z.z0);
    key[2 * h] = compositeKey(y[2 * h], c0);
    if (c1 < p.d) {
      y[2 * h + 1] = perturb(x1, p.eps, z.z1);
      key[2 * h + 1] = compositeKey(y[2 * h + 1], c1);
    }
  }
}

// ---- short rows: one thread per unit, d <= kShortD ----
// The k-th largest is the one column with exactly k - 1 composites above it.
__global__ void __launch_bounds__(kShortThreads) selectShortKernel(FwdParams p) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t u = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < p.units; u += stride) {
    const uint64_t row = u / p.nSample;
    if (lazyAnswers(p, row)) continue;
    const uint32_t s = static_cast<uint32_t>(u % p.nSample);
    const uint64_t base = rowBase(row, p.d, p.inner);
    float y[kShortD];
    unsigned long long key[kShortD];
#pragma unroll
    for (uint32_t g = 0; g < kShortD / 4; ++g) {
      float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (4u * g < p.d) groupValues(p, base, static_cast<uint32_t>(row), s, g, v);
#pragma unroll
      for (uint32_t j = 0; j < 4; ++j) {
        const uint32_t c = 4u * g + j;
        y[c] = v[j];
        key[c] = c < p.d ? compositeKey(v[j], c) : 0ull;
      }
    }
    uint32_t col = 0;
    float val = y[0];
#pragma unroll
    for (uint32_t c = 0; c < kShortD; ++c) {
      uint32_t above = 0;
#pragma unroll
      for (uint32_t c2 = 0; c2 < kShortD; ++c2) above += key[c2] > key[c] ? 1u : 0u;
      if (c < p.d && above == p.k - 1) {
        col = c;
        val = y[c];
      }
    }
    p.positions[u] = static_cast<int32_t>(col);
    p.kth[u] = val;
  }
}

// ---- small k: one warp per unit, k <= 32 ----
// Lane j holds the j-th best (composite, value) seen so far, lanes 0 .. k-1 sorted descending.
// The lanes sweep the row 32 groups (128 columns) at a time; a candidate is inserted only when
// it beats the k-th held (threshold filter), one at a time, chosen by ballot. With the stream,
// pairs whose bound stays below the k-th held value skip the Box-Muller (as the CPU's pruned
// path does); the answer cannot change, since a skipped value is below the k-th held.
__global__ void __launch_bounds__(kWarpsPerBlock * 32) selectWarpKernel(FwdParams p) {
  const uint32_t lane = threadIdx.x & 31u;
  const uint64_t nWarps = static_cast<uint64_t>(gridDim.x) * kWarpsPerBlock;
  const uint32_t groups = (p.d + 3u) / 4u;
  // Warp-uniform loops throughout: every lane takes part in every shuffle and ballot.
  for (uint64_t u = static_cast<uint64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32u; u < p.units; u += nWarps) {
    const uint64_t row = u / p.nSample;
    if (lazyAnswers(p, row)) continue;  // warp-uniform: one unit per warp
    const uint32_t s = static_cast<uint32_t>(u % p.nSample);
    const uint64_t base = rowBase(row, p.d, p.inner);
    WarpQueue q;
    float tau = bitsToFloat(0xFF800000u);  // value of the k-th held; -inf while fewer than k are held
    for (uint32_t g0 = 0; g0 < groups; g0 += 32u) {
      const uint32_t g = g0 + lane;
      float y[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      unsigned long long key[4] = {0ull, 0ull, 0ull, 0ull};
      if (g < groups) {
        if (p.noise) {
          groupValues(p, base, static_cast<uint32_t>(row), s, g, y);
#pragma unroll
          for (uint32_t j = 0; j < 4; ++j) {
            const uint32_t c = 4u * g + j;
            if (c < p.d) key[j] = compositeKey(y[j], c);
          }
        } else {
          // Pairs certainly below the k-th held skip their Box-Muller (tau only grows, so a
          // tau from the start of this sweep step is a safe, lower one).
          groupCandidates(p, base, static_cast<uint32_t>(row), s, g, tau, y, key);
        }
      }
#pragma unroll
      for (uint32_t j = 0; j < 4; ++j) {
        warpQueueOffer(q, lane, p.k, key[j], y[j]);
        if (q.thr != 0ull) tau = q.kthVal;
      }
    }
    if (lane == p.k - 1) {
      p.positions[u] = static_cast<int32_t>(compositeColumn(q.key));
      p.kth[u] = q.val;
    }
  }
}

// ---- any k: one block per unit, radix select over the 64-bit composite ----
// Eight passes of 8 bits from the top; each pass histograms the composites that match the
// prefix found so far and picks the bin holding the k-th. It stops early once that bin holds a
// single composite, then finds it. kShared keeps the perturbed row in shared memory (d <=
// kSharedD); otherwise each pass regenerates the noise (no B x D x S buffer either way).
// Calls visit(composite, column) for every column of the unit's row that this thread of the
// block owns (groups tid, tid + kRadixThreads, ...): values from the shared copy of the row
// (kShared) or regenerated from the stream.
template <bool kShared, class Visit>
__device__ __forceinline__ void forEachComposite(const FwdParams& p, const float* ys, uint64_t base, uint32_t row,
                                                 uint32_t s, Visit visit) {
  const uint32_t groups = (p.d + 3u) / 4u;
  for (uint32_t g = threadIdx.x; g < groups; g += kRadixThreads) {
    float y[4];
    if (kShared) {
#pragma unroll
      for (uint32_t j = 0; j < 4; ++j) y[j] = 4u * g + j < p.d ? ys[4u * g + j] : 0.0f;
    } else {
      groupValues(p, base, row, s, g, y);
    }
#pragma unroll
    for (uint32_t j = 0; j < 4; ++j) {
      const uint32_t c = 4u * g + j;
      if (c < p.d) visit(compositeKey(y[j], c), c);
    }
  }
}

template <bool kShared>
__global__ void __launch_bounds__(kRadixThreads) selectRadixKernel(FwdParams p) {
  __shared__ uint32_t hist[256];
  __shared__ unsigned long long sPrefix;
  __shared__ uint32_t sRemain;
  __shared__ uint32_t sCount;
  __shared__ uint32_t sCol;
  __shared__ float ys[kShared ? kSharedD : 1];
  const uint32_t tid = threadIdx.x;
  const uint32_t groups = (p.d + 3u) / 4u;
  for (uint64_t u = blockIdx.x; u < p.units; u += gridDim.x) {  // block-uniform
    const uint64_t row = u / p.nSample;
    if (lazyAnswers(p, row)) continue;  // block-uniform
    const uint32_t s = static_cast<uint32_t>(u % p.nSample);
    const uint64_t base = rowBase(row, p.d, p.inner);
    if (kShared) {
      for (uint32_t g = tid; g < groups; g += kRadixThreads) {
        float y[4];
        groupValues(p, base, static_cast<uint32_t>(row), s, g, y);
#pragma unroll
        for (uint32_t j = 0; j < 4; ++j) {
          if (4u * g + j < p.d) ys[4u * g + j] = y[j];
        }
      }
    }
    unsigned long long prefix = 0ull, mask = 0ull;
    uint32_t remain = p.k;  // rank, from the top, of the target among composites matching prefix
    bool single = false;
    for (int shift = 56; shift >= 0; shift -= 8) {
      hist[tid] = 0u;  // kRadixThreads == 256 bins
      __syncthreads();
      forEachComposite<kShared>(p, ys, base, static_cast<uint32_t>(row), s, [&](unsigned long long key, uint32_t) {
        if ((key & mask) == prefix) atomicAdd(&hist[static_cast<uint32_t>(key >> shift) & 255u], 1u);
      });
      __syncthreads();
      if (tid < 32) {
        // Lane l owns bins 255 - 8l down to 248 - 8l; an inclusive scan over lanes counts the
        // composites in higher bins, and the one lane whose range reaches `remain` holds it.
        uint32_t local[8];
        uint32_t sum = 0;
#pragma unroll
        for (uint32_t j = 0; j < 8; ++j) {
          local[j] = hist[255u - (8u * tid + j)];
          sum += local[j];
        }
        uint32_t incl = sum;
#pragma unroll
        for (int off = 1; off < 32; off <<= 1) {
          const uint32_t t = __shfl_up_sync(kFullMask, incl, off);
          if (static_cast<int>(tid) >= off) incl += t;
        }
        const uint32_t excl = incl - sum;
        if (excl < remain && incl >= remain) {
          uint32_t acc = excl;
          bool found = false;
#pragma unroll
          for (uint32_t j = 0; j < 8; ++j) {
            if (!found && acc + local[j] >= remain) {
              found = true;
              sPrefix = prefix | (static_cast<unsigned long long>(255u - (8u * tid + j)) << shift);
              sRemain = remain - acc;
              sCount = local[j];
            }
            acc += local[j];
          }
        }
      }
      __syncthreads();
      prefix = sPrefix;
      remain = sRemain;
      mask |= 0xFFull << shift;
      single = sCount == 1u;
      __syncthreads();    // every thread has read sPrefix/sRemain/sCount and hist before reuse
      if (single) break;  // block-uniform
    }
    if (!single) {
      // All 64 bits are fixed: the prefix is the composite itself.
      if (tid == 0) sCol = compositeColumn(prefix);
    } else {
      // One composite matches prefix under mask: find its column.
      forEachComposite<kShared>(p, ys, base, static_cast<uint32_t>(row), s, [&](unsigned long long key, uint32_t c) {
        if ((key & mask) == prefix) sCol = c;
      });
    }
    __syncthreads();
    if (tid == 0) {
      const uint32_t col = sCol;
      float val;
      if (kShared) {
        val = ys[col];
      } else {
        float y[4];
        groupValues(p, base, static_cast<uint32_t>(row), s, col / 4u, y);
        val = y[0];
#pragma unroll
        for (uint32_t j = 1; j < 4; ++j) {
          if (col % 4u == j) val = y[j];
        }
      }
      p.positions[u] = static_cast<int32_t>(col);
      p.kth[u] = val;
    }
    __syncthreads();  // ys and sCol are reused by the next unit
  }
}

// values[r] = fl32((0 + kth[r, 0] + kth[r, 1] + ... in sample order, in binary64) / nSample):
// the CPU's operations in the CPU's order (core/sample_mean.h).
__global__ void __launch_bounds__(kMeanThreads)
    meanKernel(const float* kth, uint64_t rows, uint32_t nSample, float* values) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t r = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride) {
    const float* k = kth + r * nSample;
    SampleMean mean;
    for (uint32_t s = 0; s < nSample; ++s) mean.add(k[s]);
    values[r] = mean.mean(nSample);
  }
}

// One block per row; backwardCpu's operations: grad = countShare(count, nSample, scale) =
// fl32(count * scale / nSample) (core/sample_mean.h) for a selected column, fl(0 * scale) elsewhere. Positions outside
// [0, d) are skipped. kScatter (nSample <= kBackwardSharedS): one pass writes 0 * scale everywhere, then the thread of
// each column's first sample counts that column among the row's positions (held in shared memory) and writes it: each
// grad element is written once, plus once per selected column. Otherwise the row's grad slots first serve as counts
// (zeroed, then one atomic increment per sample) and are then converted in place.
constexpr uint32_t kBackwardSharedS = 1024;

template <bool kScatter>
__global__ void __launch_bounds__(kBackwardThreads) backwardKernel(BwdParams p) {
  __shared__ int32_t sPos[kScatter ? kBackwardSharedS : 1];
  for (uint64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {  // block-uniform
    float* g = p.grad + rowBase(row, p.d, p.inner);
    const int32_t* pos = p.positions + row * p.nSample;
    const float scale = p.rowScale[row];
    const float unselected = __fmul_rn(0.0f, scale);
    if (kScatter) {
      for (uint32_t c = threadIdx.x; c < p.d; c += blockDim.x) g[static_cast<uint64_t>(c) * p.inner] = unselected;
      for (uint32_t s = threadIdx.x; s < p.nSample; s += blockDim.x) sPos[s] = pos[s];
      __syncthreads();
      for (uint32_t s = threadIdx.x; s < p.nSample; s += blockDim.x) {
        const int32_t c = sPos[s];
        if (c < 0 || static_cast<uint32_t>(c) >= p.d) continue;
        uint32_t n = 0;
        bool first = true;
        for (uint32_t t = 0; t < p.nSample; ++t) {
          if (sPos[t] == c) {
            ++n;
            if (t < s) first = false;
          }
        }
        if (first) g[static_cast<uint64_t>(c) * p.inner] = countShare(n, p.nSample, scale);
      }
      __syncthreads();  // sPos is reused by the next row
    } else {
      unsigned* counts = reinterpret_cast<unsigned*>(g);
      for (uint32_t c = threadIdx.x; c < p.d; c += blockDim.x) counts[static_cast<uint64_t>(c) * p.inner] = 0u;
      __syncthreads();
      for (uint32_t s = threadIdx.x; s < p.nSample; s += blockDim.x) {
        const int32_t c = pos[s];
        if (c >= 0 && static_cast<uint32_t>(c) < p.d) atomicAdd(&counts[static_cast<uint64_t>(c) * p.inner], 1u);
      }
      __syncthreads();
      for (uint32_t c = threadIdx.x; c < p.d; c += blockDim.x) {
        const uint64_t e = static_cast<uint64_t>(c) * p.inner;
        const unsigned n = __ldcg(&counts[e]);
        g[e] = n == 0u ? unselected : countShare(n, p.nSample, scale);
      }
      __syncthreads();
    }
  }
}

}  // namespace cudak
}  // namespace ntk
