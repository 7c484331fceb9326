// lib/options.ts: every option set declared once; the key lists, the strict check, the
// defaults and the tfjs bridge's sets all come from it.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalNoisedTopK, ImbalNoisedTopK, NoisedTopK, PerturbedTopK, SmoothTopKSvm } from '../lib/index.js';
import { defaultOf, FIELDS, keysOf, parseOptions, SETS, TF_SETS } from '../lib/options.js';
import * as tfjs from '../lib/tfjs.js';
import { setupTf } from './tfjs-helpers.js';

beforeAll(setupTf);

describe('the option sets', () => {
  it('give every option a doc line, and a default or none, never both with required', () => {
    for (const set of [...Object.values(SETS), ...Object.values(TF_SETS)]) {
      for (const [key, opt] of Object.entries(set)) {
        expect(opt.doc.length, key).toBeGreaterThan(10);
        if (opt.required) expect(opt.default, key).toBeUndefined();
      }
    }
  });

  it('put the defaults in place and check in declaration order', () => {
    const o = parseOptions('options', { k: 2 }, SETS.noisedTopK);
    expect(o.epsilon).toBe(1);
    expect(o.nSample).toBe(5);
    expect(o.dim).toBe(-1);
    expect(o.backend).toBe('auto');
    expect(o.allowNonFinite).toBe(false);
    expect(o.seed).toBeUndefined();
  });

  it('say "options.<key> is required (why)" the same way for every required option', () => {
    const cases: [() => unknown, string][] = [
      [() => new NoisedTopK({} as never), 'k'],
      [() => new BalNoisedTopK({} as never), 'k'],
      [() => new ImbalNoisedTopK({ k: 1, clsNumList: [1, 2] } as never), 'maxM'],
      [() => new ImbalNoisedTopK({ k: 1, maxM: 0.5 } as never), 'clsNumList'],
      [() => new PerturbedTopK({ nSample: 2 } as never), 'k'],
      [() => new PerturbedTopK({ k: 1 } as never), 'nSample'],
      [() => new SmoothTopKSvm({} as never), 'k'],
      [() => new tfjs.NoisedTopK({} as never), 'k'],
    ];
    for (const [f, key] of cases) {
      expect(f).toThrow(TypeError);
      expect(f).toThrow(new RegExp(`^options\\.${key} is required \\(.+\\)$`));
    }
  });

  it('use the declared defaults in the module forms (scale of the imbalanced loss: one declaration)', () => {
    const m = new ImbalNoisedTopK({ k: 1, maxM: 0.5, clsNumList: [10, 5, 1] });
    expect(m.scale).toBe(defaultOf(FIELDS.scale));
    expect(m.epsilon).toBe(defaultOf(FIELDS.epsilon));
    expect(m.nSample).toBe(defaultOf(FIELDS.nSample));
    const t = new tfjs.ImbalNoisedTopK({ k: 1, maxM: 0.5, clsNumList: [10, 5, 1] });
    expect(t.options.scale).toBe(defaultOf(FIELDS.scale));
  });

  it('give the tfjs bridge the plain sets, with axis for dim and without the outputs', () => {
    const plain = keysOf(SETS.noisedTopKFunctional).filter((k) => !['dim', 'out', 'indices'].includes(k));
    expect(keysOf(TF_SETS.noisedTopK).sort()).toEqual([...plain, 'axis'].sort());
    expect(keysOf(TF_SETS.balNoisedTopKLoss)).toEqual(keysOf(SETS.balNoisedTopKLoss));
    expect(keysOf(TF_SETS.NoisedTopK)).toContain('allowNonFinite');
  });

  it('tfjs noisedTopK and NoisedTopK take allowNonFinite (the key the tfjs copy had lost)', () => {
    const x = tf.tensor([1, Number.NaN, 3, 2], [1, 4]);
    const y = tfjs.noisedTopK(x, { k: 1, epsilon: 0, seed: 1, offset: 0, allowNonFinite: true });
    expect(Number.isNaN(y.dataSync()[0])).toBe(true);
    const m = new tfjs.NoisedTopK({ k: 1, epsilon: 0, seed: 1, allowNonFinite: true });
    expect(Number.isNaN(m.apply(x).dataSync()[0])).toBe(true);
    // the control: without it the same input is refused
    expect(() => tfjs.noisedTopK(x, { k: 1, seed: 1, offset: 0 })).toThrow(RangeError);
  });

  it('refuse an unknown key with a hint, in every set', () => {
    for (const [name, set] of Object.entries(SETS)) {
      expect(() => parseOptions('options', { nSampel: 1 }, set), name).toThrow(TypeError);
      expect(() => parseOptions('options', { nSampel: 1 }, set), name).toThrow(/unknown option 'nSampel' in options/);
    }
  });
});
