// Issue 18, round three of the attack, the API items (3, 4, 7, 8, 9, 10, 13, 14): each finding
// as it was reported, on every backend. test/fuzz.test.ts generalises the classes (labels and
// ignoreIndex beyond int32, float32-edge options, shared twins of the ops' arrays);
// test/malloc-tuning.test.ts holds item 11.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BalNoisedTopK,
  functional,
  perturbedTopK,
  PerturbedTopK,
  smoothTopKSvmLoss,
  topk,
  topkAsync,
} from '../lib/index.js';
import { loadNative } from '../lib/native.js';
import { smoothTopKSvmCore, type SvmParams } from '../lib/svm.js';
import { FLOAT32_MAX } from '../lib/validate.js';
import { perturbedBackwardCall } from './addon-calls.js';
import { bits, detach } from './fuzz-kit.js';
import { errorOf, mulberry32, testedBackends } from './helpers.js';

const BACKENDS = testedBackends();
const hasCpu = BACKENDS.includes('cpu');

/** A Float32Array on a fresh SharedArrayBuffer of `capacity` floats, holding data at its start. */
function sharedF32(data: ArrayLike<number>, capacity = data.length + 8): Float32Array {
  const a = new Float32Array(new SharedArrayBuffer(capacity * 4), 0, data.length);
  a.set(Array.from(data));
  return a;
}

/** A view of the same memory as `a` through a second SharedArrayBuffer object, `shift` elements on. */
function twinF32(a: ArrayBufferView, shift: number, length: number): Float32Array {
  return new Float32Array(structuredClone(a.buffer as SharedArrayBuffer), a.byteOffset + shift * 4, length);
}

// x [4, 2] reduced along dim 0: column i of the view is row i of the op, so an output written
// for row 0 lands, through a twin shifted one element, on the x of row 1 before it is read.
const X42 = [0, 10, 1, 11, 2, -5, 3, -6];

describe('3. ignoreIndex and labels beyond int32', () => {
  it.each(BACKENDS)('ignoreIndex outside int32 is a RangeError naming it (%s)', (backend) => {
    const s = Float32Array.of(1, 2, 3, 4, 5, 6);
    for (const ignoreIndex of [2 ** 32, 2 ** 31, -(2 ** 31) - 1, 4294967295]) {
      const err = errorOf(() =>
        functional.balNoisedTopKLoss(s, [0, 1], [2, 3], { k: 1, seed: 1, offset: 0, ignoreIndex, backend }),
      );
      expect(err).toBeInstanceOf(RangeError);
      expect(err.message).toBe(`ignoreIndex must be an integer in [-2147483648, 2147483647], got ${ignoreIndex}`);
      expect(() => new BalNoisedTopK({ k: 1, ignoreIndex, backend })).toThrow(RangeError);
    }
  });

  it.each(BACKENDS)(
    'a Uint32Array label 4294967295 can no longer be an ignored row read at scores[r*D - 1] (%s)',
    (backend) => {
      const s = Float32Array.of(1, 2, 3, 4, 5, 6);
      const labels = Uint32Array.of(0, 4294967295) as unknown as Int32Array;
      expect(() =>
        functional.balNoisedTopKLoss(s, labels, [2, 3], { k: 1, seed: 1, offset: 0, ignoreIndex: 4294967295, backend }),
      ).toThrow(/ignoreIndex must be an integer in \[-2147483648, 2147483647\]/);
      // and with an int32 ignoreIndex the label is out of range, named
      expect(() =>
        functional.balNoisedTopKLoss(s, labels, [2, 3], { k: 1, seed: 1, offset: 0, ignoreIndex: -1, backend }),
      ).toThrow(/labels\[1\] must be an integer in \[0, 2\] or ignoreIndex \(-1\), got 4294967295/);
    },
  );

  it.each(BACKENDS)('the int32 extremes ignore their rows exactly: the loss of the other rows (%s)', (backend) => {
    const s = Float32Array.of(1, 2, 3, 4, 5, 6, 0.5, -1, 2);
    for (const ignoreIndex of [2 ** 31 - 1, -(2 ** 31)]) {
      const opts = { k: 1, epsilon: 0, nSample: 1, seed: 1, offset: 0, backend, reduction: 'sum' as const };
      const r = functional.balNoisedTopKLoss(s, [0, ignoreIndex, 2], [3, 3], { ...opts, ignoreIndex });
      const kept = functional.balNoisedTopKLoss(Float32Array.of(1, 2, 3, 0.5, -1, 2), [0, 2], [2, 3], opts);
      expect(r.loss).toBe(kept.loss);
      expect(r.rowLosses[1]).toBe(0);
      const g = r.backward();
      expect(Array.from(g.subarray(3, 6))).toEqual([0, 0, 0]);
    }
  });
});

