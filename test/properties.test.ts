// Properties of the estimator, on every backend.
import { describe, expect, it } from 'vitest';
import { BalNoisedTopK, functional, NoisedTopK } from '../lib/index.js';
import { NORMAL_BOUND } from '../lib/stream.js';
import { mulberry32, randomArray, testedBackends } from './helpers.js';

/** Hard k-th largest along the last dim, tie rule: lower index ranks higher. */
function hardKth(x: Float32Array, rows: number, d: number, k: number): { values: Float32Array; cols: number[] } {
  const values = new Float32Array(rows);
  const cols: number[] = [];
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: d }, (_, c) => c).sort((a, b) => x[r * d + b]! - x[r * d + a]! || a - b);
    cols.push(order[k - 1]!);
    values[r] = x[r * d + order[k - 1]!]!;
  }
  return { values, cols };
}

describe.each(testedBackends())('estimator properties on %s', (backend) => {
  it('each slice of the gradient sums to grad_output, along any dim', () => {
    const rand = mulberry32(11);
    for (const [shape, dim] of [
      [[6, 9], -1],
      [[4, 7, 5], 1],
      [[5, 3, 2], 0],
      [[2, 3, 4, 5], -2],
    ] as const) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = randomArray(rand, size);
      const op = new NoisedTopK({ k: 2, epsilon: 0.7, nSample: 6, dim, seed: 3, backend });
      const out = op.forward(x, [...shape]);
      const g = randomArray(rand, out.values.length, 3);
      const grad = out.backward(g);
      const nd = shape.length;
      const ad = dim < 0 ? dim + nd : dim;
      const inner = shape.slice(ad + 1).reduce((a, b) => a * b, 1);
      const d = shape[ad]!;
      for (let row = 0; row < out.values.length; row++) {
        const o = Math.floor(row / inner);
        const i = row % inner;
        let sum = 0;
        for (let c = 0; c < d; c++) sum += grad[(o * d + c) * inner + i]!;
        expect(sum).toBeCloseTo(g[row]!, 5);
      }
    }
  });

  it('epsilon = 0 is the hard k-th value, with a one-hot gradient', () => {
    const rand = mulberry32(12);
    const [rows, d] = [20, 13];
    const x = randomArray(rand, rows * d);
    for (const [k, nSample] of [
      [1, 1],
      [4, 2],
      [13, 3],
    ] as const) {
      const out = new NoisedTopK({ k, epsilon: 0, nSample, seed: 1, backend }).forward(x, [rows, d]);
      const hard = hardKth(x, rows, d, k);
      // The mean of nSample equal float32 values rounds like pytopk's: exact for 1 and 2 samples.
      if (nSample < 3) expect(Array.from(out.values)).toEqual(Array.from(hard.values));
      for (let r = 0; r < rows; r++)
        expect(Math.abs(out.values[r]! - hard.values[r]!)).toBeLessThanOrEqual(Math.abs(hard.values[r]!) * 2 ** -22);
      const grad = out.backward();
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < d; c++) expect(grad[r * d + c]).toBe(c === hard.cols[r] ? 1 : 0);
      }
    }
  });

  it('the tie rule: among equal values the lower index ranks higher', () => {
    const x = new Float32Array([5, 7, 7, 7, 1]);
    for (const [k, col] of [
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 0],
      [5, 4],
    ] as const) {
      const out = new NoisedTopK({ k, epsilon: 0, nSample: 1, seed: 0, backend }).forward(x, [5]);
      expect(Array.from(out.indices)).toEqual([col]);
    }
  });

  it('converges as nSample grows, towards a Monte Carlo estimate from many samples', () => {
    const x = new Float32Array([0.3, -0.2, 1.1, 0.8, 0.0, -1.4, 0.5, 0.9]);
    const d = x.length;
    const k = 3;
    // Reference: one slice with 200,000 samples.
    const ref = functional.noisedTopK(x, [d], { k, epsilon: 1, seed: 123, offset: 0, nSample: 200_000, backend })
      .values[0]!;
    const refGrad = functional
      .noisedTopK(x, [d], { k, epsilon: 1, seed: 123, offset: 0, nSample: 200_000, backend })
      .backward();
    const rows = 400;
    const many = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) many.set(x, r * d);
    const meanAbsError = (nSample: number) => {
      const out = functional.noisedTopK(many, [rows, d], { k, epsilon: 1, seed: 9, offset: 0, nSample, backend });
      let e = 0;
      for (const v of out.values) e += Math.abs(v - ref);
      const grad = out.backward();
      let ge = 0;
      for (let r = 0; r < rows; r++) for (let c = 0; c < d; c++) ge += Math.abs(grad[r * d + c]! - refGrad[c]!);
      return [e / rows, ge / rows] as const;
    };
    const [e4, g4] = meanAbsError(4);
    const [e64, g64] = meanAbsError(64);
    const [e1024, g1024] = meanAbsError(1024);
    // Standard error falls as 1/sqrt(nSample): 4x per 16x samples; allow slack.
    expect(e64).toBeLessThan(e4 / 2.5);
    expect(e1024).toBeLessThan(e64 / 2.5);
    expect(g64).toBeLessThan(g4 / 2.5);
    expect(g1024).toBeLessThan(g64 / 2.5);
    expect(e1024).toBeLessThan(0.05);
  });

  it('|value(eps) - hard value| <= eps * NORMAL_BOUND (the noise is bounded)', () => {
    const rand = mulberry32(13);
    const x = randomArray(rand, 30 * 10);
    const hard = hardKth(x, 30, 10, 4).values;
    for (const epsilon of [1, 0.1, 0.01]) {
      const out = new NoisedTopK({ k: 4, epsilon, seed: 2, backend }).forward(x, [30, 10]);
      for (let r = 0; r < 30; r++)
        expect(Math.abs(out.values[r]! - hard[r]!)).toBeLessThanOrEqual(epsilon * NORMAL_BOUND * 1.0001);
    }
  });

  it('a seed makes a sequence of module calls reproducible; no seed draws a random stream', () => {
    const x = randomArray(mulberry32(14), 8 * 16);
    const run = (seed?: number) => {
      const crit = new BalNoisedTopK({ k: 2, seed, backend });
      return [0, 1, 2].map(() => crit.forward(x, [1, 2, 3, 4, 5, 6, 7, 0], [8, 16]).loss);
    };
    const a = run(77);
    expect(run(77)).toEqual(a);
    expect(new Set(a).size).toBe(3);
    expect(run(78)).not.toEqual(a);
    const r1 = new NoisedTopK({ k: 2, backend });
    const r2 = new NoisedTopK({ k: 2, backend });
    expect(r1.seed).not.toBe(r2.seed);
    expect(new NoisedTopK({ k: 2, seed: r1.seed, backend }).forward(x, [8, 16]).values).toEqual(
      r1.forward(x, [8, 16]).values,
    );
  });
});
