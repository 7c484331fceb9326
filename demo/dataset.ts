// The demo's built-in data: Pl@ntNet-300K in miniature. Classes ("species") come in groups
// ("genera") whose members have nearby means, so a sample often looks like several classes:
// top-1 is hard while the right answer is usually among the few nearest. Class sizes follow a
// power law over a random order of the classes, so the tail is full of rare classes and rarity
// is unrelated to the genus. Everything is drawn from one seed.
import type { Bags } from './ngrams.js';
import { Rng } from './rng.js';

/**
 * Rows of features with integer labels: dense rows in `x` (n * features), or, for the place
 * names, sparse bags of hashed n-gram ids in `bags` (then `x` is empty).
 */
export interface Split {
  x: Float32Array;
  y: Int32Array;
  n: number;
  bags?: Bags;
}

export interface DemoData {
  train: Split;
  val: Split;
  test: Split;
  features: number;
  classes: number;
  /** Training examples per class: the long tail, the margins of LDAM and ImbalNoisedTopK. */
  trainCounts: number[];
  classNames: string[];
  /** One line on where the data came from. */
  description: string;
}

export interface SyntheticOptions {
  seed?: number;
  classes?: number;
  genera?: number;
  features?: number;
  /** Training examples of the most frequent class. */
  maxCount?: number;
  /** Training examples of the rarest classes (the floor of the power law). */
  minCount?: number;
  /** Power-law exponent: class of frequency rank r gets maxCount * r^-alpha examples. */
  alpha?: number;
  /** Spread of the genus centres (standard deviations per feature). */
  genusSpread?: number;
  /** Spread of the species means around their genus centre. */
  speciesSpread?: number;
  /** Standard deviation of a sample around its species mean (times a per-class factor in [0.8, 1.2]). */
  noise?: number;
  /** Every class gets at least this many validation and test examples. */
  minEval?: number;
}

export const DEFAULT_SYNTHETIC: Required<SyntheticOptions> = {
  seed: 0,
  classes: 100,
  genera: 20,
  features: 32,
  maxCount: 2000,
  minCount: 4,
  alpha: 1.25,
  genusSpread: 1.0,
  speciesSpread: 0.32,
  noise: 1.8,
  minEval: 4,
};

/** Training count of each class, before the random assignment of ranks to classes. */
export function powerLawCounts(classes: number, maxCount: number, minCount: number, alpha: number): number[] {
  const out: number[] = [];
  for (let r = 1; r <= classes; r++) out.push(Math.max(minCount, Math.round(maxCount * r ** -alpha)));
  return out;
}

export function syntheticData(options: SyntheticOptions = {}): DemoData {
  const o = { ...DEFAULT_SYNTHETIC, ...options };
  const { classes: C, genera: G, features: F } = o;
  if (!Number.isInteger(C) || C < 2) throw new RangeError(`classes must be an integer >= 2, got ${C}`);
  if (!Number.isInteger(G) || G < 1 || G > C) throw new RangeError(`genera must be an integer in [1, ${C}], got ${G}`);
  if (!Number.isInteger(F) || F < 1) throw new RangeError(`features must be an integer >= 1, got ${F}`);
  const rng = new Rng(o.seed, 1);

  const genusCentre = new Float64Array(G * F);
  for (let i = 0; i < genusCentre.length; i++) genusCentre[i] = o.genusSpread * rng.normal();
  // Genus sizes vary: each class joins a random genus, and every genus gets at least one class.
  const genusOf = new Int32Array(C);
  for (let c = 0; c < C; c++) genusOf[c] = c < G ? c : rng.int(G);
  rng.shuffle(genusOf);
  const mean = new Float64Array(C * F);
  for (let c = 0; c < C; c++) {
    const g = genusOf[c]!;
    for (let f = 0; f < F; f++) mean[c * F + f] = genusCentre[g * F + f]! + o.speciesSpread * rng.normal();
  }
  // Per-class feature scale: some species vary more than others.
  const spread = new Float64Array(C);
  for (let c = 0; c < C; c++) spread[c] = 0.8 + 0.4 * rng.uniform();

  const counts = powerLawCounts(C, o.maxCount, o.minCount, o.alpha);
  const rankOf = rng.shuffle(Int32Array.from({ length: C }, (_, i) => i));
  const trainCounts = Array.from(rankOf, (r) => counts[r]!);
  // Validation and test keep the long tail (about 15% and 20% of the training size) but every
  // class gets at least minEval examples in each, so its per-class accuracy can be measured.
  const valCounts = trainCounts.map((n) => Math.max(o.minEval, Math.round(0.15 * n)));
  const testCounts = trainCounts.map((n) => Math.max(o.minEval, Math.round(0.2 * n)));

  const draw = (perClass: number[], stream: number): Split => {
    const r = new Rng(o.seed, stream);
    const n = perClass.reduce((a, b) => a + b, 0);
    const order = r.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    const x = new Float32Array(n * F);
    const y = new Int32Array(n);
    let i = 0;
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < perClass[c]!; j++) {
        const row = order[i++]!;
        y[row] = c;
        for (let f = 0; f < F; f++) x[row * F + f] = mean[c * F + f]! + spread[c]! * o.noise * r.normal();
      }
    }
    return { x, y, n };
  };

  const train = draw(trainCounts, 2);
  const val = draw(valCounts, 3);
  const test = draw(testCounts, 4);
  const classNames = Array.from({ length: C }, (_, c) => `species-${String(c).padStart(3, '0')} (genus ${genusOf[c]})`);
  return {
    train,
    val,
    test,
    features: F,
    classes: C,
    trainCounts,
    classNames,
    description:
      `built-in long-tailed data (seed ${o.seed}): ${C} classes in ${G} genera, ${F} features, ` +
      `${train.n} train / ${val.n} val / ${test.n} test, class sizes ${Math.min(...trainCounts)}..${Math.max(...trainCounts)}`,
  };
}
