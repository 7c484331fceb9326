// Host-facing API of the top-k ops beyond NoisedTopK: the hard top-k and the perturbed top-k
// mask (Berthet et al. 2020). Plain C++ types only, like noised_topk.h: no N-API, no CUDA.
// Selection everywhere follows rank_key.h's selectKey order (larger key first, ties to
// the lower column, NaN the largest value, -0 == +0).
#pragma once

#include <cstdint>

#include "noised_topk.h"

namespace ntk {

// Hard top-k of x viewed as [outer, d, inner] along d. values / indices are [outer, k, inner].
// sorted: the k entries in rank order (best first); otherwise in increasing column order.
// Either way the output is a pure function of x (no algorithm or thread choice shows).
struct TopKArgs {
  const float* x = nullptr;
  Layout layout;
  uint32_t k = 1;
  bool largest = true;
  bool sorted = true;
  float* values = nullptr;
  int32_t* indices = nullptr;
  // When checkFinite, topkCpu sets *nonFinite to true if x holds a NaN or an infinity (checked
  // per row while the row is in cache: cheaper than a separate pass from JS). The outputs are
  // still written; the caller reports the error and discards them.
  bool checkFinite = false;
  bool* nonFinite = nullptr;
};

// What the perturbed top-k's forward and backward share: the layout, k, and the noise (the
// same stream and indexing as forwardCpu, so the noise equals NoisedTopK's for the same seed
// and offset).
struct PerturbedParams {
  Layout layout;
  uint32_t k = 1;
  float epsilon = 1.0f;
  uint32_t nSample = 1;
  uint32_t seedLo = 0;
  uint32_t seedHi = 0;
  uint32_t offset = 0;
};

// Perturbed top-k forward: for each row and sample s, the k largest of x + eps * z(seed,
// offset, row, s, c). mask (x's layout) = count of samples that selected the column / nSample,
// one rounding (count and nSample are exact floats);
// indices [rows, nSample, k] = each sample's k columns in increasing column order (kept for
// the backward pass: O(rows * nSample * k)).
struct PerturbedForwardArgs : PerturbedParams {
  const float* x = nullptr;
  float* mask = nullptr;
  int32_t* indices = nullptr;
};

// Perturbed top-k backward (the Gaussian perturbed optimizer's VJP, Berthet et al. 2020):
// gradX(row, c) = (sum over s of dot_s * z(row, s, c)) / (eps * nSample), where
// dot_s = sum over the sample's k columns (increasing column order) of grad(row, column).
// dot_s is a float32 sum in the written order; the sum over samples is a binary64 sum in
// sample order of the exact products double(dot_s) * double(z), divided in binary64 by the exact
// double(eps) * nSample and rounded once to float32 (the mean rule of sample_mean.h; the contract
// 'js' reproduces). The noise is regenerated from the stream, never stored. Samples with
// dot_s == 0 are skipped (exact: the accumulator is never -0, so adding +-0 would not change it).
// epsilon must be > 0.
struct PerturbedBackwardArgs : PerturbedParams {
  const int32_t* indices = nullptr;
  const float* grad = nullptr;  // x's layout
  float* gradX = nullptr;       // x's layout
};

Status validate(const TopKArgs& a, const char** why);
Status validate(const PerturbedForwardArgs& a, const char** why);
Status validate(const PerturbedBackwardArgs& a, const char** why);

Status topkCpu(const TopKArgs& a);
Status perturbedTopKForwardCpu(const PerturbedForwardArgs& a);
Status perturbedTopKBackwardCpu(const PerturbedBackwardArgs& a);

}  // namespace ntk
