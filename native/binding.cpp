// N-API surface. Arguments arrive already shaped by lib/ (which gives the friendly errors);
// the guards here are the cheap ones that keep a direct caller from crashing the process.
// Every entry point comes as `name` (sync) and `nameAsync` (Promise), both parsing with the
// same function and running the same kernel call.
//
// Memory the kernels touch (README, Reliability):
//   - sync calls work on the JS arrays in place: no JS runs until they return, so nothing can
//     detach or resize them meanwhile. A SharedArrayBuffer can still be written by another
//     thread, so positions that backward validates and then indexes with are copied first
//     when they live in one (validate-then-use must read the same bytes).
//   - async calls run on a libuv thread while JS goes on, and JS can detach (transfer) or
//     shrink an ArrayBuffer at any time: a Napi::Reference keeps the typed array object alive,
//     not its backing store. So an async call snapshots its inputs into memory it owns, the
//     kernel writes outputs it owns, and the results are copied into the JS outputs when the
//     promise settles; an output detached or resized by then rejects the promise with a
//     TypeError. The worker thread never dereferences JS memory.
// A worker_thread can be terminated while async calls are in flight: then creating or throwing
// a JS error fails, and without this node-addon-api would throw a C++ exception out of the
// completion callback (std::terminate, the whole process). With it the error is dropped.
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "core/noised_topk.h"
#include "napi_args.h"
#include "core/philox_normal.h"
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

// positions holds rows * nSample int32; past kMaxPositions (2^28, the limit lib/validate.ts
// gives as MAX_OUTPUT_ELEMENTS; a test holds the two equal) the call is refused before any allocation or length check.
void checkPositions(Napi::Env env, const char* op, uint64_t rows, uint32_t nSample) {
  if (rows > ntk::kMaxPositions || rows * nSample > ntk::kMaxPositions) {
    throwRange(env, op, "positions would hold rows * nSample = " +
                            (rows > UINT64_MAX / nSample ? std::string("more than 2^64") : std::to_string(rows * nSample)) +
                            " elements, above 2^28");
  }
}

// An output that shares memory with any other argument would be read after being written.
// The spans are the caller's memory, by address: two SharedArrayBuffer objects can map the
// same bytes (structuredClone, postMessage), so comparing buffers would miss them, and so
// would comparing against a private copy.
void checkNoOverlap(Napi::Env env, const char* op, const std::vector<Span>& outputs,
                    const std::vector<Span>& all) {
  for (const Span& out : outputs) {
    if (out.bytes == 0) continue;
    const auto* ob = static_cast<const uint8_t*>(out.begin);
    for (const Span& other : all) {
      if (other.begin == out.begin && other.name == out.name) continue;
      if (other.bytes == 0) continue;
      const auto* b = static_cast<const uint8_t*>(other.begin);
      if (ob < b + other.bytes && b < ob + out.bytes)
        throwRange(env, op, std::string(out.name) + " overlaps " + other.name);
    }
  }
}

// Memory owned by one call: snapshots of inputs, results before they reach JS.
class Owned {
 public:
  template <typename T>
  T* alloc(Napi::Env env, const char* op, uint64_t n) {
    if (n == 0) return nullptr;
    if (n > SIZE_MAX / sizeof(T)) throw Napi::Error::New(env, std::string(op) + ": out of memory");
    std::unique_ptr<unsigned char[]> block(new (std::nothrow) unsigned char[n * sizeof(T)]);
    if (!block) throw Napi::Error::New(env, std::string(op) + ": out of memory");
    T* p = reinterpret_cast<T*>(block.get());
    blocks_.push_back(std::move(block));
    return p;
  }
  template <typename T>
  const T* copy(Napi::Env env, const char* op, const T* src, uint64_t n) {
    T* p = alloc<T>(env, op, n);
    if (n) std::memcpy(p, src, n * sizeof(T));
    return p;
  }

 private:
  std::vector<std::unique_ptr<unsigned char[]>> blocks_;
};

// ---- forward ----
// forward(x, outer, d, inner, k, epsilon, nSample, noise | null, seedLo, seedHi, offset,
//         values, positions)
constexpr const char* kForward = "noisedTopK";


