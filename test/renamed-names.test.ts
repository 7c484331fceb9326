// Issue 10: `margins` named two things. The per-row value relu is applied to is now
// LossResult.hingeArguments; the per-class LDAM margins of ImbalNoisedTopK are classMargins (array
// and tfjs forms). The old names stay for one release as deprecated aliases of the same arrays,
// and reading one warns once per process, not on every training step.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BalNoisedTopK,
  functional,
  ImbalNoisedTopK,
  ldamMargins,
  NoisedTopK,
  perturbedTopK,
  rareClassTopKAccuracy,
  topk,
} from '../lib/index.js';
import * as tfb from '../lib/tfjs.js';
import { setupTf } from './tfjs-helpers.js';

const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
beforeAll(async () => {
  await setupTf();
  process.on('warning', onWarning);
});
afterAll(() => {
  process.off('warning', onWarning);
});
/** Warnings are delivered on a later tick: wait for them before counting. */
const settled = () => new Promise((resolve) => setImmediate(resolve));
const renamed = (name: string) =>
  warnings.filter(
    (w) =>
      (w as Error & { code?: string }).code === 'NOISED_TOPK_RENAMED' && w.message.startsWith(`${name} is deprecated`),
  );

const scores = new Float32Array([0.5, -0.2, 1.3, 0.1, 0.9, -1.1, 0.4, 0.0]);
const labels = [2, 0];
const shape: [number, number] = [2, 4];
const counts = [40, 20, 5, 2];

describe('LossResult.hingeArguments (was margins)', () => {
  it('is the per-row value relu is applied to: losses = relu(hingeArguments)', () => {
    for (const r of [
      new BalNoisedTopK({ k: 2, seed: 3 }).forward(scores, labels, shape),
      functional.imbalNoisedTopKLoss(scores, labels, shape, {
        k: 2,
        seed: 3,
        offset: 0,
        margins: ldamMargins(counts, 0.3),
        scale: 10,
        reduction: 'none',
      }),
    ]) {
      expect(r.hingeArguments).toHaveLength(2);
      expect(Array.from(r.losses)).toEqual(Array.from(r.hingeArguments, (t) => (t > 0 ? t : 0)));
    }
  });

  it('the deprecated alias margins is the same array, and warns once', async () => {
    const r = new BalNoisedTopK({ k: 2, seed: 3 }).forward(scores, labels, shape);
    expect(r.margins).toBe(r.hingeArguments);
    for (let step = 0; step < 5; step++) expect(r.margins).toBe(r.hingeArguments);
    await settled();
    const w = renamed('LossResult.margins');
    expect(w).toHaveLength(1);
    expect(w[0]!.name).toBe('DeprecationWarning');
    expect(w[0]!.message).toContain('use hingeArguments');
  });
});

describe('ImbalNoisedTopK.classMargins (was margins)', () => {
  it('array form: the LDAM margins of the classes; margins is the same array', async () => {
    const crit = new ImbalNoisedTopK({ k: 2, maxM: 0.3, clsNumList: counts, seed: 0 });
    expect(crit.classMargins).toEqual(ldamMargins(counts, 0.3));
    expect(crit.margins).toBe(crit.classMargins);
    expect(crit.margins).toBe(crit.classMargins);
    await settled();
    expect(renamed('ImbalNoisedTopK.margins')).toHaveLength(1);
    expect(renamed('ImbalNoisedTopK.margins')[0]!.message).toContain('use classMargins');
  });

  it('tfjs form: the same margins under the same names, and the loss uses them', () => {
    const crit = new tfb.ImbalNoisedTopK({ k: 2, maxM: 0.3, clsNumList: counts, seed: 5, scale: 10 });
    expect(crit.classMargins).toEqual(ldamMargins(counts, 0.3));
    expect(crit.margins).toBe(crit.classMargins);
    const loss = crit.apply(tf.tensor2d(scores, shape), tf.tensor1d(labels, 'int32'));
    const want = functional.imbalNoisedTopKLoss(scores, labels, shape, {
      k: 2,
      seed: 5,
      offset: 0,
      margins: crit.classMargins,
      scale: 10,
    });
    expect(loss.dataSync()[0]).toBe(want.loss);
  });
});

