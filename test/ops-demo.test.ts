// The demo's additions for the ops work: the smooth top-k SVM as a loss, the normalized last
// layer (pytopk's --normalize-ll) as a model option.
import { describe, expect, it } from 'vitest';
import { syntheticData } from '../demo/dataset.js';
import { LOSSES, LOSS_NAMES, parseLosses } from '../demo/losses.js';
import { Mlp, withNormalizedLastLayer } from '../demo/model.js';
import { trainRun } from '../demo/train.js';
import { smoothTopKSvmLoss } from '../lib/index.js';

const tiny = { classes: 12, genera: 4, features: 6, maxCount: 80, minCount: 3 };

describe('demo: smooth top-k SVM', () => {
  it('is the sixth loss, with tau 1, reachable by name', () => {
    expect(LOSS_NAMES).toEqual(['ce', 'focal', 'ldam', 'bal', 'imbal', 'svm']);
    expect(parseLosses('svm,SmoothTopKSVM')).toEqual(['svm']);
    expect(LOSSES.svm.settings(5)).toBe('k 5, tau 1, alpha 1, linear head');
    const fn = LOSSES.svm.make([10, 20, 30], 2, 0);
    const s = new Float32Array([0.3, -0.2, 1.0, 0.5, 0.1, -1.0]);
    const want = smoothTopKSvmLoss(s, [0, 2], [2, 3], { k: 2, tau: 1, alpha: 1 });
    expect(fn(s, new Int32Array([0, 2]), [2, 3]).loss).toBe(want.loss);
  });

  it('trains: the training loss falls over a few epochs', () => {
    const data = syntheticData({ ...tiny, seed: 1 });
    const r = trainRun(data, 'svm', { epochs: 4, k: 3, seed: 1 });
    expect(r.trainLoss.at(-1)!).toBeLessThan(r.trainLoss[0]!);
    expect(r.test.topk).toBeGreaterThan(0.4); // chance top-3 of 12 classes: 25%
  });
});

describe('demo: normalized last layer', () => {
  it('turns the cosine head on for any loss; scores are then cosines in [-1, 1]', () => {
    const base = { features: 4, hidden: 5, classes: 3, cosine: false };
    expect(withNormalizedLastLayer(base, true).cosine).toBe(true);
    expect(withNormalizedLastLayer(base, false).cosine).toBe(false);
    expect(withNormalizedLastLayer({ ...base, cosine: true }, false).cosine).toBe(true);
    const m = new Mlp(withNormalizedLastLayer(base, true), 3);
    const x = Float32Array.from({ length: 8 }, (_, i) => (i % 3) * 5 - 4);
    const s = m.forward(x, 2);
    expect(s.every((v) => Math.abs(v) <= 1 + 1e-6)).toBe(true);
  });

  it('trainRun({ normalizeLastLayer: true }) trains a linear-head loss on the normalized head', () => {
    const data = syntheticData({ ...tiny, seed: 2 });
    const plain = trainRun(data, 'ce', { epochs: 2, k: 3, seed: 2 });
    const normed = trainRun(data, 'ce', { epochs: 2, k: 3, seed: 2, normalizeLastLayer: true });
    expect(normed.trainLoss).not.toEqual(plain.trainLoss);
    expect(normed.trainLoss.every(Number.isFinite)).toBe(true);
  });
});
