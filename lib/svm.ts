// The smooth top-k SVM loss of Berrada, Zisserman and Kumar, "Smooth Loss Functions for Deep
// Top-k Classification" (ICLR 2018), as oval-group/smooth-topk's SmoothTopkSVM computes it:
//
//   row loss = tau * log( sum over k-sets S not holding y of exp(alpha/tau + sum_{j in S} s_j/(k tau))
//                       + sum over k-sets S holding y     of exp(sum_{j in S} s_j/(k tau)) )
//            - tau * log( sum over k-sets S holding y      of exp(sum_{j in S} s_j/(k tau)) )
//
// With u_j = exp(s_j / (k tau)) over the classes other than y, the two sums are
// exp(alpha/tau) e_k(u) and u_y e_{k-1}(u) (elementary symmetric polynomials), so
// row loss = tau * softplus(alpha/tau + log e_k(u) - s_y/(k tau) - log e_{k-1}(u)).
// log e_m is computed in log space by the recursion log e_m(1..j) = logaddexp(log e_m(1..j-1),
// t_j + log e_{m-1}(1..j-1)) (t = s/(k tau)): O(k D) per row, no overflow for any score/tau.
// The gradient uses the same recursion run from both ends: d log e_m / d t_j =
// exp(t_j + log e_{m-1}(u without j) - log e_m(u)), where e_{m-1}(u without j) combines the
// prefix before j and the suffix after j in O(k), so the whole row stays O(k D).
//
// Like the reference, a row whose k-th and (k+1)-th largest scores are at least
// k * tau * ln(1000) apart (the smooth loss's exponentials would be dominated by one set) uses
// the hard top-k SVM instead: max(0, alpha + mean(top-k of s without y) - (s_y + sum(top-(k-1)
// of s without y)) / k), gradient 1/k on those sets (ties: the lower index, the package's rule;
// at a hinge of exactly 0 the gradient flows, as PyTorch's clamp does).
//
// The loss is the mean over rows. Everything is computed in float64 from the float32 scores
// and returned as float32, in TypeScript, for every backend name (there is no native kernel
// for this loss: the work is O(k D) per row and the arrays are small).
import { resolveKernel } from './kernel.js';
import { type OptionsOf, parseOptions, SETS } from './options.js';
import * as v from './validate.js';

/**
 * The options of the smooth top-k SVM, declared once in lib/options.ts (SETS.smoothTopKSvm): k
 * (required), tau (> 0, default 1), alpha (>= 0, default 1), gradient ('exact' by default, or
 * 'reference': oval-group's gradient, bit-level formulas included (docs/ops.md): its recursion
 * for d log e_j, its p-th order approximation (p = floor(1 + k / 5)) where the recursion is
 * flagged unstable (relative log gap below 1e-5), and at k = 1 its nonzero derivative of
 * log e_0 = 0; use it to reproduce the reference's training runs), backend (accepted for
 * symmetry: every backend runs the same TypeScript code).
 */
export interface SmoothTopKSvmOptions extends OptionsOf<typeof SETS.smoothTopKSvm> {}

const HINTS = { n_classes: 'the classes come from the shape [B, D]', epsilon: "the smoothing is 'tau'" };

/** ln(1000): the reference's switch to the hard loss (thresh = 1e3). */
const LOG_THRESH = Math.log(1e3);

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** The reference's approximation order p = int(1 + 0.2 k). */
function refOrder(k: number): number {
  return Math.floor(1 + 0.2 * k);
}

/**
 * log(exp(a) - exp(b)) as the reference's LogTensor subtraction computes it: a + log1mexp(b - a)
 * with its log1mexp(U) = log(-U) for |U| < 1e-3 (a first-order approximation, kept because the
 * 'reference' gradient reproduces the reference's numbers).
 */
function referenceLogSub(a: number, b: number): number {
  const u = b - a;
  if (u === -Infinity) return a;
  return a + (Math.abs(u) < 1e-3 ? Math.log(-u) : Math.log1p(-Math.exp(u)));
}

