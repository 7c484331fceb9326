// Building blocks of the property-based fuzzer (test/fuzz.test.ts): hostile containers, junk
// values, a naive reference of the forward/backward contract, and outcome comparison.
import vm from 'node:vm';
import { MessageChannel } from 'node:worker_threads';

export const FUZZ_SEED = Number(process.env.NOISED_TOPK_FUZZ_SEED ?? 20261126);
export const FUZZ_SCALE = Number(process.env.NOISED_TOPK_FUZZ_SCALE ?? 1);
/** Cases for one property: n in CI, n * NOISED_TOPK_FUZZ_SCALE in a long run. */
export const runs = (n: number): number => Math.max(1, Math.round(n * FUZZ_SCALE));

/**
 * How a valid typed array is handed over; every kind must give the same answer. 'resizable'
 * (a view of a resizable ArrayBuffer) is refused with a TypeError (lib/validate.ts says why).
 */
export const KINDS = ['plain', 'offset', 'shared', 'subclass', 'ownlength', 'realm'] as const;
export type Kind = (typeof KINDS)[number] | 'resizable';

class SpoofedF32 extends Float32Array {
  override get length(): number {
    return 1 << 30;
  }
}
class SpoofedI32 extends Int32Array {
  override get length(): number {
    return 1 << 30;
  }
}
const realm = vm.createContext({});
const RealmF32 = vm.runInContext('Float32Array', realm) as Float32ArrayConstructor;
const RealmI32 = vm.runInContext('Int32Array', realm) as Int32ArrayConstructor;
const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;

export const F32_SENTINEL = -12345.5;
export const I32_SENTINEL = -7654321;

type Ctor = Float32ArrayConstructor | Int32ArrayConstructor;

/** A fresh typed array of `kind` holding data; guardsIntact() checks the bytes around an 'offset' view. */
export function make<T extends Float32Array | Int32Array>(
  ctor: Ctor,
  data: ArrayLike<number>,
  kind: Kind,
): { arr: T; guardsIntact: () => boolean } {
  const n = data.length;
  const f32 = ctor === Float32Array;
  const bpe = 4;
  let arr: Float32Array | Int32Array;
  let guardsIntact = () => true;
  switch (kind) {
    case 'plain':
      arr = new ctor(n);
      break;
    case 'offset': {
      const whole = new ctor(n + 3);
      whole.fill(f32 ? F32_SENTINEL : I32_SENTINEL);
      arr = whole.subarray(1, 1 + n);
      const s = f32 ? F32_SENTINEL : I32_SENTINEL;
      // (a detached buffer has nothing left to check)
      guardsIntact = () => whole.length === 0 || (whole[0] === s && whole[n + 1] === s && whole[n + 2] === s);
      break;
    }
    case 'shared':
      arr = new ctor(new SharedArrayBuffer(n * bpe) as unknown as ArrayBuffer);
      break;
    case 'subclass':
      arr = f32 ? new SpoofedF32(n) : new SpoofedI32(n);
      break;
    case 'ownlength':
      arr = new ctor(n);
      Object.defineProperty(arr, 'length', { value: n + 7 });
      break;
    case 'realm':
      arr = f32 ? new RealmF32(n) : new RealmI32(n);
      break;
    case 'resizable':
      arr = new ctor(new Resizable(n * bpe, { maxByteLength: n * bpe + 64 }));
      break;
  }
  // Fill through the built-in setter: the 'subclass' and 'ownlength' kinds lie about length.
  Int32Array.prototype.set.call(arr as Int32Array, Array.from(data));
  return { arr: arr as T, guardsIntact };
}

/** Detaches (transfers away) the buffer under a; false where it cannot be (SharedArrayBuffer). */
export function detach(a: ArrayBufferView): boolean {
  try {
    structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
    return true;
  } catch {
    return false;
  }
}

/** Values that are never a valid typed array, shape, options object or number. */
export const JUNK: (() => unknown)[] = [
  () => 'abc',
  () => null,
  () => 3n,
  () => 42,
  () => true,
  () => Symbol('s'),
  () => () => 0,
  () => ({}),
  () => [1, 2],
  () => new Float64Array(4),
  () => new Int32Array(4),
  () => new Uint8Array(4),
  () => new DataView(new ArrayBuffer(16)),
  () => new ArrayBuffer(16),
  () => new Proxy(new Float32Array(4), {}),
];
/** JUNK less arrays and plain objects (which may be valid where an array/options is expected). */
export const JUNK_SCALAR: (() => unknown)[] = [
  () => 'abc',
  () => null,
  () => 3n,
  () => 42,
  () => true,
  () => Symbol('s'),
  () => () => 0,
];

