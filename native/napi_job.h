// The one way every kernel entry point runs (binding.cpp and binding_ops.cpp): a parse function
// reads the call object into a Job (the kernel's Args, pointing at the caller's arrays, each
// array registered as an input or an output, its kind and length checked), the outputs are
// checked against every other array for overlap, ntk::validate runs once, then
//   - runSync calls the kernel on the JS arrays in place: no JS runs until it returns, so
//     nothing can detach or resize them meanwhile;
//   - runAsync first moves the job onto memory it owns (inputs copied, outputs allocated),
//     because JS can detach or shrink an ArrayBuffer while a libuv thread runs the kernel; the
//     worker thread makes no N-API call and never dereferences JS memory; when the promise
//     settles the owned outputs are copied into the JS ones, all or none (an output detached or
//     resized by then rejects with a TypeError).
// Both call the one pure core function, runKernel. A bad Status becomes an error that names the
// operation ("topk: out of memory"); a backend's own error text (the CUDA error) comes from
// Detail, read on the thread that ran the kernel.
//
// A worker_thread can be terminated while async calls are in flight: then creating or throwing
// a JS error fails, and without NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS node-addon-api would
// throw a C++ exception out of the completion callback (std::terminate, the whole process).
// With it the error is dropped. Define it before napi.h in every binding file.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "napi_args.h"

namespace ntk_napi {

// One array of a call: where it is in the caller's memory, and the Args field that points at
// it (repointed at owned memory by an async call).
struct CallArray {
  const char* name;
  const void* caller;  // the caller's memory, which overlap is decided on
  const void* data;    // what the kernel reads or writes: the caller's memory or a private copy
  size_t bytes;
  bool output;
  Napi::Value js;                      // the JS array (valid during the call only)
  const void* field;                   // the Args field's address, which names the array
  std::function<void(void*)> repoint;  // sets the Args field to other memory
};

// A JS output of an async call and the owned memory the kernel writes in its place.
struct OwnedOutput {
  Napi::ObjectReference js;
  const void* data;
  size_t bytes;
  const char* name;
};

// The typed-array kind of each element type a kernel array has.
template <typename T>
struct ArrayKind;
template <>
struct ArrayKind<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct ArrayKind<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};

template <typename Args>
struct Job {
  Args args;
  std::vector<CallArray> arrays;
  std::vector<std::unique_ptr<unsigned char[]>> owned;
  std::vector<OwnedOutput> outputs;  // async only
  bool nonFinite = false;            // topk's finite check (TopKArgs::nonFinite points here)

  // Reads the array field `name` of the call (a typed array of T's kind, `length` elements) and
  // points `field` at its memory.
  template <typename T>
  void input(const CallFields& call, const char* name, T*& field, uint64_t length) {
    add(call, name, readArray<T>(call, name), field, length, false);
  }
  template <typename T>
  void output(const CallFields& call, const char* name, T*& field, uint64_t length) {
    add(call, name, readArray<T>(call, name), field, length, true);
  }
  // An input that may be null (or absent): then `field` stays null.
  template <typename T>
  void optionalInput(const CallFields& call, const char* name, T*& field, uint64_t length) {
    addOptional(call, name, field, length, false);
  }
  // An output that may be null (or absent): then `field` stays null and the kernel skips it.
  // A given one is checked like any output (kind, length, overlap with every other array).
  template <typename T>
  void optionalOutput(const CallFields& call, const char* name, T*& field, uint64_t length) {
    addOptional(call, name, field, length, true);
  }

  template <typename T>
  void addOptional(const CallFields& call, const char* name, T*& field, uint64_t length, bool isOutput) {
    const Napi::Value v = call.get(name);
    if (v.IsNull() || v.IsUndefined()) return;
    if (!isArrayOf<T>(v))
      call.typeError(std::string(name) + " must be a " + ArrayKind<std::remove_const_t<T>>::name + " or null");
    add(call, name, v.As<Napi::TypedArray>(), field, length, isOutput);
  }

