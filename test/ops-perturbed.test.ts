// perturbedTopK: 'js' and 'cpu' bit for bit; the noise is NoisedTopK's under 'dense'; the mask's mean against
// an independent Monte-Carlo estimate; the VJP against finite differences of the expected mask
// (common random numbers); eps -> 0 gives the hard top-k mask. Every statistical test has a
// control that shows it can fail.
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultSampler,
  functional,
  LAZY_DEFAULT_MIN_D,
  perturbedTopK,
  perturbedTopKAsync,
  PerturbedTopK,
  setThreads,
  threads,
} from '../lib/index.js';
import { loadNative } from '../lib/native.js';
import { callOf } from './addon-calls.js';
import { mulberry32, randomArray, testedBackends } from './helpers.js';

const tested = testedBackends();
const hasCpu = tested.includes('cpu');

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe.skipIf(!hasCpu)("perturbedTopK: 'js' and 'cpu' bit for bit", () => {
  const before = hasCpu ? threads() : 1;
  afterAll(() => setThreads(before));

  it('mask, indices and the backward on random shapes, dims, k, epsilon, nSample, seeds; 1 and 2 threads; async', async () => {
    const rand = mulberry32(31);
    for (let t = 0; t < 60; t++) {
      const rank = 1 + Math.floor(rand() * 3);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(rand() * 5));
      const dim = Math.floor(rand() * rank);
      if (rand() < 0.4) shape[dim] = 20 + Math.floor(rand() * 300);
      const d = shape[dim]!;
      const k = rand() < 0.2 ? d : 1 + Math.floor(rand() * Math.min(d, 40));
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randomArray(rand, n, 3);
      if (rand() < 0.3) for (let i = 0; i < n; i++) x[i] = Math.round(x[i]!); // ties
      const opts = {
        k,
        dim,
        epsilon: [0.01, 0.5, 1, 3][t % 4]!,
        nSample: 1 + Math.floor(rand() * 9),
        seed: (BigInt(Math.floor(rand() * 2 ** 53)) * 977n) % 2n ** 64n,
        offset: Math.floor(rand() * 100),
      };
      const g = randomArray(rand, n, 1);
      if (rand() < 0.3) g.fill(0, 0, Math.floor(n / 2)); // rows whose samples have <g, Y> = 0 are skipped
      const js = perturbedTopK(x, shape, { ...opts, backend: 'js' });
      const gjs = js.backward(g);
      const label = JSON.stringify({ t, shape, ...opts, seed: String(opts.seed) });
      for (const nt of [1, 2]) {
        setThreads(nt);
        const cpu = perturbedTopK(x, shape, { ...opts, backend: 'cpu' });
        expect(bits(cpu.mask), label).toEqual(bits(js.mask));
        expect(Array.from(cpu.indices), label).toEqual(Array.from(js.indices));
        expect(bits(cpu.backward(g)), label).toEqual(bits(gjs));
      }
      const a = await perturbedTopKAsync(x, shape, { ...opts, backend: 'cpu' });
      expect(bits(a.mask)).toEqual(bits(js.mask));
      expect(bits(await a.backwardAsync(g))).toEqual(bits(gjs));
    }
  });
});

