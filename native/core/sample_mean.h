// The one rule for a mean over noise samples, shared by the CPU and CUDA kernels (and written
// out again in lib/js-kernel.ts): docs/determinism.md, "Means over samples".
//
//   values[r] = fl32( (((0 + v_0) + v_1) + ... + v_{S-1}) / S ),
//
// every + and the / a binary64 operation rounded to nearest-even, the samples v_s (binary32,
// widened exactly) added in sample order, and one final rounding to binary32. For S <= 2^24
// same-signed samples the binary64 quotient is within S * 2^-53 <= 2^-29 (relative) of the exact
// mean, so the float32 result is the exact mean rounded once unless that mean lies within 2^-29
// of a midpoint between two floats (the float32 running sum this replaces could drift by about
// S / 2 ulp of the mean: 805 ulp at |x| ~ 1e6, S = 4096). Each step is one correctly rounded
// IEEE-754 operation, so the host's SSE2 doubles, CUDA's .rn.f64 instructions (built with
// --fmad=false) and JavaScript's numbers give the same bits.
#pragma once

#include <cstdint>

#include "host_device.h"  // NTK_HD

namespace ntk {

struct SampleMean {
  double sum = 0.0;
  NTK_HD void add(float v) { sum = sum + static_cast<double>(v); }
  NTK_HD float mean(uint32_t nSample) const { return static_cast<float>(sum / static_cast<double>(nSample)); }
};

// The gradient of a column selected in `count` of the row's nSample samples, for the row's
// upstream gradient `scale`: the mean over samples of scale * onehot, rounded once,
// fl32(fl64(count * scale) / nSample). count * scale is exact in binary64 (24 + 24 bits).
NTK_HD float countShare(uint32_t count, uint32_t nSample, float scale) {
  return static_cast<float>((static_cast<double>(count) * static_cast<double>(scale)) / static_cast<double>(nSample));
}

}  // namespace ntk