describe.each(BACKENDS)('4. the ops and shared memory mapped twice (%s)', (backend) => {
  const wantTopk = () => topk(Float32Array.from(X42), [4, 2], { k: 2, dim: 0, backend });

  it('topk: out over x through a second SharedArrayBuffer: the right answer, or a RangeError naming both', () => {
    const x = sharedF32(X42);
    const out = twinF32(x, 1, 4);
    const want = wantTopk();
    const got = (() => {
      try {
        return topk(x, [4, 2], { k: 2, dim: 0, backend, out });
      } catch (e) {
        return e as Error;
      }
    })();
    if (backend === 'js') expect(got).not.toBeInstanceOf(Error);
    if (got instanceof Error) {
      expect(got).toEqual(new RangeError('out shares memory with x'));
    } else {
      expect(bits(got.values)).toEqual(bits(want.values));
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
      expect(got.values).toBe(out);
    }
  });

  it('topk: indices over x, and out over indices, through a second SharedArrayBuffer', async () => {
    const want = wantTopk();
    for (const f of [topk, topkAsync]) {
      // a fresh x each time: a call that succeeds writes its indices over x
      const x = sharedF32(X42);
      const indices = new Int32Array(structuredClone(x.buffer as SharedArrayBuffer), 4, 4);
      try {
        const r = await f(x, [4, 2], { k: 2, dim: 0, backend, indices });
        expect(Array.from(r.indices)).toEqual(Array.from(want.indices));
        expect(bits(r.values)).toEqual(bits(want.values));
      } catch (e) {
        expect(backend, String(e)).not.toBe('js');
        expect(e).toEqual(new RangeError('indices shares memory with x'));
      }
    }
    // two outputs over the same bytes cannot both hold their answer
    const idx2 = new Int32Array(new SharedArrayBuffer(64), 0, 4);
    const out2 = twinF32(idx2, 0, 4);
    expect(() => topk(Float32Array.from(X42), [4, 2], { k: 2, dim: 0, backend, out: out2, indices: idx2 })).toThrow(
      /^(out shares memory with indices|indices shares memory with out)$/,
    );
  });

  it('perturbedTopK: out over x through a second SharedArrayBuffer: the right mask, or a RangeError', () => {
    const opts = { k: 2, dim: 0, epsilon: 0.01, nSample: 4, seed: 3, offset: 0, backend };
    const want = perturbedTopK(Float32Array.from(X42), [4, 2], opts);
    const x = sharedF32(X42);
    const out = twinF32(x, 1, 8);
    try {
      const r = perturbedTopK(x, [4, 2], { ...opts, out });
      expect(bits(r.mask)).toEqual(bits(want.mask));
      expect(Array.from(r.indices)).toEqual(Array.from(want.indices));
      expect(r.mask).toBe(out);
    } catch (e) {
      expect(backend).not.toBe('js');
      expect(e).toEqual(new RangeError('out shares memory with x'));
    }
  });

  it('TopKResult.backward(grad, out): out over indices or over grad gives the scatter, not zeros', () => {
    const gradValues = Float32Array.of(1, 2, 3, 4);
    const want = wantTopk().backward(gradValues);
    expect(Array.from(want).some((g) => g !== 0)).toBe(true);
    // out over the caller's indices (a result of its own: a success writes over them)
    const indices = new Int32Array(new SharedArrayBuffer(64), 0, 4);
    const withIndices = topk(Float32Array.from(X42), [4, 2], { k: 2, dim: 0, backend, indices });
    const outOverIndices = new Float32Array(structuredClone(indices.buffer as SharedArrayBuffer), 0, 8);
    // out over gradValues
    const g = sharedF32(gradValues, 16);
    const outOverGrad = twinF32(g, 1, 8);
    for (const [r, out, grad, name] of [
      [withIndices, outOverIndices, gradValues, 'indices'],
      [wantTopk(), outOverGrad, g, 'gradOutput'],
    ] as const) {
      try {
        const got = r.backward(grad, out);
        expect(got).toBe(out);
        expect(Array.from(got)).toEqual(Array.from(want));
      } catch (e) {
        expect(backend, String(e)).not.toBe('js');
        expect(e).toEqual(new RangeError(`out shares memory with ${name}`));
      }
    }
  });

  it('PerturbedTopKResult.backward(grad, out): out over grad through a twin', () => {
    const opts = { k: 2, dim: 0, epsilon: 0.5, nSample: 3, seed: 9, offset: 0, backend };
    const grad = sharedF32([1, -2, 3, 0.5, -1, 2, 0.25, 4], 16);
    const r = perturbedTopK(Float32Array.from(X42), [4, 2], opts);
    const want = r.backward(Float32Array.from(grad));
    try {
      const got = r.backward(grad, twinF32(grad, 1, 8));
      expect(bits(got)).toEqual(bits(want));
    } catch (e) {
      expect(backend).not.toBe('js');
      expect(e).toEqual(new RangeError('out shares memory with gradOutput'));
    }
  });
});

