// TensorFlow.js bridge (noised-topk/tfjs): the noised top-k and the two top-k losses as
// differentiable tfjs ops. Forward and backward run this package's kernels on the tensors'
// data (read with dataSync, so any tfjs backend works) and the results go back as new tensors.
// The forward pass keeps its sampled positions in the closure of the custom gradient, so the
// backward pass reuses the forward's noise exactly, as pytopk's autograd Function does.
import * as tf from '@tensorflow/tfjs-core';
import { ldamMargins } from './losses.js';
import { balNoisedTopKLoss as balLossArrays, imbalNoisedTopKLoss as imbalLossArrays } from './losses.js';
import { noisedTopK as noisedTopKArrays } from './topk.js';
import { NoiseStream } from './topk.js';
import type { BackendOption } from './kernel.js';
import * as v from './validate.js';

/** Where the noise of one call comes from: explicit values, or a seeded stream at an offset. */
export interface TfNoiseOptions {
  /** Noise laid out as the input's shape + [nSample] (a Float32Array or a float32 tensor). */
  noise?: Float32Array | tf.Tensor;
  /** Seed of the noise stream; used when noise is absent. */
  seed?: number | bigint;
  /** Call offset into the seeded stream. Default 0. */
  offset?: number;
  /** Samples of noise per slice. Default 5 (inferred from noise when given). */
  nSample?: number;
  backend?: BackendOption;
}

export interface TfNoisedTopKOptions extends TfNoiseOptions {
  /** Rank of the value taken, 1 = the largest. */
  k: number;
  /** Noise scale. Default 1. */
  epsilon?: number;
  /** Axis reduced; negative counts from the end. Default -1. */
  axis?: number;
}

export interface TfLossOptions extends TfNoiseOptions {
  k: number;
  epsilon?: number;
}

export interface TfImbalLossOptions extends TfLossOptions {
  /** Per-class margins (see ldamMargins). */
  margins: Float32Array;
  /** Default 50, pytopk's default. */
  scale?: number;
}

// Duck-typed rather than instanceof, so a tensor from another copy of tfjs-core still passes.
function isTensor(x: unknown): x is tf.Tensor {
  if (x === null || typeof x !== 'object') return false;
  const t = x as Partial<tf.Tensor>;
  return typeof t.dataSync === 'function' && typeof t.dtype === 'string' && Array.isArray(t.shape);
}

function floatData(name: string, x: unknown): Float32Array {
  if (!isTensor(x)) throw new TypeError(`${name} must be a tf.Tensor, got ${v.describe(x)}`);
  if (x.dtype !== 'float32') throw new TypeError(`${name} must have dtype float32, got ${x.dtype}`);
  // dataSync may hand back the backend's own storage; the kernels only read it.
  return x.dataSync() as Float32Array;
}

function labelData(labels: unknown, rows: number): Int32Array {
  if (!isTensor(labels)) throw new TypeError(`labels must be an int32 tf.Tensor, got ${v.describe(labels)}`);
  if (labels.dtype !== 'int32') throw new TypeError(`labels must have dtype int32, got ${labels.dtype}`);
  if (labels.rank !== 1 || labels.shape[0] !== rows) {
    throw new RangeError(`labels must have shape [${rows}] (one per row of scores), got [${labels.shape.join(', ')}]`);
  }
  return labels.dataSync() as Int32Array;
}

function noiseOptions(o: TfNoiseOptions): Record<string, unknown> {
  const noise = o.noise === undefined ? undefined : isTensor(o.noise) ? floatData('noise', o.noise) : o.noise;
  return { noise, seed: o.seed, offset: o.offset, nSample: o.nSample, backend: o.backend };
}

function scoresShape(scores: tf.Tensor): [number, number] {
  if (scores.rank !== 2) throw new RangeError(`scores must have rank 2 ([batch, classes]), got shape [${scores.shape.join(', ')}]`);
  return [scores.shape[0]!, scores.shape[1]!];
}

/**
 * Differentiable noised top-k along `axis`: the mean over nSample noise draws of the k-th
 * largest value of x + epsilon * Z. The output has x's shape without `axis`.
 */
export function noisedTopK(x: tf.Tensor, options: TfNoisedTopKOptions): tf.Tensor {
  const o = v.optionsObject('options', options) as unknown as TfNoisedTopKOptions;
  if (!isTensor(x)) throw new TypeError(`x must be a tf.Tensor, got ${v.describe(x)}`);
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const xt = input as tf.Tensor;
    const r = noisedTopKArrays(floatData('x', xt), xt.shape.slice(), {
      ...noiseOptions(o),
      k: o.k,
      epsilon: o.epsilon,
      dim: o.axis ?? -1,
    });
    return {
      value: tf.tensor(r.values, r.shape, 'float32'),
      gradFunc: (dy: tf.Tensor) => tf.tensor(r.backward(floatData('dy', dy)), xt.shape, 'float32'),
    };
  });
  return op(x);
}

