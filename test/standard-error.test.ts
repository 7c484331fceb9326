// The Monte-Carlo error (docs/api.md, Monte-Carlo error): each sample's k-th value as the
// kernels write it (ForwardCall.sampleValues), NoisedTopKResult.standardError and
// LossResult.standardError. The per-sample values are the floats `values` is the mean of, on
// every backend and sampler; the reported standard errors are honest: over many independent
// draws the z-scores (value - true mean) / SE follow N(0, 1) by a Kolmogorov-Smirnov test at
// level 1e-4, which rejects the same z-scores computed with half the reported error.
import { describe, expect, it } from 'vitest';
import type { SamplerName } from '../lib/addon.js';
import { forwardJs } from '../lib/js-kernel.js';
import { functional, ImbalNoisedTopK, NoisedTopK, setThreads, threads } from '../lib/index.js';
import { loadNative } from '../lib/native.js';
import { forwardCall } from './addon-calls.js';
import { bits } from './fuzz-kit.js';
import { mulberry32, randomArray, testedBackends } from './helpers.js';
import { ksNormal } from './stats-kit.js';

const backends = testedBackends();
const hasCpu = backends.includes('cpu');
const addon = hasCpu ? loadNative()! : null;
const samplers: SamplerName[] = ['lazy', 'dense'];
const fr = Math.fround;

/** values[r] as the kernels build it from sampleValues (docs/determinism.md): the float64 mean, rounded once. */
function meanOfSamples(sampleValues: Float32Array, rows: number, S: number): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let s = 0; s < S; s++) sum += sampleValues[r * S + s]!;
    out[r] = sum / S;
  }
  return out;
}

/** The sample standard deviation (S - 1 denominator) of row r, in float64. */
function sampleSd(sampleValues: Float32Array, r: number, S: number): number {
  let mean = 0;
  for (let s = 0; s < S; s++) mean += sampleValues[r * S + s]!;
  mean /= S;
  let ss = 0;
  for (let s = 0; s < S; s++) ss += (sampleValues[r * S + s]! - mean) ** 2;
  return Math.sqrt(ss / (S - 1));
}

const ALPHA = 1e-4;

