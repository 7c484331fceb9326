// The top-k ops TypeScript frameworks lack (docs/ops.md):
//   topk           the hard top-k values and indices along any dim, with the scatter gradient;
//   perturbedTopK  the expected k-hot mask of the top-k set of x + eps * Z (Berthet et al.
//                  2020, "Learning with differentiable perturbed optimizers"), with the
//                  Gaussian perturbed optimizer's VJP. PerturbedTopK is its seeded module form.
// Arguments are checked here (TypeError for a type, RangeError for a value); the kernels in
// ops-kernel.ts ('js') and native/cpu/topk_cpu.cpp ('cpu') give the same bits.
import {
  CUDA_TOPK_MAX_K,
  resolveOpsKernel,
  type OpsKernel,
  type PerturbedForwardCall,
  type TopKCall,
} from './ops-kernel.js';
import { NoiseStream, noOverlap, privateIfShared, seededCall } from './topk.js';
import { type OptionsOf, PERTURBED_FUNCTIONAL, parseOptions, SETS } from './options.js';
import * as v from './validate.js';

/** x validated and viewed as [outer, d, inner] around `dim`. */
interface Layout extends v.DimLayout {
  x: Float32Array;
  k: number;
}

function layoutOf(xIn: unknown, shapeIn: unknown, dimIn: unknown, kIn: unknown): Layout {
  // Read order (docs/input-rules.md, One snapshot at the door): the shape is copied before x's
  // view is taken, so a shape getter that detaches x leaves x seen as detached.
  const shapeSnap = v.shapeSnapshot('shape', shapeIn);
  const x = v.float32Array('x', xIn);
  const { shape, dim, outer, d, inner } = v.dimLayout(shapeSnap, x.length, 'x', dimIn);
  if (d === 0) throw new RangeError(`dim ${dim} is empty (size 0): there is no top-k to take`);
  const k = v.kOf('k', kIn, d, `the size of dim ${dim}`);
  if (outer * inner > 2 ** 32 - 1)
    throw new RangeError(`the input has ${outer * inner} rows along dim ${dim}, above 2^32 - 1`);
  return { x, shape, dim, outer, d, inner, k };
}

/**
 * Copies what a kernel computed into private memory (privateIfShared) out to the caller's
 * arrays. Two outputs on shared memory may map the same bytes through two SharedArrayBuffer
 * objects; then the second copy overwrote the first and no order of writing holds both
 * answers: reading the first back (as bits) tells, and that is a RangeError naming both.
 */
function copyOut(
  first: [string, Float32Array | Int32Array, Float32Array | Int32Array],
  second: [string, Float32Array | Int32Array, Float32Array | Int32Array] | null,
): void {
  const [aName, a, aComputed] = first;
  if (a !== aComputed) a.set(aComputed as never);
  if (second === null) return;
  const [bName, b, bComputed] = second;
  if (b === bComputed) return;
  b.set(bComputed as never);
  if (a === aComputed) return;
  const got = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const want = new Uint32Array(aComputed.buffer, aComputed.byteOffset, aComputed.length);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i]) throw new RangeError(`${aName} shares memory with ${bName}`);
  }
}

// ---------------------------------------------------------------------------------------------
// topk

/**
 * The options of topk, declared once in lib/options.ts (SETS.topk): k (required), dim (default
 * -1), largest and sorted (default true), out, indices, backend, allowNonFinite (default false:
 * a non-finite x is a RangeError, on 'cpu' found during the call, so preallocated outputs may
 * have been written when it throws).
 */
export interface TopKOptions extends OptionsOf<typeof SETS.topk> {}

const TOPK_HINTS = { axis: "noised-topk's ops take 'dim'", n: "the number kept is 'k'" };

/** The k largest (or smallest) entries along a dim and their indices, with the scatter gradient. */
export class TopKResult {
  /** Shape of x with dim of size k. */
  readonly values: Float32Array;
  /** Index along dim of each value (Int32Array, same shape as values). */
  readonly indices: Int32Array;
  readonly shape: number[];
  /** The backend that computed it. */
  readonly backend: string;
  private readonly layout: Layout;

  constructor(l: Layout, outs: TopKOutputs, backend: string) {
    this.layout = l;
    this.values = outs.values;
    this.indices = outs.indices;
    this.shape = l.shape.map((n, i) => (i === l.dim ? l.k : n));
    this.backend = backend;
  }

