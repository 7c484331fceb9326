// The wiring of the addon's address check (issue 11, 2): where the addon exports
// overlap(a, b), an output of the addon's kernels that maps an input through a second
// SharedArrayBuffer object is a RangeError naming both; 'js' still computes the right answer.
// The addon of this branch may not export overlap yet, so it is given one here: two views
// overlap when their SharedArrayBuffers have the same (unique in this test) size and their
// byte ranges meet, which is exact for the arrays built below.
import { describe, expect, it, vi } from 'vitest';

const calls: [number, number][] = [];

vi.mock('../lib/native.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../lib/native.js')>();
  const sabSize = (a: ArrayBufferView) => (a.buffer instanceof SharedArrayBuffer ? a.buffer.byteLength : -1);
  const overlap = (a: ArrayBufferView, b: ArrayBufferView) => {
    calls.push([a.byteLength, b.byteLength]);
    return (
      sabSize(a) === 4096 &&
      sabSize(b) === 4096 &&
      a.byteOffset < b.byteOffset + b.byteLength &&
      b.byteOffset < a.byteOffset + a.byteLength
    );
  };
  return {
    ...real,
    loadNative: () => {
      const addon = real.loadNative();
      return addon ? Object.assign(Object.create(addon) as object, { overlap }) : addon;
    },
  };
});

const { functional, NoisedTopK, backends } = await import('../lib/index.js');
const { addressOverlap } = await import('../lib/kernel.js');

describe('the address check where the addon has one', () => {
  const hasCpu = backends().includes('cpu');

  it('addressOverlap() exposes the addon export', () => {
    if (!hasCpu) return;
    expect(typeof addressOverlap()).toBe('function');
  });

  it("'cpu': out mapping x through a second SharedArrayBuffer is a RangeError naming both; 'js' is right", () => {
    if (!hasCpu) return;
    const x = new Float32Array(new SharedArrayBuffer(4096), 0, 8);
    x.set([3, 1, 2, 0, -1, 5, 4, 2]);
    const twin = new Float32Array(structuredClone(x.buffer as SharedArrayBuffer), 0, 2);
    const before = calls.length;
    expect(() =>
      functional.noisedTopK(x, [2, 4], { k: 1, epsilon: 0, nSample: 1, seed: 0, offset: 0, backend: 'cpu', out: twin }),
    ).toThrow(new RangeError('out shares memory with x'));
    expect(calls.length).toBeGreaterThan(before);
    const js = functional.noisedTopK(x, [2, 4], {
      k: 1,
      epsilon: 0,
      nSample: 1,
      seed: 0,
      offset: 0,
      backend: 'js',
      out: twin,
    });
    expect(Array.from(js.values)).toEqual([3, 5]);
  });

  it("'cpu' backward: out mapping positions is a RangeError naming both; plain ArrayBuffers never ask the addon", () => {
    if (!hasCpu) return;
    const positions = new Int32Array(new SharedArrayBuffer(4096), 0, 2);
    const r = new NoisedTopK({ k: 1, seed: 0, nSample: 1, backend: 'cpu' }).forward(
      Float32Array.of(1, 2, 3, 4),
      [2, 2],
      { indices: positions },
    );
    const out = new Float32Array(structuredClone(positions.buffer as SharedArrayBuffer), 0, 4);
    expect(() => r.backward(undefined, out)).toThrow(new RangeError('out shares memory with indices'));
    const before = calls.length;
    new NoisedTopK({ k: 1, seed: 0, backend: 'cpu' })
      .forward(Float32Array.of(1, 2, 3, 4), [2, 2], { out: new Float32Array(2) })
      .backward();
    expect(calls.length).toBe(before);
  });
});
