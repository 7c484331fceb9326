// Bad inputs get the documented error type and a message naming the parameter, what was
// expected and what came in. The C++ guards are tested directly as well.
import { describe, expect, it } from 'vitest';
import { BalNoisedTopK, functional, ImbalNoisedTopK, ldamMargins, NoisedTopK } from '../lib/index.js';
import type { BackwardCall, ForwardCall } from '../lib/addon.js';
import { loadNative } from '../lib/native.js';
import { backwardCall, forwardCall } from './addon-calls.js';
import { testedBackends } from './helpers.js';

const x = new Float32Array(12);
const shape = [3, 4];

type Case = [string, () => unknown, ErrorConstructor, RegExp];

describe.each(testedBackends())('argument errors on %s', (backend) => {
  const op = () => new NoisedTopK({ k: 2, seed: 0, backend });
  const bal = () => new BalNoisedTopK({ k: 2, seed: 0, backend });
  const cases: Case[] = [
    [
      'x not a typed array',
      () => op().forward([1, 2, 3] as unknown as Float32Array, [3]),
      TypeError,
      /x must be a Float32Array, got an Array of length 3/,
    ],
    [
      'x a Float64Array',
      () => op().forward(new Float64Array(3) as unknown as Float32Array, [3]),
      TypeError,
      /x must be a Float32Array, got a Float64Array/,
    ],
    ['shape not an array', () => op().forward(x, 12 as unknown as number[]), TypeError, /shape must be an array/],
    [
      'length vs shape',
      () => op().forward(x, [5, 4]),
      RangeError,
      /shape \[5, 4\] holds 20 elements but x has length 12/,
    ],
    [
      'negative dim size',
      () => op().forward(x, [-3, -4]),
      RangeError,
      /shape\[0\] must be a non-negative integer, got -3/,
    ],
    [
      'fractional dim size',
      () => op().forward(x, [1.5, 8]),
      RangeError,
      /shape\[0\] must be a non-negative integer, got 1.5/,
    ],
    [
      'k above the dim size',
      () => new NoisedTopK({ k: 5, seed: 0, backend }).forward(x, shape),
      RangeError,
      /k must be an integer in \[1, 4\] \(the size of dim 1\), got 5/,
    ],
    ['k zero', () => new NoisedTopK({ k: 0, backend }), RangeError, /k must be an integer in \[1, \d+\], got 0/],
    ['k fractional', () => new NoisedTopK({ k: 1.5, backend }), RangeError, /k must be an integer .* got 1.5/],
    [
      'k a string',
      () => new NoisedTopK({ k: '2' as unknown as number, backend }),
      TypeError,
      /k must be a number, got "2"/,
    ],
    ['k missing', () => new NoisedTopK({} as { k: number }), TypeError, /options.k is required/],
    [
      'epsilon negative',
      () => new NoisedTopK({ k: 1, epsilon: -1, backend }),
      RangeError,
      /epsilon must be a finite number >= 0, got -1/,
    ],
    [
      'epsilon NaN',
      () => new NoisedTopK({ k: 1, epsilon: NaN, backend }),
      RangeError,
      /epsilon must be a finite number >= 0, got NaN/,
    ],
    [
      'epsilon Infinity',
      () => new NoisedTopK({ k: 1, epsilon: Infinity, backend }),
      RangeError,
      /epsilon .* got Infinity/,
    ],
    [
      'epsilon above float32',
      () => new NoisedTopK({ k: 1, epsilon: 1e39, backend }),
      RangeError,
      /epsilon must be a finite number/,
    ],
    [
      'nSample zero',
      () => new NoisedTopK({ k: 1, nSample: 0, backend }),
      RangeError,
      /nSample must be an integer in \[1, 16777216\], got 0/,
    ],
    [
      'dim out of range',
      () => new NoisedTopK({ k: 1, dim: 2, seed: 0, backend }).forward(x, shape),
      RangeError,
      /dim must be an integer in \[-2, 1\], got 2/,
    ],
    [
      'dim of a scalar',
      () => new NoisedTopK({ k: 1, seed: 0, backend }).forward(new Float32Array(1), []),
      RangeError,
      /at least one dimension/,
    ],
    [
      'seed negative',
      () => new NoisedTopK({ k: 1, seed: -1, backend }),
      RangeError,
      /seed must be a non-negative safe integer/,
    ],
    [
      'seed too large bigint',
      () => new NoisedTopK({ k: 1, seed: 2n ** 64n, backend }),
      RangeError,
      /seed must be in \[0, 2\^64\)/,
    ],
    [
      'backend unknown',
      () => new NoisedTopK({ k: 1, backend: 'gpu' as 'cpu' }),
      RangeError,
      /backend must be one of 'auto', 'js', 'cpu', 'cuda', got "gpu"/,
    ],
    [
      'NaN input',
      () => op().forward(Float32Array.of(0, 1, NaN, 2), [4]),
      RangeError,
      /x\[2\] is NaN: non-finite inputs are rejected/,
    ],
    ['Infinity input', () => op().forward(Float32Array.of(0, -Infinity, 1, 2), [4]), RangeError, /x\[1\] is -Infinity/],
    [
      'gradOutput length',
      () => op().forward(x, shape).backward(new Float32Array(2)),
      RangeError,
      /gradOutput has length 2, expected 3/,
    ],
    [
      'gradOutput type',
      () =>
        op()
          .forward(x, shape)
          .backward([1, 1, 1] as unknown as Float32Array),
      TypeError,
      /gradOutput must be a Float32Array/,
    ],
    [
      'out wrong length',
      () => op().forward(x, shape, { out: new Float32Array(2) }),
      RangeError,
      /out has length 2, expected 3/,
    ],
    [
      'indices wrong type',
      () => op().forward(x, shape, { indices: new Float32Array(15) as unknown as Int32Array }),
      TypeError,
      /indices must be a Int32Array/,
    ],
    ['out aliases x', () => op().forward(x, shape, { out: x.subarray(0, 3) }), RangeError, /out shares memory with x/],
    [
      'backward out aliases gradOutput',
      () => {
        const r = op().forward(x, shape);
        const buf = new Float32Array(12);
        return r.backward(buf.subarray(0, 3), buf);
      },
      RangeError,
      /out shares memory with gradOutput/,
    ],
    [
      'functional seed without offset',
      () => functional.noisedTopK(x, shape, { k: 1, seed: 3, backend }),
      TypeError,
      /options.seed needs options.offset/,
    ],
    [
      'functional noise length',
      () => functional.noisedTopK(x, shape, { k: 1, noise: new Float32Array(13), backend }),
      RangeError,
      /noise has length 13, expected a positive multiple of x.length \(12\)/,
    ],
    [
      'functional NaN noise',
      () =>
        functional.noisedTopK(x, shape, {
          k: 1,
          noise: Float32Array.from({ length: 12 }, (_, i) => (i === 7 ? NaN : 0)),
          backend,
        }),
      RangeError,
      /noise\[7\] is NaN/,
    ],
    [
      'loss shape not 2-D',
      () => bal().forward(x, [0, 1, 2], [12]),
      RangeError,
      /shape must be \[batch, classes\], got \[12\]/,
    ],
    [
      'loss k + 1 > D',
      () => new BalNoisedTopK({ k: 4, backend }).forward(x, [0, 1, 2], shape),
      RangeError,
      /k must be an integer in \[1, 3\] \(k \+ 1 <= classes = 4\), got 4/,
    ],
    ['labels length', () => bal().forward(x, [0, 1], shape), RangeError, /labels has length 2, expected 3/],
    [
      'labels out of range',
      () => bal().forward(x, [0, 4, 1], shape),
      RangeError,
      /labels\[1\] must be an integer in \[0, 3\], got 4/,
    ],
    [
      'labels negative',
      () => bal().forward(x, Int32Array.of(0, -1, 1), shape),
      RangeError,
      /labels\[1\] must be an integer in \[0, 3\], got -1/,
    ],
    ['labels fractional', () => bal().forward(x, [0, 1.5, 1], shape), RangeError, /labels\[1\] .* got 1.5/],
    ['labels NaN', () => bal().forward(x, [0, NaN, 1], shape), RangeError, /labels\[1\] .* got NaN/],
    [
      'labels a string',
      () => bal().forward(x, '012' as unknown as number[], shape),
      TypeError,
      /labels must be an Int32Array or an array of integers, got "012"/,
    ],
    [
      'labels Float32Array',
      () => bal().forward(x, new Float32Array(3) as unknown as number[], shape),
      TypeError,
      /labels must be an Int32Array/,
    ],
    [
      'imbal clsNumList missing',
      () => new ImbalNoisedTopK({ k: 1, maxM: 0.3 } as never),
      TypeError,
      /clsNumList is required/,
    ],
    [
      'imbal clsNumList zero count',
      () => new ImbalNoisedTopK({ k: 1, maxM: 0.3, clsNumList: [3, 0], backend }),
      RangeError,
      /clsNumList\[1\] must be a positive count, got 0/,
    ],
    [
      'imbal margins vs classes',
      () => new ImbalNoisedTopK({ k: 1, maxM: 0.3, clsNumList: [3, 4], seed: 0, backend }).forward(x, [0, 1, 1], shape),
      RangeError,
      /^clsNumList has 2 classes, expected 4 \(scores has shape \[3, 4\]\)/,
    ],
    ['ldamMargins maxM NaN', () => ldamMargins([1, 2], NaN), RangeError, /maxM must be a finite number, got NaN/],
    ['options not an object', () => new NoisedTopK(3 as never), TypeError, /options must be an options object, got 3/],
  ];
  it.each(cases)('%s', (_name, fn, type, message) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  });

  it('async forms reject with the same errors', async () => {
    await expect(op().forwardAsync(x, [5, 4])).rejects.toThrow(RangeError);
    await expect(bal().forwardAsync(x, [0, 9, 1], shape)).rejects.toThrow(/labels\[1\]/);
  });
});

