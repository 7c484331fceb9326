// Issue 9, loss conventions from PyTorch: reduction ('mean' | 'sum' | 'none'), a per-class
// weight and ignoreIndex, on both losses, both backends and the tfjs ops. Every golden loss
// case (pytopk's explicit noise) is recomputed here by an independent float64 reference:
// the (k+1)-th largest of the float32 perturbed scores per sample (ties: lower column), its
// mean, the hinge, the weights and the reduction, and the gradient
// d/ds[r, c] = f_r * (count_r(c) / S - [c = y_r]) with f_r the row's factor.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalNoisedTopK, functional, ImbalNoisedTopK, ldamMargins } from '../lib/index.js';
import type { Reduction } from '../lib/losses.js';
import * as tfb from '../lib/tfjs.js';
import { goldenCases, mulberry32, testedBackends, type GoldenCase } from './helpers.js';
import { setupTf } from './tfjs-helpers.js';

const fr = Math.fround;
const lossCases = goldenCases().filter(({ c }) => c.kind !== 'noised_topk');

interface Reference {
  /** Per-row hinge relu(t), in float64. */
  l: number[];
  /** Per-row hinge argument t. */
  t: number[];
  /** Per-row, per-column selection counts over the samples. */
  counts: number[][];
  scale: number;
}

/** The golden case's per-row hinge and selection counts, in float64 from its scores and noise. */
function reference(c: GoldenCase): Reference {
  const [B, D] = c.shape as [number, number];
  const S = c.n_sample;
  const s = c.scores!.map(fr);
  const eps = fr(c.epsilon);
  const margins = c.kind === 'imbal_loss' ? ldamMargins(c.cls_num_list!, c.max_m!) : null;
  const scale = c.kind === 'imbal_loss' ? c.scale! : 1;
  const l: number[] = [];
  const t: number[] = [];
  const counts: number[][] = [];
  for (let r = 0; r < B; r++) {
    const cnt = new Array<number>(D).fill(0);
    let top = 0;
    for (let q = 0; q < S; q++) {
      // the perturbed score is defined in float32, as pytopk computes it
      const y = Array.from({ length: D }, (_, col) => fr(s[r * D + col]! + fr(eps * fr(c.Z[(r * D + col) * S + q]!))));
      const order = y.map((_, col) => col).sort((a, b) => y[b]! - y[a]! || a - b);
      const col = order[c.k]!; // the (k+1)-th largest
      cnt[col]!++;
      top += y[col]!;
    }
    top /= S;
    const label = c.labels![r]!;
    const arg = margins ? scale * (margins[label]! + top - s[r * D + label]!) : 1 + top - s[r * D + label]!;
    t.push(arg);
    l.push(Math.max(arg, 0));
    counts.push(cnt);
  }
  return { l, t, counts, scale };
}

interface Conventions {
  reduction?: Reduction;
  weight?: Float32Array;
  ignoreIndex?: number;
}

/** Expected loss value(s) and gradient for one set of conventions, in float64. */
function expected(c: GoldenCase, ref: Reference, labels: number[], conv: Conventions, gradLoss: number | Float32Array) {
  const [B, D] = c.shape as [number, number];
  const S = c.n_sample;
  const kept = labels.map((y) => y !== conv.ignoreIndex);
  const w = labels.map((y, r) => (!kept[r] ? 0 : conv.weight ? conv.weight[y]! : 1));
  const perRow = ref.l.map((l, r) => (kept[r] ? w[r]! * l : 0));
  const total = perRow.reduce((a, b) => a + b, 0);
  const W = w.reduce((a, b) => a + b, 0);
  const reduction = conv.reduction ?? 'mean';
  const loss = reduction === 'mean' ? total / W : reduction === 'sum' ? total : null;
  const grad = new Float64Array(B * D);
  for (let r = 0; r < B; r++) {
    if (!kept[r] || !(ref.t[r]! > 0)) continue;
    const upstream = typeof gradLoss === 'number' ? gradLoss : gradLoss[r]!;
    const f = (reduction === 'mean' ? (upstream * w[r]!) / W : upstream * w[r]!) * ref.scale;
    for (let col = 0; col < D; col++) grad[r * D + col] = f * (ref.counts[r]![col]! / S - (col === labels[r] ? 1 : 0));
  }
  return { loss, perRow, grad };
}