export const pick = <T>(list: readonly T[], v: number): T => list[Math.abs(v) % list.length]!;

// ---- reference of the kernel contract (native/core/noised_topk.h), written naively ----
const fr = Math.fround;

/** True when (ya, a) ranks above (yb, b): NaN above everything, -0 == +0, ties to the lower column. */
function ranksAbove(ya: number, a: number, yb: number, b: number): boolean {
  const na = Number.isNaN(ya);
  const nb = Number.isNaN(yb);
  if (na !== nb) return na;
  if (!na && ya !== yb) return ya > yb;
  return a < b;
}

export interface RefForward {
  values: Float32Array;
  positions: Int32Array;
}

/** The forward pass with the noise given by z(e, s) (e = flat element index). */
export function referenceForward(
  x: ArrayLike<number>,
  outer: number,
  d: number,
  inner: number,
  k: number,
  eps: number,
  S: number,
  z: (e: number, s: number) => number,
): RefForward {
  const rows = outer * inner;
  const values = new Float32Array(rows);
  const positions = new Int32Array(rows * S);
  const e32 = fr(eps);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const row = o * inner + i;
      let sum = 0;
      for (let s = 0; s < S; s++) {
        const y: number[] = [];
        for (let c = 0; c < d; c++) {
          const e = (o * d + c) * inner + i;
          y.push(fr(x[e]! + fr(e32 * z(e, s))));
        }
        const cols = y.map((_, c) => c).sort((a, b) => (ranksAbove(y[a]!, a, y[b]!, b) ? -1 : 1));
        const c = cols[k - 1]!;
        positions[row * S + s] = c;
        sum += y[c]!; // the mean rule: a float64 sum in sample order, rounded once below
      }
      values[row] = sum / S;
    }
  }
  return { values, positions };
}

export function referenceBackward(
  positions: Int32Array,
  rowScale: ArrayLike<number>,
  outer: number,
  d: number,
  inner: number,
  S: number,
): Float32Array {
  const grad = new Float32Array(outer * d * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const row = o * inner + i;
      const counts = new Array<number>(d).fill(0);
      for (let s = 0; s < S; s++) counts[positions[row * S + s]!]!++;
      // pytopk's dense mask: an unselected entry is 0 * gradOutput (NaN for a NaN gradOutput);
      // a selected one the mean over samples, rounded once: fl32(count * gradOutput / S).
      for (let c = 0; c < d; c++) grad[(o * d + c) * inner + i] = (counts[c]! * rowScale[row]!) / S;
    }
  }
  return grad;
}

/** Float arrays equal value for value (NaN equals NaN, -0 equals +0): for the naive reference. */
export function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) {
    const p = a[j]!;
    const q = b[j]!;
    if (!(p === q || (Number.isNaN(p) && Number.isNaN(q)))) return false;
  }
  return true;
}

/** The outcome of running one case on one backend, comparable bit for bit. */
export type Outcome =
  | { ok: true; bits: Record<string, number[]>; loss?: number }
  | { ok: false; name: string; message: string };

/**
 * Bit patterns of a float32 or int32 array, so -0 and +0 differ. A NaN's sign and payload are
 * not part of the contract (x86 makes -NaN from Inf - Inf, V8 may canonicalize): every NaN is
 * written as 0x7fc00000. Int32 arrays pass unchanged.
 */
export function bits(a: Float32Array | Int32Array): number[] {
  const u = Array.from(new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4));
  if (a instanceof Float32Array || Object.prototype.toString.call(a) === '[object Float32Array]') {
    for (let j = 0; j < u.length; j++) if ((u[j]! & 0x7fffffff) > 0x7f800000) u[j] = 0x7fc00000;
  }
  return u;
}

export function failure(err: unknown): Outcome {
  if (err instanceof Error) return { ok: false, name: err.constructor.name, message: err.message };
  return { ok: false, name: 'non-Error thrown', message: String(err) };
}

// ---- issue 11: hostile reads and memory JavaScript cannot see as shared ----
const channel = new MessageChannel();
channel.port1.unref();
channel.port2.unref();

/** Two ways user code can detach a buffer in the middle of a call. */
export const DETACHERS = {
  structuredClone: (a: ArrayBufferView) => detach(a),
  postMessage: (a: ArrayBufferView) => {
    try {
      channel.port1.postMessage(null, [a.buffer as ArrayBuffer]);
      return true;
    } catch {
      return false;
    }
  },
} as const;
export type Detacher = keyof typeof DETACHERS;

