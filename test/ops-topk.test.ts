// topk: the hard top-k against a sort-based reference written from the rules in docs/ops.md
// (not from the kernels' select key), on random shapes, dims, k from 1 to D, ties, -0/+0, NaN
// and infinities; 'js' and 'cpu' bit for bit; the scatter backward; errors; async; threads.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { setThreads, threads, topk, topkAsync } from '../lib/index.js';
import { loadNative } from '../lib/native.js';
import { callOf } from './addon-calls.js';
import { mulberry32, root, testedBackends } from './helpers.js';

/** The kernels' sources, as the addon builds them. */

const tested = testedBackends();
const hasCpu = tested.includes('cpu');

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** Reference: sort the row's indices with the written rule, take k. */
function reference(x: Float32Array, shape: number[], dim: number, k: number, largest: boolean, sorted: boolean) {
  const d = shape[dim]!;
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const values = new Float32Array(outer * k * inner);
  const indices = new Int32Array(outer * k * inner);
  // a before b? NaN is the largest value; -0 === +0 in JS; ties: the lower index.
  const first = (a: number, b: number, va: number, vb: number): number => {
    const na = Number.isNaN(va);
    const nb = Number.isNaN(vb);
    if (na !== nb) return (largest ? na : nb) ? -1 : 1;
    if (!na && va !== vb) return (largest ? va > vb : va < vb) ? -1 : 1;
    return a - b;
  };
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const val = (c: number) => x[(o * d + c) * inner + i]!;
      const cols = Array.from({ length: d }, (_, c) => c).sort((a, b) => first(a, b, val(a), val(b)));
      const top = cols.slice(0, k);
      if (!sorted) top.sort((a, b) => a - b);
      top.forEach((c, j) => {
        values[(o * k + j) * inner + i] = val(c);
        indices[(o * k + j) * inner + i] = c;
      });
    }
  }
  return { values, indices };
}

type Gen = 'normal' | 'ties' | 'nonfinite';

function makeInput(rand: () => number, n: number, gen: Gen): Float32Array {
  const x = new Float32Array(n);
  const pool = [-1, 0, -0, 1, 2, 2, -3.5];
  const special = [NaN, Infinity, -Infinity, 0, -0, 1, 1, -1];
  for (let i = 0; i < n; i++) {
    if (gen === 'normal') x[i] = (rand() * 2 - 1) * 10;
    else if (gen === 'ties') x[i] = pool[Math.floor(rand() * pool.length)]!;
    else x[i] = rand() < 0.5 ? special[Math.floor(rand() * special.length)]! : Math.round(rand() * 4 - 2);
  }
  return x;
}

function randomCase(rand: () => number) {
  const rank = 1 + Math.floor(rand() * 4);
  const shape = Array.from({ length: rank }, () => 1 + Math.floor(rand() * 6));
  const dim = Math.floor(rand() * rank);
  // Sometimes a long dim, across the buffer (k <= 32) and nth_element (k > 32) paths.
  if (rand() < 0.3) shape[dim] = 33 + Math.floor(rand() * 300);
  const d = shape[dim]!;
  const kPick = rand();
  const k = kPick < 0.2 ? 1 : kPick < 0.4 ? d : 1 + Math.floor(rand() * d);
  const gen: Gen = (['normal', 'ties', 'nonfinite'] as const)[Math.floor(rand() * 3)]!;
  return { shape, dim, k, gen, negDim: rand() < 0.3 };
}

