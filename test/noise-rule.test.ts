// One noise rule for every functional form and every tfjs op (docs/api.md, Conventions):
// without seed (and without noise) each call draws fresh noise and the result says which seed
// it used; a seed comes with an offset (a seed alone would repeat one draw at every step); an
// offset without a seed is refused. The module forms advance their offset by one per call.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { functional, ldamMargins, perturbedTopK, perturbedTopKAsync } from '../lib/index.js';
import * as tfjs from '../lib/tfjs.js';
import { setupTf } from './tfjs-helpers.js';

beforeAll(setupTf);

const shape = [3, 6];
const x = Float32Array.from({ length: 18 }, (_, i) => Math.sin(i * 1.7) * 2);
const labels = [0, 3, 5];
const margins = ldamMargins([50, 30, 20, 10, 5, 2], 0.5);

type Result = { seed: bigint | null; offset: number | null; bits: number[] };
const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.slice().buffer));

/** Every plain functional form, run with extra options; the result's bits and the seed it reports. */
const plain: [string, (o: Record<string, unknown>) => Promise<Result>][] = [
  [
    'noisedTopK',
    async (o) => {
      const r = functional.noisedTopK(x, shape, { k: 2, ...o });
      return { seed: r.seed, offset: r.offset, bits: bitsOf(r.values) };
    },
  ],
  [
    'noisedTopKAsync',
    async (o) => {
      const r = await functional.noisedTopKAsync(x, shape, { k: 2, ...o });
      return { seed: r.seed, offset: r.offset, bits: bitsOf(r.values) };
    },
  ],
  [
    'balNoisedTopKLoss',
    async (o) => {
      const r = functional.balNoisedTopKLoss(x, labels, shape, { k: 2, reduction: 'none', ...o });
      return { seed: r.seed, offset: r.offset, bits: bitsOf(r.topk) };
    },
  ],
  [
    'balNoisedTopKLossAsync',
    async (o) => {
      const r = await functional.balNoisedTopKLossAsync(x, labels, shape, { k: 2, ...o });
      return { seed: r.seed, offset: r.offset, bits: bitsOf(r.topk) };
    },
  ],
  [
    'imbalNoisedTopKLoss',
    async (o) => {
      const r = functional.imbalNoisedTopKLoss(x, labels, shape, { k: 2, margins, ...o });
      return { seed: r.seed, offset: r.offset, bits: bitsOf(r.topk) };
    },
  ],
  [
    'imbalNoisedTopKLossAsync',
    async (o) => {
      const r = await functional.imbalNoisedTopKLossAsync(x, labels, shape, { k: 2, margins, ...o });
      return { seed: r.seed, offset: r.offset, bits: bitsOf(r.topk) };
    },
  ],
  [
    'perturbedTopK',
    async (o) => {
      const r = perturbedTopK(x, shape, { k: 2, nSample: 3, ...o });
      return { seed: r.seed, offset: r.offset, bits: bitsOf(r.mask) };
    },
  ],
  [
    'perturbedTopKAsync',
    async (o) => {
      const r = await perturbedTopKAsync(x, shape, { k: 2, nSample: 3, ...o });
      return { seed: r.seed, offset: r.offset, bits: bitsOf(r.mask) };
    },
  ],
];

describe.each(plain)('the noise rule: %s', (_name, run) => {
  it('without seed: fresh noise at each call, and the result says which seed (replaying it gives the same bits)', async () => {
    const a = await run({});
    const b = await run({});
    expect(typeof a.seed).toBe('bigint');
    expect(a.offset).toBe(0);
    expect(a.seed).not.toBe(b.seed);
    expect(a.bits).not.toEqual(b.bits);
    expect((await run({ seed: a.seed!, offset: a.offset! })).bits).toEqual(a.bits);
  });

  it('a seed needs an offset; the offset moves the noise; an offset needs a seed', async () => {
    await expect(run({ seed: 7 })).rejects.toThrow(TypeError);
    await expect(run({ seed: 7 })).rejects.toThrow(/options\.seed needs options\.offset/);
    await expect(run({ offset: 3 })).rejects.toThrow(/options\.offset needs options\.seed/);
    const s0 = await run({ seed: 7, offset: 0 });
    const s1 = await run({ seed: 7, offset: 1 });
    expect(s0.seed).toBe(7n);
    expect(s1.offset).toBe(1);
    expect(s1.bits).not.toEqual(s0.bits);
    expect((await run({ seed: 7, offset: 0 })).bits).toEqual(s0.bits);
  });
});

describe('the noise rule on the tfjs ops', () => {
  const t = () => tf.tensor(x, shape);
  const y = () => tf.tensor1d(labels, 'int32');
  const ops: [string, (o: Record<string, unknown>) => tf.Tensor][] = [
    ['noisedTopK', (o) => tfjs.noisedTopK(t(), { k: 2, ...o })],
    ['balNoisedTopKLoss', (o) => tfjs.balNoisedTopKLoss(t(), y(), { k: 2, ...o })],
    ['imbalNoisedTopKLoss', (o) => tfjs.imbalNoisedTopKLoss(t(), y(), { k: 2, margins, ...o })],
    ['perturbedTopK', (o) => tfjs.perturbedTopK(t(), { k: 2, nSample: 3, ...o })],
  ];

  it.each(ops)('%s: fresh noise per call without seed; a seed without offset is refused', (_name, op) => {
    const bits = (o: Record<string, unknown>) => bitsOf(op(o).dataSync() as Float32Array);
    expect(bits({})).not.toEqual(bits({}));
    expect(() => op({ seed: 0 })).toThrow(/options\.seed needs options\.offset/);
    expect(bits({ seed: 0, offset: 4 })).toEqual(bits({ seed: 0, offset: 4 }));
    expect(bits({ seed: 0, offset: 4 })).not.toEqual(bits({ seed: 0, offset: 5 }));
  });

  it("the README's tfjs example, called in a loop, draws new noise at every step", () => {
    const data = tf.tensor2d([
      [-1.5, 2.0, 0.7, 3.8],
      [-1.1, -5.4, 0.1, 2.3],
    ]);
    const top3 = (u: tf.Tensor) => tfjs.noisedTopK(u, { k: 3, epsilon: 1, axis: -1 });
    const steps = Array.from({ length: 3 }, () => bitsOf(top3(data).dataSync() as Float32Array));
    expect(new Set(steps.map((s) => s.join())).size).toBe(3);
  });
});
