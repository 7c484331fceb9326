// The addon's own guards (docs/reliability.md; docs/limits.md): outputs that share memory with
// an input by address, including through two SharedArrayBuffer objects over the same memory
// (structuredClone, postMessage), which JavaScript cannot tell apart; overlap(), the addon's
// answer to "do these views share a byte"; the positions size limit (rows * nSample <= 2^28).
import { describe, expect, it } from 'vitest';
import { functional, NoisedTopK } from '../lib/index.js';
import { loadNative } from '../lib/native.js';
import { MAX_OUTPUT_ELEMENTS } from '../lib/validate.js';
import { bits } from './fuzz-kit.js';
import { backwardCall, forwardCall } from './addon-calls.js';
import { testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');
const addon = hasCpu ? loadNative()! : null;

/** Two SharedArrayBuffer objects over the same bytes, as postMessage or structuredClone give. */
function twins(bytes: number): [SharedArrayBuffer, SharedArrayBuffer] {
  const a = new SharedArrayBuffer(bytes);
  const b = structuredClone(a);
  expect(b).not.toBe(a); // distinct objects: `a.buffer === b.buffer` tests cannot see the sharing
  new Uint8Array(a)[0] = 7;
  expect(new Uint8Array(b)[0]).toBe(7);
  new Uint8Array(a)[0] = 0;
  return [a, b];
}

// x [rows, d], reduced over d, nSample samples.
const rows = 4;
const d = 8;
const S = 2;
const xData = Float32Array.from({ length: rows * d }, (_, i) => Math.sin(i * 1.7) * 3);
const noiseData = Float32Array.from({ length: rows * d * S }, (_, i) => Math.cos(i * 0.9));
const lengths = { x: rows * d, noise: rows * d * S, values: rows, positions: rows * S, rowScale: rows, grad: rows * d };
type Name = keyof typeof lengths;
const make = (name: Name, buf?: SharedArrayBuffer, byteOffset = 0): Float32Array | Int32Array => {
  if (!buf) return name === 'positions' ? new Int32Array(lengths[name]) : new Float32Array(lengths[name]);
  return name === 'positions'
    ? new Int32Array(buf, byteOffset, lengths[name])
    : new Float32Array(buf, byteOffset, lengths[name]);
};

/**
 * Arrays for one call: `out` and `input` are views at byte 0 of twin SharedArrayBuffers (so they
 * overlap by address), or at disjoint byte ranges of them when `disjoint`; the rest are plain.
 */
function arrays(out: Name, input: Name, disjoint = false): Record<Name, Float32Array | Int32Array> {
  const inBytes = 4 * lengths[input];
  const [a, b] = twins(inBytes + 4 * lengths[out]);
  const made = {} as Record<Name, Float32Array | Int32Array>;
  for (const name of Object.keys(lengths) as Name[]) made[name] = make(name);
  made[input] = make(input, a);
  made[out] = make(out, b, disjoint ? inBytes : 0);
  made.x.set(xData);
  made.noise.set(noiseData);
  made.rowScale.set([1, -2, 0.5, 3]);
  if (input === 'positions') made.positions.set([0, 1, 2, 3, 4, 5, 6, 7]);
  return made;
}

type Arrays = Record<Name, Float32Array | Int32Array>;
const forwardArgs = (m: Arrays) =>
  forwardCall(
    m.x as Float32Array,
    1,
    d,
    rows,
    2,
    0.5,
    S,
    m.noise as Float32Array,
    0,
    0,
    0,
    m.values as Float32Array,
    m.positions as Int32Array,
  );
const backwardArgs = (m: Arrays) =>
  backwardCall(m.positions as Int32Array, m.rowScale as Float32Array, rows, d, 1, S, m.grad as Float32Array);

// [output, input, the operation's message]. Every output against every input and each other.
const forwardPairs: [Name, Name, RegExp][] = [
  ['values', 'x', /^noisedTopK: values overlaps x$/],
  ['values', 'noise', /^noisedTopK: values overlaps noise$/],
  ['positions', 'x', /^noisedTopK: positions overlaps x$/],
  ['positions', 'noise', /^noisedTopK: positions overlaps noise$/],
  ['positions', 'values', /^noisedTopK: values overlaps positions$/],
];
const backwardPairs: [Name, Name, RegExp][] = [
  ['grad', 'positions', /^noisedTopKBackward: grad overlaps positions$/],
  ['grad', 'rowScale', /^noisedTopKBackward: grad overlaps rowScale$/],
];

async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe.skipIf(!hasCpu)('outputs over a SharedArrayBuffer twin of an input, addon called directly', () => {
  const entries = [
    ['forward', forwardPairs, (m: Record<Name, Float32Array | Int32Array>) => addon!.forward(forwardArgs(m))],
    ['forwardAsync', forwardPairs, (m: Record<Name, Float32Array | Int32Array>) => addon!.forwardAsync(forwardArgs(m))],
    ['backward', backwardPairs, (m: Record<Name, Float32Array | Int32Array>) => addon!.backward(backwardArgs(m))],
    [
      'backwardAsync',
      backwardPairs,
      (m: Record<Name, Float32Array | Int32Array>) => addon!.backwardAsync(backwardArgs(m)),
    ],
  ] as const;
  for (const [entry, pairs, call] of entries) {
    it.each(pairs)(`${entry}: %s over the memory of %s is a RangeError naming both`, async (out, input, message) => {
      const m = arrays(out, input);
      const before = bits(m[input]);
      const err = await thrown(() => call(m));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(message);
      expect(bits(m[input])).toEqual(before); // refused before anything was written
    });

    it.each(pairs)(
      `${entry}: %s and %s on twin buffers but disjoint bytes compute as plain arrays do`,
      async (out, input) => {
        const m = arrays(out, input, true);
        const plain = arrays(out, input, true);
        for (const name of Object.keys(lengths) as Name[]) plain[name] = m[name].slice();
        await call(m);
        await call(plain);
        expect(bits(m[out])).toEqual(bits(plain[out]));
      },
    );
  }
});

describe.skipIf(!hasCpu)("outputs over a SharedArrayBuffer twin of an input, through the API on 'cpu'", () => {
  // The TypeScript layer may catch these first (as "out shares memory with x"), the addon
  // otherwise ("noisedTopK: values overlaps x"): either way a RangeError naming both.
  const named = (pub: [string, string], nat: [string, string]) =>
    new RegExp(`${pub[0]} shares memory with ${pub[1]}|${nat[0]} overlaps ${nat[1]}`);
  const shape = [rows, d];

  const forwardCases: [string, (sync: boolean) => unknown, RegExp][] = [
    [
      'out over x',
      (sync) => {
        const [a, b] = twins(4 * rows * d);
        const x = new Float32Array(a);
        x.set(xData);
        const op = new NoisedTopK({ k: 2, seed: 1, nSample: S, backend: 'cpu' });
        const out = new Float32Array(b, 0, rows);
        return sync ? op.forward(x, shape, { out }) : op.forwardAsync(x, shape, { out });
      },
      named(['out', 'x'], ['values', 'x']),
    ],
    [
      'positions over x',
      (sync) => {
        const [a, b] = twins(4 * rows * d);
        const x = new Float32Array(a);
        x.set(xData);
        const op = new NoisedTopK({ k: 2, seed: 1, nSample: S, backend: 'cpu' });
        const positions = new Int32Array(b, 4, rows * S);
        return sync ? op.forward(x, shape, { indices: positions }) : op.forwardAsync(x, shape, { indices: positions });
      },
      named(['indices', 'x'], ['positions', 'x']),
    ],
    [
      'out over noise',
      (sync) => {
        const [a, b] = twins(4 * rows * d * S);
        const noise = new Float32Array(a);
        noise.set(noiseData);
        const out = new Float32Array(b, 8, rows);
        const opts = { k: 2, noise, backend: 'cpu', out } as const;
        return sync ? functional.noisedTopK(xData, shape, opts) : functional.noisedTopKAsync(xData, shape, opts);
      },
      named(['out', 'noise'], ['values', 'noise']),
    ],
    [
      'positions over noise',
      (sync) => {
        const [a, b] = twins(4 * rows * d * S);
        const noise = new Float32Array(a);
        noise.set(noiseData);
        const positions = new Int32Array(b, 16, rows * S);
        const opts = { k: 2, noise, backend: 'cpu', indices: positions } as const;
        return sync ? functional.noisedTopK(xData, shape, opts) : functional.noisedTopKAsync(xData, shape, opts);
      },
      named(['indices', 'noise'], ['positions', 'noise']),
    ],
    [
      'out over positions',
      (sync) => {
        const [a, b] = twins(4 * rows * S);
        const op = new NoisedTopK({ k: 2, seed: 1, nSample: S, backend: 'cpu' });
        const outputs = { out: new Float32Array(a, 0, rows), indices: new Int32Array(b) };
        return sync ? op.forward(xData, shape, outputs) : op.forwardAsync(xData, shape, outputs);
      },
      named(['out', 'indices'], ['values', 'positions']),
    ],
  ];

  for (const sync of [true, false]) {
    it.each(forwardCases)(`forward${sync ? '' : 'Async'}: %s`, async (_name, run, message) => {
      const err = await thrown(() => run(sync));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(message);
    });
  }

  for (const sync of [true, false]) {
    it(`backward${sync ? '' : 'Async'}: out over the positions the forward wrote, out over gradOutput`, async () => {
      const op = new NoisedTopK({ k: 2, seed: 1, nSample: S, backend: 'cpu' });
      // positions (the caller's, outputs.positions) at the start of one buffer, out over its twin.
      const [c, e] = twins(4 * rows * d);
      const r = op.forward(xData, shape, { indices: new Int32Array(c, 0, rows * S) });
      const kept = bits(r.indices);
      const err = await thrown(() =>
        sync ? r.backward(undefined, new Float32Array(e)) : r.backwardAsync(undefined, new Float32Array(e)),
      );
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(named(['out', 'indices'], ['grad', 'positions']));
      expect(bits(r.indices)).toEqual(kept); // not overwritten by a gradient

      const [g, h] = twins(4 * rows * d);
      const gradOutput = new Float32Array(g, 0, rows).fill(1);
      const err2 = await thrown(() =>
        sync ? r.backward(gradOutput, new Float32Array(h)) : r.backwardAsync(gradOutput, new Float32Array(h)),
      );
      expect(err2).toBeInstanceOf(RangeError);
      expect((err2 as Error).message).toMatch(named(['out', 'gradOutput'], ['grad', 'rowScale']));
    });
  }
});

describe.skipIf(!hasCpu)('overlap(a, b)', () => {
  it('answers by address: twin SharedArrayBuffers, views, element types, DataViews', () => {
    const ov = addon!.overlap!;
    const [a, b] = twins(64);
    expect(ov(new Float32Array(a), new Int32Array(b))).toBe(true);
    expect(ov(new Float32Array(a, 0, 4), new Uint8Array(b, 15, 1))).toBe(true);
    expect(ov(new Float32Array(a, 0, 4), new Uint8Array(b, 16, 1))).toBe(false); // adjacent
    expect(ov(new DataView(a, 8, 8), new Float64Array(b, 8, 1))).toBe(true);
    expect(ov(new Float32Array(a, 0, 0), new Float32Array(b))).toBe(false); // empty shares nothing
    expect(ov(new Float32Array(a), new Float32Array(new SharedArrayBuffer(64)))).toBe(false);
    const plain = new Float32Array(16);
    expect(ov(plain.subarray(2, 6), plain.subarray(5, 9))).toBe(true);
    expect(ov(plain.subarray(2, 6), plain.subarray(6, 9))).toBe(false);
    expect(ov(plain, new Float32Array(16))).toBe(false);
    const detached = new Float32Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(ov(detached, plain)).toBe(false);
  });

  it('anything but an ArrayBufferView is a TypeError', () => {
    const ov = addon!.overlap as (...a: unknown[]) => boolean;
    expect(() => ov(new ArrayBuffer(8), new Float32Array(2))).toThrow(TypeError);
    expect(() => ov(new Float32Array(2), [1, 2])).toThrow(/overlap: b must be an ArrayBufferView/);
    expect(() => ov()).toThrow(/overlap: a must be an ArrayBufferView/);
  });
});

describe.skipIf(!hasCpu)('positions limit: rows * nSample <= 2^28', () => {
  it('is the same number in C++ (ntk::kMaxPositions) and in lib/validate.ts', () => {
    expect(addon!.maxPositions).toBe(MAX_OUTPUT_ELEMENTS);
  });

  it('forward and backward refuse a larger positions before reading any array', () => {
    const x = new Float32Array(4);
    const v = new Float32Array(1);
    const p = new Int32Array(1);
    // rows = 2^20 * 2^9 = 2^29 with nSample 1; rows = 2^24 with nSample 32 = 2^29.
    for (const [outer, inner, nSample] of [
      [2 ** 20, 2 ** 9, 1],
      [2 ** 12, 2 ** 12, 32],
      [2 ** 28 + 1, 1, 1],
    ] as [number, number, number][]) {
      const want = new RegExp(
        `positions would hold rows \\* nSample = ${outer! * inner! * nSample!} elements, above 2\\^28`,
      );
      expect(() => addon!.forward(forwardCall(x, outer, 1, inner, 1, 1, nSample, null, 0, 0, 0, v, p))).toThrow(want);
      expect(() => addon!.forwardAsync(forwardCall(x, outer, 1, inner, 1, 1, nSample, null, 0, 0, 0, v, p))).toThrow(
        RangeError,
      );
      expect(() => addon!.backward(backwardCall(p, v, outer, 1, inner, nSample, x))).toThrow(want);
      expect(() => addon!.backwardAsync(backwardCall(p, v, outer, 1, inner, nSample, x))).toThrow(RangeError);
    }
    // rows beyond 2^28 whatever nSample (no overflow in the product), in backward.
    expect(() => addon!.backward(backwardCall(p, v, 2 ** 40, 1, 2 ** 12, 2 ** 24, x))).toThrow(
      /positions would hold rows \* nSample = more than 2\^64 elements/,
    );
  });

  it('exactly 2^28 passes the limit (and then meets the length check)', () => {
    const x = new Float32Array(4);
    expect(() =>
      addon!.forward(
        forwardCall(x, 2 ** 14, 1, 2 ** 14, 1, 1, 1, null, 0, 0, 0, new Float32Array(1), new Int32Array(1)),
      ),
    ).toThrow(/x has length 4, expected 268435456/);
  });
});

describe.skipIf(!hasCpu)('out of memory inside the kernels, on several pool threads', () => {
  // failNextChunks(n): the next n chunks of kernel work fail as a scratch allocation would. With
  // 2 threads both fail at once (the flag they set was a plain bool in backward: a data race
  // that test:tsan reports). The call must fail as a whole: an Error naming the operation, never
  // a RangeError and never a partly written answer; the next call must be right.
  // Wide enough rows that each chunk takes a while, so both threads are in their chunks when
  // they fail (chunks fail at their end).
  const rowsN = 256;
  const dN = 4096;
  const sameBits = (a: ArrayBufferView, b: ArrayBufferView) =>
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const x = Float32Array.from({ length: rowsN * dN }, (_, i) => Math.sin(i * 0.731) * 2);
  const fwd = (values: Float32Array, positions: Int32Array) =>
    forwardCall(x, rowsN, dN, 1, 3, 1, 1, null, 5, 6, 7, values, positions);
  const want = {
    values: new Float32Array(rowsN),
    positions: new Int32Array(rowsN),
    grad: new Float32Array(rowsN * dN),
  };
  const scale = Float32Array.from({ length: rowsN }, (_, i) => 1 + (i % 3));
  let before = 1;

  it('forward and backward, sync and async: Error "<op>: out of memory", then the next call is right', async () => {
    before = addon!.threads();
    addon!.setThreads(2);
    try {
      addon!.forward(fwd(want.values, want.positions));
      addon!.backward(backwardCall(want.positions, scale, rowsN, dN, 1, 1, want.grad));
      for (const failing of [1, 1000]) {
        for (const sync of [true, false]) {
          const values = new Float32Array(rowsN);
          const positions = new Int32Array(rowsN);
          addon!.failNextChunks!(failing);
          const err = await thrown(() =>
            sync ? addon!.forward(fwd(values, positions)) : addon!.forwardAsync(fwd(values, positions)),
          );
          addon!.failNextChunks!(0);
          expect(err).toBeInstanceOf(Error);
          expect(err).not.toBeInstanceOf(RangeError);
          expect((err as Error).message).toBe('noisedTopK: out of memory');
          if (!sync) expect(sameBits(values, new Float32Array(rowsN))).toBe(true); // async: nothing written
          await (sync ? addon!.forward(fwd(values, positions)) : addon!.forwardAsync(fwd(values, positions)));
          expect(sameBits(values, want.values)).toBe(true);
          expect(sameBits(positions, want.positions)).toBe(true);

          const grad = new Float32Array(rowsN * dN);
          addon!.failNextChunks!(failing);
          const gErr = await thrown(() =>
            sync
              ? addon!.backward(backwardCall(want.positions, scale, rowsN, dN, 1, 1, grad))
              : addon!.backwardAsync(backwardCall(want.positions, scale, rowsN, dN, 1, 1, grad)),
          );
          addon!.failNextChunks!(0);
          expect(gErr).toBeInstanceOf(Error);
          expect(gErr).not.toBeInstanceOf(RangeError);
          expect((gErr as Error).message).toBe('noisedTopKBackward: out of memory');
          await (sync
            ? addon!.backward(backwardCall(want.positions, scale, rowsN, dN, 1, 1, grad))
            : addon!.backwardAsync(backwardCall(want.positions, scale, rowsN, dN, 1, 1, grad)));
          expect(sameBits(grad, want.grad)).toBe(true);
        }
      }
    } finally {
      addon!.failNextChunks!(0);
      addon!.setThreads(before);
    }
  }, 120_000);

  it("through the API on 'cpu': an Error, not a RangeError, for forward and backward", async () => {
    addon!.setThreads(2);
    try {
      const op = new NoisedTopK({ k: 3, seed: 9, nSample: 1, backend: 'cpu' });
      addon!.failNextChunks!(1000);
      const e1 = await thrown(() => op.forward(x, [rowsN, dN]));
      const e2 = await thrown(() => op.forwardAsync(x, [rowsN, dN]));
      addon!.failNextChunks!(0);
      for (const e of [e1, e2]) {
        expect(e).toBeInstanceOf(Error);
        expect(e).not.toBeInstanceOf(RangeError);
        expect((e as Error).message).toMatch(/noisedTopK: out of memory/);
      }
      const r = op.forward(x, [rowsN, dN]);
      addon!.failNextChunks!(1000);
      const e3 = await thrown(() => r.backwardAsync());
      addon!.failNextChunks!(0);
      expect((e3 as Error).message).toMatch(/noisedTopKBackward: out of memory/);
      // The two failed calls took stream offsets 0 and 1 (each call takes the next, in call order).
      const ref = new NoisedTopK({ k: 3, seed: 9, nSample: 1, backend: 'js' });
      ref.forward(x, [rowsN, dN]);
      ref.forward(x, [rowsN, dN]);
      const refR = ref.forward(x, [rowsN, dN]);
      expect(sameBits(r.values, refR.values)).toBe(true);
      expect(sameBits(r.backward(), refR.backward())).toBe(true);
    } finally {
      addon!.failNextChunks!(0);
      addon!.setThreads(before);
    }
  }, 120_000);
});