describe('topk against a sort-based reference', () => {
  const before = hasCpu ? threads() : 1;
  afterAll(() => hasCpu && setThreads(before));

  it.each(tested)(
    '%s: 300 random shapes, dims, k in [1, D], largest/smallest, sorted or not, ties, -0/+0, NaN, infinities',
    (backend) => {
      const rand = mulberry32(backend === 'js' ? 11 : 12);
      for (let t = 0; t < 300; t++) {
        const c = randomCase(rand);
        const n = c.shape.reduce((a, b) => a * b, 1);
        const x = makeInput(rand, n, c.gen);
        const largest = rand() < 0.5;
        const sorted = rand() < 0.7;
        const dimArg = c.negDim ? c.dim - c.shape.length : c.dim;
        const r = topk(x, c.shape, { k: c.k, dim: dimArg, largest, sorted, backend, allowNonFinite: true });
        const want = reference(x, c.shape, c.dim, c.k, largest, sorted);
        const label = JSON.stringify({ t, ...c, largest, sorted });
        expect(r.backend).toBe(backend);
        expect(r.shape, label).toEqual(c.shape.map((s, i) => (i === c.dim ? c.k : s)));
        expect(Array.from(r.indices), label).toEqual(Array.from(want.indices));
        expect(bits(r.values), label).toEqual(bits(want.values));
      }
    },
  );

  it('the written examples: ties to the lower index, -0 equals +0, NaN the largest value', () => {
    for (const backend of tested) {
      const x = new Float32Array([1, 3, 3, -0, 0, 3, NaN, -Infinity]);
      const big = topk(x, [8], { k: 4, backend, allowNonFinite: true });
      expect(Array.from(big.indices)).toEqual([6, 1, 2, 5]);
      const small = topk(x, [8], { k: 4, largest: false, backend, allowNonFinite: true });
      expect(Array.from(small.indices)).toEqual([7, 3, 4, 0]); // -0 (index 3) and +0 tie: lower index first
      expect(Object.is(small.values[1], -0)).toBe(true);
      const unsorted = topk(x, [8], { k: 4, sorted: false, backend, allowNonFinite: true });
      expect(Array.from(unsorted.indices)).toEqual([1, 2, 5, 6]);
      const last = topk(x, [8], { k: 8, largest: false, backend, allowNonFinite: true });
      expect(last.indices[7]).toBe(6); // NaN comes last for smallest, as in torch.topk
    }
  });
});

describe.skipIf(!hasCpu)("'js' and 'cpu' bit for bit", () => {
  const before = hasCpu ? threads() : 1;
  afterAll(() => setThreads(before));

  it('wide rows (D up to 40000, k up to 1000) on 1 and 2 threads, and async', async () => {
    const rand = mulberry32(5);
    for (const [B, D, k, gen] of [
      [7, 40000, 5, 'normal'],
      [3, 1000, 32, 'ties'],
      [4, 5003, 33, 'normal'],
      [2, 2049, 1000, 'ties'],
      [5, 777, 777, 'nonfinite'],
      [64, 100, 10, 'normal'],
      [3, 4096, 1, 'nonfinite'],
    ] as const) {
      const x = makeInput(rand, B * D, gen);
      for (const largest of [true, false]) {
        const js = topk(x, [B, D], { k, largest, backend: 'js', allowNonFinite: true });
        for (const n of [1, 2]) {
          setThreads(n);
          const cpu = topk(x, [B, D], { k, largest, backend: 'cpu', allowNonFinite: true });
          expect(Array.from(cpu.indices)).toEqual(Array.from(js.indices));
          expect(bits(cpu.values)).toEqual(bits(js.values));
        }
        const asyncCpu = await topkAsync(x, [B, D], { k, largest, backend: 'cpu', allowNonFinite: true });
        expect(Array.from(asyncCpu.indices)).toEqual(Array.from(js.indices));
        expect(bits(asyncCpu.values)).toEqual(bits(js.values));
      }
    }
  });

  it('the baseline (no AVX2) path of the cpu kernel gives the same bits (NOISED_TOPK_CPU_ISA=baseline, own process)', () => {
    // The ISA is chosen once per process: a child process loads the same addon under each.
    const script = `
      const addon = require(${JSON.stringify(join(root, 'build', 'Release', 'noised_topk.node'))});
      const D = 5000, B = 3, x = new Float32Array(B * D);
      let s = 1; for (let i = 0; i < x.length; i++) { s = (s * 1103515245 + 12345) >>> 0; x[i] = (s % 2001) / 100 - 10; }
      x[17] = NaN; x[4000] = -0; x[4001] = 0; x[6000] = Infinity;
      const out = [];
      for (const largest of [true, false]) for (const k of [1, 7, 32, 40]) {
        const v = new Float32Array(B * k), ix = new Int32Array(B * k);
        addon.topk({ x, outer: B, d: D, inner: 1, k, largest, sorted: true, values: v, indices: ix, checkFinite: false });
        out.push(Array.from(ix).join(','), Array.from(new Uint32Array(v.buffer)).join(','));
        const m = new Float32Array(B * D), pi = new Int32Array(B * 4 * k), g = new Float32Array(B * D);
        addon.perturbedTopK({ x: x.map((t) => (Number.isFinite(t) ? t : 0)), outer: B, d: D, inner: 1, k, epsilon: 0.5, nSample: 4, seedLo: 1, seedHi: 2, offset: 3, mask: m, indices: pi });
        addon.perturbedTopKBackward({ indices: pi, grad: x.map((t, i) => (i % 7) - 3), outer: B, d: D, inner: 1, k, epsilon: 0.5, nSample: 4, seedLo: 1, seedHi: 2, offset: 3, gradX: g });
        out.push(Array.from(pi).join(','), Array.from(new Uint32Array(g.buffer)).join(','));
      }
      console.log(JSON.stringify(out));`;
    const run = (isa?: string) => {
      const env = { ...process.env };
      delete env.NOISED_TOPK_CPU_ISA;
      if (isa) env.NOISED_TOPK_CPU_ISA = isa;
      return spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env, maxBuffer: 1 << 28 });
    };
    const a = run('baseline');
    expect(a.status, a.stderr).toBe(0);
    const b = run();
    expect(b.status, b.stderr).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(1000);
    expect(a.stdout === b.stdout).toBe(true);
  });
});

