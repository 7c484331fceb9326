// The lazy sampler: 'js' and 'cpu' give the same bits (values, positions) for random shapes,
// dims, k, eps, seeds, row types and thread counts, and a 'lazy' call is a pure function of
// its inputs.
import { afterAll, describe, expect, it } from 'vitest';
import { setThreads, threads } from '../lib/index.js';
import { resolveKernel, type ForwardCall } from '../lib/kernel.js';
import { loadNative } from '../lib/native.js';
import { mulberry32, testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** A row of one of the kinds the sampler treats differently. */
function makeRow(rand: () => number, kind: number, d: number): Float32Array {
  const x = new Float32Array(d);
  for (let c = 0; c < d; c++) {
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    switch (kind) {
      case 0:
        x[c] = g;
        break; // N(0, 1)
      case 1:
        x[c] = Math.floor(rand() * 4);
        break; // few distinct values: ties
      case 2:
        x[c] = 1.5;
        break; // all equal
      case 3:
        x[c] = rand() < 0.01 ? 20 + g : g;
        break; // a few outliers
      case 4:
        x[c] = 100 * g;
        break; // wide
      case 5:
        x[c] = 1e-3 * g;
        break; // narrow (eps >> spread)
      case 6:
        x[c] = c % 7 === 0 ? -0 : 0;
        break; // signed zeros
      default:
        x[c] = rand() < 0.002 ? Number.NaN : g; // non-finite: the dense path for the row
    }
  }
  return x;
}

function call(
  x: Float32Array,
  outer: number,
  d: number,
  inner: number,
  k: number,
  epsilon: number,
  nSample: number,
  seedLo: number,
  seedHi: number,
  offset: number,
): ForwardCall {
  return {
    x,
    outer,
    d,
    inner,
    k,
    epsilon,
    nSample,
    noise: null,
    seedLo,
    seedHi,
    offset,
    sampler: 'lazy',
    values: new Float32Array(outer * inner),
    positions: new Int32Array(outer * inner * nSample),
    sampleValues: null,
  };
}

describe.skipIf(!hasCpu)("sampler 'lazy': cpu and js agree bit for bit", () => {
  const before = hasCpu ? threads() : 1;
  afterAll(() => setThreads(before));
  const js = resolveKernel('js');
  const cpu = resolveKernel('cpu');

  it.each([1, 2, 3, 8])('random rows, shapes, k, eps and seeds on %i threads', (t) => {
    setThreads(t);
    const rand = mulberry32(4200 + t);
    for (let trial = 0; trial < 40; trial++) {
      const outer = 1 + Math.floor(rand() * 6);
      const inner = rand() < 0.7 ? 1 : 1 + Math.floor(rand() * 3);
      const d = [20, 64, 100, 300, 1000, 2500][Math.floor(rand() * 6)]!;
      const k = 1 + Math.floor(rand() * (rand() < 0.8 ? Math.min(d, 40) : d));
      const epsilon = [0, 1e-3, 0.1, 1, 3, 50][Math.floor(rand() * 6)]!;
      const nSample = 1 + Math.floor(rand() * 7);
      const x = new Float32Array(outer * d * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const row = makeRow(rand, Math.floor(rand() * 8), d);
          for (let c = 0; c < d; c++) x[(o * d + c) * inner + i] = row[c]!;
        }
      }
      const seedLo = Math.floor(rand() * 2 ** 32) >>> 0;
      const seedHi = Math.floor(rand() * 2 ** 32) >>> 0;
      const offset = Math.floor(rand() * 2 ** 32) >>> 0;
      const a = call(x, outer, d, inner, k, epsilon, nSample, seedLo, seedHi, offset);
      const b = call(x, outer, d, inner, k, epsilon, nSample, seedLo, seedHi, offset);
      js.forward(a);
      cpu.forward(b);
      const what = JSON.stringify({ trial, outer, d, inner, k, epsilon, nSample });
      expect(Array.from(b.positions), what).toEqual(Array.from(a.positions));
      expect(bits(b.values), what).toEqual(bits(a.values));
    }
  });

  // The descent (stages after the first threshold) runs in few samples by design; the test hook
  // raises the first threshold so that it runs in most, on both sides, and the bits must agree.
  it.each([1, 3])('with the descent forced (test hook), on %i threads', async (t) => {
    const { _lazyTestRaise, LazyRowSampler } = await import('../lib/lazy-sampler.js');
    const addon = loadNative()!;
    setThreads(t);
    const rand = mulberry32(7100 + t);
    let descended = 0;
    let samples = 0;
    try {
      for (let trial = 0; trial < 30; trial++) {
        const raise = [32, 96, 400][trial % 3]!;
        _lazyTestRaise(raise);
        addon._lazyTestRaise(raise);
        const outer = 1 + Math.floor(rand() * 4);
        const d = [64, 300, 1000, 2500][Math.floor(rand() * 4)]!;
        const k = 1 + Math.floor(rand() * Math.min(d / 3, 40));
        const epsilon = [1e-3, 0.1, 1, 3][Math.floor(rand() * 4)]!;
        const nSample = 1 + Math.floor(rand() * 5);
        const x = new Float32Array(outer * d);
        for (let o = 0; o < outer; o++) x.set(makeRow(rand, Math.floor(rand() * 7), d), o * d);
        const a = call(x, outer, d, 1, k, epsilon, nSample, trial, 99, 5);
        const b = call(x, outer, d, 1, k, epsilon, nSample, trial, 99, 5);
        js.forward(a);
        cpu.forward(b);
        const what = JSON.stringify({ trial, raise, outer, d, k, epsilon, nSample });
        expect(Array.from(b.positions), what).toEqual(Array.from(a.positions));
        expect(bits(b.values), what).toEqual(bits(a.values));
        const s = new LazyRowSampler();
        if (s.prepare(x.subarray(0, d), d, k, epsilon)) {
          for (let i = 0; i < nSample; i++) {
            s.sample(trial, 99, 5, 0, i);
            samples++;
            if (s.stages > 1) descended++;
          }
        }
      }
    } finally {
      _lazyTestRaise(0);
      addon._lazyTestRaise(0);
    }
    // the hook did force the descent
    expect(descended / samples).toBeGreaterThan(0.5);
  });

  it('the test hook is not part of the package', async () => {
    const pkg = await import('../lib/index.js');
    expect(Object.keys(pkg)).not.toContain('_lazyTestRaise');
  });
});

