// Property-based fuzzer over every public entry point (docs/reliability.md). Each case is a
// valid call (any container kind: subarray at a byteOffset, SharedArrayBuffer, subclass
// instance lying about its length, another realm, resizable buffer, zero-length) with at most
// one hostile mutation (wrong type, bad number, mismatched or overflowing shape, detached
// buffer, aliasing output, non-finite input, tampered positions...). The whole pipeline
// (constructor, forward, backward) runs on 'js' and 'cpu' ('cuda' too where a device answers),
// sync and async, and must:
//   - with no mutation: succeed, 'cpu' bit-identical to 'js', async identical to sync, the
//     values and gradient equal to a naive reference (explicit noise or epsilon = 0), no write
//     outside an output view;
//   - with a mutation: throw a TypeError or RangeError, the same class and message on both.
// Fixed seed in CI; NOISED_TOPK_FUZZ_SCALE=20 (npm run fuzz:long) runs 20x the cases, and
// NOISED_TOPK_FUZZ_SEED picks another seed.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BalNoisedTopK,
  functional,
  ImbalNoisedTopK,
  ldamMargins,
  NoisedTopK,
  perClassTopKAccuracy,
  perturbedTopK,
  perturbedTopKAsync,
  smoothTopKSvmLoss,
  topk,
  topkAsync,
  rareClassTopKAccuracy,
  backends,
  setThreads,
  threads,
  type NoisedTopKResult,
} from '../lib/index.js';
import { NORMAL_BOUND } from '../lib/stream.js';
import { FLOAT32_MIN_NORMAL } from '../lib/validate.js';
import {
  bits,
  detach,
  DETACHERS,
  EDGE_Q,
  EDGE_WORDS,
  float32Edges,
  INT32_EDGES,
  sharedTwin,
  trap,
  type Detacher,
  failure,
  FUZZ_SCALE,
  FUZZ_SEED,
  JUNK,
  JUNK_SCALAR,
  KINDS,
  make,
  pick,
  referenceBackward,
  referenceForward,
  runs,
  sameValues,
  type Kind,
  type Outcome,
} from './fuzz-kit.js';
import { testedBackends } from './helpers.js';
import { MIN_Q, skipLaw, skipNext, uniformOpen } from '../lib/lazy-sampler.js';
import { NoiseStream } from '../lib/topk.js';

const BACKENDS = testedBackends();
if (!BACKENDS.includes('cpu')) throw new Error('the fuzzer compares cpu against js: the addon must load');
/** Compared against 'js': 'cpu', and 'cuda' where a device answers. */
const NATIVE = backends().filter((b): b is Native => b !== 'js');
type Native = 'cpu' | 'cuda';

const counts: Record<string, number> = {};
const count = (name: string) => {
  counts[name] = (counts[name] ?? 0) + 1;
};
/** Every property of this file; when all ran, the CI budget (at least 100,000 cases) must be met. */
const PROPERTIES = [
  'topk sync',
  'topk async',
  'loss sync',
  'loss async',
  'small entry points',
  'hostile reads',
  'shared twins',
  'lazy skips',
  'lazy tail edge',
  'label edges',
  'float32 edges',
  'ops shared twins',
];
afterAll(() => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`fuzz: seed ${FUZZ_SEED}, scale ${FUZZ_SCALE}, ${total} cases: ${JSON.stringify(counts)}`);
  if (PROPERTIES.every((p) => counts[p] === undefined || counts[p]! > 0) && PROPERTIES.every((p) => p in counts)) {
    expect(total).toBeGreaterThanOrEqual(runs(100_000));
  }
});

const kindArb = fc.constantFrom<Kind>(...KINDS);
const valueArb = (nonFinite: boolean) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(0, -0, 1, -1, 2, 0.5, 3) },
    { weight: 3, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) },
    { weight: nonFinite ? 1 : 0, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
  );
const mutationArb = (targets: readonly string[]) =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.record({ target: fc.constantFrom(...targets), v: fc.nat(1000), j: fc.nat(1000) }) },
  );
type Mutation = { target: string; v: number; j: number } | null;

// ---------------------------------------------------------------- top-k ----
const TOPK_TARGETS = [
  'options',
  'k',
  'epsilon',
  'nSample',
  'dim',
  'seed',
  'offset',
  'x',
  'shape',
  'nonfinite',
  'noise',
  'noiseNonfinite',
  'noNoiseNoSeed',
  'outputs',
  'out',
  'positions',
  'gradOutput',
  'gradOut',
  'tamperPositions',
  'detachPositions',
  'allowNonFinite',
  'unknownKey',
  'outputsKey',
  'emptyDim',
  'hugeSamples',
] as const;

interface TopKCase {
  functional: boolean;
  explicit: boolean;
  shape: number[];
  dim: number;
  negDim: boolean;
  k: number;
  epsilon: number | undefined;
  S: number;
  nSampleGiven: boolean;
  seed: number | bigint;
  offset: number | undefined;
  allowNonFinite: boolean;
  x: number[];
  noise: number[];
  xKind: Kind;
  noiseKind: Kind;
  outMode: number;
  outKind: Kind;
  posKind: Kind;
  grad: { given: boolean; data: number[]; kind: Kind; outGiven: boolean; outKind: Kind };
  mutation: Mutation;
}

const topkCaseArb: fc.Arbitrary<TopKCase> = fc
  .record({
    functional: fc.boolean(),
    explicit: fc.boolean(),
    shape: fc.array(
      fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(0) }),
      { minLength: 1, maxLength: 3 },
    ),
    dimSeed: fc.nat(),
    negDim: fc.boolean(),
    kSeed: fc.nat(),
    epsilon: fc.constantFrom(undefined, 0, 0.5, 1, 2, 1e-3, 1e30),
    S: fc.integer({ min: 1, max: 4 }),
    nSampleGiven: fc.boolean(),
    seed: fc.oneof(fc.nat(), fc.constant(2 ** 53 - 1), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    offset: fc.constantFrom(undefined, 0, 1, 7, 2 ** 32 - 1),
    allowNonFinite: fc.boolean(),
    xKind: kindArb,
    noiseKind: kindArb,
    outMode: fc.integer({ min: 0, max: 4 }),
    outKind: kindArb,
    posKind: kindArb,
    gradGiven: fc.boolean(),
    gradKind: kindArb,
    gradOutGiven: fc.boolean(),
    gradOutKind: kindArb,
    mutation: mutationArb(TOPK_TARGETS),
    dataSeed: fc.nat(),
  })
  .chain((r) => {
    const shape = r.shape.slice();
    const dim = r.dimSeed % shape.length;
    if (shape[dim] === 0) shape[dim] = 1;
    const d = shape[dim]!;
    const size = shape.reduce((a, b) => a * b, 1);
    const rows = size / d;
    return fc
      .record({
        x: fc.array(valueArb(r.allowNonFinite), { minLength: size, maxLength: size }),
        noise: fc.array(valueArb(r.allowNonFinite), {
          minLength: r.explicit ? size * r.S : 0,
          maxLength: r.explicit ? size * r.S : 0,
        }),
        gradData: fc.array(valueArb(true), { minLength: rows, maxLength: rows }),
      })
      .map(({ x, noise, gradData }) => ({
        functional: r.functional,
        explicit: r.functional && r.explicit,
        shape,
        dim,
        negDim: r.negDim,
        k: 1 + (r.kSeed % d),
        epsilon: r.epsilon,
        S: r.S,
        nSampleGiven: r.nSampleGiven,
        seed: r.seed,
        offset: r.offset,
        allowNonFinite: r.allowNonFinite,
        x,
        noise,
        xKind: r.xKind,
        noiseKind: r.noiseKind,
        outMode: r.outMode,
        outKind: r.outKind,
        posKind: r.posKind,
        grad: {
          given: r.gradGiven,
          data: gradData,
          kind: r.gradKind,
          outGiven: r.gradOutGiven,
          outKind: r.gradOutKind,
        },
        mutation: r.mutation,
      }));
  });

interface TopKRun {
  outcome: Outcome;
  /** The mutation applied (false where it did not apply to this case, which is then valid). */
  mutated: boolean;
  guardsIntact: boolean;
  /** What the error message must say, for the mutations whose naming issue 11 fixed. */
  message?: RegExp;
}

/** Foreign or misspelt option names: each must be refused, naming the key. */
const UNKNOWN_KEYS = ['nsample', 'eps', 'n_sample', 'axis', 'reduction', 'weight', 'bogus', 'Dim', 'allow_non_finite'];