  // Memory owned by the job, n elements of T; std::bad_alloc where it cannot be had.
  template <typename T>
  T* allocate(uint64_t n) {
    if (n == 0) return nullptr;
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    owned.emplace_back(new unsigned char[n * sizeof(T)]);
    return reinterpret_cast<T*>(owned.back().get());
  }
  // A private copy of n elements at src (validate-then-use must read bytes no other thread writes).
  template <typename T>
  T* copy(const T* src, uint64_t n) {
    T* p = allocate<std::remove_const_t<T>>(n);
    if (n) std::memcpy(p, src, n * sizeof(T));
    return p;
  }

  // An output that shares memory with any other array would be read after being written. By
  // address: two SharedArrayBuffer objects can map the same bytes (structuredClone,
  // postMessage), so comparing buffers would miss them, and so would comparing private copies.
  void checkNoOverlap(const CallFields& call) const {
    for (const CallArray& out : arrays) {
      if (!out.output || out.bytes == 0) continue;
      const auto* ob = static_cast<const uint8_t*>(out.caller);
      for (const CallArray& other : arrays) {
        if (&other == &out || other.bytes == 0) continue;
        const auto* b = static_cast<const uint8_t*>(other.caller);
        if (ob < b + other.bytes && b < ob + out.bytes)
          call.rangeError(std::string(out.name) + " overlaps " + other.name);
      }
    }
  }

  // After the last getter of the call object: every array still has the memory and the length
  // it was registered with. A getter on a later field runs JS that can detach an array read
  // before it (ArrayBuffer.prototype.transfer, structuredClone with transfer) or shrink its
  // resizable buffer, freeing or cutting the memory recorded; nothing may read that memory. No JS
  // runs between this check and the kernel (sync) or the copies of own() (async). Call it before
  // anything reads an array's elements (privateIfShared, checkColumns); runSync and runAsync
  // call it again after the parse.
  void recheck(const CallFields& call) const {
    for (const CallArray& a : arrays) {
      napi_typedarray_type type = napi_int8_array;
      size_t length = 0;
      void* data = nullptr;
      const bool same =
          napi_get_typedarray_info(a.js.Env(), a.js, &type, &length, &data, nullptr, nullptr) == napi_ok &&
          length * elementBytes(type) == a.bytes && (a.bytes == 0 || data == a.caller);
      if (!same)
        call.typeError(std::string(a.name) +
                       " was detached or resized while the call object was read (a getter of a later field)");
    }
  }

  // Points field (an input already registered) at a private copy of its bytes where it lives in
  // a SharedArrayBuffer: an array checked element by element and then used must read bytes no
  // other thread writes meanwhile. (Overlap is still decided on the caller's memory.)
  template <typename T>
  void privateIfShared(T*& field) {
    for (CallArray& a : arrays) {
      if (a.field != static_cast<const void*>(&field) || !isShared(a.js.Env(), a.js.As<Napi::TypedArray>())) continue;
      auto* mine = allocate<unsigned char>(a.bytes);
      if (a.bytes) std::memcpy(mine, a.data, a.bytes);
      a.data = mine;
      a.repoint(mine);
    }
  }

  // Repoints every array at owned memory (inputs copied) and notes where outputs go back.
  void own() {
    for (CallArray& a : arrays) {
      auto* mine = allocate<unsigned char>(a.bytes);
      if (a.output)
        outputs.push_back({Napi::Persistent(a.js.As<Napi::Object>()), mine, a.bytes, a.name});
      else if (a.bytes)
        std::memcpy(mine, a.data, a.bytes);
      a.data = mine;
      a.repoint(mine);
    }
  }

