// Issue 11, round two of the attack on the TypeScript layer: each finding, as it was reported,
// on every backend. (test/fuzz.test.ts generalises each class: hostile reads, shared twins,
// float32 domains, unknown keys, named messages.)
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BalNoisedTopK,
  functional,
  ImbalNoisedTopK,
  ldamMargins,
  NoisedTopK,
  perClassTopKAccuracy,
} from '../lib/index.js';
import * as tfb from '../lib/tfjs.js';
import { MAX_OUTPUT_ELEMENTS } from '../lib/validate.js';
import { bits, detach, sharedTwin } from './fuzz-kit.js';
import { errorOf, mulberry32, testedBackends } from './helpers.js';
import { setupTf } from './tfjs-helpers.js';

const BACKENDS = testedBackends();
const rand = mulberry32(1111);
const data = (n: number) => Float32Array.from({ length: n }, () => Math.fround(rand() * 4 - 2));

describe.each(BACKENDS)('1. each argument is read once, before the views are taken (%s)', (backend) => {
  it('a getter that detaches x while the options are read: refused, never NaN values', () => {
    const x = data(6);
    // allowNonFinite was the last key read, after x's view was taken
    const opts = {
      k: 1,
      seed: 0,
      offset: 0,
      backend,
      get allowNonFinite() {
        detach(x);
        return false;
      },
    };
    const err = errorOf(() => functional.noisedTopK(x, [2, 3], opts));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe('shape [2, 3] holds 6 elements but x has length 0');
  });

  it('the same through the outputs object of NoisedTopK.forward', () => {
    const x = data(6);
    const outputs = {
      get out() {
        detach(x);
        return undefined;
      },
    };
    expect(() => new NoisedTopK({ k: 1, seed: 0, backend }).forward(x, [2, 3], outputs)).toThrow(
      'shape [2, 3] holds 6 elements but x has length 0',
    );
  });

  it('BalNoisedTopK: a label getter that detaches scores is refused (no loss 0 with NaN top-k)', () => {
    const scores = data(6);
    const labels = [0, 1];
    Object.defineProperty(labels, 1, {
      get: () => {
        detach(scores);
        return 1;
      },
    });
    expect(() => new BalNoisedTopK({ k: 1, seed: 0, backend }).forward(scores, labels, [2, 3])).toThrow(
      'shape [2, 3] holds 6 elements but scores has length 0',
    );
  });

  it('a shape whose length reads 2 and then 3 is used as read first, forward and backward', () => {
    const scores = data(6);
    let reads = 0;
    const shape = new Proxy([2, 3, 1], {
      get: (t, key, rcv) => (key === 'length' ? (reads++ === 0 ? 2 : 3) : Reflect.get(t, key, rcv)),
    });
    const crit = () => new BalNoisedTopK({ k: 1, seed: 4, backend });
    const r = crit().forward(scores, [2, 0], shape);
    const ref = crit().forward(scores, [2, 0], [2, 3]);
    expect(reads).toBe(1);
    expect(r.loss).toBe(ref.loss);
    expect(bits(r.backward())).toEqual(bits(ref.backward()));
  });

  it('labels that answer differently on a second read are used as validated', () => {
    const scores = data(6);
    const labels = [0, 2];
    let reads = 0;
    Object.defineProperty(labels, 0, { get: () => (reads++ === 0 ? 0 : 99) });
    const r = functional.balNoisedTopKLoss(scores, labels, [2, 3], { k: 1, seed: 1, offset: 0, backend });
    expect(reads).toBe(1);
    expect(r.loss).toBe(
      functional.balNoisedTopKLoss(scores, [0, 2], [2, 3], { k: 1, seed: 1, offset: 0, backend }).loss,
    );
  });
});

describe('1. perClassTopKAccuracy reads the labels once', () => {
  it('a label that changes after it was checked does not move the count', () => {
    const scores = Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
    const labels = [0, 1, 2];
    let reads = 0;
    Object.defineProperty(labels, 1, { get: () => (reads++ === 0 ? 1 : 0) });
    expect(Array.from(perClassTopKAccuracy(scores, labels, [3, 3], 1))).toEqual([1, 1, 1]);
    expect(reads).toBe(1);
  });
});

