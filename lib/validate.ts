// Argument checks for the public API: TypeError for a wrong type, RangeError for a bad value;
// each message names the parameter, what was expected and what came in.
import { MAX_POSITIONS, MAX_SAMPLES } from './constants.js';
import type { BackendOption } from './kernel.js';
import type { SamplerName } from './lazy-sampler.js';

// The built-in typed array getters, read once: a subclass or an own property can override
// .length or .buffer on an instance, these cannot be fooled (nor by a Proxy: they throw or
// give undefined, and native code sees no typed array either).
const typedArrayProto = Object.getPrototypeOf(Int8Array.prototype) as object;
const intrinsic = (key: PropertyKey) => Object.getOwnPropertyDescriptor(typedArrayProto, key)!.get!;
const tagOf = intrinsic(Symbol.toStringTag) as (this: unknown) => string | undefined;
const bufferOf = intrinsic('buffer') as (this: unknown) => ArrayBufferLike;
const byteOffsetOf = intrinsic('byteOffset') as (this: unknown) => number;
const lengthOf = intrinsic('length') as (this: unknown) => number;

export function describe(v: unknown): string {
  try {
    return describeValue(v);
  } catch {
    // a Proxy whose traps throw: say what it is without asking it
    return 'an object';
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return `an Array of length ${v.length}`;
  const tag = tagOf.call(v);
  if (tag !== undefined) return `a ${tag}`;
  if (ArrayBuffer.isView(v)) return 'a DataView';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return typeof v;
}

const overridable = ['length', 'buffer', 'byteOffset', 'byteLength', 'fill', 'set', 'subarray', 'slice'];
const getter = (proto: object, key: string) => Object.getOwnPropertyDescriptor(proto, key)?.get;
const resizableOf = getter(ArrayBuffer.prototype, 'resizable');
const growableOf = globalThis.SharedArrayBuffer ? getter(SharedArrayBuffer.prototype, 'growable') : undefined;

/** True for a view of a resizable ArrayBuffer or a growable SharedArrayBuffer. */
function resizableBacked(buffer: ArrayBufferLike): boolean {
  try {
    if (resizableOf && resizableOf.call(buffer) === true) return true;
  } catch {
    // a SharedArrayBuffer: ArrayBuffer's getter does not apply
  }
  try {
    if (growableOf && growableOf.call(buffer) === true) return true;
  } catch {
    // an ArrayBuffer
  }
  return false;
}

type TypedCtor<T> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  prototype: T;
  name: string;
};

/**
 * v as a plain T (by the built-in brand, so a Float32Array of another realm passes and a
 * look-alike does not). A subclass instance or one with overridden members is replaced by a
 * plain view of the same memory, so the library only ever sees the real length and buffer.
 */
export function typedArray<T extends Float32Array | Int32Array | Float64Array>(
  name: string,
  v: unknown,
  ctor: TypedCtor<T>,
): T {
  if (tagOf.call(v) !== ctor.name) throw new TypeError(`${name} must be a ${ctor.name}, got ${describe(v)}`);
  const o = v as T;
  // Refused, not only for simplicity: V8 11.3 (Node 20) optimized code can read a stale
  // .length from a detached array at a site that has also seen resizable-buffer views
  // (docs/reliability.md). Keeping them out keeps every .length in this library exact.
  if (resizableBacked(bufferOf.call(o))) {
    throw new TypeError(
      `${name} is a view of a resizable or growable buffer, which noised-topk does not accept (pass a copy: ${name}.slice())`,
    );
  }
  if (Object.getPrototypeOf(o) === ctor.prototype && !overridable.some((key) => Object.hasOwn(o, key))) return o;
  return new ctor(bufferOf.call(o), byteOffsetOf.call(o), lengthOf.call(o));
}

/** A list of numbers (an Array, read element by element, or a typed array) copied once. */
export function numberListSnapshot(name: string, v: unknown, what: string): unknown[] {
  const n = listLength(name, v, what);
  if (n > MAX_OUTPUT_ELEMENTS) throw new RangeError(`${name} has length ${n}, above 2^28`);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push((v as ArrayLike<unknown>)[i]);
  return out;
}

