// TensorFlow.js bridge (noised-topk/tfjs): the noised top-k and the two top-k losses as
// differentiable tfjs ops. Forward and backward run this package's kernels on the tensors'
// data (read with dataSync, so any tfjs backend works) and the results go back as new tensors.
// The forward pass keeps its sampled positions in the closure of the custom gradient, so the
// backward pass reuses the forward's noise exactly, as pytopk's autograd Function does.
import * as tf from '@tensorflow/tfjs-core';
import { conventionsOf, ldamMargins, warnDeprecated, type LossConventions, type Reduction } from './losses.js';
import {
  balNoisedTopKLoss as balLossArrays,
  imbalNoisedTopKLoss as imbalLossArrays,
  type LossResult,
} from './losses.js';
import { noisedTopK as noisedTopKArrays } from './topk.js';
import { NoiseStream } from './topk.js';
import type { BackendOption } from './kernel.js';
import type { SamplerName } from './lazy-sampler.js';
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
  /** The seeded sampler, 'lazy' | 'dense' (see NoisedTopKOptions.sampler). */
  sampler?: SamplerName;
}

export interface TfNoisedTopKOptions extends TfNoiseOptions {
  /** Rank of the value taken, 1 = the largest. */
  k: number;
  /** Noise scale. Default 1. */
  epsilon?: number;
  /** Axis reduced (tfjs's name; the plain API calls it dim); negative counts from the end. Default -1. */
  axis?: number;
}

/** The loss conventions on tensors: weight may be a float32 tensor of shape [classes]. */
export interface TfLossConventions<R extends Reduction = 'mean'> extends Omit<LossConventions<R>, 'weight'> {
  weight?: Float32Array | tf.Tensor;
}

export interface TfLossOptions<R extends Reduction = 'mean'> extends TfNoiseOptions, TfLossConventions<R> {
  k: number;
  epsilon?: number;
}

export interface TfImbalLossOptions<R extends Reduction = 'mean'> extends TfLossOptions<R> {
  /** Per-class margins (see ldamMargins). */
  margins: Float32Array;
  /** Default 50, pytopk's default. */
  scale?: number;
}

/** A loss op's output: a scalar for 'mean' and 'sum', the per-row losses [batch] for 'none'. */
export type TfLossTensor<R extends Reduction> = R extends 'none' ? tf.Tensor1D : tf.Scalar;

const NOISE_KEYS = ['noise', 'seed', 'offset', 'nSample', 'backend', 'sampler'] as const;
const CONVENTION_KEYS = ['reduction', 'weight', 'ignoreIndex'] as const;
const TOPK_OP_KEYS = ['k', 'epsilon', 'axis', ...NOISE_KEYS] as const;
const BAL_OP_KEYS = ['k', 'epsilon', ...NOISE_KEYS, ...CONVENTION_KEYS] as const;
const IMBAL_OP_KEYS = [...BAL_OP_KEYS, 'margins', 'scale'] as const;

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

/** The noise options of a record read once, with a tensor's noise as its data. */
function noiseOptions(o: Partial<Record<string, unknown>>): Record<string, unknown> {
  const noise = o.noise === undefined ? undefined : isTensor(o.noise) ? floatData('noise', o.noise) : o.noise;
  return { noise, seed: o.seed, offset: o.offset, nSample: o.nSample, backend: o.backend, sampler: o.sampler };
}

function conventionOptions(o: Partial<Record<string, unknown>>): Record<string, unknown> {
  const weight = o.weight === undefined ? undefined : isTensor(o.weight) ? floatData('weight', o.weight) : o.weight;
  return { reduction: o.reduction, weight, ignoreIndex: o.ignoreIndex };
}

/** Drops undefined entries: the array API reads what is set. */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) if (value !== undefined) out[key] = value;
  return out;
}

function scoresShape(scores: tf.Tensor): [number, number] {
  if (scores.rank !== 2)
    throw new RangeError(`scores must have rank 2 ([batch, classes]), got shape [${scores.shape.join(', ')}]`);
  return [scores.shape[0]!, scores.shape[1]!];
}

/**
 * Differentiable noised top-k along `axis`: the mean over nSample noise draws of the k-th
 * largest value of x + epsilon * Z. The output has x's shape without `axis`.
 */
export function noisedTopK(x: tf.Tensor, options: TfNoisedTopKOptions): tf.Tensor {
  const o = v.strictOptions('options', options, TOPK_OP_KEYS, v.TF_OPTION_HINTS);
  if (!isTensor(x)) throw new TypeError(`x must be a tf.Tensor, got ${v.describe(x)}`);
  const arrayOptions = defined({ ...noiseOptions(o), k: o.k, epsilon: o.epsilon, dim: o.axis ?? -1 });
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const xt = input as tf.Tensor;
    const r = noisedTopKArrays(floatData('x', xt), xt.shape.slice(), arrayOptions as never);
    return {
      value: tf.tensor(r.values, r.shape, 'float32'),
      gradFunc: (dy: tf.Tensor) => tf.tensor(r.backward(floatData('dy', dy)), xt.shape, 'float32'),
    };
  });
  return op(x);
}