describe('perturbedTopK: definition', () => {
  it.each(tested)(
    "%s: the noise is NoisedTopK's for the same seed and offset (its k-th position lies in the sample's set; k = 1: equal)",
    (backend) => {
      const rand = mulberry32(41);
      const x = randomArray(rand, 6 * 50, 2);
      for (const k of [1, 3, 10]) {
        const p = perturbedTopK(x, [6, 50], { k, epsilon: 0.7, nSample: 8, seed: 99, offset: 5, backend });
        const nt = functional.noisedTopK(x, [6, 50], { k, epsilon: 0.7, nSample: 8, seed: 99, offset: 5, backend });
        for (let u = 0; u < 6 * 8; u++) {
          const set = Array.from(p.indices.subarray(u * k, (u + 1) * k));
          expect(set).toContain(nt.indices[u]);
          if (k === 1) expect(set[0]).toBe(nt.indices[u]);
          expect(set).toEqual([...set].sort((a, b) => a - b)); // ascending
        }
      }
    },
  );

  it.each(tested)('%s: rows of the mask sum to k; along a middle dim too', (backend) => {
    const rand = mulberry32(42);
    const x = randomArray(rand, 3 * 40 * 2, 2);
    const r = perturbedTopK(x, [3, 40, 2], { k: 7, dim: 1, epsilon: 1, nSample: 13, seed: 1, offset: 0, backend });
    for (let o = 0; o < 3; o++)
      for (let i = 0; i < 2; i++) {
        let s = 0;
        for (let c = 0; c < 40; c++) s += r.mask[(o * 40 + c) * 2 + i]!;
        expect(s).toBeCloseTo(7, 5);
      }
  });

  it('the module form: call n uses stream offset n', () => {
    const x = new Float32Array([0.3, -1, 2, 0.5, 0.1]);
    const m = new PerturbedTopK({ k: 2, epsilon: 0.5, nSample: 4, seed: 7 });
    m.forward(x, [5]);
    const second = m.forward(x, [5]);
    const f = perturbedTopK(x, [5], { k: 2, epsilon: 0.5, nSample: 4, seed: 7, offset: 1 });
    expect(bits(second.mask)).toEqual(bits(f.mask));
    expect(second.offset).toBe(1);
    expect(m.seed).toBe(7n);
  });
});

// ---- statistics ----

