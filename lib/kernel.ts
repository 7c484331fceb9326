// The contract every backend implements. lib/ shapes the arguments; a backend only computes.
import { backwardJs, forwardJs } from './js-kernel.js';
import { loadNative, nativeLoadError, type NativeAddon } from './native.js';
import type { SamplerName } from './lazy-sampler.js';

export type BackendName = 'js' | 'cpu' | 'cuda';
export type BackendOption = 'auto' | BackendName;

/** x viewed as [outer, d, inner]; see native/core/noised_topk.h. */
export interface ForwardCall {
  x: Float32Array;
  outer: number;
  d: number;
  inner: number;
  k: number;
  epsilon: number;
  nSample: number;
  /** Explicit noise laid out as x.shape + [nSample], or null for the Philox stream. */
  noise: Float32Array | null;
  seedLo: number;
  seedHi: number;
  offset: number;
  /** The seeded sampler (ignored with explicit noise); absent means 'dense'. */
  sampler?: SamplerName;
  values: Float32Array;
  positions: Int32Array;
}

export interface BackwardCall {
  positions: Int32Array;
  rowScale: Float32Array;
  outer: number;
  d: number;
  inner: number;
  nSample: number;
  grad: Float32Array;
}

export interface Kernel {
  readonly name: BackendName;
  forward(call: ForwardCall): void;
  forwardAsync(call: ForwardCall): Promise<void>;
  backward(call: BackwardCall): void;
  backwardAsync(call: BackwardCall): Promise<void>;
}

const jsKernel: Kernel = {
  name: 'js',
  forward: forwardJs,
  forwardAsync: async (call) => forwardJs(call),
  backward: backwardJs,
  backwardAsync: async (call) => backwardJs(call),
};

function forwardArgs(c: ForwardCall): unknown[] {
  // The 14th argument, the sampler (0 dense, 1 lazy), is optional in the addon.
  return [c.x, c.outer, c.d, c.inner, c.k, c.epsilon, c.nSample, c.noise, c.seedLo, c.seedHi, c.offset, c.values, c.positions, c.sampler === 'lazy' ? 1 : 0];
}

function backwardArgs(c: BackwardCall): unknown[] {
  return [c.positions, c.rowScale, c.outer, c.d, c.inner, c.nSample, c.grad];
}

type AddonEntry = (...args: unknown[]) => unknown;

/** A Kernel over one device's four addon entry points (they share the argument order). */
function addonKernel(
  name: BackendName,
  forward: AddonEntry,
  forwardAsync: AddonEntry,
  backward: AddonEntry,
  backwardAsync: AddonEntry,
): Kernel {
  return {
    name,
    forward: (c) => void forward(...forwardArgs(c)),
    forwardAsync: (c) => forwardAsync(...forwardArgs(c)) as Promise<void>,
    backward: (c) => void backward(...backwardArgs(c)),
    backwardAsync: (c) => backwardAsync(...backwardArgs(c)) as Promise<void>,
  };
}

function nativeKernel(addon: NativeAddon): Kernel {
  return addonKernel('cpu', addon.forward, addon.forwardAsync, addon.backward, addon.backwardAsync);
}

function cudaKernel(addon: NativeAddon): Kernel {
  const k = addonKernel('cuda', addon.forwardCuda!, addon.forwardCudaAsync!, addon.backwardCuda!, addon.backwardCudaAsync!);
  // The CUDA kernels have only the dense sampler so far: refuse 'lazy' rather than give another stream.
  const lazyRefused = (c: ForwardCall) => {
    if (c.sampler === 'lazy' && !c.noise) throw new RangeError("sampler 'lazy' is not available on backend 'cuda' yet: pass sampler: 'dense'");
  };
  return {
    ...k,
    forward: (c) => (lazyRefused(c), k.forward(c)),
    forwardAsync: async (c) => (lazyRefused(c), k.forwardAsync(c)),
  };
}

type OverlapFn = (a: ArrayBufferView, b: ArrayBufferView) => boolean;
let overlapFn: OverlapFn | null | undefined;

/**
 * The addon's address check, overlap(a, b): whether two views share bytes, seen by address,
 * so two SharedArrayBuffer objects over the same memory (structuredClone, postMessage) are
 * caught too. Null where the addon is not loaded or has no such export; callers then compare
 * buffers, which is exact for ArrayBuffers and blind only to shared memory mapped twice.
 */
export function addressOverlap(): OverlapFn | null {
  if (overlapFn === undefined) {
    const addon = loadNative() as unknown as { overlap?: unknown } | null;
    const f = addon?.overlap;
    overlapFn = typeof f === 'function' ? (a, b) => (f as OverlapFn).call(addon, a, b) === true : null;
  }
  return overlapFn;
}

let cpuKernel: Kernel | null | undefined;
let gpuKernel: Kernel | null | undefined;
let warned = false;

function cpu(): Kernel | null {
  if (cpuKernel === undefined) {
    const addon = loadNative();
    cpuKernel = addon ? nativeKernel(addon) : null;
  }
  return cpuKernel;
}

/** The 'cuda' kernel when the addon has the CUDA kernels and a device answers (asked once). */
function cuda(): Kernel | null {
  if (gpuKernel === undefined) {
    const addon = loadNative();
    gpuKernel =
      addon?.cuda === true && typeof addon.forwardCuda === 'function' && addon.cudaUsable?.() === true
        ? cudaKernel(addon)
        : null;
  }
  return gpuKernel;
}

/**
 * Work (rows * d * nSample) from which 'auto' would pick 'cuda' over 'cpu'. Infinity: 'auto'
 * never picks 'cuda' yet, because the crossover (host-device copies against kernel time) has not
 * been measured on a GPU. Set it from bench/cuda's end-to-end figures once they exist.
 */
export const CUDA_AUTO_MIN_WORK = Number.POSITIVE_INFINITY;

/**
 * Backends that work in this process, fastest last: always 'js', 'cpu' when the addon loads,
 * 'cuda' when the addon has the CUDA kernels and a CUDA device answers.
 */
export function backends(): BackendName[] {
  const list: BackendName[] = ['js'];
  if (cpu()) list.push('cpu');
  if (cuda()) list.push('cuda');
  return list;
}

function cudaUnavailable(): Error {
  const addon = loadNative();
  const why = !addon
    ? 'the native addon did not load'
    : addon.cuda !== true
      ? 'this build of noised-topk has no CUDA kernels (it was built without a CUDA compiler)'
      : `this build has the CUDA kernels but no usable CUDA device answered (${addon.cudaProbeError?.() || 'no NVIDIA driver or no GPU'})`;
  return new Error(`backend 'cuda' is not available: ${why}. Available backends: ${backends().join(', ')}.`);
}

export function resolveKernel(backend: BackendOption): Kernel {
  if (backend === 'js') return jsKernel;
  if (backend === 'cuda') {
    const k = cuda();
    if (!k) throw cudaUnavailable();
    return k;
  }
  // 'auto' from here on: 'cpu' (then 'js'). 'cuda' is never auto-picked while
  // CUDA_AUTO_MIN_WORK is Infinity (the call's size is not known here yet either).
  const native = cpu();
  if (native) return native;
  if (backend === 'cpu') throw nativeLoadError();
  if (!warned) {
    warned = true;
    const warn = globalThis.process?.emitWarning;
    const msg = `noised-topk: native addon unavailable, using the pure TypeScript backend ('js'). ${nativeLoadError().message}`;
    if (typeof warn === 'function') warn.call(globalThis.process, msg, { code: 'NOISED_TOPK_JS_FALLBACK' });
    else console.warn(msg);
  }
  return jsKernel;
}
