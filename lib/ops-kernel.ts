// The backend contract of the top-k ops (hard top-k, perturbed top-k) and its 'js' backend,
// which computes the native 'cpu' kernels' bits (native/cpu/topk_cpu.cpp, native/core/ops.h).
// Selection order (README, Determinism): a larger select key first, among equal keys the lower
// column; the key is stream.ts's rankKey (NaN above +Infinity, -0 == +0) for largest and its
// complement for smallest (so NaN is selected first by largest and last by smallest, as in
// PyTorch). Every output is a pure function of the inputs under that order, which is why any
// selection algorithm gives the same answer.
import { resolveKernel, type BackendOption } from './kernel.js';
import { loadNative } from './native.js';
import { normal4, rankKey } from './stream.js';

const fr = Math.fround;

/** x viewed as [outer, d, inner]; values and indices as [outer, k, inner]. */
export interface TopKCall {
  x: Float32Array;
  outer: number;
  d: number;
  inner: number;
  k: number;
  largest: boolean;
  sorted: boolean;
  values: Float32Array;
  indices: Int32Array;
  /**
   * Ask the kernel to report a NaN or an infinity in x (true = found; the outputs are then
   * garbage). The native kernel checks each row while it is in cache, which costs far less than
   * a pass over x in JS; the 'js' kernel ignores it (lib/ops.ts checks first for it).
   */
  checkFinite: boolean;
}

/** mask in x's layout; indices [rows, nSample, k], each sample's columns ascending. */
export interface PerturbedForwardCall {
  x: Float32Array;
  outer: number;
  d: number;
  inner: number;
  k: number;
  epsilon: number;
  nSample: number;
  seedLo: number;
  seedHi: number;
  offset: number;
  mask: Float32Array;
  indices: Int32Array;
}

export interface PerturbedBackwardCall {
  indices: Int32Array;
  /** Upstream gradient, x's layout. */
  grad: Float32Array;
  outer: number;
  d: number;
  inner: number;
  k: number;
  epsilon: number;
  nSample: number;
  seedLo: number;
  seedHi: number;
  offset: number;
  gradX: Float32Array;
}

export interface OpsKernel {
  readonly name: 'js' | 'cpu' | 'cuda';
  /** Returns true when c.checkFinite and x holds a non-finite value. */
  topk(c: TopKCall): boolean;
  topkAsync(c: TopKCall): Promise<boolean>;
  perturbedForward(c: PerturbedForwardCall): void;
  perturbedForwardAsync(c: PerturbedForwardCall): Promise<void>;
  perturbedBackward(c: PerturbedBackwardCall): void;
  perturbedBackwardAsync(c: PerturbedBackwardCall): Promise<void>;
}

/** The select key of y: larger is selected first (see the header comment). */
export function selectKey(y: number, largest: boolean): number {
  const r = rankKey(y);
  return largest ? r : ~r >>> 0;
}

/** True when column a ranks above column b under keys (ties: the lower column). */
function above(keys: Uint32Array, a: number, b: number): boolean {
  const ka = keys[a]!;
  const kb = keys[b]!;
  return ka > kb || (ka === kb && a < b);
}

/** Reused per call: a row's keys, columns, and the selection. */
class RowScratch {
  keys: Uint32Array;
  order: Uint32Array;
  cols: Uint32Array;
  constructor(d: number, k: number) {
    this.keys = new Uint32Array(d);
    this.order = new Uint32Array(k > 32 ? d : 0);
    this.cols = new Uint32Array(k);
  }
}

/**
 * The k best columns of y[0, d) into sc.cols: in rank order when sorted, else ascending.
 * k <= 32: a sorted buffer with a key threshold, as the native kernel; above, a full sort.
 */
function selectRow(y: ArrayLike<number>, d: number, k: number, largest: boolean, sorted: boolean, sc: RowScratch): Uint32Array {
  const { keys, cols } = sc;
  for (let c = 0; c < d; c++) keys[c] = selectKey(y[c]!, largest);
  if (k <= 32) {
    let filled = 0;
    for (let c = 0; c < d; c++) {
      if (filled === k) {
        // Columns come in increasing order: an equal key ranks below every held one.
        if (keys[c]! <= keys[cols[k - 1]!]!) continue;
        filled--;
      }
      let p = filled++;
      while (p > 0 && above(keys, c, cols[p - 1]!)) {
        cols[p] = cols[p - 1]!;
        p--;
      }
      cols[p] = c;
    }
  } else {
    const order = sc.order;
    for (let c = 0; c < d; c++) order[c] = c;
    order.sort((a, b) => keys[b]! - keys[a]! || a - b);
    for (let j = 0; j < k; j++) cols[j] = order[j]!;
  }
  if (!sorted) cols.sort();
  return cols;
}

