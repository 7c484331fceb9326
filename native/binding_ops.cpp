// N-API surface of the top-k ops (native/core/ops.h): topk, perturbedTopK and its backward.
// The same rules as binding.cpp: arguments arrive shaped by lib/ (which gives the friendly
// errors) and the cheap guards here keep a direct caller from crashing the process; each
// entry point comes as `name` (sync, on the JS arrays in place) and `nameAsync` (a Promise),
// both parsing with one function and calling one kernel function. An async call snapshots its
// inputs into memory it owns, the kernel writes owned outputs on a libuv thread (no N-API call
// there), and the results are copied into the JS outputs when the promise settles (a detached
// or resized output then rejects with a TypeError). A bad Status becomes an error that names
// the operation ("topk: out of memory").
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "core/ops.h"
#include "napi_args.h"
#ifdef NOISED_TOPK_HAS_CUDA
#include "core/ops_cuda.h"
#endif

namespace ntk_ops {
void init(Napi::Env env, Napi::Object exports);
}

namespace {

using namespace ntk_napi;

bool boolArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (!info[i].IsBoolean()) throwType(info.Env(), op, std::string(name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

float epsArg(const Napi::CallbackInfo& info, size_t i, const char* op, bool positive) {
  if (!info[i].IsNumber()) throwType(info.Env(), op, "epsilon must be a number");
  const double e = info[i].As<Napi::Number>().DoubleValue();
  if (!(e >= 0 && e < kFloatRoundsToInf) || (positive && !(static_cast<float>(e) > 0.0f)))
    throwRange(info.Env(), op, positive ? "epsilon must be finite and > 0" : "epsilon must be finite and >= 0");
  return static_cast<float>(e);
}

ntk::Layout layoutArgs(const Napi::CallbackInfo& info, size_t at, const char* op) {
  ntk::Layout l;
  l.outer = static_cast<uint64_t>(integerArg(info, at, op, "outer", 0, kMaxSafeInteger));
  l.d = static_cast<uint64_t>(integerArg(info, at + 1, op, "d", 1, 2147483647.0));
  l.inner = static_cast<uint64_t>(integerArg(info, at + 2, op, "inner", 0, kMaxSafeInteger));
  const uint64_t od = l.outer * l.d;
  if ((l.d && od / l.d != l.outer) || (l.inner && (od * l.inner) / l.inner != od))
    throwRange(info.Env(), op, "outer * d * inner overflows");
  if (l.rows() > 4294967295ull) throwRange(info.Env(), op, "more than 2^32 - 1 rows");
  return l;
}

uint64_t product(Napi::Env env, const char* op, uint64_t a, uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) throwRange(env, op, "sizes overflow");
  return a * b;
}

// An output that shares memory with another argument would be read after being written.
void checkNoOverlap(Napi::Env env, const char* op, const std::vector<Span>& spans, size_t firstOutput) {
  for (size_t o = firstOutput; o < spans.size(); ++o) {
    const Span& out = spans[o];
    if (out.bytes == 0) continue;
    const auto* ob = static_cast<const uint8_t*>(out.begin);
    for (size_t j = 0; j < spans.size(); ++j) {
      if (j == o || spans[j].bytes == 0) continue;
      const auto* b = static_cast<const uint8_t*>(spans[j].begin);
      if (ob < b + spans[j].bytes && b < ob + out.bytes) throwRange(env, op, std::string(out.name) + " overlaps " + spans[j].name);
    }
  }
}

// Memory owned by one call.
class Owned {
 public:
  template <typename T>
  T* alloc(uint64_t n) {
    if (n == 0) return nullptr;
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    blocks_.emplace_back(new unsigned char[n * sizeof(T)]);
    return reinterpret_cast<T*>(blocks_.back().get());
  }
  template <typename T>
  T* copy(const T* src, uint64_t n) {
    T* p = alloc<T>(n);
    if (n) std::memcpy(p, src, n * sizeof(T));
    return p;
  }

 private:
  std::vector<std::unique_ptr<unsigned char[]>> blocks_;
};

// One parsed call: the kernel's arguments, the memory they point into when owned, and (async)
// where the owned outputs go back.
template <typename Args>
struct Job {
  Args args;
  Owned own;
  std::vector<Output> outs;
  bool nonFinite = false;  // topk's finite check, returned to JS
};

// ---- topk(x, outer, d, inner, k, largest, sorted, values, indices, checkFinite?) ----
// Returns true when checkFinite and x holds a NaN or an infinity (the outputs are then garbage):
// lib/ then rescans x to name the first such element in its RangeError.
constexpr const char* kTopK = "topk";

void parseTopK(const Napi::CallbackInfo& info, Job<ntk::TopKArgs>& job, bool async) {
  Napi::Env env = info.Env();
  if (info.Length() < 9) throwType(env, kTopK, "expected 9 arguments");
  const Napi::TypedArray x = typedArrayArg(info, 0, kTopK, "x", napi_float32_array, "Float32Array");
  ntk::TopKArgs& a = job.args;
  a.layout = layoutArgs(info, 1, kTopK);
  a.k = static_cast<uint32_t>(integerArg(info, 4, kTopK, "k", 1, static_cast<double>(a.layout.d)));
  a.largest = boolArg(info, 5, kTopK, "largest");
  a.sorted = boolArg(info, 6, kTopK, "sorted");
  const Napi::TypedArray values = typedArrayArg(info, 7, kTopK, "values", napi_float32_array, "Float32Array");
  const Napi::TypedArray indices = typedArrayArg(info, 8, kTopK, "indices", napi_int32_array, "Int32Array");
  a.checkFinite = info.Length() > 9 && !info[9].IsUndefined() && boolArg(info, 9, kTopK, "checkFinite");
  a.nonFinite = &job.nonFinite;
  const uint64_t outLen = product(env, kTopK, a.layout.outer * a.layout.inner, a.k);
  checkLength(env, kTopK, "x", x.ElementLength(), a.layout.size());
  checkLength(env, kTopK, "values", values.ElementLength(), outLen);
  checkLength(env, kTopK, "indices", indices.ElementLength(), outLen);
  a.x = x.As<Napi::Float32Array>().Data();
  a.values = values.As<Napi::Float32Array>().Data();
  a.indices = indices.As<Napi::Int32Array>().Data();
  checkNoOverlap(env, kTopK,
                 {{a.x, x.ByteLength(), "x"}, {a.values, values.ByteLength(), "values"}, {a.indices, indices.ByteLength(), "indices"}},
                 1);
  const char* why = nullptr;
  if (ntk::validate(a, &why) != ntk::Status::kOk) throwRange(env, kTopK, why);
  if (async) {
    a.x = job.own.copy(a.x, a.layout.size());
    a.values = job.own.alloc<float>(outLen);
    a.indices = job.own.alloc<int32_t>(outLen);
    job.outs.push_back({Napi::Persistent(info[7].As<Napi::Object>()), a.values, outLen, sizeof(float), "values"});
    job.outs.push_back({Napi::Persistent(info[8].As<Napi::Object>()), a.indices, outLen, sizeof(int32_t), "indices"});
  }
}

// ---- perturbedTopK(x, outer, d, inner, k, epsilon, nSample, seedLo, seedHi, offset, mask, indices) ----
constexpr const char* kPerturbed = "perturbedTopK";

void streamArgs(const Napi::CallbackInfo& info, size_t at, const char* op, uint32_t& lo, uint32_t& hi, uint32_t& off) {
  lo = static_cast<uint32_t>(integerArg(info, at, op, "seedLo", 0, 4294967295.0));
  hi = static_cast<uint32_t>(integerArg(info, at + 1, op, "seedHi", 0, 4294967295.0));
  off = static_cast<uint32_t>(integerArg(info, at + 2, op, "offset", 0, 4294967295.0));
}

void parsePerturbed(const Napi::CallbackInfo& info, Job<ntk::PerturbedForwardArgs>& job, bool async) {
  Napi::Env env = info.Env();
  if (info.Length() < 12) throwType(env, kPerturbed, "expected 12 arguments");
  const Napi::TypedArray x = typedArrayArg(info, 0, kPerturbed, "x", napi_float32_array, "Float32Array");
  ntk::PerturbedForwardArgs& a = job.args;
  a.layout = layoutArgs(info, 1, kPerturbed);
  a.k = static_cast<uint32_t>(integerArg(info, 4, kPerturbed, "k", 1, static_cast<double>(a.layout.d)));
  a.epsilon = epsArg(info, 5, kPerturbed, false);
  a.nSample = static_cast<uint32_t>(integerArg(info, 6, kPerturbed, "nSample", 1, 16777216.0));
  streamArgs(info, 7, kPerturbed, a.seedLo, a.seedHi, a.offset);
  const Napi::TypedArray mask = typedArrayArg(info, 10, kPerturbed, "mask", napi_float32_array, "Float32Array");
  const Napi::TypedArray indices = typedArrayArg(info, 11, kPerturbed, "indices", napi_int32_array, "Int32Array");
  const uint64_t nIdx = product(env, kPerturbed, product(env, kPerturbed, a.layout.rows(), a.nSample), a.k);
  checkLength(env, kPerturbed, "x", x.ElementLength(), a.layout.size());
  checkLength(env, kPerturbed, "mask", mask.ElementLength(), a.layout.size());
  checkLength(env, kPerturbed, "indices", indices.ElementLength(), nIdx);
  a.x = x.As<Napi::Float32Array>().Data();
  a.mask = mask.As<Napi::Float32Array>().Data();
  a.indices = indices.As<Napi::Int32Array>().Data();
  checkNoOverlap(env, kPerturbed,
                 {{a.x, x.ByteLength(), "x"}, {a.mask, mask.ByteLength(), "mask"}, {a.indices, indices.ByteLength(), "indices"}}, 1);
  const char* why = nullptr;
  if (ntk::validate(a, &why) != ntk::Status::kOk) throwRange(env, kPerturbed, why);
  if (async) {
    a.x = job.own.copy(a.x, a.layout.size());
    a.mask = job.own.alloc<float>(a.layout.size());
    a.indices = job.own.alloc<int32_t>(nIdx);
    job.outs.push_back({Napi::Persistent(info[10].As<Napi::Object>()), a.mask, a.layout.size(), sizeof(float), "mask"});
    job.outs.push_back({Napi::Persistent(info[11].As<Napi::Object>()), a.indices, nIdx, sizeof(int32_t), "indices"});
  }
}

// ---- perturbedTopKBackward(indices, grad, outer, d, inner, k, epsilon, nSample, seedLo, seedHi, offset, gradX) ----
constexpr const char* kPerturbedBackward = "perturbedTopKBackward";

void parsePerturbedBackward(const Napi::CallbackInfo& info, Job<ntk::PerturbedBackwardArgs>& job, bool async) {
  Napi::Env env = info.Env();
  const char* op = kPerturbedBackward;
  if (info.Length() < 12) throwType(env, op, "expected 12 arguments");
  const Napi::TypedArray indices = typedArrayArg(info, 0, op, "indices", napi_int32_array, "Int32Array");
  const Napi::TypedArray grad = typedArrayArg(info, 1, op, "grad", napi_float32_array, "Float32Array");
  ntk::PerturbedBackwardArgs& a = job.args;
  a.layout = layoutArgs(info, 2, op);
  a.k = static_cast<uint32_t>(integerArg(info, 5, op, "k", 1, static_cast<double>(a.layout.d)));
  a.epsilon = epsArg(info, 6, op, true);
  a.nSample = static_cast<uint32_t>(integerArg(info, 7, op, "nSample", 1, 16777216.0));
  streamArgs(info, 8, op, a.seedLo, a.seedHi, a.offset);
  const Napi::TypedArray gradX = typedArrayArg(info, 11, op, "gradX", napi_float32_array, "Float32Array");
  const uint64_t nIdx = product(env, op, product(env, op, a.layout.rows(), a.nSample), a.k);
  checkLength(env, op, "indices", indices.ElementLength(), nIdx);
  checkLength(env, op, "grad", grad.ElementLength(), a.layout.size());
  checkLength(env, op, "gradX", gradX.ElementLength(), a.layout.size());
  a.indices = indices.As<Napi::Int32Array>().Data();
  a.grad = grad.As<Napi::Float32Array>().Data();
  a.gradX = gradX.As<Napi::Float32Array>().Data();
  checkNoOverlap(env, op,
                 {{a.indices, indices.ByteLength(), "indices"}, {a.grad, grad.ByteLength(), "grad"}, {a.gradX, gradX.ByteLength(), "gradX"}},
                 2);
  // Checked indices must be the ones used: copy them first when another thread can write them
  // (a SharedArrayBuffer) or when the call is async (JS may change them meanwhile).
  if (async || isShared(env, indices)) a.indices = job.own.copy(a.indices, nIdx);
  for (uint64_t j = 0; j < nIdx; ++j)
    if (a.indices[j] < 0 || static_cast<uint64_t>(a.indices[j]) >= a.layout.d)
      throwRange(env, op, "indices[" + std::to_string(j) + "] is outside [0, d)");
  const char* why = nullptr;
  if (ntk::validate(a, &why) != ntk::Status::kOk) throwRange(env, op, why);
  if (async) {
    a.grad = job.own.copy(a.grad, a.layout.size());
    a.gradX = job.own.alloc<float>(a.layout.size());
    job.outs.push_back({Napi::Persistent(info[11].As<Napi::Object>()), a.gradX, a.layout.size(), sizeof(float), "gradX"});
  }
}

// ---- sync / async plumbing (one parse, one kernel call) ----
template <typename Args, ntk::Status (*Kernel)(const Args&), const char* (*Detail)() = noDetail>
class Worker : public Napi::AsyncWorker {
 public:
  Worker(Napi::Env env, const char* op, std::unique_ptr<Job<Args>> job)
      : Napi::AsyncWorker(env, op), op_(op), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  // Touches only job_'s owned memory.
  void Execute() override {
    status_ = Kernel(job_->args);
    if (status_ != ntk::Status::kOk) detail_ = Detail();  // per-thread: read on the thread that ran it
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (status_ != ntk::Status::kOk) {
      const std::string msg = std::string(op_) + ": " + (detail_.empty() ? ntk::statusName(status_) : detail_);
      deferred_.Reject(status_ == ntk::Status::kInvalidArgument ? Napi::RangeError::New(env, msg).Value()
                                                                : Napi::Error::New(env, msg).Value());
      return;
    }
    std::vector<void*> dest;
    for (const Output& o : job_->outs) {
      size_t length = 0;
      void* data = nullptr;
      if (napi_get_typedarray_info(env, o.js.Value(), nullptr, &length, &data, nullptr, nullptr) != napi_ok ||
          length != o.length || (length != 0 && data == nullptr)) {
        deferred_.Reject(
            Napi::TypeError::New(env, std::string(op_) + ": " + o.name + " was detached or resized while the call ran; the results are lost")
                .Value());
        return;
      }
      dest.push_back(data);
    }
    for (size_t j = 0; j < dest.size(); ++j) {
      const Output& o = job_->outs[j];
      if (o.length) std::memmove(dest[j], o.data, o.length * o.elementSize);
    }
    deferred_.Resolve(Napi::Boolean::New(env, job_->nonFinite));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  const char* op_;
  std::unique_ptr<Job<Args>> job_;
  ntk::Status status_ = ntk::Status::kOk;
  std::string detail_;
  Napi::Promise::Deferred deferred_;
};

template <typename Args, void (*Parse)(const Napi::CallbackInfo&, Job<Args>&, bool), ntk::Status (*Kernel)(const Args&),
          const char* (*Detail)() = noDetail>
Napi::Value runSync(const Napi::CallbackInfo& info, const char* op) {
  try {
    Job<Args> job;
    Parse(info, job, false);
    const ntk::Status s = Kernel(job.args);
    if (s != ntk::Status::kOk) throw statusError(info.Env(), op, s, Detail);
    return Napi::Boolean::New(info.Env(), job.nonFinite);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": out of memory");
  }
}

template <typename Args, void (*Parse)(const Napi::CallbackInfo&, Job<Args>&, bool), ntk::Status (*Kernel)(const Args&),
          const char* (*Detail)() = noDetail>
Napi::Value runAsync(const Napi::CallbackInfo& info, const char* op) {
  try {
    auto job = std::make_unique<Job<Args>>();
    Parse(info, *job, true);
    auto* worker = new Worker<Args, Kernel, Detail>(info.Env(), op, std::move(job));
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": out of memory");
  }
}

Napi::Value TopK(const Napi::CallbackInfo& info) { return runSync<ntk::TopKArgs, parseTopK, ntk::topkCpu>(info, kTopK); }
Napi::Value TopKAsync(const Napi::CallbackInfo& info) { return runAsync<ntk::TopKArgs, parseTopK, ntk::topkCpu>(info, kTopK); }
Napi::Value Perturbed(const Napi::CallbackInfo& info) {
  return runSync<ntk::PerturbedForwardArgs, parsePerturbed, ntk::perturbedTopKForwardCpu>(info, kPerturbed);
}
Napi::Value PerturbedAsync(const Napi::CallbackInfo& info) {
  return runAsync<ntk::PerturbedForwardArgs, parsePerturbed, ntk::perturbedTopKForwardCpu>(info, kPerturbed);
}
Napi::Value PerturbedBackward(const Napi::CallbackInfo& info) {
  return runSync<ntk::PerturbedBackwardArgs, parsePerturbedBackward, ntk::perturbedTopKBackwardCpu>(info, kPerturbedBackward);
}
Napi::Value PerturbedBackwardAsync(const Napi::CallbackInfo& info) {
  return runAsync<ntk::PerturbedBackwardArgs, parsePerturbedBackward, ntk::perturbedTopKBackwardCpu>(info, kPerturbedBackward);
}

#ifdef NOISED_TOPK_HAS_CUDA
// topk on the GPU: the same arguments and parse as topk; k <= 32 (lib/ checks it first).
constexpr const char* kTopKCuda = "topk (cuda)";
Napi::Value TopKCuda(const Napi::CallbackInfo& info) {
  return runSync<ntk::TopKArgs, parseTopK, ntk::topkCuda, ntk::opsCudaLastError>(info, kTopKCuda);
}
Napi::Value TopKCudaAsync(const Napi::CallbackInfo& info) {
  return runAsync<ntk::TopKArgs, parseTopK, ntk::topkCuda, ntk::opsCudaLastError>(info, kTopKCuda);
}
#endif

}  // namespace

namespace ntk_ops {
// Called from binding.cpp's Init.
void init(Napi::Env env, Napi::Object exports) {
  exports.Set("topk", Napi::Function::New(env, TopK, "topk"));
  exports.Set("topkAsync", Napi::Function::New(env, TopKAsync, "topkAsync"));
  exports.Set("perturbedTopK", Napi::Function::New(env, Perturbed, "perturbedTopK"));
  exports.Set("perturbedTopKAsync", Napi::Function::New(env, PerturbedAsync, "perturbedTopKAsync"));
  exports.Set("perturbedTopKBackward", Napi::Function::New(env, PerturbedBackward, "perturbedTopKBackward"));
  exports.Set("perturbedTopKBackwardAsync", Napi::Function::New(env, PerturbedBackwardAsync, "perturbedTopKBackwardAsync"));
#ifdef NOISED_TOPK_HAS_CUDA
  exports.Set("topkCuda", Napi::Function::New(env, TopKCuda, "topkCuda"));
  exports.Set("topkCudaAsync", Napi::Function::New(env, TopKCudaAsync, "topkCudaAsync"));
#endif
}
}  // namespace ntk_ops
