// The balanced and imbalanced smoothed top-k hinge losses (pytopk's BalNoisedTopK and
// ImbalNoisedTopK). The kernels give smoothtop_{k+1} per row and the sampled positions; the
// loss and its gradient are assembled here, identically for every backend.
import { resolveKernel, type Kernel } from './kernel.js';
import {
  backwardCall,
  finishBackward,
  finishForward,
  forwardCall,
  functionalSource,
  type ModuleParsed,
  NoisedModule,
  planTopK,
  sampleVariances,
  type NoiseSource,
  type PreparedForward,
  type TopKPlan,
} from './topk.js';
import { type OptionsOf, parseOptions, SETS } from './options.js';
import * as v from './validate.js';

const fr = Math.fround;

/** LDAM margins m_j = maxM * n_j^(-1/4) / max_i n_i^(-1/4), computed in double then rounded to float32 as pytopk does. */
export function ldamMargins(clsNumList: ArrayLike<number>, maxM: number): Float32Array {
  const n = v.listLength('clsNumList', clsNumList, 'an array of class counts');
  // Read once: a getter or a Proxy element cannot answer differently between check and use.
  const counts: unknown[] = [];
  for (let j = 0; j < n; j++) counts.push(clsNumList[j]);
  v.finiteFloat32('maxM', maxM);
  if (maxM < 0) throw new RangeError(`maxM must be >= 0, got ${maxM}`);
  if (n === 0) throw new RangeError('clsNumList must not be empty');
  const m = new Float64Array(n);
  let max = 0;
  for (let j = 0; j < n; j++) {
    const c = counts[j];
    if (typeof c !== 'number') throw new TypeError(`clsNumList[${j}] must be a number, got ${v.describe(c)}`);
    if (!Number.isFinite(c) || c <= 0)
      throw new RangeError(`clsNumList[${j}] must be a positive count, got ${v.describe(c)}`);
    m[j] = 1 / Math.sqrt(Math.sqrt(c));
    max = Math.max(max, m[j]!);
  }
  const factor = maxM / max;
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = m[j]! * factor;
  return out;
}

/** How the per-row losses are combined: PyTorch's `reduction`. */
export type Reduction = 'mean' | 'sum' | 'none';

/** PyTorch's loss conventions, shared by both losses (see docs/losses.md). */
export interface LossConventions<R extends Reduction = Reduction> {
  /** 'mean' (default): sum of w * loss over the rows not ignored / sum of their w; 'sum'; 'none': one loss per row. */
  reduction?: R;
  /** Per-class weight (any numeric array-like; length: classes, finite, >= 0): row r counts weight[labels[r]], as in torch's CrossEntropyLoss. */
  weight?: ArrayLike<number>;
  /** Rows whose label equals this add nothing to the loss or the gradient and leave the mean's denominator. */
  ignoreIndex?: number;
}

/** The upstream gradient of backward (gradOutput): a number, or one per row for reduction 'none'. */
export type GradOutput<R extends Reduction> = R extends 'none' ? Float32Array : number;

/** @deprecated Renamed `GradOutput` (one name for the upstream gradient, docs/api.md, Conventions). */
export type GradLoss<R extends Reduction> = GradOutput<R>;

/** The loss value: a number for 'mean' and 'sum', null for 'none' (read `rowLosses`). */
export type LossValue<R extends Reduction> = R extends 'none' ? null : number;

/** The Monte-Carlo standard error of the loss: a number for 'mean' and 'sum', one per row for 'none'. */
export type LossStandardError<R extends Reduction> = R extends 'none' ? Float32Array : number;

interface Conventions {
  reduction: Reduction;
  weight: Float32Array | null;
  ignoreIndex: number | null;
}

/**
 * @internal Checks the convention options (reduction already checked by parseOptions, or
 * checked here when given raw); copy keeps a private copy of weight (the modules hold it).
 */