/** The length of an Array or a typed array (the real one); a TypeError for anything else. */
export function listLength(name: string, v: unknown, what: string): number {
  if (Array.isArray(v)) {
    const n: unknown = v.length;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      throw new TypeError(`${name} must be ${what}, got an array whose length is ${describe(n)}`);
    return n;
  }
  if (tagOf.call(v) !== undefined) return lengthOf.call(v);
  throw new TypeError(`${name} must be ${what}, got ${describe(v)}`);
}

export function float32Array(name: string, v: unknown): Float32Array {
  return typedArray(name, v, Float32Array);
}

export function integer(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

/** The largest finite float32, 3.4028235e38 (docs/input-rules.md, The float32 domain). */
export const FLOAT32_MAX = 3.4028234663852886e38;
/** The smallest normal float32, 2^-126 = 1.1754944e-38: below it a reciprocal overflows float32. */
export const FLOAT32_MIN_NORMAL = 2 ** -126;

/**
 * A noise scale: a number >= 0, finite as a float32. Its noise epsilon * Z may still overflow
 * for a far-tail Z (epsilon above about 5.9e37): the kernels then compute as IEEE does, and
 * the NaN that follows is propagated, never turned into a number (docs/input-rules.md).
 */
export function epsilonValue(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v) || v < 0 || !Number.isFinite(Math.fround(v))) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${describe(v)}`);
  }
  return v;
}

/**
 * A value the kernels divide by (perturbedTopK's epsilon, the SVM's tau): a normal float32, in
 * [2^-126, 3.4028235e38] after rounding, so that it and its reciprocal are finite float32.
 */
export function divisorFloat32(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  const f = Math.fround(v);
  if (!(f >= FLOAT32_MIN_NORMAL && f <= FLOAT32_MAX)) {
    throw new RangeError(
      `${name} must be a normal float32 in [${FLOAT32_MIN_NORMAL}, ${FLOAT32_MAX}] (the kernels divide by it), got ${describe(v)}`,
    );
  }
  return v;
}

export function finiteNumber(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be a finite number, got ${describe(v)}`);
  return v;
}

/** A number that stays finite as a float32 (the losses compute in float32). */
export function finiteFloat32(name: string, v: unknown): number {
  finiteNumber(name, v);
  if (!Number.isFinite(Math.fround(v as number))) {
    throw new RangeError(`${name} must be a finite float32 (|${name}| < 3.4e38), got ${describe(v)}`);
  }
  return v as number;
}

export { MAX_SAMPLES };

/** More dimensions than any tensor library allows (PyTorch's limit). */
export const MAX_DIMS = 64;

export function shapeOf(name: string, v: unknown, length: number, what: string): number[] {
  if (!Array.isArray(v)) throw new TypeError(`${name} must be an array of dimension sizes, got ${describe(v)}`);
  // Validate a copy: a Proxy (Array.isArray is true for one) could answer differently later.
  const len = v.length;
  if (len > MAX_DIMS) throw new RangeError(`${name} has ${len} dimensions, at most ${MAX_DIMS} are supported`);
  const dims: unknown[] = [];
  for (let i = 0; i < len; i++) dims.push(v[i]);
  let size = 1;
  dims.forEach((n, i) => {
    if (typeof n !== 'number') throw new TypeError(`${name}[${i}] must be a number, got ${describe(n)}`);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`${name}[${i}] must be a non-negative integer, got ${describe(n)}`);
    }
    size *= n;
  });
  if (!Number.isSafeInteger(size)) {
    throw new RangeError(`${name} [${dims.join(', ')}] has more than 2^53 - 1 elements`);
  }
  if (size !== length) {
    throw new RangeError(`${name} [${dims.join(', ')}] holds ${size} elements but ${what} has length ${length}`);
  }
  return dims as number[];
}

export function dimOf(name: string, v: unknown, ndim: number): number {
  if (ndim === 0) throw new RangeError(`the input must have at least one dimension, got shape []`);
  const d = integer(name, v, -ndim, ndim - 1);
  return d < 0 ? d + ndim : d;
}

export function kOf(name: string, v: unknown, d: number, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < 1 || v > d) {
    throw new RangeError(`${name} must be an integer in [1, ${d}] (${what}), got ${describe(v)}`);
  }
  return v;
}

