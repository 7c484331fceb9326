// pytopk's README examples in TypeScript (../shared/seed/pytopk-README.md), with the properties
// they show, on every backend.
import { describe, expect, it } from 'vitest';
import { BalNoisedTopK, ImbalNoisedTopK, ldamMargins, NoisedTopK } from '../lib/index.js';
import { NORMAL_BOUND } from '../lib/stream.js';
import { testedBackends } from './helpers.js';

describe.each(testedBackends())('pytopk README examples on %s', (backend) => {
  it('top-k losses: BalNoisedTopK and ImbalNoisedTopK on the README batch', () => {
    const scores = new Float32Array([2.0, 1.5, -3.0, 7.5, 4.0, -1.5]);
    const labels = [0, 2];
    const k = 2;
    const criteriaBal = new BalNoisedTopK({ k, epsilon: 1.0, seed: 0, backend });
    const criteriaImbal = new ImbalNoisedTopK({
      k,
      epsilon: 0.01,
      maxM: 0.3,
      clsNumList: [17, 23, 55],
      seed: 0,
      backend,
    });
    const lossBatchBal = criteriaBal.forward(scores, labels, [2, 3]);
    const lossBatchImbal = criteriaImbal.forward(scores, labels, [2, 3]);

    // k + 1 = 3 = D: smoothtop_3 is the noised minimum of each row, within 1 * NORMAL_BOUND of it.
    // Hard value of the balanced loss: row 0 relu(1 + -3 - 2) = 0, row 1 relu(1 - 1.5 + 1.5) = 1.
    expect(lossBatchBal.loss).toBeGreaterThanOrEqual(0);
    expect(Math.abs(lossBatchBal.loss - 0.5)).toBeLessThanOrEqual(1.0 * NORMAL_BOUND);
    // Imbalanced: margins 0.3 * (17/n)^(1/4); row 1 (class 2) gives 50 * m_2, row 0 gives 0.
    const m = ldamMargins([17, 23, 55], 0.3);
    expect(m[0]).toBeCloseTo(0.3, 7);
    expect(m[2]).toBeCloseTo(0.3 * (17 / 55) ** 0.25, 6);
    const hardImbal = (50 * m[2]!) / 2;
    expect(Math.abs(lossBatchImbal.loss - hardImbal)).toBeLessThanOrEqual((50 * 0.01 * NORMAL_BOUND) / 2 + 1e-5);

    const grad = lossBatchImbal.backward();
    expect(grad).toHaveLength(6);
    // Row 0 is inactive (hinge argument < 0): zero gradient. Row 1 is active: mask - onehot(label), times 50/2.
    expect(Array.from(grad.subarray(0, 3))).toEqual([0, 0, 0]);
    const row1 = Array.from(grad.subarray(3, 6));
    expect(row1.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 5);
  });

  it('smooth top-k function: gradient rows sum to 1, at most nSample nonzeros, multiples of 1/nSample', () => {
    const smoothTopk = new NoisedTopK({ k: 3, dim: -1, seed: 2022, backend });
    const x = new Float32Array([-1.5, 2.0, 0.7, 3.8, -1.1, -5.4, 0.1, 2.3]);
    const out = smoothTopk.forward(x, [2, 4]);
    expect(out.shape).toEqual([2]);
    const grad = out.backward();
    for (let r = 0; r < 2; r++) {
      const row = Array.from(grad.subarray(r * 4, r * 4 + 4));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(row.filter((v) => v !== 0).length).toBeLessThanOrEqual(smoothTopk.nSample);
      for (const v of row) expect(Math.abs(v * 5 - Math.round(v * 5))).toBeLessThan(1e-6);
    }
  });

  it('the value approaches the hard k-th value as epsilon shrinks', () => {
    const x = new Float32Array([-1.5, 2.0, 0.7, 3.8, -1.1, -5.4, 0.1, 2.3]);
    const hard = [0.7, -1.1];
    let previous = Infinity;
    for (const epsilon of [1, 0.1, 0.01, 0.001, 0]) {
      const out = new NoisedTopK({ k: 3, epsilon, seed: 5, nSample: 50, backend }).forward(x, [2, 4]);
      const err = Math.max(...hard.map((h, r) => Math.abs(out.values[r]! - Math.fround(h))));
      expect(err).toBeLessThanOrEqual(epsilon * NORMAL_BOUND + 1e-6);
      expect(err).toBeLessThanOrEqual(previous);
      previous = err;
    }
    expect(previous).toBeLessThan(1e-6);
  });
});