 private:
  static size_t elementBytes(napi_typedarray_type t) {
    switch (t) {
      case napi_int8_array:
      case napi_uint8_array:
      case napi_uint8_clamped_array: return 1;
      case napi_int16_array:
      case napi_uint16_array: return 2;
      case napi_float64_array:
      case napi_bigint64_array:
      case napi_biguint64_array: return 8;
      default: return 4;
    }
  }
  template <typename T>
  static bool isArrayOf(const Napi::Value& v) {
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == ArrayKind<std::remove_const_t<T>>::type;
  }
  template <typename T>
  static Napi::TypedArray readArray(const CallFields& call, const char* name) {
    const Napi::Value v = call.get(name);
    if (!isArrayOf<T>(v)) call.typeError(std::string(name) + " must be a " + ArrayKind<std::remove_const_t<T>>::name);
    return v.As<Napi::TypedArray>();
  }
  template <typename T>
  void add(const CallFields& call, const char* name, const Napi::TypedArray& js, T*& field, uint64_t length,
           bool output) {
    if (resizableBacked(js.Env(), js))
      call.typeError(std::string(name) +
                     " is a view of a resizable or growable buffer, which the addon does not accept (pass a copy)");
    if (js.ElementLength() != length)
      call.rangeError(std::string(name) + " has length " + std::to_string(js.ElementLength()) + ", expected " +
                      std::to_string(length));
    void* data = nullptr;
    napi_get_typedarray_info(js.Env(), js, nullptr, nullptr, &data, nullptr, nullptr);
    field = static_cast<T*>(data);
    arrays.push_back(
        {name, data, data, js.ByteLength(), output, js, &field, [&field](void* p) { field = static_cast<T*>(p); }});
  }
};

// An empty layout (a 0 in outer or inner) has nothing to read or write. The kernels are not
// called for it: they iterate over outer even when inner is 0, and outer may be 2^53 here.
template <typename Args>
ntk::Status runKernel(ntk::Status (*kernel)(const Args&), const Args& a) {
  if (a.layout.size() == 0) return ntk::Status::kOk;
  return kernel(a);
}

// What an entry point returns (sync) or resolves to (async): undefined, or topk's finite flag.
template <typename Args>
Napi::Value noResult(Napi::Env env, const Job<Args>&) {
  return env.Undefined();
}
template <typename Args>
Napi::Value nonFiniteResult(Napi::Env env, const Job<Args>& job) {
  return Napi::Boolean::New(env, job.nonFinite);
}

// A call stopped by its environment (ntk::Cancel): its outputs are unspecified.
inline Napi::Error cancelledError(Napi::Env env, const char* op) {
  return Napi::Error::New(env, std::string(op) +
                                   ": cancelled: the environment is shutting down (the process exiting or the worker "
                                   "terminated) and the call stopped before its end; the outputs are unspecified");
}

// The poll of a sync call, on its JS thread between chunks: whether calling a no-op function
// fails, which it does once the environment is terminating (worker.terminate(): V8 refuses to run
// JavaScript). A handle scope per poll keeps a long call from piling up handles.
struct SyncPoll {
  napi_env env;
  napi_ref noop;
};
inline bool pollTerminating(void* p) {
  auto* sp = static_cast<SyncPoll*>(p);
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(sp->env, &scope) != napi_ok) return true;
  napi_value fn = nullptr, recv = nullptr, result = nullptr;
  const bool failed = napi_get_reference_value(sp->env, sp->noop, &fn) != napi_ok || fn == nullptr ||
                      napi_get_undefined(sp->env, &recv) != napi_ok ||
                      napi_call_function(sp->env, recv, fn, 0, nullptr, &result) != napi_ok;
  napi_close_handle_scope(sp->env, scope);
  return failed;
}

template <typename Args>
using Parse = void (*)(const CallFields&, Job<Args>&);
template <typename Args>
using Kernel = ntk::Status (*)(const Args&);
template <typename Args>
using Result = Napi::Value (*)(Napi::Env, const Job<Args>&);
using Detail = const char* (*)();