  /**
   * d(sum(values * gradOutput))/dx, of x's shape (gradOutput defaults to ones): gradOutput scattered to the selected indices,
   * +0 elsewhere. The indices of a row are distinct, so nothing is summed and every backend
   * gives the same bits (this scatter is one TypeScript loop shared by the backends).
   */
  backward(gradOutput?: Float32Array, out?: Float32Array): Float32Array {
    const { outer, d, inner, k } = this.layout;
    const g =
      gradOutput === undefined ? new Float32Array(outer * k * inner).fill(1) : v.float32Array('gradOutput', gradOutput);
    // Sized from the forward's layout, not from values or indices: either may be the caller's
    // own array (out, indices), detached or resized since the forward pass.
    const n = outer * k * inner;
    if (g.length !== n) {
      throw new RangeError(`gradOutput has length ${g.length}, expected ${n} (shape [${this.shape.join(', ')}])`);
    }
    const idx = this.indices;
    if (idx.length !== n) {
      throw new RangeError(
        `indices has length ${idx.length}, expected ${n}: it was resized or detached after the forward pass`,
      );
    }
    const gradOut = v.outputArray('out', out, outer * d * inner, Float32Array, 'the gradient of x');
    const byAddress = this.backend !== 'js';
    noOverlap('out', gradOut, 'gradOutput', g, byAddress);
    noOverlap('out', gradOut, 'indices', idx, byAddress);
    // Two SharedArrayBuffer objects over one memory: computed apart, then copied out.
    const grad = privateIfShared(gradOut, [g, idx], (m) => new Float32Array(m));
    // Checked before writing: indices may be the caller's own array, changed since forward.
    for (let j = 0; j < idx.length; j++) {
      if (!(idx[j]! >= 0 && idx[j]! < d))
        throw new RangeError(`indices[${j}] is ${idx[j]}, outside [0, ${d}): it was changed after the forward pass`);
    }
    grad.fill(0);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < k; j++) {
        const src = (o * k + j) * inner;
        for (let i = 0; i < inner; i++) grad[(o * d + idx[src + i]!) * inner + i] = g[src + i]!;
      }
    }
    copyOut(['out', gradOut, grad], null);
    return gradOut;
  }
}

/** The caller's outputs of a topk call (the call may compute into private copies). */
interface TopKOutputs {
  values: Float32Array;
  indices: Int32Array;
}

function prepareTopK(xIn: unknown, shapeIn: unknown, options: unknown): [Layout, TopKCall, OpsKernel, TopKOutputs] {
  const o = parseOptions('options', options, SETS.topk, TOPK_HINTS);
  const kernel = resolveOpsKernel(o.backend, 'topk');
  const l = layoutOf(xIn, shapeIn, o.dim, o.k);
  if (kernel.name === 'cuda' && l.k > CUDA_TOPK_MAX_K) {
    throw new RangeError(`k must be at most ${CUDA_TOPK_MAX_K} on backend 'cuda', got ${l.k} (use 'cpu' for larger k)`);
  }
  const { largest, sorted, allowNonFinite } = o;
  const n = l.outer * l.k * l.inner;
  const values = v.outputArray('out', o.out, n, Float32Array, 'the top-k values');
  const indices = v.outputArray('indices', o.indices, n, Int32Array, 'the top-k indices');
  // As NoisedTopK (lib/topk.ts forwardCall): by address where the addon's kernels run; every
  // backend computes apart when outputs and inputs are on shared memory (privateIfShared).
  const byAddress = kernel.name !== 'js';
  noOverlap('out', values, 'x', l.x, byAddress);
  noOverlap('indices', indices, 'x', l.x, byAddress);
  noOverlap('out', values, 'indices', indices, byAddress);
  const all = [l.x, values, indices];
  // The native kernel checks finiteness per row while the row is in cache (a JS pass over x
  // would cost more than the top-k itself); the 'js' kernel is checked here, before any work.
  if (!allowNonFinite && kernel.name === 'js') v.allFinite('x', l.x);
  const checkFinite = !allowNonFinite && kernel.name !== 'js';
  const call: TopKCall = {
    x: l.x,
    outer: l.outer,
    d: l.d,
    inner: l.inner,
    k: l.k,
    largest,
    sorted,
    values: privateIfShared(values, all, (m) => new Float32Array(m)),
    indices: privateIfShared(indices, all, (m) => new Int32Array(m)),
    checkFinite,
  };
  return [l, call, kernel, { values, indices }];
}

function finishTopK(call: TopKCall, outs: TopKOutputs): void {
  copyOut(['out', outs.values, call.values], ['indices', outs.indices, call.indices]);
}