async function runTopK(c: TopKCase, backend: 'js' | Native, mode: 'sync' | 'async'): Promise<TopKRun> {
  const size = c.x.length;
  const d = c.shape[c.dim]!;
  const rows = size / d;
  const S = c.S;
  const ndim = c.shape.length;
  const guards: (() => boolean)[] = [];
  const made = <T extends Float32Array | Int32Array>(
    ctor: Float32ArrayConstructor | Int32ArrayConstructor,
    data: ArrayLike<number>,
    kind: Kind,
  ): T => {
    const m = make<T>(ctor, data, kind);
    guards.push(m.guardsIntact);
    return m.arr;
  };
  const x = made<Float32Array>(Float32Array, c.x, c.xKind);
  const noise = c.explicit ? made<Float32Array>(Float32Array, c.noise, c.noiseKind) : undefined;
  const opts: Record<string, unknown> = {
    k: c.k,
    dim: c.negDim ? c.dim - ndim : c.dim,
    allowNonFinite: c.allowNonFinite,
    backend,
  };
  if (c.epsilon !== undefined) opts.epsilon = c.epsilon;
  if (c.explicit) {
    opts.noise = noise;
    if (c.nSampleGiven) opts.nSample = S;
  } else {
    opts.nSample = S;
    opts.seed = c.seed;
    // the noise rule: a functional form's seed comes with an offset (docs/api.md, Conventions)
    if (c.functional) opts.offset = c.offset ?? 0;
  }
  const outputs: Record<string, unknown> = {};
  if (c.outMode === 1 || c.outMode === 3) outputs.out = made(Float32Array, new Float32Array(rows), c.outKind);
  if (c.outMode === 2 || c.outMode === 3) outputs.indices = made(Int32Array, new Int32Array(rows * S), c.posKind);
  let outputsArg: unknown = c.outMode === 4 ? {} : c.outMode === 0 ? undefined : outputs;
  if (c.functional) Object.assign(opts, outputs);
  let optsArg: unknown = opts;
  let xArg: unknown = x;
  let shapeArg: unknown = c.shape.slice();
  let gradOutput: unknown = c.grad.given ? made(Float32Array, c.grad.data, c.grad.kind) : undefined;
  let gradOut: unknown = c.grad.outGiven ? made(Float32Array, new Float32Array(size), c.grad.outKind) : undefined;
  let afterForward: ((r: NoisedTopKResult) => boolean) | null = null;
  let message: RegExp | undefined;

  const m = c.mutation;
  let mutated = false;
  if (m) {
    const { v, j } = m;
    const set = (obj: Record<string, unknown>, key: string, list: readonly unknown[]) => {
      const val = pick(list, v);
      obj[key] = typeof val === 'function' && list === JUNK ? (val as () => unknown)() : val;
      return true;
    };
    const sameLength = (n: number, data: ArrayLike<number>) => [
      ...JUNK.map((f) => f()),
      Float64Array.from(data),
      Int32Array.from(data, (q) => (Number.isFinite(q) ? q | 0 : 0)),
      Array.from(data),
      new Float32Array(n + 1),
      make(Float32Array, data, 'resizable').arr,
    ];
    const outputTarget = c.functional ? opts : outputs;
    switch (m.target) {
      case 'options':
        optsArg = pick(JUNK, v)();
        if (optsArg !== null && typeof optsArg === 'object' && !Array.isArray(optsArg))
          optsArg = Object.create(optsArg as object); // still no k
        mutated = true;
        break;
      case 'k':
        mutated = set(opts, 'k', [
          0,
          -1,
          1.5,
          NaN,
          Infinity,
          -Infinity,
          2 ** 31,
          2 ** 53,
          '1',
          null,
          1n,
          {},
          undefined,
          d + 1,
        ]);
        break;
      case 'epsilon':
        mutated = set(opts, 'epsilon', [-1, -1e-3, NaN, Infinity, -Infinity, 1e39, 3.5e38, '1', 1n, {}, true]);
        break;
      case 'nSample':
        mutated = set(opts, 'nSample', [0, -1, 1.5, NaN, Infinity, 2 ** 24 + 1, '5', 5n, {}, true]);
        break;
      case 'dim':
        mutated = set(opts, 'dim', [ndim, -ndim - 1, 0.5, NaN, '0', 0n, {}, true, 2 ** 31, Infinity]);
        break;
      case 'seed':
        if (!c.explicit)
          mutated = set(opts, 'seed', [-1, 1.5, NaN, Infinity, 2 ** 53, -1n, 2n ** 64n, '1', null, {}, true]);
        break;
      case 'offset':
        if (c.functional && !c.explicit) mutated = set(opts, 'offset', [-1, 2 ** 32, 1.5, NaN, '0', 0n, {}, Infinity]);
        break;
      case 'x': {
        const alts: unknown[] = sameLength(size, c.x);
        const which = v % (alts.length + 1);
        if (which === alts.length) {
          if (size > 0) mutated = detach(x);
        } else {
          xArg = alts[which];
          mutated = true;
        }
        break;
      }
      case 'shape': {
        const alts: (() => unknown)[] = [
          ...JUNK_SCALAR,
          () => ({ length: ndim }),
          () => Int32Array.from(c.shape),
          () => [],
          () => new Array(ndim),
          () => {
            const s = c.shape.slice() as unknown[];
            s[j % ndim] = pick(['2', null, 2n, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, undefined, {}], v >> 4);
            return s;
          },
          () => (size > 0 ? [...c.shape, 2] : c.shape.map((q) => (q === 0 ? 1 : q))),
          () => (size > 0 ? [2 ** 27, 2 ** 27, ...c.shape] : [2 ** 27, 2 ** 27, 1]),
          () => [65536, 65536],
          () => new Array(65).fill(1),
        ];
        shapeArg = pick(alts, v)();
        mutated = true;
        break;
      }
      case 'nonfinite':
        if (!c.allowNonFinite && size > 0) {
          x[j % size] = pick([NaN, Infinity, -Infinity], v);
          mutated = true;
        }
        break;
      case 'noise':
        if (c.explicit) {
          const alts: unknown[] = [
            ...JUNK.map((f) => f()),
            Float64Array.from(c.noise),
            new Float32Array(size > 1 ? size * S + 1 : size === 1 ? 0 : 1),
          ];
          const which = v % (alts.length + 1);
          if (which === alts.length) {
            if (size > 0) mutated = detach(noise!);
          } else {
            opts.noise = alts[which];
            mutated = true;
          }
        }
        break;
      case 'noiseNonfinite':
        if (c.explicit && !c.allowNonFinite && size > 0) {
          noise![j % c.noise.length] = pick([NaN, Infinity, -Infinity], v);
          mutated = true;
        }
        break;
      case 'noNoiseNoSeed':
        if (c.functional) {
          // an offset without a seed (no seed and no noise alone is a valid call: fresh noise)
          delete opts.noise;
          delete opts.seed;
          opts.offset = 0;
          mutated = true;
        }
        break;
      case 'outputs':
        if (!c.functional) {
          outputsArg = pick(JUNK_SCALAR, v)();
          mutated = true;
        }
        break;
      case 'out': {
        const alts: (() => unknown)[] = [
          ...JUNK,
          () => new Float32Array(rows + 1),
          () => new Int32Array(rows),
          () => Array.from({ length: rows }, () => 0),
          () => make(Float32Array, new Float32Array(rows), 'resizable').arr,
        ];
        const which = v % (alts.length + 2);
        if (which < alts.length) {
          outputTarget.out = alts[which]!();
          mutated = true;
        } else if (which === alts.length && rows > 0 && size > 0) {
          outputTarget.out = new Float32Array(x.buffer, x.byteOffset, rows); // aliases x
          mutated = true;
        } else if (rows > 0) {
          const o = new Float32Array(rows);
          mutated = detach(o);
          outputTarget.out = o;
        }
        if (!c.functional && mutated) outputsArg = outputs;
        break;
      }
      case 'positions': {
        const alts: (() => unknown)[] = [
          ...JUNK.filter((_, q) => q !== 10),
          () => new Int32Array(rows * S + 1),
          () => new Float32Array(rows * S),
          () => new Uint32Array(rows * S),
        ];
        const which = v % (alts.length + 1);
        if (which < alts.length) {
          outputTarget.indices = alts[which]!();
          mutated = true;
        } else if (rows > 0) {
          // positions and out share bytes
          const buf = new ArrayBuffer(rows * S * 4 + 4);
          outputTarget.out = new Float32Array(buf, 0, rows);
          outputTarget.indices = new Int32Array(buf, 0, rows * S);
          mutated = true;
        }
        if (!c.functional && mutated) outputsArg = outputs;
        break;
      }
      case 'gradOutput': {
        const alts: (() => unknown)[] = [...JUNK, () => new Float32Array(rows + 1), () => new Float64Array(rows)];
        const which = v % (alts.length + 1);
        if (which < alts.length) {
          gradOutput = alts[which]!();
          mutated = true;
        } else if (rows > 0) {
          const g = new Float32Array(rows);
          mutated = detach(g);
          gradOutput = g;
        }
        break;
      }
      case 'gradOut': {
        const alts: (() => unknown)[] = [
          ...JUNK,
          () => new Float32Array(size + 1),
          () => Array.from({ length: size }, () => 0),
        ];
        const which = v % (alts.length + 1);
        if (which < alts.length) {
          gradOut = alts[which]!();
          mutated = true;
        } else if (rows > 0) {
          // the gradient output overlaps gradOutput
          const buf = new Float32Array(size + rows);
          gradOutput = buf.subarray(0, rows);
          gradOut = buf.subarray(0, size);
          mutated = true;
        }
        break;
      }
      case 'tamperPositions':
        if (rows * S > 0) {
          afterForward = (r) => {
            r.indices[j % (rows * S)] = pick([-1, d, 2 ** 31 - 1, -(2 ** 31)], v);
            return true;
          };
          mutated = true;
        }
        break;
      case 'detachPositions':
        if (rows * S > 0) {
          afterForward = (r) => detach(r.indices);
          mutated = true;
        }
        break;
      case 'allowNonFinite':
        // 'false' must not turn the check off: only true and false are booleans
        mutated = set(opts, 'allowNonFinite', ['false', 'true', 1, 0, null, {}]);
        message = /^allowNonFinite must be true or false, got /;
        break;
      case 'unknownKey': {
        const key = pick(UNKNOWN_KEYS, v);
        opts[key] = 1;
        mutated = true;
        message = new RegExp(`^unknown option '${key}' in options`);
        break;
      }
      case 'outputsKey':
        if (!c.functional) {
          outputsArg = { ...outputs, [pick(['output', 'pos', 'values', 'grad'], v)]: new Float32Array(rows) };
          mutated = true;
          message = /^unknown option '\w+' in outputs/;
        }
        break;
      case 'hugeSamples':
        // positions above 2^28 elements: refused at once, naming nSample and the bytes. The
        // case gets 17 times its rows (a new leading dim; dim counts from the end) so that
        // nSample = 2^24, allowed on its own, is too much for this call.
        if (!c.explicit && c.negDim && c.outMode === 0 && size > 0) {
          xArg = new Float32Array(17 * size);
          shapeArg = [17, ...c.shape];
          opts.nSample = 2 ** 24;
          mutated = true;
          const n = 17 * rows * 2 ** 24;
          message = new RegExp(
            `^nSample = 16777216 with ${17 * rows} slices needs indices of ${n} elements \\(${n * 4} bytes\\), above the limit of 2\\^28`,
          );
        }
        break;
      case 'emptyDim':
        // an empty reduced dim with slices left has no k-th value: a RangeError naming the dim
        if (rows > 0 && !c.explicit && c.outMode === 0) {
          xArg = new Float32Array(0);
          shapeArg = c.shape.map((q, i) => (i === c.dim ? 0 : q));
          mutated = true;
          message = /^x has shape \[[\d, ]+\]: dim \d+ is empty, so its \d+ slices? ha(s|ve) no k-th value/;
        }
        break;
    }
  }

  let outcome: Outcome;
  try {
    let r: NoisedTopKResult;
    const async = mode === 'async';
    if (c.functional) {
      r = async
        ? await functional.noisedTopKAsync(xArg as Float32Array, shapeArg as number[], optsArg as never)
        : functional.noisedTopK(xArg as Float32Array, shapeArg as number[], optsArg as never);
    } else {
      const op = new NoisedTopK(optsArg as never);
      r = async
        ? await op.forwardAsync(xArg as Float32Array, shapeArg as number[], outputsArg as never)
        : op.forward(xArg as Float32Array, shapeArg as number[], outputsArg as never);
    }
    const values = bits(r.values);
    const positions = bits(r.indices);
    if (afterForward && !afterForward(r)) mutated = false;
    const g = async
      ? await r.backwardAsync(gradOutput as Float32Array, gradOut as Float32Array)
      : r.backward(gradOutput as Float32Array, gradOut as Float32Array);
    outcome = { ok: true, bits: { values, positions, grad: bits(g) } };
  } catch (err) {
    outcome = failure(err);
  }
  return { outcome, mutated, guardsIntact: guards.every((f) => f()), message };
}

