// The contract every backend implements. lib/ shapes the arguments; a backend only computes.
import { backwardJs, forwardJs } from './js-kernel.js';
import { loadNative, nativeLoadError, type NativeAddon } from './native.js';

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
  return [c.x, c.outer, c.d, c.inner, c.k, c.epsilon, c.nSample, c.noise, c.seedLo, c.seedHi, c.offset, c.values, c.positions];
}

function backwardArgs(c: BackwardCall): unknown[] {
  return [c.positions, c.rowScale, c.outer, c.d, c.inner, c.nSample, c.grad];
}

function nativeKernel(addon: NativeAddon): Kernel {
  return {
    name: 'cpu',
    forward: (c) => addon.forward(...forwardArgs(c)),
    forwardAsync: (c) => addon.forwardAsync(...forwardArgs(c)),
    backward: (c) => addon.backward(...backwardArgs(c)),
    backwardAsync: (c) => addon.backwardAsync(...backwardArgs(c)),
  };
}

let cpuKernel: Kernel | null | undefined;
let warned = false;

function cpu(): Kernel | null {
  if (cpuKernel === undefined) {
    const addon = loadNative();
    cpuKernel = addon ? nativeKernel(addon) : null;
  }
  return cpuKernel;
}

/** Backends that work in this process, fastest last: always 'js', 'cpu' when the addon loads. */
export function backends(): BackendName[] {
  const list: BackendName[] = ['js'];
  if (cpu()) list.push('cpu');
  return list;
}

export function resolveKernel(backend: BackendOption): Kernel {
  if (backend === 'js') return jsKernel;
  if (backend === 'cuda') {
    throw new Error(
      "backend 'cuda' is not available: this build of noised-topk has no CUDA kernels. " +
        `Available backends: ${backends().join(', ')}.`,
    );
  }
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
