// CUDA backend: launchers, device buffers and error handling (API in core/noised_topk_cuda.h,
// kernels in select.cuh). Nothing here aborts or throws: every CUDA failure becomes a Status
// and a message in cudaLastError().
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "../core/noised_topk.h"
#include "../core/noised_topk_cuda.h"
#include "lazy_select.cuh"
#include "select.cuh"

namespace ntk {
namespace {

using namespace cudak;

constexpr uint64_t kMaxBlocks = 1u << 20;  // kernels loop (grid-stride) beyond this many blocks

thread_local std::string tLastError;

Status statusOf(cudaError_t e) {
  switch (e) {
    case cudaErrorMemoryAllocation: return Status::kOutOfMemory;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInitializationError:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorSystemNotReady:
    case cudaErrorStubLibrary:
    case cudaErrorDevicesUnavailable: return Status::kDeviceUnavailable;
    default: return Status::kDeviceError;
  }
}

std::string describe(cudaError_t e) {
  const char* name = cudaGetErrorName(e);
  const char* text = cudaGetErrorString(e);
  return std::string(name ? name : "cudaError") + ": " + (text ? text : "unknown CUDA error");
}

// Records e for cudaLastError(), clears it from the runtime where it is not sticky.
Status fail(cudaError_t e) {
  tLastError = describe(e);
  (void)cudaGetLastError();
  return statusOf(e);
}

#define NTK_CUDA_TRY(call)                            \
  do {                                                \
    const cudaError_t ntkErr_ = (call);               \
    if (ntkErr_ != cudaSuccess) return fail(ntkErr_); \
  } while (0)

struct Probe {
  bool usable = false;
  cudaError_t error = cudaSuccess;
};

// Once per process: a device answers, and this build has a kernel image it can run.
const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaSuccess && n <= 0) e = cudaErrorNoDevice;
    if (e == cudaSuccess) {
      cudaFuncAttributes attr;
      e = cudaFuncGetAttributes(&attr, meanKernel);
    }
    r.error = e;
    r.usable = e == cudaSuccess;
    (void)cudaGetLastError();
    return r;
  }();
  return p;
}

// Device buffers kept between calls, grown on demand, and the library's stream. Every use is
// under `mutex`.
struct Buffer {
  void* ptr = nullptr;
  size_t bytes = 0;
};

// Two pinned host buffers for NOISED_TOPK_CUDA_STAGING=pinned, and the event of each one's last
// copy on the stream.
constexpr size_t kStageChunk = size_t(4) << 20;

struct PinnedRing {
  void* buf[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};
};

struct State {
  std::mutex mutex;
  cudaStream_t stream = nullptr;
  Buffer x, noise, values, positions, kth, rowScale, grad;
  // The lazy sampler's scratch (lazy_select.cuh): the normal-tail table (filled once), the
  // prepared rows and the per-thread key / value slots of lazySampleKernel.
  Buffer lazyTail, lazyRowX, lazyBinOf, lazyCols, lazyInfo, lazyRows, lazyKey, lazyVal;
  bool lazyTailFilled = false;
  PinnedRing ring;
};

State& state() {
  static State* s = new State();  // never destroyed: no CUDA call from static destructors
  return *s;
}

Status ensureStream(State& st) {
  if (st.stream) return Status::kOk;
  NTK_CUDA_TRY(cudaStreamCreateWithFlags(&st.stream, cudaStreamNonBlocking));
  return Status::kOk;
}

// Grows b to at least `bytes`. Work already queued on the stream may still use the old
// buffer: wait for it before freeing.
Status ensure(State& st, Buffer& b, size_t bytes) {
  if (b.bytes >= bytes) return Status::kOk;
  if (b.ptr) {
    NTK_CUDA_TRY(cudaStreamSynchronize(st.stream));
    const cudaError_t e = cudaFree(b.ptr);
    b.ptr = nullptr;
    b.bytes = 0;
    if (e != cudaSuccess) return fail(e);
  }
  NTK_CUDA_TRY(cudaMalloc(&b.ptr, std::max<size_t>(bytes, 256)));
  b.bytes = std::max<size_t>(bytes, 256);
  return Status::kOk;
}

