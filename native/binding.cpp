// N-API surface of the noised top-k. Each kernel entry point takes one call object, the
// ForwardCall / BackwardCall of lib/addon.ts, whose fields it reads by name into ntk::ForwardArgs
// / ntk::BackwardArgs; the arguments arrive already shaped by lib/ (which gives the friendly
// errors), so the checks here are only those that keep a direct caller from crashing the
// process (array kinds, lengths against the layout, the positions limit, outputs overlapping
// inputs), then ntk::validate once. Every entry point comes as `name` (sync) and `nameAsync`
// (Promise), both running through napi_job.h: one parse, one kernel call.
//
// Memory the kernels touch (docs/reliability.md): sync calls work on the JS arrays in place;
// async calls on owned snapshots (napi_job.h says why). A SharedArrayBuffer can still be
// written by another thread during a sync call, so positions that backward validates and then
// indexes with are copied first when they live in one (validate-then-use must read the same
// bytes).
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>

#include "core/constants.h"
#include "core/noised_topk.h"
#include "core/philox_normal.h"
#include "cpu/lazy_cpu.h"
#include "napi_job.h"
#ifdef NOISED_TOPK_HAS_CUDA
#include "core/noised_topk_cuda.h"
#endif

namespace ntk_ops {
void init(Napi::Env env, Napi::Object exports);  // binding_ops.cpp: topk, perturbedTopK
}
namespace ntk_malloc {
void init(Napi::Env env, Napi::Object exports);  // malloc_tuning.cpp: keeps freed output pages
}

namespace {

using namespace ntk_napi;

// positions holds rows * nSample int32; past kMaxPositions (2^28, native/constants.json) the
// call is refused before any allocation or length check.
void checkPositions(const CallFields& call, uint64_t rows, uint32_t nSample) {
  if (rows > ntk::kMaxPositions || rows * nSample > ntk::kMaxPositions) {
    call.rangeError("positions would hold rows * nSample = " +
                    (rows > UINT64_MAX / nSample ? std::string("more than 2^64") : std::to_string(rows * nSample)) +
                    " elements, above 2^28");
  }
}

// ---- forward: ForwardCall -> ntk::ForwardArgs ----
constexpr char kForward[] = "noisedTopK";

void parseForward(const CallFields& call, Job<ntk::ForwardArgs>& job) {
  ntk::ForwardArgs& a = job.args;
  a.layout = call.layoutOfUint32Rows();
  a.k = static_cast<uint32_t>(call.integer("k", 1, static_cast<double>(a.layout.d)));
  a.epsilon = call.epsilon("epsilon", false);
  a.nSample = static_cast<uint32_t>(call.integer("nSample", 1, ntk::kMaxSamples));
  a.noise.seedLo = call.uint32("seedLo");
  a.noise.seedHi = call.uint32("seedHi");
  a.noise.offset = call.uint32("offset");
  a.sampler = call.choice("sampler", ntk::kSamplerNames);
  const uint64_t size = a.layout.size(), rows = a.layout.rows();
  checkPositions(call, rows, a.nSample);
  job.input(call, "x", a.x, size);
  job.optionalInput(call, "noise", a.noise.explicitNoise, call.product(size, a.nSample));
  job.output(call, "values", a.values, rows);
  job.output(call, "positions", a.positions, rows * a.nSample);
  job.optionalOutput(call, "sampleValues", a.sampleValues, rows * a.nSample);
}

// ---- backward: BackwardCall -> ntk::BackwardArgs ----
constexpr char kBackward[] = "noisedTopKBackward";

void parseBackward(const CallFields& call, Job<ntk::BackwardArgs>& job) {
  ntk::BackwardArgs& a = job.args;
  a.layout = call.layout();
  a.nSample = static_cast<uint32_t>(call.integer("nSample", 1, ntk::kMaxSamples));
  const uint64_t rows = a.layout.rows();
  checkPositions(call, rows, a.nSample);
  job.input(call, "positions", a.positions, rows * a.nSample);
  job.input(call, "rowScale", a.rowScale, rows);
  job.output(call, "grad", a.grad, a.layout.size());
  job.recheck(call);  // the last getter has run: nothing read below may have been detached
  job.privateIfShared(a.positions);
  checkColumns(call, "positions", a.positions, rows * a.nSample, a.layout.d);
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const unsigned cap = ntk::maxCpuThreads();
  const Napi::Value v = info[0];
  if (v.IsNumber()) {
    const double n = v.As<Napi::Number>().DoubleValue();
    if (n > cap) {
      std::ostringstream got;
      if (std::isinf(n))
        got << "Infinity";
      else
        got << std::setprecision(17) << n;
      throwRange(info.Env(), "setThreads",
                 "n must be at most " + std::to_string(cap) + " (4 x the CPUs this process may use, at least 8), got " +
                     got.str());
    }
  }
  ntk::setCpuThreads(static_cast<unsigned>(integerArg(info, 0, "setThreads", "n", 0, cap)));
  return info.Env().Undefined();
}
Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ntk::cpuThreads()); }

