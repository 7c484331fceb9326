// The 'js' backend: the native kernels' contract in TypeScript, bit for bit. It is the
// tests' oracle, the fallback where the addon cannot load, and the browser path.
import { floatBits, normal4 } from './stream.js';
import type { BackwardCall, ForwardCall } from './addon.js';
import { LazyRowSampler } from './lazy-sampler.js';

const fr = Math.fround;

/** Rank keys of y[0..d) into keys (see stream.ts rankKey; inlined here for speed). */
function fillKeys(y: Float32Array, yBits: Uint32Array, keys: Uint32Array, d: number): void {
  for (let c = 0; c < d; c++) {
    const v = y[c]!;
    if (Number.isNaN(v)) {
      keys[c] = 0xffffffff;
      continue;
    }
    let b = yBits[c]!;
    if (b === 0x80000000) b = 0;
    keys[c] = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
  }
}

/** True when column a ranks above column b: larger key, then lower column (the tie rule). */
function above(keys: Uint32Array, a: number, b: number): boolean {
  const ka = keys[a]!;
  const kb = keys[b]!;
  return ka > kb || (ka === kb && a < b);
}

/** Column of the k-th highest rank among 0..d-1 (k is 1-based). */
function kthColumn(keys: Uint32Array, d: number, k: number, idx: Uint32Array): number {
  if (k <= 32) {
    // Descending top-k buffer with a threshold: most columns fail the first comparison.
    let filled = 0;
    for (let c = 0; c < d; c++) {
      if (filled === k) {
        if (!above(keys, c, idx[k - 1]!)) continue;
        filled--;
      }
      let p = filled++;
      while (p > 0 && above(keys, c, idx[p - 1]!)) {
        idx[p] = idx[p - 1]!;
        p--;
      }
      idx[p] = c;
    }
    return idx[k - 1]!;
  }
  for (let c = 0; c < d; c++) idx[c] = c;
  let lo = 0;
  let hi = d - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = idx[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (above(keys, idx[i]!, pivot)) i++;
      while (above(keys, pivot, idx[j]!)) j--;
      if (i <= j) {
        const t = idx[i]!;
        idx[i] = idx[j]!;
        idx[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return idx[target]!;
}

export function forwardJs(call: ForwardCall): void {
  const { x, outer, d, inner, k, nSample: S, noise, seedLo, seedHi, offset, values, positions, sampleValues } = call;
  const eps = fr(call.epsilon);
  const y = new Float32Array((d + 3) & ~3);
  const yBits = new Uint32Array(y.buffer);
  const keys = new Uint32Array(d);
  const idx = new Uint32Array(Math.max(d, 32));
  const z = new Float32Array(4);
  const kth = new Float32Array(S);
  const lazy = call.sampler === 'lazy' && !noise ? new LazyRowSampler() : null;
  const rowX = lazy ? new Float32Array(d) : null;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const row = o * inner + i;
      const base = o * d * inner + i;
      // The lazy sampler (lazy-sampler.ts) where the row is eligible, else the dense path.
      let lazyRow = false;
      if (lazy && rowX) {
        for (let c = 0; c < d; c++) rowX[c] = x[base + c * inner]!;
        lazyRow = lazy.prepare(rowX, d, k, eps);
      }
      for (let s = 0; s < S; s++) {
        if (lazyRow) {
          lazy!.sample(seedLo, seedHi, offset, row, s);
          positions[row * S + s] = lazy!.column;
          kth[s] = lazy!.value;
          continue;
        }
        if (noise) {
          for (let c = 0; c < d; c++) {
            const e = base + c * inner;
            y[c] = x[e]! + fr(eps * noise[e * S + s]!);
          }
        } else {
          for (let g = 0; g * 4 < d; g++) {
            normal4(seedLo, seedHi, offset, row, s, g, z, 0);
            const c0 = g * 4;
            const n = Math.min(4, d - c0);
            for (let j = 0; j < n; j++) y[c0 + j] = x[base + (c0 + j) * inner]! + fr(eps * z[j]!);
          }
        }
        fillKeys(y, yBits, keys, d);
        const c = kthColumn(keys, d, k, idx);
        positions[row * S + s] = c;
        kth[s] = y[c]!;
      }
      // The mean rule of native/core/sample_mean.h (docs/determinism.md): the samples in order,
      // summed in binary64 (a JS number) from +0, divided by S, rounded once to float32.
      let sum = 0;
      for (let s = 0; s < S; s++) sum += kth[s]!;
      values[row] = fr(sum / S);
      // The very floats the mean was summed from (ForwardCall.sampleValues).
      if (sampleValues) sampleValues.set(kth, row * S);
    }
  }
}

export function backwardJs(call: BackwardCall): void {
  const { positions, rowScale, outer, d, inner, nSample: S, grad } = call;
  const counts = new Uint32Array(d);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const r = o * inner + i;
      const at = r * S;
      for (let s = 0; s < S; s++) counts[positions[at + s]!]!++;
      const scale = rowScale[r]!;
      const unselected = 0 * scale;
      const base = o * d * inner + i;
      for (let c = 0; c < d; c++) grad[base + c * inner] = unselected;
      for (let s = 0; s < S; s++) {
        const c = positions[at + s]!;
        const n = counts[c]!;
        if (n === 0) continue;
        // countShare (native/core/sample_mean.h): fl32(n * scale / S), n * scale exact in binary64.
        grad[(o * d + c) * inner + i] = (n * scale) / S;
        counts[c] = 0;
      }
    }
  }
}

// Exposed for tests that compare rank keys directly.
export { floatBits };