ntk::ForwardArgs parseForward(const Napi::CallbackInfo& info, Owned&) {
  Napi::Env env = info.Env();
  if (info.Length() < 13) throwType(env, kForward, "expected 13 arguments");
  const Napi::TypedArray x = typedArrayArg(info, 0, kForward, "x", napi_float32_array, "Float32Array");
  ntk::ForwardArgs a;
  a.layout.outer = static_cast<uint64_t>(integerArg(info, 1, kForward, "outer", 0, kMaxSafeInteger));
  a.layout.d = static_cast<uint64_t>(integerArg(info, 2, kForward, "d", 1, 2147483647.0));
  a.layout.inner = static_cast<uint64_t>(integerArg(info, 3, kForward, "inner", 0, kMaxSafeInteger));
  a.k = static_cast<uint32_t>(integerArg(info, 4, kForward, "k", 1, static_cast<double>(a.layout.d)));
  if (!info[5].IsNumber()) throwType(env, kForward, "epsilon must be a number");
  const double eps = info[5].As<Napi::Number>().DoubleValue();
  // Below 2^128 - 2^103 a double rounds to a finite float (Math.fround's rule, as lib/ checks);
  // testing in double keeps the cast below defined.
  if (!(eps >= 0 && eps < kFloatRoundsToInf)) throwRange(env, kForward, "epsilon must be finite and >= 0");
  a.epsilon = static_cast<float>(eps);
  a.nSample = static_cast<uint32_t>(integerArg(info, 6, kForward, "nSample", 1, 16777216.0));
  a.noise.seedLo = static_cast<uint32_t>(integerArg(info, 8, kForward, "seedLo", 0, 4294967295.0));
  a.noise.seedHi = static_cast<uint32_t>(integerArg(info, 9, kForward, "seedHi", 0, 4294967295.0));
  a.noise.offset = static_cast<uint32_t>(integerArg(info, 10, kForward, "offset", 0, 4294967295.0));
  const Napi::TypedArray values = typedArrayArg(info, 11, kForward, "values", napi_float32_array, "Float32Array");
  const Napi::TypedArray positions = typedArrayArg(info, 12, kForward, "positions", napi_int32_array, "Int32Array");

  const uint64_t od = a.layout.outer * a.layout.d;
  if ((a.layout.d && od / a.layout.d != a.layout.outer) ||
      (a.layout.inner && (od * a.layout.inner) / a.layout.inner != od))
    throwRange(env, kForward, "outer * d * inner overflows");
  const uint64_t size = a.layout.size(), rows = a.layout.rows();
  if (rows > 4294967295ull) throwRange(env, kForward, "more than 2^32 - 1 rows");
  checkPositions(env, kForward, rows, a.nSample);
  checkLength(env, kForward, "x", x.ElementLength(), size);
  checkLength(env, kForward, "values", values.ElementLength(), rows);
  checkLength(env, kForward, "positions", positions.ElementLength(), rows * a.nSample);

  std::vector<Span> spans;
  a.x = x.As<Napi::Float32Array>().Data();
  spans.push_back({a.x, x.ByteLength(), "x"});
  if (!info[7].IsNull() && !info[7].IsUndefined()) {
    const Napi::TypedArray noise = typedArrayArg(info, 7, kForward, "noise", napi_float32_array, "Float32Array");
    if (size > UINT64_MAX / a.nSample) throwRange(env, kForward, "x.length * nSample overflows");
    checkLength(env, kForward, "noise", noise.ElementLength(), size * a.nSample);
    a.noise.explicitNoise = noise.As<Napi::Float32Array>().Data();
    spans.push_back({a.noise.explicitNoise, noise.ByteLength(), "noise"});
  }
  a.values = values.As<Napi::Float32Array>().Data();
  a.positions = positions.As<Napi::Int32Array>().Data();
  const Span vs{a.values, values.ByteLength(), "values"}, ps{a.positions, positions.ByteLength(), "positions"};
  spans.push_back(vs);
  spans.push_back(ps);
  checkNoOverlap(env, kForward, {vs, ps}, spans);

  const char* why = nullptr;
  if (ntk::validate(a, &why) != ntk::Status::kOk) throwRange(env, kForward, why);
  return a;
}

