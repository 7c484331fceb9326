// The tfjs ops of docs/ops.md: topk (against tf.topk, its scatter gradient, finite
// differences), perturbedTopK (against the array API, its VJP) and smoothTopKSvmLoss; a small
// tfjs model trains through each (the loss falls).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { perturbedTopK as perturbedArrays, smoothTopKSvmLoss as svmArrays, topk as topkArrays } from '../lib/index.js';
import { perturbedTopK, smoothTopKSvmLoss, topk } from '../lib/tfjs.js';
import { normals, setupTf } from './tfjs-helpers.js';
import { mulberry32 } from './helpers.js';

beforeAll(setupTf);

const arr = (t: tf.Tensor): number[] => Array.from(t.dataSync());

/** mean over rows of (mean(v_row) - y)^2 with its gradient: the tests' loss (tfjs-core registers none). */
const poolMse = tf.customGrad((v: tf.Tensor | tf.GradSaveFunc, y: tf.Tensor | tf.GradSaveFunc) => {
  const vt = v as tf.Tensor;
  const yt = y as tf.Tensor;
  const [n, k] = vt.shape as [number, number];
  const vd = vt.dataSync();
  const yd = yt.dataSync();
  const g = new Float32Array(n * k);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let j = 0; j < k; j++) m += vd[i * k + j]!;
    const e = m / k - yd[i]!;
    loss += (e * e) / n;
    for (let j = 0; j < k; j++) g[i * k + j] = (2 * e) / (n * k);
  }
  return {
    value: tf.scalar(loss),
    gradFunc: (dy: tf.Tensor) => [tf.mul(dy, tf.tensor(g, [n, k])), tf.zerosLike(yt)],
  };
});

describe('topk on tensors', () => {
  it('values and indices equal tf.topk (sorted, last axis, ties included)', () => {
    const rand = mulberry32(4);
    for (const shape of [[5, 40], [2, 3, 17], [64]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, () => Math.round((rand() * 2 - 1) * 6)); // many ties
      const x = tf.tensor(data, shape);
      const d = shape.at(-1)!;
      for (const k of [1, 3, d]) {
        const ours = topk(x, k);
        const theirs = tf.topk(x, k, true);
        expect(ours.values.shape).toEqual(theirs.values.shape);
        expect(arr(ours.values)).toEqual(arr(theirs.values));
        expect(arr(ours.indices)).toEqual(arr(theirs.indices));
        expect(ours.indices.dtype).toBe('int32');
      }
    }
  });

  it('largest: false and sorted: false follow the package rule (array API)', () => {
    const data = new Float32Array([3, 1, 2, 1, 5, 0]);
    const small = topk(tf.tensor(data, [2, 3]), 2, { largest: false, sorted: false });
    const ref = topkArrays(data, [2, 3], { k: 2, largest: false, sorted: false });
    expect(arr(small.values)).toEqual(Array.from(ref.values));
    expect(arr(small.indices)).toEqual(Array.from(ref.indices));
  });

  it('the gradient of values is dy scattered to the indices, and matches finite differences', () => {
    const data = normals(4 * 9, 5);
    const x = tf.tensor(data, [4, 9]);
    const dy = normals(4 * 3, 6);
    const g = tf.grad((t: tf.Tensor) => topk(t, 3).values)(x, tf.tensor(dy, [4, 3]));
    const r = topkArrays(data, [4, 9], { k: 3 });
    const want = new Float32Array(36);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) want[i * 9 + r.indices[i * 3 + j]!] = dy[i * 3 + j]!;
    expect(arr(g)).toEqual(Array.from(want));
    const f = (d: Float32Array) => {
      const v = arr(topk(tf.tensor(d, [4, 9]), 3).values);
      return v.reduce((a, b, j) => a + b * dy[j]!, 0);
    };
    const h = 1e-2;
    for (let e = 0; e < 36; e++) {
      const p = data.slice();
      const m = data.slice();
      p[e] = data[e]! + h;
      m[e] = data[e]! - h;
      expect((f(p) - f(m)) / (2 * h)).toBeCloseTo(want[e]!, 3);
    }
  });

  it('a model learns through it: k-max pooling regression, the loss falls', () => {
    const [N, F, H, k] = [64, 6, 12, 4];
    const X = tf.tensor(normals(N * F, 7), [N, F]);
    const teacher = tf.tensor(normals(F * H, 8), [F, H]);
    const y = tf.tensor(
      Float32Array.from(
        arr(topk(tf.matMul(X, teacher), k).values).reduce<number[]>((acc, v, i) => {
          if (i % k === 0) acc.push(0);
          acc[acc.length - 1]! += v / k;
          return acc;
        }, []),
      ),
    );
    const W = tf.variable(tf.mul(tf.tensor(normals(F * H, 9), [F, H]), 0.5));
    const opt = tf.train.sgd(0.05);
    const lossOf = () => poolMse(topk(tf.matMul(X, W), k).values, y) as tf.Scalar;
    const first = lossOf().dataSync()[0]!;
    for (let s = 0; s < 150; s++) opt.minimize(lossOf, false, [W]);
    const last = lossOf().dataSync()[0]!;
    expect(last).toBeLessThan(0.3 * first);
  });
});