/** Valid case: the answer of the naive reference, where the noise is known. */
function checkTopKReference(c: TopKCase, out: Outcome & { ok: true }): void {
  const explicitNoise = c.explicit;
  const eps = c.epsilon ?? 1;
  if (!explicitNoise && eps !== 0) return; // the stream's noise: cpu == js is the check
  const d = c.shape[c.dim]!;
  const outer = c.shape.slice(0, c.dim).reduce((a, b) => a * b, 1);
  const inner = c.shape.slice(c.dim + 1).reduce((a, b) => a * b, 1);
  const S = c.S;
  const z = explicitNoise ? (e: number, s: number) => Math.fround(c.noise[e * S + s]!) : () => 0;
  const ref = referenceForward(c.x, outer, d, inner, c.k, eps, S, z);
  const values = new Float32Array(Uint32Array.from(out.bits.values!).buffer);
  expect(sameValues(values, ref.values), `values ${String(values)} vs reference ${String(ref.values)}`).toBe(true);
  expect(out.bits.positions, 'positions vs reference').toEqual(Array.from(ref.positions));
  const rowScale = c.grad.given ? Float32Array.from(c.grad.data) : new Float32Array(outer * inner).fill(1);
  const grad = new Float32Array(Uint32Array.from(out.bits.grad!).buffer);
  const refGrad = referenceBackward(ref.positions, rowScale, outer, d, inner, S);
  expect(sameValues(grad, refGrad), `grad ${String(grad)} vs reference ${String(refGrad)}`).toBe(true);
}

function expectAgreement(c: { mutation: Mutation }, js: TopKRun, other: TopKRun): void {
  if (js.mutated) {
    expect(js.outcome.ok, `mutation ${JSON.stringify(c.mutation)} was accepted`).toBe(false);
  } else if (!js.outcome.ok) {
    expect.fail(`valid case rejected: ${js.outcome.name}: ${js.outcome.message}`);
  }
  if (!js.outcome.ok) expect(['TypeError', 'RangeError']).toContain(js.outcome.name);
  if (js.mutated && js.message && !js.outcome.ok) expect(js.outcome.message).toMatch(js.message);
  expect(other.mutated).toBe(js.mutated);
  expect(other.outcome).toEqual(js.outcome);
  expect(js.guardsIntact, 'js wrote outside an output view').toBe(true);
  expect(other.guardsIntact, 'wrote outside an output view').toBe(true);
}

const fcParams = (numRuns: number, offset: number) => ({ numRuns, seed: FUZZ_SEED + offset, endOnFailure: true });

describe('fuzz: NoisedTopK and functional.noisedTopK', () => {
  it('sync: the documented error or the right answer, cpu bit-identical to js', async () => {
    await fc.assert(
      fc.asyncProperty(topkCaseArb, async (c) => {
        count('topk sync');
        const js = await runTopK(c, 'js', 'sync');
        for (const b of NATIVE) expectAgreement(c, js, await runTopK(c, b, 'sync'));
        if (js.outcome.ok) checkTopKReference(c, js.outcome);
      }),
      fcParams(runs(30_000), 1),
    );
  }, 600_000);

  it('async: same outcome as sync, on both backends', async () => {
    await fc.assert(
      fc.asyncProperty(topkCaseArb, async (c) => {
        count('topk async');
        const ref = await runTopK(c, 'js', 'sync');
        expectAgreement(c, ref, await runTopK(c, 'js', 'async'));
        for (const b of NATIVE) expectAgreement(c, ref, await runTopK(c, b, 'async'));
      }),
      fcParams(runs(12_000), 2),
    );
  }, 600_000);
});

// --------------------------------------------------------------- losses ----
const LOSS_TARGETS = [
  'options',
  'k',
  'epsilon',
  'nSample',
  'seed',
  'offset',
  'scores',
  'nonfinite',
  'shape',
  'labels',
  'labelValue',
  'maxM',
  'clsNumList',
  'scale',
  'margins',
  'noise',
  'noNoiseNoSeed',
  'gradLoss',
  'gradOut',
  'allowNonFinite',
  'unknownKey',
  'reduction',
  'weight',
  'ignoreIndex',
  'labelsProxy',
] as const;

interface LossCase {
  form: 'bal' | 'imbal' | 'balF' | 'imbalF';
  explicit: boolean;
  B: number;
  D: number;
  k: number;
  epsilon: number | undefined;
  S: number;
  seed: number | bigint;
  offset: number | undefined;
  allowNonFinite: boolean;
  scores: number[];
  noise: number[];
  labels: number[];
  labelsKind: 'array' | 'int32' | 'uint8' | 'uint16' | 'uint32' | 'int8' | 'int16';
  scoresKind: Kind;
  maxM: number;
  clsNumList: number[];
  scale: number | undefined;
  gradLoss: number | undefined;
  gradOutKind: Kind | null;
  /** PyTorch's conventions (issue 9): undefined = the default. */
  reduction: 'mean' | 'sum' | 'none' | undefined;
  weight: number[] | null;
  /** -1: rows marked in ignoreRows get label -1; 0: class 0 is ignored; null: no ignoreIndex. */
  ignoreIndex: -1 | 0 | null;
  ignoreRows: boolean[];
  mutation: Mutation;
}

const lossCaseArb: fc.Arbitrary<LossCase> = fc
  .record({
    form: fc.constantFrom<LossCase['form']>('bal', 'imbal', 'balF', 'imbalF'),
    explicit: fc.boolean(),
    B: fc.integer({ min: 1, max: 3 }),
    D: fc.integer({ min: 2, max: 5 }),
    kSeed: fc.nat(),
    epsilon: fc.constantFrom(undefined, 0, 0.5, 1, 1e-3),
    S: fc.integer({ min: 1, max: 3 }),
    seed: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    offset: fc.constantFrom(undefined, 0, 3, 2 ** 32 - 1),
    allowNonFinite: fc.boolean(),
    labelsKind: fc.constantFrom<LossCase['labelsKind']>('array', 'int32', 'uint8', 'uint16', 'uint32', 'int8', 'int16'),
    scoresKind: kindArb,
    maxM: fc.constantFrom(0, 0.5, 1, 3),
    scale: fc.constantFrom(undefined, 1, 50, 0.5),
    gradLoss: fc.constantFrom(undefined, 1, 2.5, 0, -1),
    gradOutKind: fc.option(kindArb),
    reduction: fc.constantFrom<LossCase['reduction']>(undefined, 'mean', 'sum', 'none'),
    weighted: fc.boolean(),
    ignoreIndex: fc.constantFrom<LossCase['ignoreIndex']>(null, null, -1, 0),
    mutation: mutationArb(LOSS_TARGETS),
  })
  .chain((r) =>
    fc
      .record({
        scores: fc.array(valueArb(r.allowNonFinite), { minLength: r.B * r.D, maxLength: r.B * r.D }),
        noise: fc.array(valueArb(r.allowNonFinite), { minLength: r.B * r.D * r.S, maxLength: r.B * r.D * r.S }),
        labels: fc.array(fc.integer({ min: 0, max: r.D - 1 }), { minLength: r.B, maxLength: r.B }),
        clsNumList: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: r.D, maxLength: r.D }),
        weight: fc.array(fc.constantFrom(0, 0.5, 1, 2, 3.25), { minLength: r.D, maxLength: r.D }),
        ignoreRows: fc.array(fc.boolean(), { minLength: r.B, maxLength: r.B }),
      })
      .map((q) => ({
        form: r.form,
        explicit: r.explicit && (r.form === 'balF' || r.form === 'imbalF'),
        B: r.B,
        D: r.D,
        k: 1 + (r.kSeed % (r.D - 1)),
        epsilon: r.epsilon,
        S: r.S,
        seed: r.seed,
        offset: r.offset,
        allowNonFinite: r.allowNonFinite,
        scores: q.scores,
        noise: q.noise,
        labels: q.labels,
        labelsKind: r.labelsKind,
        scoresKind: r.scoresKind,
        maxM: r.maxM,
        clsNumList: q.clsNumList,
        scale: r.scale,
        gradLoss: r.gradLoss,
        gradOutKind: r.gradOutKind,
        reduction: r.reduction,
        weight: r.weighted ? q.weight : null,
        ignoreIndex: r.ignoreIndex,
        ignoreRows: q.ignoreRows,
        mutation: r.mutation,
      })),
  );

