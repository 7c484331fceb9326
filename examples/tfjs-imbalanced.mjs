// Trains a small TensorFlow.js model with the imbalanced top-k loss (ImbalNoisedTopK) on
// long-tailed toy data, inside optimizer.minimize.
//
//   npm install noised-topk @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu
//   node examples/tfjs-imbalanced.mjs [steps]
//
// With @tensorflow/tfjs (or tfjs-node) instead of tfjs-core, drop registerDenseGradients():
// those packages register every op's gradient; tfjs-core alone registers none.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ImbalNoisedTopK } from 'noised-topk/tfjs';
import { topKAccuracy, macroTopKAccuracy } from 'noised-topk';

/** Gradients of the two ops of a dense layer (x W + b), for tfjs-core on its own. */
function registerDenseGradients() {
  if (!tf.getGradient('BatchMatMul')) {
    tf.registerGradient({
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, [a, b]) => ({ a: () => tf.matMul(dy, b, false, true), b: () => tf.matMul(a, dy, true, false) }),
    });
  }
  if (!tf.getGradient('Add')) {
    tf.registerGradient({
      kernelName: 'Add',
      inputsToSave: ['a', 'b'],
      // the bias [classes] was broadcast over the batch: its gradient sums over rows
      gradFunc: (dy, [a, b]) => ({
        a: () => (a.rank === dy.rank ? dy : tf.sum(dy, 0)),
        b: () => (b.rank === dy.rank ? dy : tf.sum(dy, 0)),
      }),
    });
  }
}

/** Seeded uniform numbers, so every run prints the same thing. */
function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** 20 classes with counts from 200 down to 5, Gaussian blobs that overlap. */
function makeData(seed = 1) {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
  const classes = 20;
  const features = 8;
  const counts = Array.from({ length: classes }, (_, c) => Math.max(5, Math.round(200 / (c + 1))));
  const centres = Array.from({ length: classes * features }, () => 0.8 * normal());
  const xs = [];
  const ys = [];
  counts.forEach((n, c) => {
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < features; f++) xs.push(centres[c * features + f] + normal());
      ys.push(c);
    }
  });
  return { xs: Float32Array.from(xs), ys: Int32Array.from(ys), counts, classes, features };
}

export async function main(steps = 150, log = console.log) {
  await tf.setBackend('cpu');
  registerDenseGradients();
  const { xs, ys, counts, classes, features } = makeData();
  const n = ys.length;
  const x = tf.tensor2d(xs, [n, features]);
  const y = tf.tensor1d(ys, 'int32');
  const w = tf.variable(tf.randomNormal([features, classes], 0, 0.01, 'float32', 7));
  const b = tf.variable(tf.zeros([classes]));
  // k 3; eps, max_m as in the paper; a linear head here, so scale 10 instead of the paper's 60
  // (which assumes cosine scores in [-1, 1]).
  const criterion = new ImbalNoisedTopK({ k: 3, epsilon: 0.01, maxM: 0.2, clsNumList: counts, scale: 10, seed: 0 });
  const optimizer = tf.train.momentum(0.01, 0.9);
  const history = [];
  for (let step = 0; step < steps; step++) {
    const loss = optimizer.minimize(() => criterion.apply(tf.add(tf.matMul(x, w), b), y), true, [w, b]);
    history.push(loss.dataSync()[0]);
    loss.dispose();
    if (step % 50 === 0 || step === steps - 1)
      log(`step ${String(step).padStart(3)}  loss ${history[step].toFixed(4)}`);
  }
  const scores = tf.tidy(() => tf.add(tf.matMul(x, w), b));
  const s = scores.dataSync();
  const top3 = topKAccuracy(s, ys, [n, classes], 3);
  const macro3 = macroTopKAccuracy(s, ys, [n, classes], 3);
  log(`train top-3 accuracy ${(100 * top3).toFixed(1)}%, macro top-3 ${(100 * macro3).toFixed(1)}%`);
  tf.dispose([x, y, w, b, scores]);
  optimizer.dispose();
  return { history, top3, macro3 };
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file://').href) {
  const steps = process.argv[2] ? Number(process.argv[2]) : undefined;
  await main(steps);
}
