// NoisedModule and NoiseStream are internals (the modules' shared base, the offset counter):
// not exported; the modules' `seed` and the results' `seed`/`offset` are the public face.
export { NoisedTopK, NoisedTopKResult } from './topk.js';
export type { NoisedTopKOptions, ForwardOutputs, FunctionalTopKOptions } from './topk.js';
export { BalNoisedTopK, ImbalNoisedTopK, LossResult, ldamMargins } from './losses.js';
export type {
  BalNoisedTopKOptions,
  ImbalNoisedTopKOptions,
  FunctionalLossOptions,
  FunctionalImbalOptions,
  Reduction,
  LossConventions,
  GradLoss,
  GradOutput,
  LossValue,
  LossStandardError,
} from './losses.js';
export { backends } from './kernel.js';
export type { BackendName, BackendOption } from './kernel.js';
export type { SamplerName } from './lazy-sampler.js';
export { defaultSampler, LAZY_DEFAULT_MIN_D } from './lazy-sampler.js';
export { maxThreads, setThreads, threads } from './threads.js';
export { tQuantile } from './student-t.js';
export { topKHits, topKAccuracy, perClassTopKAccuracy, macroTopKAccuracy, rareClassTopKAccuracy } from './metrics.js';
export type { Scores, RareClassOptions, RareClassOptionsDeprecated } from './metrics.js';
export { crossEntropyLoss, focalLoss, ldamLoss, ClassicLossResult } from './classic-losses.js';
export type { FocalLossOptions, LdamLossOptions } from './classic-losses.js';

import { noisedTopK, noisedTopKAsync } from './topk.js';
import { balNoisedTopKLoss, balNoisedTopKLossAsync, imbalNoisedTopKLoss, imbalNoisedTopKLossAsync } from './losses.js';

/** pytopk's functional forms: the caller passes the noise (shape + [nSample]) or a seed. */
export const functional = {
  /** NoisedTopK's forward as one call: `noisedTopK(x, shape, { k, noise })` or `{ k, seed, offset }`. */
  noisedTopK,
  /** noisedTopK as a Promise; the kernel runs on a worker thread on 'cpu' and 'cuda'. */
  noisedTopKAsync,
  /** BalNoisedTopK's forward as one call: `balNoisedTopKLoss(scores, labels, shape, { k, noise })`. */
  balNoisedTopKLoss,
  /** balNoisedTopKLoss as a Promise; the kernel runs on a worker thread on 'cpu' and 'cuda'. */
  balNoisedTopKLossAsync,
  /** ImbalNoisedTopK's forward as one call, with per-class `margins` (see ldamMargins) and `scale`. */
  imbalNoisedTopKLoss,
  /** imbalNoisedTopKLoss as a Promise; the kernel runs on a worker thread on 'cpu' and 'cuda'. */
  imbalNoisedTopKLossAsync,
};

// The top-k ops (docs/ops.md): hard top-k with its scatter gradient, the perturbed top-k mask.
export {
  topk,
  topkAsync,
  TopKResult,
  perturbedTopK,
  perturbedTopKAsync,
  PerturbedTopK,
  PerturbedTopKResult,
} from './ops.js';
export type {
  TopKOptions,
  PerturbedTopKOptions,
  FunctionalPerturbedOptions,
  PerturbedTopKModuleOptions,
} from './ops.js';
export { smoothTopKSvmLoss, SmoothTopKSvm, SmoothTopKSvmResult } from './svm.js';
export type { SmoothTopKSvmOptions } from './svm.js';