const LABEL_CTORS = {
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  int8: Int8Array,
  int16: Int16Array,
};

async function runLoss(c: LossCase, backend: 'js' | Native, mode: 'sync' | 'async'): Promise<TopKRun> {
  const { B, D, S } = c;
  const guards: (() => boolean)[] = [];
  const sc = make<Float32Array>(Float32Array, c.scores, c.scoresKind);
  guards.push(sc.guardsIntact);
  const scores = sc.arr;
  const functionalForm = c.form === 'balF' || c.form === 'imbalF';
  const imbal = c.form === 'imbal' || c.form === 'imbalF';
  const opts: Record<string, unknown> = { k: c.k, allowNonFinite: c.allowNonFinite, backend };
  if (c.epsilon !== undefined) opts.epsilon = c.epsilon;
  let noise: Float32Array | undefined;
  if (c.explicit) {
    noise = Float32Array.from(c.noise);
    opts.noise = noise;
  } else {
    opts.seed = c.seed;
    opts.nSample = S;
    // the noise rule: a functional form's seed comes with an offset (docs/api.md, Conventions)
    if (functionalForm) opts.offset = c.offset ?? 0;
  }
  if (c.form === 'imbal') {
    opts.maxM = c.maxM;
    opts.clsNumList = c.clsNumList;
  }
  if (imbal && c.scale !== undefined) opts.scale = c.scale;
  if (c.form === 'imbalF') opts.margins = ldamMargins(c.clsNumList, c.maxM);
  if (c.reduction !== undefined) opts.reduction = c.reduction;
  if (c.weight) opts.weight = Float32Array.from(c.weight);
  if (c.ignoreIndex !== null) opts.ignoreIndex = c.ignoreIndex;
  // ignoreIndex -1 marks rows; unsigned label arrays cannot hold -1, so those stay as they are
  const signed =
    c.labelsKind === 'array' || c.labelsKind === 'int32' || c.labelsKind === 'int8' || c.labelsKind === 'int16';
  const labelValues = c.ignoreIndex === -1 && signed ? c.labels.map((y, r) => (c.ignoreRows[r] ? -1 : y)) : c.labels;
  let labels: unknown = c.labelsKind === 'array' ? labelValues.slice() : LABEL_CTORS[c.labelsKind].from(labelValues);
  let shape: unknown = [B, D];
  let optsArg: unknown = opts;
  let scoresArg: unknown = scores;
  let gradLoss: unknown =
    c.reduction === 'none' && c.gradLoss !== undefined
      ? Float32Array.from({ length: B }, (_, r) => c.gradLoss! * (r + 1))
      : c.gradLoss;
  let gradOut: unknown;
  let message: RegExp | undefined;
  if (c.gradOutKind) {
    const g = make<Float32Array>(Float32Array, new Float32Array(B * D), c.gradOutKind);
    guards.push(g.guardsIntact);
    gradOut = g.arr;
  }

  let mutated = false;
  const m = c.mutation;
  if (m) {
    const { v, j } = m;
    const set = (key: string, list: readonly unknown[]) => {
      opts[key] = pick(list, v);
      return true;
    };
    switch (m.target) {
      case 'options':
        optsArg = pick(JUNK, v)();
        if (optsArg !== null && typeof optsArg === 'object' && !Array.isArray(optsArg))
          optsArg = Object.create(optsArg as object);
        mutated = true;
        break;
      case 'k':
        mutated = set('k', [0, -1, 1.5, NaN, Infinity, D, 2 ** 31, '1', null, 1n, undefined]);
        break;
      case 'epsilon':
        mutated = set('epsilon', [-1, NaN, Infinity, 1e39, '1', 1n, {}]);
        break;
      case 'nSample':
        mutated = set('nSample', [0, -1, 1.5, NaN, 2 ** 24 + 1, '5', 5n]);
        break;
      case 'seed':
        if (!c.explicit) mutated = set('seed', [-1, 1.5, NaN, 2 ** 53, -1n, 2n ** 64n, '1', null]);
        break;
      case 'offset':
        if (functionalForm && !c.explicit) mutated = set('offset', [-1, 2 ** 32, 1.5, NaN, '0', 0n]);
        break;
      case 'scores': {
        const alts: unknown[] = [
          ...JUNK.map((f) => f()),
          Float64Array.from(c.scores),
          Array.from(c.scores),
          new Float32Array(B * D + 1),
          make(Float32Array, c.scores, 'resizable').arr,
        ];
        const which = v % (alts.length + 1);
        if (which === alts.length) mutated = detach(scores);
        else {
          scoresArg = alts[which];
          mutated = true;
        }
        break;
      }
      case 'nonfinite':
        if (!c.allowNonFinite) {
          scores[j % (B * D)] = pick([NaN, Infinity, -Infinity], v);
          mutated = true;
          message = /^scores\[\d+\] is (NaN|Infinity|-Infinity): non-finite inputs are rejected/;
        }
        break;
      case 'shape':
        shape = pick<() => unknown>(
          [
            ...JUNK_SCALAR,
            () => [B * D],
            () => [B + 1, D],
            () => [B, D, 1],
            () => [B * D, 1],
            () => [B, D + 1],
            () => [B, '2'],
            () => [B, NaN],
          ],
          v,
        )();
        mutated = true;
        break;
      case 'labels':
        labels = pick<() => unknown>(
          [
            ...JUNK_SCALAR,
            () => ({}),
            () => Float32Array.from(c.labels),
            () => Float64Array.from(c.labels),
            () => [...c.labels, 0],
            () => c.labels.slice(1),
          ],
          v,
        )();
        mutated = true;
        break;
      case 'labelValue': {
        const arr = labelValues.slice() as unknown[];
        arr[j % B] = pick([-1, D, 1.5, NaN, '0', null, 0n, undefined, Infinity, 2 ** 32, -100], v);
        labels = arr;
        mutated = c.ignoreIndex === null || arr[j % B] !== c.ignoreIndex;
        break;
      }
      case 'labelsProxy':
        // a Proxy is no typed array: a TypeError naming labels, not V8's "incompatible receiver"
        labels = new Proxy(Int32Array.from(c.labels), {});
        mutated = true;
        message = /^labels must be an Int32Array or an array of integers, got /;
        break;
      case 'allowNonFinite':
        mutated = set('allowNonFinite', ['false', 'true', 1, 0, null, {}]);
        message = /^allowNonFinite must be true or false, got /;
        break;
      case 'unknownKey': {
        const key = pick(
          ['nsample', 'eps', 'n_sample', 'dim', 'axis', 'reduce', 'size_average', 'ignore_index', 'weights', 'bogus'],
          v,
        );
        opts[key] = 1;
        mutated = true;
        message = new RegExp(`^unknown option '${key}' in options`);
        break;
      }
      case 'reduction':
        mutated = set('reduction', ['avg', 'Mean', '', 1, null, true, {}]);
        message = /^reduction must be 'mean', 'sum' or 'none', got /;
        break;
      case 'weight': {
        const bad = Float32Array.from({ length: D }, () => 1);
        bad[j % D] = pick([-1, NaN, Infinity, -Infinity, -1e-30], v);
        mutated = set('weight', [
          bad,
          // weight takes any numeric array-like: an Array with a non-number, a wrong length
          Array.from({ length: D }, () => '1'),
          new Float32Array(D + 1),
          new Float64Array(D + 1),
          'abc',
          1,
          null,
        ]);
        break;
      }
      case 'ignoreIndex':
        mutated = set('ignoreIndex', [1.5, NaN, Infinity, '0', 0n, null, {}, 2 ** 53]);
        message = /^ignoreIndex must be /;
        break;
      case 'maxM':
        if (c.form === 'imbal') mutated = set('maxM', [-1, NaN, Infinity, '1', undefined, null, 1n, 1e39]);
        break;
      case 'clsNumList':
        if (c.form === 'imbal') {
          const base = c.clsNumList;
          const list = [
            'abc',
            undefined,
            null,
            42,
            [],
            [0, ...base.slice(1)],
            [-1, ...base.slice(1)],
            [NaN, ...base.slice(1)],
            ['1', ...base.slice(1)],
            [Infinity, ...base.slice(1)],
            [...base, 1],
          ];
          mutated = set('clsNumList', list);
          // the wrong count of classes is named as clsNumList (issue 11), not as margins
          if (v % list.length === list.length - 1 && !c.weight) message = /^clsNumList has \d+ classes, expected \d+/;
        }
        break;
      case 'scale':
        if (imbal) {
          mutated = set('scale', [NaN, Infinity, -Infinity, '50', 1n, {}, 1e39, -1e300, -1, 0, -0.5]);
          message = /^scale must be/;
        }
        break;
      case 'margins':
        if (c.form === 'imbalF') {
          const good = opts.margins as Float32Array;
          const nan = good.slice();
          nan[j % D] = NaN;
          const alts: unknown[] = [
            ...JUNK.map((f) => f()),
            undefined,
            Float64Array.from(good),
            new Float32Array(D + 1),
          ];
          if (!c.allowNonFinite) alts.push(nan);
          opts.margins = pick(alts, v);
          mutated = true;
        }
        break;
      case 'noise':
        if (c.explicit) {
          const alts: unknown[] = [
            ...JUNK.map((f) => f()),
            Float64Array.from(c.noise),
            new Float32Array(B * D * S + 1),
          ];
          if (!c.allowNonFinite) {
            const bad = Float32Array.from(c.noise);
            bad[j % bad.length] = NaN;
            alts.push(bad);
          }
          const which = v % (alts.length + 1);
          if (which === alts.length) mutated = detach(noise!);
          else {
            opts.noise = alts[which];
            mutated = true;
          }
        }
        break;
      case 'noNoiseNoSeed':
        if (functionalForm) {
          // an offset without a seed (no seed and no noise alone is a valid call: fresh noise)
          delete opts.noise;
          delete opts.seed;
          opts.offset = 0;
          mutated = true;
        }
        break;
      case 'gradLoss':
        // 1e39 is a finite double but Infinity as a float32
        gradLoss = pick([NaN, Infinity, -Infinity, '1', null, 1n, {}, 1e39, -3.5e38], v);
        mutated = true;
        break;
      case 'gradOut': {
        const alts: (() => unknown)[] = [...JUNK, () => new Float32Array(B * D + 1), () => new Float32Array(B * D - 1)];
        const which = v % (alts.length + 2);
        if (which < alts.length) gradOut = alts[which]!();
        else {
          const g = new Float32Array(B * D);
          detach(g);
          gradOut = g;
        }
        mutated = true;
        break;
      }
    }
  }

  let outcome: Outcome;
  try {
    const async = mode === 'async';
    let r: ReturnType<typeof functional.balNoisedTopKLoss>;
    const args = [scoresArg, labels, shape] as const;
    if (c.form === 'bal' || c.form === 'imbal') {
      const op = c.form === 'bal' ? new BalNoisedTopK(optsArg as never) : new ImbalNoisedTopK(optsArg as never);
      r = async
        ? await op.forwardAsync(...(args as unknown as [Float32Array, number[], number[]]))
        : op.forward(...(args as unknown as [Float32Array, number[], number[]]));
    } else {
      const fwd =
        c.form === 'balF'
          ? async
            ? functional.balNoisedTopKLossAsync
            : functional.balNoisedTopKLoss
          : async
            ? functional.imbalNoisedTopKLossAsync
            : functional.imbalNoisedTopKLoss;
      r = await (fwd as (...a: unknown[]) => ReturnType<typeof functional.balNoisedTopKLoss>)(
        scoresArg,
        labels,
        shape,
        optsArg,
      );
    }
    const g = async
      ? await r.backwardAsync(gradLoss as never, gradOut as Float32Array)
      : r.backward(gradLoss as never, gradOut as Float32Array);
    outcome = {
      ok: true,
      loss: r.loss ?? undefined,
      bits: {
        loss: bits(Float32Array.of(r.loss ?? NaN)),
        losses: bits(r.rowLosses),
        hingeArguments: bits(r.hingeArguments),
        topk: bits(r.topk),
        grad: bits(g),
      },
    };
  } catch (err) {
    outcome = failure(err);
  }
  return { outcome, mutated, guardsIntact: guards.every((f) => f()), message };
}