describe.each(BACKENDS)('2. an output on a second SharedArrayBuffer over an input (%s)', (backend) => {
  const B = 3;
  const D = 4;

  it('forward: out and positions over x, noise or each other give the right answer or a RangeError naming both', () => {
    const xs = data(B * D);
    const noiseData = data(B * D * 2);
    const plain = functional.noisedTopK(xs, [B, D], { k: 2, epsilon: 0.5, noise: noiseData, backend });
    const want = { values: bits(plain.values), positions: bits(plain.indices) };
    const cases: [string, (x: Float32Array, noise: Float32Array) => Record<string, unknown>][] = [
      ['out/x', (x) => ({ out: sharedTwin(x, Float32Array, 0, B) })],
      ['out/noise', (_x, noise) => ({ out: sharedTwin(noise, Float32Array, 1, B) })],
      ['indices/x', (x) => ({ indices: sharedTwin(x, Float32Array, 0, B * 2) as unknown as Int32Array })],
      [
        'indices/noise',
        (_x, noise) => ({
          indices: new Int32Array(structuredClone(noise.buffer as SharedArrayBuffer), noise.byteOffset, B * 2),
        }),
      ],
    ];
    for (const [name, make] of cases) {
      const x = new Float32Array(new SharedArrayBuffer(B * D * 4));
      x.set(xs);
      const noise = new Float32Array(new SharedArrayBuffer(B * D * 2 * 4));
      noise.set(noiseData);
      const outs = make(x, noise);
      if (outs.indices && !(outs.indices instanceof Int32Array))
        outs.indices = new Int32Array((outs.indices as Float32Array).buffer, 0, B * 2);
      let got: unknown;
      try {
        const r = functional.noisedTopK(x, [B, D], { k: 2, epsilon: 0.5, noise, backend, ...outs });
        got = { values: bits(r.values), positions: bits(r.indices) };
      } catch (e) {
        got = e;
      }
      if (got instanceof Error) {
        expect(got, name).toBeInstanceOf(RangeError);
        expect(got.message, name).toMatch(/^(out|indices) shares memory with (x|noise)$/);
        expect(backend, `'js' must compute the right answer (${name})`).not.toBe('js');
      } else {
        expect(got, `${name}: a wrong answer`).toEqual(want);
      }
    }
  });

  it("backward: out over positions through a second SharedArrayBuffer gives the right gradient ('js' must)", () => {
    const x = data(B * D);
    const ref = new NoisedTopK({ k: 2, seed: 3, nSample: 3, backend }).forward(x, [B, D]);
    const wantGrad = bits(ref.backward());
    const positions = new Int32Array(new SharedArrayBuffer(B * D * 4 + 64));
    const r = new NoisedTopK({ k: 2, seed: 3, nSample: 3, backend }).forward(x, [B, D], {
      indices: positions.subarray(0, B * 3),
    });
    const out = new Float32Array(structuredClone(positions.buffer as SharedArrayBuffer), 0, B * D);
    let got: unknown;
    try {
      got = bits(r.backward(undefined, out));
    } catch (e) {
      got = e;
    }
    if (got instanceof Error) {
      expect(backend).not.toBe('js');
      expect(got.message).toBe('out shares memory with indices');
    } else {
      expect(got).toEqual(wantGrad);
    }
  });

  it('two outputs on the same shared bytes cannot both be right: a RangeError', () => {
    const sab = new SharedArrayBuffer(64);
    const out = new Float32Array(sab, 0, B);
    const positions = new Int32Array(structuredClone(sab), 0, B);
    expect(() =>
      functional.noisedTopK(data(B * D), [B, D], {
        k: 1,
        epsilon: 0.5,
        nSample: 1,
        seed: 1,
        offset: 0,
        backend,
        out,
        indices: positions,
      }),
    ).toThrow('out shares memory with indices');
  });
});

describe.each(BACKENDS)('3. numbers valid as doubles but not as float32, booleans, ranges (%s)', (backend) => {
  const scores = data(6);
  it('backward(1e39) is a RangeError, not Infinity gradients', () => {
    const r = new BalNoisedTopK({ k: 1, seed: 0, backend }).forward(scores, [0, 1], [2, 3]);
    expect(() => r.backward(1e39)).toThrow(
      /^gradOutput must be a finite float32 \(\|gradOutput\| < 3.4e38\), got 1e\+39/,
    );
    expect(() => r.backward(-3.5e38)).toThrow(RangeError);
  });

  it("allowNonFinite: 'false' is a TypeError, not true", () => {
    expect(() => new NoisedTopK({ k: 1, backend, allowNonFinite: 'false' as never })).toThrow(
      new TypeError('allowNonFinite must be true or false, got "false"'),
    );
    expect(() =>
      functional.noisedTopK(scores, [6], { k: 1, seed: 0, offset: 0, backend, allowNonFinite: 1 as never }),
    ).toThrow(TypeError);
    expect(() => new BalNoisedTopK({ k: 1, backend, allowNonFinite: null as never })).toThrow(TypeError);
  });

  it('scale must be > 0 (and a finite float32)', () => {
    const margins = ldamMargins([5, 3, 1], 0.3);
    expect(() => new ImbalNoisedTopK({ k: 1, maxM: 0.3, clsNumList: [5, 3, 1], scale: -1, backend })).toThrow(
      new RangeError('scale must be a finite number > 0, got -1'),
    );
    expect(() =>
      functional.imbalNoisedTopKLoss(scores, [0, 1], [2, 3], { k: 1, seed: 0, offset: 0, margins, scale: 0, backend }),
    ).toThrow(RangeError);
    expect(() =>
      functional.imbalNoisedTopKLoss(scores, [0, 1], [2, 3], {
        k: 1,
        seed: 0,
        offset: 0,
        margins,
        scale: 1e39,
        backend,
      }),
    ).toThrow(RangeError);
  });
});