describe.each(BACKENDS)('7. TopKResult.backward re-checks the outputs of the forward (%s)', (backend) => {
  it('a detached indices is a RangeError, not zeros', () => {
    const indices = new Int32Array(4);
    const r = topk(Float32Array.from(X42), [4, 2], { k: 2, dim: 0, backend, indices });
    detach(indices);
    expect(() => r.backward(Float32Array.of(1, 2, 3, 4))).toThrow(
      new RangeError('indices has length 0, expected 4: it was resized or detached after the forward pass'),
    );
  });

  it('a detached out is not the expected length of gradOutput: no NaN gradient', () => {
    const out = new Float32Array(4);
    const r = topk(Float32Array.from(X42), [4, 2], { k: 2, dim: 0, backend, out });
    const want = topk(Float32Array.from(X42), [4, 2], { k: 2, dim: 0, backend }).backward(Float32Array.of(1, 2, 3, 4));
    detach(out);
    expect(() => r.backward(new Float32Array(0))).toThrow(
      new RangeError('gradOutput has length 0, expected 4 (shape [2, 2])'),
    );
    // the gradient needs the indices only: still right
    expect(Array.from(r.backward(Float32Array.of(1, 2, 3, 4)))).toEqual(Array.from(want));
  });
});

describe.each(BACKENDS)('8. the ops and the SVM read the shape before x (%s)', (backend) => {
  /** A shape [2, 3] whose first element detaches `victim` when it is read. */
  const detachingShape = (victim: ArrayBufferView) => {
    const shape = [2, 3];
    Object.defineProperty(shape, '0', {
      get() {
        detach(victim);
        return 2;
      },
    });
    return shape;
  };
  const six = () => Float32Array.of(1, 5, 2, 4, 3, 0);

  it('topk and perturbedTopK: a shape getter that detaches x leaves x seen as detached', async () => {
    const msg = 'shape [2, 3] holds 6 elements but x has length 0';
    let x = six();
    expect(() => topk(x, detachingShape(x), { k: 1, backend })).toThrow(new RangeError(msg));
    x = six();
    await expect(topkAsync(x, detachingShape(x), { k: 1, backend })).rejects.toThrow(new RangeError(msg));
    x = six();
    expect(() => perturbedTopK(x, detachingShape(x), { k: 1, nSample: 2, seed: 0, offset: 0, backend })).toThrow(
      new RangeError(msg),
    );
    x = six();
    expect(() => new PerturbedTopK({ k: 1, nSample: 2, seed: 0, backend }).forward(x, detachingShape(x))).toThrow(
      new RangeError(msg),
    );
  });

  it('the SVM: a shape or label getter that detaches the scores is refused by name', () => {
    let s = six();
    expect(() => smoothTopKSvmLoss(s, [0, 1], detachingShape(s) as [number, number], { k: 1, backend })).toThrow(
      new RangeError('shape [2, 3] holds 6 elements but scores has length 0'),
    );
    s = six();
    const labels = [0, 1];
    Object.defineProperty(labels, '1', {
      get() {
        detach(s);
        return 1;
      },
    });
    expect(() => smoothTopKSvmLoss(s, labels, [2, 3], { k: 1, backend })).toThrow(
      new RangeError('shape [2, 3] holds 6 elements but scores has length 0'),
    );
  });

  it('the SVM reads shape.length once: a length that reads 2 and then 3 is used as read first', () => {
    let reads = 0;
    const shape = new Proxy([2, 3], {
      get(t, key, r) {
        if (key === 'length') return reads++ === 0 ? 2 : 3;
        return Reflect.get(t, key, r) as unknown;
      },
    });
    const r = smoothTopKSvmLoss(six(), [0, 1], shape as unknown as [number, number], { k: 1, backend });
    expect(reads).toBe(1);
    expect(r.loss).toBe(smoothTopKSvmLoss(six(), [0, 1], [2, 3], { k: 1, backend }).loss);
  });
});