describe.skipIf(!testedBackends().includes('cpu'))('C++ guards, called directly', () => {
  const addon = loadNative()!;
  const good = (): Record<string, unknown> => ({
    ...forwardCall(new Float32Array(12), 3, 4, 1, 2, 1, 2, null, 0, 0, 0, new Float32Array(3), new Int32Array(6)),
  });
  const withArg = (field: string, v: unknown) => ({ ...good(), [field]: v });
  const without = (field: string) => {
    const a = good();
    delete a[field];
    return a;
  };
  const cases: [string, unknown, ErrorConstructor, RegExp][] = [
    ['no call object', undefined, TypeError, /noisedTopK: the call must be an object/],
    ['positional arguments', new Float32Array(1), TypeError, /noisedTopK: the call must be an object/],
    ['x missing', without('x'), TypeError, /noisedTopK: x must be a Float32Array/],
    ['k missing', without('k'), TypeError, /noisedTopK: k must be a number/],
    ['positions missing', without('positions'), TypeError, /noisedTopK: positions must be a Int32Array/],
    ['seedHi a string', withArg('seedHi', '0'), TypeError, /noisedTopK: seedHi must be a number/],
    ['noise an Array', withArg('noise', [0]), TypeError, /noisedTopK: noise must be a Float32Array or null/],
    ['x not Float32Array', withArg('x', new Float64Array(12)), TypeError, /noisedTopK: x must be a Float32Array/],
    ['x length', withArg('x', new Float32Array(11)), RangeError, /noisedTopK: x has length 11, expected 12/],
    ['k zero', withArg('k', 0), RangeError, /noisedTopK: k must be an integer in \[1, 4\]/],
    ['k above d', withArg('k', 5), RangeError, /k must be an integer in \[1, 4\]/],
    ['k fractional', withArg('k', 1.5), RangeError, /k must be an integer/],
    ['k a string', withArg('k', '1'), TypeError, /k must be a number/],
    ['epsilon NaN', withArg('epsilon', NaN), RangeError, /epsilon must be finite and >= 0/],
    ['epsilon negative', withArg('epsilon', -1), RangeError, /epsilon must be finite and >= 0/],
    ['nSample zero', withArg('nSample', 0), RangeError, /nSample must be an integer in \[1, 16777216\]/],
    ['noise length', withArg('noise', new Float32Array(5)), RangeError, /noise has length 5, expected 24/],
    ['values length', withArg('values', new Float32Array(4)), RangeError, /values has length 4, expected 3/],
    ['positions type', withArg('positions', new Uint32Array(6)), TypeError, /positions must be a Int32Array/],
    ['d zero', withArg('d', 0), RangeError, /d must be an integer in \[1, 2147483647\]/],
    [
      'outer * d * inner overflows 64 bits',
      { ...good(), outer: 2 ** 53 - 1, inner: 2 ** 53 - 1 },
      RangeError,
      /noisedTopK: outer \* d \* inner overflows/,
    ],
    ['more rows than the stream counts', withArg('outer', 2 ** 33), RangeError, /more than 2\^32 - 1 rows/],
    [
      'values overlaps x',
      (() => {
        const buf = new Float32Array(15);
        return { ...good(), x: buf.subarray(0, 12), values: buf.subarray(10, 13) };
      })(),
      RangeError,
      /noisedTopK: values overlaps x/,
    ],
  ];
  it.each(cases)('forward: %s', (_name, call, type, message) => {
    expect(() => addon.forward(call as ForwardCall)).toThrow(type);
    expect(() => addon.forward(call as ForwardCall)).toThrow(message);
  });

  it('backward: positions out of range and bad lengths', () => {
    const call = (positions: Int32Array, grad = new Float32Array(12)) =>
      backwardCall(positions, new Float32Array(3), 3, 4, 1, 2, grad);
    expect(() => addon.backward(call(Int32Array.of(0, 1, 2, 3, 4, 0)))).toThrow(
      /noisedTopKBackward: positions\[4\] is outside \[0, d\)/,
    );
    expect(() => addon.backward(call(Int32Array.of(0, 1, -1, 3, 0, 0)))).toThrow(RangeError);
    expect(() => addon.backward(call(new Int32Array(5)))).toThrow(/positions has length 5, expected 6/);
    expect(() => addon.backward(call(new Int32Array(6), new Float32Array(3)))).toThrow(
      /grad has length 3, expected 12/,
    );
    const { rowScale: _, ...noRowScale } = call(new Int32Array(6));
    expect(() => addon.backward(noRowScale as BackwardCall)).toThrow(
      new TypeError('noisedTopKBackward: rowScale must be a Float32Array'),
    );
  });

  it('async entry points reject instead of throwing later', async () => {
    expect(() => addon.forwardAsync(withArg('k', 9) as unknown as ForwardCall)).toThrow(RangeError);
    expect(() => addon.forwardAsync(without('values') as unknown as ForwardCall)).toThrow(TypeError);
    await expect(addon.forwardAsync(good() as unknown as ForwardCall)).resolves.toBeUndefined();
  });
});
