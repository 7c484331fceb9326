// The input check "every element finite" has two implementations: a JavaScript loop ('js', and
// anywhere the addon is absent) and the addon's firstNonFinite scan (native backends). Both must
// name the same first element, for every position and kind of non-finite value.
import { describe, expect, it } from 'vitest';
import { NoisedTopK } from '../lib/index.js';
import { loadNative } from '../lib/native.js';
import { allFinite } from '../lib/validate.js';
import { mulberry32, testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');
const addon = hasCpu ? loadNative()! : null;

function firstByLoop(a: Float32Array): number {
  return a.findIndex((v) => !Number.isFinite(v));
}

describe.skipIf(!hasCpu)('the native finite scan', () => {
  it('names the first NaN or infinity at every position around its 64-element blocks, or -1', () => {
    const rand = mulberry32(5);
    const bad = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const n of [0, 1, 63, 64, 65, 127, 128, 129, 1000, 4099]) {
      const clean = Float32Array.from({ length: n }, () => (rand() - 0.5) * 6e38);
      expect(addon!.firstNonFinite(clean)).toBe(-1);
      for (let trial = 0; trial < 12 && n > 0; trial++) {
        const x = clean.slice();
        const at = [0, n - 1, 63, 64, Math.floor(rand() * n)][trial % 5]! % n;
        x[at] = bad[trial % 3]!;
        if (trial % 4 === 3) x[Math.min(n - 1, at + 1 + Math.floor(rand() * 70))] = Number.NaN; // a later one too
        expect(addon!.firstNonFinite(x)).toBe(firstByLoop(x));
      }
    }
  });

  it('reads views at any byteOffset and shared memory in place', () => {
    const buf = new SharedArrayBuffer(4 * 300);
    const whole = new Float32Array(buf);
    whole[10] = Number.NaN;
    whole[200] = Number.POSITIVE_INFINITY;
    expect(addon!.firstNonFinite(new Float32Array(buf, 4 * 11, 250))).toBe(189);
    expect(addon!.firstNonFinite(new Float32Array(buf, 4 * 5, 20))).toBe(5);
  });

  it('refuses anything but a Float32Array with a TypeError naming the operation', () => {
    for (const v of [
      undefined,
      null,
      3,
      [1, 2],
      new Float64Array(3),
      new Int32Array(3),
      new DataView(new ArrayBuffer(8)),
    ]) {
      expect(() => addon!.firstNonFinite(v as unknown as Float32Array)).toThrow(TypeError);
      expect(() => addon!.firstNonFinite(v as unknown as Float32Array)).toThrow(
        /firstNonFinite: x must be a Float32Array/,
      );
    }
  });

  it('allFinite gives the same RangeError with and without the scan, and the backends agree', () => {
    const x = Float32Array.from({ length: 3 * 200 }, (_, i) => Math.sin(i));
    x[417] = Number.NEGATIVE_INFINITY;
    const loop = (() => {
      try {
        allFinite('x', x);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(loop).toMatch(/^x\[417\] is -Infinity/);
    expect(() => allFinite('x', x, (a) => addon!.firstNonFinite(a))).toThrow(loop!);
    for (const backend of ['js', 'cpu'] as const) {
      expect(() => new NoisedTopK({ k: 2, seed: 1, backend }).forward(x, [3, 200])).toThrow(loop!);
    }
  });
});
