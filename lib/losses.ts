// The balanced and imbalanced smoothed top-k hinge losses (pytopk's BalNoisedTopK and
// ImbalNoisedTopK). The kernels give smoothtop_{k+1} per row and the sampled positions; the
// loss and its gradient are assembled here, identically for every backend.
import { resolveKernel, type BackendOption, type ForwardCall, type Kernel } from './kernel.js';
import {
  backwardCall,
  forwardCall,
  functionalSource,
  NoisedModule,
  planTopK,
  type NoiseSource,
  type TopKPlan,
} from './topk.js';
import * as v from './validate.js';

const fr = Math.fround;

/** LDAM margins m_j = maxM * n_j^(-1/4) / max_i n_i^(-1/4), computed in double then rounded to float32 as pytopk does. */
export function ldamMargins(clsNumList: ArrayLike<number>, maxM: number): Float32Array {
  const n = v.listLength('clsNumList', clsNumList, 'an array of class counts');
  v.finiteFloat32('maxM', maxM);
  if (maxM < 0) throw new RangeError(`maxM must be >= 0, got ${maxM}`);
  if (n === 0) throw new RangeError('clsNumList must not be empty');
  const m = new Float64Array(n);
  let max = 0;
  for (let j = 0; j < n; j++) {
    const c = clsNumList[j];
    if (typeof c !== 'number') throw new TypeError(`clsNumList[${j}] must be a number, got ${v.describe(c)}`);
    if (!Number.isFinite(c) || c <= 0) throw new RangeError(`clsNumList[${j}] must be a positive count, got ${v.describe(c)}`);
    m[j] = 1 / Math.sqrt(Math.sqrt(c));
    max = Math.max(max, m[j]!);
  }
  const factor = maxM / max;
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = m[j]! * factor;
  return out;
}

interface LossPlan {
  plan: TopKPlan;
  labels: Int32Array;
  /** scores[r, labels[r]], read when the call is made (an async call's scores may change meanwhile). */
  labelScores: Float32Array;
  /** Per-class margin; null for the balanced loss (margin 1, scale 1). */
  margins: Float32Array | null;
  scale: number;
}

function planLoss(
  kernel: Kernel,
  scores: unknown,
  labels: unknown,
  shape: unknown,
  k: unknown,
  epsilon: unknown,
  nSample: number,
  margins: Float32Array | null,
  scale: number,
): LossPlan {
  const s = v.float32Array('scores', scores);
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw new RangeError(`shape must be [batch, classes], got ${Array.isArray(shape) ? `[${shape.join(', ')}]` : v.describe(shape)}`);
  }
  const sh = v.shapeOf('shape', shape, s.length, 'scores');
  const [B, D] = sh as [number, number];
  if (B < 1) throw new RangeError('scores must hold at least one row');
  if (D < 2) throw new RangeError(`the losses need at least 2 classes (k + 1 <= classes), got ${D}`);
  if (typeof k !== 'number') throw new TypeError(`k must be a number, got ${v.describe(k)}`);
  if (!Number.isInteger(k) || k < 1 || k > D - 1) {
    throw new RangeError(`k must be an integer in [1, ${D - 1}] (k + 1 <= classes = ${D}), got ${v.describe(k)}`);
  }
  if (margins && margins.length !== D) {
    throw new RangeError(`margins has length ${margins.length}, expected ${D} (one per class)`);
  }
  const plan = planTopK(kernel, s, sh, 1, k + 1, epsilon, nSample);
  const ls = v.labelsOf(labels, B, D);
  const labelScores = new Float32Array(B);
  for (let r = 0; r < B; r++) labelScores[r] = plan.x[r * D + ls[r]!]!;
  return { plan, labels: ls, labelScores, margins, scale };
}

/** Output of a loss forward pass. */
export class LossResult {
  /** Mean over rows of the hinge. */
  readonly loss: number;
  /** Per-row hinge argument before relu (scaled for the imbalanced loss). */
  readonly margins: Float32Array;
  /** smoothtop_{k+1} of each row. */
  readonly topk: Float32Array;
  private readonly lp: LossPlan;
  private readonly positions: Int32Array;