// Host <-> device copies of the host API. Default: plain cudaMemcpyAsync from / to the
// caller's pageable memory. NOISED_TOPK_CUDA_STAGING=pinned (read at each call; an experiment
// for bench/cuda until measured): through two pinned 4 MiB buffers, the host memcpy of one chunk
// overlapping the DMA of the other.
bool pinnedStaging() {
  const char* e = std::getenv("NOISED_TOPK_CUDA_STAGING");
  return e && std::strcmp(e, "pinned") == 0;
}

Status ensureRing(State& st) {
  for (int i = 0; i < 2; ++i) {
    if (!st.ring.buf[i]) NTK_CUDA_TRY(cudaMallocHost(&st.ring.buf[i], kStageChunk));
    if (!st.ring.done[i]) NTK_CUDA_TRY(cudaEventCreateWithFlags(&st.ring.done[i], cudaEventDisableTiming));
  }
  return Status::kOk;
}

// Chunk i of a staged copy: its byte range and the pinned slot it passes through.
struct StageSpan {
  size_t off, n;
  int slot;
};

StageSpan stageSpan(size_t i, size_t bytes) {
  const size_t off = i * kStageChunk;
  return StageSpan{off, std::min(kStageChunk, bytes - off), static_cast<int>(i & 1)};
}

// Host to device through the pinned ring: the host memcpy of one chunk overlaps the DMA of
// the other. The host memory may be reused once this returns.
Status uploadStaged(State& st, char* dst, const char* src, size_t bytes) {
  for (size_t i = 0; i * kStageChunk < bytes; ++i) {
    const StageSpan c = stageSpan(i, bytes);
    NTK_CUDA_TRY(cudaEventSynchronize(st.ring.done[c.slot]));  // the slot's previous copy is done
    std::memcpy(st.ring.buf[c.slot], src + c.off, c.n);
    NTK_CUDA_TRY(cudaMemcpyAsync(dst + c.off, st.ring.buf[c.slot], c.n, cudaMemcpyHostToDevice, st.stream));
    NTK_CUDA_TRY(cudaEventRecord(st.ring.done[c.slot], st.stream));
  }
  return Status::kOk;
}

// Device to host through the pinned ring: chunk i - 1 is copied out while chunk i is in
// flight. Complete on return.
Status downloadStaged(State& st, char* dst, const char* src, size_t bytes) {
  const size_t chunks = (bytes + kStageChunk - 1) / kStageChunk;
  for (size_t i = 0; i <= chunks; ++i) {
    if (i < chunks) {
      const StageSpan c = stageSpan(i, bytes);
      NTK_CUDA_TRY(cudaEventSynchronize(st.ring.done[c.slot]));  // an upload may still read it
      NTK_CUDA_TRY(cudaMemcpyAsync(st.ring.buf[c.slot], src + c.off, c.n, cudaMemcpyDeviceToHost, st.stream));
      NTK_CUDA_TRY(cudaEventRecord(st.ring.done[c.slot], st.stream));
    }
    if (i > 0) {
      const StageSpan c = stageSpan(i - 1, bytes);
      NTK_CUDA_TRY(cudaEventSynchronize(st.ring.done[c.slot]));
      std::memcpy(dst + c.off, st.ring.buf[c.slot], c.n);
    }
  }
  return Status::kOk;
}

// Enqueues a copy between the caller's memory and the device on the stream, in `kind`'s
// direction. An upload's host memory may be reused once this returns; a download is complete
// once the stream is synchronized (the callers do; the pinned path is complete on return).
Status transfer(State& st, void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return Status::kOk;
  if (!pinnedStaging()) {
    NTK_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, kind, st.stream));
    return Status::kOk;
  }
  const Status s = ensureRing(st);
  if (s != Status::kOk) return s;
  return kind == cudaMemcpyHostToDevice
             ? uploadStaged(st, static_cast<char*>(dst), static_cast<const char*>(src), bytes)
             : downloadStaged(st, static_cast<char*>(dst), static_cast<const char*>(src), bytes);
}

Status upload(State& st, void* dst, const void* src, size_t bytes) {
  return transfer(st, dst, src, bytes, cudaMemcpyHostToDevice);
}

Status download(State& st, void* dst, const void* src, size_t bytes) {
  return transfer(st, dst, src, bytes, cudaMemcpyDeviceToHost);
}

