// The native addon's own guards, called directly (loaded through lib/native.ts, bypassing every
// check in lib/): any argument list gives a TypeError, a RangeError or the right answer, never
// a crash. A call that succeeds must equal the js kernel on the same arguments, bit for bit,
// and its async form must settle the same way. Part of the fuzz run (docs/reliability.md).
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { backwardJs, forwardJs } from '../lib/js-kernel.js';
import type { BackwardCall, ForwardCall, SamplerName } from '../lib/addon.js';
import { loadNative } from '../lib/native.js';
import { backwardCall, callOf, forwardCall } from './addon-calls.js';
import { bits, detach, failure, FUZZ_SEED, JUNK, pick, runs, type Outcome } from './fuzz-kit.js';

const addon = loadNative();
if (!addon) throw new Error('the native addon did not load');

let cases = 0;
afterAll(() => console.log(`fuzz-native: seed ${FUZZ_SEED}, ${cases} cases`));

const HOSTILE_NUMBERS: unknown[] = [
  -1,
  1.5,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 64,
  -0,
  0,
  1e308,
  'x',
  '1',
  null,
  undefined,
  1n,
  {},
  true,
];

const callArb = fc.record({
  outer: fc.integer({ min: 0, max: 3 }),
  d: fc.integer({ min: 1, max: 6 }),
  inner: fc.integer({ min: 0, max: 3 }),
  kSeed: fc.nat(),
  epsilon: fc.constantFrom(0, 0.5, 1, 1e30),
  S: fc.integer({ min: 1, max: 3 }),
  explicit: fc.boolean(),
  seedLo: fc.nat({ max: 2 ** 32 - 1 }),
  seedHi: fc.nat({ max: 2 ** 32 - 1 }),
  offset: fc.nat({ max: 2 ** 32 - 1 }),
  data: fc.array(fc.oneof(fc.float(), fc.constantFrom(0, -0, 1, NaN, Infinity)), { minLength: 200, maxLength: 200 }),
  mutations: fc.array(fc.record({ slot: fc.nat(16), v: fc.nat(1000) }), { maxLength: 2 }),
  truncate: fc.option(fc.nat(13), { freq: 8 }),
});

type Call = typeof callArb extends fc.Arbitrary<infer T> ? T : never;

function forwardArgs(c: Call): { args: unknown[]; noise: Float32Array | null } {
  const size = c.outer * c.d * c.inner;
  const rows = c.outer * c.inner;
  const x = Float32Array.from({ length: size }, (_, j) => c.data[j % 200]!);
  const noise = c.explicit ? Float32Array.from({ length: size * c.S }, (_, j) => c.data[(j * 7) % 200]!) : null;
  const args: unknown[] = [
    x,
    c.outer,
    c.d,
    c.inner,
    1 + (c.kSeed % c.d),
    c.epsilon,
    c.S,
    noise,
    c.seedLo,
    c.seedHi,
    c.offset,
    new Float32Array(rows),
    new Int32Array(rows * c.S),
    (c.kSeed >> 1) % 2 === 1 ? 'lazy' : 'dense',
  ];
  return { args, noise };
}

/** Replaces argument `slot` with something hostile of the matching kind. */
function mutate(args: unknown[], slot: number, v: number, arrays: Set<number>): void {
  if (slot >= args.length) return;
  if (arrays.has(slot)) {
    const a = args[slot] as Float32Array | Int32Array | null;
    let n = 4;
    try {
      if (ArrayBuffer.isView(a) && typeof a.length === 'number') n = Math.min(a.length, 64);
    } catch {
      // a Proxy of a typed array from an earlier mutation
    }
    const alts: (() => unknown)[] = [
      ...JUNK,
      () => new Float32Array(n + 1),
      () => new Int32Array(n),
      () => new Float32Array(n),
      () => new Float64Array(n),
      () => new Float32Array(new SharedArrayBuffer(4 * n)),
      () => {
        const t = new Float32Array(n);
        detach(t);
        return t;
      },
      () => args[(slot + 11) % args.length], // alias another argument
      () =>
        a instanceof Float32Array || a instanceof Int32Array
          ? new (a.constructor as Float32ArrayConstructor)(a.buffer, 0, Math.max(0, n - 1))
          : null,
    ];
    try {
      args[slot] = pick(alts, v)();
    } catch {
      args[slot] = undefined; // a view of a buffer an earlier mutation detached
    }
  } else {
    args[slot] = pick(HOSTILE_NUMBERS, v);
  }
}

