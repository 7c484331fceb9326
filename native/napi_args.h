// What both N-API files (binding.cpp: the noised top-k; binding_ops.cpp: the top-k ops) share
// to read a call: each entry point takes one call object (lib/addon.ts declares every one) and
// reads its fields by name, once each, with errors that name the operation and the field; the
// spans of the caller's memory; and the turn of a kernel Status into a JS error. Only the
// binding layer includes it: the kernels know nothing of N-API.
#pragma once

#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/noised_topk.h"

namespace ntk_napi {

constexpr double kMaxSafeInteger = 9007199254740991.0;
constexpr double kMaxUint32 = 4294967295.0;
constexpr double kMaxInt32 = 2147483647.0;
// Below 2^128 - 2^103 a double rounds to a finite float (Math.fround's rule, as lib/ checks).
constexpr double kFloatRoundsToInf = 340282356779733661637539395458142568448.0;

[[noreturn]] inline void throwType(Napi::Env env, const char* op, const std::string& msg) {
  throw Napi::TypeError::New(env, std::string(op) + ": " + msg);
}
[[noreturn]] inline void throwRange(Napi::Env env, const char* op, const std::string& msg) {
  throw Napi::RangeError::New(env, std::string(op) + ": " + msg);
}

// Reads a plain number argument (the few entry points that take scalars, not a call object).
inline double integerValue(Napi::Env env, const Napi::Value& v, const char* op, const char* name, double min,
                           double max) {
  if (!v.IsNumber()) throwType(env, op, std::string(name) + " must be a number");
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(x >= min && x <= max) || std::trunc(x) != x) {
    throwRange(env, op,
               std::string(name) + " must be an integer in [" + std::to_string(static_cast<int64_t>(min)) + ", " +
                   std::to_string(static_cast<int64_t>(max)) + "]");
  }
  return x;
}

inline double integerArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, double min,
                         double max) {
  return integerValue(info.Env(), info[i], op, name, min, max);
}

// The fields of one call object, read by name. A missing field or one of the wrong type is a
// TypeError naming the field; a value out of its range a RangeError. Each field is read once
// (a getter could answer differently the second time), so a check and the kernel see one value.
class CallFields {
 public:
  CallFields(const Napi::CallbackInfo& info, const char* op) : env_(info.Env()), op_(op) {
    if (info.Length() < 1 || !info[0].IsObject() || info[0].IsTypedArray() || info[0].IsArray())
      throwType(env_, op, "the call must be an object of named fields (lib/addon.ts)");
    obj_ = info[0].As<Napi::Object>();
  }

  Napi::Env env() const { return env_; }
  const char* op() const { return op_; }
  Napi::Value get(const char* name) const { return obj_.Get(name); }

  double integer(const char* name, double min, double max) const {
    return integerValue(env_, get(name), op_, name, min, max);
  }
  uint32_t uint32(const char* name) const { return static_cast<uint32_t>(integer(name, 0, kMaxUint32)); }

  // A float32 epsilon: finite after rounding to float, >= 0, and > 0 where `positive`.
  float epsilon(const char* name, bool positive) const {
    const Napi::Value v = get(name);
    if (!v.IsNumber()) throwType(env_, op_, std::string(name) + " must be a number");
    const double e = v.As<Napi::Number>().DoubleValue();
    // Tested in double first: the cast below is defined only for values that round to a finite float.
    if (!(e >= 0 && e < kFloatRoundsToInf) || (positive && !(static_cast<float>(e) > 0.0f)))
      throwRange(env_, op_, std::string(name) + (positive ? " must be finite and > 0" : " must be finite and >= 0"));
    return static_cast<float>(e);
  }

  // A string that must be one of `names`: its index there.
  template <size_t N>
  uint32_t choice(const char* name, const char* const (&names)[N]) const {
    const Napi::Value v = get(name);
    if (!v.IsString()) throwType(env_, op_, std::string(name) + " must be a string");
    const std::string got = v.As<Napi::String>().Utf8Value();
    std::string list;
    for (size_t i = 0; i < N; ++i) {
      if (got == names[i]) return static_cast<uint32_t>(i);
      list += std::string(i ? ", '" : "'") + names[i] + "'";
    }
    throwRange(env_, op_, std::string(name) + " must be one of " + list + ", got '" + got + "'");
  }

  bool boolean(const char* name) const { return booleanOf(name, get(name)); }
  // A boolean that may be left out (undefined): then `absent`.
  bool optionalBoolean(const char* name, bool absent) const {
    const Napi::Value v = get(name);
    return v.IsUndefined() ? absent : booleanOf(name, v);
  }

  // x viewed as [outer, d, inner]: every kernel's layout, refused here when its element count
  // overflows 64 bits.
  ntk::Layout layout() const {
    ntk::Layout l;
    l.outer = static_cast<uint64_t>(integer("outer", 0, kMaxSafeInteger));
    l.d = static_cast<uint64_t>(integer("d", 1, kMaxInt32));
    l.inner = static_cast<uint64_t>(integer("inner", 0, kMaxSafeInteger));
    if (ntk::layoutOverflows(l)) throwRange(env_, op_, "outer * d * inner overflows");
    return l;
  }
  // The layout of a kernel that counts rows in the stream's uint32 counter.
  ntk::Layout layoutOfUint32Rows() const {
    const ntk::Layout l = layout();
    if (l.rows() > 4294967295ull) throwRange(env_, op_, "more than 2^32 - 1 rows");
    return l;
  }

  [[noreturn]] void rangeError(const std::string& msg) const { throwRange(env_, op_, msg); }
  [[noreturn]] void typeError(const std::string& msg) const { throwType(env_, op_, msg); }

