// N-API surface. Arguments arrive already shaped by lib/ (which gives the friendly errors);
// the guards here are the cheap ones that keep a direct caller from crashing the process.
// Every entry point comes as `name` (sync) and `nameAsync` (Promise), both parsing with the
// same function and running the same kernel call.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/noised_topk.h"
#include "core/philox_normal.h"

namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

struct Span {
  const void* begin = nullptr;
  size_t bytes = 0;
  const char* name = "";
};

[[noreturn]] void throwType(Napi::Env env, const char* op, const std::string& msg) {
  throw Napi::TypeError::New(env, std::string(op) + ": " + msg);
}
[[noreturn]] void throwRange(Napi::Env env, const char* op, const std::string& msg) {
  throw Napi::RangeError::New(env, std::string(op) + ": " + msg);
}

Napi::TypedArray typedArrayArg(const Napi::CallbackInfo& info, size_t i, const char* op,
                               const char* name, napi_typedarray_type type, const char* typeName) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throwType(info.Env(), op, std::string(name) + " must be a " + typeName);
  return v.As<Napi::TypedArray>();
}

double integerArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                  double min, double max) {
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

void checkLength(Napi::Env env, const char* op, const char* name, size_t got, uint64_t want) {
  if (got != want) {
    throwRange(env, op, std::string(name) + " has length " + std::to_string(got) + ", expected " +
                            std::to_string(want));
  }
}

// An output that shares memory with any other argument would be read after being written.
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

Napi::Error statusError(Napi::Env env, const char* op, ntk::Status s) {
  const std::string msg = std::string(op) + ": " + ntk::statusName(s);
  if (s == ntk::Status::kInvalidArgument) return Napi::RangeError::New(env, msg);
  return Napi::Error::New(env, msg);
}

// Keeps the JS arrays of an async call reachable until it settles.
class Holds {
 public:
  void add(const Napi::Value& v) {
    if (v.IsObject()) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }

 private:
  std::vector<Napi::ObjectReference> refs_;
};

// ---- forward ----
// forward(x, outer, d, inner, k, epsilon, nSample, noise | null, seedLo, seedHi, offset,
//         values, positions)
constexpr const char* kForward = "noisedTopK";


ntk::ForwardArgs parseForward(const Napi::CallbackInfo& info) {
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
  if (!std::isfinite(eps) || eps < 0 || static_cast<float>(eps) > 3.4e38f)
    throwRange(env, kForward, "epsilon must be finite and >= 0");
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
  checkLength(env, kForward, "x", x.ElementLength(), size);
  checkLength(env, kForward, "values", values.ElementLength(), rows);
  if (rows > UINT64_MAX / a.nSample) throwRange(env, kForward, "rows * nSample overflows");
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

ntk::BackwardArgs parseBackward(const Napi::CallbackInfo& info) {
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
  if (rows > UINT64_MAX / a.nSample) throwRange(env, kBackward, "rows * nSample overflows");
  checkLength(env, kBackward, "positions", positions.ElementLength(), rows * a.nSample);
  checkLength(env, kBackward, "rowScale", rowScale.ElementLength(), rows);
  checkLength(env, kBackward, "grad", grad.ElementLength(), a.layout.size());
  a.positions = positions.As<Napi::Int32Array>().Data();
  a.rowScale = rowScale.As<Napi::Float32Array>().Data();
  a.grad = grad.As<Napi::Float32Array>().Data();
  const Span gs{a.grad, grad.ByteLength(), "grad"};
  checkNoOverlap(env, kBackward, {gs},
                 {{a.positions, positions.ByteLength(), "positions"}, {a.rowScale, rowScale.ByteLength(), "rowScale"}, gs});
  const int32_t* pos = a.positions;
  for (uint64_t j = 0; j < rows * a.nSample; ++j) {
    if (pos[j] < 0 || static_cast<uint64_t>(pos[j]) >= a.layout.d)
      throwRange(env, kBackward, "positions[" + std::to_string(j) + "] is outside [0, d)");
  }
  const char* why = nullptr;
  if (ntk::validate(a, &why) != ntk::Status::kOk) throwRange(env, kBackward, why);
  return a;
}

// ---- sync / async plumbing ----
template <typename Args, ntk::Status (*Kernel)(const Args&)>
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, const char* op, const Args& args, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env, op), op_(op), args_(args), deferred_(Napi::Promise::Deferred::New(env)) {
    for (size_t i = 0; i < info.Length(); ++i) holds_.add(info[i]);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { status_ = Kernel(args_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (status_ != ntk::Status::kOk) {
      deferred_.Reject(statusError(env, op_, status_).Value());
      return;
    }
    deferred_.Resolve(env.Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  const char* op_;
  Args args_;
  ntk::Status status_ = ntk::Status::kOk;
  Napi::Promise::Deferred deferred_;
  Holds holds_;
};

template <typename Args, Args (*Parse)(const Napi::CallbackInfo&), ntk::Status (*Kernel)(const Args&)>
Napi::Value runSync(const Napi::CallbackInfo& info, const char* op) {
  const Args args = Parse(info);
  const ntk::Status s = Kernel(args);
  if (s != ntk::Status::kOk) throw statusError(info.Env(), op, s);
  return info.Env().Undefined();
}

template <typename Args, Args (*Parse)(const Napi::CallbackInfo&), ntk::Status (*Kernel)(const Args&)>
Napi::Value runAsync(const Napi::CallbackInfo& info, const char* op) {
  const Args args = Parse(info);
  auto* worker = new KernelWorker<Args, Kernel>(info.Env(), op, args, info);
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
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
  ntk::setCpuThreads(static_cast<unsigned>(integerArg(info, 0, "setThreads", "n", 0, 1024)));
  return info.Env().Undefined();
}
Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ntk::cpuThreads());
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("forward", Napi::Function::New(env, Forward, "forward"));
  exports.Set("forwardAsync", Napi::Function::New(env, ForwardAsync, "forwardAsync"));
  exports.Set("backward", Napi::Function::New(env, Backward, "backward"));
  exports.Set("backwardAsync", Napi::Function::New(env, BackwardAsync, "backwardAsync"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("threads", Napi::Function::New(env, GetThreads, "threads"));
  exports.Set("normals", Napi::Function::New(env, Normals, "normals"));
  exports.Set("streamVersion", Napi::Number::New(env, NTK_STREAM_VERSION));
  exports.Set("cuda", Napi::Boolean::New(env, false));
  return exports;
}

}  // namespace

NODE_API_MODULE(noised_topk, Init)
