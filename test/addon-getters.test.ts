// Direct addon calls whose call object has a getter that detaches or shrinks one of its arrays
// (issue 18, item 5). The binding reads the fields one by one; before, an array read before the
// getter ran kept its recorded pointer, and topk, topkAsync, forward and perturbedTopK then read
// or wrote freed memory (or segfaulted). Now every array is checked again after the last getter:
// every such call is a TypeError or a RangeError, sync or async, on every entry point.
// The calls run in a child process (plain JavaScript loading the addon itself): a regression
// crashes the child, not the suite.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../lib/native.js';
import { forwardCall, topkCall } from './addon-calls.js';
import { addonPath, testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');

// Each entry point's call: fields in lib/addon.ts order; arrays as [kind, length] to build fresh.
const CHILD = `
const addon = require(process.argv[1]);
const B = 3, D = 9, K = 2, S = 2;
const f32 = (n) => ['f32', n], i32 = (n) => ['i32', n];
const ENTRIES = {
  forward: { x: f32(B * D), outer: B, d: D, inner: 1, k: K, epsilon: 0.5, nSample: S, noise: f32(B * D * S),
    seedLo: 1, seedHi: 2, offset: 3, values: f32(B), positions: i32(B * S), sampler: 'lazy', sampleValues: f32(B * S) },
  backward: { positions: i32(B * S), rowScale: f32(B), outer: B, d: D, inner: 1, nSample: S, grad: f32(B * D) },
  topk: { x: f32(B * D), outer: B, d: D, inner: 1, k: K, largest: true, sorted: true, checkFinite: true,
    values: f32(B * K), indices: i32(B * K) },
  perturbedTopK: { x: f32(B * D), outer: B, d: D, inner: 1, k: K, epsilon: 0.5, nSample: S, seedLo: 1, seedHi: 2,
    offset: 3, mask: f32(B * D), indices: i32(B * S * K) },
  perturbedTopKBackward: { indices: i32(B * S * K), grad: f32(B * D), outer: B, d: D, inner: 1, k: K, epsilon: 0.5,
    nSample: S, seedLo: 1, seedHi: 2, offset: 3, gradX: f32(B * D) },
};
function array([kind, n], resizable) {
  const bytes = 4 * n;
  const buf = resizable ? new ArrayBuffer(bytes, { maxByteLength: bytes }) : new ArrayBuffer(bytes);
  const a = kind === 'f32' ? new Float32Array(buf) : new Int32Array(buf);
  for (let i = 0; i < n; i++) a[i] = kind === 'f32' ? (i % 7) * 0.25 : i % K; // valid columns for the backwards
  return a;
}
const EFFECTS = {
  detach: (a) => void structuredClone(a.buffer, { transfer: [a.buffer] }),
  shrink: (a) => a.buffer.resize(4),
};
async function main() {
  const out = { cases: 0, outcomes: {}, bad: [] };
  for (const [entry, fields] of Object.entries(ENTRIES)) {
    const names = Object.keys(fields);
    const arrays = names.filter((n) => Array.isArray(fields[n]));
    for (const victim of arrays) {
      for (const trigger of names) {
        if (trigger === victim) continue;
        for (const [effect, apply] of Object.entries(EFFECTS)) {
          for (const async of [false, true]) {
            const call = {};
            for (const n of names) call[n] = Array.isArray(fields[n]) ? array(fields[n], effect === 'shrink' && n === victim) : fields[n];
            const value = call[trigger];
            let fired = false;
            Object.defineProperty(call, trigger, { enumerable: true, get() { if (!fired) { fired = true; apply(call[victim]); } return value; } });
            let outcome;
            try {
              if (async) await addon[entry + 'Async'](call); else addon[entry](call);
              outcome = 'ok';
            } catch (err) {
              outcome = err instanceof TypeError ? 'TypeError' : err instanceof RangeError ? 'RangeError' : 'other: ' + err;
            }
            out.cases++;
            out.outcomes[outcome] = (out.outcomes[outcome] ?? 0) + 1;
            if (outcome !== 'TypeError' && outcome !== 'RangeError')
              out.bad.push(entry + (async ? 'Async' : '') + ': ' + effect + ' ' + victim + ' in the getter of ' + trigger + ': ' + outcome);
          }
        }
      }
    }
  }
  console.log(JSON.stringify(out));
}
main();
`;

describe.skipIf(!hasCpu)('direct addon calls: a getter that detaches or shrinks an array of the call', () => {
  it('every entry point, sync and async, every array and every other field: a TypeError or RangeError, never a crash', () => {
    const r = spawnSync(process.execPath, ['-e', CHILD, addonPath()], { encoding: 'utf8', timeout: 120_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { cases: number; outcomes: Record<string, number>; bad: string[] };
    expect(out.bad.slice(0, 20)).toEqual([]);
    expect(out.cases).toBeGreaterThan(500);
    // the check after the last getter is what answers the later-field cases
    expect(out.outcomes.TypeError, JSON.stringify(out.outcomes)).toBeGreaterThan(60);
  });
});

describe.skipIf(!hasCpu)(
  'direct addon calls: views of resizable or growable buffers are refused, as lib/ refuses them',
  () => {
    it('forward and topk, sync and async: a TypeError naming the array', () => {
      const addon = loadNative()!;
      const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
      const x = new Float32Array(new Resizable(4 * 12, { maxByteLength: 4 * 64 }));
      const values = new Float32Array(3);
      const positions = new Int32Array(3);
      const call = forwardCall(x, 3, 4, 1, 1, 0.5, 1, null, 1, 2, 3, values, positions);
      expect(() => addon.forward(call)).toThrow(/noisedTopK: x is a view of a resizable or growable buffer/);
      expect(() => addon.forwardAsync(call)).toThrow(TypeError); // refused before a promise is made
      const top = topkCall(x, 3, 4, 1, 1, true, true, new Float32Array(3), new Int32Array(3));
      expect(() => addon.topk(top)).toThrow(/topk: x is a view of a resizable or growable buffer/);
      expect(() => addon.topkAsync(top)).toThrow(TypeError);
    });
  },
);