  // a * b, refused where it overflows 64 bits.
  uint64_t product(uint64_t a, uint64_t b) const {
    if (a != 0 && b > UINT64_MAX / a) rangeError("sizes overflow");
    return a * b;
  }

 private:
  bool booleanOf(const char* name, const Napi::Value& v) const {
    if (!v.IsBoolean()) throwType(env_, op_, std::string(name) + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  Napi::Env env_;
  const char* op_;
  Napi::Object obj_;
};

// ntk::validate, once per call, after the guards above: its refusal is a RangeError.
template <typename Args>
void validateOnce(const CallFields& call, const Args& a) {
  const char* why = nullptr;
  if (validate(a, &why) != ntk::Status::kOk) call.rangeError(why);
}

// Columns a kernel will index with (positions, indices): each must be in [0, d).
inline void checkColumns(const CallFields& call, const char* name, const int32_t* columns, uint64_t n, uint64_t d) {
  for (uint64_t j = 0; j < n; ++j)
    if (columns[j] < 0 || static_cast<uint64_t>(columns[j]) >= d)
      call.rangeError(std::string(name) + "[" + std::to_string(j) + "] is outside [0, d)");
}

inline bool isShared(Napi::Env env, const Napi::TypedArray& a) {
  napi_value buffer = nullptr;
  if (napi_get_typedarray_info(env, a, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok) return false;
  bool plain = true;
  if (napi_is_arraybuffer(env, buffer, &plain) != napi_ok) return false;
  return !plain;  // a typed array's buffer is an ArrayBuffer or a SharedArrayBuffer
}

// What the addon keeps per environment (main thread or worker), made when it loads there:
//   resizable, growable: the built-in getters ArrayBuffer.prototype.resizable and
//     SharedArrayBuffer.prototype.growable (lib/validate.ts takes the same ones), so that asking a
//     buffer runs no user code; empty where the runtime has no resizable buffers;
//   noop: a function that does nothing, which a sync call calls between chunks to learn whether
//     the environment is being terminated (the call then fails: the worker is going away);
//   stopping: set by cancelPending() (lib/ calls it on the process's 'exit') and by the
//     environment's cleanup hook; every call of the environment stops at its next chunk
//     (ntk::Cancel::shared), so process.exit() does not wait for a long async call.
struct EnvData {
  Napi::FunctionReference resizable;
  Napi::FunctionReference growable;
  Napi::FunctionReference noop;
  std::shared_ptr<std::atomic<bool>> stopping = std::make_shared<std::atomic<bool>>(false);
};

inline Napi::FunctionReference builtinGetter(Napi::Env env, const char* ctor, const char* name) {
  const Napi::Object global = env.Global();
  const Napi::Value c = global.Get(ctor);
  const Napi::Value object = global.Get("Object");
  if (!c.IsFunction() || !object.IsFunction()) return Napi::FunctionReference();
  const Napi::Value gopd = object.As<Napi::Object>().Get("getOwnPropertyDescriptor");
  if (!gopd.IsFunction()) return Napi::FunctionReference();
  const Napi::Value desc =
      gopd.As<Napi::Function>().Call({c.As<Napi::Object>().Get("prototype"), Napi::String::New(env, name)});
  if (!desc.IsObject()) return Napi::FunctionReference();
  const Napi::Value get = desc.As<Napi::Object>().Get("get");
  if (!get.IsFunction()) return Napi::FunctionReference();
  return Napi::Persistent(get.As<Napi::Function>());
}

// Called by the module's Init: the environment owns its EnvData (freed with it).
inline void makeEnvData(Napi::Env env) {
  auto* g = new EnvData;
  g->resizable = builtinGetter(env, "ArrayBuffer", "resizable");
  g->growable = builtinGetter(env, "SharedArrayBuffer", "growable");
  g->noop = Napi::Persistent(Napi::Function::New(
      env, [](const Napi::CallbackInfo&) {}, "noop"));
  env.SetInstanceData(g);
  // The environment's teardown (a worker's end, the process's exit) stops what is still running.
  auto* hold = new std::shared_ptr<std::atomic<bool>>(g->stopping);
  napi_add_env_cleanup_hook(
      env,
      [](void* p) {
        auto* flag = static_cast<std::shared_ptr<std::atomic<bool>>*>(p);
        (*flag)->store(true);
        delete flag;
      },
      hold);
}

inline EnvData* envData(Napi::Env env) { return env.GetInstanceData<EnvData>(); }

// Whether a typed array is a view of a resizable ArrayBuffer or a growable SharedArrayBuffer.
// Such arrays are refused, as lib/ refuses them: their length can change under any getter.
inline bool resizableBacked(Napi::Env env, const Napi::TypedArray& a) {
  napi_value buffer = nullptr;
  if (napi_get_typedarray_info(env, a, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok) return false;
  EnvData* g = envData(env);
  if (g == nullptr) return false;
  const Napi::FunctionReference& get = isShared(env, a) ? g->growable : g->resizable;
  if (get.IsEmpty()) return false;
  const Napi::Value v = get.Call(buffer, {});
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

inline const char* noDetail() { return ""; }

// "op: detail" (the backend's own error, when the kernel left one) or "op: status name"; an
// invalid argument is a RangeError, anything else an Error.
inline Napi::Error statusError(Napi::Env env, const char* op, ntk::Status s, const std::string& detail) {
  const std::string msg = std::string(op) + ": " + (detail.empty() ? ntk::statusName(s) : detail);
  if (s == ntk::Status::kInvalidArgument) return Napi::RangeError::New(env, msg);
  return Napi::Error::New(env, msg);
}

}  // namespace ntk_napi