export function conventionsOf(o: Partial<Record<string, unknown>>, copy: boolean): Conventions {
  const reduction: Reduction = SETS.balNoisedTopK.reduction.check('reduction', o.reduction ?? 'mean');
  let weight: Float32Array | null = null;
  if (o.weight !== undefined) {
    // A small per-class list: any numeric array-like, read once (a Float32Array as a view).
    const w = v.float32List('weight', o.weight, 'a Float32Array or an array of per-class weights');
    for (let j = 0; j < w.length; j++) {
      const x = w[j]!;
      if (!(x >= 0 && x !== Infinity))
        throw new RangeError(`weight[${j}] must be a finite number >= 0, got ${v.describe(x)}`);
    }
    weight = copy ? w.slice() : w;
  }
  let ignoreIndex: number | null = null;
  if (o.ignoreIndex !== undefined) {
    if (typeof o.ignoreIndex !== 'number')
      throw new TypeError(`ignoreIndex must be a number, got ${v.describe(o.ignoreIndex)}`);
    // Labels are held as int32 (an Int32Array): an ignoreIndex outside that range would be
    // compared after narrowing, 2^32 as class 0 (issue 18, 3). No label can equal it anyway.
    ignoreIndex = v.integer('ignoreIndex', o.ignoreIndex, -(2 ** 31), 2 ** 31 - 1);
  }
  return { reduction, weight, ignoreIndex };
}

/** Re-exported for the tfjs bridge (it lives in validate.ts, where the option reader uses it too). */
export const warnDeprecated = v.warnDeprecated;

interface LossPlan {
  plan: TopKPlan;
  labels: Int32Array;
  /** scores[r, labels[r]], read when the call is made (an async call's scores may change meanwhile). */
  labelScores: Float32Array;
  /** Per-class margin; null for the balanced loss (margin 1, scale 1). */
  margins: Float32Array | null;
  scale: number;
  reduction: Reduction;
  /** weight[labels[r]] per row, read when the call is made; null without a weight. */
  rowWeight: Float32Array | null;
  /** 1 for a row whose label is ignoreIndex; null when no row is ignored. */
  ignored: Uint8Array | null;
}

function planLoss(
  kernel: Kernel,
  scores: Float32Array,
  labels: v.LabelsSnapshot,
  shape: unknown[],
  k: unknown,
  epsilon: unknown,
  nSample: number,
  margins: Float32Array | null,
  marginsName: string,
  scale: number,
  conv: Conventions,
): LossPlan {
  if (shape.length !== 2) throw new RangeError(`shape must be [batch, classes], got [${shape.join(', ')}]`);
  const sh = v.shapeOf('shape', shape, scores.length, 'scores');
  const [B, D] = sh as [number, number];
  if (D < 2) throw new RangeError(`the losses need at least 2 classes (k + 1 <= classes), got ${D}`);
  if (typeof k !== 'number') throw new TypeError(`k must be a number, got ${v.describe(k)}`);
  if (!Number.isInteger(k) || k < 1 || k > D - 1) {
    throw new RangeError(`k must be an integer in [1, ${D - 1}] (k + 1 <= classes = ${D}), got ${v.describe(k)}`);
  }
  if (margins && margins.length !== D) {
    throw new RangeError(`${marginsName} has ${margins.length} classes, expected ${D} (scores has shape [${B}, ${D}])`);
  }
  if (conv.weight && conv.weight.length !== D) {
    throw new RangeError(
      `weight has length ${conv.weight.length}, expected ${D} (one per class; scores has shape [${B}, ${D}])`,
    );
  }
  const plan = planTopK(kernel, scores, sh, 1, k + 1, epsilon, nSample, 'k + 1', 'scores');
  const ls = v.labelsFrom(labels, B, D, conv.ignoreIndex);
  const labelScores = new Float32Array(B);
  let ignored: Uint8Array | null = null;
  const rowWeight = conv.weight ? new Float32Array(B) : null;
  let weightSum = 0;
  for (let r = 0; r < B; r++) {
    const y = ls[r]!;
    if (y === conv.ignoreIndex) {
      ignored ??= new Uint8Array(B);
      ignored[r] = 1;
      continue;
    }
    labelScores[r] = plan.x[r * D + y]!;
    if (rowWeight) {
      rowWeight[r] = conv.weight![y]!;
      weightSum = fr(weightSum + rowWeight[r]!);
    }
  }
  // The mean divides by this float32 sum (LossResult, the same order): past the float32 range
  // the mean would be 0 or NaN (sum / Infinity), never the mean, so it is refused here.
  if (conv.reduction === 'mean' && !Number.isFinite(weightSum)) {
    throw new RangeError(
      `weight: the mean's denominator, the sum of weight[labels[r]] over the rows not ignored, ` +
        `overflows float32 (above ${v.FLOAT32_MAX}); lower the weights or use reduction 'sum'`,
    );
  }
  return { plan, labels: ls, labelScores, margins, scale, reduction: conv.reduction, rowWeight, ignored };
}

