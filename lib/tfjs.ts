// TensorFlow.js bridge (noised-topk/tfjs): the noised top-k and the two top-k losses as
// differentiable tfjs ops. Forward and backward run this package's kernels on the tensors'
// data (read with dataSync, so any tfjs backend works) and the results go back as new tensors.
// The forward pass keeps its sampled positions in the closure of the custom gradient, so the
// backward pass reuses the forward's noise exactly, as pytopk's autograd Function does.
import * as tf from '@tensorflow/tfjs-core';
import {
  conventionsOf,
  ldamMargins,
  warnDeprecated,
  type LossConventions,
  type LossStandardError,
  type Reduction,
} from './losses.js';
import {
  balNoisedTopKLoss as balLossArrays,
  imbalNoisedTopKLoss as imbalLossArrays,
  type LossResult,
} from './losses.js';
import { noisedTopK as noisedTopKArrays } from './topk.js';
import { NoiseStream } from './topk.js';
import type { BackendOption } from './kernel.js';
import type { SamplerName } from './lazy-sampler.js';
import { type OptionSet, type OptionsOf, parseOptions, TF_SETS } from './options.js';
import * as v from './validate.js';

/** noise as a Float32Array, or a float32 tensor of the same layout. */
type TfNoise = { noise?: Float32Array | tf.Tensor };

/**
 * The options of the tfjs noisedTopK, declared once in lib/options.ts (TF_SETS.noisedTopK: the
 * plain functional set with `axis` for `dim`): k (required), epsilon, nSample, axis, noise, seed,
 * offset, backend, allowNonFinite, sampler.
 */
export interface TfNoisedTopKOptions extends Omit<OptionsOf<typeof TF_SETS.noisedTopK>, 'noise'>, TfNoise {}

/** Where the noise of one call comes from: explicit values, or a seeded stream at an offset. */
export type TfNoiseOptions = Omit<TfNoisedTopKOptions, 'k' | 'epsilon' | 'axis'>;

/** The loss conventions on tensors: weight may be a float32 tensor of shape [classes]. */
export interface TfLossConventions<R extends Reduction = 'mean'> extends Omit<LossConventions<R>, 'weight'> {
  weight?: Float32Array | tf.Tensor;
}

/** The options of the tfjs balNoisedTopKLoss (TF_SETS.balNoisedTopKLoss, the plain functional set). */
export interface TfLossOptions<R extends Reduction = 'mean'>
  extends Omit<OptionsOf<typeof TF_SETS.balNoisedTopKLoss>, 'noise' | 'reduction' | 'weight'>,
    TfNoise,
    TfLossConventions<R> {}

/** The options of the tfjs imbalNoisedTopKLoss (TF_SETS.imbalNoisedTopKLoss): the balanced loss's, plus margins and scale. */
export interface TfImbalLossOptions<R extends Reduction = 'mean'>
  extends Omit<OptionsOf<typeof TF_SETS.imbalNoisedTopKLoss>, 'noise' | 'reduction' | 'weight'>,
    TfNoise,
    TfLossConventions<R> {}

/** A loss op's output: a scalar for 'mean' and 'sum', the per-row losses [batch] for 'none'. */
export type TfLossTensor<R extends Reduction> = R extends 'none' ? tf.Tensor1D : tf.Scalar;

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

/** A parsed record as the array API's options: a tensor's data for `noise` and `weight`, undefined entries dropped. */
function arrayOptions(o: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) {
    if (value === undefined) continue;
    out[key] = (key === 'noise' || key === 'weight') && isTensor(value) ? floatData(key, value) : value;
  }
  return out;
}

function scoresShape(scores: tf.Tensor): [number, number] {
  if (scores.rank !== 2)
    throw new RangeError(`scores must have rank 2 ([batch, classes]), got shape [${scores.shape.join(', ')}]`);
  return [scores.shape[0]!, scores.shape[1]!];
}

/** The plain result of the op running now, for the module form's standardError (set by its apply). */
let onResult: ((r: { standardError: number | Float32Array }) => void) | null = null;

