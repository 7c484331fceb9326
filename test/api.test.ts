// Sync and async forms, caller-allocated outputs, byteOffset views, any dim.
import { describe, expect, it } from 'vitest';
import { backends, BalNoisedTopK, functional, ImbalNoisedTopK, NoisedTopK, setThreads, threads } from '../lib/index.js';
import { mulberry32, randomArray, testedBackends } from './helpers.js';

describe('backends()', () => {
  it("lists 'js' always and 'cpu' where the addon loads; 'cuda' only where a device answers", () => {
    const list = backends();
    expect(list[0]).toBe('js');
    expect(list.filter((b) => b !== 'cuda')).toEqual(testedBackends());
    if (!list.includes('cuda'))
      expect(() => new NoisedTopK({ k: 1, backend: 'cuda' })).toThrow(/backend 'cuda' is not available/);
  });

  it('threads() reports what setThreads() set', () => {
    const before = threads();
    setThreads(3);
    if (backends().includes('cpu')) expect(threads()).toBe(3);
    setThreads(before);
  });

  it("'auto' picks the native backend when it loads", () => {
    expect(new NoisedTopK({ k: 1 }).backend).toBe(backends().includes('cpu') ? 'cpu' : 'js');
  });
});

describe.each(testedBackends())('API forms on %s', (backend) => {
  const rand = mulberry32(21);
  const x = randomArray(rand, 6 * 40);

  it('forwardAsync / backwardAsync equal the sync forms for the same seed', async () => {
    const a = new NoisedTopK({ k: 3, seed: 8, backend });
    const b = new NoisedTopK({ k: 3, seed: 8, backend });
    const s = a.forward(x, [6, 40]);
    const p = await b.forwardAsync(x, [6, 40]);
    expect(p.values).toEqual(s.values);
    expect(await p.backwardAsync()).toEqual(s.backward());
    const la = new BalNoisedTopK({ k: 3, seed: 1, backend }).forward(x, [1, 2, 3, 4, 5, 6], [6, 40]);
    const lb = await new BalNoisedTopK({ k: 3, seed: 1, backend }).forwardAsync(x, [1, 2, 3, 4, 5, 6], [6, 40]);
    expect(lb.loss).toBe(la.loss);
    expect(await lb.backwardAsync(2)).toEqual(la.backward(2));
    const fa = functional.noisedTopK(x, [6, 40], { k: 2, seed: 4, offset: 9, backend });
    const fb = await functional.noisedTopKAsync(x, [6, 40], { k: 2, seed: 4, offset: 9, backend });
    expect(fb.values).toEqual(fa.values);
  });

  it('many concurrent async calls give independent, correct results', async () => {
    const ops = Array.from({ length: 16 }, (_, i) => new NoisedTopK({ k: 1 + (i % 5), seed: i, backend }));
    const results = await Promise.all(ops.map((op) => op.forwardAsync(x, [6, 40])));
    results.forEach((r, i) => {
      expect(r.values).toEqual(new NoisedTopK({ k: 1 + (i % 5), seed: i, backend }).forward(x, [6, 40]).values);
    });
  });

  it('writes into caller-allocated outputs, including views at a byteOffset', () => {
    const big = new Float32Array(100);
    const out = big.subarray(7, 13);
    const positions = new Int32Array(64).subarray(3, 33);
    const r = new NoisedTopK({ k: 2, seed: 3, backend }).forward(x, [6, 40], { out, indices: positions });
    expect(r.values).toBe(out);
    expect(r.indices).toBe(positions);
    expect(big[6]).toBe(0);
    expect(big[13]).toBe(0);
    const fresh = new NoisedTopK({ k: 2, seed: 3, backend }).forward(x, [6, 40]);
    expect(Array.from(out)).toEqual(Array.from(fresh.values));
    const gradBuf = new Float32Array(300);
    const grad = r.backward(undefined, gradBuf.subarray(5, 245));
    expect(grad.byteOffset).toBe(20);
    expect(Array.from(grad)).toEqual(Array.from(fresh.backward()));
  });

  it('reads inputs at a byteOffset (subarray of a larger buffer)', () => {
    const padded = new Float32Array(3 + x.length);
    padded.set(x, 3);
    const view = padded.subarray(3);
    const a = new NoisedTopK({ k: 4, seed: 5, backend }).forward(view, [6, 40]);
    const b = new NoisedTopK({ k: 4, seed: 5, backend }).forward(x, [6, 40]);
    expect(a.values).toEqual(b.values);
  });

  it('any dim of an N-dimensional input, negative dims included', () => {
    const t = randomArray(rand, 2 * 3 * 4 * 5);
    const shape = [2, 3, 4, 5];
    for (let dim = -4; dim < 4; dim++) {
      const r = new NoisedTopK({ k: 1, epsilon: 0, nSample: 1, dim, seed: 0, backend }).forward(t, shape);
      const ad = dim < 0 ? dim + 4 : dim;
      expect(r.shape).toEqual(shape.filter((_, i) => i !== ad));
      // eps = 0, k = 1: the max along dim, computed by hand.
      const strides = [60, 20, 5, 1];
      let i = 0;
      const idx = [0, 0, 0, 0];
      const walk = (axis: number) => {
        if (axis === 4) {
          let max = -Infinity;
          for (let c = 0; c < shape[ad]!; c++) {
            const j = idx.reduce((acc, v, a) => acc + (a === ad ? c : v) * strides[a]!, 0);
            max = Math.max(max, t[j]!);
          }
          expect(r.values[i++]).toBe(max);
          return;
        }
        if (axis === ad) return walk(axis + 1);
        for (idx[axis] = 0; idx[axis]! < shape[axis]!; idx[axis]!++) walk(axis + 1);
        idx[axis] = 0;
      };
      walk(0);
    }
  });

  it('empty batches give empty outputs', () => {
    const r = new NoisedTopK({ k: 2, seed: 0, backend }).forward(new Float32Array(0), [0, 5]);
    expect(r.values).toHaveLength(0);
    expect(r.shape).toEqual([0]);
    expect(r.backward()).toHaveLength(0);
  });

  it('ImbalNoisedTopK has pytopk defaults (scale 50, nSample 5) and class margins', () => {
    const crit = new ImbalNoisedTopK({ k: 2, epsilon: 0.01, maxM: 0.3, clsNumList: [17, 23, 55], backend });
    expect(crit.scale).toBe(50);
    expect(crit.nSample).toBe(5);
    expect(crit.classMargins[0]).toBeCloseTo(0.3, 6);
    const op = new NoisedTopK({ k: 1, backend });
    expect([op.epsilon, op.nSample, op.dim]).toEqual([1, 5, -1]);
  });
});