describe('sampleValues: the floats values is the mean of', () => {
  const rand = mulberry32(1401);
  // [outer, d, inner] shapes, reduced over d (inner > 1: the reduced dim in the middle).
  const shapes: [number, number, number][] = [
    [5, 37, 1],
    [3, 300, 2],
    [2, 9, 3],
    [1, 1200, 1],
  ];

  it.each(backends)('%s: both samplers and explicit noise, bit for bit, through the API', (backend) => {
    for (const [outer, d, inner] of shapes) {
      const x = randomArray(rand, outer * d * inner, 3);
      const shape = [outer, d, inner];
      for (const S of [1, 2, 7]) {
        const k = 1 + Math.floor(rand() * Math.min(d, 8));
        const runs = [
          ...samplers.map((sampler) =>
            functional.noisedTopK(x, shape, { k, dim: 1, nSample: S, seed: 99 + S, offset: 0, sampler, backend }),
          ),
          functional.noisedTopK(x, shape, { k, dim: 1, noise: randomArray(rand, x.length * S), backend }),
        ];
        for (const r of runs) {
          const rows = outer * inner;
          expect(r.sampleValues.length).toBe(rows * S);
          expect(bits(meanOfSamples(r.sampleValues, rows, S))).toEqual(bits(r.values));
        }
      }
    }
  });

  it.skipIf(!hasCpu)('js = cpu bit for bit on random shapes, k, eps, seeds, samplers and thread counts', () => {
    const before = threads();
    try {
      const rng = mulberry32(77);
      for (let trial = 0; trial < 40; trial++) {
        const outer = 1 + Math.floor(rng() * 4);
        const inner = 1 + Math.floor(rng() * 3);
        const d = 1 + Math.floor(rng() * (trial % 4 === 0 ? 2000 : 90));
        const k = 1 + Math.floor(rng() * Math.min(d, trial % 3 === 0 ? 40 : 6));
        const S = 1 + Math.floor(rng() * 9);
        const eps = [0, 0.01, 1, 30][trial % 4]!;
        const x = randomArray(rng, outer * d * inner, 2);
        const rows = outer * inner;
        const noise = trial % 5 === 4 ? randomArray(rng, x.length * S) : null;
        const sampler: SamplerName = trial % 2 === 0 ? 'lazy' : 'dense';
        const seeds = [Math.floor(rng() * 2 ** 32), Math.floor(rng() * 2 ** 32), Math.floor(rng() * 2 ** 32)] as const;
        const run = (kernel: 'js' | 'cpu') => {
          const call = forwardCall(
            x,
            outer,
            d,
            inner,
            k,
            eps,
            S,
            noise,
            ...seeds,
            new Float32Array(rows),
            new Int32Array(rows * S),
            sampler,
            new Float32Array(rows * S).fill(-7),
          );
          if (kernel === 'js') forwardJs(call);
          else addon!.forward(call);
          return call;
        };
        setThreads(1 + (trial % 3));
        const js = run('js');
        const cpu = run('cpu');
        expect(bits(cpu.sampleValues!), `trial ${trial}`).toEqual(bits(js.sampleValues!));
        expect(bits(cpu.values)).toEqual(bits(js.values));
        expect(bits(meanOfSamples(cpu.sampleValues!, rows, S))).toEqual(bits(cpu.values));
        // Without sampleValues the other outputs are the same bits: the new output changes nothing else.
        const plain = forwardCall(
          x,
          outer,
          d,
          inner,
          k,
          eps,
          S,
          noise,
          ...seeds,
          new Float32Array(rows),
          new Int32Array(rows * S),
          sampler,
        );
        addon!.forward(plain);
        expect(bits(plain.values)).toEqual(bits(cpu.values));
        expect(bits(plain.positions)).toEqual(bits(cpu.positions));
        // Each value is the perturbed entry at the selected column: x itself where eps = 0.
        if (eps === 0) {
          for (let u = 0; u < rows * S; u++) {
            const r = Math.floor(u / S);
            const o = Math.floor(r / inner);
            const i = r % inner;
            expect(cpu.sampleValues![u]).toBe(x[(o * d + cpu.positions[u]!) * inner + i]);
          }
        }
      }
    } finally {
      setThreads(before);
    }
  });

  it.skipIf(!hasCpu)('forwardAsync writes sampleValues too (owned copies copied back)', async () => {
    const x = randomArray(mulberry32(5), 4 * 50, 2);
    const sync = forwardCall(
      x,
      4,
      50,
      1,
      3,
      1,
      6,
      null,
      1,
      2,
      3,
      new Float32Array(4),
      new Int32Array(24),
      'lazy',
      new Float32Array(24),
    );
    const async = forwardCall(
      x,
      4,
      50,
      1,
      3,
      1,
      6,
      null,
      1,
      2,
      3,
      new Float32Array(4),
      new Int32Array(24),
      'lazy',
      new Float32Array(24),
    );
    addon!.forward(sync);
    await addon!.forwardAsync(async);
    expect(bits(async.sampleValues!)).toEqual(bits(sync.sampleValues!));
  });
});