describe.each(BACKENDS)('9. the float32 domain (%s)', (backend) => {
  const s = Float32Array.of(1, 2, 3, 4, 5, 6);

  it('SVM backward(1e39) is a RangeError naming the float32 range', () => {
    const r = smoothTopKSvmLoss(s, [0, 1], [2, 3], { k: 1, backend });
    expect(() => r.backward(1e39)).toThrow(
      /gradOutput must be a finite float32 \(\|gradOutput\| < 3.4e38\), got 1e\+39/,
    );
    expect(Number.isFinite(r.backward(3e38)[0])).toBe(true);
  });

  it('epsilon 3e38 (noise past float32): NaN values give a NaN loss and standard error, never 0', () => {
    // The noise overflows to +-Infinity for far-tail draws and the sample mean of +Infinity and
    // -Infinity is NaN. That is IEEE's answer and it propagates: the loss of such a batch is
    // NaN, not 0 with a standard error of 0 (as it was).
    let nanRows = 0;
    for (let seed = 0; seed < 40; seed++) {
      const r = functional.balNoisedTopKLoss(s, [0, 1], [2, 3], {
        k: 1,
        seed,
        offset: 0,
        nSample: 3,
        epsilon: 3e38,
        backend,
      });
      const se = r.standardError as number;
      for (let row = 0; row < 2; row++) {
        if (!Number.isNaN(r.topk[row])) continue;
        nanRows++;
        expect(r.rowLosses[row], `seed ${seed}`).toBeNaN();
        expect(r.loss, `seed ${seed}`).toBeNaN();
        expect(se, `seed ${seed}`).toBeNaN();
      }
      if (!Number.isNaN(r.loss!)) expect(r.topk.some(Number.isNaN)).toBe(false);
    }
    expect(nanRows).toBeGreaterThan(0); // the case the red team reported occurs
  });

  it("a weight whose sum overflows float32 is refused for 'mean' (it gave NaN); 'sum' gives Infinity", () => {
    const weight = Float32Array.of(3e38, 3e38, 3e38);
    const opts = { k: 1, seed: 1, offset: 0, epsilon: 0, nSample: 1, weight, backend };
    expect(() => functional.balNoisedTopKLoss(s, [0, 0], [2, 3], opts)).toThrow(
      /weight: the mean's denominator, the sum of weight\[labels\[r\]\] over the rows not ignored, overflows float32 \(above 3\.4028234663852886e\+38\)/,
    );
    expect(() => new BalNoisedTopK({ k: 1, seed: 1, weight, backend }).forward(s, [0, 0], [2, 3])).toThrow(RangeError);
    const sum = functional.balNoisedTopKLoss(s, [0, 0], [2, 3], { ...opts, reduction: 'sum' });
    expect(sum.loss).toBe(Infinity);
    // one such row: its own weight is the denominator, the mean is that row's weighted loss / weight
    const one = functional.balNoisedTopKLoss(s.subarray(0, 3), [0], [1, 3], opts);
    expect(one.loss).toBe(Infinity);
  });

  it('perturbedTopK: a subnormal epsilon is refused (its gradient was infinite); the smallest normal is not', () => {
    const x = Float32Array.of(1, 2, 3, 4);
    for (const epsilon of [1e-40, 1e-45, 2 ** -127]) {
      expect(() => perturbedTopK(x, [4], { k: 2, nSample: 2, epsilon, seed: 1, offset: 0, backend })).toThrow(
        /epsilon must be a normal float32 in \[1\.1754943508222875e-38, 3\.4028234663852886e\+38\]/,
      );
      expect(() => new PerturbedTopK({ k: 2, nSample: 2, epsilon, backend })).toThrow(RangeError);
    }
    const r = perturbedTopK(x, [4], { k: 2, nSample: 2, epsilon: 2 ** -126, seed: 1, offset: 0, backend });
    expect(r.backward(Float32Array.of(1e-30, 1e-30, 1e-30, 1e-30)).every(Number.isFinite)).toBe(true);
  });

  it('SVM tau must be a normal float32: 1e-310 (NaN with ties) and 1e40 (Infinity) are refused', () => {
    const ties = Float32Array.of(1, 1, 1, 1);
    for (const tau of [1e-310, 1e-40, 1e40, 0, -1]) {
      expect(() => smoothTopKSvmLoss(ties, [0], [1, 4], { k: 2, tau, backend })).toThrow(
        /tau must be a normal float32 in \[1\.1754943508222875e-38, 3\.4028234663852886e\+38\]/,
      );
    }
    expect(() => smoothTopKSvmLoss(ties, [0], [1, 4], { k: 2, alpha: 1e39, backend })).toThrow(
      /alpha must be a finite float32/,
    );
    for (const tau of [2 ** -126, 1e-30, 1, 1e30]) {
      const r = smoothTopKSvmLoss(ties, [0], [1, 4], { k: 2, tau, backend });
      expect(Number.isNaN(r.loss)).toBe(false);
      expect(r.backward().some(Number.isNaN)).toBe(false);
    }
  });

  it.skipIf(!hasCpu)('the addon refuses the same epsilons when called directly', () => {
    const addon = loadNative()!;
    const x = Float32Array.of(1, 2, 3, 4);
    expect(() =>
      addon.perturbedTopKBackward(
        perturbedBackwardCall(new Int32Array(2), x, 1, 4, 1, 2, 1e-40, 1, 0, 0, 0, new Float32Array(4)),
      ),
    ).toThrow(/epsilon must be a normal float32/);
  });
});