/** Output of a loss forward pass; R is its reduction. */
export class LossResult<R extends Reduction = 'mean'> {
  readonly reduction: R;
  /**
   * The reduced loss: for 'mean', sum(w * l) / sum(w) over the rows not ignored (w = 1 without
   * a weight: the mean over those rows); for 'sum', sum(w * l). null for 'none'.
   */
  readonly loss: LossValue<R>;
  /** Per-row loss w * l (0 for an ignored row): the result of reduction 'none'. */
  readonly rowLosses: Float32Array;
  /**
   * Per-row hinge argument, the value relu is applied to: 1 + smoothtop_{k+1}(s) - s[label], or
   * scale * (m[label] + smoothtop_{k+1}(s) - s[label]) for the imbalanced loss; NaN for an
   * ignored row. A row with a positive argument gives a gradient.
   */
  readonly hingeArguments: Float32Array;
  /** smoothtop_{k+1} of each row. */
  readonly topk: Float32Array;
  private readonly lp: LossPlan;
  private readonly positions: Int32Array;
  /** Shape [B, nSample]: each sample's smoothtop_{k+1}, whose mean is `topk`. */
  private readonly sampleValues: Float32Array;
  /**
   * The noise stream's seed and offset this call drew from (a random seed when none was given):
   * pass both back to replay the call. null when the noise was given explicitly.
   */
  readonly seed: bigint | null;
  readonly offset: number | null;
  private se: LossStandardError<Reduction> | null = null;
  /** The mean's denominator: rows not ignored, or the sum of their weights. */
  private readonly denominator: number;

  constructor(lp: LossPlan, p: PreparedForward) {
    this.lp = lp;
    this.reduction = lp.reduction as R;
    this.positions = p.positions;
    this.sampleValues = p.sampleValues;
    this.seed = p.seed;
    this.offset = p.offset;
    this.topk = p.values;
    const { labels, labelScores, margins, scale, rowWeight, ignored } = lp;
    const B = labels.length;
    const t = new Float32Array(B);
    const losses = new Float32Array(B);
    let sum = 0;
    let weights = 0;
    let rows = 0;
    for (let r = 0; r < B; r++) {
      if (ignored?.[r]) {
        t[r] = NaN;
        continue;
      }
      const sy = labelScores[r]!;
      const top = p.values[r]!;
      // pytopk's order: (margin + top) - s_y, then times scale.
      t[r] = margins ? fr(scale * fr(fr(margins[labels[r]!]! + top) - sy)) : fr(fr(1 + top) - sy);
      // relu, with NaN kept (relu(NaN) = NaN, as torch): a NaN hinge is a NaN loss, never 0.
      const l = t[r]! > 0 || Number.isNaN(t[r]) ? t[r]! : 0;
      const wl = rowWeight ? fr(rowWeight[r]! * l) : l;
      losses[r] = wl;
      // float64 sums in row order, rounded once below (docs/determinism.md, Means)
      sum += wl;
      if (rowWeight) weights += rowWeight[r]!;
      rows++;
    }
    this.hingeArguments = t;
    this.rowLosses = losses;
    this.denominator = rowWeight ? weights : rows;
    const loss = lp.reduction === 'mean' ? fr(sum / this.denominator) : lp.reduction === 'sum' ? fr(sum) : null;
    this.loss = loss as LossValue<R>;
  }

