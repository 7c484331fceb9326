// Every reference case computed by pytopk itself, on every backend, through the functional API.
import { describe, expect, it } from 'vitest';
import { functional, ldamMargins } from '../lib/index.js';
import { goldenCases, maxRelError, testedBackends } from './helpers.js';

const REL = 1e-6;
// Gradients of zero stay zero and the k-th value is exact: compare relative to a tiny floor.
const FLOOR = 1e-30;

describe.each(testedBackends())('golden cases from pytopk on %s', (backend) => {
  for (const { file, index, c } of goldenCases()) {
    const name = `${file}#${index} ${c.kind} shape [${c.shape}] k=${c.k} eps=${c.epsilon} S=${c.n_sample}`;
    const noise = new Float32Array(c.Z);
    it(name, () => {
      if (c.kind === 'noised_topk') {
        const r = functional.noisedTopK(new Float32Array(c.x!), c.shape, {
          k: c.k,
          epsilon: c.epsilon,
          dim: c.dim!,
          noise,
          backend,
        });
        expect(r.shape).toEqual(c.value_shape);
        const grad = r.backward(new Float32Array(c.grad_output!));
        if (c.n_sample === 1) {
          expect(Array.from(r.values)).toEqual(Array.from(new Float32Array(c.value!)));
          expect(Array.from(grad)).toEqual(Array.from(new Float32Array(c.grad)));
        } else {
          expect(maxRelError(r.values, c.value!, FLOOR)).toBeLessThanOrEqual(REL);
          expect(maxRelError(grad, c.grad, FLOOR)).toBeLessThanOrEqual(REL);
        }
        return;
      }
      const [B, D] = c.shape as [number, number];
      const scores = new Float32Array(c.scores!);
      const r =
        c.kind === 'bal_loss'
          ? functional.balNoisedTopKLoss(scores, c.labels!, [B, D], { k: c.k, epsilon: c.epsilon, noise, backend })
          : functional.imbalNoisedTopKLoss(scores, c.labels!, [B, D], {
              k: c.k,
              epsilon: c.epsilon,
              noise,
              backend,
              margins: ldamMargins(c.cls_num_list!, c.max_m!),
              scale: c.scale!,
            });
      expect(maxRelError([r.loss], [c.loss!], FLOOR)).toBeLessThanOrEqual(REL);
      const grad = r.backward();
      if (c.n_sample === 1) expect(Array.from(grad)).toEqual(Array.from(new Float32Array(c.grad)));
      else expect(maxRelError(grad, c.grad, FLOOR)).toBeLessThanOrEqual(REL);
    });
  }
});

describe('ldamMargins', () => {
  it('matches pytopk float32 margins on every imbalanced golden case', () => {
    for (const { c } of goldenCases()) {
      if (c.kind !== 'imbal_loss') continue;
      expect(Array.from(ldamMargins(c.cls_num_list!, c.max_m!))).toEqual(Array.from(new Float32Array(c.m_list!)));
    }
  });
});
