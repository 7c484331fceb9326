// One training run: the same model, data order and schedule for every loss; the epoch with the
// best validation macro top-k is kept and evaluated once on the test set.
import {
  macroTopKAccuracy,
  perClassTopKAccuracy,
  rareClassTopKAccuracy,
  topKAccuracy,
  type BackendOption,
} from 'noised-topk';
import type { DemoData, Split } from './dataset.js';
import { LOSSES, type LossName } from './losses.js';
import { Mlp, withNormalizedLastLayer } from './model.js';
import { Rng } from './rng.js';

export interface TrainOptions {
  epochs: number;
  k: number;
  seed: number;
  hidden?: number;
  batchSize?: number;
  momentum?: number;
  weightDecay?: number;
  /** Overrides the loss's base learning rate. */
  lr?: number;
  /** Backend of the top-k losses' kernels (default 'auto'). */
  backend?: BackendOption;
  /** The normalized last layer for every loss (pytopk's --normalize-ll; see model.ts). */
  normalizeLastLayer?: boolean;
  /** Called after each epoch. */
  onEpoch?: (epoch: number, info: { trainLoss: number; valMacro: number; best: number }) => void;
}

/** Classes with fewer training examples than this are "few-shot". */
export const FEW_SHOT_BELOW = 20;

export interface Evaluation {
  top1: number;
  topk: number;
  macroTopk: number;
  fewShotTopk: number;
  perClassTopk: Float64Array;
}

export interface RunResult {
  loss: LossName;
  label: string;
  bestEpoch: number;
  valMacroTopk: number;
  test: Evaluation;
  seconds: number;
  trainLoss: number[];
}

export function scoresOf(model: Mlp, split: Split, batch = 512): Float32Array {
  const C = model.shape.classes;
  const F = model.shape.features;
  const out = new Float32Array(split.n * C);
  for (let i = 0; i < split.n; i += batch) {
    const m = Math.min(batch, split.n - i);
    out.set(model.forward(split.x.subarray(i * F, (i + m) * F), m), i * C);
  }
  return out;
}

export function evaluate(model: Mlp, split: Split, k: number, trainCounts: number[]): Evaluation {
  const C = model.shape.classes;
  const s = scoresOf(model, split);
  const shape: [number, number] = [split.n, C];
  return {
    top1: topKAccuracy(s, split.y, shape, 1),
    topk: topKAccuracy(s, split.y, shape, k),
    macroTopk: macroTopKAccuracy(s, split.y, shape, k),
    fewShotTopk: rareClassTopKAccuracy(s, split.y, shape, k, { classCounts: trainCounts, below: FEW_SHOT_BELOW }),
    perClassTopk: perClassTopKAccuracy(s, split.y, shape, k),
  };
}

export function trainRun(data: DemoData, name: LossName, o: TrainOptions): RunResult {
  const started = performance.now();
  const spec = LOSSES[name];
  const F = data.features;
  const C = data.classes;
  const batchSize = o.batchSize ?? 32;
  const momentum = o.momentum ?? 0.9;
  const weightDecay = o.weightDecay ?? 1e-4;
  const baseLr = o.lr ?? spec.lr;
  const model = new Mlp(
    withNormalizedLastLayer(
      { features: F, hidden: o.hidden ?? 64, classes: C, cosine: spec.cosine },
      o.normalizeLastLayer,
    ),
    o.seed,
  );
  const lossFn = spec.make(data.trainCounts, o.k, o.seed, o.backend);
  const order = Int32Array.from({ length: data.train.n }, (_, i) => i);
  const orderRng = new Rng(o.seed, 200);
  const xb = new Float32Array(batchSize * F);
  const yb = new Int32Array(batchSize);

  let best = -Infinity;
  let bestEpoch = 0;
  let bestParams = model.snapshot();
  const trainLoss: number[] = [];
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    // Step schedule: the rate drops tenfold for the last fifth of the epochs.
    const lr = epoch > Math.ceil(0.8 * o.epochs) ? baseLr / 10 : baseLr;
    orderRng.shuffle(order);
    let sum = 0;
    let batches = 0;
    for (let start = 0; start < data.train.n; start += batchSize) {
      const m = Math.min(batchSize, data.train.n - start);
      for (let i = 0; i < m; i++) {
        const row = order[start + i]!;
        xb.set(data.train.x.subarray(row * F, (row + 1) * F), i * F);
        yb[i] = data.train.y[row]!;
      }
      const x = xb.subarray(0, m * F);
      const y = yb.subarray(0, m);
      const scores = model.forward(x, m);
      const r = lossFn(scores, y, [m, C]);
      model.backward(r.backward());
      model.step(lr, momentum, weightDecay);
      sum += r.loss;
      batches++;
    }
    trainLoss.push(sum / batches);
    const valMacro = macroTopKAccuracy(scoresOf(model, data.val), data.val.y, [data.val.n, C], o.k);
    if (valMacro > best) {
      best = valMacro;
      bestEpoch = epoch;
      bestParams = model.snapshot();
    }
    o.onEpoch?.(epoch, { trainLoss: sum / batches, valMacro, best });
  }
  model.restore(bestParams);
  const test = evaluate(model, data.test, o.k, data.trainCounts);
  return {
    loss: name,
    label: spec.label,
    bestEpoch,
    valMacroTopk: best,
    test,
    seconds: (performance.now() - started) / 1000,
    trainLoss,
  };
}