/** |a - b| within float32 rounding of the terms (the hinge subtracts numbers of the size of the scores). */
function close(a: number, b: number, size: number): boolean {
  if (Number.isNaN(b)) return Number.isNaN(a); // a mean over zero total weight
  return Math.abs(a - b) <= 2e-6 * (Math.abs(b) + size);
}

function expectClose(actual: ArrayLike<number>, want: ArrayLike<number>, size: number, what: string): void {
  expect(actual.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!close(actual[i]!, want[i]!, size))
      expect.fail(`${what}[${i}] = ${actual[i]} but the float64 reference gives ${want[i]}`);
  }
}

function run(c: GoldenCase, backend: 'js' | 'cpu', labels: number[], conv: Conventions) {
  const [B, D] = c.shape as [number, number];
  const scores = new Float32Array(c.scores!);
  const noise = new Float32Array(c.Z);
  const base = { k: c.k, epsilon: c.epsilon, noise, backend, ...conv };
  return c.kind === 'bal_loss'
    ? functional.balNoisedTopKLoss<Reduction>(scores, labels, [B, D], base)
    : functional.imbalNoisedTopKLoss<Reduction>(scores, labels, [B, D], {
        ...base,
        margins: ldamMargins(c.cls_num_list!, c.max_m!),
        scale: c.scale!,
      });
}

/** Size of the terms of a case's hinge (for the tolerance): scale times the largest |score| + 1. */
const sizeOf = (c: GoldenCase, ref: Reference) => ref.scale * (1 + Math.max(...c.scores!.map(Math.abs)));

describe.each(testedBackends())('reduction, weight and ignoreIndex on the golden loss cases (%s)', (backend) => {
  it.each(
    lossCases.map(
      ({ file, index, c }) => [`${file}#${index} ${c.kind} [${c.shape}] k=${c.k} S=${c.n_sample}`, c] as const,
    ),
  )('%s', (_name, c) => {
    const [B, D] = c.shape as [number, number];
    const ref = reference(c);
    const size = sizeOf(c, ref);
    const labels = c.labels!.slice();
    const rand = mulberry32(B * 131 + D);

    // mean (the default) is what it always was: pytopk's loss
    const mean = run(c, backend, labels, {});
    expect(close(mean.loss!, c.loss!, size)).toBe(true);

    // 'none': the per-row hinge, bit for bit relu(hingeArguments); 'sum': their float64 sum in row
    // order, rounded once to float32 (docs/determinism.md)
    const none = run(c, backend, labels, { reduction: 'none' });
    expect(none.loss).toBeNull();
    expect(Array.from(none.rowLosses)).toEqual(Array.from(mean.hingeArguments, (t) => (t > 0 ? t : 0)));
    expectClose(none.rowLosses, ref.l, size, 'none');
    const sum = run(c, backend, labels, { reduction: 'sum' });
    let f64sum = 0;
    for (const t of mean.hingeArguments) f64sum += t > 0 ? t : 0;
    expect(sum.loss).toBe(fr(f64sum));
    expectClose([sum.loss!], [ref.l.reduce((a, b) => a + b, 0)], size * B, 'sum');

    // gradients of each reduction against the reference
    const rowGrad = Float32Array.from({ length: B }, () => fr(rand() * 2 - 1));
    expectClose(mean.backward(0.75), expected(c, ref, labels, {}, 0.75).grad, 1e-3, 'mean grad');
    expectClose(sum.backward(), expected(c, ref, labels, { reduction: 'sum' }, 1).grad, 1e-3, 'sum grad');
    expectClose(
      none.backward(rowGrad),
      expected(c, ref, labels, { reduction: 'none' }, rowGrad).grad,
      1e-3,
      'none grad',
    );

    // a per-class weight (one class weighing 0) on every reduction
    const weight = Float32Array.from({ length: D }, (_, j) => (j === labels[0] ? 0 : fr(0.25 + 2 * rand())));
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const conv = { reduction, weight };
      const r = run(c, backend, labels, conv);
      const want = expected(c, ref, labels, conv, reduction === 'none' ? rowGrad : 1.5);
      if (reduction === 'none') expect(r.loss).toBeNull();
      else expectClose([r.loss!], [want.loss!], size * B, `${reduction} weighted loss`);
      expectClose(r.rowLosses, want.perRow, size * 3, `${reduction} weighted losses`);
      const g = reduction === 'none' ? r.backward(rowGrad) : r.backward(1.5);
      expectClose(g, want.grad, 1e-3 * ref.scale * 3, `${reduction} weighted grad`);
    }

    // ignoreIndex: a label outside [0, D) marks its row; an in-range ignoreIndex drops that class
    const ignored = labels.slice();
    ignored[B - 1] = -100;
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const conv = { reduction, ignoreIndex: -100 };
      const r = run(c, backend, ignored, conv);
      const want = expected(c, ref, ignored, conv, reduction === 'none' ? rowGrad : 1);
      if (reduction !== 'none') expectClose([r.loss!], [want.loss!], size * B, `${reduction} ignored loss`);
      expect(r.rowLosses[B - 1]).toBe(0);
      expect(r.hingeArguments[B - 1]).toBeNaN();
      const g = reduction === 'none' ? r.backward(rowGrad) : r.backward();
      expectClose(g, want.grad, 1e-3 * ref.scale, `${reduction} ignored grad`);
      for (let col = 0; col < D; col++) expect(g[(B - 1) * D + col]).toBe(0);
    }
    const dropClass = labels[0]!;
    const conv = { ignoreIndex: dropClass, weight };
    const r = run(c, backend, labels, conv);
    const want = expected(c, ref, labels, conv, 1);
    if (Number.isNaN(want.loss!)) expect(r.loss).toBeNaN();
    else expectClose([r.loss!], [want.loss!], size * B, 'ignoreIndex + weight');
  });
});