  /**
   * The Monte-Carlo standard error of the loss over the noise samples (docs/losses.md, Monte-Carlo
   * error): a number for 'mean' and 'sum', a Float32Array like `rowLosses` for 'none'. To first
   * order (the delta method): a row's hinge relu(a * (c + v)) moves with its smoothtop v at slope
   * a * [argument > 0] (a = scale for the imbalanced loss, 1 for the balanced one), the set of
   * active rows held fixed, and rows draw independent noise, so
   *   'none': w_r * a * active_r * sd_r / sqrt(S) per row (0 for an ignored row),
   *   'sum':  sqrt(sum_r (w_r * a * active_r)^2 * sd_r^2 / S),
   *   'mean': the same divided by the mean's denominator W (rows not ignored, or their weights),
   * with sd_r the sample standard deviation (S - 1 denominator) of row r's samples, in float64.
   * A row whose argument lies within a few standard errors of 0 can cross the kink, which this
   * first-order error does not see. NaN for nSample = 1 (one sample carries no error estimate)
   * and for a 'mean' with W = 0 (the loss is NaN too). Computed when first read, then kept.
   */
  get standardError(): LossStandardError<R> {
    this.se ??= this.computeStandardError();
    return this.se as LossStandardError<R>;
  }

  private computeStandardError(): LossStandardError<Reduction> {
    const { labels, margins, scale, rowWeight, ignored, reduction, plan } = this.lp;
    const B = labels.length;
    const S = plan.nSample;
    const slope = margins ? scale : 1;
    const variances = sampleVariances(this.sampleValues, B, S);
    const perRow = reduction === 'none' ? new Float32Array(B) : null;
    let total = 0; // sum over rows of (d reduced loss / d v_r)^2 * var_r / S, before the 1 / W^2 of 'mean'
    for (let r = 0; r < B; r++) {
      // A NaN hinge (allowNonFinite, or a noised value past the float32 range) has no slope:
      // its error is NaN, as its loss is.
      if (!ignored?.[r] && Number.isNaN(this.hingeArguments[r])) {
        if (perRow) perRow[r] = NaN;
        total = NaN;
        continue;
      }
      // An inactive or ignored row has slope 0: it adds exactly 0 (not 0 * NaN for S = 1).
      if (ignored?.[r] || !(this.hingeArguments[r]! > 0)) {
        if (perRow && S < 2) perRow[r] = NaN;
        continue;
      }
      const coef = (rowWeight ? rowWeight[r]! : 1) * slope;
      const v = (coef * coef * variances[r]!) / S;
      if (perRow) perRow[r] = Math.sqrt(v);
      total += v;
    }
    if (perRow) return perRow;
    if (S < 2) return NaN;
    return reduction === 'mean' ? Math.sqrt(total) / this.denominator : Math.sqrt(total);
  }

  /**
   * @deprecated Renamed `hingeArguments` (`margins` also named ImbalNoisedTopK's class margins,
   * now `classMargins`). This alias returns the same array and is kept for one release.
   */
  get margins(): Float32Array {
    warnDeprecated('LossResult.margins', 'hingeArguments');
    return this.hingeArguments;
  }

  /** @deprecated Renamed `rowLosses` (one name for per-row values, docs/api.md, Conventions): the same array, kept for one release. */
  get losses(): Float32Array {
    warnDeprecated('LossResult.losses', 'rowLosses');
    return this.rowLosses;
  }

