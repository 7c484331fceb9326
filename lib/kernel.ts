// The contract every backend implements, and the one backend resolution ('auto', 'js', 'cpu',
// 'cuda'; lib/ops-kernel.ts resolves through it too). lib/ shapes the arguments into the call
// objects of lib/addon.ts; a backend only computes: 'js' in lib/js-kernel.ts, 'cpu' and 'cuda'
// by handing the same objects to the addon's entry points.
import type { BackwardCall, ForwardCall } from './addon.js';
import { backwardJs, forwardJs } from './js-kernel.js';
import { loadNative, nativeLoadError, type NativeAddon } from './native.js';

/**
 * A backend that runs the kernels: 'js' (TypeScript, everywhere), 'cpu' (the native addon) or
 * 'cuda' (the addon's CUDA kernels, where a device answers; experimental). All three give the
 * same bits for the same seed (docs/determinism.md).
 */
export type BackendName = 'js' | 'cpu' | 'cuda';
/** The `backend` option: a BackendName, or 'auto' (the default: 'cpu' where the addon loads, else 'js' with a one-time warning). */
export type BackendOption = 'auto' | BackendName;

export type { BackwardCall, ForwardCall } from './addon.js';

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

/** The 'cpu' or 'cuda' Kernel: the addon's entry points of that device take the calls as they are. */
function addonKernel(addon: NativeAddon, device: 'cpu' | 'cuda'): Kernel {
  const e = deviceEntries(addon, device);
  return {
    name: device,
    forward: (c) => e.forward(c),
    forwardAsync: (c) => e.forwardAsync(c),
    backward: (c) => e.backward(c),
    backwardAsync: (c) => e.backwardAsync(c),
  };
}

/** One device's entry points of the addon, named as the 'cpu' ones are. */
export type DeviceEntries = Pick<
  NativeAddon,
  'forward' | 'forwardAsync' | 'backward' | 'backwardAsync' | 'topk' | 'topkAsync'
>;

/**
 * The entry points of `device`: the plain names for 'cpu', the Cuda-suffixed ones for 'cuda'.
 * Only topk has a CUDA kernel among the ops, so the ops layer asks for those two alone.
 */
export function deviceEntries(addon: NativeAddon, device: 'cpu' | 'cuda'): DeviceEntries {
  if (device === 'cpu') return addon;
  const missing = (name: string) => () => {
    throw new Error(`backend 'cuda' is not available: this build has no ${name}`);
  };
  return {
    forward: addon.forwardCuda ?? missing('forwardCuda'),
    forwardAsync: addon.forwardCudaAsync ?? missing('forwardCudaAsync'),
    backward: addon.backwardCuda ?? missing('backwardCuda'),
    backwardAsync: addon.backwardCudaAsync ?? missing('backwardCudaAsync'),
    topk: addon.topkCuda ?? missing('topkCuda'),
    topkAsync: addon.topkCudaAsync ?? missing('topkCudaAsync'),
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
    const addon: Partial<NativeAddon> | null = loadNative();
    const f = addon?.overlap;
    overlapFn = typeof f === 'function' ? (a, b) => f.call(addon, a, b) === true : null;
  }
  return overlapFn;
}

type FiniteScan = (x: Float32Array) => number;
let finiteScanFn: FiniteScan | null | undefined;

/**
 * The addon's scan for the first NaN or infinity (index, or -1), for v.allFinite on the native
 * backends; null where the addon is not loaded ('js' scans in JavaScript).
 */
export function nativeFiniteScan(): FiniteScan | null {
  if (finiteScanFn === undefined) {
    const addon: Partial<NativeAddon> | null = loadNative();
    const f = addon?.firstNonFinite;
    finiteScanFn = typeof f === 'function' ? (x) => f.call(addon, x) : null;
  }
  return finiteScanFn;
}

let cpuKernel: Kernel | null | undefined;
let gpuKernel: Kernel | null | undefined;
let warned = false;

function cpu(): Kernel | null {
  if (cpuKernel === undefined) {
    const addon = loadNative();
    cpuKernel = addon ? addonKernel(addon, 'cpu') : null;
  }
  return cpuKernel;
}

/** The 'cuda' kernel when the addon has the CUDA kernels and a device answers (asked once). */
function cuda(): Kernel | null {
  if (gpuKernel === undefined) {
    const addon = loadNative();
    gpuKernel =
      addon?.cuda === true && typeof addon.forwardCuda === 'function' && addon.cudaUsable?.() === true
        ? addonKernel(addon, 'cuda')
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
