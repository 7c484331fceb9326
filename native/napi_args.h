// What both N-API files (binding.cpp: the noised top-k; binding_ops.cpp: the top-k ops) share:
// argument reading with errors that name the operation, the caller's memory spans, and the
// turn of a kernel Status into a JS error. Only the binding layer includes it: the kernels know
// nothing of N-API.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "core/noised_topk.h"

namespace ntk_napi {

constexpr double kMaxSafeInteger = 9007199254740991.0;
// Below 2^128 - 2^103 a double rounds to a finite float (Math.fround's rule, as lib/ checks).
constexpr double kFloatRoundsToInf = 340282356779733661637539395458142568448.0;

// A range of the caller's memory, by address: two SharedArrayBuffer objects can map the same
// bytes, so overlap is decided here and never by comparing buffers.
struct Span {
  const void* begin = nullptr;
  size_t bytes = 0;
  const char* name = "";
};

[[noreturn]] inline void throwType(Napi::Env env, const char* op, const std::string& msg) {
  throw Napi::TypeError::New(env, std::string(op) + ": " + msg);
}
[[noreturn]] inline void throwRange(Napi::Env env, const char* op, const std::string& msg) {
  throw Napi::RangeError::New(env, std::string(op) + ": " + msg);
}

inline Napi::TypedArray typedArrayArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                                      napi_typedarray_type type, const char* typeName) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throwType(info.Env(), op, std::string(name) + " must be a " + typeName);
  return v.As<Napi::TypedArray>();
}

inline double integerArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, double min,
                         double max) {
  const Napi::Value v = info[i];
  if (!v.IsNumber()) throwType(info.Env(), op, std::string(name) + " must be a number");
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(x >= min && x <= max) || std::trunc(x) != x) {
    throwRange(info.Env(), op,
               std::string(name) + " must be an integer in [" + std::to_string(static_cast<int64_t>(min)) + ", " +
                   std::to_string(static_cast<int64_t>(max)) + "]");
  }
  return x;
}

inline void checkLength(Napi::Env env, const char* op, const char* name, size_t got, uint64_t want) {
  if (got != want) {
    throwRange(env, op, std::string(name) + " has length " + std::to_string(got) + ", expected " +
                            std::to_string(want));
  }
}

inline bool isShared(Napi::Env env, const Napi::TypedArray& a) {
  napi_value buffer = nullptr;
  if (napi_get_typedarray_info(env, a, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok) return false;
  bool plain = true;
  if (napi_is_arraybuffer(env, buffer, &plain) != napi_ok) return false;
  return !plain;  // a typed array's buffer is an ArrayBuffer or a SharedArrayBuffer
}

inline const char* noDetail() { return ""; }

// "op: detail" (the CUDA error, when the kernel left one) or "op: status name"; an invalid
// argument is a RangeError, anything else an Error.
inline Napi::Error statusError(Napi::Env env, const char* op, ntk::Status s, const char* (*detail)() = noDetail) {
  const char* d = detail();
  const std::string msg = std::string(op) + ": " + (d && *d ? d : ntk::statusName(s));
  if (s == ntk::Status::kInvalidArgument) return Napi::RangeError::New(env, msg);
  return Napi::Error::New(env, msg);
}

// A JS output of an async call and the owned memory the kernel writes in its place.
struct Output {
  Napi::ObjectReference js;
  const void* data;
  uint64_t length;
  size_t elementSize;
  const char* name;
};

}  // namespace ntk_napi