/**
 * oval-group's d log e_j / d t (topk/polynomial/grad.py, d_logS_d_expX) for one column with
 * t = X, from S[i] = log e_i(all columns): the alternating recursion
 * e_{j-1}(without the column) = sum_i (-1)^(j-1-i) e_i u^(j-1-i), split into its positive and
 * negative parts P and N (log space; an empty part is -1e5, as there); where
 * (P - N) / (|N| + 1e-5) < 1e-5 (cancellation) the p-th order expansion
 * sum_i (-1)^i e_{j+i} / u^(i+1) replaces it. Only for gradient: 'reference'.
 */
function referenceDlogE(S: Float64Array, X: number, j: number, k: number): number {
  const p = refOrder(k);
  let P = -Infinity;
  let N = -Infinity;
  let hasP = false;
  let hasN = false;
  for (let i = j - 1; i >= 0; i -= 2) {
    P = logAddExp(P, S[i]! + (j - 1 - i) * X);
    hasP = true;
  }
  for (let i = j - 2; i >= 0; i -= 2) {
    N = logAddExp(N, S[i]! + (j - 1 - i) * X);
    hasN = true;
  }
  if (!hasP) P = -1e5;
  if (!hasN) N = -1e5;
  const unstable = (P - N) / (Math.abs(N) + 1e-5) < 1e-5;
  if (!unstable) return Math.exp(referenceLogSub(P, N) + X - S[j]!);
  let P2 = -Infinity;
  let N2 = -Infinity;
  for (let i = 0; i < p; i += 2) P2 = logAddExp(P2, (S[j + i] ?? -Infinity) - (i + 1) * X);
  for (let i = 1; i < p; i += 2) N2 = logAddExp(N2, (S[j + i] ?? -Infinity) - (i + 1) * X);
  return Math.exp(referenceLogSub(P2, N2) + X - S[j]!);
}

/**
 * The scratch of smoothRow, bounded (issue 18, 13): the prefix table log e_m(t_0 .. t_{j-1})
 * is rolled (two rows of K), and the suffix table log e_m(t_j .. t_{n-1}), which the gradient
 * reads in increasing j while it is built in decreasing j, is kept only at checkpoints every C
 * rows and rebuilt one block of C rows at a time: about 2 sqrt(D) K float64 instead of 2 D K
 * (one 4096-column row with k 4095 took 300 MiB). Each table row is the same function of the
 * row after (or before) it, so a rebuilt row has the same bits as a stored one.
 */
export class SvmScratch {
  t = new Float64Array(0);
  /** Two rolled prefix rows. */
  pre = new Float64Array(0);
  /** Suffix rows 1 + b C (b >= 1, below n), one per block after the first. */
  checkpoints = new Float64Array(0);
  /** The suffix rows of one block. */
  block = new Float64Array(0);
  /** Two rolled suffix rows (the pass down), and row n (e_0 = 1). */
  rolled = new Float64Array(0);
  base = new Float64Array(0);

  /** Sized for rows of D columns with K degrees (grown, never shrunk: one call's rows share it). */
  size(D: number, K: number): void {
    const n = D - 1;
    const C = blockRows(n);
    if (this.t.length < D) this.t = new Float64Array(D);
    if (this.pre.length < 2 * K) this.pre = new Float64Array(2 * K);
    const ck = Math.ceil(n / C) * K;
    if (this.checkpoints.length < ck) this.checkpoints = new Float64Array(ck);
    if (this.block.length < C * K) this.block = new Float64Array(C * K);
    if (this.rolled.length < 2 * K) this.rolled = new Float64Array(2 * K);
    if (this.base.length < K) this.base = new Float64Array(K);
  }
}

/** Rows per suffix block: about sqrt(n), so checkpoints and one block weigh the same. */
function blockRows(n: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(n)));
}

/** dst[0, K) = log e_m(t_j, then the terms of src) from src = the row after j (m <= top). */
function suffixStep(dst: Float64Array, d: number, src: Float64Array, s0: number, tj: number, top: number, K: number) {
  dst.fill(-Infinity, d, d + K);
  dst[d] = 0;
  for (let m = 1; m <= top; m++) dst[d + m] = logAddExp(src[s0 + m]!, tj + src[s0 + m - 1]!);
}

