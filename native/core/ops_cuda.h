// Host-facing API of the top-k ops on CUDA (native/cuda/topk_cuda.cu). Plain C++ only, like
// noised_topk_cuda.h; declared only in builds with NOISED_TOPK_HAS_CUDA.
//
// Status: compiled, and its kernel checked on the CPU through test/native/cuda-emu (a SIMT emulator
// running the same source), but never run on a GPU: treat it as unverified until it is.
#pragma once

#include "ops.h"

namespace ntk {

// The hard top-k on the GPU, host arrays in and out (x is copied up, values and indices down),
// the same results as topkCpu bit for bit (the values are the input's own floats). k <= 32;
// a larger k is kInvalidArgument. Device buffers are allocated per call. A failing CUDA call
// returns kDeviceUnavailable, kOutOfMemory or kDeviceError and leaves "cudaErrorName:
// description" in opsCudaLastError() (per thread). Never aborts or throws.
Status topkCuda(const TopKArgs& a);
const char* opsCudaLastError();

constexpr uint32_t kTopkCudaMaxK = 32;

}  // namespace ntk