/** The loss value as a tensor, and its gradient from dy (a scalar, or [batch] for 'none'). */
function lossOp<R extends Reduction>(
  scores: tf.Tensor,
  shape: [number, number],
  run: (s: Float32Array) => LossResult<Reduction>,
): TfLossTensor<R> {
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const r = run(floatData('scores', input));
    const none = r.reduction === 'none';
    return {
      value: none ? tf.tensor1d(r.losses, 'float32') : tf.scalar(r.loss as number, 'float32'),
      gradFunc: (dy: tf.Tensor) => {
        const g = floatData('dy', dy);
        return tf.tensor((r as LossResult<Reduction>).backward((none ? g : g[0]!) as never), shape, 'float32');
      },
    };
  });
  return op(scores) as TfLossTensor<R>;
}

/** Balanced top-k hinge relu(1 + smoothtop_{k+1}(s) - s[label]) per row, reduced by `reduction` (default: mean, a scalar). */
export function balNoisedTopKLoss<R extends Reduction = 'mean'>(
  scores: tf.Tensor,
  labels: tf.Tensor,
  options: TfLossOptions<R>,
): TfLossTensor<R> {
  const o = v.strictOptions('options', options, BAL_OP_KEYS, v.TF_OPTION_HINTS);
  if (!isTensor(scores)) throw new TypeError(`scores must be a tf.Tensor, got ${v.describe(scores)}`);
  const shape = scoresShape(scores);
  const y = labelData(labels, shape[0]);
  const arrayOptions = defined({ ...noiseOptions(o), ...conventionOptions(o), k: o.k, epsilon: o.epsilon });
  return lossOp<R>(scores, shape, (s) => balLossArrays(s, y, shape, arrayOptions as never));
}

/** Imbalanced top-k hinge relu(scale * (m[label] + smoothtop_{k+1}(s) - s[label])) per row, reduced by `reduction`. */
export function imbalNoisedTopKLoss<R extends Reduction = 'mean'>(
  scores: tf.Tensor,
  labels: tf.Tensor,
  options: TfImbalLossOptions<R>,
): TfLossTensor<R> {
  const o = v.strictOptions('options', options, IMBAL_OP_KEYS, v.TF_OPTION_HINTS);
  if (!isTensor(scores)) throw new TypeError(`scores must be a tf.Tensor, got ${v.describe(scores)}`);
  const shape = scoresShape(scores);
  const y = labelData(labels, shape[0]);
  const arrayOptions = defined({
    ...noiseOptions(o),
    ...conventionOptions(o),
    k: o.k,
    epsilon: o.epsilon,
    margins: o.margins,
    scale: o.scale,
  });
  return lossOp<R>(scores, shape, (s) => imbalLossArrays(s, y, shape, arrayOptions as never));
}

interface ModuleOptions {
  k: number;
  epsilon?: number;
  nSample?: number;
  /** Seed of the noise stream; call n uses stream offset n. Default: random. */
  seed?: number | bigint;
  backend?: BackendOption;
  /** The seeded sampler, 'lazy' | 'dense' (see NoisedTopKOptions.sampler). */
  sampler?: SamplerName;
}

const MODULE_KEYS = ['k', 'epsilon', 'nSample', 'seed', 'backend', 'sampler'] as const;

/** The module options every class checks at construction (k's upper bound needs the data). */
function checkModule(o: Partial<Record<string, unknown>>, kMax: number): ModuleOptions {
  if (o.k === undefined) throw new TypeError('options.k is required (1 = the largest)');
  const k = v.integer('k', o.k, 1, kMax);
  const epsilon = v.epsilonValue('epsilon', o.epsilon ?? 1);
  const nSample = v.integer('nSample', o.nSample ?? 5, 1, v.MAX_SAMPLES);
  const backend = v.backendOf(o.backend);
  const sampler = v.samplerOf(o.sampler);
  return sampler === undefined ? { k, epsilon, nSample, backend } : { k, epsilon, nSample, backend, sampler };
}

/** A module's loss conventions, checked once; a weight is copied (a tensor's data too). */
function moduleConventions<R extends Reduction>(
  o: Partial<Record<string, unknown>>,
): TfLossConventions<R> & { weight?: Float32Array } {
  const c = conventionsOf(conventionOptions(o), true);
  const out: TfLossConventions<R> & { weight?: Float32Array } = { reduction: c.reduction as R };
  if (c.weight) out.weight = c.weight;
  if (c.ignoreIndex !== null) out.ignoreIndex = c.ignoreIndex;
  return out;
}