/** Loss and gradient (w.r.t. the row's scores, written to g) of one smooth row. */
function smoothRow(
  s: ArrayLike<number>,
  at: number,
  D: number,
  y: number,
  p: SvmParams,
  g: Float64Array,
  scratch: SvmScratch,
): number {
  const { k, tau, alpha } = p;
  const n = D - 1;
  // Degrees 0..k; the reference gradient also reads degrees up to k + refOrder(k) - 1.
  const K = (p.reference ? k + refOrder(k) - 1 : k) + 1;
  scratch.size(D, K);
  const { t, pre } = scratch;
  const kt = k * tau;
  for (let j = 0, c = 0; c < D; c++) if (c !== y) t[j++] = s[at + c]! / kt;
  // Prefix row j = log e_m(t_0 .. t_{j-1}) (row 0: e_0 = 1), rolled in pre's two halves; the
  // last, row n, gives the loss. prefixRow(j) returns the offset of row j in pre.
  const prefixRow = (j: number): number => {
    const cur = (j & 1) * K;
    pre.fill(-Infinity, cur, cur + K);
    pre[cur] = 0;
    if (j === 0) return cur;
    const prev = ((j - 1) & 1) * K;
    const tj = t[j - 1]!;
    const top = Math.min(j, K - 1);
    for (let m = 1; m <= top; m++) pre[cur + m] = logAddExp(pre[prev + m]!, tj + pre[prev + m - 1]!);
    return cur;
  };
  let last = 0;
  for (let j = 0; j <= n; j++) last = prefixRow(j);
  const logEk = pre[last + k]!;
  const logEk1 = pre[last + k - 1]!;
  const ty = s[at + y]! / kt;
  const logA = alpha / tau + logEk; // sets without y, with the margin
  const logC = ty + logEk1; // sets with y
  const diff = logA - logC;
  const loss = tau * softplus(diff);
  // wA = A / (A + C): the probability mass of the sets without y.
  const wA = diff > 0 ? 1 / (1 + Math.exp(-diff)) : Math.exp(diff) / (1 + Math.exp(diff));
  // d loss / d s_j = (1/k) * d(P - N)/d t_j = wA (dlog e_k - dlog e_{k-1}) / k; d/d s_y = -wA / k.
  if (p.reference) {
    const S = pre.slice(last, last + K);
    for (let j = 0, c = 0; c < D; c++) {
      if (c === y) {
        g[at + c] = -wA / k;
        continue;
      }
      const tj = t[j]!;
      g[at + c] = (wA * referenceDlogE(S, tj, k, k) - wA * referenceDlogE(S, tj, k - 1, k)) / k;
      j++;
    }
    return loss;
  }
  // Suffix row j = log e_m(t_j .. t_{n-1}); row n is e_0 = 1. The gradient of column j reads
  // row j + 1, for j + 1 in [1, n]: blocks [lo, hi] of C rows, lo = 1 + b C. One pass down keeps
  // the rows lo of the blocks after the first (checkpoints); each block is then rebuilt from
  // the checkpoint above it (or from row n).
  const C = blockRows(n);
  const { checkpoints, block, rolled, base } = scratch;
  base.fill(-Infinity, 0, K);
  base[0] = 0;
  // checkpoint b >= 1 (suffix row 1 + b C) is at (b - 1) K
  const checkpointAt = (row: number) => ((row - 1) / C - 1) * K;
  {
    let src = base;
    let s0 = 0;
    for (let j = n - 1; j >= 1; j--) {
      const d = (j & 1) * K;
      suffixStep(rolled, d, src, s0, t[j]!, Math.min(n - j, K - 1), K);
      if (j > 1 && (j - 1) % C === 0) checkpoints.set(rolled.subarray(d, d + K), checkpointAt(j));
      src = rolled;
      s0 = d;
    }
  }
  let b = -1;
  let lo = 0;
  let before = 0;
  for (let j = 0, c = 0; c < D; c++) {
    if (c === y) {
      g[at + c] = -wA / k;
      continue;
    }
    const r = j + 1; // the suffix row this column reads
    if (r >= lo + C || b < 0) {
      b++;
      lo = 1 + b * C;
      const hi = Math.min(lo + C - 1, n);
      // block row i holds suffix row lo + i
      if (hi === n) block.set(base.subarray(0, K), (hi - lo) * K);
      else if (hi + 1 === n) suffixStep(block, (hi - lo) * K, base, 0, t[hi]!, Math.min(n - hi, K - 1), K);
      else suffixStep(block, (hi - lo) * K, checkpoints, checkpointAt(hi + 1), t[hi]!, Math.min(n - hi, K - 1), K);
      for (let q = hi - 1; q >= lo; q--)
        suffixStep(block, (q - lo) * K, block, (q + 1 - lo) * K, t[q]!, Math.min(n - q, K - 1), K);
    }
    before = prefixRow(j);
    const q = (r - lo) * K;
    // log e_{m}(t without j) for m = k-1 and k-2, from the prefix before j and suffix after it.
    let lk1 = -Infinity;
    let lk2 = -Infinity;
    for (let a = 0; a <= k - 1; a++) {
      const pa = pre[before + a]!;
      if (pa === -Infinity) break;
      lk1 = logAddExp(lk1, pa + block[q + k - 1 - a]!);
      if (a <= k - 2) lk2 = logAddExp(lk2, pa + block[q + k - 2 - a]!);
    }
    const tj = t[j]!;
    const dEk = Math.exp(tj + lk1 - logEk);
    const dEk1 = k >= 2 ? Math.exp(tj + lk2 - logEk1) : 0;
    g[at + c] = (wA * (dEk - dEk1)) / k;
    j++;
  }
  return loss;
}