  private gradCall(gradOutput: unknown, out: unknown) {
    const { labels, margins, scale, rowWeight, ignored, reduction } = this.lp;
    const B = labels.length;
    // The upstream gradient of each row's w * l, before the scale of the imbalanced loss:
    // d mean / d row is gl / denominator, d sum / d row is gl, 'none' takes one per row.
    let perRow: Float32Array | null = null;
    let g = 0;
    if (reduction === 'none') {
      perRow = gradOutput === undefined ? new Float32Array(B).fill(1) : v.finiteRows('gradOutput', gradOutput, B);
    } else {
      if (gradOutput !== undefined && typeof gradOutput !== 'number') {
        throw new TypeError(`gradOutput must be a number (reduction '${reduction}'), got ${v.describe(gradOutput)}`);
      }
      const gl = gradOutput === undefined ? 1 : v.finiteFloat32('gradOutput', gradOutput);
      g = reduction === 'mean' ? fr(gl / this.denominator) : fr(gl);
    }
    const rowScale = new Float32Array(B);
    for (let r = 0; r < B; r++) {
      if (!(this.hingeArguments[r]! > 0) || ignored?.[r]) continue;
      let c = perRow ? perRow[r]! : g;
      if (rowWeight) c = fr(c * rowWeight[r]!);
      // then the scale of the imbalanced loss, as autograd would chain them
      rowScale[r] = margins ? fr(c * scale) : c;
    }
    return backwardCall(this.lp.plan, this.positions, rowScale, out, 'gradOutput');
  }

  private subtractLabels(grad: Float32Array, rowScale: Float32Array): void {
    const { labels, ignored } = this.lp;
    const D = this.lp.plan.d;
    for (let r = 0; r < labels.length; r++) {
      // an ignored row's label may lie outside [0, D): it has no column to subtract from
      if (ignored?.[r]) continue;
      const at = r * D + labels[r]!;
      grad[at] = grad[at]! - rowScale[r]!;
    }
  }

  /**
   * d(loss)/d scores of shape [B, D], times gradOutput: a number for 'mean' and 'sum' (default
   * 1), a Float32Array of one finite value per row for 'none' (default ones).
   */
  backward(gradOutput?: GradOutput<R>, out?: Float32Array): Float32Array {
    const p = this.gradCall(gradOutput, out);
    if (this.lp.plan.rows > 0) this.lp.plan.kernel.backward(p.call);
    this.subtractLabels(p.call.grad, p.call.rowScale);
    return finishBackward(p);
  }

  /** backward's gradient as a Promise, computed on a worker thread on 'cpu' and 'cuda'. */
  async backwardAsync(gradOutput?: GradOutput<R>, out?: Float32Array): Promise<Float32Array> {
    const p = this.gradCall(gradOutput, out);
    if (this.lp.plan.rows > 0) await this.lp.plan.kernel.backwardAsync(p.call);
    this.subtractLabels(p.call.grad, p.call.rowScale);
    return finishBackward(p);
  }
}

/** The options of BalNoisedTopK, declared once in lib/options.ts (SETS.balNoisedTopK); R is the reduction. */
export interface BalNoisedTopKOptions<R extends Reduction = 'mean'>
  extends Omit<OptionsOf<typeof SETS.balNoisedTopK>, 'reduction'>,
    LossConventions<R> {}

/** The options of ImbalNoisedTopK (SETS.imbalNoisedTopK): BalNoisedTopK's, plus maxM, clsNumList and scale. */
export interface ImbalNoisedTopKOptions<R extends Reduction = 'mean'>
  extends Omit<OptionsOf<typeof SETS.imbalNoisedTopK>, 'reduction'>,
    LossConventions<R> {}

abstract class LossModule<R extends Reduction> extends NoisedModule {
  /** The options' reduction ('mean' by default). */
  readonly reduction: R;
  /** A private copy of the per-class weight, or null. */
  readonly weight: Float32Array | null;
  readonly ignoreIndex: number | null;

  constructor(o: ModuleParsed & Partial<Record<string, unknown>>) {
    super(o);
    const conv = conventionsOf(o, true);
    this.reduction = conv.reduction as R;
    this.weight = conv.weight;
    this.ignoreIndex = conv.ignoreIndex;
  }

