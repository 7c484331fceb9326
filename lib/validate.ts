// Argument checks for the public API: TypeError for a wrong type, RangeError for a bad value;
// each message names the parameter, what was expected and what came in.
import type { BackendOption } from './kernel.js';

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return `an Array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return typeof v;
}

export function float32Array(name: string, v: unknown): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array, got ${describe(v)}`);
  return v;
}

export function integer(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

export function epsilonValue(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v) || v < 0 || !Number.isFinite(Math.fround(v))) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${describe(v)}`);
  }
  return v;
}

export function finiteNumber(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be a finite number, got ${describe(v)}`);
  return v;
}

export const MAX_SAMPLES = 2 ** 24;

export function shapeOf(name: string, v: unknown, length: number, what: string): number[] {
  if (!Array.isArray(v)) throw new TypeError(`${name} must be an array of dimension sizes, got ${describe(v)}`);
  let size = 1;
  v.forEach((n, i) => {
    if (typeof n !== 'number') throw new TypeError(`${name}[${i}] must be a number, got ${describe(n)}`);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`${name}[${i}] must be a non-negative integer, got ${describe(n)}`);
    }
    size *= n;
  });
  if (!Number.isSafeInteger(size)) {
    throw new RangeError(`${name} [${v.join(', ')}] has more than 2^53 - 1 elements`);
  }
  if (size !== length) {
    throw new RangeError(`${name} [${v.join(', ')}] holds ${size} elements but ${what} has length ${length}`);
  }
  return v.slice() as number[];
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

export function backendOf(v: unknown): BackendOption {
  if (v === undefined) return 'auto';
  if (typeof v !== 'string') throw new TypeError(`backend must be a string, got ${describe(v)}`);
  if (v !== 'auto' && v !== 'js' && v !== 'cpu' && v !== 'cuda') {
    throw new RangeError(`backend must be one of 'auto', 'js', 'cpu', 'cuda', got ${describe(v)}`);
  }
  return v;
}

/** Labels as an Int32Array of length n with values in [0, classes). */
export function labelsOf(v: unknown, n: number, classes: number): Int32Array {
  let labels: ArrayLike<unknown>;
  if (Array.isArray(v) || v instanceof Int32Array || v instanceof Uint32Array || v instanceof Uint8Array ||
      v instanceof Uint16Array || v instanceof Int16Array || v instanceof Int8Array) {
    labels = v as ArrayLike<unknown>;
  } else {
    throw new TypeError(`labels must be an Int32Array or an array of integers, got ${describe(v)}`);
  }
  if (labels.length !== n) throw new RangeError(`labels has length ${labels.length}, expected ${n} (one per row)`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (typeof l !== 'number') throw new TypeError(`labels[${i}] must be a number, got ${describe(l)}`);
    if (!Number.isInteger(l) || l < 0 || l >= classes) {
      throw new RangeError(`labels[${i}] must be an integer in [0, ${classes - 1}], got ${describe(l)}`);
    }
    out[i] = l;
  }
  return out;
}

/** Throws a RangeError naming the first non-finite element. */
export function allFinite(name: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) {
      throw new RangeError(
        `${name}[${i}] is ${describe(v)}: non-finite inputs are rejected ` +
          '(pass allowNonFinite: true to rank NaN above +Infinity instead; see README, Determinism)',
      );
    }
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