describe('topk backward: the gradient is the scatter of gradValues', () => {
  it.each(tested)('%s: matches a finite-difference check of sum(values * g) and the explicit scatter', (backend) => {
    const rand = mulberry32(21);
    const shape = [3, 7, 4];
    const x = makeInput(rand, 84, 'normal');
    const r = topk(x, shape, { k: 3, dim: 1, backend });
    const g = new Float32Array(r.values.length).map(() => rand() - 0.5);
    const grad = r.backward(g);
    // Explicit scatter.
    const want = new Float32Array(84);
    for (let o = 0; o < 3; o++)
      for (let j = 0; j < 3; j++)
        for (let i = 0; i < 4; i++) want[(o * 7 + r.indices[(o * 3 + j) * 4 + i]!) * 4 + i] = g[(o * 3 + j) * 4 + i]!;
    expect(Array.from(grad)).toEqual(Array.from(want));
    // Central differences in float64 of f(x) = sum(values(x) * g): exact away from ties.
    const f = (xx: Float32Array) => {
      const rr = topk(xx, shape, { k: 3, dim: 1, backend });
      let s = 0;
      for (let j = 0; j < g.length; j++) s += rr.values[j]! * g[j]!;
      return s;
    };
    const h = 1e-3;
    for (let e = 0; e < 84; e++) {
      const xp = x.slice();
      const xm = x.slice();
      xp[e] = x[e]! + h;
      xm[e] = x[e]! - h;
      expect((f(xp) - f(xm)) / (2 * h)).toBeCloseTo(grad[e]!, 2);
    }
  });

  it('writes a preallocated out (any byteOffset) and rejects one of the wrong length', () => {
    const x = new Float32Array([5, 1, 4, 2]);
    const r = topk(x, [2, 2], { k: 1, backend: 'js' });
    const buf = new Float32Array(10).fill(7);
    const out = buf.subarray(3, 7);
    expect(r.backward(new Float32Array([1, 2]), out)).toBe(out);
    expect(Array.from(out)).toEqual([1, 0, 2, 0]);
    expect(() => r.backward(new Float32Array([1, 2]), new Float32Array(3))).toThrow(RangeError);
    expect(() => r.backward(new Float32Array([1]))).toThrow(/gradOutput has length 1, expected 2/);
  });
});

