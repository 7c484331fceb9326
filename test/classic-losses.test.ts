import { describe, expect, it } from 'vitest';
import { crossEntropyLoss, focalLoss, ldamLoss } from '../lib/classic-losses.js';
import { ldamMargins } from '../lib/losses.js';
import { normals } from './tfjs-helpers.js';

const B = 4;
const D = 5;
const shape = [B, D];
const labels = Int32Array.from([0, 4, 2, 2]);
const counts = [40, 10, 5, 3, 1];

type LossFn = (s: Float32Array) => { loss: number; backward(g?: number): Float32Array };

/** Central differences of the mean loss, with the step actually representable in float32. */
function numericGrad(f: LossFn, s: Float32Array, h: number): Float64Array {
  const g = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const x = s.slice();
    const v = s[i]!;
    x[i] = v + h;
    const up = x[i]!;
    const fu = f(x).loss;
    x[i] = v - h;
    const down = x[i]!;
    const fd = f(x).loss;
    g[i] = (fu - fd) / (up - down);
  }
  return g;
}

function expectGradClose(f: LossFn, s: Float32Array, h: number, tol: number): void {
  const analytic = f(s).backward();
  const numeric = numericGrad(f, s, h);
  for (let i = 0; i < s.length; i++) expect(Math.abs(analytic[i]! - numeric[i]!)).toBeLessThan(tol);
  // and the gradient is not trivially zero
  expect(analytic.some((v) => Math.abs(v) > 1e-3)).toBe(true);
}

describe('classic losses', () => {
  const s = normals(B * D, 31);

  it('cross-entropy: log(classes) on equal scores; gradient matches finite differences', () => {
    expect(crossEntropyLoss(new Float32Array(B * D), labels, shape).loss).toBeCloseTo(Math.log(D), 6);
    // hand case: scores [0, ln 3] label 1 -> p = 3/4, loss = ln(4/3); d/ds = (p - onehot) = [1/4, -1/4]
    const r = crossEntropyLoss(Float32Array.from([0, Math.log(3)]), [1], [1, 2]);
    expect(r.loss).toBeCloseTo(Math.log(4 / 3), 6);
    const g = r.backward();
    expect(g[0]).toBeCloseTo(0.25, 6);
    expect(g[1]).toBeCloseTo(-0.25, 6);
    expectGradClose((x) => crossEntropyLoss(x, labels, shape), s, 1e-2, 2e-4);
  });

  it('focal loss: hand value, gamma 0 is cross-entropy, gradient matches finite differences', () => {
    // p = 1/2: -(1/2)^2 ln(1/2)
    expect(focalLoss(Float32Array.from([0, 0]), [0], [1, 2]).loss).toBeCloseTo(0.25 * Math.LN2, 6);
    expect(focalLoss(s, labels, shape, { gamma: 0 }).loss).toBe(crossEntropyLoss(s, labels, shape).loss);
    expectGradClose((x) => focalLoss(x, labels, shape), s, 1e-2, 2e-4);
    expectGradClose((x) => focalLoss(x, labels, shape, { gamma: 0.5 }), s, 1e-2, 2e-4);
    // a confident right answer: loss and gradient stay finite and tiny
    const sure = focalLoss(Float32Array.from([40, 0, 0]), [0], [1, 3]);
    expect(sure.loss).toBeLessThan(1e-30);
    expect(sure.backward().every((v) => Number.isFinite(v))).toBe(true);
  });

  it('LDAM: margins shift the label score, scale multiplies; gradient matches finite differences', () => {
    const margins = ldamMargins(counts, 0.2);
    // zero margins and scale 1 give cross-entropy
    expect(ldamLoss(s, labels, shape, { margins: new Float32Array(D), scale: 1 }).loss).toBe(
      crossEntropyLoss(s, labels, shape).loss,
    );
    // hand case: 2 classes, cosine scores [0.5, 0.5], label 1 with margin m, scale 10:
    // loss = ln(1 + exp(10 * m)); the rarest class gets the largest margin 0.2
    const hand = ldamLoss(Float32Array.from([0.5, 0.5]), [1], [1, 2], { clsNumList: [100, 1], maxM: 0.2, scale: 10 });
    expect(hand.loss).toBeCloseTo(Math.log(1 + Math.exp(2)), 5);
    const cosine = s.map((v) => Math.tanh(v));
    expectGradClose((x) => ldamLoss(x, labels, shape, { margins, scale: 40 }), cosine, 1e-3, 5e-3);
    expect(ldamLoss(cosine, labels, shape, { clsNumList: counts, maxM: 0.2, scale: 40 }).loss).toBe(
      ldamLoss(cosine, labels, shape, { margins, scale: 40 }).loss,
    );
  });

  it('backward scales with gradLoss', () => {
    const r = focalLoss(s, labels, shape);
    const g1 = r.backward();
    const g3 = r.backward(3);
    for (const [i, v] of g1.entries()) expect(g3[i]).toBeCloseTo(3 * v, 6);
  });

  it('rejects bad arguments', () => {
    expect(() => crossEntropyLoss([0, 1] as unknown as Float32Array, [0], [1, 2])).toThrow(
      /scores must be a Float32Array/,
    );
    expect(() => crossEntropyLoss(s, labels, [B, D + 1])).toThrow(RangeError);
    expect(() => crossEntropyLoss(Float32Array.from([0, NaN]), [0], [1, 2])).toThrow(/scores\[1\] is NaN/);
    expect(() => focalLoss(s, labels, shape, { gamma: -1 })).toThrow(/gamma must be a finite number >= 0, got -1/);
    expect(() => ldamLoss(s, labels, shape, {})).toThrow(TypeError);
    expect(() => ldamLoss(s, labels, shape, { margins: new Float32Array(3) })).toThrow(
      /margins has length 3, expected 5/,
    );
    expect(() => ldamLoss(s, [0, 0, 0, 9], shape, { clsNumList: counts })).toThrow(
      /labels\[3\] must be an integer in \[0, 4\], got 9/,
    );
  });
});