/** Standard normals from mulberry32 (Box-Muller): independent of the package's stream. */
function gaussians(seed: number): () => number {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Monte-Carlo probability that each column is in the top-k set of x + eps * Z. */
function monteCarloMask(x: number[], k: number, eps: number, n: number, seed: number): number[] {
  const z = gaussians(seed);
  const counts = new Array(x.length).fill(0);
  for (let t = 0; t < n; t++) {
    const y = x.map((v) => v + eps * z());
    const order = y.map((_, c) => c).sort((a, b) => y[b]! - y[a]! || a - b);
    for (let j = 0; j < k; j++) counts[order[j]!]++;
  }
  return counts.map((c) => c / n);
}

/** Largest |a - b| / se over the columns, se from the two binomial sample sizes. */
function worstZ(a: ArrayLike<number>, na: number, b: number[], nb: number): number {
  let worst = 0;
  for (let c = 0; c < b.length; c++) {
    const p = (a[c]! * na + b[c]! * nb) / (na + nb);
    const se = Math.sqrt(Math.max(p * (1 - p), 1e-12) * (1 / na + 1 / nb));
    worst = Math.max(worst, Math.abs(a[c]! - b[c]!) / se);
  }
  return worst;
}

describe('perturbedTopK: statistics', () => {
  const x = [0.4, -0.2, 1.1, 0.9, -0.8, 0.3];
  const k = 2;
  const eps = 1;

  it('the mask matches an independent Monte-Carlo estimate within its standard error (control: a shifted input fails)', () => {
    const S = 20000;
    const ours = perturbedTopK(new Float32Array(x), [6], { k, epsilon: eps, nSample: S, seed: 2024, offset: 0 });
    const N = 40000;
    const ref = monteCarloMask(x, k, eps, N, 77);
    // 6 columns, two-sided: |z| < 4 has a family-wise false alarm rate below 0.04%.
    expect(worstZ(ours.mask, S, ref, N)).toBeLessThan(4);
    const shifted = monteCarloMask(
      x.map((v, i) => (i === 0 ? v + 0.25 : v)),
      k,
      eps,
      N,
      78,
    );
    expect(worstZ(ours.mask, S, shifted, N)).toBeGreaterThan(4);
  });

  it('the VJP matches finite differences of the expected mask (common random numbers) within their paired error (control: 1.4x the VJP fails)', () => {
    const g = new Float32Array([0.9, -0.4, 0.3, -1.0, 0.6, 0.2]);
    const xs = new Float32Array(x);
    const M = 24;
    const S = 4000;
    const h = 0.15;
    const diffs: number[][] = [];
    const scaledDiffs: number[][] = [];
    const f = (xx: Float32Array, offset: number) => {
      const m = perturbedTopK(xx, [6], { k, epsilon: eps, nSample: S, seed: 5, offset }).mask;
      let s = 0;
      for (let c = 0; c < 6; c++) s += g[c]! * m[c]!;
      return s;
    };
    for (let b = 0; b < M; b++) {
      const vjp = perturbedTopK(xs, [6], { k, epsilon: eps, nSample: S, seed: 5, offset: b }).backward(g);
      const row: number[] = [];
      const scaled: number[] = [];
      for (let i = 0; i < 6; i++) {
        const xp = xs.slice();
        const xm = xs.slice();
        xp[i] = xs[i]! + h;
        xm[i] = xs[i]! - h;
        const fd = (f(xp, b) - f(xm, b)) / (2 * h); // same seed and offset: the same Z
        row.push(vjp[i]! - fd);
        scaled.push(1.4 * vjp[i]! - fd);
      }
      diffs.push(row);
      scaledDiffs.push(scaled);
    }
    // Per coordinate: mean of the paired differences over M independent batches, and its SE.
    const zOf = (ds: number[][], i: number) => {
      const col = ds.map((r) => r[i]!);
      const mean = col.reduce((a, b) => a + b, 0) / M;
      const sd = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / (M - 1));
      // 0.004: allowance for the central difference's bias, h^2 / 6 * |f'''| with h = 0.15 and
      // |f'''| <~ 1 for unit Gaussian smoothing (the paired SE here is about 0.003-0.006).
      return Math.max(0, Math.abs(mean) - 0.004) / (sd / Math.sqrt(M));
    };
    const z = [0, 1, 2, 3, 4, 5].map((i) => zOf(diffs, i));
    expect(Math.max(...z), `z = ${z.map((t) => t.toFixed(2))}`).toBeLessThan(4.5);
    const zc = [0, 1, 2, 3, 4, 5].map((i) => zOf(scaledDiffs, i));
    expect(Math.max(...zc), `control z = ${zc.map((t) => t.toFixed(2))}`).toBeGreaterThan(4.5);
  });

  it('epsilon -> 0 approaches the hard top-k mask (and equals it once the noise cannot reorder)', () => {
    const xs = new Float32Array([0.0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8]);
    const hard = [0, 0, 0, 0, 1, 1, 1];
    const dist = (eps: number) => {
      const m = perturbedTopK(xs, [7], { k: 3, epsilon: eps, nSample: 4000, seed: 3, offset: 0 }).mask;
      return hard.reduce((a, h, c) => a + Math.abs(h - m[c]!), 0);
    };
    const d = [2, 0.5, 0.1, 0.02].map(dist);
    for (let i = 1; i < d.length; i++) expect(d[i]!).toBeLessThan(d[i - 1]!);
    expect(d[0]!).toBeGreaterThan(1);
    // |z| <= 5.78 for every normal of the stream: with eps * 5.78 * 2 < 0.3 no order changes.
    expect(dist(0.02)).toBe(0);
    expect(dist(1e-6)).toBe(0);
  });
});