describe.skipIf(!hasCpu)('sampleValues guards in the addon', () => {
  const x = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));
  // x [3, 4] reduced over 4, nSample 2: sampleValues has 6 elements.
  const call = (
    sampleValues: unknown,
    values: Float32Array = new Float32Array(3),
    positions: Int32Array = new Int32Array(6),
  ) => forwardCall(x, 3, 4, 1, 2, 0.5, 2, null, 1, 2, 3, values, positions, 'dense', sampleValues as Float32Array);
  const entries = [
    ['forward', (c: ReturnType<typeof call>) => addon!.forward(c)],
    ['forwardAsync', (c: ReturnType<typeof call>) => addon!.forwardAsync(c)],
  ] as const;

  it.each(entries)(
    '%s: a wrong type is a TypeError naming sampleValues, a wrong length a RangeError',
    (_name, entry) => {
      for (const bad of [new Int32Array(6), new Float64Array(6), [0, 0, 0, 0, 0, 0], 3]) {
        expect(() => entry(call(bad))).toThrow(TypeError);
        expect(() => entry(call(bad))).toThrow(/^noisedTopK: sampleValues must be a Float32Array or null$/);
      }
      for (const n of [0, 5, 7, 3]) {
        expect(() => entry(call(new Float32Array(n)))).toThrow(RangeError);
        expect(() => entry(call(new Float32Array(n)))).toThrow(`noisedTopK: sampleValues has length ${n}, expected 6`);
      }
      expect(() => entry(call(null))).not.toThrow();
      expect(() => entry(call(undefined))).not.toThrow();
    },
  );

  it.each(entries)('%s: sampleValues sharing memory with another array is a RangeError naming both', (_name, entry) => {
    const buf = new ArrayBuffer(64);
    const overX = () =>
      forwardCall(
        new Float32Array(buf, 0, 12),
        3,
        4,
        1,
        2,
        0.5,
        2,
        null,
        1,
        2,
        3,
        new Float32Array(3),
        new Int32Array(6),
        'dense',
        new Float32Array(buf, 24, 6),
      );
    const overValues = () => call(new Float32Array(buf, 0, 6), new Float32Array(buf, 20, 3));
    const overPositions = () => call(new Float32Array(buf, 0, 6), new Float32Array(3), new Int32Array(buf, 8, 6));
    for (const [make, other] of [
      [overX, 'x'],
      [overValues, 'values'],
      [overPositions, 'positions'],
    ] as const) {
      expect(() => entry(make())).toThrow(RangeError);
      expect(() => entry(make())).toThrow(new RegExp(`sampleValues overlaps ${other}|${other} overlaps sampleValues`));
    }
    // SharedArrayBuffer twins: the same memory through two buffer objects, seen by address.
    const a = new SharedArrayBuffer(48);
    const b = structuredClone(a);
    const twin = () => call(new Float32Array(b, 0, 6), new Float32Array(a, 0, 3));
    expect(() => entry(twin())).toThrow(/values overlaps sampleValues/);
  });
});