describe('bit identity and edge cases of the conventions', () => {
  const B = 5;
  const D = 4;
  const rand = mulberry32(99);
  const scores = Float32Array.from({ length: B * D }, () => fr(rand() * 4 - 2));
  const labels = [0, 3, -1, 2, 3];
  const weight = Float32Array.of(0.5, 1, 2, 0.25);

  it("'js' and 'cpu' agree bit for bit on every reduction with weight and ignoreIndex, sync and async", async () => {
    if (!testedBackends().includes('cpu')) return;
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const opts = { k: 2, epsilon: 0.5, nSample: 3, seed: 7, reduction, weight, ignoreIndex: -1 };
      const js = new ImbalNoisedTopK<Reduction>({
        ...opts,
        maxM: 0.4,
        clsNumList: [40, 10, 5, 2],
        scale: 10,
        backend: 'js',
      }).forward(scores, labels, [B, D]);
      const cpu = await new ImbalNoisedTopK<Reduction>({
        ...opts,
        maxM: 0.4,
        clsNumList: [40, 10, 5, 2],
        scale: 10,
        backend: 'cpu',
      }).forwardAsync(scores, labels, [B, D]);
      expect(cpu.loss).toEqual(js.loss);
      expect(Array.from(cpu.rowLosses)).toEqual(Array.from(js.rowLosses));
      const up = reduction === 'none' ? Float32Array.of(1, -2, 3, 0.5, 1) : 0.5;
      expect(Array.from(await cpu.backwardAsync(up as never))).toEqual(Array.from(js.backward(up as never)));
    }
  });

  it('mean over rows that are all ignored, or weigh 0 in total, is NaN (as torch); its gradient has no NaN where rows are ignored', () => {
    const r = functional.balNoisedTopKLoss(scores, [-1, -1, -1, -1, -1], [B, D], {
      k: 1,
      seed: 0,
      offset: 0,
      ignoreIndex: -1,
    });
    expect(r.loss).toBeNaN();
    expect(Array.from(r.backward()).every((g) => g === 0)).toBe(true);
    const s = functional.balNoisedTopKLoss(scores, [0, 1, 2, 3, 0], [B, D], {
      k: 1,
      seed: 0,
      offset: 0,
      reduction: 'sum',
      ignoreIndex: 0,
      weight: Float32Array.of(1, 0, 0, 0),
    });
    expect(s.loss).toBe(0);
  });

  it('refuses bad conventions with the parameter, the expected and the got', () => {
    const f =
      (o: Record<string, unknown>, ls: unknown = [0, 1, 2, 3, 0]) =>
      () =>
        functional.balNoisedTopKLoss(scores, ls as number[], [B, D], { k: 1, seed: 0, offset: 0, ...o });
    expect(f({ reduction: 'avg' })).toThrow(new RangeError(`reduction must be 'mean', 'sum' or 'none', got "avg"`));
    expect(f({ reduction: 1 })).toThrow(TypeError);
    // weight is a small per-class list: any numeric array-like (docs/api.md, Conventions)
    expect(f({ weight: [1, 2, 0.5, 1] })().loss).toBe(f({ weight: Float32Array.of(1, 2, 0.5, 1) })().loss);
    expect(f({ weight: [1, '2', 1, 1] })).toThrow(new TypeError('weight[1] must be a number, got "2"'));
    expect(f({ weight: 3 })).toThrow(/^weight must be a Float32Array or an array of per-class weights, got 3/);
    expect(f({ weight: new Float32Array(3) })).toThrow(/^weight has length 3, expected 4 \(one per class/);
    expect(f({ weight: Float32Array.of(1, -1, 1, 1) })).toThrow(/^weight\[1\] must be a finite number >= 0, got -1/);
    expect(f({ weight: Float32Array.of(1, NaN, 1, 1) })).toThrow(/^weight\[1\] must be a finite number >= 0, got NaN/);
    expect(f({ weight: Float32Array.of(1, 1, Infinity, 1) })).toThrow(RangeError);
    expect(f({ ignoreIndex: 1.5 })).toThrow(/^ignoreIndex must be an integer in \[-2147483648, 2147483647\], got 1.5/);
    expect(f({ ignoreIndex: '0' })).toThrow(TypeError);
    expect(f({}, [0, 1, -100, 3, 0])).toThrow(/^labels\[2\] must be an integer in \[0, 3\], got -100/);
    expect(f({ ignoreIndex: -1 }, [0, 1, -100, 3, 0])).toThrow(
      /^labels\[2\] must be an integer in \[0, 3\] or ignoreIndex \(-1\), got -100/,
    );
    const none = functional.balNoisedTopKLoss(scores, [0, 1, 2, 3, 0], [B, D], {
      k: 1,
      seed: 0,
      offset: 0,
      reduction: 'none',
    });
    expect(() => none.backward(1 as never)).toThrow(/^gradOutput must be a Float32Array, got 1/);
    expect(() => none.backward(new Float32Array(4))).toThrow(/^gradOutput has length 4, expected 5 \(one per row\)/);
    expect(() => none.backward(Float32Array.of(1, 1, NaN, 1, 1))).toThrow(/^gradOutput\[2\] must be finite, got NaN/);
    const mean = functional.balNoisedTopKLoss(scores, [0, 1, 2, 3, 0], [B, D], { k: 1, seed: 0, offset: 0 });
    expect(() => mean.backward(new Float32Array(5) as never)).toThrow(
      /^gradOutput must be a number \(reduction 'mean'\)/,
    );
    expect(() => new ImbalNoisedTopK({ k: 1, maxM: 0.3, clsNumList: [1, 2, 3], weight: new Float32Array(4) })).toThrow(
      /^weight has length 4, expected 3 \(one per class of clsNumList\)/,
    );
  });

  it('a module copies its weight: changing the caller array later changes nothing', () => {
    const w = Float32Array.of(1, 2, 1, 3);
    const crit = new BalNoisedTopK({ k: 1, seed: 3, weight: w, reduction: 'sum' });
    w.fill(0);
    const got = crit.forward(scores, [0, 1, 2, 3, 0], [B, D]).loss;
    const want = new BalNoisedTopK({ k: 1, seed: 3, weight: Float32Array.of(1, 2, 1, 3), reduction: 'sum' }).forward(
      scores,
      [0, 1, 2, 3, 0],
      [B, D],
    ).loss;
    expect(want).toBeGreaterThan(0);
    expect(got).toBe(want);
    expect(Array.from(crit.weight!)).toEqual([1, 2, 1, 3]);
  });

  it('an empty batch gives an empty answer: none [] / sum 0 / mean NaN, and an empty gradient', () => {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const r = functional.balNoisedTopKLoss<Reduction>(new Float32Array(0), [], [0, 4], {
        k: 1,
        seed: 0,
        offset: 0,
        reduction,
      });
      expect(r.rowLosses.length).toBe(0);
      expect(r.loss).toEqual(reduction === 'mean' ? NaN : reduction === 'sum' ? 0 : null);
      expect(r.backward(reduction === 'none' ? (new Float32Array(0) as never) : (1 as never)).length).toBe(0);
    }
  });
});