bool mulOverflows(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return true;
  *out = a * b;
  return false;
}

// units = rows * nSample and the bytes of one float per unit; true where either overflows.
bool unitBytesOverflow(const ForwardArgs& a, uint64_t* units, uint64_t* bytes) {
  return mulOverflows(a.layout.rows(), a.nSample, units) || mulOverflows(*units, sizeof(float), bytes);
}

enum class Path { kShort, kWarp, kRadixShared, kRadixRegen };

const char* pathName(Path p) {
  switch (p) {
    case Path::kShort: return "short";
    case Path::kWarp: return "warp";
    case Path::kRadixShared: return "radix-shared";
    case Path::kRadixRegen: return "radix-regen";
  }
  return "?";
}

bool applies(Path p, uint64_t d, uint32_t k) {
  switch (p) {
    case Path::kShort: return d <= kShortD;
    case Path::kWarp: return k <= kWarpMaxK;
    case Path::kRadixShared: return d <= kSharedD;
    case Path::kRadixRegen: return true;
  }
  return false;
}

Path choosePath(uint64_t d, uint32_t k, uint64_t units) {
  if (const char* forced = std::getenv("NOISED_TOPK_CUDA_SELECT")) {
    for (Path p : {Path::kShort, Path::kWarp, Path::kRadixShared, Path::kRadixRegen}) {
      if (std::strcmp(forced, pathName(p)) == 0 && applies(p, d, k)) return p;
    }
  }
  if (d <= kShortD) return Path::kShort;
  // Few long rows: a block per unit keeps more of the GPU busy than a warp per unit. The
  // threshold is a guess, not a measurement (no GPU was available when this was written).
  const bool fewLongRows = units < 512 && d >= 4096;
  if (k <= kWarpMaxK && !fewLongRows) return Path::kWarp;
  return d <= kSharedD ? Path::kRadixShared : Path::kRadixRegen;
}

unsigned blocksFor(uint64_t work, uint64_t perBlock) {
  return static_cast<unsigned>(std::min<uint64_t>(kMaxBlocks, std::max<uint64_t>(1, (work + perBlock - 1) / perBlock)));
}

// Bytes of lazySampleKernel's key / value slots: it runs as many threads as fit (at least one),
// each looping over units, so the scratch stays bounded whatever the number of units.
constexpr uint64_t kLazyScratchBudget = uint64_t(256) << 20;

// Whether a seeded call with sampler 'lazy' can have any row on the lazy path: the row-independent
// part of lazy::lazyPrepareRow's rule; the per-row part (finite, magnitude) is decided on the
// device. Otherwise every row is dense, as on the CPU.
bool lazyApplies(const ForwardArgs& a) {
  return a.sampler == kSamplerLazy && a.noise.explicitNoise == nullptr &&
         lazy::lazyShapeEligible(a.layout.d, a.k, a.epsilon);
}