describe('fuzz: the losses (classes and functional forms)', () => {
  it('sync: the documented error or the right answer, cpu bit-identical to js', async () => {
    await fc.assert(
      fc.asyncProperty(lossCaseArb, async (c) => {
        count('loss sync');
        const js = await runLoss(c, 'js', 'sync');
        for (const b of NATIVE) expectAgreement(c, js, await runLoss(c, b, 'sync'));
      }),
      fcParams(runs(32_000), 3),
    );
  }, 600_000);

  it('async: same outcome as sync, on both backends', async () => {
    await fc.assert(
      fc.asyncProperty(lossCaseArb, async (c) => {
        count('loss async');
        const ref = await runLoss(c, 'js', 'sync');
        expectAgreement(c, ref, await runLoss(c, 'js', 'async'));
        for (const b of NATIVE) expectAgreement(c, ref, await runLoss(c, b, 'async'));
      }),
      fcParams(runs(8_000), 4),
    );
  }, 600_000);
});

// ------------------------------------------------ the small entry points ----
const anything = fc.oneof(
  fc.anything(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 53, -1, 1.5, 0, 1, 1024, 1025, 3n, 2n ** 64n),
  fc.constantFrom(...JUNK).map((f) => f()),
);

describe('fuzz: ldamMargins, NoiseStream, setThreads and the constructors', () => {
  it('any arguments: a result, a TypeError or a RangeError', () => {
    const before = threads();
    fc.assert(
      fc.property(fc.nat(5), anything, anything, (which, a, b) => {
        count('small entry points');
        try {
          switch (which) {
            case 0: {
              const m = ldamMargins(a as number[], b as number);
              expect(m).toBeInstanceOf(Float32Array);
              for (const q of m) expect(Number.isFinite(q)).toBe(true);
              break;
            }
            case 1: {
              const s = new NoiseStream(a as number);
              expect(typeof s.seed).toBe('bigint');
              expect(s.next().kind).toBe('stream');
              break;
            }
            case 2:
              setThreads(a as number);
              expect(threads()).toBeGreaterThanOrEqual(1);
              break;
            case 3:
              new NoisedTopK(a as never);
              break;
            case 4:
              new BalNoisedTopK(a as never);
              break;
            case 5:
              new ImbalNoisedTopK({ k: 1, maxM: a, clsNumList: b } as never);
              break;
          }
        } catch (err) {
          if ((err as Error).name === 'AssertionError') throw err;
          expect(['TypeError', 'RangeError']).toContain((err as Error).constructor.name);
        }
      }),
      fcParams(runs(12_000), 5),
    );
    setThreads(before);
  }, 600_000);
});

// ------------------------------------------- issue 11: reads and memory ----
// Hostile reads: a getter or a Proxy at every read position (options, outputs, shape elements,
// shape length, label elements) either detaches the input in the middle of the call or answers
// differently on a second read. Every entry reads each argument once, before it takes the
// views, so a detached input is always seen as detached (a TypeError or RangeError naming it),
// and a second answer is never seen (the result is the plain call's with the first answers).
type HostileEntry = 'topk' | 'topkF' | 'bal' | 'imbal' | 'balF' | 'imbalF' | 'perClass' | 'rare';
const HOSTILE_POSITIONS: Record<HostileEntry, readonly string[]> = {
  topk: ['ctorOption', 'outputsKey', 'shapeElem', 'shapeLength'],
  topkF: ['option', 'outputsKey', 'shapeElem', 'shapeLength'],
  bal: ['shapeElem', 'shapeLength', 'labelsElem'],
  balF: ['option', 'shapeElem', 'shapeLength', 'labelsElem'],
  imbalF: ['option', 'shapeElem', 'shapeLength', 'labelsElem', 'marginsKey'],
  perClass: ['shapeElem', 'shapeLength', 'labelsElem'],
  imbal: ['ctorOption', 'clsNumElem', 'shapeElem', 'labelsElem'],
  rare: ['option', 'countsElem', 'labelsElem', 'shapeElem'],
};

interface HostileCase {
  entry: HostileEntry;
  position: number;
  action: 'detach' | 'flip';
  detacher: Detacher;
  async: boolean;
  B: number;
  D: number;
  x: number[];
  labels: number[];
}

const hostileArb: fc.Arbitrary<HostileCase> = fc
  .record({
    entry: fc.constantFrom<HostileEntry>('topk', 'topkF', 'bal', 'imbal', 'balF', 'imbalF', 'perClass', 'rare'),
    position: fc.nat(),
    action: fc.constantFrom<'detach' | 'flip'>('detach', 'flip'),
    detacher: fc.constantFrom<Detacher>('structuredClone', 'postMessage'),
    async: fc.boolean(),
    B: fc.integer({ min: 1, max: 3 }),
    D: fc.integer({ min: 2, max: 5 }),
  })
  .chain((r) =>
    fc
      .record({
        x: fc.array(valueArb(false), { minLength: r.B * r.D, maxLength: r.B * r.D }),
        labels: fc.array(fc.integer({ min: 0, max: r.D - 1 }), { minLength: r.B, maxLength: r.B }),
      })
      .map((q) => ({ ...r, ...q })),
  );