/** The k best columns of the row other than y (ties: the lower column), best first. */
function topOthers(s: ArrayLike<number>, at: number, D: number, y: number, k: number): number[] {
  const cols: number[] = [];
  for (let c = 0; c < D; c++) if (c !== y) cols.push(c);
  cols.sort((a, b) => s[at + b]! - s[at + a]! || a - b);
  return cols.slice(0, k);
}

/** Loss and gradient of one hard row (the reference's Topk_Hard_SVM). */
function hardRow(
  s: ArrayLike<number>,
  at: number,
  D: number,
  y: number,
  k: number,
  alpha: number,
  g: Float64Array,
): number {
  const top = topOthers(s, at, D, y, k);
  let sumK = 0;
  for (const c of top) sumK += s[at + c]!;
  let sumK1 = 0;
  for (let j = 0; j < k - 1; j++) sumK1 += s[at + top[j]!]!;
  const max1 = alpha + sumK / k;
  const max2 = (sumK1 + s[at + y]!) / k;
  const h = max1 - max2;
  for (let c = 0; c < D; c++) g[at + c] = 0;
  if (h >= 0) {
    // In max1 and not in max2: only the k-th of the top; s_y enters max2.
    g[at + top[k - 1]!] = 1 / k;
    g[at + y] = -1 / k;
  }
  return Math.max(h, 0);
}

/** Output of the smooth top-k SVM loss. */
export class SmoothTopKSvmResult {
  /** Mean over rows, float32. */
  readonly loss: number;
  /** Per-row loss. */
  readonly rowLosses: Float32Array;
  /** 1 where the row used the hard top-k SVM (its scores too far apart for the smooth form). */
  readonly hardRows: Uint8Array;
  private readonly grad: Float64Array;

  constructor(loss: number, rowLosses: Float32Array, hardRows: Uint8Array, grad: Float64Array) {
    this.loss = loss;
    this.rowLosses = rowLosses;
    this.hardRows = hardRows;
    this.grad = grad;
  }

  /** d(gradOutput * loss)/d scores, [B, D]. */
  backward(gradOutput = 1, out?: Float32Array): Float32Array {
    return v.scaledGradient(gradOutput, this.grad, out);
  }
}

export interface SvmParams {
  k: number;
  tau: number;
  alpha: number;
  reference?: boolean;
}