describe('the binary64 functions of the lazy sampler', () => {
  it('normalTail matches known values of Q(t) = P(Z > t) to 1e-12 relative, and the slow reference on a grid', async () => {
    const { normalTail, normalTailSlow, logPositive, expNonPositive } = await import('../lib/lazy-sampler.js');
    // Q(t) to 15 significant digits (tables of the normal distribution).
    const known: [number, number][] = [
      [-1, 0.841344746068543],
      [0, 0.5],
      [1, 0.158655253931457],
      [2, 0.0227501319481792],
      [3, 0.00134989803163009],
      [5, 2.86651571879194e-7],
      [10, 7.61985302416047e-24],
      [20, 2.75362411860623e-89],
    ];
    for (const [t, q] of known) expect(Math.abs(normalTail(t) - q) / q, `t = ${t}`).toBeLessThan(1e-12);
    // (to 37.3: beyond, Q is near the subnormal range, where relative precision ends)
    for (let t = -37.9; t < 37.3; t += 0.0137) {
      const slow = normalTailSlow(t);
      expect(Math.abs(normalTail(t) - slow) / slow, `t = ${t}`).toBeLessThan(1e-12);
    }
    expect(normalTail(38)).toBe(0);
    expect(normalTail(-38)).toBe(1);
    // log and exp against V8's (not bit-equal, but within a few ulps)
    for (let x = 1e-16; x <= 1; x *= 1.37)
      expect(Math.abs(logPositive(x) - Math.log(x))).toBeLessThanOrEqual(1e-15 * Math.abs(Math.log(x)) + 1e-300);
    for (let x = -700; x <= 0; x += 3.3)
      expect(Math.abs(expNonPositive(x) - Math.exp(x)) / Math.exp(x)).toBeLessThan(1e-15);
  });
});
