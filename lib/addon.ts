// The contract across the native boundary: every call object the TypeScript layer hands a
// kernel, and the one declaration of the addon's surface (native/binding.cpp,
// native/binding_ops.cpp). A call object crosses N-API as it is: the binding reads each field by
// name into the kernel's Args struct (native/core/noised_topk.h, ops.h), so a field added here
// is added in three places: this interface, the Args struct, and one line of the binding's parse
// function. Layouts view x as [outer, d, inner], the reduced dim in the middle.

/** x viewed as [outer, d, inner], reduced along d: ntk::Layout. A row is one slice along d. */
export interface LayoutFields {
  outer: number;
  d: number;
  inner: number;
}

/** The noise stream's key and call offset (native/core/philox_normal.h). */
export interface StreamFields {
  seedLo: number;
  seedHi: number;
  offset: number;
}

/** The seeded samplers (ntk::kSamplerNames): 'dense' draws every normal of the stream, 'lazy' only those that can matter (docs/lazy-sampler.md). */
export type SamplerName = 'lazy' | 'dense';

/** One NoisedTopK forward: ntk::ForwardArgs. */
export interface ForwardCall extends LayoutFields, StreamFields {
  x: Float32Array;
  k: number;
  epsilon: number;
  nSample: number;
  /** Explicit noise laid out as x.shape + [nSample], or null for the Philox stream. */
  noise: Float32Array | null;
  /** The seeded sampler; ignored with explicit noise. */
  sampler: SamplerName;
  /** [rows]: the mean over samples of the k-th largest. */
  values: Float32Array;
  /** [rows, nSample]: the column of each sample's k-th largest. */
  positions: Int32Array;
  /**
   * [rows, nSample] like positions, or null: each sample's k-th largest value, the floats whose
   * mean is `values` (summed in sample order from 0 in float64, divided by nSample, rounded once
   * to float32: the same bits).
   * The Monte-Carlo error is measured from them (NoisedTopKResult.standardError).
   */
  sampleValues: Float32Array | null;
}

/** One NoisedTopK backward: ntk::BackwardArgs. */
export interface BackwardCall extends LayoutFields {
  positions: Int32Array;
  /** [rows]: d(loss)/d(values). */
  rowScale: Float32Array;
  nSample: number;
  /** x's layout. */
  grad: Float32Array;
}

/** The hard top-k: ntk::TopKArgs. values and indices are [outer, k, inner]. */
export interface TopKCall extends LayoutFields {
  x: Float32Array;
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

/** What the perturbed top-k's forward and backward share: ntk::PerturbedParams. */
export interface PerturbedParams extends LayoutFields, StreamFields {
  k: number;
  epsilon: number;
  nSample: number;
}

/** The perturbed top-k forward: ntk::PerturbedForwardArgs. */
export interface PerturbedForwardCall extends PerturbedParams {
  x: Float32Array;
  /** x's layout: the share of samples that selected each column. */
  mask: Float32Array;
  /** [rows, nSample, k]: each sample's columns, ascending. */
  indices: Int32Array;
}

/** The perturbed top-k backward: ntk::PerturbedBackwardArgs. */
export interface PerturbedBackwardCall extends PerturbedParams {
  /** The forward's indices. */
  indices: Int32Array;
  /** Upstream gradient, x's layout. */
  grad: Float32Array;
  /** x's layout. */
  gradX: Float32Array;
}

/** A kernel entry point: sync on the caller's arrays, or async on owned snapshots (a Promise). */
type Entry<Call, Result> = (call: Call) => Result;

/**
 * The addon (build/Release/noised_topk.node or a prebuild), as lib/native.ts loads it. Kernel
 * entry points throw (or reject) a TypeError naming a missing or mistyped field and a RangeError
 * for a value the kernel cannot take, each message starting with the operation's name.
 */
export interface NativeAddon {
  forward: Entry<ForwardCall, void>;
  forwardAsync: Entry<ForwardCall, Promise<void>>;
  backward: Entry<BackwardCall, void>;
  backwardAsync: Entry<BackwardCall, Promise<void>>;
  /** Returns true when call.checkFinite and x holds a non-finite value. */
  topk: Entry<TopKCall, boolean>;
  topkAsync: Entry<TopKCall, Promise<boolean>>;
  perturbedTopK: Entry<PerturbedForwardCall, void>;
  perturbedTopKAsync: Entry<PerturbedForwardCall, Promise<void>>;
  perturbedTopKBackward: Entry<PerturbedBackwardCall, void>;
  perturbedTopKBackwardAsync: Entry<PerturbedBackwardCall, Promise<void>>;

  setThreads(n: number): void;
  threads(): number;
  /** The most threads setThreads accepts (4 x the CPUs available, at least 8). */
  maxThreads: number;
  /** The addon's copies of native/constants.json (test/constants.test.ts holds them to lib/constants.ts). */
  streamVersion: number;
  maxPositions: number;
  maxSamples: number;
  /** Whether two views share a byte, by address (sees two SharedArrayBuffers over one memory). */
  overlap(a: ArrayBufferView, b: ArrayBufferView): boolean;
  /** The index of the first NaN or infinity in x, or -1 (a native scan for lib/'s input check). */
  firstNonFinite(x: Float32Array): number;
  /** Test hook: kernel scratch bytes held now, and the CPU pool's worker threads alive now. */
  resources(): { scratchBytes: number; workerThreads: number };
  /** Test hook: the next n chunks of CPU kernel work fail as out of memory. */
  failNextChunks(n: number): void;
  /**
   * Test hook: raises the lazy sampler's first threshold by n grid points (eps / 32 each) in the
   * rows prepared from now on, so that its descent runs in most samples; 0 turns it off. The law
   * stays exact; only the work changes (test/lazy-exactness.test.ts).
   */
  _lazyTestRaise(n: number): void;
  /** Test hook: the stream's raw words and normals, [w0..w3, z0..z3]. */
  normals(seedLo: number, seedHi: number, offset: number, row: number, sample: number, group: number): number[];
  /**
   * Stops every call of this environment (thread) at its next chunk of rows, now and later: they
   * fail with "<op>: cancelled: ...". lib/native.ts calls it on the process's 'exit'.
   */
  cancelPending(): void;
  /** Test hook: chunks run by the CPU kernels in this process, and parallel jobs that stopped early. */
  cancelStats(): { chunksRun: number; jobsStopped: number };

  /** True when the addon was built with the CUDA kernels (then the members below exist). */
  cuda: boolean;
  /** A CUDA device answers and can run this build's kernels (false with no driver or no GPU). */
  cudaUsable?(): boolean;
  /** Why cudaUsable() is false ("cudaErrorName: description"); "" when it is true. */
  cudaProbeError?(): string;
  /** Test hook: the selection path the CUDA forward takes for (d, k, rows * nSample). */
  cudaSelectPath?(d: number, k: number, units: number): string;
  forwardCuda?: Entry<ForwardCall, void>;
  forwardCudaAsync?: Entry<ForwardCall, Promise<void>>;
  backwardCuda?: Entry<BackwardCall, void>;
  backwardCudaAsync?: Entry<BackwardCall, Promise<void>>;
  topkCuda?: Entry<TopKCall, boolean>;
  topkCudaAsync?: Entry<TopKCall, Promise<boolean>>;
}
