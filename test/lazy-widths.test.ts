// The lazy sampler's CPU row preparation works four columns at a time (SSE2) with a scalar
// remainder: 'js' and 'cpu' give the same bits on widths that are not multiples of 4 or 8, on
// rows with and without a far set (columns more than 3 eps below the top), for 1 and 2 threads.
import { afterAll, describe, expect, it } from 'vitest';
import { setThreads, threads } from '../lib/index.js';
import { resolveKernel, type ForwardCall } from '../lib/kernel.js';
import { mulberry32, testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe.skipIf(!hasCpu)("sampler 'lazy': cpu and js agree on every width", () => {
  const before = hasCpu ? threads() : 1;
  afterAll(() => setThreads(before));
  const js = resolveKernel('js');
  const cpu = resolveKernel('cpu');

  it.each([1, 2])('widths 29 to 4099, near-only and far rows, on %i threads', (t) => {
    setThreads(t);
    const rand = mulberry32(9100 + t);
    for (const d of [29, 30, 31, 33, 101, 102, 103, 999, 1001, 1003, 2501, 4099]) {
      for (const spread of [0.05, 1, 4, 40]) {
        const outer = 3;
        const x = new Float32Array(outer * d);
        for (let i = 0; i < x.length; i++)
          x[i] = spread * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
        const k = 1 + Math.floor(rand() * Math.min(8, d / 4));
        const make = (): ForwardCall => ({
          x,
          outer,
          d,
          inner: 1,
          k,
          epsilon: 1,
          nSample: 4,
          noise: null,
          seedLo: 77,
          seedHi: 3,
          offset: d,
          sampler: 'lazy',
          values: new Float32Array(outer),
          positions: new Int32Array(outer * 4),
          sampleValues: new Float32Array(outer * 4),
        });
        const a = make();
        const b = make();
        js.forward(a);
        cpu.forward(b);
        const what = JSON.stringify({ d, spread, k });
        expect(Array.from(b.positions), what).toEqual(Array.from(a.positions));
        expect(bits(b.values), what).toEqual(bits(a.values));
        expect(bits(b.sampleValues!), what).toEqual(bits(a.sampleValues!));
      }
    }
  });
});