/** After a native call that found a non-finite value: throw the same RangeError as the check. */
function nonFiniteFound(l: Layout): never {
  v.allFinite('x', l.x);
  throw new RangeError('x holds a non-finite value: non-finite inputs are rejected (pass allowNonFinite: true)');
}

/**
 * The k largest (largest: true, the default) or smallest entries of x along `dim`, and their
 * indices. Ties: the lower index first, for largest and smallest alike; -0 equals +0; with
 * allowNonFinite, NaN is the largest value (selected first by largest, last by smallest).
 */
export function topk(x: Float32Array, shape: number[], options: TopKOptions): TopKResult {
  const [l, call, kernel, outs] = prepareTopK(x, shape, options);
  if (l.outer * l.inner > 0 && kernel.topk(call)) nonFiniteFound(l);
  finishTopK(call, outs);
  return new TopKResult(l, outs, kernel.name);
}

/** topk off the main thread ('cpu': a libuv worker; inputs are snapshotted at the call). */
export async function topkAsync(x: Float32Array, shape: number[], options: TopKOptions): Promise<TopKResult> {
  const [l, call, kernel, outs] = prepareTopK(x, shape, options);
  if (l.outer * l.inner > 0 && (await kernel.topkAsync(call))) nonFiniteFound(l);
  finishTopK(call, outs);
  return new TopKResult(l, outs, kernel.name);
}

// ---------------------------------------------------------------------------------------------
// perturbedTopK

/**
 * The options of the PerturbedTopK module, declared once in lib/options.ts (SETS.perturbedTopK):
 * k and nSample (required), epsilon (> 0, default 1), dim (default -1), seed (default: random),
 * backend, allowNonFinite.
 */
export interface PerturbedTopKOptions extends Omit<OptionsOf<typeof SETS.perturbedTopK>, 'seed'> {}

/** The options of the functional perturbedTopK (PERTURBED_FUNCTIONAL): the module's, plus offset, out and indices. */
export interface FunctionalPerturbedOptions extends OptionsOf<typeof PERTURBED_FUNCTIONAL> {}

const PERTURBED_HINTS = {
  n_sample: "use 'nSample'",
  axis: "noised-topk's ops take 'dim'",
  sigma: "the noise scale is 'epsilon'",
};

interface PerturbedPlan {
  layout: Layout;
  epsilon: number;
  nSample: number;
  seedLo: number;
  seedHi: number;
  offset: number;
  kernel: OpsKernel;
  /** The caller's outputs (the call may compute into private copies, copied out after). */
  mask: Float32Array;
  indices: Int32Array;
}

/** The perturbed top-k mask and the way back to x. */
export class PerturbedTopKResult {
  /**
   * Mean over samples of the k-hot indicator of the top-k set of x + epsilon * Z along dim, of
   * x's shape: an unbiased estimate of the expected mask. Each row sums to k (up to rounding).
   */
  readonly mask: Float32Array;
  /** x's shape. */
  readonly shape: number[];
  /** Each sample's k selected indices, ascending: Int32Array [rows, nSample, k]. */
  readonly indices: Int32Array;
  readonly nSample: number;
  /** The stream's seed and offset of this call (pass them back to replay it). */
  readonly seed: bigint;
  readonly offset: number;
  readonly backend: string;
  private readonly plan: PerturbedPlan;

  constructor(plan: PerturbedPlan, call: PerturbedForwardCall) {
    copyOut(['out', plan.mask, call.mask], ['indices', plan.indices, call.indices]);
    this.plan = plan;
    this.mask = plan.mask;
    this.indices = plan.indices;
    this.shape = plan.layout.shape.slice();
    this.nSample = plan.nSample;
    this.seed = (BigInt(plan.seedHi) << 32n) | BigInt(plan.seedLo);
    this.offset = plan.offset;
    this.backend = plan.kernel.name;
  }