describe('10. with allowNonFinite a NaN hinge is a NaN loss (relu(NaN) = NaN), on every backend alike', () => {
  // row 1's label score is NaN: its hinge 1 + top - NaN is NaN
  const s = Float32Array.of(1, 2, 3, 4, NaN, 6, 0, 1, 2);
  const labels = [0, 1, 2];
  const run = (backend: string, reduction: 'mean' | 'sum' | 'none') =>
    functional.balNoisedTopKLoss(s, labels, [3, 3], {
      k: 1,
      seed: 4,
      offset: 0,
      nSample: 3,
      allowNonFinite: true,
      reduction,
      backend: backend as 'js',
    });

  it.each(BACKENDS)('the loss, its row and its standard error are NaN (%s)', (backend) => {
    for (const reduction of ['mean', 'sum'] as const) {
      const r = run(backend, reduction);
      expect(r.loss).toBeNaN();
      expect(r.rowLosses[1]).toBeNaN();
      expect(r.standardError).toBeNaN();
      expect(Number.isNaN(r.rowLosses[0]) || Number.isNaN(r.rowLosses[2])).toBe(false);
    }
    const none = run(backend, 'none');
    expect(none.rowLosses[1]).toBeNaN();
    expect((none.standardError as Float32Array)[1]).toBeNaN();
    expect(Number.isNaN((none.standardError as Float32Array)[0])).toBe(false);
  });

  it.skipIf(!hasCpu)("'cpu' gives the bits of 'js': loss, losses, hinges and gradient", () => {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const a = run('js', reduction);
      const b = run('cpu', reduction);
      expect(bits(Float32Array.of(b.loss ?? 0))).toEqual(bits(Float32Array.of(a.loss ?? 0)));
      expect(bits(b.rowLosses)).toEqual(bits(a.rowLosses));
      expect(bits(b.hingeArguments)).toEqual(bits(a.hingeArguments));
      expect(bits(b.backward())).toEqual(bits(a.backward()));
    }
  });
});

