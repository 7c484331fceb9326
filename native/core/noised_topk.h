// Host-facing API of the kernels. Plain C++ types only: the N-API layer and the CUDA
// launchers both include this header, and it must not pull in either of them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "constants.h"

namespace ntk {

enum class Status : int {
  kOk = 0,
  kInvalidArgument,
  kOutOfMemory,
  kDeviceUnavailable,
  kDeviceError,
};

const char* statusName(Status s);

// x viewed as [outer, d, inner], the reduced dim in the middle. A "row" is one slice along d:
// row = o * inner + i, element (row, column c) sits at x[(o * d + c) * inner + i].
struct Layout {
  uint64_t outer = 0;
  uint64_t d = 0;
  uint64_t inner = 0;
  uint64_t rows() const { return outer * inner; }
  uint64_t size() const { return outer * d * inner; }
};

// Where the noise comes from. With explicit noise, z(row, s, c) is
// noise[((o * d + c) * inner + i) * nSample + s] (pytopk's x.shape + [S] layout); otherwise it
// is the Philox stream keyed by (seedLo, seedHi) at call offset `offset`.
struct NoiseSpec {
  const float* explicitNoise = nullptr;
  uint32_t seedLo = 0;
  uint32_t seedHi = 0;
  uint32_t offset = 0;
};

// The seeded samplers, by the index of their names in kSamplerNames ('dense', 'lazy': the
// strings of ForwardCall.sampler in lib/addon.ts).
constexpr uint32_t kSamplerDense = 0;
constexpr uint32_t kSamplerLazy = 1;
constexpr const char* kSamplerNames[] = {"dense", "lazy"};

struct ForwardArgs {
  const float* x = nullptr;
  Layout layout;
  uint32_t k = 1;  // 1 = largest
  float epsilon = 0.0f;
  uint32_t nSample = 1;
  NoiseSpec noise;
  // Seeded sampler (ignored with explicit noise): kSamplerDense (every normal of the stream) or
  // kSamplerLazy (native/core/lazy_sampler.h: noise only where it can matter).
  uint32_t sampler = kSamplerDense;
  float* values = nullptr;       // [rows]: mean over samples of the k-th largest
  int32_t* positions = nullptr;  // [rows, nSample]: column of the k-th largest per sample
  // Optional, [rows, nSample] like positions: each sample's k-th value, the very floats
  // values[row] is the mean of (summed in sample order from 0.0f, then divided by nSample), so
  // the caller can measure the Monte-Carlo error. null: not written.
  float* sampleValues = nullptr;
};

// d/dx of sum(values * rowScale): grad(row, c) = (count of samples that selected c / nSample)
// * rowScale[row] for every column c, count 0 included (so 0 * rowScale: -0 or NaN where
// rowScale is negative or non-finite, as pytopk's dense mask gives). Writes every element.
struct BackwardArgs {
  const int32_t* positions = nullptr;
  const float* rowScale = nullptr;  // [rows]
  Layout layout;
  uint32_t nSample = 1;
  float* grad = nullptr;  // [outer, d, inner]
};

// Whether outer * d * inner overflows 64 bits (then rows() and size() are meaningless).
bool layoutOverflows(const Layout& l);

// The index of the first NaN or infinity in x[0, n), or n when every element is finite. lib/
// asks it before a call (a JavaScript pass over x costs a large part of a small call).
uint64_t firstNonFinite(const float* x, uint64_t n);

// Checks shared by every backend (native/core/validate.cpp; kMaxSamples, kMaxPositions from
// constants.h). Returns kInvalidArgument with a message in *why.
Status validate(const ForwardArgs& a, const char** why);
Status validate(const BackwardArgs& a, const char** why);

Status forwardCpu(const ForwardArgs& a);
Status backwardCpu(const BackwardArgs& a);

// Cooperative cancellation of the CPU kernels (issue 18, item 12). Every CPU entry point splits
// its rows into chunks (the thread pool's parallelFor); a Cancel installed on the calling thread
// with CancelScope for the kernel call is looked at before every chunk, on every thread of the
// call: once `requested` or `*shared` is true the chunks left are skipped (the outputs are then
// unspecified) and stopped() says so to the caller. `poll`, when set, is called by the calling
// thread only, before every kPollEvery-th chunk it takes, and a true answer sets `requested`.
// The kernels and the pool know nothing of why (the binding: a worker being terminated, the
// environment being torn down, the process exiting).
struct Cancel {
  std::atomic<bool> requested{false};
  const std::atomic<bool>* shared = nullptr;
  bool (*poll)(void* ctx) = nullptr;
  void* ctx = nullptr;
  bool stopped() const {
    return requested.load(std::memory_order_relaxed) || (shared && shared->load(std::memory_order_relaxed));
  }
};
constexpr unsigned kPollEvery = 8;

// Installs c for the kernel calls this thread makes until the scope ends (scopes nest).
class CancelScope {
 public:
  explicit CancelScope(Cancel* c);
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  Cancel* prev_;
};

// Process-wide counts (a test hook): chunks run, and parallel jobs that skipped chunks.
struct CancelStats {
  uint64_t chunksRun;
  uint64_t jobsStopped;
};
CancelStats cancelStats();

// Worker threads used by the CPU kernels (1 = the calling thread only, 0 = one per CPU).
// Results do not depend on it. n above maxCpuThreads() is clamped (the binding refuses it);
// lowering it stops the pool's extra OS threads.
void setCpuThreads(unsigned n);
unsigned cpuThreads();
unsigned maxCpuThreads();  // 4 x the CPUs this process may run on, at least 8

// Per-thread scratch of the CPU kernels (about 12 bytes x the row length) is kept between
// calls up to this many bytes per thread, so that calls on ordinary rows allocate nothing;
// a thread whose scratch grew past it returns it when its part of the call ends.
constexpr uint64_t kScratchKeepBytes = uint64_t{4} << 20;

// Test hooks: scratch bytes held by every thread's kernels now (between calls: at most
// kScratchKeepBytes per thread that ever ran one), and the pool's worker threads alive now.
uint64_t cpuScratchBytes();
unsigned cpuWorkerThreads();
// Test hook: the next n chunks of CPU kernel work fail as if a scratch allocation had (the
// out-of-memory path, on whichever pool threads run them).
void cpuFailNextChunks(unsigned n);

}  // namespace ntk
