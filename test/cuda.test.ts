// The 'cuda' backend. Where no CUDA device answers (no driver, no GPU, or an addon built without
// nvcc) only the first block runs: the addon loads, backends() leaves 'cuda' out, and asking
// for it throws. The GPU suite below runs where a device answers (scripts/gpu-check.sh): the
// same results as 'cpu', bit for bit, on every golden case, random shapes, dims, k, seeds and
// every selection path of the kernels.
import { afterEach, describe, expect, it } from 'vitest';
import { BalNoisedTopK, backends, defaultSampler, functional, ldamMargins, NoisedTopK } from '../lib/index.js';
import { CUDA_AUTO_MIN_WORK } from '../lib/kernel.js';
import { loadNative } from '../lib/native.js';
import { backwardCall, forwardCall } from './addon-calls.js';
import { goldenCases, maxRelError, mulberry32, randomArray } from './helpers.js';

const addon = process.env.NOISED_TOPK_NATIVE === '0' ? null : loadNative();
const hasCuda = backends().includes('cuda');

/** Float bits, with every NaN as 0x7fc00000: the GPU writes its own canonical NaN payload. */
function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (b, i) => (Number.isNaN(a[i]) ? 0x7fc00000 : b));
}

describe('cuda backend: availability (runs everywhere)', () => {
  it('the addon loads, and backends() lists cuda exactly when a device answers', () => {
    if (process.env.NOISED_TOPK_NATIVE !== '0') expect(addon).not.toBeNull();
    const usable = addon?.cuda === true && addon.cudaUsable?.() === true;
    expect(backends().includes('cuda')).toBe(usable);
    if (!usable) {
      expect(() => new NoisedTopK({ k: 1, backend: 'cuda' })).toThrow(
        /backend 'cuda' is not available: .*Available backends: js/,
      );
      expect(() => functional.noisedTopK(new Float32Array(4), [4], { k: 1, seed: 1, backend: 'cuda' })).toThrow(
        /backend 'cuda' is not available/,
      );
      expect(() => new BalNoisedTopK({ k: 1, backend: 'cuda' })).toThrow(/backend 'cuda' is not available/);
      if (addon?.cuda) {
        // A CUDA build without a usable device names the CUDA error of the probe.
        expect(addon.cudaProbeError!()).toMatch(/^cudaError\w+: ./);
        expect(() => new NoisedTopK({ k: 1, backend: 'cuda' })).toThrow(
          /no usable CUDA device answered \(cudaError\w+: /,
        );
      }
    } else {
      expect(addon!.cudaProbeError!()).toBe('');
    }
  });

  it("'auto' never picks cuda while the crossover is unmeasured", () => {
    expect(CUDA_AUTO_MIN_WORK).toBe(Number.POSITIVE_INFINITY);
  });

  it.skipIf(!addon?.cuda || hasCuda)(
    'a CUDA build with no device: direct calls fail with the op and the CUDA error',
    async () => {
      const a = addon!;
      const fwd = forwardCall(
        new Float32Array(8),
        2,
        4,
        1,
        2,
        1,
        3,
        null,
        1,
        2,
        0,
        new Float32Array(2),
        new Int32Array(6),
      );
      expect(a.cudaUsable!()).toBe(false);
      expect(() => a.forwardCuda!(fwd)).toThrow(/^noisedTopK \(cuda\): cudaError\w+: ./);
      await expect(a.forwardCudaAsync!(fwd)).rejects.toThrow(/^noisedTopK \(cuda\): cudaError\w+: ./);
      const bwd = backwardCall(new Int32Array(6), new Float32Array(2), 2, 4, 1, 3, new Float32Array(8));
      expect(() => a.backwardCuda!(bwd)).toThrow(/^noisedTopKBackward \(cuda\): cudaError\w+: ./);
      await expect(a.backwardCudaAsync!(bwd)).rejects.toThrow(/^noisedTopKBackward \(cuda\): cudaError\w+: ./);
      // Bad arguments are still RangeErrors, checked before any CUDA call.
      expect(() =>
        a.forwardCuda!(
          forwardCall(new Float32Array(8), 2, 4, 1, 5, 1, 3, null, 1, 2, 0, new Float32Array(2), new Int32Array(6)),
        ),
      ).toThrow(RangeError);
      // The CPU backend is untouched by the failures.
      const r = functional.noisedTopK(Float32Array.from([1, 4, 2, 3]), [4], {
        k: 2,
        epsilon: 0,
        seed: 1,
        offset: 0,
        backend: 'cpu',
      });
      expect(Array.from(r.values)).toEqual([3]);
    },
  );
});

const PATHS = ['auto', 'short', 'warp', 'radix-shared', 'radix-regen'] as const;

function withPath<T>(path: (typeof PATHS)[number], f: () => T): T {
  if (path === 'auto') delete process.env.NOISED_TOPK_CUDA_SELECT;
  else process.env.NOISED_TOPK_CUDA_SELECT = path;
  try {
    return f();
  } finally {
    delete process.env.NOISED_TOPK_CUDA_SELECT;
  }
}

describe.skipIf(!hasCuda)('cuda backend: GPU suite', () => {
  afterEach(() => {
    delete process.env.NOISED_TOPK_CUDA_SELECT;
  });

  it('the selection path hook: forced paths apply where they can, auto otherwise', () => {
    const sel = (d: number, k: number, units: number) => addon!.cudaSelectPath!(d, k, units);
    expect(withPath('auto', () => sel(10, 3, 100))).toBe('short');
    expect(withPath('auto', () => sel(100, 5, 640))).toBe('warp');
    expect(withPath('auto', () => sel(1000, 50, 640))).toBe('radix-shared');
    expect(withPath('auto', () => sel(20000, 50, 640))).toBe('radix-regen');
    expect(withPath('warp', () => sel(10, 3, 100))).toBe('warp');
    expect(withPath('warp', () => sel(100, 33, 100))).toBe('radix-shared'); // k > 32: not applicable
    expect(withPath('radix-regen', () => sel(10, 3, 100))).toBe('radix-regen');
    expect(withPath('radix-shared', () => sel(9000, 3, 100))).toBe('radix-regen');
    expect(withPath('short', () => sel(17, 3, 100))).toBe('warp');
  });

  describe('golden cases from pytopk', () => {
    const REL = 1e-6;
    const FLOOR = 1e-30;
    for (const { file, index, c } of goldenCases()) {
      const name = `${file}#${index} ${c.kind} shape [${c.shape}] k=${c.k} eps=${c.epsilon} S=${c.n_sample}`;
      const noise = new Float32Array(c.Z);
      it(name, () => {
        if (c.kind === 'noised_topk') {
          const run = (backend: 'cpu' | 'cuda') =>
            functional.noisedTopK(new Float32Array(c.x!), c.shape, {
              k: c.k,
              epsilon: c.epsilon,
              dim: c.dim!,
              noise,
              backend,
            });
          const r = run('cuda');
          const ref = run('cpu');
          expect(r.shape).toEqual(c.value_shape);
          const go = new Float32Array(c.grad_output!);
          const grad = r.backward(go);
          expect(bits(r.values)).toEqual(bits(ref.values));
          expect(Array.from(r.positions)).toEqual(Array.from(ref.positions));
          expect(bits(grad)).toEqual(bits(ref.backward(go)));
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
        const run = (backend: 'cpu' | 'cuda') =>
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
        const r = run('cuda');
        const ref = run('cpu');
        expect(bits(Float32Array.of(r.loss))).toEqual(bits(Float32Array.of(ref.loss)));
        expect(maxRelError([r.loss], [c.loss!], FLOOR)).toBeLessThanOrEqual(REL);
        const grad = r.backward();
        expect(bits(grad)).toEqual(bits(ref.backward()));
        if (c.n_sample === 1) expect(Array.from(grad)).toEqual(Array.from(new Float32Array(c.grad)));
        else expect(maxRelError(grad, c.grad, FLOOR)).toBeLessThanOrEqual(REL);
      });
    }
  });

  // Same values, positions and gradients as 'cpu' for one call.
  function same(x: Float32Array, shape: number[], opts: Record<string, unknown>, g?: Float32Array) {
    // A seeded call without `sampler` takes defaultSampler(d, k) on both backends.
    const a = functional.noisedTopK(x, shape, { ...opts, backend: 'cpu' } as never);
    const b = functional.noisedTopK(x, shape, { ...opts, backend: 'cuda' } as never);
    expect(bits(b.values)).toEqual(bits(a.values));
    expect(Array.from(b.positions)).toEqual(Array.from(a.positions));
    const go = g ?? randomArray(mulberry32(a.values.length), a.values.length, 2);
    expect(bits(b.backward(go))).toEqual(bits(a.backward(go)));
  }

  it.each(PATHS)('random shapes, dims, k, epsilon and seeds, path %s', (path) => {
    const rand = mulberry32(2024 + PATHS.indexOf(path));
    for (let trial = 0; trial < 60; trial++) {
      const ndim = 1 + Math.floor(rand() * 3);
      const shape = Array.from({ length: ndim }, () => 1 + Math.floor(rand() * (ndim === 1 ? 300 : 40)));
      const size = shape.reduce((a, b) => a * b, 1);
      const dim = Math.floor(rand() * ndim) - (rand() < 0.5 ? ndim : 0);
      const d = shape[dim < 0 ? dim + ndim : dim]!;
      const k = trial % 5 === 0 ? d : trial % 5 === 1 ? 1 : 1 + Math.floor(rand() * d);
      const epsilon = [0, 1e-3, 0.1, 1, 10][trial % 5]!;
      const nSample = 1 + Math.floor(rand() * 7);
      const seed = BigInt(Math.floor(rand() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(rand() * 2 ** 32));
      const offset = Math.floor(rand() * 2 ** 32);
      const x = randomArray(rand, size, 3).map((v) => (trial % 3 === 0 ? Math.round(v) : v));
      withPath(path, () => same(x, shape, { k, epsilon, dim, seed, offset, nSample }));
    }
  });

  it.each(PATHS)('edges k = 1, k = D, D = 1, explicit noise, path %s', (path) => {
    const rand = mulberry32(77 + PATHS.indexOf(path));
    for (const [rows, d] of [
      [5, 1],
      [3, 2],
      [4, 16],
      [2, 17],
      [6, 33],
      [3, 128],
      [2, 129],
      [1, 1000],
    ] as const) {
      const x = randomArray(rand, rows * d);
      for (const k of new Set([1, d])) {
        withPath(path, () => {
          same(x, [rows, d], { k, epsilon: 0.7, seed: 11, nSample: 4 });
          same(x, [rows, d], { k, epsilon: 0, seed: 11, nSample: 1 });
          same(x, [rows, d], { k, epsilon: 0.5, noise: randomArray(rand, rows * d * 3) });
          // the reduced dim in the middle: inner > 1
          same(x, [1, d, rows], { k, epsilon: 0.3, dim: 1, seed: 5, nSample: 3 });
        });
      }
    }
  });

  it('large k (radix paths), wide rows, explicit noise', () => {
    const rand = mulberry32(99);
    for (const [rows, d, k] of [
      [3, 5000, 4000],
      [2, 1000, 33],
      [4, 257, 257],
      [1, 100000, 7],
      [2, 20000, 15000],
      [2, 8192, 100],
      [2, 8193, 100],
    ] as const) {
      const x = randomArray(rand, rows * d);
      for (const path of PATHS) {
        withPath(path, () => {
          same(x, [rows, d], { k, epsilon: 0.5, seed: 3, nSample: 2 });
          if (d <= 20000) same(x, [rows, d], { k, epsilon: 0.5, noise: randomArray(rand, rows * d * 2) });
        });
      }
    }
  });

  it('many rows: every unit is written (grid-stride loops)', () => {
    const rand = mulberry32(5);
    for (const [rows, d, k, S] of [
      [5000, 10, 3, 5],
      [3000, 100, 5, 10],
      [700, 300, 40, 3],
    ] as const) {
      const x = randomArray(rand, rows * d);
      for (const path of PATHS) withPath(path, () => same(x, [rows, d], { k, epsilon: 1, seed: 9, nSample: S }));
    }
  });

  it("sampler 'lazy': lazy and dense-fallback rows of every kind in one call, every dense path", () => {
    const rand = mulberry32(606);
    // Row kinds: N(0, 1)-like, ties, all equal, a few outliers, non-finite (dense by the fixed
    // rule), huge magnitude (with eps = 1e36, dense: max|x| + 64 eps > 1e38), narrow, wide.
    const row = (kind: number, d: number) =>
      Float32Array.from({ length: d }, () => {
        const v = (rand() * 2 - 1) * 3;
        if (kind === 1) return Math.round(v);
        if (kind === 2) return 1.5;
        if (kind === 3) return rand() < 0.01 ? 20 + v : v / 3;
        if (kind === 4) return rand() < 0.1 ? [Number.NaN, Infinity, -Infinity][Math.floor(rand() * 3)]! : v;
        if (kind === 5) return v * 2e37;
        if (kind === 6) return v * 1e-4;
        return kind === 7 ? v * 300 : v;
      });
    for (const [rows, d, k] of [
      [16, 40, 6],
      [16, 300, 3],
      [8, 1000, 6],
      [8, 2000, 200],
      [4, 100, 70],
      [6, 17, 2],
    ] as const) {
      const x = new Float32Array(rows * d);
      for (let r = 0; r < rows; r++) x.set(row(r % 8, d), r * d);
      for (const path of PATHS) {
        withPath(path, () => {
          for (const epsilon of [1, 0.05, 20, 0, 1e36]) {
            same(x, [rows, d], { k, epsilon, seed: 17, nSample: 3, sampler: 'lazy', allowNonFinite: true });
          }
          // the reduced dim in the middle (inner > 1), one sample
          same(x, [1, d, rows], {
            k,
            epsilon: 0.5,
            dim: 1,
            seed: 2,
            nSample: 1,
            sampler: 'lazy',
            allowNonFinite: true,
          });
        });
      }
    }
    // Many units over few sample threads' slots: d = 20000 and 3000 units.
    const wide = randomArray(rand, 300 * 20000);
    same(wide, [300, 20000], { k: 5, epsilon: 1, seed: 8, nSample: 10, sampler: 'lazy' });
  });

  it('the default sampler follows defaultSampler on cuda as on cpu (lazy from d = 8192)', () => {
    const rand = mulberry32(31);
    for (const d of [8191, 8192, 10000]) {
      const x = randomArray(rand, 3 * d);
      same(x, [3, d], { k: 5, epsilon: 1, seed: 12, nSample: 4 });
      const implicit = functional.noisedTopK(x, [3, d], {
        k: 5,
        epsilon: 1,
        seed: 12,
        offset: 0,
        nSample: 4,
        backend: 'cuda',
      });
      const pinned = functional.noisedTopK(x, [3, d], {
        k: 5,
        epsilon: 1,
        seed: 12,
        nSample: 4,
        backend: 'cuda',
        sampler: defaultSampler(d, 5),
      });
      expect(bits(implicit.values)).toEqual(bits(pinned.values));
      expect(Array.from(implicit.positions)).toEqual(Array.from(pinned.positions));
    }
  });

  it('many samples: both backward kernels (nSample <= 1024 scatters, above counts in place)', () => {
    const rand = mulberry32(21);
    const x = randomArray(rand, 3 * 50);
    for (const nSample of [1024, 1025, 3000]) same(x, [3, 50], { k: 2, epsilon: 1, seed: 4, nSample });
  });

  it('NaN, infinities and signed zeros follow the same rank order with allowNonFinite', () => {
    const special = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 3.5];
    const rand = mulberry32(3);
    for (let trial = 0; trial < 200; trial++) {
      const d = 1 + Math.floor(rand() * (trial % 4 === 0 ? 60 : 9));
      const x = Float32Array.from({ length: 4 * d }, () => special[Math.floor(rand() * special.length)]!);
      const k = 1 + Math.floor(rand() * d);
      const g = Float32Array.from({ length: 4 }, () => special[Math.floor(rand() * special.length)]!);
      const path = PATHS[trial % PATHS.length]!;
      withPath(path, () =>
        same(x, [4, d], { k, epsilon: trial % 2 ? 0 : 0.5, seed: trial, nSample: 3, allowNonFinite: true }, g),
      );
    }
  });

  it('seeded module calls and the balanced loss: same sequence as cpu', () => {
    const x = randomArray(mulberry32(5), 64 * 100);
    const cpu = new NoisedTopK({ k: 5, seed: 42, backend: 'cpu' });
    const gpu = new NoisedTopK({ k: 5, seed: 42, backend: 'cuda' });
    for (let call = 0; call < 3; call++) {
      const a = cpu.forward(x, [64, 100]);
      const b = gpu.forward(x, [64, 100]);
      expect(bits(b.values)).toEqual(bits(a.values));
      expect(bits(b.backward())).toEqual(bits(a.backward()));
    }
    const labels = Int32Array.from({ length: 64 }, (_, i) => i % 100);
    const lc = new BalNoisedTopK({ k: 5, epsilon: 1, nSample: 10, seed: 7, backend: 'cpu' });
    const lg = new BalNoisedTopK({ k: 5, epsilon: 1, nSample: 10, seed: 7, backend: 'cuda' });
    const rc = lc.forward(x, labels, [64, 100]);
    const rg = lg.forward(x, labels, [64, 100]);
    expect(bits(Float32Array.of(rg.loss))).toEqual(bits(Float32Array.of(rc.loss)));
    expect(bits(rg.backward())).toEqual(bits(rc.backward()));
  });

  it('async calls give the sync results', async () => {
    const rand = mulberry32(8);
    const x = randomArray(rand, 256 * 1000);
    const opts = { k: 6, epsilon: 1, seed: 1234n, nSample: 5 };
    const a = functional.noisedTopK(x, [256, 1000], { ...opts, backend: 'cpu' });
    const b = await functional.noisedTopKAsync(x, [256, 1000], { ...opts, backend: 'cuda' });
    expect(bits(b.values)).toEqual(bits(a.values));
    expect(Array.from(b.positions)).toEqual(Array.from(a.positions));
    const g = randomArray(rand, 256);
    expect(bits(await b.backwardAsync(g))).toEqual(bits(a.backward(g)));
  });
});