const ok = (e: Outcome) => e.ok || e.name === 'TypeError' || e.name === 'RangeError';

describe('fuzz: the addon called directly', () => {
  it('forward / forwardAsync: TypeError, RangeError or the js kernel answer', async () => {
    await fc.assert(
      fc.asyncProperty(callArb, async (c) => {
        cases++;
        const build = () => {
          const { args } = forwardArgs(c);
          for (const m of c.mutations) mutate(args, m.slot, m.v, new Set([0, 7, 11, 12]));
          if (c.truncate !== null) args.length = Math.min(args.length, c.truncate);
          return args;
        };
        const run = async (async: boolean): Promise<Outcome> => {
          const args = build();
          try {
            const direct = callOf('forward', ...args) as unknown as ForwardCall;
            if (async) await addon.forwardAsync(direct);
            else addon.forward(direct);
            // Accepted: then the arguments were a valid call, and the answer is the js kernel's.
            const [x, outer, d, inner, k, epsilon, nSample, noise, seedLo, seedHi, offset, values, positions, sampler] =
              args as [
                Float32Array,
                number,
                number,
                number,
                number,
                number,
                number,
                Float32Array | null,
                number,
                number,
                number,
                Float32Array,
                Int32Array,
                SamplerName,
              ];
            const call: ForwardCall = {
              x,
              outer,
              d,
              inner,
              k,
              epsilon,
              nSample,
              noise,
              seedLo,
              seedHi,
              offset,
              sampler,
              values: new Float32Array(values.length),
              positions: new Int32Array(positions.length),
              sampleValues: null,
            };
            if (values.length > 0) forwardJs(call); // no rows: nothing to compute (outer may be 2^53)
            expect(bits(values)).toEqual(bits(call.values));
            expect(bits(positions)).toEqual(bits(call.positions));
            return { ok: true, bits: { values: bits(values), positions: bits(positions) } };
          } catch (err) {
            if ((err as Error).name === 'AssertionError') throw err;
            return failure(err);
          }
        };
        const sync = await run(false);
        const async = await run(true);
        expect(ok(sync), JSON.stringify(sync)).toBe(true);
        expect(async).toEqual(sync);
      }),
      { numRuns: runs(5_000), seed: FUZZ_SEED + 10, endOnFailure: true },
    );
  }, 600_000);

  it('backward / backwardAsync: TypeError, RangeError or the js kernel answer', async () => {
    await fc.assert(
      fc.asyncProperty(
        callArb,
        fc.array(fc.integer({ min: -3, max: 8 }), { minLength: 40, maxLength: 40 }),
        async (c, pos) => {
          cases++;
          const rows = c.outer * c.inner;
          const build = () => {
            const positions = Int32Array.from({ length: rows * c.S }, (_, j) => (pos[j % 40]! + c.d * 4) % c.d);
            if (c.mutations.length > 0 && rows * c.S > 0)
              positions[c.mutations[0]!.v % positions.length] = pos[0]! < 0 ? pos[0]! : c.d + pos[0]!;
            const args: unknown[] = [
              positions,
              Float32Array.from({ length: rows }, (_, j) => c.data[j]!),
              c.outer,
              c.d,
              c.inner,
              c.S,
              new Float32Array(c.outer * c.d * c.inner),
            ];
            for (const m of c.mutations.slice(1)) mutate(args, m.slot % 7, m.v, new Set([0, 1, 6]));
            if (c.truncate !== null) args.length = Math.min(args.length, c.truncate);
            return args;
          };
          const run = async (async: boolean): Promise<Outcome> => {
            const args = build();
            try {
              const direct = callOf('backward', ...args) as unknown as BackwardCall;
              if (async) await addon.backwardAsync(direct);
              else addon.backward(direct);
              const [positions, rowScale, outer, d, inner, nSample, grad] = args as [
                Int32Array,
                Float32Array,
                number,
                number,
                number,
                number,
                Float32Array,
              ];
              const call: BackwardCall = {
                positions,
                rowScale,
                outer,
                d,
                inner,
                nSample,
                grad: new Float32Array(grad.length),
              };
              // An empty layout has nothing to compute (outer may be 2^53 with inner 0: the js
              // kernel would loop over it).
              if (grad.length > 0) backwardJs(call);
              expect(bits(grad)).toEqual(bits(call.grad));
              return { ok: true, bits: { grad: bits(grad) } };
            } catch (err) {
              if ((err as Error).name === 'AssertionError') throw err;
              return failure(err);
            }
          };
          const sync = await run(false);
          const async = await run(true);
          expect(ok(sync), JSON.stringify(sync)).toBe(true);
          expect(async).toEqual(sync);
        },
      ),
      { numRuns: runs(5_000), seed: FUZZ_SEED + 11, endOnFailure: true },
    );
  }, 600_000);

  it('layouts whose sizes overflow 2^32, 2^53 or 2^64 are refused before any memory is touched', () => {
    const x = new Float32Array(4);
    const v = new Float32Array(1);
    const p = new Int32Array(1);
    const big: [number, number, number][] = [
      [2 ** 53 - 1, 2 ** 31 - 1, 2 ** 53 - 1], // 2^137: overflows 64 bits
      [2 ** 32, 1, 2 ** 32], // 2^64 rows
      [2 ** 33, 2, 1], // 2^33 rows
      [65536, 1, 65536], // exactly 2^32 rows
      [1, 2 ** 31 - 1, 2 ** 22], // size 2^53-ish, rows 2^22
    ];
    for (const [outer, d, inner] of big) {
      cases++;
      expect(() => addon.forward(forwardCall(x, outer, d, inner, 1, 1, 1, null, 0, 0, 0, v, p))).toThrow(RangeError);
      expect(() => addon.backward(backwardCall(p, v, outer, d, inner, 1, x))).toThrow(RangeError);
    }
  });

  it('normals / setThreads / threads with junk: TypeError or RangeError', () => {
    const before = addon.threads();
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...HOSTILE_NUMBERS), fc.nat()), { maxLength: 7 }),
        fc.boolean(),
        (args, which) => {
          cases++;
          try {
            if (which) {
              const r = addon.normals(...(args as [number, number, number, number, number, number]));
              expect(r).toHaveLength(8);
            } else {
              (addon.setThreads as (...a: unknown[]) => void)(...args);
              expect(addon.threads()).toBeGreaterThanOrEqual(1);
            }
          } catch (err) {
            if ((err as Error).name === 'AssertionError') throw err;
            expect(['TypeError', 'RangeError']).toContain((err as Error).constructor.name);
          }
        },
      ),
      { numRuns: runs(2_000), seed: FUZZ_SEED + 12 },
    );
    addon.setThreads(before);
  });
});