/** Seeded module form of noisedTopK: each call draws fresh noise (call n uses offset n). */
export class NoisedTopK {
  readonly options: Readonly<ModuleOptions & { axis: number }>;
  private readonly stream: NoiseStream;

  constructor(options: ModuleOptions & { axis?: number }) {
    const o = v.strictOptions('options', options, [...MODULE_KEYS, 'axis'] as const, v.TF_OPTION_HINTS);
    const m = checkModule(o, 2 ** 31 - 1);
    const axis = v.integer('axis', o.axis ?? -1, -(2 ** 31), 2 ** 31 - 1);
    this.stream = new NoiseStream(o.seed as number | bigint | undefined);
    this.options = { ...m, axis };
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
export class BalNoisedTopK<R extends Reduction = 'mean'> {
  readonly options: Readonly<ModuleOptions & TfLossConventions<R>>;
  private readonly stream: NoiseStream;

  constructor(options: ModuleOptions & TfLossConventions<R>) {
    const o = v.strictOptions('options', options, [...MODULE_KEYS, ...CONVENTION_KEYS] as const, v.TF_OPTION_HINTS);
    const m = checkModule(o, 2 ** 31 - 2);
    const conv = moduleConventions<R>(o);
    this.stream = new NoiseStream(o.seed as number | bigint | undefined);
    this.options = { ...m, ...conv };
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  apply(scores: tf.Tensor, labels: tf.Tensor): TfLossTensor<R> {
    const { offset } = this.stream.next() as { offset: number };
    return balNoisedTopKLoss<R>(scores, labels, { ...this.options, seed: this.stream.seed, offset });
  }
}

/** Seeded module form of imbalNoisedTopKLoss (pytopk's ImbalNoisedTopK), class margins from class counts. */
export class ImbalNoisedTopK<R extends Reduction = 'mean'> {
  readonly options: Readonly<ModuleOptions & TfLossConventions<R> & { scale: number }>;
  /** The LDAM margin of each class, ldamMargins(clsNumList, maxM): larger for rarer classes. */
  readonly classMargins: Float32Array;
  private readonly stream: NoiseStream;

  /** @deprecated Renamed `classMargins`. This alias returns the same array and is kept for one release. */
  get margins(): Float32Array {
    warnDeprecated('ImbalNoisedTopK.margins', 'classMargins');
    return this.classMargins;
  }

  constructor(
    options: ModuleOptions & TfLossConventions<R> & { maxM: number; clsNumList: ArrayLike<number>; scale?: number },
  ) {
    const o = v.strictOptions(
      'options',
      options,
      [...MODULE_KEYS, ...CONVENTION_KEYS, 'maxM', 'clsNumList', 'scale'] as const,
      v.TF_OPTION_HINTS,
    );
    const m = checkModule(o, 2 ** 31 - 2);
    if (o.maxM === undefined) throw new TypeError('options.maxM is required');
    if (o.clsNumList === undefined)
      throw new TypeError('options.clsNumList is required (the training count of each class)');
    this.classMargins = ldamMargins(o.clsNumList as ArrayLike<number>, o.maxM as number);
    const scale = v.float32AtLeast('scale', o.scale ?? 50, true);
    const conv = moduleConventions<R>(o);
    if (conv.weight && conv.weight.length !== this.classMargins.length) {
      throw new RangeError(
        `weight has length ${conv.weight.length}, expected ${this.classMargins.length} (one per class of clsNumList)`,
      );
    }
    this.stream = new NoiseStream(o.seed as number | bigint | undefined);
    this.options = { ...m, ...conv, scale };
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  apply(scores: tf.Tensor, labels: tf.Tensor): TfLossTensor<R> {
    const { offset } = this.stream.next() as { offset: number };
    return imbalNoisedTopKLoss<R>(scores, labels, {
      ...this.options,
      margins: this.classMargins,
      seed: this.stream.seed,
      offset,
    });
  }
}

export { ldamMargins };
export type { Reduction };

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
  const o = v.strictOptions(
    'options',
    options,
    ['k', 'epsilon', 'nSample', 'axis', 'seed', 'offset', 'backend', 'allowNonFinite'] as const,
    {
      dim: "the tfjs ops take 'axis'",
      n_sample: "use 'nSample'",
    },
  );
  if (!isTensor(x)) throw new TypeError(`x must be a tf.Tensor, got ${v.describe(x)}`);
  const { axis, ...rest } = o;
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const xt = input as tf.Tensor;
    const r = perturbedTopKArrays(floatData('x', xt), xt.shape.slice(), { ...rest, dim: axis ?? -1 } as Parameters<
      typeof perturbedTopKArrays
    >[2]);
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