template <typename Args, Kernel<Args> K, Result<Args> R, Detail D>
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, const char* op, std::unique_ptr<Job<Args>> job)
      : Napi::AsyncWorker(env, op), op_(op), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {
    if (EnvData* ed = envData(env)) stopping_ = ed->stopping;
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  // Touches only job_'s owned memory.
  void Execute() override {
    ntk::Cancel cancel;
    cancel.shared = stopping_.get();
    {
      const ntk::CancelScope scope(&cancel);
      status_ = runKernel(K, job_->args);
    }
    cancelled_ = cancel.stopped();
    if (status_ != ntk::Status::kOk) detail_ = D();  // per-thread: read on the thread that ran it
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (cancelled_) {
      deferred_.Reject(cancelledError(env, op_).Value());
      return;
    }
    if (status_ != ntk::Status::kOk) {
      deferred_.Reject(statusError(env, op_, status_, detail_).Value());
      return;
    }
    // All or nothing: check every output before writing any.
    std::vector<void*> dest;
    for (const OwnedOutput& o : job_->outputs) {
      size_t length = 0;
      void* data = nullptr;
      if (napi_get_typedarray_info(env, o.js.Value(), nullptr, &length, &data, nullptr, nullptr) != napi_ok ||
          length * Napi::TypedArray(env, o.js.Value()).ElementSize() != o.bytes || (o.bytes != 0 && data == nullptr)) {
        deferred_.Reject(
            Napi::TypeError::New(env, std::string(op_) + ": " + o.name +
                                          " was detached or resized while the call ran; the results are lost")
                .Value());
        return;
      }
      dest.push_back(data);
    }
    for (size_t j = 0; j < dest.size(); ++j) {
      const OwnedOutput& o = job_->outputs[j];
      if (o.bytes) std::memmove(dest[j], o.data, o.bytes);
    }
    deferred_.Resolve(R(env, *job_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  const char* op_;
  std::unique_ptr<Job<Args>> job_;
  ntk::Status status_ = ntk::Status::kOk;
  bool cancelled_ = false;
  std::shared_ptr<std::atomic<bool>> stopping_;  // the environment's (EnvData::stopping)
  std::string detail_;
  Napi::Promise::Deferred deferred_;
};

// `Op` names the operation in every error ("noisedTopK", "topk (cuda)").
template <typename Args, const char* Op, Parse<Args> P, Kernel<Args> K, Result<Args> R, Detail D>
Napi::Value runSync(const Napi::CallbackInfo& info) {
  try {
    const CallFields call(info, Op);
    Job<Args> job;
    P(call, job);
    job.recheck(call);
    job.checkNoOverlap(call);
    validateOnce(call, job.args);
    // Cancellable between chunks: by the environment's stopping flag, and by this thread's poll.
    ntk::Cancel cancel;
    SyncPoll poll{info.Env(), nullptr};
    if (EnvData* ed = envData(info.Env())) {
      cancel.shared = ed->stopping.get();
      poll.noop = ed->noop;
      cancel.poll = pollTerminating;
      cancel.ctx = &poll;
    }
    ntk::Status s;
    {
      const ntk::CancelScope scope(&cancel);
      s = runKernel(K, job.args);
    }
    if (cancel.stopped()) throw cancelledError(info.Env(), Op);
    if (s != ntk::Status::kOk) throw statusError(info.Env(), Op, s, D());
    return R(info.Env(), job);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(Op) + ": out of memory");
  }
}

template <typename Args, const char* Op, Parse<Args> P, Kernel<Args> K, Result<Args> R, Detail D>
Napi::Value runAsync(const Napi::CallbackInfo& info) {
  try {
    const CallFields call(info, Op);
    auto job = std::make_unique<Job<Args>>();
    P(call, *job);
    job->recheck(call);
    job->checkNoOverlap(call);
    validateOnce(call, job->args);
    job->own();
    auto* worker = new KernelWorker<Args, K, R, D>(info.Env(), Op, std::move(job));
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(Op) + ": out of memory");
  }
}

// Exports `name` (sync) and `nameAsync` (a Promise): one parse, one kernel, two ways to run it.
template <typename Args, const char* Op, Parse<Args> P, Kernel<Args> K, Result<Args> R = noResult<Args>,
          Detail D = noDetail>
void exportKernel(Napi::Env env, Napi::Object exports, const std::string& name) {
  exports.Set(name, Napi::Function::New(env, runSync<Args, Op, P, K, R, D>, name));
  exports.Set(name + "Async", Napi::Function::New(env, runAsync<Args, Op, P, K, R, D>, name + "Async"));
}

}  // namespace ntk_napi