describe('topk arguments', () => {
  const x = new Float32Array([1, 2, 3, 4, 5, 6]);
  it('rejects bad options with the parameter, the expectation and the value', () => {
    expect(() => topk(x, [2, 3], { k: 4 })).toThrow(/k must be an integer in \[1, 3\] \(the size of dim 1\), got 4/);
    expect(() => topk(x, [2, 3], { k: 0 })).toThrow(RangeError);
    expect(() => topk(x, [2, 3], { k: 1.5 })).toThrow(RangeError);
    expect(() => topk(x, [2, 3], { k: '1' as unknown as number })).toThrow(TypeError);
    expect(() => topk(x, [2, 3], {} as { k: number })).toThrow(/options.k is required/);
    expect(() => topk(x, [2, 3], { k: 1, dim: 2 })).toThrow(/dim must be an integer in \[-2, 1\], got 2/);
    expect(() => topk(x, [2, 3], { k: 1, axis: 0 } as unknown as { k: number })).toThrow(
      /unknown option 'axis'.*'dim'/,
    );
    expect(() => topk(x, [2, 3], { k: 1, sroted: true } as unknown as { k: number })).toThrow(/did you mean 'sorted'/);
    expect(() => topk(x, [2, 3], { k: 1, largest: 1 as unknown as boolean })).toThrow(
      /largest must be true or false, got 1/,
    );
    expect(() => topk(x, [3, 3], { k: 1 })).toThrow(/holds 9 elements but x has length 6/);
    expect(() => topk(new Float32Array([1, NaN]), [2], { k: 1 })).toThrow(
      /x\[1\] is NaN: non-finite inputs are rejected/,
    );
    expect(() => topk(x, [2, 3], { k: 1, out: new Float32Array(3) })).toThrow(/out has length 3, expected 2/);
    expect(() => topk(x, [2, 3], { k: 1, out: x.subarray(0, 2) })).toThrow(/out shares memory with x/);
    expect(() => topk(x, [2, 3], { k: 1, backend: 'cuda' })).toThrow(/not available/);
    expect(() => topk(new Float32Array(0), [2, 0], { k: 1 })).toThrow(/dim 1 is empty/);
  });

  it.each(tested)(
    '%s: a NaN or an infinity anywhere (any dim, sync and async) is the RangeError naming the first one',
    async (backend) => {
      const rand = mulberry32(77);
      for (const [shape, dim] of [
        [[3, 500], 1],
        [[4, 300, 3], 1],
        [[2, 70], 0],
      ] as const) {
        const n = shape.reduce((a: number, b: number) => a * b, 1);
        for (const bad of [NaN, Infinity, -Infinity]) {
          const x = makeInput(rand, n, 'normal');
          const at = Math.floor(rand() * n);
          x[at] = bad;
          const msg = new RegExp(`x\\[${at}\\] is ${String(bad).replace('+', '')}: non-finite inputs are rejected`);
          expect(() => topk(x, [...shape], { k: 2, dim, backend })).toThrow(msg);
          await expect(topkAsync(x, [...shape], { k: 2, dim, backend })).rejects.toThrow(msg);
          expect(topk(x, [...shape], { k: 2, dim, backend, allowNonFinite: true }).values.length).toBeGreaterThan(0);
        }
      }
    },
  );

  it('an empty outer dim gives empty outputs; preallocated outputs are filled in place', async () => {
    for (const backend of tested) {
      const r = topk(new Float32Array(0), [0, 3], { k: 2, backend });
      expect(r.values.length).toBe(0);
      expect(r.shape).toEqual([0, 2]);
      const vals = new Float32Array(8).subarray(2, 4);
      const idx = new Int32Array(6).subarray(1, 3);
      const s = await topkAsync(x, [2, 3], { k: 1, out: vals, indices: idx, backend });
      expect(s.values).toBe(vals);
      expect(Array.from(vals)).toEqual([3, 6]);
      expect(Array.from(idx)).toEqual([2, 2]);
    }
  });

  it.skipIf(!hasCpu)('the native layer repeats the cheap checks and names the operation', () => {
    const addon = loadNative() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const v = new Float32Array(2);
    const i = new Int32Array(2);
    expect(() => addon.topk!(callOf('topk', x, 2, 3, 1, 1, true, true, v, i))).not.toThrow();
    expect(() => addon.topk!(callOf('topk', x, 2, 3, 1, 4, true, true, v, i))).toThrow(
      /^topk: k must be an integer in \[1, 3\]/,
    );
    expect(() => addon.topk!(callOf('topk', x, 2, 4, 1, 1, true, true, v, i))).toThrow(
      /topk: x has length 6, expected 8/,
    );
    expect(() => addon.topk!(callOf('topk', x, 2, 3, 1, 1, 'yes', true, v, i))).toThrow(
      /topk: largest must be a boolean/,
    );
    expect(() => addon.topk!(callOf('topk', x, 2, 3, 1, 1, true, true, x.subarray(0, 2), i))).toThrow(
      /topk: values overlaps x/,
    );
    expect(() => addon.topk!(callOf('topk', x, 2, 3, 1, 1, true, true, v, new Float32Array(2)))).toThrow(TypeError);
    expect(() => addon.topk!(callOf('topk', x, 2, 3, 1))).toThrow(new TypeError('topk: k must be a number'));
    expect(() => addon.topk!(x, 2, 3, 1)).toThrow(/^topk: the call must be an object/);
    expect(() => addon.topk!(callOf('topk', x, 2, 3, 1, 1, true, true, v, i, 'no'))).toThrow(
      /topk: checkFinite must be a boolean/,
    );
    expect(addon.topk!(callOf('topk', x, 2, 3, 1, 1, true, true, v, i, true))).toBe(false);
    expect(
      addon.topk!(callOf('topk', new Float32Array([1, 2, 3, 4, 5, Infinity]), 2, 3, 1, 1, true, true, v, i, true)),
    ).toBe(true);
    expect(
      addon.topk!(callOf('topk', new Float32Array([1, 2, 3, 4, 5, Infinity]), 2, 3, 1, 1, true, true, v, i, false)),
    ).toBe(false);
  });
});

