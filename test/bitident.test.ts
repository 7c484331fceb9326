// 'js' and 'cpu' are the same function: identical values, positions and gradients, bit for bit,
// for random seeds, shapes, dims, k, epsilon and thread counts.
import { afterAll, describe, expect, it } from 'vitest';
import { functional, NoisedTopK, setThreads, threads } from '../lib/index.js';
import { loadNative } from '../lib/native.js';
import { normal4, philox4x32_10 } from '../lib/stream.js';
import { mulberry32, randomArray, testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('Philox4x32-10', () => {
  // Known-answer vectors of Random123 (kat_vectors, philox4x32 with 10 rounds).
  const kat: [number[], number[], number[]][] = [
    [
      [0, 0, 0, 0],
      [0, 0],
      [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ];
  it.each(kat)('counter %j key %j', (ctr, key, want) => {
    const out = new Uint32Array(4);
    philox4x32_10(ctr[0]!, ctr[1]!, ctr[2]!, ctr[3]!, key[0]!, key[1]!, out);
    expect(Array.from(out)).toEqual(want);
  });
});

describe.skipIf(!hasCpu)('native stream equals the TypeScript stream', () => {
  it('same Philox words and normals for 20,000 random counters', () => {
    const addon = loadNative()!;
    const rand = mulberry32(7);
    const z = new Float32Array(4);
    const u32 = () => Math.floor(rand() * 2 ** 32) >>> 0;
    for (let n = 0; n < 20000; n++) {
      const args = [u32(), u32(), u32(), u32(), u32(), u32()] as const;
      const got = addon.normals(...args);
      const w = new Uint32Array(4);
      philox4x32_10(args[5], args[3], args[4], args[2], args[0], args[1], w);
      normal4(...args, z, 0);
      expect(got.slice(0, 4)).toEqual(Array.from(w));
      expect(bits(new Float32Array(got.slice(4)))).toEqual(bits(z));
    }
  });
});

describe.skipIf(!hasCpu)('cpu and js agree bit for bit', () => {
  const before = hasCpu ? threads() : 1;
  afterAll(() => setThreads(before));

  it.each([1, 2, 3, 8])('random shapes, dims, k and seeds on %i threads', (t) => {
    setThreads(t);
    const rand = mulberry32(1000 + t);
    for (let trial = 0; trial < 60; trial++) {
      const ndim = 1 + Math.floor(rand() * 3);
      const shape = Array.from({ length: ndim }, () => 1 + Math.floor(rand() * (ndim === 1 ? 300 : 40)));
      const size = shape.reduce((a, b) => a * b, 1);
      const dim = Math.floor(rand() * ndim) - (rand() < 0.5 ? ndim : 0);
      const d = shape[dim < 0 ? dim + ndim : dim]!;
      // k across the whole range, with both selection paths (k <= 32 and above) and k = d.
      const k = trial % 5 === 0 ? d : 1 + Math.floor(rand() * d);
      const epsilon = [0, 1e-3, 0.1, 1, 10][trial % 5]!;
      const nSample = 1 + Math.floor(rand() * 7);
      const seed = BigInt(Math.floor(rand() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(rand() * 2 ** 32));
      const offset = Math.floor(rand() * 2 ** 32);
      // Coarse values make ties common, so the tie rule is exercised.
      const x = randomArray(rand, size, 3).map((v) => (trial % 3 === 0 ? Math.round(v) : v));
      const opts = { k, epsilon, dim, seed, offset, nSample };
      const a = functional.noisedTopK(x, shape, { ...opts, backend: 'js' });
      const b = functional.noisedTopK(x, shape, { ...opts, backend: 'cpu' });
      expect(bits(b.values)).toEqual(bits(a.values));
      expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
      const g = randomArray(rand, a.values.length, 2);
      expect(bits(b.backward(g))).toEqual(bits(a.backward(g)));
    }
  });

  it('explicit noise, wide rows and large k (selection by nth_element)', () => {
    const rand = mulberry32(99);
    for (const [rows, d, k] of [
      [3, 5000, 4000],
      [2, 1000, 33],
      [4, 257, 257],
      [1, 100000, 7],
    ] as const) {
      const x = randomArray(rand, rows * d);
      const noise = randomArray(rand, rows * d * 3);
      const a = functional.noisedTopK(x, [rows, d], { k, epsilon: 0.5, noise, backend: 'js' });
      const b = functional.noisedTopK(x, [rows, d], { k, epsilon: 0.5, noise, backend: 'cpu' });
      expect(bits(b.values)).toEqual(bits(a.values));
      expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
    }
  });

  it('seeded module calls: same sequence of values on both backends, and a new value each call', () => {
    const x = randomArray(mulberry32(5), 64 * 50);
    const js = new NoisedTopK({ k: 5, seed: 42, backend: 'js' });
    const cpu = new NoisedTopK({ k: 5, seed: 42, backend: 'cpu' });
    let previous: number[] | null = null;
    for (let call = 0; call < 4; call++) {
      const a = js.forward(x, [64, 50]);
      const b = cpu.forward(x, [64, 50]);
      expect(bits(b.values)).toEqual(bits(a.values));
      expect(bits(b.backward())).toEqual(bits(a.backward()));
      if (previous) expect(bits(a.values)).not.toEqual(previous);
      previous = bits(a.values);
    }
  });

  it('epsilon so large that eps * z overflows to infinity (found by libFuzzer)', () => {
    const rand = mulberry32(17);
    for (let trial = 0; trial < 1500; trial++) {
      const d = 2 + (trial % 9);
      const inner = 1 + (trial % 4);
      const x = randomArray(rand, 2 * d * inner, trial % 3 === 0 ? 1e38 : 3);
      const epsilon = [3.4028234663852886e38, 1e38, 1e30, 1e20][trial % 4]!;
      const opts = { k: 1 + (trial % d), epsilon, dim: 1, seed: trial, offset: 0, nSample: 2 + (trial % 3) };
      const a = functional.noisedTopK(x, [2, d, inner], { ...opts, backend: 'js' });
      const b = functional.noisedTopK(x, [2, d, inner], { ...opts, backend: 'cpu' });
      expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
      expect(bits(b.values)).toEqual(bits(a.values));
    }
    // The libFuzzer case: layout [2, 4, 4], k = 3, eps = FLT_MAX.
    const x = randomArray(mulberry32(1), 32, 1);
    for (let seed = 0; seed < 200; seed++) {
      const o = { k: 3, epsilon: 3.4028234663852886e38, dim: 1, seed, offset: 0, nSample: 2 };
      expect(Array.from(functional.noisedTopK(x, [2, 4, 4], { ...o, backend: 'cpu' }).indices)).toEqual(
        Array.from(functional.noisedTopK(x, [2, 4, 4], { ...o, backend: 'js' }).indices),
      );
    }
  });

  it('NaN, infinities and signed zeros follow the same rank order with allowNonFinite', () => {
    const special = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 3.5];
    const rand = mulberry32(3);
    for (let trial = 0; trial < 200; trial++) {
      const d = 1 + Math.floor(rand() * 9);
      const x = Float32Array.from({ length: 4 * d }, () => special[Math.floor(rand() * special.length)]!);
      const k = 1 + Math.floor(rand() * d);
      const opts = { k, epsilon: trial % 2 ? 0 : 0.5, seed: trial, offset: 0, nSample: 3, allowNonFinite: true };
      const a = functional.noisedTopK(x, [4, d], { ...opts, backend: 'js' });
      const b = functional.noisedTopK(x, [4, d], { ...opts, backend: 'cpu' });
      expect(bits(b.values)).toEqual(bits(a.values));
      expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
    }
  });
});