  private backwardCall(gradIn: unknown, out: unknown) {
    const p = this.plan;
    const { outer, d, inner, k } = p.layout;
    const n = outer * d * inner;
    const grad = gradIn === undefined ? new Float32Array(n).fill(1) : v.float32Array('gradOutput', gradIn);
    if (grad.length !== n)
      throw new RangeError(
        `gradOutput has length ${grad.length}, expected ${n} (x's shape [${this.shape.join(', ')}])`,
      );
    const want = outer * inner * p.nSample * k;
    if (this.indices.length !== want)
      throw new RangeError(
        `indices has length ${this.indices.length}, expected ${want}: it was resized or detached after the forward pass`,
      );
    for (let j = 0; j < want; j++) {
      const c = this.indices[j]!;
      if (!(c >= 0 && c < d))
        throw new RangeError(`indices[${j}] is ${c}, outside [0, ${d}): it was changed after the forward pass`);
    }
    const gradOut = v.outputArray('out', out, n, Float32Array, 'the gradient of x');
    const byAddress = p.kernel.name !== 'js';
    noOverlap('out', gradOut, 'gradOutput', grad, byAddress);
    noOverlap('out', gradOut, 'indices', this.indices, byAddress);
    const gradX = privateIfShared(gradOut, [grad, this.indices], (m) => new Float32Array(m));
    return {
      gradOut,
      indices: this.indices,
      grad,
      outer,
      d,
      inner,
      k,
      epsilon: p.epsilon,
      nSample: p.nSample,
      seedLo: p.seedLo,
      seedHi: p.seedHi,
      offset: p.offset,
      gradX,
    };
  }

  /**
   * The vector-Jacobian product of the expected mask: for upstream gradient g = gradOutput (x's shape, default ones),
   * grad_x = (1 / (epsilon * nSample)) * sum_s <g, Y_s> Z_s per row (Berthet et al. 2020,
   * Gaussian noise), with the forward's own noise Z_s regenerated from the stream.
   */
  backward(gradOutput?: Float32Array, out?: Float32Array): Float32Array {
    const call = this.backwardCall(gradOutput, out);
    if (call.outer * call.inner > 0) this.plan.kernel.perturbedBackward(call);
    copyOut(['out', call.gradOut, call.gradX], null);
    return call.gradOut;
  }

  /** backward's gradient as a Promise, computed on a worker thread on 'cpu'. */
  async backwardAsync(gradOutput?: Float32Array, out?: Float32Array): Promise<Float32Array> {
    const call = this.backwardCall(gradOutput, out);
    if (call.outer * call.inner > 0) await this.plan.kernel.perturbedBackwardAsync(call);
    copyOut(['out', call.gradOut, call.gradX], null);
    return call.gradOut;
  }
}

function perturbedPlan(
  kernel: OpsKernel,
  xIn: unknown,
  shapeIn: unknown,
  o: PerturbedParsed & { out?: unknown; indices?: unknown },
  seedLo: number,
  seedHi: number,
  offset: number,
): [PerturbedPlan, PerturbedForwardCall] {
  const layout = layoutOf(xIn, shapeIn, o.dim, o.k);
  const { epsilon, nSample } = o;
  const rows = layout.outer * layout.inner;
  const nIdx = rows * nSample * layout.k;
  // The per-call output limit (docs/limits.md): indices is the output that grows with nSample.
  if (nIdx > v.MAX_OUTPUT_ELEMENTS) {
    throw new RangeError(
      `rows * nSample * k = ${rows} * ${nSample} * ${layout.k} = ${nIdx} indices (${nIdx * 4} bytes), ` +
        `above the limit of 2^28 elements (1 GiB) per call: lower nSample or split the batch`,
    );
  }
  const { allowNonFinite } = o;
  const mask = v.outputArray('out', o.out, layout.x.length, Float32Array, 'the perturbed top-k mask');
  const indices = v.outputArray('indices', o.indices, nIdx, Int32Array, 'the selected indices of every sample');
  const byAddress = kernel.name !== 'js';
  noOverlap('out', mask, 'x', layout.x, byAddress);
  noOverlap('indices', indices, 'x', layout.x, byAddress);
  noOverlap('out', mask, 'indices', indices, byAddress);
  if (!allowNonFinite) v.allFinite('x', layout.x);
  const plan: PerturbedPlan = { layout, epsilon, nSample, seedLo, seedHi, offset, kernel, mask, indices };
  const all = [layout.x, mask, indices];
  const call: PerturbedForwardCall = {
    x: layout.x,
    outer: layout.outer,
    d: layout.d,
    inner: layout.inner,
    k: layout.k,
    epsilon,
    nSample,
    seedLo,
    seedHi,
    offset,
    mask: privateIfShared(mask, all, (m) => new Float32Array(m)),
    indices: privateIfShared(indices, all, (m) => new Int32Array(m)),
  };
  return [plan, call];
}

function prepareFunctional(x: unknown, shape: unknown, options: unknown): [PerturbedPlan, PerturbedForwardCall] {
  const o = parseOptions('options', options, PERTURBED_FUNCTIONAL, PERTURBED_HINTS);
  const kernel = resolveOpsKernel(o.backend, 'perturbedTopK');
  const s = seededCall(o.seed, o.offset); // the noise rule: see seededCall
  return perturbedPlan(kernel, x, shape, o, s.seedLo, s.seedHi, s.offset);
}