/**
 * A second view of the memory under `a`, through another SharedArrayBuffer object (what a
 * worker receives from postMessage): a.buffer !== twin.buffer, yet every byte is shared.
 */
export function sharedTwin<T extends Float32Array | Int32Array>(
  a: T,
  ctor: { new (b: ArrayBufferLike, o: number, n: number): T },
  offsetElements = 0,
  length = a.length,
): T {
  const clone = structuredClone(a.buffer as SharedArrayBuffer);
  return new ctor(clone, a.byteOffset + offsetElements * 4, length);
}

/** An object whose property `key` runs `effect` on its first read and answers `first`, then `later`. */
export function trap<T extends object>(base: T, key: string, first: unknown, later: unknown, effect: () => void): T {
  let reads = 0;
  Object.defineProperty(base, key, {
    enumerable: true,
    configurable: true,
    get() {
      reads++;
      if (reads === 1) {
        effect();
        return first;
      }
      return later;
    },
  });
  return base;
}

// ---------------------------------------------- the lazy sampler's skips (issue 18) ----
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
/** The double after v toward +inf (v finite). */
export function nextUp(v: number): number {
  if (v === 0) return 5e-324;
  f64[0] = v;
  u64[0] = v > 0 ? u64[0]! + 1n : u64[0]! - 1n;
  return f64[0]!;
}
/** The double after v toward -inf (v finite). */
export const nextDown = (v: number): number => -nextUp(-v);

/** Philox words at the edges of the lazy sampler's uniform mapping (lib/lazy-sampler.ts uniformOpen). */
export const EDGE_WORDS = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffd, 0xfffffffe, 0xffffffff] as const;

/**
 * q = P(Z > t) at every edge of a bucket's skip plan: 0 and -0, subnormals (where ln(1 - q) is
 * subnormal and 1 / ln(1 - q) overflows), either side of the smallest normal 2^-1022, tiny
 * normals, the 0.25 switch of logOneMinus, the doubles just below 1, 1 and beyond, NaN.
 */
export const EDGE_Q: readonly number[] = [
  0,
  -0,
  5e-324,
  1e-323,
  2.5e-322,
  1e-310,
  nextDown(2 ** -1022),
  2 ** -1022,
  nextUp(2 ** -1022),
  2 ** -1021,
  nextUp(2 ** -1021),
  nextDown(1e-300),
  1e-300,
  nextUp(1e-300),
  1e-200,
  1e-100,
  2 ** -60,
  2 ** -53,
  2 ** -52,
  1e-10,
  1e-3,
  nextDown(0.25),
  0.25,
  nextUp(0.25),
  0.5,
  0.9,
  1 - 2 ** -52,
  nextDown(1),
  1,
  nextUp(1),
  2,
  Infinity,
  -1e-300,
  -1,
  -Infinity,
  NaN,
];
// ---- issue 18: the edges of int32 and of the float32 domain ----

/** The next float32 above v (v a finite float32). */
export function nextFloat32Up(v: number): number {
  const f = Float32Array.of(v);
  const u = new Int32Array(f.buffer);
  if (v === 0) u[0] = 1;
  else u[0]! += v > 0 ? 1 : -1;
  return f[0]!;
}

/** Integers around the int32 and uint32 edges, where a value stored in an Int32Array wraps. */
export const INT32_EDGES = [
  -1,
  0,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  -(2 ** 31) - 1,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 53 - 1,
  -(2 ** 53) + 1,
] as const;

const F32_MAX = 3.4028234663852886e38;

/**
 * Numbers at the edges of the float32 domain (docs/input-rules.md): subnormals, the smallest
 * normal, the largest finite float32 and the doubles just past it (some still round to it),
 * values finite only as doubles, and the non-finite ones. `bound` is an option's own edge
 * (the largest noise scale whose noise stays finite): it and the float32 just above it are added.
 */
export function float32Edges(bound?: number): number[] {
  const edges = [
    0,
    -0,
    1e-310,
    2 ** -149,
    1e-40,
    2 ** -127,
    2 ** -126,
    1e-30,
    0.5,
    1,
    3e38,
    F32_MAX,
    F32_MAX * (1 + 2 ** -25), // rounds to the float32 max
    F32_MAX * (1 + 2 ** -23), // rounds to Infinity
    1e39,
    Number.MAX_VALUE,
    Infinity,
    -Infinity,
    NaN,
    -1,
    -1e-45,
  ];
  if (bound !== undefined) edges.push(bound, nextFloat32Up(bound), bound / 2);
  return edges;
}