/** Runs f with onResult set, and gives the standard error of the result it computed. */
function capturing<T>(f: () => T): [T, number | Float32Array | null] {
  let se: number | Float32Array | null = null;
  const outer = onResult;
  onResult = (r) => {
    se = r.standardError;
  };
  try {
    return [f(), se];
  } finally {
    onResult = outer;
  }
}

/**
 * Labels from the targets tfjs-layers passes a loss (`model.compile({ loss })` calls it with
 * (yTrue, yPred)): one-hot (or probability) targets [batch, classes] give their argmax; sparse
 * targets [batch] or [batch, 1] (float, as tfjs-layers casts them) must hold integers.
 */
function labelsFromTargets(yTrue: unknown, shape: [number, number]): tf.Tensor1D {
  if (!isTensor(yTrue)) throw new TypeError(`yTrue must be a tf.Tensor, got ${v.describe(yTrue)}`);
  const [B, D] = shape;
  const s = yTrue.shape;
  if (yTrue.rank === 2 && s[0] === B && s[1] === D && D > 1) return tf.argMax(yTrue, 1) as tf.Tensor1D;
  if ((yTrue.rank === 1 && s[0] === B) || (yTrue.rank === 2 && s[0] === B && s[1] === 1)) {
    const data = yTrue.dataSync();
    for (let i = 0; i < data.length; i++) {
      if (!Number.isInteger(data[i])) {
        throw new RangeError(`yTrue[${i}] must be an integer class index (sparse targets), got ${v.describe(data[i])}`);
      }
    }
    return tf.tensor1d(Int32Array.from(data), 'int32');
  }
  throw new RangeError(
    `yTrue must have shape [${B}, ${D}] (one-hot) or [${B}] / [${B}, 1] (class indices), got [${s.join(', ')}]`,
  );
}

/** The loss of a module form as tfjs-layers wants it: (yTrue, yPred) => a scalar tensor. */
function asLayersLoss(apply: (scores: tf.Tensor, labels: tf.Tensor) => tf.Tensor) {
  return (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor => {
    if (!isTensor(yPred)) throw new TypeError(`yPred must be a tf.Tensor, got ${v.describe(yPred)}`);
    const labels = labelsFromTargets(yTrue, scoresShape(yPred));
    try {
      return apply(yPred, labels);
    } finally {
      labels.dispose();
    }
  };
}

/**
 * Differentiable noised top-k along `axis`: the mean over nSample noise draws of the k-th
 * largest value of x + epsilon * Z. The output has x's shape without `axis`.
 */
export function noisedTopK(x: tf.Tensor, options: TfNoisedTopKOptions): tf.Tensor {
  const { axis, ...o } = parseOptions('options', options, TF_SETS.noisedTopK, v.TF_OPTION_HINTS);
  if (!isTensor(x)) throw new TypeError(`x must be a tf.Tensor, got ${v.describe(x)}`);
  const plain = { ...arrayOptions(o), dim: axis };
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const xt = input as tf.Tensor;
    const r = noisedTopKArrays(floatData('x', xt), xt.shape.slice(), plain as never);
    onResult?.(r);
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
    onResult?.(r);
    const none = r.reduction === 'none';
    return {
      value: none ? tf.tensor1d(r.rowLosses, 'float32') : tf.scalar(r.loss as number, 'float32'),
      gradFunc: (dy: tf.Tensor) => {
        const g = floatData('dy', dy);
        return tf.tensor((r as LossResult<Reduction>).backward((none ? g : g[0]!) as never), shape, 'float32');
      },
    };
  });
  return op(scores) as TfLossTensor<R>;
}

/**
 * A tfjs loss op: the options parsed by their declared set, scores and labels checked, and the
 * array form of the loss run as a customGrad.
 */