/**
 * The perturbed top-k (Berthet et al. 2020): the mean over nSample draws of the k-hot of the
 * top-k set of x + epsilon * Z along `dim`, Z from the package's Philox stream at (seed,
 * offset), the same noise NoisedTopK draws for that seed and offset. Differentiable through
 * result.backward.
 */
export function perturbedTopK(
  x: Float32Array,
  shape: number[],
  options: FunctionalPerturbedOptions,
): PerturbedTopKResult {
  const [plan, call] = prepareFunctional(x, shape, options);
  if (plan.layout.outer * plan.layout.inner > 0) plan.kernel.perturbedForward(call);
  return new PerturbedTopKResult(plan, call);
}

/**
 * perturbedTopK as a Promise, with the same checks (a bad argument rejects). On 'cpu' the kernel
 * runs on a worker thread, and the call holds x until it settles.
 */
export async function perturbedTopKAsync(
  x: Float32Array,
  shape: number[],
  options: FunctionalPerturbedOptions,
): Promise<PerturbedTopKResult> {
  const [plan, call] = prepareFunctional(x, shape, options);
  if (plan.layout.outer * plan.layout.inner > 0) await plan.kernel.perturbedForwardAsync(call);
  return new PerturbedTopKResult(plan, call);
}

/** The options of the PerturbedTopK module (SETS.perturbedTopK); seed: call n uses offset n, default random (see .seed). */
export interface PerturbedTopKModuleOptions extends OptionsOf<typeof SETS.perturbedTopK> {}

/** The perturbed options as parseOptions gives them. */
type PerturbedParsed = {
  readonly k: unknown;
  readonly epsilon: number;
  readonly nSample: number;
  readonly dim: number;
  readonly allowNonFinite: boolean;
};

/** Seeded module form of perturbedTopK: each forward draws fresh noise (call n uses offset n). */
export class PerturbedTopK {
  /** The options as checked, defaults in place. */
  readonly options: Readonly<PerturbedParsed & { seed?: number | bigint; backend: string }>;
  private readonly kernel: OpsKernel;
  private readonly stream: NoiseStream;

  constructor(options: PerturbedTopKModuleOptions) {
    const o = parseOptions('options', options, SETS.perturbedTopK, PERTURBED_HINTS);
    v.integer('k', o.k, 1, 2 ** 31 - 1); // its upper bound, the size of dim, is checked per call
    this.kernel = resolveOpsKernel(o.backend, 'perturbedTopK');
    this.stream = new NoiseStream(o.seed);
    this.options = Object.freeze({ ...o });
  }

  get seed(): bigint {
    return this.stream.seed;
  }

  get backend(): string {
    return this.kernel.name;
  }

  private prepare(x: unknown, shape: unknown, outputs: unknown): [PerturbedPlan, PerturbedForwardCall] {
    const outs = v.strictOptions('outputs', outputs, ['out', 'indices'] as const);
    const src = this.stream.next() as { seedLo: number; seedHi: number; offset: number };
    return perturbedPlan(this.kernel, x, shape, { ...this.options, ...outs }, src.seedLo, src.seedHi, src.offset);
  }

  /**
   * The perturbed top-k mask of x (flat, row-major, of shape `shape`) along `dim`, with the next
   * offset of this object's noise stream. `outputs` takes preallocated `out` (the mask) and
   * `indices`.
   */
  forward(
    x: Float32Array,
    shape: number[],
    outputs?: { out?: Float32Array; indices?: Int32Array },
  ): PerturbedTopKResult {
    const [plan, call] = this.prepare(x, shape, outputs);
    if (plan.layout.outer * plan.layout.inner > 0) plan.kernel.perturbedForward(call);
    return new PerturbedTopKResult(plan, call);
  }

  /** forward as a Promise; on 'cpu' the kernel runs on a worker thread, holding x until it settles. */
  async forwardAsync(
    x: Float32Array,
    shape: number[],
    outputs?: { out?: Float32Array; indices?: Int32Array },
  ): Promise<PerturbedTopKResult> {
    const [plan, call] = this.prepare(x, shape, outputs);
    if (plan.layout.outer * plan.layout.inner > 0) await plan.kernel.perturbedForwardAsync(call);
    return new PerturbedTopKResult(plan, call);
  }
}
