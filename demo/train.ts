// One training run: the same model, data order and schedule for every loss; the epoch with the
// best validation macro top-k is kept and evaluated once on the test set. Dense data (the
// synthetic set, --data files) trains the MLP of demo/model.ts; place names train the
// embedding bag of demo/embedding-bag.ts.
import {
  macroTopKAccuracy,
  perClassTopKAccuracy,
  rareClassTopKAccuracy,
  topKAccuracy,
  type BackendOption,
} from 'noised-topk';
import type { DemoData, Split } from './dataset.js';
import { LOSSES, type LossName } from './losses.js';
import { EmbeddingBag } from './embedding-bag.js';
import type { LogitsStage } from './logits-file.js';
import { Mlp, withNormalizedLastLayer, type Model } from './model.js';
import { Rng } from './rng.js';

export interface TrainOptions {
  epochs: number;
  k: number;
  seed: number;
  /** Hidden units of the MLP (dense data; default 64). */
  hidden?: number;
  /** Embedding size of the embedding bag (place names; default 64). */
  dim?: number;
  batchSize?: number;
  momentum?: number;
  weightDecay?: number;
  /** Overrides the loss's base learning rate. */
  lr?: number;
  /**
   * The learning-rate schedule: 'step' divides the rate by 10 for the last fifth of the epochs
   * (the MLP's, the default for dense data); 'linear' decays it to 0 over the steps, fastText's
   * schedule, the default for place names, whose runs have too few epochs for a step.
   */
  schedule?: 'step' | 'linear';
  /** Backend of the top-k losses' kernels (default 'auto'). */
  backend?: BackendOption;
  /** The normalized last layer for every loss (pytopk's --normalize-ll; see model.ts). */
  normalizeLastLayer?: boolean;
  /** Called after each epoch. */
  onEpoch?: (epoch: number, info: { trainLoss: number; valMacro: number; best: number }) => void;
  /**
   * Called with the validation scores of the first `logitsRows` validation rows at four points:
   * after the first step ('first'), after 5% of the steps ('early'), after half of them ('mid'),
   * and for the selected epoch ('selected'). `epoch` counts finished epochs, fractional between.
   */
  onLogits?: (stage: LogitsStage, epoch: number, scores: Float32Array, labels: Int32Array) => void;
  logitsRows?: number;
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

/** Scores [rows, classes] of the first `rows` rows of a split (all by default). */
export function scoresOf(model: Model, split: Split, rows = split.n, batch = 512): Float32Array {
  const C = model.classes;
  const out = new Float32Array(rows * C);
  const ids = new Int32Array(batch);
  for (let i = 0; i < rows; i += batch) {
    const m = Math.min(batch, rows - i);
    for (let j = 0; j < m; j++) ids[j] = i + j;
    out.set(model.forwardRows(split, ids.subarray(0, m)), i * C);
  }
  return out;
}

export function evaluate(model: Model, split: Split, k: number, trainCounts: number[]): Evaluation {
  const C = model.classes;
  const s = scoresOf(model, split);
  const shape: [number, number] = [split.n, C];
  return {
    top1: topKAccuracy(s, split.y, shape, 1),
    topk: topKAccuracy(s, split.y, shape, k),
    macroTopk: macroTopKAccuracy(s, split.y, shape, k),
    fewShotTopk: rareClassTopKAccuracy(s, split.y, shape, k, { clsNumList: trainCounts, below: FEW_SHOT_BELOW }),
    perClassTopk: perClassTopKAccuracy(s, split.y, shape, k),
  };
}

/** The model a dataset trains: the embedding bag for place names, the MLP for dense rows. */
export function makeModel(data: DemoData, cosine: boolean, o: Pick<TrainOptions, 'seed' | 'hidden' | 'dim'>): Model {
  if (data.train.bags)
    return new EmbeddingBag({ buckets: data.features, dim: o.dim ?? 64, classes: data.classes, cosine }, o.seed);
  return new Mlp({ features: data.features, hidden: o.hidden ?? 64, classes: data.classes, cosine }, o.seed);
}

export function trainRun(data: DemoData, name: LossName, o: TrainOptions): RunResult {
  const started = performance.now();
  const spec = LOSSES[name];
  const C = data.classes;
  const batchSize = o.batchSize ?? 32;
  const momentum = o.momentum ?? 0.9;
  const weightDecay = o.weightDecay ?? 1e-4;
  const baseLr = o.lr ?? spec.lr;
  const cosine = withNormalizedLastLayer(
    { features: data.features, hidden: 0, classes: C, cosine: spec.cosine },
    o.normalizeLastLayer,
  ).cosine;
  const model = makeModel(data, cosine, o);
  const schedule = o.schedule ?? (data.train.bags ? 'linear' : 'step');
  const lossFn = spec.make(data.trainCounts, o.k, o.seed, o.backend);
  const order = Int32Array.from({ length: data.train.n }, (_, i) => i);
  const orderRng = new Rng(o.seed, 200);
  const yb = new Int32Array(batchSize);

  // The steps at which the validation logits are handed to onLogits (1-based step numbers).
  const stepsPerEpoch = Math.ceil(data.train.n / batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  const logitsRows = Math.min(o.logitsRows ?? data.val.n, data.val.n);
  // Distinct steps while the run has enough of them; a tiny run writes two stages at one step.
  const early = Math.min(totalSteps, Math.max(2, Math.round(0.05 * totalSteps)));
  const mid = Math.min(totalSteps, Math.max(early + 1, Math.round(0.5 * totalSteps)));
  const logitsAt: [number, LogitsStage][] = o.onLogits
    ? [
        [1, 'first'],
        [early, 'early'],
        [mid, 'mid'],
      ]
    : [];
  const emitLogits = (stage: LogitsStage, epoch: number) =>
    o.onLogits?.(stage, epoch, scoresOf(model, data.val, logitsRows), data.val.y.slice(0, logitsRows));

  let best = -Infinity;
  let bestEpoch = 0;
  let bestParams = model.snapshot();
  const trainLoss: number[] = [];
  let step = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    // Step schedule: the rate drops tenfold for the last fifth of the epochs.
    const epochLr = schedule === 'step' && epoch > Math.ceil(0.8 * o.epochs) ? baseLr / 10 : baseLr;
    orderRng.shuffle(order);
    let sum = 0;
    let batches = 0;
    for (let start = 0; start < data.train.n; start += batchSize) {
      const m = Math.min(batchSize, data.train.n - start);
      const rows = order.subarray(start, start + m);
      for (let i = 0; i < m; i++) yb[i] = data.train.y[rows[i]!]!;
      const scores = model.forwardRows(data.train, rows);
      const r = lossFn(scores, yb.subarray(0, m), [m, C]);
      model.backward(r.backward());
      model.step(schedule === 'linear' ? baseLr * (1 - step / totalSteps) : epochLr, momentum, weightDecay);
      sum += r.loss;
      batches++;
      step++;
      for (const [at, stage] of logitsAt) if (at === step) emitLogits(stage, step / stepsPerEpoch);
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
  if (o.onLogits) emitLogits('selected', bestEpoch);
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