// ---- backward ----
// backward(positions, rowScale, outer, d, inner, nSample, grad)
constexpr const char* kBackward = "noisedTopKBackward";

ntk::BackwardArgs parseBackward(const Napi::CallbackInfo& info, Owned& own) {
  Napi::Env env = info.Env();
  if (info.Length() < 7) throwType(env, kBackward, "expected 7 arguments");
  const Napi::TypedArray positions = typedArrayArg(info, 0, kBackward, "positions", napi_int32_array, "Int32Array");
  const Napi::TypedArray rowScale = typedArrayArg(info, 1, kBackward, "rowScale", napi_float32_array, "Float32Array");
  ntk::BackwardArgs a;
  a.layout.outer = static_cast<uint64_t>(integerArg(info, 2, kBackward, "outer", 0, kMaxSafeInteger));
  a.layout.d = static_cast<uint64_t>(integerArg(info, 3, kBackward, "d", 1, 2147483647.0));
  a.layout.inner = static_cast<uint64_t>(integerArg(info, 4, kBackward, "inner", 0, kMaxSafeInteger));
  a.nSample = static_cast<uint32_t>(integerArg(info, 5, kBackward, "nSample", 1, 16777216.0));
  const Napi::TypedArray grad = typedArrayArg(info, 6, kBackward, "grad", napi_float32_array, "Float32Array");
  const uint64_t od = a.layout.outer * a.layout.d;
  if ((a.layout.d && od / a.layout.d != a.layout.outer) ||
      (a.layout.inner && (od * a.layout.inner) / a.layout.inner != od))
    throwRange(env, kBackward, "outer * d * inner overflows");
  const uint64_t rows = a.layout.rows();
  checkPositions(env, kBackward, rows, a.nSample);
  checkLength(env, kBackward, "positions", positions.ElementLength(), rows * a.nSample);
  checkLength(env, kBackward, "rowScale", rowScale.ElementLength(), rows);
  checkLength(env, kBackward, "grad", grad.ElementLength(), a.layout.size());
  a.positions = positions.As<Napi::Int32Array>().Data();
  a.rowScale = rowScale.As<Napi::Float32Array>().Data();
  a.grad = grad.As<Napi::Float32Array>().Data();
  const Span gs{a.grad, grad.ByteLength(), "grad"};
  checkNoOverlap(env, kBackward, {gs},
                 {{a.positions, positions.ByteLength(), "positions"}, {a.rowScale, rowScale.ByteLength(), "rowScale"}, gs});
  // Another thread may write shared memory between the range check below and the kernel.
  // (Copied after the overlap check: the copy is private, the caller's grad may alias theirs.)
  if (isShared(env, positions)) a.positions = own.copy(env, kBackward, a.positions, rows * a.nSample);
  const int32_t* pos = a.positions;
  for (uint64_t j = 0; j < rows * a.nSample; ++j) {
    if (pos[j] < 0 || static_cast<uint64_t>(pos[j]) >= a.layout.d)
      throwRange(env, kBackward, "positions[" + std::to_string(j) + "] is outside [0, d)");
  }
  const char* why = nullptr;
  if (ntk::validate(a, &why) != ntk::Status::kOk) throwRange(env, kBackward, why);
  return a;
}

// ---- async snapshots ----
// Repoint every array of the call at owned memory; note where the outputs go back.
void snapshot(const Napi::CallbackInfo& info, ntk::ForwardArgs& a, Owned& own, std::vector<Output>& outs) {
  Napi::Env env = info.Env();
  const uint64_t size = a.layout.size(), rows = a.layout.rows();
  a.x = own.copy(env, kForward, a.x, size);
  if (a.noise.explicitNoise) a.noise.explicitNoise = own.copy(env, kForward, a.noise.explicitNoise, size * a.nSample);
  a.values = own.alloc<float>(env, kForward, rows);
  a.positions = own.alloc<int32_t>(env, kForward, rows * a.nSample);
  outs.push_back({Napi::Persistent(info[11].As<Napi::Object>()), a.values, rows, sizeof(float), "values"});
  outs.push_back({Napi::Persistent(info[12].As<Napi::Object>()), a.positions, rows * a.nSample, sizeof(int32_t), "positions"});
}