describe('the conventions on the tfjs ops: values and gradients flow', () => {
  beforeAll(setupTf);
  const B = 4;
  const D = 5;
  const rand = mulberry32(5);
  const scores = Float32Array.from({ length: B * D }, () => fr(rand() * 4 - 2));
  const labelArr = Int32Array.of(1, -100, 4, 0);
  const weight = Float32Array.of(1, 0.5, 2, 1, 3);
  const margins = ldamMargins([30, 20, 10, 5, 2], 0.3);

  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`reduction '${reduction}' with weight and ignoreIndex: the op equals the array API, gradient included`, () => {
      const conv = { reduction, weight, ignoreIndex: -100 };
      const s = tf.tensor(scores, [B, D]);
      const y = tf.tensor(labelArr, [B], 'int32');
      const dy = reduction === 'none' ? tf.tensor(Float32Array.of(1, 2, -1, 0.5), [B]) : tf.scalar(0.5);
      for (const imbal of [false, true]) {
        const opts = { k: 2, epsilon: 0.5, seed: 3, offset: 1, ...conv };
        const ref = imbal
          ? functional.imbalNoisedTopKLoss<Reduction>(scores, labelArr, [B, D], { ...opts, margins, scale: 20 })
          : functional.balNoisedTopKLoss<Reduction>(scores, labelArr, [B, D], opts);
        const f = (t: tf.Tensor) =>
          imbal
            ? tfb.imbalNoisedTopKLoss<Reduction>(t, y, { ...opts, margins, scale: 20, weight: tf.tensor(weight) })
            : tfb.balNoisedTopKLoss<Reduction>(t, y, opts);
        const out = f(s);
        expect(out.shape).toEqual(reduction === 'none' ? [B] : []);
        expect(Array.from(out.dataSync())).toEqual(reduction === 'none' ? Array.from(ref.rowLosses) : [ref.loss]);
        const g = tf.grad(f)(s, dy);
        const refGrad = ref.backward((reduction === 'none' ? dy.dataSync() : dy.dataSync()[0]) as never);
        expect(Array.from(g.dataSync())).toEqual(Array.from(refGrad));
        expect(refGrad.some((q) => q !== 0)).toBe(true);
      }
    });
  }

  it('module classes take the conventions and check them at construction', () => {
    const crit = new tfb.BalNoisedTopK({ k: 2, seed: 1, reduction: 'none', weight, ignoreIndex: -100 });
    const out = crit.apply(tf.tensor(scores, [B, D]), tf.tensor(labelArr, [B], 'int32'));
    expect(out.shape).toEqual([B]);
    expect(out.dataSync()[1]).toBe(0);
    expect(() => new tfb.BalNoisedTopK({ k: 2, reduction: 'all' as never })).toThrow(RangeError);
    expect(() => new tfb.ImbalNoisedTopK({ k: 2, maxM: 0.3, clsNumList: [1, 2], weight: new Float32Array(3) })).toThrow(
      /^weight has length 3, expected 2/,
    );
  });
});
