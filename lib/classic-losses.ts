// Cross-entropy, focal and LDAM losses on scores [batch, classes], with their gradients.
// They are the baselines of the paper's experiments. Every row is computed in double precision
// from a stable log-softmax (shifted by the row maximum) and the results are returned as
// float32, like the top-k losses.
import { ldamMargins } from './losses.js';
import { defaultOf, FIELDS, type OptionsOf, parseOptions, SETS } from './options.js';
import * as v from './validate.js';

/** A loss value with its gradient with respect to the scores. */
export class ClassicLossResult {
  /** Mean over rows. */
  readonly loss: number;
  /** Per-row loss. */
  readonly rowLosses: Float32Array;
  private readonly grad: Float64Array;

  constructor(rowLosses: Float64Array, grad: Float64Array) {
    let sum = 0;
    for (let r = 0; r < rowLosses.length; r++) sum += rowLosses[r]!;
    this.rowLosses = Float32Array.from(rowLosses);
    this.loss = Math.fround(sum / rowLosses.length);
    this.grad = grad;
  }

  /** d(gradOutput * loss)/d scores, of shape [batch, classes]. */
  backward(gradOutput = 1, out?: Float32Array): Float32Array {
    return v.scaledGradient(gradOutput, this.grad, out);
  }
}

interface Rows {
  scores: Float32Array;
  labels: Int32Array;
  b: number;
  d: number;
}

function rows(scores: unknown, labels: unknown, shape: unknown): Rows {
  // Read order (validate.ts, Snapshots): shape and labels copied, then the view.
  const sh = v.shapeSnapshot('shape', shape);
  const ls = v.labelsSnapshot(labels);
  const s = v.float32Array('scores', scores);
  if (sh.length !== 2) throw new RangeError(`shape must be [batch, classes], got [${sh.join(', ')}]`);
  const [b, d] = v.shapeOf('shape', sh, s.length, 'scores') as [number, number];
  if (b < 1) throw new RangeError('scores must hold at least one row');
  if (d < 1) throw new RangeError('scores must hold at least one class');
  v.allFinite('scores', s);
  return { scores: s, labels: v.labelsFrom(ls, b, d), b, d };
}

/**
 * For each row, z_j = scale * (s_j - [j = y] * margin_y): the log-softmax of z goes to logp and
 * its softmax to p. Returns log p_y per row.
 */
function logSoftmaxRows(r: Rows, scale: number, margins: Float32Array | null, p: Float64Array): Float64Array {
  const { scores, labels, b, d } = r;
  const logpy = new Float64Array(b);
  const z = new Float64Array(d);
  for (let i = 0; i < b; i++) {
    const y = labels[i]!;
    let max = -Infinity;
    for (let j = 0; j < d; j++) {
      let s = scores[i * d + j]!;
      if (margins && j === y) s -= margins[y]!;
      z[j] = scale * s;
      if (z[j]! > max) max = z[j]!;
    }
    let sum = 0;
    for (let j = 0; j < d; j++) sum += Math.exp(z[j]! - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < d; j++) p[i * d + j] = Math.exp(z[j]! - lse);
    logpy[i] = z[y]! - lse;
  }
  return logpy;
}

/** mean over rows of -log softmax(s)[y]. */
export function crossEntropyLoss(
  scores: Float32Array,
  labels: Int32Array | number[],
  shape: [number, number] | number[],
): ClassicLossResult {
  const r = rows(scores, labels, shape);
  const grad = new Float64Array(r.b * r.d);
  const logpy = logSoftmaxRows(r, 1, null, grad);
  const loss = new Float64Array(r.b);
  for (let i = 0; i < r.b; i++) {
    loss[i] = -logpy[i]!;
    // d/ds_j = (p_j - [j = y]) / batch
    for (let j = 0; j < r.d; j++) grad[i * r.d + j] = grad[i * r.d + j]! / r.b;
    grad[i * r.d + r.labels[i]!]! -= 1 / r.b;
  }
  return new ClassicLossResult(loss, grad);
}

/** The options of focalLoss (SETS.focalLoss in lib/options.ts): gamma, the focusing parameter (>= 0; 0 gives cross-entropy; default 2). */
export interface FocalLossOptions extends OptionsOf<typeof SETS.focalLoss> {}