/** The sampler option: 'lazy' | 'dense', or undefined for the default rule (lazy-sampler.ts defaultSampler). */
export function samplerOf(v: unknown): SamplerName | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TypeError(`sampler must be a string, got ${describe(v)}`);
  if (v !== 'lazy' && v !== 'dense') throw new RangeError(`sampler must be 'lazy' or 'dense', got ${describe(v)}`);
  return v;
}

export function backendOf(v: unknown): BackendOption {
  if (v === undefined) return 'auto';
  if (typeof v !== 'string') throw new TypeError(`backend must be a string, got ${describe(v)}`);
  if (v !== 'auto' && v !== 'js' && v !== 'cpu' && v !== 'cuda') {
    throw new RangeError(`backend must be one of 'auto', 'js', 'cpu', 'cuda', got ${describe(v)}`);
  }
  return v;
}

/** Labels as an Int32Array of length n with values in [0, classes) (read once: see labelsSnapshot). */
export function labelsOf(v: unknown, n: number, classes: number): Int32Array {
  return labelsFrom(labelsSnapshot(v), n, classes);
}

/** The index of the first NaN or infinity in a, or -1. */
function firstNonFiniteJs(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * Throws a RangeError naming the first non-finite element. `scan` finds it faster where the
 * native addon is loaded (lib/kernel.ts nativeFiniteScan); the answer is the same.
 */
export function allFinite(name: string, a: Float32Array, scan?: ((a: Float32Array) => number) | null): void {
  const i = scan ? scan(a) : firstNonFiniteJs(a);
  if (i >= 0) {
    throw new RangeError(
      `${name}[${i}] is ${describe(a[i])}: non-finite inputs are rejected ` +
        '(pass allowNonFinite: true to rank NaN above +Infinity instead; see docs/determinism.md)',
    );
  }
}

/** A seed as (lo, hi) 32-bit words: a non-negative safe integer or a bigint below 2^64. */
export function seedWords(v: unknown): [number, number] {
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 64n) throw new RangeError(`seed must be in [0, 2^64), got ${describe(v)}`);
    return [Number(v & 0xffffffffn), Number(v >> 32n)];
  }
  if (typeof v !== 'number') throw new TypeError(`seed must be a number or a bigint, got ${describe(v)}`);
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`seed must be a non-negative safe integer or a bigint, got ${describe(v)}`);
  }
  return [v >>> 0, Math.floor(v / 2 ** 32) >>> 0];
}

export function optionsObject(name: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`${name} must be an options object, got ${describe(v)}`);
  }
  return v as Record<string, unknown>;
}

