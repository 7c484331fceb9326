// A tiny SIMT emulator standing in for <cuda_runtime.h>, so that native/cuda/select.cuh (the
// real kernel source, unchanged) compiles as host C++ and its kernels run on the CPU: one
// std::thread per CUDA thread of a block, blocks one after another, __syncthreads as a block
// barrier, and every warp intrinsic as a rendezvous of the warp's 32 lanes. It checks the
// kernels' logic (indexing, selection, grid-stride loops, barrier and warp-uniform control flow:
// a lane missing a warp intrinsic deadlocks it) on a machine with no GPU. It does not check the
// float intrinsics (host + - * / stand in for __f*_rn), memory ordering or performance.
// Used only by the checks beside it: emu_check.cpp (run.sh, test/cuda-emu.test.ts) and
// topk_emu_check.cpp (test/ops-topk.test.ts).
#pragma once

#include <barrier>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct EmuDim3 {
  unsigned x = 1, y = 1, z = 1;
};

namespace emu {

struct Warp {
  std::barrier<> bar{32};
  uint64_t slot[32];
};

struct Block {
  explicit Block(unsigned n) : bar(static_cast<std::ptrdiff_t>(n)), warps((n + 31) / 32) {
    for (auto& w : warps) w = std::make_unique<Warp>();
  }
  std::barrier<> bar;
  std::vector<std::unique_ptr<Warp>> warps;
};

inline thread_local EmuDim3 tIdx, bIdx;
inline EmuDim3 bDim, gDim;
inline thread_local Block* block = nullptr;

// Runs body() as grid x block threads: blocks in turn, each block's threads concurrently.
// blockThreads must be a multiple of 32 (every kernel here uses whole warps).
inline void launch(unsigned grid, unsigned blockThreads, const std::function<void()>& body) {
  gDim.x = grid;
  bDim.x = blockThreads;
  for (unsigned b = 0; b < grid; ++b) {
    Block blk(blockThreads);
    std::vector<std::thread> threads;
    threads.reserve(blockThreads);
    for (unsigned t = 0; t < blockThreads; ++t) {
      threads.emplace_back([&, b, t] {
        tIdx.x = t;
        bIdx.x = b;
        block = &blk;
        body();
      });
    }
    for (auto& th : threads) th.join();
  }
}

inline Warp& warp() { return *block->warps[tIdx.x / 32]; }
inline unsigned lane() { return tIdx.x & 31u; }

template <typename T>
T exchange(T v, int src) {
  static_assert(sizeof(T) <= 8, "word-sized values only");
  Warp& w = warp();
  uint64_t raw = 0;
  std::memcpy(&raw, &v, sizeof(T));
  w.slot[lane()] = raw;
  w.bar.arrive_and_wait();
  T r;
  std::memcpy(&r, &w.slot[src], sizeof(T));
  w.bar.arrive_and_wait();
  return r;
}

}  // namespace emu

#define threadIdx (emu::tIdx)
#define blockIdx (emu::bIdx)
#define blockDim (emu::bDim)
#define gridDim (emu::gDim)

inline void __syncthreads() { emu::block->bar.arrive_and_wait(); }

inline unsigned __ballot_sync(unsigned /*mask*/, bool pred) {
  emu::Warp& w = emu::warp();
  w.slot[emu::lane()] = pred ? 1u : 0u;
  w.bar.arrive_and_wait();
  unsigned m = 0;
  for (unsigned l = 0; l < 32; ++l) m |= (w.slot[l] ? 1u : 0u) << l;
  w.bar.arrive_and_wait();
  return m;
}

template <typename T>
T __shfl_sync(unsigned /*mask*/, T v, int src) {
  return emu::exchange(v, src & 31);
}

template <typename T>
T __shfl_up_sync(unsigned /*mask*/, T v, unsigned delta) {
  const int src = static_cast<int>(emu::lane()) - static_cast<int>(delta);
  const T r = emu::exchange(v, src < 0 ? static_cast<int>(emu::lane()) : src);
  return r;
}

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(unsigned x) { return __builtin_ffs(static_cast<int>(x)); }

inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned __ldcg(const unsigned* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