// overlap(a, b): whether two ArrayBufferViews share a byte, by address. lib/ asks it where
// JavaScript cannot tell (two SharedArrayBuffer objects over the same memory). A detached or
// empty view shares nothing.
bool viewBytes(Napi::Env env, napi_value v, const uint8_t** data, size_t* bytes) {
  bool is = false;
  void* p = nullptr;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length = 0;
    if (napi_get_typedarray_info(env, v, &type, &length, &p, nullptr, nullptr) != napi_ok) return false;
    *bytes = length * Napi::TypedArray(env, v).ElementSize();
  } else if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, v, bytes, &p, nullptr, nullptr) != napi_ok) return false;
  } else {
    return false;
  }
  *data = static_cast<const uint8_t*>(p);
  if (!p) *bytes = 0;
  return true;
}

Napi::Value Overlap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t *a = nullptr, *b = nullptr;
  size_t na = 0, nb = 0;
  if (!viewBytes(env, info[0], &a, &na)) throwType(env, "overlap", "a must be an ArrayBufferView");
  if (!viewBytes(env, info[1], &b, &nb)) throwType(env, "overlap", "b must be an ArrayBufferView");
  return Napi::Boolean::New(env, na != 0 && nb != 0 && a < b + nb && b < a + na);
}

// firstNonFinite(x: Float32Array): the index of the first NaN or infinity, or -1. Reads the
// caller's memory in place (a scan: another thread writing a SharedArrayBuffer meanwhile can only
// change which answer is right, not make the read unsafe).
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throwType(env, "firstNonFinite", "x must be a Float32Array");
  const Napi::Float32Array x = info[0].As<Napi::Float32Array>();
  const uint64_t n = x.ElementLength();
  const uint64_t i = n ? ntk::firstNonFinite(x.Data(), n) : 0;
  return Napi::Number::New(env, i == n ? -1.0 : static_cast<double>(i));
}

// Test hook: failNextChunks(n), the next n chunks of CPU kernel work fail out of memory.
Napi::Value FailNextChunks(const Napi::CallbackInfo& info) {
  ntk::cpuFailNextChunks(static_cast<unsigned>(integerArg(info, 0, "failNextChunks", "n", 0, 1e6)));
  return info.Env().Undefined();
}

// Test hook: raises the lazy sampler's first threshold by n grid points (eps / 32 each) in the
// rows prepared from now on, so that its descent runs in most samples (0 turns it off). Not part
// of lib/'s API: test/lazy-exactness.test.ts calls it to hold the descent to the law.
Napi::Value LazyTestRaise(const Napi::CallbackInfo& info) {
  ntk::cpu::lazySetTestRaise(static_cast<int32_t>(integerArg(info, 0, "_lazyTestRaise", "n", 0, 4096)));
  return info.Env().Undefined();
}

// Test hook: { scratchBytes, workerThreads } (see noised_topk.h).
Napi::Value Resources(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("scratchBytes", Napi::Number::New(info.Env(), static_cast<double>(ntk::cpuScratchBytes())));
  o.Set("workerThreads", Napi::Number::New(info.Env(), ntk::cpuWorkerThreads()));
  return o;
}

// Test hook: the stream's raw words and normals, so lib/'s JS stream can be checked against
// the native one word for word.
// normals(seedLo, seedHi, offset, row, sample, group) -> [w0..w3, z0..z3]
Napi::Value Normals(const Napi::CallbackInfo& info) {
  const char* op = "normals";
  const auto lo = static_cast<uint32_t>(integerArg(info, 0, op, "seedLo", 0, 4294967295.0));
  const auto hi = static_cast<uint32_t>(integerArg(info, 1, op, "seedHi", 0, 4294967295.0));
  const auto off = static_cast<uint32_t>(integerArg(info, 2, op, "offset", 0, 4294967295.0));
  const auto row = static_cast<uint32_t>(integerArg(info, 3, op, "row", 0, 4294967295.0));
  const auto s = static_cast<uint32_t>(integerArg(info, 4, op, "sample", 0, 4294967295.0));
  const auto g = static_cast<uint32_t>(integerArg(info, 5, op, "group", 0, 4294967295.0));
  const ntk::Philox4 w = ntk::philox4x32_10(g, row, s, off, lo, hi);
  const ntk::Normal4 z = ntk::normal4(lo, hi, off, row, s, g);
  Napi::Array out = Napi::Array::New(info.Env(), 8);
  for (uint32_t j = 0; j < 4; ++j) {
    out.Set(j, Napi::Number::New(info.Env(), w.v[j]));
    out.Set(4 + j, Napi::Number::New(info.Env(), z.z[j]));
  }
  return out;
}

