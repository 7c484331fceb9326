// The TypeScript examples of README.md and docs/*.md run as written (imports of 'noised-topk'
// point at lib/), and what their text claims holds: shapes, row sums, non-zero gradients, a
// loss that goes down. Each block's top-level consts are read back after it ran.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoisedTopK } from '../lib/index.js';
import { NORMAL_BOUND } from '../lib/stream.js';
import { here, root } from './helpers.js';

const files = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const blocks = files.flatMap((file) =>
  [...readFileSync(join(root, file), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m, i) => ({
    name: `${file} block ${i}`,
    code: m[1]!,
  })),
);
const dir = mkdtempSync(join(here, '.readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// TensorFlow.js prints a hint about tfjs-node on first use; tests have no use for it.
beforeAll(() => {
  tf.env().set('IS_TEST', true);
});

type Scope = Record<string, unknown>;

async function runBlock(name: string, code: string): Promise<Scope> {
  const lib = join(root, 'lib');
  const source = code.replace(
    /from 'noised-topk(\/[\w-]+)?'/g,
    (_m, sub: string | undefined) => `from '${lib}/${sub ? sub.slice(1) : 'index'}.js'`,
  );
  const names = [...source.matchAll(/^const (\w+)/gm)].map((m) => m[1]!);
  const file = join(dir, `${name.replace(/\W+/g, '-')}.ts`);
  writeFileSync(file, `${source}\nexport const __scope = { ${names.join(', ')} };\n`);
  return ((await import(file)) as { __scope: Scope }).__scope;
}

const rowSums = (a: ArrayLike<number>, cols: number) =>
  Array.from({ length: a.length / cols }, (_, r) =>
    Array.from(a)
      .slice(r * cols, (r + 1) * cols)
      .reduce((s, v) => s + v, 0),
  );

/** The claims each example makes, keyed by the names it defines. */
const claims: [string[], (s: Scope) => void][] = [
  [
    ['op', 'out', 'dx'],
    (s) => {
      const out = s.out as { values: Float32Array; shape: number[]; standardError: Float32Array };
      const dx = s.dx as Float32Array;
      expect(out.shape).toEqual([2]);
      // The Quickstart's comment states what it prints, the standard errors and the mean over the
      // noise: read them from the README and check each (seed 0 prints alike on every backend).
      const quick = readFileSync(join(root, 'README.md'), 'utf8');
      const stated = (re: RegExp) => (quick.match(re)?.[1] ?? '').split(', ');
      const printed = stated(/out\.values: Float32Array \[2\], prints \[([^\]]+)\]/);
      expect(Array.from(out.values, (v) => v.toFixed(3))).toEqual(printed);
      const se = stated(/out\.standardError is about \[([^\]]+)\]/);
      expect(Array.from(out.standardError, (v) => v.toFixed(2))).toEqual(se);
      // 200000 draws put the estimate within 0.01 of the mean (standard error about 0.002,
      // measured by the result itself).
      const mean = stated(/mean over the noise is about \[([^\]]+)\]/).map(Number);
      expect(mean).toHaveLength(2);
      const big = new NoisedTopK({ k: 3, epsilon: 1.0, nSample: 200_000, seed: 1 }).forward(
        new Float32Array([-1.5, 2.0, 0.7, 3.8, -1.1, -5.4, 0.1, 2.3]),
        [2, 4],
      );
      for (const [r, m] of mean.entries()) {
        expect(big.standardError[r]!).toBeLessThan(0.003);
        expect(Math.abs(big.values[r]! - m)).toBeLessThan(0.01);
      }
      // and it is within epsilon * the noise bound of the hard 3rd largest values
      for (const [r, h] of [0.7, -1.1].entries())
        expect(Math.abs(out.values[r]! - h)).toBeLessThanOrEqual(1.0 * NORMAL_BOUND);
      expect(dx).toHaveLength(8);
      for (const sum of rowSums(dx, 4)) expect(sum).toBeCloseTo(1, 6);
    },
  ],
  [
    ['scores', 'labels', 'bal', 'r', 'dScores', 'dScores2'],
    (s) => {
      const r = s.r as { loss: number };
      const d = s.dScores as Float32Array;
      expect(r.loss).toBeGreaterThan(0);
      expect(Array.from(d.subarray(0, 5))).toEqual([0, 0, 0, 0, 0]);
      expect(d[7]).toBe(-0.5); // -1/B at the label of row 1
      expect(Array.from(d.subarray(5)).filter((v) => v > 0).length).toBeGreaterThan(0);
      expect(rowSums(d, 5)[1]).toBeCloseTo(0, 6);
      const d2 = s.dScores2 as Float32Array;
      expect(Array.from(d2.subarray(0, 5))).toEqual([0, 0, 0, 0, 0]);
      expect(Array.from(d2.subarray(5))).toEqual([0, 0, -25, 0, 25]);
    },
  ],
  [
    ['x', 'top3', 'dx', 'losses'],
    (s) => {
      const dx = s.dx as tf.Tensor;
      expect(dx.shape).toEqual([2, 4]);
      for (const sum of rowSums(dx.dataSync(), 4)) expect(sum).toBeCloseTo(1, 6);
      const losses = s.losses as number[];
      expect(losses).toHaveLength(10);
      for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThan(losses[i - 1]!);
      expect(losses[0]).toBeCloseTo(107.5, 1);
      expect(losses[9]).toBeCloseTo(7.5, 1);
    },
  ],
  [
    ['v', 'hard', 'dv', 'soft', 'dMask'],
    (s) => {
      const hard = s.hard as { values: Float32Array; indices: Int32Array; shape: number[] };
      expect(Array.from(hard.values)).toEqual([3, 3, 7, 3]);
      expect(Array.from(hard.indices)).toEqual([1, 2, 2, 1]);
      expect(hard.shape).toEqual([2, 2]);
      expect(Array.from(s.dv as Float32Array)).toEqual([0, 1, 2, 0, 0, 4, 3, 0]);
      const mask = (s.soft as { mask: Float32Array }).mask;
      expect(mask).toHaveLength(8);
      for (const sum of rowSums(mask, 4)) expect(sum).toBeCloseTo(2, 5);
      // the tied 3s of row 0 each get a large, similar share; row 1's 7 is (nearly) always in
      expect(mask[1]!).toBeGreaterThan(0.6);
      expect(mask[2]!).toBeGreaterThan(0.6);
      expect(mask[6]!).toBeGreaterThan(0.99);
      const dMask = s.dMask as Float32Array;
      expect(dMask).toHaveLength(8);
      expect(dMask[1]!).toBeGreaterThan(0);
      expect(dMask[0]!).toBeLessThan(0);
    },
  ],
  [
    ['top1', 'top2', 'perClass', 'macro', 'rare', 'ce'],
    (s) => {
      expect(s.top1).toBe(0.5);
      expect(s.top2).toBe(1);
      expect(Array.from(s.perClass as ArrayLike<number>)).toEqual([1, NaN, 0, NaN]);
      expect(s.macro).toBe(0.5);
      expect(s.rare).toBe(0);
      const ce = s.ce as { loss: number; backward(): Float32Array };
      for (const sum of rowSums(ce.backward(), 4)) expect(sum).toBeCloseTo(0, 6);
    },
  ],
];

