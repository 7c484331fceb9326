// The smooth top-k SVM (Berrada et al. 2018): oval-group's own float64 outputs (24 cases, hard
// rows and ties included), the definition by brute force over k-subsets, float64 finite
// differences of the exact gradient, stability for large scores / tau, errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SmoothTopKSvm, smoothTopKSvmLoss } from '../lib/index.js';
import { smoothTopKSvmCore } from '../lib/svm.js';
import { here, maxRelError, mulberry32 } from './helpers.js';

interface SvmCase {
  B: number;
  D: number;
  k: number;
  tau: number;
  alpha: number;
  scores: number[];
  labels: number[];
  loss: number;
  grad: number[];
}

const doc = JSON.parse(readFileSync(join(here, 'fixtures', 'smooth-svm-1.json'), 'utf8')) as {
  source: string;
  cases: SvmCase[];
};

describe('golden: oval-group/smooth-topk SmoothTopkSVM (float64)', () => {
  it('holds 24 cases, with hard rows', () => {
    expect(doc.cases).toHaveLength(24);
  });

  it.each(doc.cases.map((c, i) => [i, c] as const))(
    "case %i: loss and gradient within 1e-4 relative (gradient: 'reference')",
    (_i, c) => {
      const r = smoothTopKSvmLoss(new Float32Array(c.scores), c.labels, [c.B, c.D], {
        k: c.k,
        tau: c.tau,
        alpha: c.alpha,
        gradient: 'reference',
      });
      expect(Math.abs(r.loss - c.loss) / Math.abs(c.loss)).toBeLessThan(1e-4);
      expect(maxRelError(r.backward(), c.grad, 1e-6)).toBeLessThan(1e-4);
    },
  );

  it('the cases exercise both forms: some rows hard, some smooth', () => {
    let hard = 0;
    let smooth = 0;
    for (const c of doc.cases) {
      const r = smoothTopKSvmLoss(new Float32Array(c.scores), c.labels, [c.B, c.D], {
        k: c.k,
        tau: c.tau,
        alpha: c.alpha,
      });
      for (const h of r.hardRows) h ? hard++ : smooth++;
    }
    expect(hard).toBeGreaterThan(10);
    expect(smooth).toBeGreaterThan(10);
  });

  it('the exact gradient: same loss; equals float64 finite differences; differs from the reference where the reference approximates', () => {
    let differs = 0;
    for (const c of doc.cases) {
      const exact = smoothTopKSvmLoss(new Float32Array(c.scores), c.labels, [c.B, c.D], {
        k: c.k,
        tau: c.tau,
        alpha: c.alpha,
      });
      expect(Math.abs(exact.loss - c.loss) / Math.abs(c.loss)).toBeLessThan(1e-4);
      const s = Float64Array.from(new Float32Array(c.scores));
      const p = { k: c.k, tau: c.tau, alpha: c.alpha };
      const g = smoothTopKSvmCore(s, c.labels, c.B, c.D, p).grad;
      if (maxRelError(g, c.grad, 1e-6) > 1e-4) differs++;
      const rand = mulberry32(c.D * 31 + c.k);
      for (let t = 0; t < 6; t++) {
        const j = Math.floor(rand() * s.length);
        const h = 1e-6 * Math.max(1, Math.abs(s[j]!));
        const sp = s.slice();
        const sm = s.slice();
        sp[j] = s[j]! + h;
        sm[j] = s[j]! - h;
        const fd =
          (smoothTopKSvmCore(sp, c.labels, c.B, c.D, p).loss - smoothTopKSvmCore(sm, c.labels, c.B, c.D, p).loss) /
          (2 * h);
        // Hard rows are piecewise linear: exact unless the step crosses a kink (it does not here).
        expect(Math.abs(fd - g[j]!), `case D=${c.D} k=${c.k} tau=${c.tau} entry ${j}`).toBeLessThan(
          1e-6 + 1e-4 * Math.abs(fd),
        );
      }
    }
    // k = 1 smooth rows (the reference's d log e_0 = 1) and its approximated entries.
    expect(differs).toBeGreaterThan(3);
  });
});

/** The definition: sums over all k-subsets, in float64 (small D only). */
function bruteForce(s: number[], y: number, k: number, tau: number, alpha: number): number {
  const D = s.length;
  let pos = -Infinity;
  let neg = -Infinity;
  const lae = (a: number, b: number) => (a === -Infinity ? b : Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b))));
  const rec = (start: number, chosen: number[]) => {
    if (chosen.length === k) {
      const mean = chosen.reduce((a, c) => a + s[c]!, 0) / k;
      const has = chosen.includes(y);
      const v = ((has ? 0 : alpha) + mean) / tau;
      pos = lae(pos, v);
      if (has) neg = lae(neg, mean / tau);
      return;
    }
    for (let c = start; c < D; c++) rec(c + 1, [...chosen, c]);
  };
  rec(0, []);
  return tau * (pos - neg);
}