void snapshot(const Napi::CallbackInfo& info, ntk::BackwardArgs& a, Owned& own, std::vector<Output>& outs) {
  Napi::Env env = info.Env();
  const uint64_t rows = a.layout.rows();
  a.positions = own.copy(env, kBackward, a.positions, rows * a.nSample);
  a.rowScale = own.copy(env, kBackward, a.rowScale, rows);
  a.grad = own.alloc<float>(env, kBackward, a.layout.size());
  outs.push_back({Napi::Persistent(info[6].As<Napi::Object>()), a.grad, a.layout.size(), sizeof(float), "grad"});
}

// ---- sync / async plumbing ----
// An empty layout (a 0 in outer or inner) has nothing to read or write. The kernels are not
// called for it: they iterate over outer even when inner is 0, and outer may be 2^53 here.
template <typename Args>
ntk::Status runKernel(ntk::Status (*kernel)(const Args&), const Args& a) {
  if (a.layout.size() == 0) return ntk::Status::kOk;
  return kernel(a);
}

template <typename Args>
struct Job {
  Args args;
  Owned own;
  std::vector<Output> outs;
};

template <typename Args, ntk::Status (*Kernel)(const Args&)>
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, const char* op, std::unique_ptr<Job<Args>> job)
      : Napi::AsyncWorker(env, op), op_(op), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  // Touches only job_'s owned memory: JS may detach or resize its arrays meanwhile.
  void Execute() override { status_ = runKernel(Kernel, job_->args); }
  void OnOK() override {
    Napi::Env env = Env();
    if (status_ != ntk::Status::kOk) {
      deferred_.Reject(statusError(env, op_, status_).Value());
      return;
    }
    // All or nothing: check every output before writing any.
    std::vector<void*> dest;
    for (const Output& o : job_->outs) {
      size_t length = 0;
      void* data = nullptr;
      if (napi_get_typedarray_info(env, o.js.Value(), nullptr, &length, &data, nullptr, nullptr) != napi_ok ||
          length != o.length || (length != 0 && data == nullptr)) {
        deferred_.Reject(Napi::TypeError::New(env, std::string(op_) + ": " + o.name +
                                                       " was detached or resized while the call ran; the results are lost")
                             .Value());
        return;
      }
      dest.push_back(data);
    }
    for (size_t j = 0; j < dest.size(); ++j) {
      const Output& o = job_->outs[j];
      if (o.length) std::memmove(dest[j], o.data, o.length * o.elementSize);
    }
    deferred_.Resolve(env.Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  const char* op_;
  std::unique_ptr<Job<Args>> job_;
  ntk::Status status_ = ntk::Status::kOk;
  Napi::Promise::Deferred deferred_;
};

template <typename Args, Args (*Parse)(const Napi::CallbackInfo&, Owned&), ntk::Status (*Kernel)(const Args&)>
Napi::Value runSync(const Napi::CallbackInfo& info, const char* op) {
  try {
    Owned own;
    const Args args = Parse(info, own);
    const ntk::Status s = runKernel(Kernel, args);
    if (s != ntk::Status::kOk) throw statusError(info.Env(), op, s);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": out of memory");
  }
  return info.Env().Undefined();
}

template <typename Args, Args (*Parse)(const Napi::CallbackInfo&, Owned&), ntk::Status (*Kernel)(const Args&)>
Napi::Value runAsync(const Napi::CallbackInfo& info, const char* op) {
  try {
    auto job = std::make_unique<Job<Args>>();
    job->args = Parse(info, job->own);
    snapshot(info, job->args, job->own, job->outs);
    auto* worker = new KernelWorker<Args, Kernel>(info.Env(), op, std::move(job));
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": out of memory");
  }
}