// Issue 19: names by one rule (docs/api.md, Conventions). Each old name stays one release as a
// deprecated alias that warns once.
describe('issue 19 renames: indices, rowLosses, gradOutput, clsNumList', () => {
  it('NoisedTopKResult.indices (was positions); the outputs option indices (was positions)', async () => {
    const x = Float32Array.from({ length: 12 }, (_, i) => Math.cos(i));
    const op = new NoisedTopK({ k: 2, nSample: 3, seed: 1 });
    const r = op.forward(x, [2, 6]);
    expect(r.indices).toBeInstanceOf(Int32Array);
    expect(r.positions).toBe(r.indices);
    expect(r.positions).toBe(r.indices);
    const into = new Int32Array(6);
    const f = functional.noisedTopK(x, [2, 6], { k: 2, nSample: 3, seed: 1, offset: 0, positions: into });
    expect(f.indices).toBe(into);
    expect(functional.noisedTopK(x, [2, 6], { k: 2, nSample: 3, seed: 1, offset: 0, indices: into }).indices).toBe(
      into,
    );
    expect(() =>
      functional.noisedTopK(x, [2, 6], { k: 2, nSample: 3, seed: 1, offset: 0, indices: into, positions: into }),
    ).toThrow(new TypeError('options.positions is the deprecated name of options.indices: give one of them'));
    await settled();
    expect(renamed('NoisedTopKResult.positions')).toHaveLength(1);
    expect(renamed("option 'positions'")).toHaveLength(1);
  });

  it('LossResult.rowLosses (was losses), like the classic losses and the SVM', async () => {
    const r = new BalNoisedTopK({ k: 2, seed: 3, reduction: 'none' }).forward(scores, labels, shape);
    expect(r.rowLosses).toHaveLength(2);
    expect(r.losses).toBe(r.rowLosses);
    await settled();
    expect(renamed('LossResult.losses')).toHaveLength(1);
  });

  it('every result has backward(gradOutput?, out?): topk and perturbedTopK default to ones', () => {
    const t = topk(scores, shape, { k: 2 });
    expect(Array.from(t.backward())).toEqual(Array.from(t.backward(new Float32Array(4).fill(1))));
    expect(() => t.backward(new Float32Array(1))).toThrow(/^gradOutput has length 1, expected 4/);
    const p = perturbedTopK(scores, shape, { k: 2, nSample: 4, seed: 1, offset: 0 });
    expect(Array.from(p.backward())).toEqual(Array.from(p.backward(new Float32Array(8).fill(1))));
  });

  it('rareClassTopKAccuracy takes clsNumList (was classCounts)', async () => {
    const a = rareClassTopKAccuracy(scores, labels, shape, 1, { clsNumList: [500, 300, 8, 2] });
    expect(rareClassTopKAccuracy(scores, labels, shape, 1, { classCounts: [500, 300, 8, 2] })).toBe(a);
    await settled();
    expect(renamed("option 'classCounts'")).toHaveLength(1);
  });

  it('the tfjs ImbalNoisedTopK names clsNumList when its length does not match the scores', () => {
    const crit = new tfb.ImbalNoisedTopK({ k: 1, maxM: 0.3, clsNumList: [10, 5, 2], seed: 0 });
    expect(() => crit.apply(tf.tensor2d(scores, shape), tf.tensor1d(labels, 'int32'))).toThrow(
      new RangeError('clsNumList has 3 classes, expected 4 (scores has shape [2, 4])'),
    );
  });

  it('internals are not exported: NoisedModule, NoiseStream', async () => {
    const index = await import('../lib/index.js');
    expect('NoisedModule' in index).toBe(false);
    expect('NoiseStream' in index).toBe(false);
  });
});