// Enqueues the lazy sampler's table fill (first use) and row preparation, and fills `lp` for
// lazySampleKernel; `call` is the call as the dense kernels take it. Every pointer is a device
// pointer.
Status prepareLazy(State& st, const ForwardArgs& a, const FwdParams& call, LazyParams& lp) {
  const uint64_t rows = a.layout.rows(), d = a.layout.d;
  const uint64_t width = lazy::lazySlotWidth(d);
  uint64_t rowElems = 0, units = 0;
  if (mulOverflows(rows, d, &rowElems) || mulOverflows(rows, a.nSample, &units) ||
      rowElems > UINT64_MAX / sizeof(uint64_t) || rows > UINT64_MAX / sizeof(LazyRowInfo))
    return Status::kOutOfMemory;
  const uint64_t slotBytes = width * (sizeof(uint64_t) + sizeof(float));
  const uint64_t slots = std::min<uint64_t>(std::min<uint64_t>(units, kMaxBlocks * kLazySampleThreads),
                                            std::max<uint64_t>(1, kLazyScratchBudget / slotBytes));
  Status s;
  if ((s = ensure(st, st.lazyTail, sizeof(lazy::TailTable))) != Status::kOk) return s;
  if ((s = ensure(st, st.lazyRowX, rowElems * sizeof(float))) != Status::kOk) return s;
  if ((s = ensure(st, st.lazyBinOf, rowElems)) != Status::kOk) return s;
  if ((s = ensure(st, st.lazyCols, rowElems * sizeof(uint32_t))) != Status::kOk) return s;
  if ((s = ensure(st, st.lazyInfo, rows * sizeof(LazyRowInfo))) != Status::kOk) return s;
  if ((s = ensure(st, st.lazyRows, rows)) != Status::kOk) return s;
  if ((s = ensure(st, st.lazyKey, slots * width * sizeof(uint64_t))) != Status::kOk) return s;
  if ((s = ensure(st, st.lazyVal, slots * width * sizeof(float))) != Status::kOk) return s;
  auto* tail = static_cast<lazy::TailTable*>(st.lazyTail.ptr);
  if (!st.lazyTailFilled) {
    lazyTailTableKernel<<<1, 1, 0, st.stream>>>(tail);
    NTK_CUDA_TRY(cudaGetLastError());
    st.lazyTailFilled = true;  // the buffer is never reallocated: its size is fixed
  }
  lp.call = call;
  lp.rows = rows;
  lp.rowX = static_cast<float*>(st.lazyRowX.ptr);
  lp.binOf = static_cast<uint8_t*>(st.lazyBinOf.ptr);
  lp.cols = static_cast<uint32_t*>(st.lazyCols.ptr);
  lp.info = static_cast<LazyRowInfo*>(st.lazyInfo.ptr);
  lp.lazyRows = static_cast<uint8_t*>(st.lazyRows.ptr);
  lp.tail = tail;
  lp.key = static_cast<uint64_t*>(st.lazyKey.ptr);
  lp.val = static_cast<float*>(st.lazyVal.ptr);
  lp.slots = slots;
  lazyPrepareKernel<<<blocksFor(rows, kLazyPrepareThreads), kLazyPrepareThreads, 0, st.stream>>>(lp);
  NTK_CUDA_TRY(cudaGetLastError());
  return Status::kOk;
}

// Enqueues the forward kernels on the library's stream; every pointer is a device pointer. With
// sampler 'lazy', the rows the lazy path takes are prepared first, the dense selection kernels
// answer the other rows (the fixed fallback rule), and lazySampleKernel the lazy ones.
Status launchForward(State& st, const ForwardArgs& a, float* kth) {
  const uint64_t rows = a.layout.rows();
  if (rows == 0) return Status::kOk;
  const cudaStream_t stream = st.stream;
  FwdParams p;
  p.x = a.x;
  p.noise = a.noise.explicitNoise;
  p.inner = a.layout.inner;
  p.units = rows * a.nSample;
  p.d = static_cast<uint32_t>(a.layout.d);
  p.nSample = a.nSample;
  p.k = a.k;
  p.eps = a.epsilon;
  p.seedLo = a.noise.seedLo;
  p.seedHi = a.noise.seedHi;
  p.offset = a.noise.offset;
  p.positions = a.positions;
  p.kth = kth;
  const bool lazyOn = lazyApplies(a);
  LazyParams lp;
  if (lazyOn) {
    const Status s = prepareLazy(st, a, p, lp);
    if (s != Status::kOk) return s;
    p.lazyRows = lp.lazyRows;
  }
  switch (choosePath(a.layout.d, a.k, p.units)) {
    case Path::kShort: selectShortKernel<<<blocksFor(p.units, kShortThreads), kShortThreads, 0, stream>>>(p); break;
    case Path::kWarp:
      selectWarpKernel<<<blocksFor(p.units, kWarpsPerBlock), kWarpsPerBlock * 32, 0, stream>>>(p);
      break;
    case Path::kRadixShared: selectRadixKernel<true><<<blocksFor(p.units, 1), kRadixThreads, 0, stream>>>(p); break;
    case Path::kRadixRegen: selectRadixKernel<false><<<blocksFor(p.units, 1), kRadixThreads, 0, stream>>>(p); break;
  }
  NTK_CUDA_TRY(cudaGetLastError());
  if (lazyOn) {
    lazySampleKernel<<<blocksFor(lp.slots, kLazySampleThreads), kLazySampleThreads, 0, stream>>>(lp);
    NTK_CUDA_TRY(cudaGetLastError());
  }
  meanKernel<<<blocksFor(rows, kMeanThreads), kMeanThreads, 0, stream>>>(kth, rows, a.nSample, a.values);
  NTK_CUDA_TRY(cudaGetLastError());
  return Status::kOk;
}