describe('perturbedTopK arguments', () => {
  const x = new Float32Array([1, 2, 3, 4]);
  it('rejects bad options and outputs, naming them', () => {
    expect(() =>
      perturbedTopK(x, [4], { k: 2, seed: 1, offset: 0 } as unknown as { k: number; nSample: number }),
    ).toThrow(/options.nSample is required/);
    expect(() => perturbedTopK(x, [4], { k: 2, nSample: 3, epsilon: 0 })).toThrow(
      /epsilon must be a normal float32 in \[1\.1754943508222875e-38, .*\] \(the kernels divide by it\), got 0/,
    );
    expect(() => perturbedTopK(x, [4], { k: 2, nSample: 3, epsilon: -1 })).toThrow(RangeError);
    expect(() => perturbedTopK(x, [4], { k: 5, nSample: 3 })).toThrow(/k must be an integer in \[1, 4\]/);
    expect(() =>
      perturbedTopK(x, [4], { k: 2, nSample: 3, n_sample: 3 } as unknown as { k: number; nSample: number }),
    ).toThrow(/unknown option 'n_sample'.*nSample/);
    expect(() => perturbedTopK(x, [4], { k: 2, nSample: 3, seed: -1 })).toThrow(/seed must be/);
    expect(() => perturbedTopK(x, [4], { k: 2, nSample: 3, backend: 'cuda' })).toThrow(/not available/);
    expect(() => perturbedTopK(new Float32Array([1, Infinity]), [2], { k: 1, nSample: 3 })).toThrow(
      /x\[1\] is Infinity/,
    );
    expect(() => perturbedTopK(x, [4], { k: 2, nSample: 3, out: new Float32Array(3) })).toThrow(
      /out has length 3, expected 4/,
    );
    const r = perturbedTopK(x, [4], { k: 2, nSample: 3, seed: 1, offset: 0 });
    expect(() => r.backward(new Float32Array(3))).toThrow(/gradOutput has length 3, expected 4/);
    expect(() => r.backward(x, x)).toThrow(/out shares memory with grad/);
    r.indices[0] = 9;
    expect(() => r.backward(x)).toThrow(/indices\[0\] is 9, outside \[0, 4\)/);
    expect(() => new PerturbedTopK({ k: 2 } as unknown as { k: number; nSample: number })).toThrow(TypeError);
  });

  it.skipIf(!hasCpu)('the native layer repeats the cheap checks and names the operation', () => {
    const addon = loadNative() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const m = new Float32Array(4);
    const idx = new Int32Array(2 * 3);
    expect(() => addon.perturbedTopK!(callOf('perturbedForward', x, 1, 4, 1, 2, 1, 3, 0, 0, 0, m, idx))).not.toThrow();
    expect(() => addon.perturbedTopK!(callOf('perturbedForward', x, 1, 4, 1, 2, NaN, 3, 0, 0, 0, m, idx))).toThrow(
      /^perturbedTopK: epsilon must be finite/,
    );
    expect(() =>
      addon.perturbedTopK!(callOf('perturbedForward', x, 1, 4, 1, 2, 1, 3, 0, 0, 0, m, new Int32Array(5))),
    ).toThrow(/perturbedTopK: indices has length 5, expected 6/);
    const bad = idx.slice();
    bad[4] = 4;
    expect(() =>
      addon.perturbedTopKBackward!(callOf('perturbedBackward', bad, x, 1, 4, 1, 2, 1, 3, 0, 0, 0, new Float32Array(4))),
    ).toThrow(/^perturbedTopKBackward: indices\[4\] is outside \[0, d\)/);
    expect(() =>
      addon.perturbedTopKBackward!(callOf('perturbedBackward', idx, x, 1, 4, 1, 2, 0, 3, 0, 0, 0, new Float32Array(4))),
    ).toThrow(/epsilon must be finite and > 0/);
    expect(() =>
      addon.perturbedTopKBackward!(callOf('perturbedBackward', idx, x, 1, 4, 1, 2, 1, 3, 0, 0, 0, x)),
    ).toThrow(/gradX overlaps grad/);
  });
});

describe("perturbedTopK shares NoisedTopK's noise only under sampler 'dense' (docs/ops.md)", () => {
  it.each(testedBackends())(
    "%s: same seed and offset, k = 1: the same columns as 'dense'; from LAZY_DEFAULT_MIN_D columns the default 'lazy' differs",
    (backend) => {
      for (const d of [100, LAZY_DEFAULT_MIN_D]) {
        const rand = mulberry32(d);
        const x = randomArray(rand, 3 * d, 1);
        const o = { k: 1, epsilon: 0.7, nSample: 16, seed: 11, offset: 4, backend } as const;
        const p = perturbedTopK(x, [3, d], o);
        const dense = functional.noisedTopK(x, [3, d], { ...o, sampler: 'dense' });
        const byDefault = functional.noisedTopK(x, [3, d], o);
        expect(Array.from(p.indices)).toEqual(Array.from(dense.indices));
        if (d < LAZY_DEFAULT_MIN_D) {
          expect(defaultSampler(d, 1)).toBe('dense');
          expect(Array.from(byDefault.indices)).toEqual(Array.from(p.indices));
        } else {
          expect(defaultSampler(d, 1)).toBe('lazy');
          expect(Array.from(byDefault.indices)).not.toEqual(Array.from(p.indices));
        }
      }
    },
  );
});