/** Balanced top-k hinge: mean over rows of relu(1 + smoothtop_{k+1}(s) - s[label]), a scalar. */
export function balNoisedTopKLoss(scores: tf.Tensor, labels: tf.Tensor, options: TfLossOptions): tf.Scalar {
  const o = v.optionsObject('options', options) as unknown as TfLossOptions;
  if (!isTensor(scores)) throw new TypeError(`scores must be a tf.Tensor, got ${v.describe(scores)}`);
  const shape = scoresShape(scores);
  const y = labelData(labels, shape[0]);
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const r = balLossArrays(floatData('scores', input), y, shape, { ...noiseOptions(o), k: o.k, epsilon: o.epsilon });
    return {
      value: tf.scalar(r.loss, 'float32'),
      gradFunc: (dy: tf.Tensor) => tf.tensor(r.backward(floatData('dy', dy)[0]!), shape, 'float32'),
    };
  });
  return op(scores) as tf.Scalar;
}

/** Imbalanced top-k hinge: mean over rows of relu(scale * (m[label] + smoothtop_{k+1}(s) - s[label])). */
export function imbalNoisedTopKLoss(scores: tf.Tensor, labels: tf.Tensor, options: TfImbalLossOptions): tf.Scalar {
  const o = v.optionsObject('options', options) as unknown as TfImbalLossOptions;
  if (!isTensor(scores)) throw new TypeError(`scores must be a tf.Tensor, got ${v.describe(scores)}`);
  const shape = scoresShape(scores);
  const y = labelData(labels, shape[0]);
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const r = imbalLossArrays(floatData('scores', input), y, shape, {
      ...noiseOptions(o),
      k: o.k,
      epsilon: o.epsilon,
      margins: o.margins,
      scale: o.scale,
    });
    return {
      value: tf.scalar(r.loss, 'float32'),
      gradFunc: (dy: tf.Tensor) => tf.tensor(r.backward(floatData('dy', dy)[0]!), shape, 'float32'),
    };
  });
  return op(scores) as tf.Scalar;
}

interface ModuleOptions {
  k: number;
  epsilon?: number;
  nSample?: number;
  /** Seed of the noise stream; call n uses stream offset n. Default: random. */
  seed?: number | bigint;
  backend?: BackendOption;
}

/** Seeded module form of noisedTopK: each call draws fresh noise (call n uses offset n). */
export class NoisedTopK {
  readonly options: Readonly<ModuleOptions & { axis: number }>;
  private readonly stream: NoiseStream;

  constructor(options: ModuleOptions & { axis?: number }) {
    const o = v.optionsObject('options', options);
    if (o.k === undefined) throw new TypeError('options.k is required (1 = the largest)');
    this.stream = new NoiseStream(o.seed as number | bigint | undefined);
    this.options = { ...(o as unknown as ModuleOptions), axis: (o.axis as number | undefined) ?? -1 };
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  apply(x: tf.Tensor): tf.Tensor {
    const { offset } = this.stream.next() as { offset: number };
    return noisedTopK(x, { ...this.options, seed: this.stream.seed, offset });
  }
}

/** Seeded module form of balNoisedTopKLoss (pytopk's BalNoisedTopK). */
export class BalNoisedTopK {
  readonly options: Readonly<ModuleOptions>;
  private readonly stream: NoiseStream;

  constructor(options: ModuleOptions) {
    const o = v.optionsObject('options', options);
    if (o.k === undefined) throw new TypeError('options.k is required');
    this.stream = new NoiseStream(o.seed as number | bigint | undefined);
    this.options = { ...(o as unknown as ModuleOptions) };
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  apply(scores: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    const { offset } = this.stream.next() as { offset: number };
    return balNoisedTopKLoss(scores, labels, { ...this.options, seed: this.stream.seed, offset });
  }
}

/** Seeded module form of imbalNoisedTopKLoss (pytopk's ImbalNoisedTopK), margins from class counts. */
export class ImbalNoisedTopK {
  readonly options: Readonly<ModuleOptions & { scale: number }>;
  readonly margins: Float32Array;
  private readonly stream: NoiseStream;