Status launchBackward(const BackwardArgs& a, cudaStream_t stream) {
  BwdParams p;
  p.positions = a.positions;
  p.rowScale = a.rowScale;
  p.grad = a.grad;
  p.inner = a.layout.inner;
  p.rows = a.layout.rows();
  p.d = static_cast<uint32_t>(a.layout.d);
  p.nSample = a.nSample;
  if (p.rows == 0) return Status::kOk;
  if (p.nSample <= kBackwardSharedS)
    backwardKernel<true><<<blocksFor(p.rows, 1), kBackwardThreads, 0, stream>>>(p);
  else
    backwardKernel<false><<<blocksFor(p.rows, 1), kBackwardThreads, 0, stream>>>(p);
  NTK_CUDA_TRY(cudaGetLastError());
  return Status::kOk;
}

Status unavailable() {
  tLastError = describe(probe().error);
  return statusOf(probe().error) == Status::kDeviceError ? Status::kDeviceError : Status::kDeviceUnavailable;
}

}  // namespace

bool cudaUsable() { return probe().usable; }

const char* cudaProbeError() {
  static const std::string text = probe().usable ? std::string() : describe(probe().error);
  return text.c_str();
}

const char* cudaLastError() { return tLastError.c_str(); }

const char* cudaSelectPath(uint64_t d, uint32_t k, uint64_t units) { return pathName(choosePath(d, k, units)); }

namespace {

// The steps every call that uses the device shares: clear the thread's error, check for a
// device, then run `work` on the shared stream under its lock.
template <class Work>
Status onStream(Work work) {
  tLastError.clear();
  if (!cudaUsable()) return unavailable();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  const Status s = ensureStream(st);
  if (s != Status::kOk) return s;
  return work(st);
}

// A synchronous copy on the shared stream (device-resident callers own both sides).
Status copyNow(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return onStream([&](State& st) -> Status {
    NTK_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, kind, st.stream));
    NTK_CUDA_TRY(cudaStreamSynchronize(st.stream));
    return Status::kOk;
  });
}

}  // namespace

Status forwardCuda(const ForwardArgs& a) {
  tLastError.clear();
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  return onStream([&](State& st) -> Status {
    const uint64_t rows = a.layout.rows();
    if (rows == 0) return Status::kOk;
    uint64_t xBytes = 0, units = 0, unitBytes = 0, noiseBytes = 0;
    if (unitBytesOverflow(a, &units, &unitBytes) || mulOverflows(a.layout.size(), sizeof(float), &xBytes) ||
        (a.noise.explicitNoise && mulOverflows(xBytes, a.nSample, &noiseBytes)))
      return Status::kOutOfMemory;
    Status s;
    if ((s = ensure(st, st.x, xBytes)) != Status::kOk) return s;
    if (a.noise.explicitNoise && (s = ensure(st, st.noise, noiseBytes)) != Status::kOk) return s;
    if ((s = ensure(st, st.values, rows * sizeof(float))) != Status::kOk) return s;
    if ((s = ensure(st, st.positions, units * sizeof(int32_t))) != Status::kOk) return s;
    if ((s = ensure(st, st.kth, unitBytes)) != Status::kOk) return s;
    if ((s = upload(st, st.x.ptr, a.x, xBytes)) != Status::kOk) return s;
    ForwardArgs d = a;
    d.x = static_cast<const float*>(st.x.ptr);
    if (a.noise.explicitNoise) {
      if ((s = upload(st, st.noise.ptr, a.noise.explicitNoise, noiseBytes)) != Status::kOk) return s;
      d.noise.explicitNoise = static_cast<const float*>(st.noise.ptr);
    }
    d.values = static_cast<float*>(st.values.ptr);
    d.positions = static_cast<int32_t*>(st.positions.ptr);
    if ((s = launchForward(st, d, static_cast<float*>(st.kth.ptr))) != Status::kOk) return s;
    if ((s = download(st, a.values, d.values, rows * sizeof(float))) != Status::kOk) return s;
    if ((s = download(st, a.positions, d.positions, units * sizeof(int32_t))) != Status::kOk) return s;
    // The per-sample k-th values meanKernel averaged, when asked for (ForwardArgs::sampleValues).
    if (a.sampleValues && (s = download(st, a.sampleValues, st.kth.ptr, unitBytes)) != Status::kOk) return s;
    NTK_CUDA_TRY(cudaStreamSynchronize(st.stream));
    return Status::kOk;
  });
}