function params(options: unknown): SvmParams {
  const o = parseOptions('options', options, SETS.smoothTopKSvm, HINTS);
  resolveKernel(o.backend); // the same backend errors as elsewhere ('cuda' without a device, ...)
  return { k: o.k, tau: o.tau, alpha: o.alpha, reference: o.gradient === 'reference' };
}

function compute(scores: unknown, labels: unknown, shape: unknown, p: SvmParams): SmoothTopKSvmResult {
  // Read order (docs/input-rules.md): options (already in p), the shape and labels copied
  // (each length read once), then the scores' view.
  const sh = v.shapeSnapshot('shape', shape);
  const ls = v.labelsSnapshot(labels);
  const s = v.float32Array('scores', scores);
  if (sh.length !== 2) throw new RangeError(`shape must be [batch, classes], got [${sh.join(', ')}]`);
  const [B, D] = v.shapeOf('shape', sh, s.length, 'scores') as [number, number];
  if (B < 1) throw new RangeError('scores must hold at least one row');
  if (D < 2) throw new RangeError(`the smooth top-k SVM needs at least 2 classes, got ${D}`);
  if (p.k > D - 1) throw new RangeError(`k must be an integer in [1, ${D - 1}] (k < classes = ${D}), got ${p.k}`);
  v.allFinite('scores', s);
  const y = v.labelsFrom(ls, B, D);
  const { loss, rowLosses, hardRows, grad } = smoothTopKSvmCore(s, y, B, D, p);
  return new SmoothTopKSvmResult(Math.fround(loss), Float32Array.from(rowLosses), hardRows, grad);
}

/**
 * The loss in float64 on checked inputs: the mean loss, per-row losses, hard-row flags and the
 * gradient of the mean (exported for the tests' float64 finite-difference checks).
 */
export function smoothTopKSvmCore(s: ArrayLike<number>, y: ArrayLike<number>, B: number, D: number, p: SvmParams) {
  const { k, tau, alpha } = p;
  const scratch = new SvmScratch();
  const grad = new Float64Array(B * D);
  const rows = new Float64Array(B);
  const hard = new Uint8Array(B);
  const gap = k * tau * LOG_THRESH;
  let sum = 0;
  for (let r = 0; r < B; r++) {
    const at = r * D;
    // The reference's detect_large: the k-th and (k+1)-th largest of the whole row.
    const order = Array.from({ length: D }, (_, c) => c).sort((a, b) => s[at + b]! - s[at + a]! || a - b);
    const isHard = s[at + order[k - 1]!]! - s[at + order[k]!]! >= gap;
    const l = isHard ? hardRow(s, at, D, y[r]!, k, alpha, grad) : smoothRow(s, at, D, y[r]!, p, grad, scratch);
    hard[r] = isHard ? 1 : 0;
    rows[r] = l;
    sum += l;
  }
  for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! / B;
  return { loss: sum / B, rowLosses: rows, hardRows: hard, grad };
}

/**
 * The smooth top-k SVM loss (Berrada et al. 2018) of scores [B, D] with integer labels: the
 * mean over rows, and its gradient through result.backward().
 */
export function smoothTopKSvmLoss(
  scores: Float32Array,
  labels: ArrayLike<number>,
  shape: [number, number],
  options: SmoothTopKSvmOptions,
): SmoothTopKSvmResult {
  return compute(scores, labels, shape, params(options));
}

/** Module form (oval-group's SmoothTopkSVM(n_classes, alpha, tau, k)): options fixed once. */
export class SmoothTopKSvm {
  readonly k: number;
  readonly tau: number;
  readonly alpha: number;

  readonly gradient: 'exact' | 'reference';
  private readonly params: SvmParams;

  constructor(options: SmoothTopKSvmOptions) {
    this.params = params(options);
    this.k = this.params.k;
    this.tau = this.params.tau;
    this.alpha = this.params.alpha;
    this.gradient = this.params.reference ? 'reference' : 'exact';
  }

  /** smoothTopKSvmLoss of scores [B, C] against integer labels, with this object's options. */
  forward(scores: Float32Array, labels: ArrayLike<number>, shape: [number, number]): SmoothTopKSvmResult {
    return compute(scores, labels, shape, this.params);
  }
}
