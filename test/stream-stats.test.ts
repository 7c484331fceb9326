// The noise is standard normal and independent across columns, samples, rows and calls.
import { describe, expect, it } from 'vitest';
import { NORMAL_BOUND, normal4 } from '../lib/stream.js';
import { normalCdf } from './stats-kit.js';

/** Draws z(seed, offset, row, sample, column) for n consecutive columns (whole groups). */
function draw(seedLo: number, seedHi: number, offset: number, row: number, sample: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let g = 0; g * 4 < n; g++) normal4(seedLo, seedHi, offset, row, sample, g, out, g * 4);
  return out;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ma = 0;
  let mb = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('noise statistics', () => {
  const N = 1 << 20; // 1,048,576 draws: 256 rows of 4096 columns
  const z = new Float32Array(N);
  for (let row = 0; row < 256; row++) z.set(draw(0x12345678, 0x9abcdef0, 3, row, 0, 4096), row * 4096);

  it('mean 0 and variance 1 within 5 standard errors, bounded by NORMAL_BOUND', () => {
    let sum = 0;
    let sq = 0;
    let maxAbs = 0;
    for (const v of z) {
      sum += v;
      sq += v * v;
      maxAbs = Math.max(maxAbs, Math.abs(v));
    }
    const mean = sum / N;
    const variance = sq / N - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(maxAbs).toBeLessThanOrEqual(NORMAL_BOUND);
    expect(maxAbs).toBeGreaterThan(4); // the tails are there
  });

  it('Kolmogorov-Smirnov against N(0, 1) passes at the 0.1% level', () => {
    const sorted = Float64Array.from(z).sort();
    let d = 0;
    for (let i = 0; i < N; i++) {
      const f = normalCdf(sorted[i]!);
      d = Math.max(d, Math.abs(f - i / N), Math.abs((i + 1) / N - f));
    }
    // Critical value of D at alpha = 0.001 is 1.949 / sqrt(N).
    expect(d).toBeLessThan(1.949 / Math.sqrt(N));
  });

  it('the KS statistic rejects a wrong distribution (the test can fail)', () => {
    const sorted = Float64Array.from(z, (v) => v * 1.05).sort();
    let d = 0;
    for (let i = 0; i < N; i++) d = Math.max(d, Math.abs(normalCdf(sorted[i]!) - i / N));
    expect(d).toBeGreaterThan(1.949 / Math.sqrt(N));
  });

  it('no correlation across adjacent columns, samples, rows and calls', () => {
    const n = 200_000;
    const bound = 5 / Math.sqrt(n);
    const base = draw(1, 2, 0, 7, 0, n + 4);
    expect(Math.abs(pearson(base.subarray(0, n), base.subarray(1, n + 1)))).toBeLessThan(bound);
    expect(Math.abs(pearson(base.subarray(0, n), base.subarray(2, n + 2)))).toBeLessThan(bound);
    const nextSample = draw(1, 2, 0, 7, 1, n);
    const nextRow = draw(1, 2, 0, 8, 0, n);
    const nextCall = draw(1, 2, 1, 7, 0, n);
    const nextSeed = draw(2, 2, 0, 7, 0, n);
    for (const other of [nextSample, nextRow, nextCall, nextSeed]) {
      expect(Math.abs(pearson(base.subarray(0, n), other))).toBeLessThan(bound);
    }
    // Sanity: the statistic sees a real dependence.
    const leaky = Float32Array.from(nextRow, (v, i) => v + 0.05 * base[i]!);
    expect(Math.abs(pearson(base.subarray(0, n), leaky))).toBeGreaterThan(bound);
  });

  it('the Box-Muller pair of one Philox draw is uncorrelated in value and in square', () => {
    const n = 100_000;
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    const out = new Float32Array(4);
    for (let i = 0; i < n; i++) {
      normal4(9, 9, 9, i, 0, 0, out, 0);
      a[i] = out[0]!;
      b[i] = out[1]!;
    }
    const bound = 5 / Math.sqrt(n);
    expect(Math.abs(pearson(a, b))).toBeLessThan(bound);
    expect(
      Math.abs(
        pearson(
          a.map((v) => v * v),
          b.map((v) => v * v),
        ),
      ),
    ).toBeLessThan(bound);
  });
});