async function runHostile(c: HostileCase, backend: 'js' | Native, hostile: boolean): Promise<Outcome> {
  const { B, D } = c;
  const x = Float32Array.from(c.x);
  const position = pick(HOSTILE_POSITIONS[c.entry], c.position);
  const at = (p: string) => hostile && position === p;
  // the effect of a hostile read: detach x, or nothing (the answer changes on the next read)
  const effect = () => {
    if (c.action === 'detach') DETACHERS[c.detacher](x);
  };
  const flipTo = (later: unknown, real: unknown) => (c.action === 'flip' ? later : real);
  const shape: unknown = at('shapeLength')
    ? (() => {
        let reads = 0;
        return new Proxy([B, D, 7], {
          get: (t, key, rcv) => {
            if (key === 'length') {
              if (reads++ === 0) {
                effect();
                return 2;
              }
              return flipTo(3, 2);
            }
            return Reflect.get(t, key, rcv);
          },
        });
      })()
    : at('shapeElem')
      ? trap([B] as unknown[], '1', D, flipTo(D + 1, D), effect)
      : [B, D];
  let labels: unknown = c.labels.slice();
  if (at('labelsElem')) {
    const arr: unknown[] = [];
    trap(arr, '0', c.labels[0], flipTo(D + 3, c.labels[0]), effect);
    for (let r = 1; r < B; r++) arr[r] = c.labels[r];
    labels = arr;
  }
  // At 'option' / 'ctorOption', one key of the options (any of them, by the case's position)
  // is a getter: it detaches x on its first read, or answers with junk on later reads.
  const withOption = (o: Record<string, unknown>, key: string, real: unknown, later: unknown) => {
    o[key] = real;
    if (at('option') || at('ctorOption')) {
      const keys = Object.keys(o);
      const trapped = keys[Math.floor(c.position / 7) % keys.length]!;
      trap(o, trapped, o[trapped], flipTo(trapped === key ? later : 'junk', o[trapped]), effect);
    }
    return o;
  };
  try {
    switch (c.entry) {
      case 'topk': {
        const opts = withOption({ k: 1, seed: 5, nSample: 2, backend }, 'epsilon', 0.5, -1);
        const op = new NoisedTopK(opts as never);
        const outputs = at('outputsKey') ? trap({}, 'out', undefined, new Float32Array(B), effect) : {};
        const r = c.async
          ? await op.forwardAsync(x, shape as number[], outputs)
          : op.forward(x, shape as number[], outputs);
        return { ok: true, bits: { values: bits(r.values), grad: bits(r.backward()) } };
      }
      case 'topkF': {
        const opts = withOption({ k: 1, nSample: 2, epsilon: 0.5, offset: 0, backend }, 'seed', 5, 6);
        if (at('outputsKey')) trap(opts, 'indices', undefined, new Int32Array(B * 2), effect);
        const r = c.async
          ? await functional.noisedTopKAsync(x, shape as number[], opts as never)
          : functional.noisedTopK(x, shape as number[], opts as never);
        return { ok: true, bits: { values: bits(r.values), grad: bits(r.backward()) } };
      }
      case 'bal': {
        const op = new BalNoisedTopK({ k: 1, seed: 5, nSample: 2, backend });
        const r = c.async
          ? await op.forwardAsync(x, labels as number[], shape as number[])
          : op.forward(x, labels as number[], shape as number[]);
        return {
          ok: true,
          bits: { loss: bits(Float32Array.of(r.loss)), topk: bits(r.topk), grad: bits(r.backward()) },
        };
      }
      case 'balF':
      case 'imbalF': {
        const opts: Record<string, unknown> = withOption(
          { k: 1, seed: 5, offset: 0, nSample: 2, backend },
          'epsilon',
          0.5,
          Infinity,
        );
        if (c.entry === 'imbalF') {
          if (at('marginsKey'))
            trap(
              opts,
              'margins',
              ldamMargins(
                Array.from({ length: D }, (_, j) => j + 1),
                0.5,
              ),
              new Float32Array(D + 1),
              effect,
            );
          else
            opts.margins = ldamMargins(
              Array.from({ length: D }, (_, j) => j + 1),
              0.5,
            );
        }
        const f =
          c.entry === 'balF'
            ? c.async
              ? functional.balNoisedTopKLossAsync
              : functional.balNoisedTopKLoss
            : c.async
              ? functional.imbalNoisedTopKLossAsync
              : functional.imbalNoisedTopKLoss;
        const r = await (f as (...a: unknown[]) => ReturnType<typeof functional.balNoisedTopKLoss>)(
          x,
          labels,
          shape,
          opts,
        );
        return {
          ok: true,
          bits: { loss: bits(Float32Array.of(r.loss ?? NaN)), topk: bits(r.topk), grad: bits(r.backward()) },
        };
      }
      case 'imbal': {
        const counts: unknown[] = Array.from({ length: D }, (_, j) => 10 + j);
        if (at('clsNumElem')) trap(counts, '0', 10, flipTo(-1, 10), effect);
        const opts = withOption({ k: 1, seed: 5, nSample: 2, maxM: 0.4, clsNumList: counts, backend }, 'scale', 7, -1);
        const op = new ImbalNoisedTopK(opts as never);
        const r = c.async
          ? await op.forwardAsync(x, labels as number[], shape as number[])
          : op.forward(x, labels as number[], shape as number[]);
        return {
          ok: true,
          bits: {
            loss: bits(Float32Array.of(r.loss)),
            hingeArguments: bits(r.hingeArguments),
            grad: bits(r.backward()),
          },
        };
      }
      case 'rare': {
        const counts: unknown[] = Array.from({ length: D }, (_, j) => 5 + 10 * j);
        if (at('countsElem')) trap(counts, String(D - 1), 5 + 10 * (D - 1), flipTo(0, 5 + 10 * (D - 1)), effect);
        const opts = withOption({ clsNumList: counts }, 'below', 20, 1e9);
        const acc = rareClassTopKAccuracy(x, labels as number[], shape as number[], 1, opts as never);
        return { ok: true, bits: { acc: [Number.isNaN(acc) ? -1 : acc] } };
      }
      case 'perClass': {
        const acc = perClassTopKAccuracy(x, labels as number[], shape as number[], 1);
        return { ok: true, bits: { acc: Array.from(acc, (q) => (Number.isNaN(q) ? -1 : q)) } };
      }
    }
  } catch (err) {
    return failure(err);
  }
}

// Shared memory mapped twice: an output and an input on two SharedArrayBuffer objects over the
// same bytes (what postMessage or structuredClone of a SharedArrayBuffer gives). JavaScript
// sees two buffers; the answer must still be right, or a RangeError naming both arrays.
type SabPair =
  | 'out/x'
  | 'positions/x'
  | 'out/noise'
  | 'positions/noise'
  | 'out/positions'
  | 'grad/positions'
  | 'grad/gradOutput'
  | 'grad/x';
const SAB_PAIRS: SabPair[] = [
  'out/x',
  'positions/x',
  'out/noise',
  'positions/noise',
  'out/positions',
  'grad/positions',
  'grad/gradOutput',
  'grad/x',
];

async function runSabAlias(pair: SabPair, c: HostileCase, backend: 'js' | Native, aliased: boolean): Promise<Outcome> {
  const { B, D } = c;
  const S = 2;
  // one shared block holding every array of the call at disjoint offsets; the aliased run
  // hands one of them over through a second SharedArrayBuffer object mapping the same bytes
  const sizes = { x: B * D, noise: B * D * S, out: B, positions: B * S, gradOutput: B, grad: B * D };
  const total = Object.values(sizes).reduce((a, b) => a + b, 0) + 8;
  const sab = new SharedArrayBuffer(total * 4);
  let at = 0;
  const place = <T extends Float32Array | Int32Array>(
    ctor: { new (b: ArrayBufferLike, o: number, n: number): T },
    n: number,
  ): T => {
    const a = new ctor(sab, at * 4, n);
    at += n + 1;
    return a;
  };
  const x = place(Float32Array, sizes.x);
  x.set(c.x);
  const noise = place(Float32Array, sizes.noise);
  noise.set(Array.from({ length: sizes.noise }, (_, j) => ((j * 7919) % 13) / 4 - 1.5));
  const gradOutput = place(Float32Array, sizes.gradOutput);
  gradOutput.set(Array.from({ length: B }, (_, r) => r + 0.5));
  let out: Float32Array = place(Float32Array, sizes.out);
  let positions: Int32Array = place(Int32Array, sizes.positions);
  let grad: Float32Array = place(Float32Array, sizes.grad);
  if (aliased) {
    const [output, input] = pair.split('/') as [string, string];
    const target: Float32Array | Int32Array = { x, noise, positions, gradOutput, out }[input]!;
    if (output === 'out') out = sharedTwin(target as Float32Array, Float32Array as never, 0, B) as Float32Array;
    else if (output === 'positions')
      positions = sharedTwin(target as Int32Array, Int32Array as never, 0, B * S) as unknown as Int32Array;
    else grad = new Float32Array(structuredClone(sab), target.byteOffset, B * D);
  }
  try {
    const r = c.async
      ? await functional.noisedTopKAsync(x, [B, D], { k: 1, epsilon: 0.5, noise, backend, out, indices: positions })
      : functional.noisedTopK(x, [B, D], { k: 1, epsilon: 0.5, noise, backend, out, indices: positions });
    const values = bits(r.values);
    const pos = bits(r.indices);
    const g = c.async ? await r.backwardAsync(gradOutput, grad) : r.backward(gradOutput, grad);
    return { ok: true, bits: { values, positions: pos, grad: bits(g) } };
  } catch (err) {
    return failure(err);
  }
}

describe('fuzz: hostile reads and shared memory mapped twice (issue 11)', () => {
  it('a getter or Proxy at every read position: detached is refused by name, a second answer is never seen', async () => {
    await fc.assert(
      fc.asyncProperty(hostileArb, async (c) => {
        count('hostile reads');
        const backendsHere: ('js' | Native)[] =
          c.entry === 'perClass' || c.entry === 'rare' ? ['js'] : ['js', ...NATIVE];
        const plain = await runHostile(c, 'js', false);
        expect(plain.ok, `the plain call failed: ${JSON.stringify(plain)}`).toBe(true);
        for (const b of backendsHere) {
          const got = await runHostile(c, b, true);
          if (c.action === 'detach') {
            expect(
              got.ok,
              `${b}: detached input accepted (${c.entry}, ${pick(HOSTILE_POSITIONS[c.entry], c.position)})`,
            ).toBe(false);
            if (!got.ok) {
              expect(['TypeError', 'RangeError']).toContain(got.name);
              expect(got.message).toMatch(/\b(x|scores)\b/);
            }
          } else {
            expect(got, `${b}: ${c.entry}, ${pick(HOSTILE_POSITIONS[c.entry], c.position)}`).toEqual(plain);
          }
        }
      }),
      fcParams(runs(4_000), 6),
    );
  }, 600_000);

  it('an output mapping an input through a second SharedArrayBuffer: the right answer or a RangeError naming both', async () => {
    await fc.assert(
      fc.asyncProperty(hostileArb, fc.constantFrom(...SAB_PAIRS), async (c, pair) => {
        count('shared twins');
        for (const b of ['js', ...NATIVE] as const) {
          const want = await runSabAlias(pair, c, b, false);
          expect(want.ok, JSON.stringify(want)).toBe(true);
          const got = await runSabAlias(pair, c, b, true);
          if (got.ok) {
            expect(got, `${b} ${pair}: a wrong answer`).toEqual(want);
          } else {
            expect(got.name, `${b} ${pair}: ${got.message}`).toBe('RangeError');
            // the address check names the first overlapping pair it finds
            expect(got.message).toMatch(/^(out|indices) shares memory with (x|noise|indices|gradOutput)$/);
          }
        }
      }),
      fcParams(runs(2_000), 7),
    );
  }, 600_000);
});