Napi::Value Forward(const Napi::CallbackInfo& info) {
  return runSync<ntk::ForwardArgs, parseForward, ntk::forwardCpu>(info, kForward);
}
Napi::Value ForwardAsync(const Napi::CallbackInfo& info) {
  return runAsync<ntk::ForwardArgs, parseForward, ntk::forwardCpu>(info, kForward);
}
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return runSync<ntk::BackwardArgs, parseBackward, ntk::backwardCpu>(info, kBackward);
}
Napi::Value BackwardAsync(const Napi::CallbackInfo& info) {
  return runAsync<ntk::BackwardArgs, parseBackward, ntk::backwardCpu>(info, kBackward);
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const unsigned cap = ntk::maxCpuThreads();
  const Napi::Value v = info[0];
  if (v.IsNumber()) {
    const double n = v.As<Napi::Number>().DoubleValue();
    if (n > cap) {
      std::ostringstream got;
      if (std::isinf(n)) got << "Infinity";
      else got << std::setprecision(17) << n;
      throwRange(info.Env(), "setThreads",
                 "n must be at most " + std::to_string(cap) + " (4 x the CPUs this process may use, at least 8), got " +
                     got.str());
    }
  }
  ntk::setCpuThreads(static_cast<unsigned>(integerArg(info, 0, "setThreads", "n", 0, cap)));
  return info.Env().Undefined();
}
Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ntk::cpuThreads());
}

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

// Test hook: failNextChunks(n), the next n chunks of CPU kernel work fail out of memory.
Napi::Value FailNextChunks(const Napi::CallbackInfo& info) {
  ntk::cpuFailNextChunks(static_cast<unsigned>(integerArg(info, 0, "failNextChunks", "n", 0, 1e6)));
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
// Same arguments, parsing and snapshots as forward / backward; the kernels run on the GPU.
// A CUDA failure rejects with "op: cudaErrorName: description" (ntk::cudaLastError of the
// thread that ran the call).
constexpr const char* kForwardCuda = "noisedTopK (cuda)";
constexpr const char* kBackwardCuda = "noisedTopKBackward (cuda)";

std::string cudaMessage(const char* op, ntk::Status s) {
  const char* detail = ntk::cudaLastError();
  return std::string(op) + ": " + (detail && *detail ? detail : ntk::statusName(s));
}

template <typename Args, Args (*Parse)(const Napi::CallbackInfo&, Owned&), ntk::Status (*Kernel)(const Args&)>
Napi::Value runCudaSync(const Napi::CallbackInfo& info, const char* op) {
  try {
    Owned own;
    const Args args = Parse(info, own);
    const ntk::Status s = runKernel(Kernel, args);
    if (s == ntk::Status::kInvalidArgument) throw statusError(info.Env(), op, s);
    if (s != ntk::Status::kOk) throw Napi::Error::New(info.Env(), cudaMessage(op, s));
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": out of memory");
  }
  return info.Env().Undefined();
}

// KernelWorker whose rejection names the CUDA error, read on the worker thread.
template <typename Args, ntk::Status (*Kernel)(const Args&)>
class CudaKernelWorker : public KernelWorker<Args, Kernel> {
 public:
  CudaKernelWorker(Napi::Env env, const char* op, std::unique_ptr<Job<Args>> job)
      : KernelWorker<Args, Kernel>(env, op, std::move(job)), op_(op) {}

 protected:
  void Execute() override {
    KernelWorker<Args, Kernel>::Execute();
    const char* detail = ntk::cudaLastError();
    if (detail && *detail) this->SetError(std::string(op_) + ": " + detail);
  }

 private:
  const char* op_;
};

template <typename Args, Args (*Parse)(const Napi::CallbackInfo&, Owned&), ntk::Status (*Kernel)(const Args&)>
Napi::Value runCudaAsync(const Napi::CallbackInfo& info, const char* op) {
  try {
    auto job = std::make_unique<Job<Args>>();
    job->args = Parse(info, job->own);
    snapshot(info, job->args, job->own, job->outs);
    auto* worker = new CudaKernelWorker<Args, Kernel>(info.Env(), op, std::move(job));
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": out of memory");
  }
}