  /** @internal The per-class margins (null: none) and the scale this loss hands the kernel. */
  protected abstract marginsAndScale(): [Float32Array | null, number];

  private prepare(scoresIn: unknown, labelsIn: unknown, shapeIn: unknown): [LossPlan, PreparedForward] {
    // Read order (see validate.ts, Snapshots): shape and labels copied, then the view.
    const shape = v.shapeSnapshot('shape', shapeIn);
    const labels = v.labelsSnapshot(labelsIn);
    const scores = v.float32Array('scores', scoresIn);
    const [margins, scale] = this.marginsAndScale();
    const conv = { reduction: this.reduction, weight: this.weight, ignoreIndex: this.ignoreIndex };
    const lp = planLoss(
      this.kernel,
      scores,
      labels,
      shape,
      this.k,
      this.epsilon,
      this.nSample,
      margins,
      'clsNumList',
      scale,
      conv,
    );
    return [lp, forwardCall(lp.plan, this.stream.next(), {}, this.allowNonFinite)];
  }

  /** Loss of scores [B, D] against integer labels; r.backward() gives d loss / d scores. */
  forward(scores: Float32Array, labels: Int32Array | number[], shape: [number, number] | number[]): LossResult<R> {
    const [lp, p] = this.prepare(scores, labels, shape);
    if (lp.plan.rows > 0) lp.plan.kernel.forward(p.call);
    finishForward(p);
    return new LossResult<R>(lp, p);
  }

  /**
   * forward as a Promise, with the same checks (a bad argument rejects). On 'cpu' and 'cuda'
   * the kernel runs on a worker thread, and the call holds scores until it settles.
   */
  async forwardAsync(
    scores: Float32Array,
    labels: Int32Array | number[],
    shape: [number, number] | number[],
  ): Promise<LossResult<R>> {
    const [lp, p] = this.prepare(scores, labels, shape);
    if (lp.plan.rows > 0) await lp.plan.kernel.forwardAsync(p.call);
    finishForward(p);
    return new LossResult<R>(lp, p);
  }
}

/** relu(1 + smoothtop_{k+1}(s) - s[label]) per row, reduced by `reduction` (default: the mean). */
export class BalNoisedTopK<R extends Reduction = 'mean'> extends LossModule<R> {
  constructor(options: BalNoisedTopKOptions<R>) {
    super(parseOptions('options', options, SETS.balNoisedTopK));
  }

  /** @internal No margins, scale 1. */
  protected marginsAndScale(): [Float32Array | null, number] {
    return [null, 1];
  }
}

/** relu(scale * (m[label] + smoothtop_{k+1}(s) - s[label])) per row with LDAM margins m, reduced by `reduction`. */
export class ImbalNoisedTopK<R extends Reduction = 'mean'> extends LossModule<R> {
  readonly scale: number;
  /** The LDAM margin of each class, ldamMargins(clsNumList, maxM): larger for rarer classes. */
  readonly classMargins: Float32Array;

  /** @deprecated Renamed `classMargins`. This alias returns the same array and is kept for one release. */
  get margins(): Float32Array {
    warnDeprecated('ImbalNoisedTopK.margins', 'classMargins');
    return this.classMargins;
  }

  constructor(options: ImbalNoisedTopKOptions<R>) {
    const o = parseOptions('options', options, SETS.imbalNoisedTopK);
    super(o);
    this.classMargins = ldamMargins(o.clsNumList as ArrayLike<number>, o.maxM as number);
    this.scale = o.scale;
    if (this.weight && this.weight.length !== this.classMargins.length) {
      throw new RangeError(
        `weight has length ${this.weight.length}, expected ${this.classMargins.length} (one per class of clsNumList)`,
      );
    }
  }

  /** @internal The LDAM margins and `scale`. */
  protected marginsAndScale(): [Float32Array | null, number] {
    return [this.classMargins, this.scale];
  }
}