#ifdef NOISED_TOPK_HAS_CUDA
// ---- CUDA backend (native/cuda/) ----
// The same call objects and parsing as forward / backward; the kernels run on the GPU. A CUDA
// failure is "op: cudaErrorName: description" (ntk::cudaLastError of the thread that ran it).
constexpr char kForwardCuda[] = "noisedTopK (cuda)";
constexpr char kBackwardCuda[] = "noisedTopKBackward (cuda)";
Napi::Value CudaUsable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ntk::cudaUsable()); }
// Why cudaUsable() is false ("cudaErrorName: description"), "" when it is true.
Napi::Value CudaProbeError(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ntk::cudaProbeError());
}
// Test hook: the selection path for (d, k, units), after NOISED_TOPK_CUDA_SELECT.
Napi::Value CudaSelectPath(const Napi::CallbackInfo& info) {
  const char* op = "cudaSelectPath";
  const auto d = static_cast<uint64_t>(integerArg(info, 0, op, "d", 1, 2147483647.0));
  const auto k = static_cast<uint32_t>(integerArg(info, 1, op, "k", 1, 2147483647.0));
  const auto units = static_cast<uint64_t>(integerArg(info, 2, op, "units", 0, kMaxSafeInteger));
  return Napi::String::New(info.Env(), ntk::cudaSelectPath(d, k, units));
}
#endif  // NOISED_TOPK_HAS_CUDA

// Stops every call of this environment at its next chunk, now and later (lib/native.ts calls it
// on the process's 'exit', so that process.exit() does not wait for a long async call).
Napi::Value CancelPending(const Napi::CallbackInfo& info) {
  if (EnvData* ed = envData(info.Env())) ed->stopping->store(true);
  return info.Env().Undefined();
}

// Test hook: process-wide chunks run by the CPU kernels, and parallel jobs that stopped early.
Napi::Value CancelStats(const Napi::CallbackInfo& info) {
  const ntk::CancelStats st = ntk::cancelStats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("chunksRun", Napi::Number::New(info.Env(), static_cast<double>(st.chunksRun)));
  o.Set("jobsStopped", Napi::Number::New(info.Env(), static_cast<double>(st.jobsStopped)));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  makeEnvData(env);
  exportKernel<ntk::ForwardArgs, kForward, parseForward, ntk::forwardCpu>(env, exports, "forward");
  exportKernel<ntk::BackwardArgs, kBackward, parseBackward, ntk::backwardCpu>(env, exports, "backward");
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("threads", Napi::Function::New(env, GetThreads, "threads"));
  exports.Set("maxThreads", Napi::Number::New(env, ntk::maxCpuThreads()));
  exports.Set("overlap", Napi::Function::New(env, Overlap, "overlap"));
  exports.Set("firstNonFinite", Napi::Function::New(env, FirstNonFinite, "firstNonFinite"));
  exports.Set("resources", Napi::Function::New(env, Resources, "resources"));
  exports.Set("failNextChunks", Napi::Function::New(env, FailNextChunks, "failNextChunks"));
  exports.Set("normals", Napi::Function::New(env, Normals, "normals"));
  exports.Set("_lazyTestRaise", Napi::Function::New(env, LazyTestRaise, "_lazyTestRaise"));
  exports.Set("cancelPending", Napi::Function::New(env, CancelPending, "cancelPending"));
  exports.Set("cancelStats", Napi::Function::New(env, CancelStats, "cancelStats"));
  // The addon's copies of native/constants.json, which test/constants.test.ts holds equal to
  // lib/constants.ts (the loader refuses another stream version).
  exports.Set("streamVersion", Napi::Number::New(env, ntk::kStreamVersion));
  exports.Set("maxPositions", Napi::Number::New(env, static_cast<double>(ntk::kMaxPositions)));
  exports.Set("maxSamples", Napi::Number::New(env, ntk::kMaxSamples));
  exports.Set("cuda", Napi::Boolean::New(env, false));
  ntk_ops::init(env, exports);
  ntk_malloc::init(env, exports);
#ifdef NOISED_TOPK_HAS_CUDA
  exports.Set("cuda", Napi::Boolean::New(env, true));  // built with the CUDA kernels
  exports.Set("cudaUsable", Napi::Function::New(env, CudaUsable, "cudaUsable"));
  exports.Set("cudaProbeError", Napi::Function::New(env, CudaProbeError, "cudaProbeError"));
  exports.Set("cudaSelectPath", Napi::Function::New(env, CudaSelectPath, "cudaSelectPath"));
  exportKernel<ntk::ForwardArgs, kForwardCuda, parseForward, ntk::forwardCuda, noResult, ntk::cudaLastError>(
      env, exports, "forwardCuda");
  exportKernel<ntk::BackwardArgs, kBackwardCuda, parseBackward, ntk::backwardCuda, noResult, ntk::cudaLastError>(
      env, exports, "backwardCuda");
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(noised_topk, Init)