/** Edit distance, for the "did you mean" hint of an unknown option. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known key closest to `key` (case, '_' and '-' ignored first, then edit distance <= 3), or null. */
export function nearestKey(key: string, known: readonly string[]): string | null {
  const fold = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const folded = known.find((k) => fold(k) === fold(key));
  if (folded) return folded;
  let best: string | null = null;
  let bestDistance = 4;
  for (const k of known) {
    const d = editDistance(fold(key), fold(k));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/**
 * An options object read once: each known key is read a single time into a fresh record
 * (a getter or a Proxy cannot answer differently later), and any other own key is a TypeError
 * that names it and suggests the nearest known one. `hints` maps a foreign name (pytopk's
 * `n_sample`, tfjs's `axis`) to a message of its own.
 */
/** A hint for a foreign option name: a message, or [the option it points to, message], used only where that option exists. */
export type OptionHint = string | readonly [string, string];

export function strictOptions<K extends string>(
  name: string,
  v: unknown,
  known: readonly K[],
  hints: Readonly<Record<string, OptionHint>> = {},
): Partial<Record<K, unknown>> {
  const o = optionsObject(name, v);
  const renamedHere = (key: string) =>
    Object.hasOwn(RENAMED_OPTIONS, key) && (known as readonly string[]).includes(RENAMED_OPTIONS[key]!);
  for (const key of Reflect.ownKeys(o)) {
    if (typeof key === 'symbol') continue;
    if ((known as readonly string[]).includes(key) || renamedHere(key)) continue;
    const h = Object.hasOwn(hints, key) ? hints[key] : undefined;
    const hint = typeof h === 'string' ? h : h && (known as readonly string[]).includes(h[0]) ? h[1] : undefined;
    const near = nearestKey(key, known);
    throw new TypeError(
      `unknown option '${key}' in ${name}` +
        (hint ? ` (${hint})` : near ? ` (did you mean '${near}'?)` : '') +
        `; known options: ${known.join(', ')}`,
    );
  }
  const out: Partial<Record<K, unknown>> = Object.create(null) as Partial<Record<K, unknown>>;
  for (const key of known) {
    const value = (o as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  for (const [oldKey, newKey] of Object.entries(RENAMED_OPTIONS)) {
    if (!(known as readonly string[]).includes(newKey) || (known as readonly string[]).includes(oldKey)) continue;
    if (!Object.hasOwn(o, oldKey)) continue;
    const value = (o as Record<string, unknown>)[oldKey];
    if (value !== undefined) (out as Record<string, unknown>)[oldKey] = value;
  }
  return renamedOptions(name, out as Partial<Record<string, unknown>>, known) as Partial<Record<K, unknown>>;
}

// ------------------------------------------------------------------------------------------
// Snapshots. Every public entry reads each argument once, in this order: options objects
// (strictOptions), then shapes and label lists (copied here), then typed array views (by the
// intrinsic getters). Only the first two steps can run user code (getters, Proxy traps), so
// once a view is taken nothing can detach or resize it before the call is made.

/** Foreign option names, with what to use instead (shared by every entry point). */
export const OPTION_HINTS: Readonly<Record<string, OptionHint>> = {
  eps: ['epsilon', "did you mean 'epsilon'?"],
  axis: ['dim', "noised-topk follows PyTorch and calls it 'dim'; the tfjs bridge noised-topk/tfjs takes 'axis'"],
  reduce: ['reduction', "use reduction: 'mean' | 'sum' | 'none'"],
  size_average: ['reduction', "use reduction: 'mean' | 'sum' | 'none'"],
  weights: ['weight', "did you mean 'weight'? (one weight per class)"],
};

/** The tfjs bridge's hints: it follows tfjs's `axis`. */
export const TF_OPTION_HINTS: Readonly<Record<string, OptionHint>> = {
  eps: OPTION_HINTS.eps!,
  reduce: OPTION_HINTS.reduce!,
  size_average: OPTION_HINTS.size_average!,
  weights: OPTION_HINTS.weights!,
  dim: ['axis', "the tfjs bridge follows tfjs and calls it 'axis'"],
};

/** The largest number of elements of positions (and of any output) one call may allocate: 2^28 (1 GiB of int32). */
export const MAX_OUTPUT_ELEMENTS = MAX_POSITIONS;

/** A shape read once into a plain array (its length, then each element), not yet checked. */
export function shapeSnapshot(name: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new TypeError(`${name} must be an array of dimension sizes, got ${describe(v)}`);
  const len: unknown = v.length;
  if (typeof len !== 'number' || !Number.isSafeInteger(len) || len < 0) {
    throw new TypeError(`${name} must be an array of dimension sizes, got an array whose length is ${describe(len)}`);
  }
  if (len > MAX_DIMS) throw new RangeError(`${name} has ${len} dimensions, at most ${MAX_DIMS} are supported`);
  const dims: unknown[] = [];
  for (let i = 0; i < len; i++) dims.push(v[i]);
  return dims;
}

const LABEL_TAGS = new Set(['Int32Array', 'Uint32Array', 'Uint8Array', 'Uint16Array', 'Int16Array', 'Int8Array']);

/** Labels read once: an Array (or an Array Proxy) element by element, a typed array by its intrinsic length. */
export interface LabelsSnapshot {
  length: number;
  /** The elements, or null when length is too large to copy (the length check then refuses it). */
  values: ArrayLike<unknown> | null;
}

export function labelsSnapshot(v: unknown): LabelsSnapshot {
  const tag = tagOf.call(v);
  if (tag !== undefined) {
    if (!LABEL_TAGS.has(tag)) throw new TypeError(`labels must be an Int32Array or an array of integers, got a ${tag}`);
    const n = lengthOf.call(v);
    const src = v as ArrayLike<number>;
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = src[i]!;
    return { length: n, values };
  }
  if (!Array.isArray(v))
    throw new TypeError(`labels must be an Int32Array or an array of integers, got ${describe(v)}`);
  const len: unknown = v.length;
  if (typeof len !== 'number' || !Number.isSafeInteger(len) || len < 0) {
    throw new TypeError(
      `labels must be an Int32Array or an array of integers, got an array whose length is ${describe(len)}`,
    );
  }
  if (len > MAX_OUTPUT_ELEMENTS) return { length: len, values: null };
  const values: unknown[] = [];
  for (let i = 0; i < len; i++) values.push(v[i]);
  return { length: len, values };
}

/**
 * Checked labels as an Int32Array of length n with values in [0, classes); a label equal to
 * ignoreIndex is allowed anywhere (the row is then ignored; it is stored as given).
 */
export function labelsFrom(
  s: LabelsSnapshot,
  n: number,
  classes: number,
  ignoreIndex: number | null = null,
): Int32Array {
  if (s.length !== n || s.values === null)
    throw new RangeError(`labels has length ${s.length}, expected ${n} (one per row)`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = s.values[i];
    if (typeof l !== 'number') throw new TypeError(`labels[${i}] must be a number, got ${describe(l)}`);
    if (l === ignoreIndex) {
      out[i] = l;
      continue;
    }
    if (!Number.isInteger(l) || l < 0 || l >= classes) {
      const also = ignoreIndex === null ? '' : ` or ignoreIndex (${ignoreIndex})`;
      throw new RangeError(`labels[${i}] must be an integer in [0, ${classes - 1}]${also}, got ${describe(l)}`);
    }
    out[i] = l;
  }
  return out;
}

/** A boolean option: true or false, nothing else (the string 'false' is not false). */
export function booleanOption(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be true or false, got ${describe(v)}`);
  return v;
}

/** A number that is finite as a float32 and >= 0 (or > 0 when positive). */
export function float32AtLeast(name: string, v: unknown, positive: boolean): number {
  finiteFloat32(name, v);
  const x = v as number;
  if (positive ? !(x > 0) : !(x >= 0)) {
    throw new RangeError(`${name} must be a finite number ${positive ? '> 0' : '>= 0'}, got ${describe(x)}`);
  }
  return x;
}

/** True when the view's memory is a SharedArrayBuffer (another object may map the same memory). */
const sabByteLength = globalThis.SharedArrayBuffer ? getter(SharedArrayBuffer.prototype, 'byteLength') : undefined;
// Node's own test needs no exception; elsewhere the SharedArrayBuffer getter throws for anything
// else (a thrown error records a stack: about 15% of a small call when it ran on every array).
const isSharedArrayBuffer = (
  globalThis.process as { getBuiltinModule?: (id: string) => unknown } | undefined
)?.getBuiltinModule?.('node:util') as { types?: { isSharedArrayBuffer?: (v: unknown) => boolean } } | undefined;
const sabTest = isSharedArrayBuffer?.types?.isSharedArrayBuffer;
export function sharedBacked(a: ArrayBufferView): boolean {
  if (!sabByteLength) return false;
  try {
    if (sabTest) return sabTest(bufferOf.call(a));
    sabByteLength.call(bufferOf.call(a));
    return true;
  } catch {
    return false;
  }
}

/** A new typed array of n elements; V8's allocation failure becomes an error naming what it was for. */
export function allocate<T>(name: string, n: number, make: (n: number) => T, why: string): T {
  try {
    return make(n);
  } catch (e) {
    if (e instanceof RangeError) {
      throw new RangeError(`could not allocate ${name}: ${n} elements (${n * 4} bytes) for ${why}: ${e.message}`);
    }
    throw e;
  }
}

/** A shape split around `dim` as [outer, d, inner]: the layout every kernel indexes. */
export interface DimLayout {
  shape: number[];
  dim: number;
  outer: number;
  /** The size of dim, below 2^31. */
  d: number;
  inner: number;
}

/** The shape (checked against the data's length) and dim of a call, split around dim. */
export function dimLayout(shapeSnap: unknown[], length: number, dataName: string, dimIn: unknown): DimLayout {
  const shape = shapeOf('shape', shapeSnap, length, dataName);
  const dim = dimOf('dim', dimIn, shape.length);
  const d = shape[dim]!;
  if (d > 2 ** 31 - 1) throw new RangeError(`the size of dim ${dim} is ${d}, above 2^31 - 1`);
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  return { shape, dim, outer, d, inner };
}

/**
 * The caller's preallocated output, checked (type, no resizable view, length), or a new array of
 * `length` (a failed allocation is a RangeError that says what the array was for). Every entry
 * point that accepts an output takes it through here.
 */
export function outputArray<T extends Float32Array | Int32Array>(
  name: string,
  given: unknown,
  length: number,
  ctor: TypedCtor<T> & { new (n: number): T },
  why: string,
): T {
  if (given === undefined) return allocate(name, length, (n) => new ctor(n), why);
  const out = typedArray(name, given, ctor);
  if (out.length !== length) throw new RangeError(`${name} has length ${out.length}, expected ${length}`);
  return out;
}

/**
 * The backward of a scalar loss: gradOutput (a finite number, as float32: docs/input-rules.md,
 * The float32 domain) times d loss / d scores, into `out` or a new array.
 */
export function scaledGradient(gradOutput: unknown, grad: ArrayLike<number>, out: unknown): Float32Array {
  const g = finiteFloat32('gradOutput', gradOutput);
  const o = outputArray('out', out, grad.length, Float32Array, 'the gradient');
  for (let i = 0; i < o.length; i++) o[i] = g * grad[i]!;
  return o;
}

/** Per-row float32 values (a per-row upstream gradient): a Float32Array of length n, every element finite. */
export function finiteRows(name: string, v: unknown, n: number): Float32Array {
  const a = float32Array(name, v);
  if (a.length !== n) throw new RangeError(`${name} has length ${a.length}, expected ${n} (one per row)`);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    if (x - x !== 0) throw new RangeError(`${name}[${i}] must be finite, got ${describe(x)}`);
  }
  return a;
}

const warnedDeprecations = new Set<string>();

/**
 * One DeprecationWarning per old name and process (node --no-deprecation silences it): a
 * training loop reading the old name every step warns once, not every step.
 */
export function warnDeprecated(oldName: string, newName: string): void {
  if (warnedDeprecations.has(oldName)) return;
  warnedDeprecations.add(oldName);
  process.emitWarning(`${oldName} is deprecated: use ${newName} (same value); kept for one release`, {
    type: 'DeprecationWarning',
    code: 'NOISED_TOPK_RENAMED',
  });
}

/**
 * Options renamed by the naming rule (docs/api.md, Conventions): the old key is read as the new
 * one, with a one-time DeprecationWarning, for one release; both at once is a TypeError.
 */
export const RENAMED_OPTIONS: Readonly<Record<string, string>> = {
  positions: 'indices',
  classCounts: 'clsNumList',
};

/** Moves a renamed key of a record read by strictOptions to its new name (where the set has it). */
export function renamedOptions(
  name: string,
  o: Partial<Record<string, unknown>>,
  known: readonly string[],
): Partial<Record<string, unknown>> {
  for (const [oldKey, newKey] of Object.entries(RENAMED_OPTIONS)) {
    if (!known.includes(newKey) || known.includes(oldKey) || o[oldKey] === undefined) continue;
    if (o[newKey] !== undefined)
      throw new TypeError(`${name}.${oldKey} is the deprecated name of ${name}.${newKey}: give one of them`);
    warnDeprecated(`option '${oldKey}'`, `'${newKey}'`);
    o[newKey] = o[oldKey];
    delete o[oldKey];
  }
  return o;
}

/**
 * A small per-class list (weight, margins of the classes): a Float32Array is taken as a view
 * (the data rule), any other numeric array-like (an Array, another typed array) is read once
 * into a new Float32Array; a non-number element is a TypeError naming it.
 */
export function float32List(name: string, v: unknown, what: string): Float32Array {
  if (tagOf.call(v) === 'Float32Array') return float32Array(name, v);
  const items = numberListSnapshot(name, v, what);
  const out = new Float32Array(items.length);
  items.forEach((x, j) => {
    if (typeof x !== 'number') throw new TypeError(`${name}[${j}] must be a number, got ${describe(x)}`);
    out[j] = x;
  });
  return out;
}