/** Focal loss (Lin et al. 2017) without class weights: mean over rows of -(1 - p_y)^gamma log p_y. */
export function focalLoss(
  scores: Float32Array,
  labels: Int32Array | number[],
  shape: [number, number] | number[],
  options: FocalLossOptions = {},
): ClassicLossResult {
  const { gamma } = parseOptions('options', options, SETS.focalLoss);
  const r = rows(scores, labels, shape);
  const grad = new Float64Array(r.b * r.d);
  const logpy = logSoftmaxRows(r, 1, null, grad);
  const loss = new Float64Array(r.b);
  for (let i = 0; i < r.b; i++) {
    const lp = logpy[i]!;
    const py = Math.exp(lp);
    // 1 - p_y from log p_y keeps its relative precision when p_y is close to 1.
    const q = -Math.expm1(lp);
    const qg = gamma === 0 ? 1 : q ** gamma;
    loss[i] = -qg * lp;
    // dL/dp_y = gamma q^(gamma-1) log p_y - q^gamma / p_y, and dp_y/ds_j = p_y ([j = y] - p_j);
    // the product is written as c * ([j = y] - p_j) with c = gamma q^(gamma-1) p_y log p_y - q^gamma,
    // whose first term tends to 0 as q -> 0 for every gamma > 0.
    const first = gamma === 0 || q === 0 ? 0 : gamma * q ** (gamma - 1) * py * lp;
    const c = (first - qg) / r.b;
    const y = r.labels[i]!;
    for (let j = 0; j < r.d; j++) {
      const at = i * r.d + j;
      grad[at] = c * ((j === y ? 1 : 0) - grad[at]!);
    }
  }
  return new ClassicLossResult(loss, grad);
}

/**
 * The options of ldamLoss (SETS.ldamLoss in lib/options.ts): margins (see ldamMargins), or
 * clsNumList with maxM (default 0.5, LDAM's); scale multiplies the margined scores before the
 * softmax, meant for cosine scores (default 30).
 */
export interface LdamLossOptions extends OptionsOf<typeof SETS.ldamLoss> {}

/**
 * LDAM loss (Cao et al. 2019): cross-entropy of scale * (s - margin_y at the label), with the
 * margins m_j = maxM * n_j^(-1/4) / max_i n_i^(-1/4) that grow as classes get rarer.
 */
export function ldamLoss(
  scores: Float32Array,
  labels: Int32Array | number[],
  shape: [number, number] | number[],
  options: LdamLossOptions,
): ClassicLossResult {
  // maxM's default is applied here, not by the reader: given with margins it is an error.
  const o = parseOptions('options', options, { ...SETS.ldamLoss, maxM: FIELDS.maxM });
  const { scale } = o;
  let margins: Float32Array;
  let name = 'margins';
  if (o.margins !== undefined) {
    if (o.clsNumList !== undefined || o.maxM !== undefined)
      throw new TypeError('options.margins and options.clsNumList/maxM exclude each other: give one');
    const r0 = rows(scores, labels, shape);
    // margins: a view taken after the shape and labels copies; copied now, as it is tiny
    margins = v.float32Array('margins', o.margins).slice();
    v.allFinite('margins', margins);
    if (margins.length !== r0.d)
      throw new RangeError(`margins has length ${margins.length}, expected ${r0.d} (one per class)`);
    return ldamRows(r0, margins, scale);
  }
  if (o.clsNumList === undefined)
    throw new TypeError('options.margins or options.clsNumList is required (the training count of each class)');
  margins = ldamMargins(o.clsNumList as ArrayLike<number>, (o.maxM ?? defaultOf(SETS.ldamLoss.maxM)) as number);
  name = 'clsNumList';
  const r = rows(scores, labels, shape);
  if (margins.length !== r.d)
    throw new RangeError(`${name} has length ${margins.length}, expected ${r.d} (one per class)`);
  return ldamRows(r, margins, scale);
}

function ldamRows(r: Rows, margins: Float32Array, scale: number): ClassicLossResult {
  const grad = new Float64Array(r.b * r.d);
  const logpy = logSoftmaxRows(r, scale, margins, grad);
  const loss = new Float64Array(r.b);
  for (let i = 0; i < r.b; i++) {
    loss[i] = -logpy[i]!;
    // The margin is a constant shift, so d/ds_j = scale * (p_j - [j = y]) / batch.
    for (let j = 0; j < r.d; j++) grad[i * r.d + j] = (scale * grad[i * r.d + j]!) / r.b;
    grad[i * r.d + r.labels[i]!]! -= scale / r.b;
  }
  return new ClassicLossResult(loss, grad);
}