describe.each(BACKENDS)('4. positions are bounded (%s)', (backend) => {
  it('nSample = 2^24 on 17 rows is refused at once, naming nSample and the bytes', () => {
    const t0 = Date.now();
    const err = errorOf(() =>
      new NoisedTopK({ k: 1, nSample: 2 ** 24, seed: 0, backend }).forward(new Float32Array(17 * 2), [17, 2]),
    );
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe(
      'nSample = 16777216 with 17 slices needs indices of 285212672 elements (1140850688 bytes), above the limit of 2^28 elements (1 GiB) per call: lower nSample or split the batch',
    );
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(MAX_OUTPUT_ELEMENTS).toBe(2 ** 28);
    // the limit itself is allowed: 16 rows x 2^24 samples is exactly 2^28 positions (not run here)
    expect(16 * 2 ** 24).toBe(MAX_OUTPUT_ELEMENTS);
  });
});

describe.each(BACKENDS)('6. messages name the right thing (%s)', (backend) => {
  it('NaN in a loss’s scores is scores[i], not x[i]', () => {
    const s = Float32Array.of(0, 1, 2, 3, NaN, 5);
    expect(() => new BalNoisedTopK({ k: 1, seed: 0, backend }).forward(s, [0, 1], [2, 3])).toThrow(
      /^scores\[4\] is NaN: non-finite inputs are rejected/,
    );
    expect(() =>
      functional.imbalNoisedTopKLoss(s, [0, 1], [2, 3], {
        k: 1,
        seed: 0,
        offset: 0,
        margins: new Float32Array(3),
        backend,
      }),
    ).toThrow(/^scores\[4\] is NaN/);
  });

  it('a clsNumList of the wrong length is named as clsNumList', () => {
    expect(() =>
      new ImbalNoisedTopK({ k: 1, maxM: 0.3, clsNumList: [3, 4], seed: 0, backend }).forward(data(6), [0, 1], [2, 3]),
    ).toThrow('clsNumList has 2 classes, expected 3 (scores has shape [2, 3])');
  });

  it('an empty dim: an empty answer when no slice is left, a clear RangeError otherwise', () => {
    const op = new NoisedTopK({ k: 1, seed: 0, backend });
    expect(() => op.forward(new Float32Array(0), [3, 0])).toThrow(
      new RangeError(
        'x has shape [3, 0]: dim 1 is empty, so its 3 slices have no k-th value (an input with no slices, a 0 in another dim, gives an empty answer)',
      ),
    );
    expect(() => op.forward(new Float32Array(0), [0])).toThrow(
      'x has shape [0]: dim 0 is empty, so its 1 slice has no k-th value (an input with no slices, a 0 in another dim, gives an empty answer)',
    );
    for (const shape of [
      [0, 3],
      [0, 0],
      [2, 0, 0],
    ]) {
      const r = new NoisedTopK({ k: 2, seed: 0, backend, dim: -1 }).forward(new Float32Array(0), shape);
      expect(r.values.length).toBe(0);
      expect(r.backward().length).toBe(0);
    }
    const loss = new BalNoisedTopK({ k: 1, seed: 0, backend, reduction: 'sum' }).forward(
      new Float32Array(0),
      [],
      [0, 3],
    );
    expect(loss.loss).toBe(0);
  });

  it('a Proxy(Int32Array) as labels is a TypeError naming labels', () => {
    const err = errorOf(() =>
      new BalNoisedTopK({ k: 1, seed: 0, backend }).forward(
        data(6),
        new Proxy(Int32Array.of(0, 1), {}) as Int32Array,
        [2, 3],
      ),
    );
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/^labels must be an Int32Array or an array of integers, got /);
    expect(() => perClassTopKAccuracy(data(6), new Proxy(Int32Array.of(0, 1), {}) as Int32Array, [2, 3], 1)).toThrow(
      /^labels must be/,
    );
  });
});

describe('6. the tfjs module classes check their options at construction', () => {
  beforeAll(setupTf);
  it('k = -1, epsilon = -1, scale = 1e39 and an unknown key fail in the constructor', () => {
    expect(() => new tfb.NoisedTopK({ k: -1 })).toThrow(/^k must be an integer in \[1, \d+\], got -1/);
    expect(() => new tfb.BalNoisedTopK({ k: 1, epsilon: -1 })).toThrow(/^epsilon must be a finite number >= 0, got -1/);
    expect(() => new tfb.ImbalNoisedTopK({ k: 1, maxM: 0.2, clsNumList: [3, 2], scale: 1e39 })).toThrow(
      /^scale must be a finite float32/,
    );
    expect(() => new tfb.NoisedTopK({ k: 1, nSample: 0 })).toThrow(/^nSample must be an integer/);
    expect(() => new tfb.BalNoisedTopK({ k: 1, backend: 'gpu' as never })).toThrow(/^backend must be one of/);
    // and a valid one still trains: apply works
    const crit = new tfb.BalNoisedTopK({ k: 1, seed: 1 });
    expect(crit.apply(tf.tensor(data(6), [2, 3]), tf.tensor([0, 2], [2], 'int32')).shape).toEqual([]);
  });
});