describe('NoisedTopKResult.standardError', () => {
  const backend = backends.includes('cpu') ? 'cpu' : 'js';

  it('is sd / sqrt(nSample) per slice in float64 (S - 1 denominator), of the values shape; NaN for nSample = 1', () => {
    const x = randomArray(mulberry32(3), 2 * 40 * 3, 2);
    const r = new NoisedTopK({ k: 4, nSample: 9, seed: 11, dim: 1, backend }).forward(x, [2, 40, 3]);
    expect(r.standardError.length).toBe(6);
    expect(r.standardError).toBeInstanceOf(Float32Array);
    for (let row = 0; row < 6; row++) {
      expect(r.standardError[row]).toBe(fr(sampleSd(r.sampleValues, row, 9) / 3));
      expect(r.standardError[row]).toBeGreaterThan(0);
    }
    expect(r.standardError).toBe(r.standardError); // computed once, then kept
    const one = new NoisedTopK({ k: 4, nSample: 1, seed: 11, dim: 1, backend }).forward(x, [2, 40, 3]);
    expect(Array.from(one.standardError).every(Number.isNaN)).toBe(true);
    // eps = 0: every sample is the hard k-th value, no error.
    const hard = new NoisedTopK({ k: 4, epsilon: 0, nSample: 5, seed: 1, dim: 1, backend }).forward(x, [2, 40, 3]);
    expect(Array.from(hard.standardError)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  // One N(0, 1) row of D = 1000, k = 6, eps = 1, repeated N times: rows draw independent noise,
  // so values[r] are N independent estimates of one mean. The mean itself comes from a separate
  // call of 64 rows x 128 S samples (~1% of a row's error); its own error enters the z-score's
  // denominator.
  it.each(samplers)(
    '%s: z = (value - mean) / SE is N(0, 1) by KS at level 1e-4; with SE / 2 the same test rejects',
    (sampler) => {
      const D = 1000;
      const N = 2000;
      const S = 64;
      const row = Float32Array.from({ length: D }, (_, i) => {
        const r = mulberry32(9000 + i);
        return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      });
      const repeat = (n: number) => {
        const x = new Float32Array(n * D);
        for (let i = 0; i < n; i++) x.set(row, i * D);
        return x;
      };
      const refRows = 64;
      const ref = functional.noisedTopK(repeat(refRows), [refRows, D], {
        k: 6,
        nSample: S * 128,
        seed: 424242,
        offset: 0,
        sampler,
        backend,
      });
      let refSum = 0;
      for (const v of ref.values) refSum += v;
      const mean = refSum / refRows;
      let refVar = 0;
      for (const se of ref.standardError) refVar += se * se;
      const refSe = Math.sqrt(refVar) / refRows;
      const r = functional.noisedTopK(repeat(N), [N, D], { k: 6, nSample: S, seed: 777, offset: 0, sampler, backend });
      const z = (scale: number) =>
        Array.from(r.values, (v, i) => (v - mean) / Math.hypot(scale * r.standardError[i]!, refSe));
      const honest = ksNormal(z(1));
      const control = ksNormal(z(0.5));
      console.log(
        `standardError ${sampler}: KS p = ${honest.p.toPrecision(3)} (D = ${honest.statistic.toFixed(4)}); SE/2 control p = ${control.p.toExponential(2)}`,
      );
      expect(honest.p).toBeGreaterThan(ALPHA);
      expect(control.p).toBeLessThan(ALPHA);
    },
  );
});

describe('LossResult.standardError', () => {
  const backend = backends.includes('cpu') ? 'cpu' : 'js';
  // B = 8 rows of D = 100 classes: rows 0-3 active by a wide margin (the label is the lowest
  // score), rows 4-6 inactive by a wide margin (the label far above the rest), row 7 ignored.
  const B = 8;
  const D = 100;
  const k = 5;
  const scores = randomArray(mulberry32(21), B * D, 1.5);
  const labels = new Int32Array(B);
  for (let r = 0; r < B; r++) {
    let lo = 0;
    for (let c = 1; c < D; c++) if (scores[r * D + c]! < scores[r * D + lo]!) lo = c;
    labels[r] = lo;
    if (r >= 4 && r < 7) scores[r * D + lo] = 20;
  }
  labels[7] = -100;
  const weight = Float32Array.from({ length: D }, (_, c) => 0.5 + (c % 3));
  const margins = Float32Array.from({ length: D }, (_, c) => 0.2 + 0.01 * c);
  const options = { k, margins, scale: 3, weight, ignoreIndex: -100, sampler: 'lazy' as SamplerName, backend } as const;

  it("'none', 'sum' and 'mean' agree: the per-row errors are w * a * active * sd / sqrt(S), summed in quadrature, / W for 'mean'", () => {
    const S = 16;
    const none = functional.imbalNoisedTopKLoss(scores, labels, [B, D], {
      ...options,
      reduction: 'none',
      nSample: S,
      seed: 5,
      offset: 0,
    });
    const sum = functional.imbalNoisedTopKLoss(scores, labels, [B, D], {
      ...options,
      reduction: 'sum',
      nSample: S,
      seed: 5,
      offset: 0,
    });
    const mean = functional.imbalNoisedTopKLoss(scores, labels, [B, D], { ...options, nSample: S, seed: 5, offset: 0 });
    const perRow = none.standardError;
    expect(perRow).toBeInstanceOf(Float32Array);
    const sd = functional.noisedTopK(scores, [B, D], {
      k: k + 1,
      nSample: S,
      seed: 5,
      offset: 0,
      sampler: 'lazy',
      backend,
    });
    let quad = 0;
    let W = 0;
    for (let r = 0; r < B; r++) {
      const active = r < 4;
      const want = active ? (weight[labels[r]!]! * 3 * sampleSd(sd.sampleValues, r, S)) / Math.sqrt(S) : 0;
      expect(none.hingeArguments[r]! > 0).toBe(active);
      expect(perRow[r]).toBeCloseTo(want, 6);
      quad += (perRow[r]! as number) ** 2;
      if (r < 7) W += weight[labels[r]!]!;
    }
    expect(sum.standardError).toBeCloseTo(Math.sqrt(quad), 5);
    expect(mean.standardError).toBeCloseTo(Math.sqrt(quad) / W, 6);
    expect(mean.standardError).toBe(mean.standardError);
    // nSample = 1: no estimate.
    const one = functional.imbalNoisedTopKLoss(scores, labels, [B, D], { ...options, nSample: 1, seed: 5, offset: 0 });
    expect(one.standardError).toBeNaN();
    const oneNone = functional.imbalNoisedTopKLoss(scores, labels, [B, D], {
      ...options,
      reduction: 'none',
      nSample: 1,
      seed: 5,
      offset: 0,
    });
    expect(Array.from(oneNone.standardError).every(Number.isNaN)).toBe(true);
    // Every row ignored: the mean is 0 / 0, and so is its error.
    const allIgnored = functional.balNoisedTopKLoss(scores, new Int32Array(B).fill(-100), [B, D], {
      k,
      nSample: 4,
      seed: 1,
      offset: 0,
      ignoreIndex: -100,
      backend,
    });
    expect(allIgnored.loss).toBeNaN();
    expect(allIgnored.standardError).toBeNaN();
  });

  it("the module form reports it too, a number for 'mean'", () => {
    const m = new ImbalNoisedTopK({
      k,
      maxM: 0.5,
      clsNumList: Array.from({ length: D }, (_, c) => 10 + c),
      nSample: 8,
      seed: 3,
      backend,
    });
    const r = m.forward(
      scores,
      Array.from(labels, (y) => Math.max(0, y)),
      [B, D],
    );
    expect(typeof r.standardError).toBe('number');
    expect(r.standardError).toBeGreaterThan(0);
  });

  // N independent calls (seeds 0..N-1) of the 'mean' loss; the true mean from one call with
  // 2048x the samples. Away from the kink the hinge is linear in smoothtop, so the first-order
  // error is the error: z = (loss - true) / SE is N(0, 1).
  it.each(samplers)(
    "%s: 'mean' with weights, margins, scale and an ignored row: z-scores N(0, 1) by KS at 1e-4; SE / 2 rejected",
    (sampler) => {
      const S = 32;
      const N = 1500;
      const opts = { ...options, sampler };
      const ref = functional.imbalNoisedTopKLoss(scores, labels, [B, D], {
        ...opts,
        nSample: S * 2048,
        seed: 123456789,
        offset: 0,
      });
      // The test's premise: every non-ignored row is farther from the kink than 8 of its own errors at S.
      const refNone = functional.imbalNoisedTopKLoss(scores, labels, [B, D], {
        ...opts,
        reduction: 'none',
        nSample: S,
        seed: 1,
        offset: 0,
      });
      const topkSe = functional.noisedTopK(scores, [B, D], {
        k: k + 1,
        nSample: S,
        seed: 1,
        offset: 0,
        sampler,
        backend,
      }).standardError;
      for (let r = 0; r < 7; r++) expect(Math.abs(refNone.hingeArguments[r]!)).toBeGreaterThan(8 * 3 * topkSe[r]!);
      const losses: number[] = [];
      const errors: number[] = [];
      for (let seed = 0; seed < N; seed++) {
        const l = functional.imbalNoisedTopKLoss(scores, labels, [B, D], { ...opts, nSample: S, seed, offset: 0 });
        losses.push(l.loss);
        errors.push(l.standardError);
      }
      const z = (scale: number) =>
        losses.map((v, i) => (v - ref.loss) / Math.hypot(scale * errors[i]!, ref.standardError));
      const honest = ksNormal(z(1));
      const control = ksNormal(z(0.5));
      console.log(
        `loss standardError ${sampler}: KS p = ${honest.p.toPrecision(3)} (D = ${honest.statistic.toFixed(4)}); SE/2 control p = ${control.p.toExponential(2)}`,
      );
      expect(honest.p).toBeGreaterThan(ALPHA);
      expect(control.p).toBeLessThan(ALPHA);
    },
  );
});