Status backwardCuda(const BackwardArgs& a) {
  tLastError.clear();
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  const uint64_t rows = a.layout.rows();
  uint64_t units = 0, gradBytes = 0;
  if (mulOverflows(rows, a.nSample, &units) || mulOverflows(a.layout.size(), sizeof(float), &gradBytes))
    return Status::kOutOfMemory;
  for (uint64_t j = 0; j < units; ++j) {
    if (a.positions[j] < 0 || static_cast<uint64_t>(a.positions[j]) >= a.layout.d) return Status::kInvalidArgument;
  }
  return onStream([&](State& st) -> Status {
    if (rows == 0) return Status::kOk;
    Status s;
    if ((s = ensure(st, st.positions, units * sizeof(int32_t))) != Status::kOk) return s;
    if ((s = ensure(st, st.rowScale, rows * sizeof(float))) != Status::kOk) return s;
    if ((s = ensure(st, st.grad, gradBytes)) != Status::kOk) return s;
    if ((s = upload(st, st.positions.ptr, a.positions, units * sizeof(int32_t))) != Status::kOk) return s;
    if ((s = upload(st, st.rowScale.ptr, a.rowScale, rows * sizeof(float))) != Status::kOk) return s;
    BackwardArgs d = a;
    d.positions = static_cast<const int32_t*>(st.positions.ptr);
    d.rowScale = static_cast<const float*>(st.rowScale.ptr);
    d.grad = static_cast<float*>(st.grad.ptr);
    if ((s = launchBackward(d, st.stream)) != Status::kOk) return s;
    if ((s = download(st, a.grad, d.grad, gradBytes)) != Status::kOk) return s;
    NTK_CUDA_TRY(cudaStreamSynchronize(st.stream));
    return Status::kOk;
  });
}

// ---- device-resident API ----

Status deviceAlloc(void** p, size_t bytes) {
  tLastError.clear();
  *p = nullptr;
  if (!cudaUsable()) return unavailable();
  NTK_CUDA_TRY(cudaMalloc(p, std::max<size_t>(bytes, 1)));
  return Status::kOk;
}

void deviceFree(void* p) {
  if (p) (void)cudaFree(p);
  (void)cudaGetLastError();
}

Status deviceUpload(void* dst, const void* src, size_t bytes) {
  return copyNow(dst, src, bytes, cudaMemcpyHostToDevice);
}

Status deviceDownload(void* dst, const void* src, size_t bytes) {
  return copyNow(dst, src, bytes, cudaMemcpyDeviceToHost);
}

Status deviceSynchronize() {
  return onStream([](State& st) -> Status {
    NTK_CUDA_TRY(cudaStreamSynchronize(st.stream));
    return Status::kOk;
  });
}

Status forwardCudaDevice(const ForwardArgs& a) {
  tLastError.clear();
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  return onStream([&](State& st) -> Status {
    if (a.layout.rows() == 0) return Status::kOk;
    uint64_t units = 0, unitBytes = 0;
    if (unitBytesOverflow(a, &units, &unitBytes)) return Status::kOutOfMemory;
    // A device sampleValues is the per-sample buffer itself: the kernels write it, meanKernel
    // reads it, and nothing is copied.
    if (a.sampleValues) return launchForward(st, a, a.sampleValues);
    const Status s = ensure(st, st.kth, unitBytes);  // ordered on the stream
    if (s != Status::kOk) return s;
    return launchForward(st, a, static_cast<float*>(st.kth.ptr));
  });
}

Status backwardCudaDevice(const BackwardArgs& a) {
  tLastError.clear();
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  return onStream([&](State& st) { return launchBackward(a, st.stream); });
}

}  // namespace ntk
