// The tfjs loss classes as tfjs-layers losses (asLoss: model.compile / model.fit), and the
// Monte-Carlo standard error of the tfjs module forms.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { functional, ldamMargins } from '../lib/index.js';
import { BalNoisedTopK, ImbalNoisedTopK, NoisedTopK } from '../lib/tfjs.js';
import { setupTf } from './tfjs-helpers.js';

beforeAll(setupTf);

const B = 48;
const F = 4;
const C = 5;
const xs = () =>
  tf.tensor2d(
    Array.from({ length: B * F }, (_, i) => Math.sin(i * 1.3)),
    [B, F],
  );
const labelsOf = (x: tf.Tensor2D) =>
  tf.argMax(
    tf.matMul(
      x,
      tf.tensor2d(
        Array.from({ length: F * C }, (_, i) => Math.cos(i * 2.1)),
        [F, C],
      ),
    ),
    1,
  );

describe('asLoss: the tfjs loss classes in model.compile / model.fit', () => {
  it.each([
    ['BalNoisedTopK', () => new BalNoisedTopK({ k: 1, epsilon: 0.1, nSample: 8, seed: 1 })],
    [
      'ImbalNoisedTopK',
      () =>
        new ImbalNoisedTopK({
          k: 1,
          epsilon: 0.1,
          nSample: 8,
          seed: 1,
          maxM: 0.2,
          clsNumList: [9, 7, 5, 3, 1],
          scale: 5,
        }),
    ],
  ])('%s: model.fit on one-hot targets lowers the loss', async (_name, make) => {
    const x = xs();
    const y = tf.cast(tf.oneHot(labelsOf(x), C), 'float32');
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: C, inputShape: [F] })] });
    const criterion = make();
    model.compile({ optimizer: tf.train.sgd(0.2), loss: criterion.asLoss() });
    const h = await model.fit(x, y, { epochs: 30, batchSize: B, verbose: 0 });
    const loss = h.history.loss as number[];
    expect(loss).toHaveLength(30);
    expect(loss[29]!).toBeLessThan(0.8 * loss[0]!);
    expect(typeof criterion.standardError).toBe('number');
    // the control: a learning rate of 0 leaves the loss where it was (up to the noise)
    const frozen = tfl.sequential({ layers: [tfl.layers.dense({ units: C, inputShape: [F] })] });
    frozen.compile({ optimizer: tf.train.sgd(0), loss: make().asLoss() });
    const hf = (await frozen.fit(x, y, { epochs: 5, batchSize: B, verbose: 0 })).history.loss as number[];
    expect(Math.abs(hf[4]! - hf[0]!)).toBeLessThan(0.2 * hf[0]! + 0.05);
  });

  it('one-hot, [batch] and [batch, 1] class indices give the same loss; anything else is refused by name', () => {
    const scores = tf.tensor2d(
      Array.from({ length: 6 * C }, (_, i) => Math.cos(i)),
      [6, C],
    );
    const idx = [0, 4, 2, 2, 1, 3];
    const run = (yTrue: tf.Tensor) => new BalNoisedTopK({ k: 2, seed: 9 }).asLoss()(yTrue, scores).dataSync()[0];
    const want = run(tf.cast(tf.oneHot(tf.tensor1d(idx, 'int32'), C), 'float32'));
    expect(run(tf.tensor1d(idx))).toBe(want);
    expect(run(tf.tensor2d(idx, [6, 1]))).toBe(want);
    expect(() => run(tf.tensor1d([0, 1.5, 2, 2, 1, 3]))).toThrow(
      new RangeError('yTrue[1] must be an integer class index (sparse targets), got 1.5'),
    );
    expect(() => run(tf.tensor1d([0, 1]))).toThrow(/^yTrue must have shape \[6, 5\] \(one-hot\) or \[6\]/);
  });
});

describe('standardError on the tfjs module forms', () => {
  it('equals the plain result of the same seed and offset', () => {
    const data = Float32Array.from({ length: 4 * 30 }, (_, i) => Math.sin(i * 0.7) * 2);
    const m = new NoisedTopK({ k: 3, nSample: 6, seed: 21 });
    expect(m.standardError).toBeNull();
    m.apply(tf.tensor2d(data, [4, 30]));
    m.apply(tf.tensor2d(data, [4, 30]));
    const plain = functional.noisedTopK(data, [4, 30], { k: 3, nSample: 6, seed: 21, offset: 1 });
    expect(Array.from(m.standardError!)).toEqual(Array.from(plain.standardError));

    const labels = [1, 0, 29, 5];
    const crit = new ImbalNoisedTopK({
      k: 2,
      nSample: 6,
      seed: 4,
      maxM: 0.3,
      clsNumList: Array.from({ length: 30 }, (_, i) => 40 - i),
      reduction: 'none',
    });
    crit.apply(tf.tensor2d(data, [4, 30]), tf.tensor1d(labels, 'int32'));
    const want = functional.imbalNoisedTopKLoss(data, labels, [4, 30], {
      k: 2,
      nSample: 6,
      seed: 4,
      offset: 0,
      margins: ldamMargins(
        Array.from({ length: 30 }, (_, i) => 40 - i),
        0.3,
      ),
      reduction: 'none',
    });
    expect(Array.from(crit.standardError as Float32Array)).toEqual(Array.from(want.standardError));
  });
});
