// strictOptions: the one reader of options objects (read once, unknown keys refused with a hint).
import { describe, expect, it } from 'vitest';
import { nearestKey, strictOptions } from '../lib/validate.js';

const known = ['k', 'epsilon', 'nSample', 'dim', 'seed'] as const;

describe('strictOptions', () => {
  it('keeps the known keys that are set and drops undefined ones', () => {
    const o = strictOptions('options', { k: 2, epsilon: undefined, nSample: 3 }, known);
    expect({ ...o }).toEqual({ k: 2, nSample: 3 });
  });

  it('refuses an unknown key, naming it and the nearest known one', () => {
    expect(() => strictOptions('options', { k: 1, n_sample: 3 }, known)).toThrow(
      new TypeError(
        "unknown option 'n_sample' in options (did you mean 'nSample'?); known options: k, epsilon, nSample, dim, seed",
      ),
    );
    expect(() => strictOptions('options', { k: 1, nsample: 3 }, known)).toThrow(/did you mean 'nSample'/);
    expect(() => strictOptions('options', { k: 1, eps: 3 }, known)).toThrow(/unknown option 'eps'/);
    expect(() => strictOptions('options', { k: 1, reductionMode: 1 }, known)).toThrow(TypeError);
  });

  it('uses a foreign-name hint over the edit distance', () => {
    expect(() => strictOptions('options', { axis: 0 }, known, { axis: "this API follows PyTorch: use 'dim'" })).toThrow(
      /unknown option 'axis' in options \(this API follows PyTorch: use 'dim'\)/,
    );
  });

  it('reads each key once, so a getter cannot change its answer afterwards', () => {
    let reads = 0;
    const o = strictOptions(
      'options',
      {
        get k() {
          return ++reads;
        },
      },
      known,
    );
    expect(o.k).toBe(1);
    expect(o.k).toBe(1);
    expect(reads).toBe(1);
  });

  it('refuses what is not an options object', () => {
    expect(() => strictOptions('options', 3, known)).toThrow(TypeError);
    expect(() => strictOptions('options', [1], known)).toThrow(TypeError);
    expect({ ...strictOptions('options', undefined, known) }).toEqual({});
  });

  it('nearestKey folds case and separators, and gives up on far names', () => {
    expect(nearestKey('N_SAMPLE', known)).toBe('nSample');
    expect(nearestKey('epsilom', known)).toBe('epsilon');
    expect(nearestKey('completelyUnrelated', known)).toBeNull();
  });
});