Napi::Value ForwardCuda(const Napi::CallbackInfo& info) {
  return runCudaSync<ntk::ForwardArgs, parseForward, ntk::forwardCuda>(info, kForwardCuda);
}
Napi::Value ForwardCudaAsync(const Napi::CallbackInfo& info) {
  return runCudaAsync<ntk::ForwardArgs, parseForward, ntk::forwardCuda>(info, kForwardCuda);
}
Napi::Value BackwardCuda(const Napi::CallbackInfo& info) {
  return runCudaSync<ntk::BackwardArgs, parseBackward, ntk::backwardCuda>(info, kBackwardCuda);
}
Napi::Value BackwardCudaAsync(const Napi::CallbackInfo& info) {
  return runCudaAsync<ntk::BackwardArgs, parseBackward, ntk::backwardCuda>(info, kBackwardCuda);
}
Napi::Value CudaUsable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ntk::cudaUsable()); }
// Why cudaUsable() is false ("cudaErrorName: description"), "" when it is true.
Napi::Value CudaProbeError(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ntk::cudaProbeError()); }
// Test hook: the selection path for (d, k, units), after NOISED_TOPK_CUDA_SELECT.
Napi::Value CudaSelectPath(const Napi::CallbackInfo& info) {
  const char* op = "cudaSelectPath";
  const auto d = static_cast<uint64_t>(integerArg(info, 0, op, "d", 1, 2147483647.0));
  const auto k = static_cast<uint32_t>(integerArg(info, 1, op, "k", 1, 2147483647.0));
  const auto units = static_cast<uint64_t>(integerArg(info, 2, op, "units", 0, kMaxSafeInteger));
  return Napi::String::New(info.Env(), ntk::cudaSelectPath(d, k, units));
}
#endif  // NOISED_TOPK_HAS_CUDA

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("forward", Napi::Function::New(env, Forward, "forward"));
  exports.Set("forwardAsync", Napi::Function::New(env, ForwardAsync, "forwardAsync"));
  exports.Set("backward", Napi::Function::New(env, Backward, "backward"));
  exports.Set("backwardAsync", Napi::Function::New(env, BackwardAsync, "backwardAsync"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("threads", Napi::Function::New(env, GetThreads, "threads"));
  exports.Set("maxThreads", Napi::Number::New(env, ntk::maxCpuThreads()));
  exports.Set("overlap", Napi::Function::New(env, Overlap, "overlap"));
  exports.Set("resources", Napi::Function::New(env, Resources, "resources"));
  exports.Set("failNextChunks", Napi::Function::New(env, FailNextChunks, "failNextChunks"));
  exports.Set("normals", Napi::Function::New(env, Normals, "normals"));
  exports.Set("streamVersion", Napi::Number::New(env, NTK_STREAM_VERSION));
  // The positions limit, exported so that a test holds lib/validate.ts's MAX_OUTPUT_ELEMENTS to it.
  exports.Set("maxPositions", Napi::Number::New(env, static_cast<double>(ntk::kMaxPositions)));
  exports.Set("cuda", Napi::Boolean::New(env, false));
  ntk_ops::init(env, exports);
  ntk_malloc::init(env, exports);
#ifdef NOISED_TOPK_HAS_CUDA
  exports.Set("cuda", Napi::Boolean::New(env, true));  // built with the CUDA kernels
  exports.Set("cudaUsable", Napi::Function::New(env, CudaUsable, "cudaUsable"));
  exports.Set("cudaProbeError", Napi::Function::New(env, CudaProbeError, "cudaProbeError"));
  exports.Set("cudaSelectPath", Napi::Function::New(env, CudaSelectPath, "cudaSelectPath"));
  exports.Set("forwardCuda", Napi::Function::New(env, ForwardCuda, "forwardCuda"));
  exports.Set("forwardCudaAsync", Napi::Function::New(env, ForwardCudaAsync, "forwardCudaAsync"));
  exports.Set("backwardCuda", Napi::Function::New(env, BackwardCuda, "backwardCuda"));
  exports.Set("backwardCudaAsync", Napi::Function::New(env, BackwardCudaAsync, "backwardCudaAsync"));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(noised_topk, Init)
