// The one definition of every backend's argument checks (noised_topk.h, ops.h): the CPU and CUDA
// kernels call validate first and refuse what it refuses, and the N-API layer calls it once per
// call, after its own memory-safety guards, to turn a refusal into a RangeError.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "noised_topk.h"
#include "ops.h"

namespace ntk {

uint64_t firstNonFinite(const float* x, uint64_t n) {
  // Blocks of 64 tested branch-free on the exponent bits (all ones: an infinity or a NaN), an
  // integer OR that the compiler vectorizes; the index is then searched from the failed block.
  constexpr uint64_t kBlock = 64;
  uint64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    uint32_t bad = 0;
    for (uint64_t j = 0; j < kBlock; ++j) {
      uint32_t bits;
      std::memcpy(&bits, x + i + j, sizeof bits);
      bad |= static_cast<uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
    }
    if (bad) break;
  }
  for (; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return n;
}

const char* statusName(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kOutOfMemory: return "out of memory";
    case Status::kDeviceUnavailable: return "no CUDA device";
    case Status::kDeviceError: return "CUDA error";
  }
  return "unknown status";
}

bool layoutOverflows(const Layout& l) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  if (l.d != 0 && l.outer > max / l.d) return true;
  const uint64_t od = l.outer * l.d;
  return l.inner != 0 && od > max / l.inner;
}

namespace {

Status fail(const char** why, const char* msg) {
  if (why) *why = msg;
  return Status::kInvalidArgument;
}

// Rows index as uint32 in every kernel, columns as int32 (positions and indices are Int32Array).
Status checkLayout(const Layout& l, uint32_t k, const char** why) {
  if (layoutOverflows(l)) return fail(why, "layout size overflows 64 bits");
  if (l.d == 0) return fail(why, "the reduced dim is empty");
  if (l.d > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    return fail(why, "the reduced dim exceeds 2^31 - 1");
  if (l.rows() > std::numeric_limits<uint32_t>::max()) return fail(why, "more than 2^32 - 1 rows");
  if (k < 1 || k > l.d) return fail(why, "k must be in [1, d]");
  return Status::kOk;
}

Status checkSamples(uint32_t nSample, const char** why) {
  if (nSample < 1 || nSample > kMaxSamples) return fail(why, "nSample must be in [1, 2^24]");
  return Status::kOk;
}

// The float32 domain (docs/input-rules.md): a divisor must be a normal float so that its
// reciprocal is finite too. (A noise epsilon * z that overflows is computed as IEEE does.)
Status checkEpsilon(float epsilon, bool divisor, const char** why) {
  if (!std::isfinite(epsilon) || epsilon < 0.0f) return fail(why, "epsilon must be finite and >= 0");
  if (divisor && !(epsilon >= std::numeric_limits<float>::min()))
    return fail(why, "epsilon must be a normal float32 >= 1.1754944e-38 (the gradient divides by it)");
  return Status::kOk;
}

// The perturbed top-k's backward divides by epsilon, so it needs a normal epsilon > 0.
Status checkPerturbed(const PerturbedParams& p, bool positiveEpsilon, const char** why) {
  if (checkLayout(p.layout, p.k, why) != Status::kOk || checkEpsilon(p.epsilon, positiveEpsilon, why) != Status::kOk ||
      checkSamples(p.nSample, why) != Status::kOk)
    return Status::kInvalidArgument;
  return Status::kOk;
}

}  // namespace

Status validate(const ForwardArgs& a, const char** why) {
  const Layout& l = a.layout;
  if (checkLayout(l, a.k, why) != Status::kOk || checkEpsilon(a.epsilon, false, why) != Status::kOk ||
      checkSamples(a.nSample, why) != Status::kOk)
    return Status::kInvalidArgument;
  if (l.rows() * a.nSample > kMaxPositions) return fail(why, "rows * nSample exceeds 2^28");
  if (l.size() > 0 && !a.x) return fail(why, "x is null");
  if (l.rows() > 0 && (!a.values || !a.positions)) return fail(why, "an output is null");
  if (a.sampler != kSamplerDense && a.sampler != kSamplerLazy) return fail(why, "sampler must be 'dense' or 'lazy'");
  return Status::kOk;
}

Status validate(const BackwardArgs& a, const char** why) {
  const Layout& l = a.layout;
  if (layoutOverflows(l)) return fail(why, "layout size overflows 64 bits");
  if (l.d == 0) return fail(why, "the reduced dim is empty");
  if (l.d > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    return fail(why, "the reduced dim exceeds 2^31 - 1");
  if (checkSamples(a.nSample, why) != Status::kOk) return Status::kInvalidArgument;
  if (l.rows() > kMaxPositions || l.rows() * a.nSample > kMaxPositions) return fail(why, "rows * nSample exceeds 2^28");
  if (l.rows() > 0 && (!a.positions || !a.rowScale || !a.grad)) return fail(why, "an argument is null");
  return Status::kOk;
}

Status validate(const TopKArgs& a, const char** why) {
  if (checkLayout(a.layout, a.k, why) != Status::kOk) return Status::kInvalidArgument;
  if (a.layout.size() > 0 && !a.x) return fail(why, "x is null");
  if (a.layout.rows() > 0 && (!a.values || !a.indices)) return fail(why, "an output is null");
  if (a.checkFinite && !a.nonFinite) return fail(why, "checkFinite needs a nonFinite flag");
  return Status::kOk;
}

Status validate(const PerturbedForwardArgs& a, const char** why) {
  if (checkPerturbed(a, false, why) != Status::kOk) return Status::kInvalidArgument;
  // The per-call output limit of lib/ (docs/limits.md): indices holds rows * nSample * k.
  if (a.layout.rows() * a.nSample > kMaxPositions / a.k) return fail(why, "rows * nSample * k exceeds 2^28");
  if (a.layout.size() > 0 && (!a.x || !a.mask || !a.indices)) return fail(why, "an argument is null");
  return Status::kOk;
}

Status validate(const PerturbedBackwardArgs& a, const char** why) {
  if (checkPerturbed(a, true, why) != Status::kOk) return Status::kInvalidArgument;
  if (a.layout.size() > 0 && (!a.indices || !a.grad || !a.gradX)) return fail(why, "an argument is null");
  return Status::kOk;
}

}  // namespace ntk