// docs/api.md, Monte-Carlo error: the per-sample values, the error's fall with nSample, the loss's error.
claims.push([
  ['few', 'seFew', 'many', 'seMany', 'ci', 'lossResult', 'lossSe'],
  (s) => {
    // The interval: values +- t(39, 0.975) * standardError, t = 2.0227 (scipy.stats.t.ppf).
    const many = s.many as { values: Float32Array };
    const ci = s.ci as { lower: Float64Array; upper: Float64Array };
    for (let r = 0; r < 4; r++) {
      const half = (ci.upper[r]! - ci.lower[r]!) / 2;
      expect(half / (s.seMany as Float32Array)[r]!).toBeCloseTo(2.022690920036761, 9);
      expect((ci.upper[r]! + ci.lower[r]!) / 2).toBeCloseTo(many.values[r]!, 6);
    }
    const few = s.few as { values: Float32Array; sampleValues: Float32Array };
    const seFew = s.seFew as Float32Array;
    const seMany = s.seMany as Float32Array;
    expect(few.sampleValues).toHaveLength(40);
    expect(seFew).toHaveLength(4);
    // 4x the samples: the error ratio is 1/2 up to the sampling of two standard deviations
    const ratio = Array.from(seMany).reduce((a, v, i) => a + v / seFew[i]!, 0) / 4;
    expect(ratio).toBeGreaterThan(0.3);
    expect(ratio).toBeLessThan(0.8);
    expect(typeof s.lossSe).toBe('number');
    expect(s.lossSe as number).toBeGreaterThan(0);
    expect((s.lossResult as { loss: number }).loss).toBeGreaterThan(0);
  },
]);

describe('README and docs examples', () => {
  it('has TypeScript examples in the README', () =>
    expect(blocks.filter((b) => b.name.startsWith('README')).length).toBeGreaterThanOrEqual(3));

  it.each(blocks.map((b) => [b.name, b.code] as const))('%s runs, and what its text says holds', async (name, code) => {
    const scope = await runBlock(name, code);
    for (const [names, check] of claims) if (names.every((n) => n in scope)) check(scope);
  });

  it('every README example is checked for what it claims', async () => {
    for (const b of blocks.filter((x) => x.name.startsWith('README'))) {
      const names = [...b.code.matchAll(/^const (\w+)/gm)].map((m) => m[1]!);
      expect(
        claims.some(([need]) => need.every((n) => names.includes(n))),
        b.name,
      ).toBe(true);
    }
  });
});
