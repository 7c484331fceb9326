// Shared cases of the CPU identity tests: backend 'cpu' must give the same bits as backend
// 'js' (the oracle) for every seed, shape, dim, k and thread count, on every code path of the
// native kernels (the dispatch is chosen by NOISED_TOPK_CPU_ISA in the including test file).
import { expect, it } from 'vitest';
import { backends, functional, setThreads, threads } from '../lib/index.js';
import { mulberry32 } from './helpers.js';
import { auditCases, float64Mean, runCase } from './sample-mean-cases.js';

/** Small deterministic generator for inputs; not the kernels' stream. */
export const rng = mulberry32;

function randn(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

type Fill = 'normal' | 'ties' | 'special' | 'wide';

function makeInput(r: () => number, n: number, fill: Fill): Float32Array {
  const x = new Float32Array(n);
  const special = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 3.5e38, -3.5e38, 1e-45];
  for (let i = 0; i < n; i++) {
    if (fill === 'normal') x[i] = randn(r);
    else if (fill === 'ties') x[i] = Math.floor(r() * 4) - 2;
    else if (fill === 'wide') x[i] = randn(r) * 40;
    else x[i] = r() < 0.3 ? special[Math.floor(r() * special.length)]! : randn(r);
  }
  return x;
}

interface Case {
  shape: number[];
  dim: number;
  k: number;
  nSample: number;
  epsilon: number;
  seed: bigint;
  offset: number;
  fill: Fill;
  explicit: boolean;
}

function makeCases(): Case[] {
  const r = rng(20260426);
  const cases: Case[] = [];
  const shapes: Array<[number[], number]> = [
    [[1, 1], 1],
    [[3, 2], 1],
    [[5, 7], -1],
    [[4, 33], 1],
    [[2, 100], 1],
    [[64, 100], 1],
    [[7, 1000], 1],
    [[3, 1081], -1],
    [[2, 5, 9], 1],
    [[3, 17, 4], 1],
    [[6, 3, 5], 0],
    [[2, 4, 3, 5], 2],
    [[1, 4097], 1],
    [[9, 31], 1],
  ];
  for (const [shape, dim] of shapes) {
    const d = shape[dim < 0 ? shape.length + dim : dim]!;
    const ks = new Set([
      1,
      Math.min(d, 2),
      Math.min(d, 6),
      Math.min(d, 11),
      Math.min(d, 33),
      Math.max(1, d - 1),
      d,
      1 + Math.floor(r() * d),
    ]);
    for (const k of ks) {
      const fill: Fill = (['normal', 'ties', 'special', 'wide'] as const)[Math.floor(r() * 4)]!;
      cases.push({
        shape,
        dim,
        k,
        nSample: 1 + Math.floor(r() * 6),
        epsilon: [0, 1, 0.25, 3][Math.floor(r() * 4)]!,
        seed: (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)),
        offset: Math.floor(r() * 2 ** 32),
        fill,
        explicit: r() < 0.2,
      });
    }
  }
  return cases;
}