function tfLoss<R extends Reduction>(
  scores: tf.Tensor,
  labels: tf.Tensor,
  options: unknown,
  set: OptionSet,
  arrays: (scores: Float32Array, labels: Int32Array, shape: number[], options: never) => LossResult<Reduction>,
): TfLossTensor<R> {
  const o = parseOptions('options', options, set, v.TF_OPTION_HINTS);
  if (!isTensor(scores)) throw new TypeError(`scores must be a tf.Tensor, got ${v.describe(scores)}`);
  const shape = scoresShape(scores);
  const y = labelData(labels, shape[0]);
  const plain = arrayOptions(o);
  return lossOp<R>(scores, shape, (s) => arrays(s, y, shape, plain as never));
}

/** Balanced top-k hinge relu(1 + smoothtop_{k+1}(s) - s[label]) per row, reduced by `reduction` (default: mean, a scalar). */
export function balNoisedTopKLoss<R extends Reduction = 'mean'>(
  scores: tf.Tensor,
  labels: tf.Tensor,
  options: TfLossOptions<R>,
): TfLossTensor<R> {
  return tfLoss<R>(scores, labels, options, TF_SETS.balNoisedTopKLoss, balLossArrays);
}

/** Imbalanced top-k hinge relu(scale * (m[label] + smoothtop_{k+1}(s) - s[label])) per row, reduced by `reduction`. */
export function imbalNoisedTopKLoss<R extends Reduction = 'mean'>(
  scores: tf.Tensor,
  labels: tf.Tensor,
  options: TfImbalLossOptions<R>,
): TfLossTensor<R> {
  return tfLoss<R>(scores, labels, options, TF_SETS.imbalNoisedTopKLoss, imbalLossArrays);
}

/** A module's loss conventions, checked once; a weight is copied (a tensor's data too). */
function moduleConventions<R extends Reduction>(
  o: Readonly<Record<string, unknown>>,
): TfLossConventions<R> & { weight?: Float32Array } {
  const c = conventionsOf(arrayOptions({ reduction: o.reduction, weight: o.weight, ignoreIndex: o.ignoreIndex }), true);
  const out: TfLossConventions<R> & { weight?: Float32Array } = { reduction: c.reduction as R };
  if (c.weight) out.weight = c.weight;
  if (c.ignoreIndex !== null) out.ignoreIndex = c.ignoreIndex;
  return out;
}

/** The noise options a module passes to each call, as checked (defaults in place; no seed: the stream's). */
type ModuleOptions = Omit<OptionsOf<typeof TF_SETS.NoisedTopK>, 'axis' | 'seed'>;

/** The module options checked once; k's upper bound needs the data. */
function moduleOptions(o: Readonly<Record<string, unknown>>): Required<Omit<ModuleOptions, 'sampler'>> & ModuleOptions {
  const m = {
    k: o.k as number,
    epsilon: o.epsilon as number,
    nSample: o.nSample as number,
    backend: o.backend as BackendOption,
    allowNonFinite: o.allowNonFinite as boolean,
  };
  return o.sampler === undefined ? m : { ...m, sampler: o.sampler as SamplerName };
}

/** Seeded module form of noisedTopK: each call draws fresh noise (call n uses offset n). */
export class NoisedTopK {
  readonly options: Readonly<ModuleOptions & { axis: number }>;
  private readonly stream: NoiseStream;

  /** The options of TF_SETS.NoisedTopK (lib/options.ts): NoisedTopK's, with `axis` for `dim`. */
  constructor(options: OptionsOf<typeof TF_SETS.NoisedTopK>) {
    const o = parseOptions('options', options, TF_SETS.NoisedTopK, v.TF_OPTION_HINTS);
    this.stream = new NoiseStream(o.seed);
    this.options = { ...moduleOptions(o), axis: o.axis };
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  private se: Float32Array | null = null;

  /**
   * The Monte-Carlo standard error of the last apply's values (flat, the values' shape): as
   * NoisedTopKResult.standardError. null before the first call.
   */
  get standardError(): Float32Array | null {
    return this.se;
  }

  /**
   * noisedTopK(x, options) with the next offset of this object's noise stream: each call draws
   * fresh noise, and a run with the same seed replays. Differentiable (tf.grad, minimize).
   */
  apply(x: tf.Tensor): tf.Tensor {
    const { offset } = this.stream.next() as { offset: number };
    const [y, se] = capturing(() => noisedTopK(x, { ...this.options, seed: this.stream.seed, offset }));
    this.se = se as Float32Array | null;
    return y;
  }
}

/** Seeded module form of balNoisedTopKLoss (pytopk's BalNoisedTopK). */
export class BalNoisedTopK<R extends Reduction = 'mean'> {
  readonly options: Readonly<ModuleOptions & TfLossConventions<R>>;
  private readonly stream: NoiseStream;

