import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { functional, ldamMargins } from '../lib/index.js';
import {
  BalNoisedTopK,
  ImbalNoisedTopK,
  NoisedTopK,
  balNoisedTopKLoss,
  imbalNoisedTopKLoss,
  noisedTopK,
} from '../lib/tfjs.js';
import { normals, setupTf } from './tfjs-helpers.js';

beforeAll(setupTf);

const arr = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe('noisedTopK on tensors', () => {
  it('matches the functional API value and gradient along a middle axis, same seed and offset', () => {
    const shape = [3, 5, 4];
    const data = normals(60, 1);
    const dyData = normals(12, 2);
    const opts = { k: 2, epsilon: 0.7, nSample: 4, seed: 11, offset: 3 };
    const ref = functional.noisedTopK(data, shape, { ...opts, dim: 1 });
    const refGrad = ref.backward(dyData);

    const x = tf.tensor(data, shape);
    const y = noisedTopK(x, { ...opts, axis: 1 });
    expect(y.shape).toEqual([3, 4]);
    expect(arr(y)).toEqual(Array.from(ref.values));
    const g = tf.grad((t: tf.Tensor) => noisedTopK(t, { ...opts, axis: 1 }))(x, tf.tensor(dyData, [3, 4]));
    expect(g.shape).toEqual(shape);
    expect(arr(g)).toEqual(Array.from(refGrad));
    // the gradient is a sampled distribution over columns: each slice sums to its dy
    expect(refGrad.some((v) => v !== 0)).toBe(true);
  });

  it('takes explicit noise as a tensor (shape + [nSample]) and a negative axis', () => {
    const shape = [2, 6];
    const data = normals(12, 3);
    const noise = normals(12 * 3, 4);
    const ref = functional.noisedTopK(data, shape, { k: 3, epsilon: 1, dim: -1, noise });
    const x = tf.tensor(data, shape);
    const f = (t: tf.Tensor) => noisedTopK(t, { k: 3, epsilon: 1, axis: -1, noise: tf.tensor(noise, [2, 6, 3]) });
    expect(arr(f(x))).toEqual(Array.from(ref.values));
    expect(arr(tf.grad(f)(x))).toEqual(Array.from(ref.backward()));
  });

  it('the module form draws offset n on call n', () => {
    const data = normals(20, 5);
    const op = new NoisedTopK({ k: 2, epsilon: 1, nSample: 3, seed: 9 });
    const x = tf.tensor(data, [4, 5]);
    const first = arr(op.apply(x));
    const second = arr(op.apply(x));
    const at = (offset: number) =>
      Array.from(functional.noisedTopK(data, [4, 5], { k: 2, epsilon: 1, nSample: 3, seed: 9, offset }).values);
    expect(first).toEqual(at(0));
    expect(second).toEqual(at(1));
    expect(first).not.toEqual(second);
  });

  it('leaks no tensors inside tidy', () => {
    const x = tf.tensor(normals(20, 6), [4, 5]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grad((t: tf.Tensor) => noisedTopK(t, { k: 1, seed: 0, offset: 0 }))(x, tf.ones([4]));
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a non-tensor, a non-float tensor and missing noise', () => {
    expect(() => noisedTopK([1, 2] as unknown as tf.Tensor, { k: 1, seed: 0, offset: 0 })).toThrow(TypeError);
    expect(() => noisedTopK(tf.tensor([1, 2], [2], 'int32'), { k: 1, seed: 0, offset: 0 })).toThrow(
      /dtype float32, got int32/,
    );
    expect(() => noisedTopK(tf.tensor([1, 2]), { k: 1, seed: 0 })).toThrow(/options.seed needs options.offset/);
    expect(() => noisedTopK(tf.tensor([1, 2]), { k: 3, seed: 0, offset: 0 })).toThrow(RangeError);
  });
});

describe('losses on tensors', () => {
  const B = 6;
  const D = 7;
  const scores = normals(B * D, 7);
  const labelArr = Int32Array.from([0, 3, 6, 2, 2, 5]);
  const counts = [50, 20, 10, 5, 5, 3, 2];

  it('balanced loss: value and gradient match the functional API', () => {
    const o = { k: 2, epsilon: 1, nSample: 5, seed: 3, offset: 8 };
    const ref = functional.balNoisedTopKLoss(scores, labelArr, [B, D], o);
    const refGrad = ref.backward(0.5);
    const f = (s: tf.Tensor) => balNoisedTopKLoss(s, tf.tensor(labelArr, [B], 'int32'), o);
    const s = tf.tensor(scores, [B, D]);
    expect(f(s).dataSync()[0]).toBe(ref.loss);
    expect(arr(tf.grad(f)(s, tf.scalar(0.5)))).toEqual(Array.from(refGrad));
    expect(refGrad.some((v) => v !== 0)).toBe(true);
  });

  it('imbalanced loss: value and gradient match the functional API on explicit noise', () => {
    const margins = ldamMargins(counts, 0.2);
    const noise = normals(B * D * 5, 8);
    const ref = functional.imbalNoisedTopKLoss(scores, labelArr, [B, D], {
      k: 3,
      epsilon: 0.01,
      margins,
      scale: 60,
      noise,
    });
    const f = (s: tf.Tensor) =>
      imbalNoisedTopKLoss(s, tf.tensor(labelArr, [B], 'int32'), {
        k: 3,
        epsilon: 0.01,
        margins,
        scale: 60,
        noise: tf.tensor(noise, [B, D, 5]),
      });
    const s = tf.tensor(scores, [B, D]);
    expect(f(s).dataSync()[0]).toBe(ref.loss);
    expect(arr(tf.grad(f)(s))).toEqual(Array.from(ref.backward()));
  });

  it('module forms match the functional API at offsets 0 and 1', () => {
    const bal = new BalNoisedTopK({ k: 2, epsilon: 1, seed: 4 });
    const imbal = new ImbalNoisedTopK({ k: 2, epsilon: 0.01, maxM: 0.2, clsNumList: counts, scale: 60, seed: 4 });
    const s = tf.tensor(scores, [B, D]);
    const y = tf.tensor(labelArr, [B], 'int32');
    const margins = ldamMargins(counts, 0.2);
    for (const offset of [0, 1]) {
      expect(bal.apply(s, y).dataSync()[0]).toBe(
        functional.balNoisedTopKLoss(scores, labelArr, [B, D], { k: 2, epsilon: 1, seed: 4, offset }).loss,
      );
      expect(imbal.apply(s, y).dataSync()[0]).toBe(
        functional.imbalNoisedTopKLoss(scores, labelArr, [B, D], {
          k: 2,
          epsilon: 0.01,
          margins,
          scale: 60,
          seed: 4,
          offset,
        }).loss,
      );
    }
  });

  it('labels must be an int32 tensor of shape [batch]', () => {
    const s = tf.tensor(scores, [B, D]);
    expect(() =>
      balNoisedTopKLoss(s, tf.tensor(Array.from(labelArr), [B], 'float32'), { k: 2, seed: 0, offset: 0 }),
    ).toThrow(/labels must have dtype int32, got float32/);
    expect(() => balNoisedTopKLoss(s, labelArr as unknown as tf.Tensor, { k: 2, seed: 0, offset: 0 })).toThrow(
      TypeError,
    );
    expect(() => balNoisedTopKLoss(s, tf.tensor([1, 2], [2], 'int32'), { k: 2, seed: 0, offset: 0 })).toThrow(
      /labels must have shape \[6\]/,
    );
    expect(() =>
      balNoisedTopKLoss(tf.tensor(scores, [B, D, 1]), tf.tensor(labelArr, [B], 'int32'), { k: 2, seed: 0, offset: 0 }),
    ).toThrow(RangeError);
    expect(() =>
      balNoisedTopKLoss(s, tf.tensor([0, 0, 0, 0, 0, 9], [B], 'int32'), { k: 2, seed: 0, offset: 0 }),
    ).toThrow(/labels\[5\] must be an integer in \[0, 6\], got 9/);
  });
});

describe('training a small tfjs model inside optimizer.minimize', () => {
  // 8 classes of Gaussian clusters in 6 dimensions, with a linear head.
  const N = 160;
  const F = 6;
  const C = 8;
  const centres = normals(C * F, 20);
  const noise = normals(N * F, 21);
  const xs = new Float32Array(N * F);
  const ys = new Int32Array(N);
  const counts = new Array<number>(C).fill(0);
  for (let i = 0; i < N; i++) {
    const c = i % C;
    ys[i] = c;
    counts[c]!++;
    for (let f = 0; f < F; f++) xs[i * F + f] = 2 * centres[c * F + f]! + 0.5 * noise[i * F + f]!;
  }

  function train(loss: (scores: tf.Tensor, y: tf.Tensor) => tf.Scalar, lr: number, steps = 60): number[] {
    return tf.tidy(() => {
      const x = tf.tensor(xs, [N, F]);
      const y = tf.tensor(ys, [N], 'int32');
      const w = tf.variable(
        tf.tensor(
          normals(F * C, 22).map((v) => 0.01 * v),
          [F, C],
        ),
      );
      const b = tf.variable(tf.zeros([C]));
      const opt = tf.train.momentum(lr, 0.9);
      const history: number[] = [];
      for (let step = 0; step < steps; step++) {
        const l = opt.minimize(() => loss(tf.add(tf.matMul(x, w), b), y), true, [w, b])!;
        history.push(l.dataSync()[0]!);
        l.dispose();
      }
      opt.dispose();
      w.dispose();
      b.dispose();
      return history;
    });
  }

  const tail = (h: number[]) => h.slice(-10).reduce((a, b) => a + b, 0) / 10;

  it('BalNoisedTopK drives the loss down', () => {
    const crit = new BalNoisedTopK({ k: 2, epsilon: 1, seed: 0 });
    const h = train((s, y) => crit.apply(s, y), 0.05);
    expect(tail(h)).toBeLessThan(0.3 * h[0]!);
  });

  it('ImbalNoisedTopK drives the loss down', () => {
    const crit = new ImbalNoisedTopK({ k: 2, epsilon: 0.01, maxM: 0.2, clsNumList: counts, scale: 10, seed: 0 });
    const h = train((s, y) => crit.apply(s, y), 0.01);
    expect(tail(h)).toBeLessThan(0.3 * h[0]!);
  });
});