describe('definition and stability', () => {
  it('equals the sum over all k-subsets (brute force, D <= 8) on random smooth rows', () => {
    const rand = mulberry32(3);
    for (let t = 0; t < 40; t++) {
      const D = 2 + Math.floor(rand() * 7);
      const k = 1 + Math.floor(rand() * (D - 1));
      const tau = [0.1, 0.5, 1, 5][t % 4]!;
      const alpha = [0, 0.5, 1][t % 3]!;
      const s = Array.from({ length: D }, () => Math.fround((rand() * 2 - 1) * tau));
      const y = Math.floor(rand() * D);
      const r = smoothTopKSvmCore(s, [y], 1, D, { k, tau, alpha });
      expect(r.hardRows[0]).toBe(0);
      expect(Math.abs(r.loss - bruteForce(s, y, k, tau, alpha))).toBeLessThan(1e-9 * Math.max(1, Math.abs(r.loss)));
    }
  });

  it('smooth rows with scores / (k tau) up to 6e5 (exp would overflow at 710): finite, and equal to the row shifted to 0 (log space throughout)', () => {
    const rand = mulberry32(8);
    for (const offset of [1e3, 1e5, 3e6]) {
      const D = 50;
      const s = new Float32Array(Array.from({ length: D }, () => offset + (rand() * 2 - 1) * 4));
      const p = { k: 5, tau: 1, alpha: 1 };
      const r = smoothTopKSvmLoss(s, [3], [1, D], p);
      expect(Array.from(r.hardRows)).toEqual([0]);
      const g = r.backward();
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(g.every((v) => Number.isFinite(v))).toBe(true);
      expect(Math.abs(g.reduce((a, b) => a + b, 0))).toBeLessThan(1e-6); // shift-invariant loss
      const shifted = smoothTopKSvmCore(
        Float64Array.from(s, (v) => v - offset),
        [3],
        1,
        D,
        p,
      );
      expect(Math.abs(smoothTopKSvmCore(s, [3], 1, D, p).loss - shifted.loss)).toBeLessThan(1e-9 * shifted.loss);
    }
  });

  it('the module form equals the functional form', () => {
    const c = doc.cases[3]!;
    const m = new SmoothTopKSvm({ k: c.k, tau: c.tau, alpha: c.alpha });
    const a = m.forward(new Float32Array(c.scores), c.labels, [c.B, c.D]);
    const b = smoothTopKSvmLoss(new Float32Array(c.scores), c.labels, [c.B, c.D], {
      k: c.k,
      tau: c.tau,
      alpha: c.alpha,
    });
    expect(a.loss).toBe(b.loss);
    expect(Array.from(a.backward(2))).toEqual(Array.from(b.backward(2)));
    expect(m.gradient).toBe('exact');
  });

  it('rejects bad arguments, naming them', () => {
    const s = new Float32Array([1, 2, 3, 4]);
    expect(() => smoothTopKSvmLoss(s, [0, 1], [2, 2], { k: 2 })).toThrow(/k must be an integer in \[1, 1\]/);
    expect(() => smoothTopKSvmLoss(s, [0, 1], [2, 2], { k: 1, tau: 0 })).toThrow(
      /tau must be a normal float32 in \[1\.1754943508222875e-38, .*\] \(the kernels divide by it\), got 0/,
    );
    expect(() => smoothTopKSvmLoss(s, [0, 1], [2, 2], { k: 1, alpha: -1 })).toThrow(
      /alpha must be a finite number >= 0/,
    );
    expect(() => smoothTopKSvmLoss(s, [0, 2], [2, 2], { k: 1 })).toThrow(
      /labels\[1\] must be an integer in \[0, 1\], got 2/,
    );
    expect(() => smoothTopKSvmLoss(s, [0, 1], [2, 2], { k: 1, gradient: 'approx' as 'exact' })).toThrow(
      /gradient must be 'exact' or 'reference'/,
    );
    expect(() => smoothTopKSvmLoss(s, [0, 1], [2, 2], { k: 1, temperature: 1 } as unknown as { k: number })).toThrow(
      /unknown option 'temperature'/,
    );
    expect(() => smoothTopKSvmLoss(new Float32Array([1, NaN]), [0], [1, 2], { k: 1 })).toThrow(/scores\[1\] is NaN/);
    expect(() => new SmoothTopKSvm({} as { k: number })).toThrow(/options.k is required/);
  });
});