describe('perturbedTopK on tensors', () => {
  it('equals the array API (mask and VJP) for the same seed and offset, along a middle axis', () => {
    const data = normals(3 * 10 * 2, 11);
    const opts = { k: 3, epsilon: 0.5, nSample: 16, seed: 12, offset: 4 };
    const ref = perturbedArrays(data, [3, 10, 2], { ...opts, dim: 1 });
    const x = tf.tensor(data, [3, 10, 2]);
    expect(arr(perturbedTopK(x, { ...opts, axis: 1 }))).toEqual(Array.from(ref.mask));
    const dy = normals(60, 13);
    const g = tf.grad((t: tf.Tensor) => perturbedTopK(t, { ...opts, axis: 1 }))(x, tf.tensor(dy, [3, 10, 2]));
    expect(arr(g)).toEqual(Array.from(ref.backward(dy)));
    expect(() => perturbedTopK(x, { ...opts, dim: 1 } as unknown as typeof opts)).toThrow(
      /unknown option 'dim'.*'axis'/,
    );
  });

  it("a model learns to select: the perturbed top-3 set of its scores moves to the teacher's", () => {
    const [N, F, D, k] = [48, 5, 10, 3];
    const X = tf.tensor(normals(N * F, 21), [N, F]);
    const teacherScores = tf.matMul(X, tf.tensor(normals(F * D, 22), [F, D]));
    const target = new Float32Array(N * D);
    const ti = topkArrays(teacherScores.dataSync() as Float32Array, [N, D], { k }).indices;
    for (let i = 0; i < N; i++) for (let j = 0; j < k; j++) target[i * D + ti[i * k + j]!] = 1;
    // overlap(mask, target) = -sum(mask * target) / (N k), with its gradient
    const overlapLoss = tf.customGrad((m: tf.Tensor | tf.GradSaveFunc) => ({
      value: tf.scalar(-arr(m as tf.Tensor).reduce((a, v, j) => a + v * target[j]!, 0) / (N * k)),
      gradFunc: (dy: tf.Tensor) =>
        tf.mul(
          dy,
          tf.tensor(
            target.map((t) => -t / (N * k)),
            [N, D],
          ),
        ),
    }));
    const W = tf.variable(tf.mul(tf.tensor(normals(F * D, 23), [F, D]), 0.1));
    const opt = tf.train.sgd(2);
    let step = 0;
    const lossOf = () =>
      overlapLoss(
        perturbedTopK(tf.matMul(X, W), { k, epsilon: 0.5, nSample: 64, seed: 1, offset: step++ }),
      ) as tf.Scalar;
    const first = lossOf().dataSync()[0]!;
    for (let s = 0; s < 60; s++) opt.minimize(lossOf, false, [W]);
    const last = lossOf().dataSync()[0]!;
    expect(first).toBeGreaterThan(-0.6);
    expect(last).toBeLessThan(-0.85); // most of each row's mass on the teacher's set
  });
});

describe('smoothTopKSvmLoss on tensors', () => {
  it('equals the array API and trains a linear classifier (the loss falls)', () => {
    const [N, F, C] = [60, 5, 8];
    const xd = normals(N * F, 31);
    const X = tf.tensor(xd, [N, F]);
    const labels = tf.tensor1d(
      Int32Array.from(arr(tf.argMax(tf.matMul(X, tf.tensor(normals(F * C, 32), [F, C])), 1))),
      'int32',
    );
    const s = tf.tensor(normals(N * C, 33), [N, C]);
    const ref = svmArrays(s.dataSync() as Float32Array, labels.dataSync() as Int32Array, [N, C], { k: 2, tau: 1 });
    expect(smoothTopKSvmLoss(s, labels, { k: 2, tau: 1 }).dataSync()[0]).toBe(ref.loss);
    expect(arr(tf.grad((t: tf.Tensor) => smoothTopKSvmLoss(t, labels, { k: 2, tau: 1 }))(s))).toEqual(
      Array.from(ref.backward()),
    );
    const W = tf.variable(tf.zeros([F, C]));
    const opt = tf.train.sgd(0.5);
    const lossOf = () => smoothTopKSvmLoss(tf.matMul(X, W), labels, { k: 2, tau: 1 });
    const first = lossOf().dataSync()[0]!;
    for (let i = 0; i < 100; i++) opt.minimize(lossOf, false, [W]);
    expect(lossOf().dataSync()[0]!).toBeLessThan(0.7 * first);
  });
});