// ----------------------------------------------------------------------- issue 18 ----
describe('fuzz: the addon under getters and racing writers (issue 18)', () => {
  // Each entry point's call, arrays as [kind, length] (lib/addon.ts field order).
  const B = 2;
  const D = 7;
  const K = 2;
  const S = 2;
  type Spec = Record<string, unknown>;
  const f32 = (n: number) => ['f32', n] as const;
  const i32 = (n: number) => ['i32', n] as const;
  const ENTRIES: Record<string, Spec> = {
    forward: {
      x: f32(B * D),
      outer: B,
      d: D,
      inner: 1,
      k: K,
      epsilon: 0.5,
      nSample: S,
      noise: f32(B * D * S),
      seedLo: 1,
      seedHi: 2,
      offset: 3,
      values: f32(B),
      positions: i32(B * S),
      sampler: 'lazy',
      sampleValues: f32(B * S),
    },
    backward: { positions: i32(B * S), rowScale: f32(B), outer: B, d: D, inner: 1, nSample: S, grad: f32(B * D) },
    topk: {
      x: f32(B * D),
      outer: B,
      d: D,
      inner: 1,
      k: K,
      largest: true,
      sorted: true,
      checkFinite: true,
      values: f32(B * K),
      indices: i32(B * K),
    },
    perturbedTopK: {
      x: f32(B * D),
      outer: B,
      d: D,
      inner: 1,
      k: K,
      epsilon: 0.5,
      nSample: S,
      seedLo: 1,
      seedHi: 2,
      offset: 3,
      mask: f32(B * D),
      indices: i32(B * S * K),
    },
    perturbedTopKBackward: {
      indices: i32(B * S * K),
      grad: f32(B * D),
      outer: B,
      d: D,
      inner: 1,
      k: K,
      epsilon: 0.5,
      nSample: S,
      seedLo: 1,
      seedHi: 2,
      offset: 3,
      gradX: f32(B * D),
    },
  };
  const isSpec = (v: unknown): v is readonly ['f32' | 'i32', number] => Array.isArray(v);
  const caseArb = fc.record({
    entry: fc.constantFrom(...Object.keys(ENTRIES)),
    victim: fc.nat(),
    trigger: fc.nat(),
    async: fc.boolean(),
  });

  it('a getter on any field detaching any array of the call: TypeError or RangeError, sync and async', async () => {
    const call = addon as unknown as Record<string, (c: Spec) => unknown>;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        cases++;
        const spec = ENTRIES[c.entry]!;
        const names = Object.keys(spec);
        const arrays = names.filter((n) => isSpec(spec[n]));
        const victim = pick(arrays, c.victim);
        const trigger = pick(
          names.filter((n) => n !== victim),
          c.trigger,
        );
        const obj: Spec = {};
        for (const n of names) {
          const v = spec[n];
          if (!isSpec(v)) obj[n] = v;
          else {
            const a = v[0] === 'f32' ? new Float32Array(v[1]) : new Int32Array(v[1]);
            for (let i = 0; i < a.length; i++) a[i] = v[0] === 'f32' ? (i % 5) * 0.5 : i % K;
            obj[n] = a;
          }
        }
        const value = obj[trigger];
        let fired = false;
        Object.defineProperty(obj, trigger, {
          enumerable: true,
          get() {
            if (!fired) {
              fired = true;
              detach(obj[victim] as Float32Array);
            }
            return value;
          },
        });
        let outcome: string;
        try {
          if (c.async) await call[`${c.entry}Async`]!(obj);
          else call[c.entry]!(obj);
          outcome = 'ok';
        } catch (err) {
          outcome = (err as Error).constructor.name;
        }
        expect(['TypeError', 'RangeError'], `${c.entry}: ${victim} detached by ${trigger}`).toContain(outcome);
      }),
      { numRuns: runs(2_000), seed: FUZZ_SEED + 13, endOnFailure: true },
    );
  });

  it("a racing writer raising columns of a shared x under sync 'lazy' calls: positions in range, never a crash", async () => {
    const { Worker } = await import('node:worker_threads');
    const maxD = 4200;
    const rows = 3;
    const x = new Float32Array(new SharedArrayBuffer(4 * rows * maxD));
    const control = new Int32Array(new SharedArrayBuffer(8)); // [stop, pattern]
    const writer = new Worker(
      `const { workerData } = require('node:worker_threads');
       const x = new Float32Array(workerData.x);
       const c = new Int32Array(workerData.c);
       for (let t = 1; Atomics.load(c, 0) === 0; t++) {
         const j = (t * 7919) % x.length;
         const low = x[j];
         x[j] = (Atomics.load(c, 1) & 1 ? 1e30 : 1) * (1 + (t % 65536));
         x[j] = low;
       }`,
      { eval: true, workerData: { x: x.buffer, c: control.buffer } },
    );
    try {
      fc.assert(
        fc.property(
          fc.record({
            d: fc.integer({ min: 4096, max: maxD }),
            top: fc.integer({ min: 1, max: 40 }),
            k: fc.integer({ min: 1, max: 40 }),
            low: fc.constantFrom(-30, -3, -1e6),
            pattern: fc.nat(1),
            seed: fc.nat(),
          }),
          (c) => {
            cases++;
            Atomics.store(control, 1, c.pattern);
            const view = x.subarray(0, rows * c.d);
            view.fill(c.low);
            for (let r = 0; r < rows; r++) for (let i = 0; i < c.top; i++) view[r * c.d + ((i * 31) % c.d)] = 0;
            const values = new Float32Array(rows);
            const positions = new Int32Array(rows * 2);
            try {
              addon.forward(
                forwardCall(
                  view,
                  rows,
                  c.d,
                  1,
                  c.k,
                  1,
                  2,
                  null,
                  c.seed,
                  0,
                  0,
                  values,
                  positions,
                  'lazy' as SamplerName,
                ),
              );
            } catch (err) {
              expect(err).toBeInstanceOf(RangeError); // a raised value out of the domain
              return;
            }
            for (const p of positions) expect(p >= 0 && p < c.d).toBe(true);
          },
        ),
        { numRuns: runs(300), seed: FUZZ_SEED + 14, endOnFailure: true },
      );
    } finally {
      Atomics.store(control, 0, 1);
      await writer.terminate();
    }
  }, 600_000);
});