/** The options of balNoisedTopKLoss, declared once in lib/options.ts (SETS.balNoisedTopKLoss). */
export interface FunctionalLossOptions<R extends Reduction = 'mean'>
  extends Omit<OptionsOf<typeof SETS.balNoisedTopKLoss>, 'reduction'>,
    LossConventions<R> {}

/** The options of imbalNoisedTopKLoss (SETS.imbalNoisedTopKLoss): balNoisedTopKLoss's, plus margins and scale. */
export interface FunctionalImbalOptions<R extends Reduction = 'mean'>
  extends Omit<OptionsOf<typeof SETS.imbalNoisedTopKLoss>, 'reduction'>,
    LossConventions<R> {}

function functionalLoss(
  scoresIn: unknown,
  labelsIn: unknown,
  shapeIn: unknown,
  options: unknown,
  imbalanced: boolean,
): [LossPlan, PreparedForward] {
  // Read order (see validate.ts, Snapshots): options, shape and labels, then the views.
  const o = parseOptions('options', options, imbalanced ? SETS.imbalNoisedTopKLoss : SETS.balNoisedTopKLoss);
  const shape = v.shapeSnapshot('shape', shapeIn);
  const labels = v.labelsSnapshot(labelsIn);
  const scores = v.float32Array('scores', scoresIn);
  const noise = o.noise === undefined ? undefined : v.float32Array('noise', o.noise);
  const marginsView = imbalanced && o.margins !== undefined ? v.float32Array('margins', o.margins) : undefined;
  const conv = conventionsOf(o, false);
  const kernel = resolveKernel(o.backend);
  const allowNonFinite = o.allowNonFinite;
  let margins: Float32Array | null = null;
  let scale = 1;
  if (imbalanced) {
    margins = marginsView!;
    if (!allowNonFinite) v.allFinite('margins', margins);
    scale = o.scale as number;
  }
  const { source, nSample }: { source: NoiseSource; nSample: number } = functionalSource(o, scores, noise);
  const lp = planLoss(kernel, scores, labels, shape, o.k, o.epsilon, nSample, margins, 'margins', scale, conv);
  return [lp, forwardCall(lp.plan, source, {}, allowNonFinite)];
}

function runSync<R extends Reduction>(prepared: [LossPlan, PreparedForward]): LossResult<R> {
  const [lp, p] = prepared;
  if (lp.plan.rows > 0) lp.plan.kernel.forward(p.call);
  finishForward(p);
  return new LossResult<R>(lp, p);
}

async function runAsync<R extends Reduction>(prepared: [LossPlan, PreparedForward]): Promise<LossResult<R>> {
  const [lp, p] = prepared;
  if (lp.plan.rows > 0) await lp.plan.kernel.forwardAsync(p.call);
  finishForward(p);
  return new LossResult<R>(lp, p);
}

export function balNoisedTopKLoss<R extends Reduction = 'mean'>(
  scores: Float32Array,
  labels: Int32Array | number[],
  shape: number[],
  options: FunctionalLossOptions<R>,
): LossResult<R> {
  return runSync<R>(functionalLoss(scores, labels, shape, options, false));
}

export function imbalNoisedTopKLoss<R extends Reduction = 'mean'>(
  scores: Float32Array,
  labels: Int32Array | number[],
  shape: number[],
  options: FunctionalImbalOptions<R>,
): LossResult<R> {
  return runSync<R>(functionalLoss(scores, labels, shape, options, true));
}

export async function balNoisedTopKLossAsync<R extends Reduction = 'mean'>(
  scores: Float32Array,
  labels: Int32Array | number[],
  shape: number[],
  options: FunctionalLossOptions<R>,
): Promise<LossResult<R>> {
  return runAsync<R>(functionalLoss(scores, labels, shape, options, false));
}

export async function imbalNoisedTopKLossAsync<R extends Reduction = 'mean'>(
  scores: Float32Array,
  labels: Int32Array | number[],
  shape: number[],
  options: FunctionalImbalOptions<R>,
): Promise<LossResult<R>> {
  return runAsync<R>(functionalLoss(scores, labels, shape, options, true));
}