function topkJs(c: TopKCall): void {
  const { x, outer, d, inner, k, largest, sorted, values, indices } = c;
  const y = new Float32Array(d);
  const sc = new RowScratch(d, k);
  // Values are copied as bits (a NaN's payload included), as the native kernel copies them.
  const xBits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const valueBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * d * inner + i;
      for (let col = 0; col < d; col++) y[col] = x[base + col * inner]!;
      const cols = selectRow(y, d, k, largest, sorted, sc);
      for (let j = 0; j < k; j++) {
        const at = (o * k + j) * inner + i;
        valueBits[at] = xBits[base + cols[j]! * inner]!;
        indices[at] = cols[j]!;
      }
    }
  }
}

function perturbedForwardJs(c: PerturbedForwardCall): void {
  const { x, outer, d, inner, k, nSample: S, seedLo, seedHi, offset, mask, indices } = c;
  const eps = fr(c.epsilon);
  const y = new Float32Array(d);
  const z = new Float32Array(4);
  const counts = new Uint32Array(d);
  const sc = new RowScratch(d, k);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const row = o * inner + i;
      const base = o * d * inner + i;
      counts.fill(0);
      for (let s = 0; s < S; s++) {
        for (let g = 0; g * 4 < d; g++) {
          normal4(seedLo, seedHi, offset, row, s, g, z, 0);
          const c0 = g * 4;
          const n = Math.min(4, d - c0);
          for (let j = 0; j < n; j++) y[c0 + j] = x[base + (c0 + j) * inner]! + fr(eps * z[j]!);
        }
        const cols = selectRow(y, d, k, true, false, sc);
        const at = (row * S + s) * k;
        for (let j = 0; j < k; j++) {
          indices[at + j] = cols[j]!;
          counts[cols[j]!]!++;
        }
      }
      for (let col = 0; col < d; col++) mask[base + col * inner] = counts[col]! / S;
    }
  }
}

function perturbedBackwardJs(c: PerturbedBackwardCall): void {
  const { indices, grad, outer, d, inner, k, nSample: S, seedLo, seedHi, offset, gradX } = c;
  const denom = fr(fr(c.epsilon) * S);
  const acc = new Float32Array(d);
  const z = new Float32Array(4);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const row = o * inner + i;
      const base = o * d * inner + i;
      acc.fill(0);
      for (let s = 0; s < S; s++) {
        const at = (row * S + s) * k;
        let dot = 0;
        for (let j = 0; j < k; j++) dot = fr(dot + grad[base + indices[at + j]! * inner]!);
        if (dot === 0) continue; // exact: acc is never -0, so adding +-0 changes nothing
        for (let g = 0; g * 4 < d; g++) {
          normal4(seedLo, seedHi, offset, row, s, g, z, 0);
          const c0 = g * 4;
          const n = Math.min(4, d - c0);
          for (let j = 0; j < n; j++) acc[c0 + j] = acc[c0 + j]! + fr(dot * z[j]!);
        }
      }
      for (let col = 0; col < d; col++) gradX[base + col * inner] = acc[col]! / denom;
    }
  }
}

const jsOps: OpsKernel = {
  name: 'js',
  topk: (c) => (topkJs(c), false),
  topkAsync: async (c) => (topkJs(c), false),
  perturbedForward: perturbedForwardJs,
  perturbedForwardAsync: async (c) => perturbedForwardJs(c),
  perturbedBackward: perturbedBackwardJs,
  perturbedBackwardAsync: async (c) => perturbedBackwardJs(c),
};