  constructor(lp: LossPlan, call: ForwardCall) {
    this.lp = lp;
    this.positions = call.positions;
    this.topk = call.values;
    const { labels, labelScores, margins, scale } = lp;
    const B = labels.length;
    const t = new Float32Array(B);
    let sum = 0;
    for (let r = 0; r < B; r++) {
      const sy = labelScores[r]!;
      const top = call.values[r]!;
      // pytopk's order: (margin + top) - s_y, then times scale.
      t[r] = margins ? fr(scale * fr(fr(margins[labels[r]!]! + top) - sy)) : fr(fr(1 + top) - sy);
      sum = fr(sum + (t[r]! > 0 ? t[r]! : 0));
    }
    this.margins = t;
    this.loss = fr(sum / B);
  }

  private gradCall(gradLoss: unknown, out: unknown) {
    const gl = gradLoss === undefined ? 1 : v.finiteNumber('gradLoss', gradLoss);
    const { labels, margins, scale } = this.lp;
    const B = labels.length;
    // d mean / d row, then the scale of the imbalanced loss, as autograd would chain them.
    let g = fr(gl / B);
    if (margins) g = fr(g * scale);
    const rowScale = new Float32Array(B);
    for (let r = 0; r < B; r++) rowScale[r] = this.margins[r]! > 0 ? g : 0;
    return backwardCall(this.lp.plan, this.positions, rowScale, out);
  }

  private subtractLabels(grad: Float32Array, rowScale: Float32Array): Float32Array {
    const { labels } = this.lp;
    const D = this.lp.plan.d;
    for (let r = 0; r < labels.length; r++) {
      const at = r * D + labels[r]!;
      grad[at] = grad[at]! - rowScale[r]!;
    }
    return grad;
  }

  /** d(gradLoss * loss)/d scores, of shape [B, D]. */
  backward(gradLoss = 1, out?: Float32Array): Float32Array {
    const call = this.gradCall(gradLoss, out);
    this.lp.plan.kernel.backward(call);
    return this.subtractLabels(call.grad, call.rowScale);
  }

  async backwardAsync(gradLoss = 1, out?: Float32Array): Promise<Float32Array> {
    const call = this.gradCall(gradLoss, out);
    await this.lp.plan.kernel.backwardAsync(call);
    return this.subtractLabels(call.grad, call.rowScale);
  }
}

export interface BalNoisedTopKOptions {
  k: number;
  epsilon?: number;
  nSample?: number;
  seed?: number | bigint;
  backend?: BackendOption;
  allowNonFinite?: boolean;
}

export interface ImbalNoisedTopKOptions extends BalNoisedTopKOptions {
  maxM: number;
  clsNumList: ArrayLike<number>;
  scale?: number;
}

abstract class LossModule extends NoisedModule {
  constructor(o: Record<string, unknown>) {
    super(o, 2 ** 31 - 2, 'the loss uses smoothtop_{k+1}');
  }

  protected abstract marginsAndScale(): [Float32Array | null, number];

  private prepare(scores: unknown, labels: unknown, shape: unknown): [LossPlan, ForwardCall] {
    const [margins, scale] = this.marginsAndScale();
    const lp = planLoss(this.kernel, scores, labels, shape, this.k, this.epsilon, this.nSample, margins, scale);
    return [lp, forwardCall(lp.plan, this.stream.next(), undefined, this.allowNonFinite)];
  }

  /** Loss of scores [B, D] against integer labels; r.backward() gives d loss / d scores. */
  forward(scores: Float32Array, labels: Int32Array | number[], shape: [number, number] | number[]): LossResult {
    const [lp, call] = this.prepare(scores, labels, shape);
    lp.plan.kernel.forward(call);
    return new LossResult(lp, call);
  }

  async forwardAsync(scores: Float32Array, labels: Int32Array | number[], shape: [number, number] | number[]): Promise<LossResult> {
    const [lp, call] = this.prepare(scores, labels, shape);
    await lp.plan.kernel.forwardAsync(call);
    return new LossResult(lp, call);
  }
}

