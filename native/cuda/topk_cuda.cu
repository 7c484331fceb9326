// Launcher of the hard top-k on CUDA (API in core/ops_cuda.h, kernel in topk_select.cuh).
// Nothing here aborts or throws: every CUDA failure becomes a Status and a message in
// opsCudaLastError(). Buffers are allocated per call (a first version: the call copies the
// whole input anyway).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../core/ops_cuda.h"
#include "topk_select.cuh"

namespace ntk {
namespace {

thread_local std::string tOpsLastError;

Status statusOf(cudaError_t e) {
  switch (e) {
    case cudaErrorMemoryAllocation: return Status::kOutOfMemory;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInitializationError: return Status::kDeviceUnavailable;
    default: return Status::kDeviceError;
  }
}

Status fail(cudaError_t e) {
  tOpsLastError = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  cudaGetLastError();  // clear a non-sticky error
  return statusOf(e);
}

// Frees its device buffers on every path out of topkCuda.
struct DeviceBuffers {
  void* p[4] = {nullptr, nullptr, nullptr, nullptr};
  ~DeviceBuffers() {
    for (void* q : p)
      if (q) cudaFree(q);
  }
};

}  // namespace

const char* opsCudaLastError() { return tOpsLastError.c_str(); }

#define NTK_OPS_CUDA_TRY(call)              \
  do {                                      \
    const cudaError_t e_ = (call);          \
    if (e_ != cudaSuccess) return fail(e_); \
  } while (0)

Status topkCuda(const TopKArgs& a) {
  tOpsLastError.clear();
  const char* why = nullptr;
  if (validate(a, &why) != Status::kOk) {
    tOpsLastError = why ? why : "invalid argument";
    return Status::kInvalidArgument;
  }
  if (a.k > kTopkCudaMaxK) {
    tOpsLastError = "k above 32 is not supported on cuda";
    return Status::kInvalidArgument;
  }
  const uint64_t size = a.layout.size(), rows = a.layout.rows();
  if (size == 0) return Status::kOk;
  const uint64_t outLen = rows * a.k;
  DeviceBuffers buf;
  NTK_OPS_CUDA_TRY(cudaMalloc(&buf.p[0], size * sizeof(float)));
  NTK_OPS_CUDA_TRY(cudaMalloc(&buf.p[1], outLen * sizeof(float)));
  NTK_OPS_CUDA_TRY(cudaMalloc(&buf.p[2], outLen * sizeof(int32_t)));
  NTK_OPS_CUDA_TRY(cudaMalloc(&buf.p[3], sizeof(unsigned)));
  NTK_OPS_CUDA_TRY(cudaMemcpy(buf.p[0], a.x, size * sizeof(float), cudaMemcpyHostToDevice));
  NTK_OPS_CUDA_TRY(cudaMemset(buf.p[3], 0, sizeof(unsigned)));
  cudak::TopkParams p;
  p.x = static_cast<const float*>(buf.p[0]);
  p.inner = a.layout.inner;
  p.rows = rows;
  p.d = static_cast<uint32_t>(a.layout.d);
  p.k = a.k;
  p.largest = a.largest;
  p.sorted = a.sorted;
  p.values = static_cast<float*>(buf.p[1]);
  p.indices = static_cast<int32_t*>(buf.p[2]);
  p.nonFinite = a.checkFinite ? static_cast<unsigned*>(buf.p[3]) : nullptr;
  const uint64_t blocks =
      std::min<uint64_t>((rows + cudak::kTopkWarpsPerBlock - 1) / cudak::kTopkWarpsPerBlock, 1u << 20);
  cudak::topkWarpKernel<<<static_cast<unsigned>(blocks), cudak::kTopkWarpsPerBlock * 32>>>(p);
  NTK_OPS_CUDA_TRY(cudaGetLastError());
  NTK_OPS_CUDA_TRY(cudaMemcpy(a.values, buf.p[1], outLen * sizeof(float), cudaMemcpyDeviceToHost));
  NTK_OPS_CUDA_TRY(cudaMemcpy(a.indices, buf.p[2], outLen * sizeof(int32_t), cudaMemcpyDeviceToHost));
  if (a.checkFinite) {
    unsigned flag = 0;
    NTK_OPS_CUDA_TRY(cudaMemcpy(&flag, buf.p[3], sizeof(unsigned), cudaMemcpyDeviceToHost));
    *a.nonFinite = flag != 0;
  }
  return Status::kOk;
}

}  // namespace ntk