// ------------------------------------------------------- the lazy sampler (issue 18) ----
describe('fuzz: the lazy sampler at the edges of its skips', () => {
  // Words and q weighted toward the edges (the word 0xFFFFFFFF, q subnormal or about MIN_Q = 1e-300):
  // the old skip gave NaN, and the bucket walk never ended, for u = 1 with a subnormal q.
  const wordArb = fc.oneof(fc.constantFrom(...EDGE_WORDS), fc.nat({ max: 0xffffffff }));
  const qArb = fc.oneof(
    fc.constantFrom(...EDGE_Q),
    fc.double({ min: 0, max: 1e-300, noNaN: true }),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.double(),
  );
  it('every skip plan is total and every skip a number past the position', () => {
    fc.assert(
      fc.property(wordArb, qArb, fc.integer({ min: -1, max: 2 ** 24 - 2 }), fc.nat(2 ** 24), (w, q, at, extra) => {
        count('lazy skips');
        const p = skipLaw(q);
        if (!(q >= MIN_Q)) expect(p.q).toBe(0);
        if (!(p.q > 0 && p.q < 1)) return;
        expect(Number.isFinite(p.invLq) && p.invLq < 0 && p.lq < 0).toBe(true);
        const segment = at + 1 + extra;
        const next = skipNext(at, segment, uniformOpen(w), p);
        expect(next >= at + 1 && (next >= segment || Number.isInteger(next))).toBe(true);
      }),
      fcParams(runs(8_000), 8),
    );
  });

  // Rows of a few columns at the maximum and the rest 36.5 to 38.5 eps below, where the far
  // set's threshold falls in the subnormal band of q; random seeds: 'cpu' returns what 'js' does.
  it("rows at the tail edge: 'cpu' bit-identical to 'js', and every call returns", () => {
    fc.assert(
      fc.property(
        fc.record({
          d: fc.integer({ min: 40, max: 400 }),
          top: fc.integer({ min: 1, max: 12 }),
          k: fc.integer({ min: 1, max: 3 }),
          nSample: fc.integer({ min: 1, max: 3 }),
          eps: fc.constantFrom(1, 0.5, 2, 1e-3),
          below: fc.double({ min: 36.5, max: 38.5, noNaN: true }),
          seed: fc.nat({ max: 2 ** 32 - 1 }),
        }),
        (c) => {
          count('lazy tail edge');
          const x = new Float32Array(c.d).fill(Math.fround(-c.below * c.eps));
          for (let i = 0; i < Math.min(c.top, c.d); i++) x[(i * 7919) % c.d] = 0;
          const run = (backend: 'js' | 'cpu') =>
            new NoisedTopK({
              k: c.k,
              nSample: c.nSample,
              epsilon: c.eps,
              seed: c.seed,
              backend,
              sampler: 'lazy',
            }).forward(x, [c.d]);
          const js = run('js');
          if (!BACKENDS.includes('cpu')) return;
          const cpu = run('cpu');
          expect(bits(cpu.values)).toEqual(bits(js.values));
          expect(Array.from(cpu.indices)).toEqual(Array.from(js.indices));
        },
      ),
      fcParams(runs(2_000), 9),
    );
  }, 600_000);
});

// ------------------------------------------------------------------- issue 18 ----
// The generators that found issue 18's API items: labels and ignoreIndex beyond int32,
// options at the edges of the float32 domain, and the ops' arrays mapped twice.

/** A loss call with labels and ignoreIndex near the int32 and uint32 edges. */
interface LabelEdgeCase {
  B: number;
  D: number;
  x: number[];
  ignoreIndex: number | undefined;
  labels: number[];
  container: 'array' | 'Int32Array' | 'Uint32Array';
  reduction: 'mean' | 'sum' | 'none';
  module: boolean;
}

const labelEdgeArb: fc.Arbitrary<LabelEdgeCase> = fc
  .record({
    B: fc.integer({ min: 1, max: 4 }),
    D: fc.integer({ min: 2, max: 5 }),
    ignoreIndex: fc.option(fc.constantFrom(...INT32_EDGES, -100), { nil: undefined }),
    container: fc.constantFrom<LabelEdgeCase['container']>('array', 'Int32Array', 'Uint32Array'),
    reduction: fc.constantFrom<LabelEdgeCase['reduction']>('mean', 'sum', 'none'),
    module: fc.boolean(),
  })
  .chain((r) =>
    fc
      .record({
        x: fc.array(valueArb(false), { minLength: r.B * r.D, maxLength: r.B * r.D }),
        labels: fc.array(
          fc.oneof(
            { weight: 4, arbitrary: fc.integer({ min: 0, max: r.D - 1 }) },
            { weight: 3, arbitrary: fc.constant(r.ignoreIndex ?? -1) },
            { weight: 1, arbitrary: fc.constantFrom(...INT32_EDGES) },
          ),
          { minLength: r.B, maxLength: r.B },
        ),
      })
      .map((q) => ({ ...r, ...q })),
  );

function labelContainer(c: LabelEdgeCase): number[] | Int32Array {
  if (c.container === 'array') return c.labels.slice();
  // what the typed array stores (a Uint32Array wraps -1 to 4294967295), as the library reads it
  return (c.container === 'Int32Array' ? Int32Array.from(c.labels) : Uint32Array.from(c.labels)) as Int32Array;
}

type LabelOutcome =
  | { ok: true; loss: number | null; losses: number[]; grad: number[] }
  | { ok: false; name: string; message: string };

function runLabelEdge(
  c: LabelEdgeCase,
  backend: 'js' | Native,
  labels: number[] | Int32Array,
  B: number,
  x: number[],
): LabelOutcome {
  const opts = { k: 1, epsilon: 0, nSample: 1, seed: 3, backend, reduction: c.reduction, ignoreIndex: c.ignoreIndex };
  try {
    const r = c.module
      ? new BalNoisedTopK(opts).forward(Float32Array.from(x), labels, [B, c.D])
      : functional.balNoisedTopKLoss(Float32Array.from(x), labels, [B, c.D], { ...opts, offset: 0 });
    return {
      ok: true as const,
      loss: r.loss,
      losses: Array.from(r.rowLosses),
      grad: bits(r.backward(c.reduction === 'none' ? (new Float32Array(B).fill(1) as never) : (1 as never))),
    };
  } catch (err) {
    return failure(err) as LabelOutcome;
  }
}

/** The largest epsilon whose noise epsilon * Z is finite for every draw (|Z| <= NORMAL_BOUND). */
const NOISE_OVERFLOW_EPSILON = 5.891083674247998e37;

/** True when the case's noise epsilon * Z can overflow float32 (then computed as IEEE does). */
const noiseOverflows = (c: { target: string; value: number }) =>
  c.target === 'epsilon' && !Number.isFinite(Math.fround(Math.fround(c.value) * NORMAL_BOUND));

/** A call whose option `target` takes an edge of the float32 domain. */
interface Float32EdgeCase {
  entry: 'noisedTopK' | 'bal' | 'imbal' | 'perturbed' | 'svm';
  target: string;
  value: number;
  x: number[];
}

const FLOAT32_TARGETS: Record<Float32EdgeCase['entry'], string[]> = {
  noisedTopK: ['epsilon'],
  bal: ['epsilon', 'weight', 'gradOutput'],
  imbal: ['epsilon', 'scale', 'maxM', 'gradOutput'],
  perturbed: ['epsilon'],
  svm: ['tau', 'alpha', 'gradOutput'],
};

const float32EdgeArb: fc.Arbitrary<Float32EdgeCase> = fc
  .constantFrom<Float32EdgeCase['entry']>('noisedTopK', 'bal', 'imbal', 'perturbed', 'svm')
  .chain((entry) =>
    fc.record({
      entry: fc.constant(entry),
      target: fc.constantFrom(...FLOAT32_TARGETS[entry]),
      value: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...float32Edges(NOISE_OVERFLOW_EPSILON)) },
        { weight: 1, arbitrary: fc.double() },
      ),
      x: fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: 12, maxLength: 12 }),
    }),
  );

/** Every float32 array of an outcome, flattened to numbers (for the NaN rule). */
type EdgeOutcome = { ok: true; arrays: Record<string, number[]> } | { ok: false; name: string; message: string };

function runFloat32Edge(c: Float32EdgeCase, backend: 'js' | Native): EdgeOutcome {
  const v = (name: string, dflt: number) => (c.target === name ? c.value : dflt);
  const x = Float32Array.from(c.x);
  const labels = [0, 3, 1];
  const arrays: Record<string, number[]> = {};
  const keep = (name: string, a: ArrayLike<number>) => {
    arrays[name] = Array.from(a);
  };
  try {
    switch (c.entry) {
      case 'noisedTopK': {
        const r = functional.noisedTopK(x, [3, 4], {
          k: 2,
          seed: 5,
          offset: 0,
          nSample: 3,
          epsilon: v('epsilon', 1),
          backend,
        });
        keep('values', r.values);
        keep('sampleValues', r.sampleValues);
        keep('grad', r.backward());
        break;
      }
      case 'bal':
      case 'imbal': {
        const weight = Float32Array.of(1, 2, 0.5, 1);
        if (c.target === 'weight') weight[1] = c.value;
        const base = { k: 1, seed: 5, nSample: 3, epsilon: v('epsilon', 1), backend };
        const r =
          c.entry === 'bal'
            ? functional.balNoisedTopKLoss(x, labels, [3, 4], { ...base, offset: 0, weight })
            : new ImbalNoisedTopK({
                ...base,
                maxM: v('maxM', 0.5),
                clsNumList: [5, 9, 20, 4],
                scale: v('scale', 30),
              }).forward(x, labels, [3, 4]);
        keep('loss', [r.loss]);
        keep('losses', r.rowLosses);
        keep('topk', r.topk);
        keep('standardError', [r.standardError]);
        keep('grad', r.backward(v('gradOutput', 1)));
        break;
      }
      case 'perturbed': {
        const r = perturbedTopK(x, [3, 4], { k: 2, nSample: 3, seed: 5, offset: 0, epsilon: v('epsilon', 1), backend });
        keep('mask', r.mask);
        keep('grad', r.backward(Float32Array.from(c.x, (q) => q / 4)));
        break;
      }
      case 'svm': {
        const r = smoothTopKSvmLoss(x, labels, [3, 4], { k: 2, tau: v('tau', 1), alpha: v('alpha', 1), backend });
        keep('loss', [r.loss]);
        keep('rowLosses', r.rowLosses);
        keep('grad', r.backward(v('gradOutput', 1)));
        break;
      }
    }
    return { ok: true, arrays };
  } catch (err) {
    return failure(err) as EdgeOutcome;
  }
}

