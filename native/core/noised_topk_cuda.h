// Host-facing API of the CUDA backend (native/cuda/). Plain C++ only: no CUDA type appears
// here, so binding.cpp and the benchmark include it without the CUDA headers. Declared only
// in builds with NOISED_TOPK_HAS_CUDA (CMake with nvcc found).
//
// The results are those of forwardCpu / backwardCpu bit for bit (same noise stream, same rank
// order, same float operations in the same order), except the payload bits of a NaN result:
// the GPU writes its canonical NaN where the CPU propagates an input's.
//
// No function here aborts the process or throws. A failing CUDA call makes the function return
// kDeviceUnavailable (no driver, no device), kOutOfMemory (a device allocation failed) or
// kDeviceError (anything else), and leaves "cudaErrorName: description" in cudaLastError().
#pragma once

#include <cstddef>

#include "noised_topk.h"

namespace ntk {

// True when the CUDA runtime reports at least one device. Any error (no driver, driver too
// old, no device) means false. Queried once per process.
bool cudaUsable();

// Why cudaUsable() is false, as "cudaErrorName: description"; "" when it is true.
const char* cudaProbeError();

// The CUDA error behind the last failing call of this API on the calling thread, as
// "cudaErrorMemoryAllocation: out of memory"; "" when the last call succeeded.
const char* cudaLastError();

// ---- host arrays in, host arrays out ----
// Every pointer in the args is a host pointer. The call copies x (and explicit noise) to the
// device, runs, and copies back values, positions and a non-null sampleValues (forward) or grad (backward), then
// returns. Device buffers are kept between calls (grown to the largest call) and calls are
// serialized by a lock.
Status forwardCuda(const ForwardArgs& a);
Status backwardCuda(const BackwardArgs& a);

// ---- device-resident API (upload once, run many, download once) ----
// Every pointer in ForwardArgs / BackwardArgs passed to the *Device functions is a device
// pointer from deviceAlloc. They only enqueue work on the library's CUDA stream and return;
// deviceSynchronize waits for it and reports an error raised meanwhile. backwardCudaDevice
// ignores positions outside [0, d) (the host API rejects them before any work).
Status deviceAlloc(void** p, size_t bytes);
void deviceFree(void* p);
Status deviceUpload(void* dst, const void* src, size_t bytes);    // synchronous
Status deviceDownload(void* dst, const void* src, size_t bytes);  // synchronous
Status deviceSynchronize();
// forwardCudaDevice: a non-null sampleValues is the per-sample buffer the kernels write.
Status forwardCudaDevice(const ForwardArgs& a);
Status backwardCudaDevice(const BackwardArgs& a);

// Name of the selection path forwardCuda takes for these sizes ("short", "warp",
// "radix-shared", "radix-regen"). NOISED_TOPK_CUDA_SELECT=<one of those> forces a path where
// it applies (a test hook: every path gives the same bits); read at each call.
const char* cudaSelectPath(uint64_t d, uint32_t k, uint64_t units);

}  // namespace ntk
