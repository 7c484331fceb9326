// The backend contract of the top-k ops (hard top-k, perturbed top-k) and its 'js' backend,
// which computes the native 'cpu' kernels' bits (native/cpu/topk_cpu.cpp, native/core/ops.h).
// Selection order (docs/determinism.md): a larger select key first, among equal keys the lower
// column; the key is stream.ts's rankKey (NaN above +Infinity, -0 == +0) for largest and its
// complement for smallest (so NaN is selected first by largest and last by smallest, as in
// PyTorch). Every output is a pure function of the inputs under that order, which is why any
// selection algorithm gives the same answer.
import type { NativeAddon, PerturbedBackwardCall, PerturbedForwardCall, TopKCall } from './addon.js';
import { deviceEntries, resolveKernel, type BackendOption } from './kernel.js';
import { loadNative } from './native.js';
import { normal4, rankKey } from './stream.js';

const fr = Math.fround;

export type { PerturbedBackwardCall, PerturbedForwardCall, TopKCall } from './addon.js';

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
function selectRow(
  y: ArrayLike<number>,
  d: number,
  k: number,
  largest: boolean,
  sorted: boolean,
  sc: RowScratch,
): Uint32Array {
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
  // The mean rule (native/core/ops.h): binary64 sums of exact products, one rounding at the end.
  const denom = fr(c.epsilon) * S; // exact
  const acc = new Float64Array(d);
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
          for (let j = 0; j < n; j++) acc[c0 + j] = acc[c0 + j]! + dot * z[j]!;
        }
      }
      for (let col = 0; col < d; col++) gradX[base + col * inner] = acc[col]! / denom;
    }
  }
}

const jsOps: OpsKernel = {
  name: 'js',
  topk: (c) => {
    topkJs(c);
    return false;
  },
  topkAsync: async (c) => {
    topkJs(c);
    return false;
  },
  perturbedForward: perturbedForwardJs,
  perturbedForwardAsync: async (c) => perturbedForwardJs(c),
  perturbedBackward: perturbedBackwardJs,
  perturbedBackwardAsync: async (c) => perturbedBackwardJs(c),
};

/** k above this is refused on 'cuda' (the warp kernel holds the k best in a warp's lanes). */
export const CUDA_TOPK_MAX_K = 32;

function noCudaKernel(op: string): never {
  throw new Error(`backend 'cuda' is not available for ${op}: it has no CUDA kernel yet. Use 'cpu' or 'js'.`);
}

const deviceOps: Partial<Record<'cpu' | 'cuda', OpsKernel>> = {};

/**
 * The ops of one device over the addon's entry points, which take the calls as they are. On
 * 'cuda' only topk has a kernel (compiled, checked in the SIMT emulator, not yet run on a GPU).
 */
function addonOps(addon: NativeAddon, device: 'cpu' | 'cuda'): OpsKernel {
  const e = deviceEntries(addon, device);
  const cpu = device === 'cpu';
  deviceOps[device] ??= {
    name: device,
    topk: (c) => e.topk(c) === true,
    topkAsync: async (c) => (await e.topkAsync(c)) === true,
    perturbedForward: (c) => (cpu ? addon.perturbedTopK(c) : noCudaKernel('perturbedTopK')),
    perturbedForwardAsync: async (c) => (cpu ? addon.perturbedTopKAsync(c) : noCudaKernel('perturbedTopK')),
    perturbedBackward: (c) => (cpu ? addon.perturbedTopKBackward(c) : noCudaKernel('perturbedTopK')),
    perturbedBackwardAsync: async (c) => (cpu ? addon.perturbedTopKBackwardAsync(c) : noCudaKernel('perturbedTopK')),
  };
  return deviceOps[device];
}

/**
 * The kernel of `op` for `backend`, resolved as for NoisedTopK (kernel.ts: the same fallback
 * warning, the same errors; 'auto' never picks 'cuda'). 'cuda' exists for topk only (k <= 32) and
 * needs a CUDA device; otherwise it is an Error that says why.
 */
export function resolveOpsKernel(backend: BackendOption, op: string): OpsKernel {
  const k = resolveKernel(backend);
  if (k.name === 'js') return jsOps;
  const addon: Partial<NativeAddon> = loadNative()!;
  if (k.name === 'cuda' && (op !== 'topk' || typeof addon.topkCuda !== 'function')) noCudaKernel(op);
  if (typeof addon.topk !== 'function' || typeof addon.perturbedTopK !== 'function') {
    throw new Error(
      `${op}: the loaded native addon has no ${op} kernel (an older build): run \`npm run build:native\`, or pass backend: 'js'`,
    );
  }
  return addonOps(addon as NativeAddon, k.name);
}