describe("topk on 'cuda'", () => {
  const addon = hasCpu
    ? (loadNative() as unknown as {
        cuda: boolean;
        cudaUsable?: () => boolean;
        topkCuda?: (...a: unknown[]) => boolean;
      })
    : null;
  const usable = addon?.cuda === true && addon.cudaUsable?.() === true;

  it.skipIf(!addon?.cuda || usable)('built with CUDA, no usable device: a clear error, never a crash', async () => {
    expect(() => topk(new Float32Array([1, 2]), [2], { k: 1, backend: 'cuda' })).toThrow(
      /backend 'cuda' is not available/,
    );
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    expect(() =>
      addon!.topkCuda!(callOf('topk', x, 2, 3, 1, 1, true, true, new Float32Array(2), new Int32Array(2), true)),
    ).toThrow(/^topk \(cuda\): cuda\w+/);
  });

  it.skipIf(!usable)(
    'equals the cpu kernel bit for bit (random shapes, dims, k <= 32, ties, NaN; sync and async); k > 32 is a RangeError',
    async () => {
      const rand = mulberry32(99);
      for (let t = 0; t < 200; t++) {
        const c = randomCase(rand);
        const k = Math.min(c.k, 32);
        const n = c.shape.reduce((a, b) => a * b, 1);
        const x = makeInput(rand, n, c.gen);
        const o = { k, dim: c.dim, largest: rand() < 0.5, sorted: rand() < 0.7, allowNonFinite: true };
        const cpu = topk(x, c.shape, { ...o, backend: 'cpu' });
        const gpu =
          t % 2 ? topk(x, c.shape, { ...o, backend: 'cuda' }) : await topkAsync(x, c.shape, { ...o, backend: 'cuda' });
        expect(Array.from(gpu.indices)).toEqual(Array.from(cpu.indices));
        expect(bits(gpu.values)).toEqual(bits(cpu.values));
      }
      expect(() => topk(new Float32Array(40), [40], { k: 33, backend: 'cuda' })).toThrow(
        /k must be at most 32 on backend 'cuda', got 33/,
      );
      expect(() => topk(new Float32Array([1, NaN]), [2], { k: 1, backend: 'cuda' })).toThrow(/x\[1\] is NaN/);
    },
  );
});
