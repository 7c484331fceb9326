// N-API surface of the top-k ops (native/core/ops.h): topk, perturbedTopK and its backward.
// The same rules as binding.cpp: each entry point takes one call object (TopKCall,
// PerturbedForwardCall, PerturbedBackwardCall of lib/addon.ts) read by name; the checks here are
// the memory-safety guards a direct caller needs, then ntk::validate once; `name` (sync) and
// `nameAsync` (Promise) both run through napi_job.h.
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#include <napi.h>

#include <cstdint>
#include <string>

#include "core/constants.h"
#include "core/ops.h"
#include "napi_job.h"
#ifdef NOISED_TOPK_HAS_CUDA
#include "core/ops_cuda.h"
#endif

namespace ntk_ops {
void init(Napi::Env env, Napi::Object exports);
}

namespace {

using namespace ntk_napi;

template <typename Args>
void validateOnce(const CallFields& call, const Args& a) {
  const char* why = nullptr;
  if (ntk::validate(a, &why) != ntk::Status::kOk) call.rangeError(why);
}

// The fields the perturbed forward and backward share.
void parsePerturbedParams(const CallFields& call, ntk::PerturbedParams& p, bool positiveEpsilon) {
  p.layout = call.layoutOfUint32Rows();
  p.k = static_cast<uint32_t>(call.integer("k", 1, static_cast<double>(p.layout.d)));
  p.epsilon = call.epsilon("epsilon", positiveEpsilon);
  p.nSample = static_cast<uint32_t>(call.integer("nSample", 1, ntk::kMaxSamples));
  p.seedLo = call.uint32("seedLo");
  p.seedHi = call.uint32("seedHi");
  p.offset = call.uint32("offset");
}

// ---- topk: TopKCall -> ntk::TopKArgs ----
// Resolves to true when checkFinite and x holds a NaN or an infinity (the outputs are then
// garbage): lib/ then rescans x to name the first such element in its RangeError.
constexpr const char* kTopK = "topk";

void parseTopK(const CallFields& call, Job<ntk::TopKArgs>& job) {
  ntk::TopKArgs& a = job.args;
  const Napi::TypedArray x = call.float32Array("x");
  a.layout = call.layoutOfUint32Rows();
  a.k = static_cast<uint32_t>(call.integer("k", 1, static_cast<double>(a.layout.d)));
  a.largest = call.boolean("largest");
  a.sorted = call.boolean("sorted");
  const Napi::TypedArray values = call.float32Array("values");
  const Napi::TypedArray indices = call.int32Array("indices");
  a.checkFinite = !call.get("checkFinite").IsUndefined() && call.boolean("checkFinite");
  a.nonFinite = &job.nonFinite;
  const uint64_t outLen = call.product(a.layout.outer * a.layout.inner, a.k);
  call.checkLength("x", x, a.layout.size());
  call.checkLength("values", values, outLen);
  call.checkLength("indices", indices, outLen);
  job.input("x", x, a.x);
  job.output("values", values, a.values);
  job.output("indices", indices, a.indices);
  job.checkNoOverlap(call);
  validateOnce(call, a);
}

// ---- perturbedTopK: PerturbedForwardCall -> ntk::PerturbedForwardArgs ----
constexpr const char* kPerturbed = "perturbedTopK";

void parsePerturbed(const CallFields& call, Job<ntk::PerturbedForwardArgs>& job) {
  ntk::PerturbedForwardArgs& a = job.args;
  const Napi::TypedArray x = call.float32Array("x");
  parsePerturbedParams(call, a, false);
  const Napi::TypedArray mask = call.float32Array("mask");
  const Napi::TypedArray indices = call.int32Array("indices");
  const uint64_t nIdx = call.product(call.product(a.layout.rows(), a.nSample), a.k);
  call.checkLength("x", x, a.layout.size());
  call.checkLength("mask", mask, a.layout.size());
  call.checkLength("indices", indices, nIdx);
  job.input("x", x, a.x);
  job.output("mask", mask, a.mask);
  job.output("indices", indices, a.indices);
  job.checkNoOverlap(call);
  validateOnce(call, a);
}

// ---- perturbedTopKBackward: PerturbedBackwardCall -> ntk::PerturbedBackwardArgs ----
constexpr const char* kPerturbedBackward = "perturbedTopKBackward";

void parsePerturbedBackward(const CallFields& call, Job<ntk::PerturbedBackwardArgs>& job) {
  ntk::PerturbedBackwardArgs& a = job.args;
  const Napi::TypedArray indices = call.int32Array("indices");
  const Napi::TypedArray grad = call.float32Array("grad");
  parsePerturbedParams(call, a, true);
  const Napi::TypedArray gradX = call.float32Array("gradX");
  const uint64_t nIdx = call.product(call.product(a.layout.rows(), a.nSample), a.k);
  call.checkLength("indices", indices, nIdx);
  call.checkLength("grad", grad, a.layout.size());
  call.checkLength("gradX", gradX, a.layout.size());
  job.input("indices", indices, a.indices);
  job.input("grad", grad, a.grad);
  job.output("gradX", gradX, a.gradX);
  job.checkNoOverlap(call);
  // Checked indices must be the ones used: copied first where another thread can write them.
  if (isShared(call.env(), indices)) job.makePrivate(a.indices);
  for (uint64_t j = 0; j < nIdx; ++j)
    if (a.indices[j] < 0 || static_cast<uint64_t>(a.indices[j]) >= a.layout.d)
      call.rangeError("indices[" + std::to_string(j) + "] is outside [0, d)");
  validateOnce(call, a);
}

Napi::Value TopK(const Napi::CallbackInfo& info) {
  return runSync<ntk::TopKArgs, parseTopK, ntk::topkCpu, nonFiniteResult>(info, kTopK);
}
Napi::Value TopKAsync(const Napi::CallbackInfo& info) {
  return runAsync<ntk::TopKArgs, parseTopK, ntk::topkCpu, nonFiniteResult>(info, kTopK);
}
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
// topk on the GPU: the same call object and parse as topk; k <= 32 (lib/ checks it first).
constexpr const char* kTopKCuda = "topk (cuda)";
Napi::Value TopKCuda(const Napi::CallbackInfo& info) {
  return runSync<ntk::TopKArgs, parseTopK, ntk::topkCuda, nonFiniteResult, ntk::opsCudaLastError>(info, kTopKCuda);
}
Napi::Value TopKCudaAsync(const Napi::CallbackInfo& info) {
  return runAsync<ntk::TopKArgs, parseTopK, ntk::topkCuda, nonFiniteResult, ntk::opsCudaLastError>(info, kTopKCuda);
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