  /** The options of TF_SETS.BalNoisedTopK (lib/options.ts); weight may be a tensor. */
  constructor(options: Omit<OptionsOf<typeof TF_SETS.BalNoisedTopK>, 'reduction' | 'weight'> & TfLossConventions<R>) {
    const o = parseOptions('options', options, TF_SETS.BalNoisedTopK, v.TF_OPTION_HINTS);
    const conv = moduleConventions<R>(o);
    this.stream = new NoiseStream(o.seed);
    this.options = { ...moduleOptions(o), ...conv };
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  private se: LossStandardError<R> | null = null;

  /**
   * The Monte-Carlo standard error of the last apply's loss, as LossResult.standardError: a
   * number for 'mean' and 'sum', one per row for 'none'. null before the first call.
   */
  get standardError(): LossStandardError<R> | null {
    return this.se;
  }

  /**
   * The loss of scores [B, C] against integer labels [B], with the next offset of this object's
   * noise stream (fresh noise each call, replayable by seed). Differentiable w.r.t. scores.
   */
  apply(scores: tf.Tensor, labels: tf.Tensor): TfLossTensor<R> {
    const { offset } = this.stream.next() as { offset: number };
    const [loss, se] = capturing(() =>
      balNoisedTopKLoss<R>(scores, labels, { ...this.options, seed: this.stream.seed, offset }),
    );
    this.se = se as LossStandardError<R> | null;
    return loss;
  }

  /**
   * This loss as tfjs-layers takes it, `model.compile({ optimizer, loss: criterion.asLoss() })`:
   * called with (yTrue, yPred), one-hot targets [batch, classes] or class indices [batch] /
   * [batch, 1]; each training step draws fresh noise (the module's stream advances per call).
   */
  asLoss(): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
    return asLayersLoss((s, y) => this.apply(s, y));
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

  /** The options of TF_SETS.ImbalNoisedTopK (lib/options.ts); weight may be a tensor. */
  constructor(options: Omit<OptionsOf<typeof TF_SETS.ImbalNoisedTopK>, 'reduction' | 'weight'> & TfLossConventions<R>) {
    const o = parseOptions('options', options, TF_SETS.ImbalNoisedTopK, v.TF_OPTION_HINTS);
    this.classMargins = ldamMargins(o.clsNumList as ArrayLike<number>, o.maxM as number);
    const scale = o.scale;
    const conv = moduleConventions<R>(o);
    if (conv.weight && conv.weight.length !== this.classMargins.length) {
      throw new RangeError(
        `weight has length ${conv.weight.length}, expected ${this.classMargins.length} (one per class of clsNumList)`,
      );
    }
    this.stream = new NoiseStream(o.seed);
    this.options = { ...moduleOptions(o), ...conv, scale };
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  /**
   * The loss of scores [B, C] against integer labels [B], with the next offset of this object's
   * noise stream (fresh noise each call, replayable by seed). Differentiable w.r.t. scores.
   */
  apply(scores: tf.Tensor, labels: tf.Tensor): TfLossTensor<R> {
    // Named here: the functional op would name its own option, margins, which this caller never gave.
    if (isTensor(scores) && scores.rank === 2 && scores.shape[1] !== this.classMargins.length) {
      throw new RangeError(
        `clsNumList has ${this.classMargins.length} classes, expected ${scores.shape[1]} (scores has shape [${scores.shape.join(', ')}])`,
      );
    }
    const { offset } = this.stream.next() as { offset: number };
    const [loss, se] = capturing(() =>
      imbalNoisedTopKLoss<R>(scores, labels, {
        ...this.options,
        margins: this.classMargins,
        seed: this.stream.seed,
        offset,
      }),
    );
    this.se = se as LossStandardError<R> | null;
    return loss;
  }

  private se: LossStandardError<R> | null = null;

  /**
   * The Monte-Carlo standard error of the last apply's loss, as LossResult.standardError: a
   * number for 'mean' and 'sum', one per row for 'none'. null before the first call.
   */
  get standardError(): LossStandardError<R> | null {
    return this.se;
  }

  /**
   * This loss as tfjs-layers takes it, `model.compile({ optimizer, loss: criterion.asLoss() })`:
   * called with (yTrue, yPred), one-hot targets [batch, classes] or class indices [batch] /
   * [batch, 1]; each training step draws fresh noise (the module's stream advances per call).
   */
  asLoss(): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
    return asLayersLoss((s, y) => this.apply(s, y));
  }
}

export { ldamMargins };
export type { Reduction };

// ---- The top-k ops (docs/ops.md) as tfjs ops ----
import { perturbedTopK as perturbedTopKArrays, topk as topkArrays } from './ops.js';

/** The options of the tfjs topk (TF_SETS.topk: the plain topk's, without k, dim and the outputs): sorted, largest, backend, allowNonFinite. */
export interface TfTopKOptions extends OptionsOf<typeof TF_SETS.topk> {}

/**
 * The k largest (or smallest) entries along the last axis, like tf.topk, but differentiable:
 * the gradient of `values` is dy scattered to the selected indices (zero elsewhere). Ties: the
 * lower index first; see docs/ops.md for NaN. `indices` is an int32 tensor (no gradient).
 */
export function topk(x: tf.Tensor, k = 1, options: TfTopKOptions = {}): { values: tf.Tensor; indices: tf.Tensor } {
  const o = arrayOptions(parseOptions('options', options, TF_SETS.topk, v.TF_OPTION_HINTS));
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

/**
 * The options of the tfjs perturbedTopK (TF_SETS.perturbedTopK: the plain functional set with
 * `axis` for `dim`): k and nSample (required), epsilon (> 0, default 1), axis, seed, offset,
 * backend, allowNonFinite.
 */
export interface TfPerturbedTopKOptions extends OptionsOf<typeof TF_SETS.perturbedTopK> {}

/**
 * The perturbed top-k mask (Berthet et al. 2020) as a tfjs op: of x's shape, the mean over
 * nSample draws of the k-hot of the top-k set of x + epsilon * Z along `axis`; its gradient is
 * the Gaussian perturbed optimizer's VJP on the forward's own noise.
 */
export function perturbedTopK(x: tf.Tensor, options: TfPerturbedTopKOptions): tf.Tensor {
  const { axis, ...o } = parseOptions('options', options, TF_SETS.perturbedTopK, v.TF_OPTION_HINTS);
  if (!isTensor(x)) throw new TypeError(`x must be a tf.Tensor, got ${v.describe(x)}`);
  const rest = arrayOptions(o);
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const xt = input as tf.Tensor;
    const r = perturbedTopKArrays(floatData('x', xt), xt.shape.slice(), { ...rest, dim: axis } as Parameters<
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

/** The options of the tfjs smooth top-k SVM (TF_SETS.smoothTopKSvm, the plain API's set). */
export interface TfSmoothTopKSvmOptions extends OptionsOf<typeof TF_SETS.smoothTopKSvm> {}

/** The smooth top-k SVM loss of scores [batch, classes] and int32 labels [batch]: a scalar, the mean over rows. */
export function smoothTopKSvmLoss(scores: tf.Tensor, labels: tf.Tensor, options: TfSmoothTopKSvmOptions): tf.Scalar {
  const o = arrayOptions(parseOptions('options', options, TF_SETS.smoothTopKSvm, v.TF_OPTION_HINTS));
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