  constructor(options: ModuleOptions & { maxM: number; clsNumList: ArrayLike<number>; scale?: number }) {
    const o = v.optionsObject('options', options);
    if (o.k === undefined) throw new TypeError('options.k is required');
    if (o.maxM === undefined) throw new TypeError('options.maxM is required');
    if (o.clsNumList === undefined) throw new TypeError('options.clsNumList is required (the training count of each class)');
    this.margins = ldamMargins(o.clsNumList as ArrayLike<number>, o.maxM as number);
    this.stream = new NoiseStream(o.seed as number | bigint | undefined);
    this.options = { ...(o as unknown as ModuleOptions), scale: v.finiteNumber('scale', o.scale ?? 50) };
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  apply(scores: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    const { offset } = this.stream.next() as { offset: number };
    return imbalNoisedTopKLoss(scores, labels, { ...this.options, margins: this.margins, seed: this.stream.seed, offset });
  }
}

export { ldamMargins };

// ---- The top-k ops (docs/ops.md) as tfjs ops ----
import { perturbedTopK as perturbedTopKArrays, topk as topkArrays } from './ops.js';

export interface TfTopKOptions {
  /** Rank order (default); false: increasing index order. */
  sorted?: boolean;
  /** The k largest (default) or the k smallest. */
  largest?: boolean;
  backend?: BackendOption;
  allowNonFinite?: boolean;
}

/**
 * The k largest (or smallest) entries along the last axis, like tf.topk, but differentiable:
 * the gradient of `values` is dy scattered to the selected indices (zero elsewhere). Ties: the
 * lower index first; see docs/ops.md for NaN. `indices` is an int32 tensor (no gradient).
 */
export function topk(x: tf.Tensor, k = 1, options: TfTopKOptions = {}): { values: tf.Tensor; indices: tf.Tensor } {
  const o = v.strictOptions('options', options, ['sorted', 'largest', 'backend', 'allowNonFinite'] as const);
  if (!isTensor(x)) throw new TypeError(`x must be a tf.Tensor, got ${v.describe(x)}`);
  const r = topkArrays(floatData('x', x), x.shape.slice(), { k, dim: -1, ...o } as Parameters<typeof topkArrays>[2]);
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const xt = input as tf.Tensor;
    return {
      value: tf.tensor(r.values, r.shape, 'float32'),
      gradFunc: (dy: tf.Tensor) => tf.tensor(r.backward(floatData('dy', dy)), xt.shape, 'float32'),
    };
  });
  return { values: op(x), indices: tf.tensor(r.indices, r.shape, 'int32') };
}

export interface TfPerturbedTopKOptions {
  k: number;
  /** Noise scale (> 0). Default 1. */
  epsilon?: number;
  /** Noise samples (required). */
  nSample: number;
  /** Default -1. */
  axis?: number;
  /** Seed of the stream; absent: a fresh random seed per call (fresh noise at every step). */
  seed?: number | bigint;
  /** Call offset into the stream. Default 0. */
  offset?: number;
  backend?: BackendOption;
  allowNonFinite?: boolean;
}

/**
 * The perturbed top-k mask (Berthet et al. 2020) as a tfjs op: of x's shape, the mean over
 * nSample draws of the k-hot of the top-k set of x + epsilon * Z along `axis`; its gradient is
 * the Gaussian perturbed optimizer's VJP on the forward's own noise.
 */
export function perturbedTopK(x: tf.Tensor, options: TfPerturbedTopKOptions): tf.Tensor {
  const o = v.strictOptions('options', options, ['k', 'epsilon', 'nSample', 'axis', 'seed', 'offset', 'backend', 'allowNonFinite'] as const, {
    dim: "the tfjs ops take 'axis'",
    n_sample: "use 'nSample'",
  });
  if (!isTensor(x)) throw new TypeError(`x must be a tf.Tensor, got ${v.describe(x)}`);
  const { axis, ...rest } = o;
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const xt = input as tf.Tensor;
    const r = perturbedTopKArrays(floatData('x', xt), xt.shape.slice(), { ...rest, dim: axis ?? -1 } as Parameters<typeof perturbedTopKArrays>[2]);
    return {
      value: tf.tensor(r.mask, xt.shape, 'float32'),
      gradFunc: (dy: tf.Tensor) => tf.tensor(r.backward(floatData('dy', dy)), xt.shape, 'float32'),
    };
  });
  return op(x);
}

// ---- The smooth top-k SVM (Berrada et al. 2018) as a tfjs loss ----
import { smoothTopKSvmLoss as smoothTopKSvmArrays } from './svm.js';

export interface TfSmoothTopKSvmOptions {
  k: number;
  /** Default 1. */
  tau?: number;
  /** Default 1. */
  alpha?: number;
  /** 'exact' (default) or 'reference' (oval-group's gradient; see docs/ops.md). */
  gradient?: 'exact' | 'reference';
  backend?: BackendOption;
}

/** The smooth top-k SVM loss of scores [batch, classes] and int32 labels [batch]: a scalar, the mean over rows. */
export function smoothTopKSvmLoss(scores: tf.Tensor, labels: tf.Tensor, options: TfSmoothTopKSvmOptions): tf.Scalar {
  const o = v.strictOptions('options', options, ['k', 'tau', 'alpha', 'gradient', 'backend'] as const);
  if (!isTensor(scores)) throw new TypeError(`scores must be a tf.Tensor, got ${v.describe(scores)}`);
  const shape = scoresShape(scores);
  const y = labelData(labels, shape[0]);
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const r = smoothTopKSvmArrays(floatData('scores', input), y, shape, o as TfSmoothTopKSvmOptions);
    return {
      value: tf.scalar(r.loss, 'float32'),
      gradFunc: (dy: tf.Tensor) => tf.tensor(r.backward(floatData('dy', dy)[0]!), shape, 'float32'),
    };
  });
  return op(scores) as tf.Scalar;
}