/** Whether the documented float32 domain (docs/input-rules.md) accepts the case's value. */
function float32Accepts(c: Float32EdgeCase): boolean {
  const f = Math.fround(c.value);
  const finite = Number.isFinite(c.value) && Number.isFinite(f);
  switch (c.target) {
    case 'epsilon':
      if (!(finite && c.value >= 0)) return false;
      return c.entry === 'perturbed' ? f >= FLOAT32_MIN_NORMAL : true;
    case 'tau':
      return finite && f >= FLOAT32_MIN_NORMAL;
    case 'scale':
      return finite && c.value > 0;
    case 'alpha':
    case 'maxM':
      return finite && c.value >= 0;
    case 'weight':
      return finite && f >= 0;
    default: // gradLoss
      return finite;
  }
}

/** An ops call with one output placed over another array of the call through a second SharedArrayBuffer. */
interface OpsTwinCase {
  op: 'topk' | 'perturbed';
  async: boolean;
  rows: number;
  d: number;
  dim: 0 | 1;
  k: number;
  pair: 'out/x' | 'indices/x' | 'out/indices' | 'grad/gradValues' | 'grad/indices';
  shift: number;
  x: number[];
}

const opsTwinArb: fc.Arbitrary<OpsTwinCase> = fc
  .record({
    op: fc.constantFrom<OpsTwinCase['op']>('topk', 'perturbed'),
    async: fc.boolean(),
    rows: fc.integer({ min: 1, max: 4 }),
    d: fc.integer({ min: 1, max: 5 }),
    dim: fc.constantFrom<0 | 1>(0, 1),
    kSeed: fc.nat(),
    pair: fc.constantFrom<OpsTwinCase['pair']>('out/x', 'indices/x', 'out/indices', 'grad/gradValues', 'grad/indices'),
    shift: fc.nat(3),
  })
  .chain((r) =>
    fc
      .array(valueArb(false), { minLength: r.rows * r.d, maxLength: r.rows * r.d })
      .map((x) => ({ ...r, k: 1 + (r.kSeed % r.d), x })),
  );

async function runOpsTwin(c: OpsTwinCase, backend: 'js' | Native, aliased: boolean): Promise<Outcome> {
  // [rows, d] reduced along its last dim, or [d, rows] reduced along dim 0 (inner = rows)
  const shape = c.dim === 1 ? [c.rows, c.d] : [c.d, c.rows];
  const n = c.rows * c.d;
  const nOut = c.op === 'topk' ? c.rows * c.k : n;
  const nIdx = c.op === 'topk' ? c.rows * c.k : c.rows * 2 * c.k;
  // one shared block: x, out, indices, gradValues, grad at disjoint offsets
  const sab = new SharedArrayBuffer((n + nOut + nIdx + nOut + n + 8 * 5) * 4);
  let at = 0;
  const place = <T extends Float32Array | Int32Array>(
    ctor: { new (b: ArrayBufferLike, o: number, n: number): T },
    m: number,
  ) => {
    const a = new ctor(sab, at * 4, m);
    at += m + 8;
    return a;
  };
  const x: Float32Array = place(Float32Array, n);
  x.set(c.x);
  let out: Float32Array = place(Float32Array, nOut);
  let indices: Int32Array = place(Int32Array, nIdx);
  const gradValues: Float32Array = place(Float32Array, c.op === 'topk' ? nOut : n);
  gradValues.set(Array.from(gradValues, (_, j) => ((j * 37) % 11) / 4 - 1));
  let grad: Float32Array = place(Float32Array, n);
  if (aliased) {
    const [output, input] = c.pair.split('/') as [string, string];
    const target = { x, indices, gradValues, out }[input]!;
    const twin = structuredClone(sab);
    const off = target.byteOffset + c.shift * 4;
    const room = (sab.byteLength - off) / 4;
    if (output === 'out') out = new Float32Array(twin, off, Math.min(nOut, room));
    else if (output === 'indices') indices = new Int32Array(twin, off, Math.min(nIdx, room));
    else grad = new Float32Array(twin, off, Math.min(n, room));
  }
  try {
    const base = { k: c.k, dim: c.dim, backend, out, indices };
    if (c.op === 'topk') {
      const r = c.async ? await topkAsync(x, shape, base) : topk(x, shape, base);
      const values = bits(r.values);
      const idx = bits(r.indices);
      return { ok: true, bits: { values, indices: idx, grad: bits(r.backward(gradValues, grad)) } };
    }
    const opts = { ...base, nSample: 2, epsilon: 0.5, seed: 13, offset: 0 };
    const r = c.async ? await perturbedTopKAsync(x, shape, opts) : perturbedTopK(x, shape, opts);
    const mask = bits(r.mask);
    const idx = bits(r.indices);
    const g = c.async ? await r.backwardAsync(gradValues, grad) : r.backward(gradValues, grad);
    return { ok: true, bits: { mask, indices: idx, grad: bits(g) } };
  } catch (err) {
    return failure(err);
  }
}

describe('fuzz: int32 and float32 edges, the ops mapped twice (issue 18)', () => {
  it('labels and ignoreIndex beyond int32: refused by name, or the loss of the rows not ignored', () => {
    fc.assert(
      fc.property(labelEdgeArb, (c) => {
        count('label edges');
        const labels = labelContainer(c);
        const stored = Array.from(labels as ArrayLike<number>);
        const int32 = (q: number) => Number.isInteger(q) && q >= -(2 ** 31) && q < 2 ** 31;
        const valid =
          (c.ignoreIndex === undefined || int32(c.ignoreIndex)) &&
          stored.every((l) => (l >= 0 && l < c.D) || l === c.ignoreIndex);
        const js = runLabelEdge(c, 'js', labels, c.B, c.x);
        for (const b of NATIVE) expect(runLabelEdge(c, b, labelContainer(c), c.B, c.x), b).toEqual(js);
        expect(js.ok, JSON.stringify({ c, js })).toBe(valid);
        if (!js.ok) {
          expect(js.name).toBe('RangeError');
          expect(js.message).toMatch(/^(labels\[\d+\]|ignoreIndex) must be an integer in/);
          return;
        }
        // the oracle: the same call on the rows not ignored, without ignoreIndex (epsilon 0:
        // the rows' values do not depend on where they sit)
        const keptRows = stored.flatMap((l, r) => (l === c.ignoreIndex ? [] : [r]));
        const losses = js.losses;
        for (let r = 0; r < c.B; r++) if (stored[r] === c.ignoreIndex) expect(losses[r]).toBe(0);
        if (keptRows.length === 0) return;
        const kept = runLabelEdge(
          { ...c, ignoreIndex: undefined, reduction: 'none' },
          'js',
          keptRows.map((r) => stored[r]!),
          keptRows.length,
          keptRows.flatMap((r) => c.x.slice(r * c.D, (r + 1) * c.D)),
        );
        expect(kept.ok).toBe(true);
        if (kept.ok) expect(keptRows.map((r) => losses[r])).toEqual(kept.losses);
      }),
      fcParams(runs(1_000), 8),
    );
  });

  it('options at the float32 edges: refused as documented, else no NaN without a visible overflow', () => {
    fc.assert(
      fc.property(float32EdgeArb, (c) => {
        count('float32 edges');
        const js = runFloat32Edge(c, 'js');
        const backendsHere = c.entry === 'svm' ? [] : NATIVE;
        for (const b of backendsHere) {
          const got = runFloat32Edge(c, b);
          if (got.ok && js.ok) {
            for (const key of Object.keys(js.arrays)) {
              expect(bits(Float32Array.from(got.arrays[key]!)), `${b} ${key}`).toEqual(
                bits(Float32Array.from(js.arrays[key]!)),
              );
            }
          } else expect(got, b).toEqual(js);
        }
        const typeOk = typeof c.value === 'number';
        expect(js.ok, JSON.stringify({ c, js })).toBe(typeOk && float32Accepts(c));
        if (!js.ok) {
          expect(js.name).toBe('RangeError');
          expect(js.message).toContain(c.target === 'weight' ? 'weight[1]' : c.target);
          return;
        }
        // NaN only where a value left the float32 range (an Infinity shows it, or the noise
        // epsilon * Z itself overflows): IEEE's Inf - Inf; a NaN row loss makes the loss NaN
        const all = Object.values(js.arrays).flat();
        const overflow = noiseOverflows(c) || all.some((q) => q === Infinity || q === -Infinity);
        if (all.some(Number.isNaN)) expect(overflow, JSON.stringify(c)).toBe(true);
        if (!noiseOverflows(c))
          for (const key of ['sampleValues', 'mask'])
            if (js.arrays[key]) expect(js.arrays[key]!.every(Number.isFinite)).toBe(true);
        if (js.arrays.losses?.some(Number.isNaN) && js.arrays.loss) expect(js.arrays.loss[0]).toBeNaN();
      }),
      fcParams(runs(1_000), 9),
    );
  });

  it('topk and perturbedTopK with an output over another array through a second SharedArrayBuffer', async () => {
    await fc.assert(
      fc.asyncProperty(opsTwinArb, async (c) => {
        count('ops shared twins');
        for (const b of ['js', ...NATIVE] as const) {
          const want = await runOpsTwin(c, b, false);
          expect(want.ok, JSON.stringify(want)).toBe(true);
          const got = await runOpsTwin(c, b, true);
          if (got.ok) {
            expect(got, `${b} ${c.pair}: a wrong answer`).toEqual(want);
          } else if (got.message.startsWith('out has length') || got.message.startsWith('indices has length')) {
            // a twin near the end of the block is shorter: refused by its length, on every backend
            expect(got.name).toBe('RangeError');
          } else {
            // two outputs over the same bytes cannot both hold their answer, on any backend
            if (got.message !== 'out shares memory with indices')
              expect(b, `'js' must compute apart: ${got.message}`).not.toBe('js');
            expect(got.name).toBe('RangeError');
            expect(got.message).toMatch(
              /^(out|indices) shares memory with (x|indices|out|gradValues|grad|gradOutput)$/,
            );
          }
        }
      }),
      fcParams(runs(1_000), 10),
    );
  }, 600_000);
});
