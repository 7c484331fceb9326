// Top-k metrics for classification scores laid out as [rows, classes].
// Ranking follows the package's tie rule (docs/determinism.md): a larger score ranks higher,
// NaN ranks above +Infinity, -0 equals +0, and among equal scores the lower class index ranks
// higher. So a row's label is in its top k exactly when fewer than k classes rank above it,
// which needs one pass over the row and no sort.
import { type OptionsOf, parseOptions, SETS } from './options.js';
import * as v from './validate.js';

/** Scores as the metrics take them: flat, row-major [rows, classes], float32 or float64. */
export type Scores = Float32Array | Float64Array;

interface Checked {
  scores: Scores;
  labels: Int32Array;
  n: number;
  d: number;
  k: number;
}

function scoresView(v_: unknown): Scores {
  const tag = Object.prototype.toString.call(v_) === '[object Float64Array]' ? 'f64' : 'f32';
  try {
    return tag === 'f64' ? v.typedArray('scores', v_, Float64Array) : v.typedArray('scores', v_, Float32Array);
  } catch (e) {
    if (e instanceof TypeError && /must be a Float(32|64)Array, got/.test(e.message)) {
      throw new TypeError(`scores must be a Float32Array or a Float64Array, got ${v.describe(v_)}`);
    }
    throw e;
  }
}

function check(scores: unknown, labels: unknown, shape: unknown, k: unknown): Checked {
  // Read order (validate.ts, Snapshots): shape and labels copied, then the view.
  const sh = v.shapeSnapshot('shape', shape);
  const ls = v.labelsSnapshot(labels);
  const s = scoresView(scores);
  if (sh.length !== 2) throw new RangeError(`shape must be [rows, classes], got [${sh.join(', ')}]`);
  const [n, d] = v.shapeOf('shape', sh, s.length, 'scores') as [number, number];
  if (d < 1) throw new RangeError('shape[1] (classes) must be at least 1, got 0');
  const kk = v.kOf('k', k, d, `the number of classes`);
  return { scores: s, labels: v.labelsFrom(ls, n, d), n, d, k: kk };
}

/** True when score a (column ca) ranks above score b (column cb) under the tie rule. */
function ranksAbove(a: number, ca: number, b: number, cb: number): boolean {
  if (Number.isNaN(a)) return !Number.isNaN(b) || ca < cb;
  if (Number.isNaN(b)) return false;
  return a > b || (a === b && ca < cb);
}

/** Whether each row's label is among its k highest-ranked classes (1) or not (0). */
export function topKHits(
  scores: Scores,
  labels: Int32Array | number[],
  shape: [number, number] | number[],
  k: number,
): Uint8Array {
  return hitsOf(check(scores, labels, shape, k));
}

function hitsOf(c: Checked): Uint8Array {
  const hits = new Uint8Array(c.n);
  for (let r = 0; r < c.n; r++) {
    const base = r * c.d;
    const y = c.labels[r]!;
    const sy = c.scores[base + y]!;
    let above = 0;
    for (let j = 0; j < c.d && above < c.k; j++) {
      if (j !== y && ranksAbove(c.scores[base + j]!, j, sy, y)) above++;
    }
    hits[r] = above < c.k ? 1 : 0;
  }
  return hits;
}

/** Fraction of rows whose label is in the top k. NaN for zero rows. */
export function topKAccuracy(
  scores: Scores,
  labels: Int32Array | number[],
  shape: [number, number] | number[],
  k: number,
): number {
  const hits = topKHits(scores, labels, shape, k);
  let sum = 0;
  for (let i = 0; i < hits.length; i++) sum += hits[i]!;
  return hits.length === 0 ? NaN : sum / hits.length;
}

/** Top-k accuracy of each class over its own rows; NaN for a class with no rows. */
export function perClassTopKAccuracy(
  scores: Scores,
  labels: Int32Array | number[],
  shape: [number, number] | number[],
  k: number,
): Float64Array {
  return perClassOf(check(scores, labels, shape, k));
}

/** Per-class accuracy from checked arguments (the labels are the checked copy, not the caller's). */
function perClassOf(c: Checked): Float64Array {
  const hits = hitsOf(c);
  const d = c.d;
  const hit = new Float64Array(d);
  const count = new Float64Array(d);
  for (let r = 0; r < hits.length; r++) {
    const y = c.labels[r]!;
    count[y]!++;
    hit[y]! += hits[r]!;
  }
  const out = new Float64Array(d);
  for (let c = 0; c < d; c++) out[c] = count[c]! > 0 ? hit[c]! / count[c]! : NaN;
  return out;
}

function meanOver(values: Float64Array, keep: (c: number) => boolean): number {
  let sum = 0;
  let n = 0;
  for (let c = 0; c < values.length; c++) {
    const x = values[c]!;
    if (!Number.isNaN(x) && keep(c)) {
      sum += x;
      n++;
    }
  }
  return n === 0 ? NaN : sum / n;
}

/**
 * Macro-averaged top-k accuracy: the mean of the per-class accuracies over the classes that
 * have at least one row, so every class weighs the same however rare it is.
 */
export function macroTopKAccuracy(
  scores: Scores,
  labels: Int32Array | number[],
  shape: [number, number] | number[],
  k: number,
): number {
  return meanOver(perClassTopKAccuracy(scores, labels, shape, k), () => true);
}

/**
 * The options of rareClassTopKAccuracy (SETS.rareClass in lib/options.ts): clsNumList, the
 * training count of each class (length: classes), what "rare" is measured by; below, a class is
 * rare when its count is below it (default 20, the usual few-shot cut).
 */
export type RareClassOptions = OptionsOf<typeof SETS.rareClass> | RareClassOptionsDeprecated;

/** @deprecated `classCounts` was renamed `clsNumList` (one name per idea, docs/api.md, Conventions); read as clsNumList for one release. */
export interface RareClassOptionsDeprecated {
  classCounts: ArrayLike<number>;
  below?: number;
}

/**
 * Macro-averaged top-k accuracy over the rare classes only: those whose training count is
 * below `below` and that have at least one row here. NaN when there is none.
 */
export function rareClassTopKAccuracy(
  scores: Scores,
  labels: Int32Array | number[],
  shape: [number, number] | number[],
  k: number,
  options: RareClassOptions,
): number {
  const o = parseOptions('options', options, SETS.rareClass);
  const counts = v.numberListSnapshot('options.clsNumList', o.clsNumList, 'an array of per-class training counts');
  const { below } = o;
  const perClass = perClassOf(check(scores, labels, shape, k));
  if (counts.length !== perClass.length) {
    throw new RangeError(`options.clsNumList has length ${counts.length}, expected ${perClass.length} (one per class)`);
  }
  counts.forEach((n, j) => {
    if (typeof n !== 'number') throw new TypeError(`options.clsNumList[${j}] must be a number, got ${v.describe(n)}`);
  });
  return meanOver(perClass, (c) => (counts[c] as number) < below);
}
