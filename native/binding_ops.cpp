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
constexpr char kTopK[] = "topk";
#ifdef NOISED_TOPK_HAS_CUDA
constexpr char kTopKCuda[] = "topk (cuda)";  // k <= 32 (lib/ checks it first)
#endif

void parseTopK(const CallFields& call, Job<ntk::TopKArgs>& job) {
  ntk::TopKArgs& a = job.args;
  a.layout = call.layoutOfUint32Rows();
  a.k = static_cast<uint32_t>(call.integer("k", 1, static_cast<double>(a.layout.d)));
  a.largest = call.boolean("largest");
  a.sorted = call.boolean("sorted");
  a.checkFinite = call.optionalBoolean("checkFinite", false);
  a.nonFinite = &job.nonFinite;
  const uint64_t selected = call.product(a.layout.rows(), a.k);
  job.input(call, "x", a.x, a.layout.size());
  job.output(call, "values", a.values, selected);
  job.output(call, "indices", a.indices, selected);
}

// ---- perturbedTopK: PerturbedForwardCall -> ntk::PerturbedForwardArgs ----
constexpr char kPerturbed[] = "perturbedTopK";

void parsePerturbed(const CallFields& call, Job<ntk::PerturbedForwardArgs>& job) {
  ntk::PerturbedForwardArgs& a = job.args;
  parsePerturbedParams(call, a, false);
  job.input(call, "x", a.x, a.layout.size());
  job.output(call, "mask", a.mask, a.layout.size());
  job.output(call, "indices", a.indices, call.product(call.product(a.layout.rows(), a.nSample), a.k));
}

// ---- perturbedTopKBackward: PerturbedBackwardCall -> ntk::PerturbedBackwardArgs ----
constexpr char kPerturbedBackward[] = "perturbedTopKBackward";

void parsePerturbedBackward(const CallFields& call, Job<ntk::PerturbedBackwardArgs>& job) {
  ntk::PerturbedBackwardArgs& a = job.args;
  parsePerturbedParams(call, a, true);
  const uint64_t selected = call.product(call.product(a.layout.rows(), a.nSample), a.k);
  job.input(call, "indices", a.indices, selected);
  job.input(call, "grad", a.grad, a.layout.size());
  job.output(call, "gradX", a.gradX, a.layout.size());
  job.recheck(call);  // the last getter has run: nothing read below may have been detached
  job.privateIfShared(a.indices);
  checkColumns(call, "indices", a.indices, selected, a.layout.d);
}

}  // namespace

namespace ntk_ops {
// Called from binding.cpp's Init.
void init(Napi::Env env, Napi::Object exports) {
  exportKernel<ntk::TopKArgs, kTopK, parseTopK, ntk::topkCpu, nonFiniteResult>(env, exports, "topk");
  exportKernel<ntk::PerturbedForwardArgs, kPerturbed, parsePerturbed, ntk::perturbedTopKForwardCpu>(env, exports,
                                                                                                    "perturbedTopK");
  exportKernel<ntk::PerturbedBackwardArgs, kPerturbedBackward, parsePerturbedBackward, ntk::perturbedTopKBackwardCpu>(
      env, exports, "perturbedTopKBackward");
#ifdef NOISED_TOPK_HAS_CUDA
  exportKernel<ntk::TopKArgs, kTopKCuda, parseTopK, ntk::topkCuda, nonFiniteResult, ntk::opsCudaLastError>(env, exports,
                                                                                                           "topkCuda");
#endif
}
}  // namespace ntk_ops