describe('13. the SVM scratch is bounded', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  /** The old algorithm, whole prefix and suffix tables: the oracle for the blocked one. */
  function fullTableGrad(s: Float32Array, y: number, D: number, k: number, tau: number, alpha: number) {
    const lae = (a: number, b: number) =>
      a === -Infinity
        ? b
        : b === -Infinity
          ? a
          : a > b
            ? a + Math.log1p(Math.exp(b - a))
            : b + Math.log1p(Math.exp(a - b));
    const n = D - 1;
    const K = k + 1;
    const t: number[] = [];
    for (let c = 0; c < D; c++) if (c !== y) t.push(s[c]! / (k * tau));
    const pre = new Float64Array((n + 1) * K).fill(-Infinity);
    const suf = new Float64Array((n + 1) * K).fill(-Infinity);
    pre[0] = 0;
    for (let j = 1; j <= n; j++) {
      pre[j * K] = 0;
      for (let m = 1; m <= Math.min(j, K - 1); m++)
        pre[j * K + m] = lae(pre[(j - 1) * K + m]!, t[j - 1]! + pre[(j - 1) * K + m - 1]!);
    }
    suf[n * K] = 0;
    for (let j = n - 1; j >= 0; j--) {
      suf[j * K] = 0;
      for (let m = 1; m <= Math.min(n - j, K - 1); m++)
        suf[j * K + m] = lae(suf[(j + 1) * K + m]!, t[j]! + suf[(j + 1) * K + m - 1]!);
    }
    const logEk = pre[n * K + k]!;
    const logEk1 = pre[n * K + k - 1]!;
    const diff = alpha / tau + logEk - (s[y]! / (k * tau) + logEk1);
    const wA = diff > 0 ? 1 / (1 + Math.exp(-diff)) : Math.exp(diff) / (1 + Math.exp(diff));
    const g = new Float64Array(D);
    for (let j = 0, c = 0; c < D; c++) {
      if (c === y) {
        g[c] = -wA / k;
        continue;
      }
      let lk1 = -Infinity;
      let lk2 = -Infinity;
      for (let a = 0; a <= k - 1; a++) {
        const pa = pre[j * K + a]!;
        if (pa === -Infinity) break;
        lk1 = lae(lk1, pa + suf[(j + 1) * K + k - 1 - a]!);
        if (a <= k - 2) lk2 = lae(lk2, pa + suf[(j + 1) * K + k - 2 - a]!);
      }
      g[c] = (wA * (Math.exp(t[j]! + lk1 - logEk) - (k >= 2 ? Math.exp(t[j]! + lk2 - logEk1) : 0))) / k;
      j++;
    }
    return g;
  }

  it('the gradient has the bits of the whole-table computation, at block edges too', () => {
    const rand = mulberry32(1813);
    // D - 1 around squares (block edges), k from 1 to D - 1
    for (const D of [2, 3, 5, 10, 17, 26, 37, 50, 65, 101]) {
      for (const k of [1, 2, Math.max(1, D >> 1), D - 1]) {
        const s = Float32Array.from({ length: D }, () => (rand() < 0.3 ? 1 : Math.fround(rand() * 6 - 3)));
        const y = Math.floor(rand() * D);
        const p: SvmParams = { k, tau: 0.7, alpha: 1 };
        const { grad, hardRows } = smoothTopKSvmCore(s, [y], 1, D, p);
        if (hardRows[0]) continue;
        expect(Array.from(grad), `D ${D} k ${k}`).toEqual(Array.from(fullTableGrad(s, y, D, k, 0.7, 1)));
      }
    }
  });

  it('one 1024-column row with k 1023 allocates under 2 MiB of scratch (whole tables: 19 MiB)', () => {
    const D = 1024;
    const k = 1023;
    let bytes = 0;
    const Real = Float64Array;
    vi.stubGlobal(
      'Float64Array',
      new Proxy(Real, {
        construct(target, args: unknown[]) {
          const a = Reflect.construct(target, args) as Float64Array;
          bytes += a.byteLength;
          return a;
        },
      }),
    );
    const s = Real.from({ length: D }, (_, c) => ((c * 7919) % 101) / 50);
    const r = smoothTopKSvmCore(new Float32Array(s), [3], 1, D, { k, tau: 1, alpha: 1 });
    vi.unstubAllGlobals();
    expect(r.hardRows[0]).toBe(0);
    // the gradient (D floats) and the row losses are outputs; the rest is scratch
    const scratch = bytes - r.grad.byteLength - r.rowLosses.byteLength;
    expect(scratch).toBeLessThan(2 * 2 ** 20);
    expect(scratch).toBeGreaterThan(0);
  });
});

describe.each(BACKENDS)('14. perturbedTopK holds the 2^28 per-call output limit (%s)', (backend) => {
  it('rows * nSample * k above 2^28 is a RangeError naming the size, before any allocation', () => {
    const x = Float32Array.from({ length: 17 }, (_, i) => i);
    const want =
      'rows * nSample * k = 1 * 16777216 * 17 = 285212672 indices (1140850688 bytes), above the limit of 2^28 elements (1 GiB) per call: lower nSample or split the batch';
    expect(() =>
      perturbedTopK(x, [17], { k: 17, nSample: 2 ** 24, seed: 0, offset: 0, backend, indices: new Int32Array(1) }),
    ).toThrow(new RangeError(want));
    expect(() => perturbedTopK(x, [17], { k: 17, nSample: 2 ** 24, seed: 0, offset: 0, backend })).toThrow(
      new RangeError(want),
    );
    expect(() => new PerturbedTopK({ k: 17, nSample: 2 ** 24, seed: 0, backend }).forward(x, [17])).toThrow(
      new RangeError(want),
    );
  });
});

it('the float32 bound of the docs is the one the code uses', () => {
  expect(FLOAT32_MAX).toBe(Math.fround(3.4028235e38));
});