export function identitySuite(): void {
  const cases = makeCases();

  it('the native addon is loaded', () => {
    expect(backends()).toContain('cpu');
  });

  for (const nThreads of [1, 2, 3]) {
    it(`forward and backward: 'cpu' === 'js' bit for bit on ${cases.length} cases, ${nThreads} thread(s)`, () => {
      setThreads(nThreads);
      expect(threads()).toBe(nThreads);
      let checked = 0;
      for (const [ci, c] of cases.entries()) {
        const n = c.shape.reduce((a, b) => a * b, 1);
        const r = rng(1000 + ci);
        const x = makeInput(r, n, c.fill);
        const common = {
          k: c.k,
          epsilon: c.epsilon,
          dim: c.dim,
          nSample: c.nSample,
          allowNonFinite: true,
          ...(c.explicit
            ? { noise: makeInput(r, n * c.nSample, c.fill === 'special' ? 'special' : 'normal') }
            : { seed: c.seed, offset: c.offset }),
        };
        const js = functional.noisedTopK(x, c.shape, { ...common, backend: 'js' });
        const cpu = functional.noisedTopK(x, c.shape, { ...common, backend: 'cpu' });
        const where = `case ${ci} ${JSON.stringify({ ...c, seed: String(c.seed) })}`;
        expect(Array.from(cpu.indices), where).toEqual(Array.from(js.indices));
        expect(Array.from(bits(cpu.values)), where).toEqual(Array.from(bits(js.values)));
        const g = makeInput(r, cpu.values.length, 'normal');
        expect(Array.from(bits(cpu.backward(g))), where).toEqual(Array.from(bits(js.backward(g))));
        checked++;
      }
      expect(checked).toBe(cases.length);
      setThreads(0);
    });
  }

  it('large rows, k = 6 and k near D, several offsets: identical on 1 and 2 threads', () => {
    const r = rng(77);
    for (const [B, D] of [
      [32, 1081],
      [16, 10000],
      [8, 257],
    ] as const) {
      const x = makeInput(r, B * D, 'normal');
      for (const k of [1, 6, 11, D - 3, D]) {
        for (const t of [1, 2]) {
          setThreads(t);
          const o = { k, nSample: 5, seed: 0x1234_5678_9abc_def0n + BigInt(k), offset: k * 7 };
          const js = functional.noisedTopK(x, [B, D], { ...o, backend: 'js' });
          const cpu = functional.noisedTopK(x, [B, D], { ...o, backend: 'cpu' });
          expect(Array.from(cpu.indices), `${B}x${D} k=${k} t=${t}`).toEqual(Array.from(js.indices));
          expect(Array.from(bits(cpu.values)), `${B}x${D} k=${k} t=${t}`).toEqual(Array.from(bits(js.values)));
        }
      }
    }
    setThreads(0);
  });

  it('narrow rows, many samples per row (the k-th hint and floor paths), ties and non-finite values', () => {
    const r = rng(99);
    for (const D of [7, 33, 100, 130, 255]) {
      for (const k of [1, 2, 5, 11, 16, 17, 32]) {
        if (k > D) continue;
        for (const fill of ['normal', 'ties', 'special'] as const) {
          for (const epsilon of [0, 1]) {
            const B = 6;
            const x = makeInput(r, B * D, fill);
            const o = { k, epsilon, nSample: 12, seed: BigInt(D * 1000 + k), offset: k, allowNonFinite: true };
            for (const t of [1, 2]) {
              setThreads(t);
              const js = functional.noisedTopK(x, [B, D], { ...o, backend: 'js' });
              const cpu = functional.noisedTopK(x, [B, D], { ...o, backend: 'cpu' });
              const where = `D=${D} k=${k} ${fill} eps=${epsilon} t=${t}`;
              expect(Array.from(cpu.indices), where).toEqual(Array.from(js.indices));
              expect(Array.from(bits(cpu.values)), where).toEqual(Array.from(bits(js.values)));
            }
          }
        }
      }
    }
    setThreads(0);
  });

  it('epsilon so large that eps * z overflows, on narrow and wide rows (hint, floor and pruning paths)', () => {
    const r = rng(123);
    for (const D of [100, 300, 1081]) {
      for (const k of [1, 6, 17]) {
        for (const epsilon of [3.4028234663852886e38, 1e38, 1e30]) {
          const x = makeInput(r, 4 * D, 'wide');
          const o = { k, epsilon, nSample: 5, seed: BigInt(D + k), offset: 1 };
          const js = functional.noisedTopK(x, [4, D], { ...o, backend: 'js' });
          const cpu = functional.noisedTopK(x, [4, D], { ...o, backend: 'cpu' });
          const where = `D=${D} k=${k} eps=${epsilon}`;
          expect(Array.from(cpu.indices), where).toEqual(Array.from(js.indices));
          expect(Array.from(bits(cpu.values)), where).toEqual(Array.from(bits(js.values)));
        }
      }
    }
  });

  it("the mean rule on the audit's rows (3e7 with nSample 1000, 1e6 with 4096): values = fl32(float64 mean of sampleValues), both samplers", () => {
    for (const c of auditCases()) {
      for (const sampler of ['dense', 'lazy'] as const) {
        for (const t of [1, 2]) {
          setThreads(t);
          const js = runCase(c, 'js', sampler);
          const cpu = runCase(c, 'cpu', sampler);
          expect(bits(cpu.sampleValues)).toEqual(bits(js.sampleValues));
          expect(bits(cpu.values)).toEqual(bits(float64Mean(cpu.sampleValues, c.rows, c.nSample)));
          expect(bits(cpu.values)).toEqual(bits(js.values));
        }
      }
    }
    setThreads(0);
  });

  it('the balanced loss and its gradient match bit for bit (k = 5, 1 and 2 threads)', () => {
    const r = rng(5);
    const [B, D] = [64, 100];
    const x = makeInput(r, B * D, 'normal');
    const labels = Int32Array.from({ length: B }, () => Math.floor(r() * D));
    for (const t of [1, 2]) {
      setThreads(t);
      const o = { k: 5, epsilon: 1, nSample: 10, seed: 42n, offset: 3 };
      const js = functional.balNoisedTopKLoss(x, labels, [B, D], { ...o, backend: 'js' });
      const cpu = functional.balNoisedTopKLoss(x, labels, [B, D], { ...o, backend: 'cpu' });
      expect(cpu.loss).toBe(js.loss);
      expect(Array.from(bits(cpu.backward()))).toEqual(Array.from(bits(js.backward())));
    }
    setThreads(0);
  });
}