/** mean over rows of relu(1 + smoothtop_{k+1}(s) - s[label]). */
export class BalNoisedTopK extends LossModule {
  constructor(options: BalNoisedTopKOptions) {
    super(v.optionsObject('options', options));
  }

  protected marginsAndScale(): [Float32Array | null, number] {
    return [null, 1];
  }
}

/** mean over rows of relu(scale * (m[label] + smoothtop_{k+1}(s) - s[label])), LDAM margins m. */
export class ImbalNoisedTopK extends LossModule {
  readonly scale: number;
  readonly margins: Float32Array;

  constructor(options: ImbalNoisedTopKOptions) {
    const o = v.optionsObject('options', options);
    super(o);
    if (o.maxM === undefined) throw new TypeError('options.maxM is required');
    if (o.clsNumList === undefined) throw new TypeError('options.clsNumList is required (the training count of each class)');
    this.margins = ldamMargins(o.clsNumList as ArrayLike<number>, o.maxM as number);
    this.scale = v.finiteFloat32('scale', o.scale ?? 50);
  }

  protected marginsAndScale(): [Float32Array | null, number] {
    return [this.margins, this.scale];
  }
}

export interface FunctionalLossOptions {
  k: number;
  epsilon?: number;
  noise?: Float32Array;
  seed?: number | bigint;
  offset?: number;
  nSample?: number;
  backend?: BackendOption;
  allowNonFinite?: boolean;
}

export interface FunctionalImbalOptions extends FunctionalLossOptions {
  margins: Float32Array;
  scale?: number;
}

function functionalLoss(
  scores: unknown,
  labels: unknown,
  shape: unknown,
  options: unknown,
  imbalanced: boolean,
): [LossPlan, ForwardCall] {
  const o = v.optionsObject('options', options);
  if (o.k === undefined) throw new TypeError('options.k is required');
  const kernel = resolveKernel(v.backendOf(o.backend));
  let margins: Float32Array | null = null;
  let scale = 1;
  if (imbalanced) {
    if (o.margins === undefined) throw new TypeError('options.margins is required (see ldamMargins)');
    margins = v.float32Array('margins', o.margins);
    if (!o.allowNonFinite) v.allFinite('margins', margins);
    scale = v.finiteFloat32('scale', o.scale ?? 50);
  }
  const { source, nSample }: { source: NoiseSource; nSample: number } = functionalSource(o, scores);
  const lp = planLoss(kernel, scores, labels, shape, o.k, o.epsilon ?? 1.0, nSample, margins, scale);
  return [lp, forwardCall(lp.plan, source, undefined, Boolean(o.allowNonFinite))];
}

export function balNoisedTopKLoss(scores: Float32Array, labels: Int32Array | number[], shape: number[], options: FunctionalLossOptions): LossResult {
  const [lp, call] = functionalLoss(scores, labels, shape, options, false);
  lp.plan.kernel.forward(call);
  return new LossResult(lp, call);
}

export function imbalNoisedTopKLoss(scores: Float32Array, labels: Int32Array | number[], shape: number[], options: FunctionalImbalOptions): LossResult {
  const [lp, call] = functionalLoss(scores, labels, shape, options, true);
  lp.plan.kernel.forward(call);
  return new LossResult(lp, call);
}

export async function balNoisedTopKLossAsync(scores: Float32Array, labels: Int32Array | number[], shape: number[], options: FunctionalLossOptions): Promise<LossResult> {
  const [lp, call] = functionalLoss(scores, labels, shape, options, false);
  await lp.plan.kernel.forwardAsync(call);
  return new LossResult(lp, call);
}

export async function imbalNoisedTopKLossAsync(scores: Float32Array, labels: Int32Array | number[], shape: number[], options: FunctionalImbalOptions): Promise<LossResult> {
  const [lp, call] = functionalLoss(scores, labels, shape, options, true);
  await lp.plan.kernel.forwardAsync(call);
  return new LossResult(lp, call);
}