/** The addon's entry points for these ops (native/binding_ops.cpp). */
interface OpsAddon {
  topk(...a: unknown[]): boolean;
  topkAsync(...a: unknown[]): Promise<boolean>;
  perturbedTopK(...a: unknown[]): void;
  perturbedTopKAsync(...a: unknown[]): Promise<void>;
  perturbedTopKBackward(...a: unknown[]): void;
  perturbedTopKBackwardAsync(...a: unknown[]): Promise<void>;
  /** Only in builds with the CUDA kernels (native/binding_ops.cpp). */
  topkCuda?(...a: unknown[]): boolean;
  topkCudaAsync?(...a: unknown[]): Promise<boolean>;
}

const topkArgs = (c: TopKCall) => [c.x, c.outer, c.d, c.inner, c.k, c.largest, c.sorted, c.values, c.indices, c.checkFinite];
const fwdArgs = (c: PerturbedForwardCall) =>
  [c.x, c.outer, c.d, c.inner, c.k, c.epsilon, c.nSample, c.seedLo, c.seedHi, c.offset, c.mask, c.indices];
const bwdArgs = (c: PerturbedBackwardCall) =>
  [c.indices, c.grad, c.outer, c.d, c.inner, c.k, c.epsilon, c.nSample, c.seedLo, c.seedHi, c.offset, c.gradX];

/** k above this is refused on 'cuda' (the warp kernel holds the k best in a warp's lanes). */
export const CUDA_TOPK_MAX_K = 32;

let cpuOps: OpsKernel | null | undefined;

function noCudaKernel(op: string): never {
  throw new Error(`backend 'cuda' is not available for ${op}: it has no CUDA kernel yet. Use 'cpu' or 'js'.`);
}

/** 'cuda' for topk: the addon's topkCuda (compiled, checked in the SIMT emulator, not yet run on a GPU). */
function cudaOps(addon: OpsAddon): OpsKernel {
  return {
    name: 'cuda',
    topk: (c) => addon.topkCuda!(...topkArgs(c)) === true,
    topkAsync: async (c) => (await addon.topkCudaAsync!(...topkArgs(c))) === true,
    perturbedForward: () => noCudaKernel('perturbedTopK'),
    perturbedForwardAsync: async () => noCudaKernel('perturbedTopK'),
    perturbedBackward: () => noCudaKernel('perturbedTopK'),
    perturbedBackwardAsync: async () => noCudaKernel('perturbedTopK'),
  };
}

function nativeOps(): OpsKernel | null {
  if (cpuOps === undefined) {
    const addon = loadNative() as (OpsAddon & object) | null;
    cpuOps =
      addon && typeof addon.topk === 'function' && typeof addon.perturbedTopK === 'function'
        ? {
            name: 'cpu',
            topk: (c) => addon.topk(...topkArgs(c)) === true,
            topkAsync: async (c) => (await addon.topkAsync(...topkArgs(c))) === true,
            perturbedForward: (c) => void addon.perturbedTopK(...fwdArgs(c)),
            perturbedForwardAsync: (c) => addon.perturbedTopKAsync(...fwdArgs(c)),
            perturbedBackward: (c) => void addon.perturbedTopKBackward(...bwdArgs(c)),
            perturbedBackwardAsync: (c) => addon.perturbedTopKBackwardAsync(...bwdArgs(c)),
          }
        : null;
  }
  return cpuOps;
}

/**
 * The kernel of `op` for `backend`. 'auto' and 'cpu' resolve as for NoisedTopK (kernel.ts:
 * same fallback warning, same error when the addon is missing; 'auto' never picks 'cuda').
 * 'cuda' exists for topk only (k <= 32) and needs a CUDA device; otherwise it is an Error that
 * says why.
 */
export function resolveOpsKernel(backend: BackendOption, op: string): OpsKernel {
  if (backend === 'cuda') {
    resolveKernel('cuda'); // throws, naming why, where no CUDA device answers
    const addon = loadNative() as (OpsAddon & object) | null;
    if (op !== 'topk' || !addon || typeof addon.topkCuda !== 'function') noCudaKernel(op);
    return cudaOps(addon);
  }
  const k = resolveKernel(backend);
  if (k.name === 'js') return jsOps;
  const native = nativeOps();
  if (!native) {
    throw new Error(`${op}: the loaded native addon has no ${op} kernel (an older build): run \`npm run build:native\`, or pass backend: 'js'`);
  }
  return native;
}
