// NoisedTopK: the module form (seeded stream) and the functional form (explicit noise).
import { tQuantile } from './student-t.js';
import {
  addressOverlap,
  nativeFiniteScan,
  resolveKernel,
  type BackendOption,
  type BackwardCall,
  type ForwardCall,
  type Kernel,
} from './kernel.js';
import { defaultSampler, type SamplerName } from './lazy-sampler.js';
import { DEFAULT_NSAMPLE, type OptionsOf, parseOptions, SETS } from './options.js';
import * as v from './validate.js';

/**
 * The options of NoisedTopK, declared once in lib/options.ts (SETS.noisedTopK): k (required), epsilon
 * (default 1), nSample (default 5), dim (default -1), seed (default: random), backend, allowNonFinite,
 * sampler.
 */
export interface NoisedTopKOptions extends OptionsOf<typeof SETS.noisedTopK> {}

/**
 * Preallocated outputs of a noised top-k forward pass (`forward(x, shape, outputs)`): each one
 * is used instead of a new array, at any byteOffset, and must not share memory with x.
 */
export interface ForwardOutputs {
  /** Preallocated output for the values (length: the product of the output shape). */
  out?: Float32Array;
  /** Preallocated output for the selected columns, `indices` (length: rows * nSample). */
  indices?: Int32Array;
  /** @deprecated Renamed `indices` (docs/api.md, Conventions); read as `indices` for one release. */
  positions?: Int32Array;
}

/** Where the noise of one call comes from. */
export type NoiseSource =
  | { kind: 'explicit'; noise: Float32Array }
  | { kind: 'stream'; seedLo: number; seedHi: number; offset: number; sampler?: SamplerName };

/** A seeded sequence of calls: call n uses stream offset n (mod 2^32). */
export class NoiseStream {
  readonly seedLo: number;
  readonly seedHi: number;
  /** The sampler option of every call (undefined: the default rule, by shape). */
  readonly sampler: SamplerName | undefined;
  private calls = 0;

  constructor(seed?: number | bigint, sampler?: SamplerName) {
    this.sampler = sampler;
    if (seed === undefined) {
      const words = new Uint32Array(2);
      globalThis.crypto.getRandomValues(words);
      this.seedLo = words[0]!;
      this.seedHi = words[1]!;
    } else {
      [this.seedLo, this.seedHi] = v.seedWords(seed);
    }
  }

  /** The seed as a bigint, to log or to replay a run. */
  get seed(): bigint {
    return (BigInt(this.seedHi) << 32n) | BigInt(this.seedLo);
  }

  next(): NoiseSource {
    const offset = this.calls;
    this.calls = (this.calls + 1) >>> 0;
    return { kind: 'stream', seedLo: this.seedLo, seedHi: this.seedHi, offset, sampler: this.sampler };
  }
}

/** Input validated and viewed as [outer, d, inner] around the reduced dim. */
export interface TopKPlan extends v.DimLayout {
  kernel: Kernel;
  x: Float32Array;
  /** What the caller calls x ('x' for the top-k, 'scores' for the losses), for messages. */
  xName: string;
  k: number;
  epsilon: number;
  nSample: number;
  valueShape: number[];
  rows: number;
}

/**
 * Checks a call whose arguments were already read (x a view, shape a snapshot). An empty dim
 * has no k-th value: with no slices at all (a 0 in another dim) the answer is empty, otherwise
 * it is a RangeError, as torch.topk refuses it.
 */
export function planTopK(
  kernel: Kernel,
  x: Float32Array,
  shapeSnap: unknown[],
  dimIn: unknown,
  kIn: unknown,
  epsilonIn: unknown,
  nSampleIn: unknown,
  kName = 'k',
  xName = 'x',
): TopKPlan {
  const { shape, dim, outer, d, inner } = v.dimLayout(shapeSnap, x.length, xName, dimIn);
  const rows = outer * inner;
  let k: number;
  if (d === 0) {
    if (rows > 0) {
      throw new RangeError(
        `${xName} has shape [${shape.join(', ')}]: dim ${dim} is empty, so its ${rows} slice${rows === 1 ? ' has' : 's have'} no k-th value ` +
          '(an input with no slices, a 0 in another dim, gives an empty answer)',
      );
    }
    k = v.integer(kName, kIn, 1, 2 ** 31 - 1);
  } else {
    k = v.kOf(kName, kIn, d, `the size of dim ${dim}`);
  }
  const epsilon = v.epsilonValue('epsilon', epsilonIn);
  const nSample = v.integer('nSample', nSampleIn, 1, v.MAX_SAMPLES);
  if (rows * nSample > v.MAX_OUTPUT_ELEMENTS) {
    throw new RangeError(
      `nSample = ${nSample} with ${rows} slices needs indices of ${rows * nSample} elements (${rows * nSample * 4} bytes), ` +
        `above the limit of 2^28 elements (1 GiB) per call: lower nSample or split the batch`,
    );
  }
  const valueShape = shape.filter((_, i) => i !== dim);
  return { kernel, x, xName, shape, dim, outer, d, inner, k, epsilon, nSample, valueShape, rows };
}

/**
 * Throws if two arrays share bytes (an output that aliases an input gives wrong answers).
 * Views of one buffer are compared by offset; views of two SharedArrayBuffer objects may still
 * map the same memory, which only the addon's address check can see: byAddress asks it (for
 * the addon's kernels, where it is loaded). The 'js' kernel does not need it: it computes
 * apart whenever shared memory is involved (privateIfShared), so it is right either way.
 */
export function noOverlap(
  aName: string,
  a: ArrayBufferView,
  bName: string,
  b: ArrayBufferView,
  byAddress = false,
): void {
  if (a.byteLength === 0 || b.byteLength === 0) return;
  let shared: boolean;
  if (a.buffer === b.buffer) {
    shared = a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
  } else {
    const overlap = byAddress && v.sharedBacked(a) && v.sharedBacked(b) ? addressOverlap() : null;
    shared = overlap?.(a, b) === true;
  }
  if (shared) throw new RangeError(`${aName} shares memory with ${bName}`);
}

/**
 * The array a kernel writes: the output itself, or, when the output is on shared memory and
 * so is some other array of the call, private memory copied out afterwards. Two
 * SharedArrayBuffer objects can map the same memory with nothing in JavaScript to show it,
 * so computing apart is what keeps the answer right when no address check is available.
 */
export function privateIfShared<T extends Float32Array | Int32Array>(
  out: T,
  others: ArrayBufferView[],
  make: (n: number) => T,
): T {
  if (out.length === 0 || !v.sharedBacked(out) || !others.some((o) => o !== out && v.sharedBacked(o))) return out;
  return make(out.length);
}

/** A forward call ready for a kernel, with the caller's outputs it must end up in. */
export interface PreparedForward {
  call: ForwardCall;
  values: Float32Array;
  positions: Int32Array;
  /** [rows, nSample]: each sample's k-th value (the library's own array, written in place). */
  sampleValues: Float32Array;
  /** The stream's seed and offset of the call; null for explicit noise. */
  seed: bigint | null;
  offset: number | null;
}

/** Copies private outputs into the caller's, once the kernel is done. */
export function finishForward(p: PreparedForward): void {
  const values = p.call.values !== p.values;
  const positions = p.call.positions !== p.positions;
  if (values) p.values.set(p.call.values);
  if (positions) p.positions.set(p.call.positions);
  // Both outputs on shared memory: if they map the same bytes, the second copy overwrote the
  // first, and no order of writing gives both answers. Reading the first back tells.
  if (values && positions) {
    for (let i = 0; i < p.values.length; i++) {
      if (!Object.is(p.values[i], p.call.values[i])) throw new RangeError('out shares memory with indices');
    }
  }
}

export interface OutputViews {
  out?: Float32Array;
  positions?: Int32Array;
}

/** Output views from an outputs record whose keys were read once (the caller's `indices` are the kernel's positions). */
export function outputViews(o: { out?: unknown; indices?: unknown }): OutputViews {
  return {
    out: o.out === undefined ? undefined : v.typedArray('out', o.out, Float32Array),
    positions: o.indices === undefined ? undefined : v.typedArray('indices', o.indices, Int32Array),
  };
}

export function forwardCall(
  plan: TopKPlan,
  source: NoiseSource,
  outputs: OutputViews,
  allowNonFinite: boolean,
): PreparedForward {
  const why = `${plan.rows} slices x nSample = ${plan.nSample}`;
  const values = v.outputArray('out', outputs.out, plan.rows, Float32Array, why);
  const positions = v.outputArray('indices', outputs.positions, plan.rows * plan.nSample, Int32Array, why);
  // Always asked for: one float per (row, sample) written where the kernel already holds it,
  // so that standardError costs nothing until it is read. A new ArrayBuffer, private to the
  // result, so it can overlap nothing.
  const sampleValues = v.allocate('sampleValues', plan.rows * plan.nSample, (n) => new Float32Array(n), why);
  let noise: Float32Array | null = null;
  const scan = plan.kernel.name === 'js' ? null : nativeFiniteScan();
  if (source.kind === 'explicit') {
    noise = source.noise;
    if (!allowNonFinite) v.allFinite('noise', noise, scan);
  }
  if (!allowNonFinite) v.allFinite(plan.xName, plan.x, scan);
  const byAddress = plan.kernel.name !== 'js';
  for (const [name, arr] of [
    ['out', values],
    ['indices', positions],
  ] as const) {
    noOverlap(name, arr, plan.xName, plan.x, byAddress);
    if (noise) noOverlap(name, arr, 'noise', noise, byAddress);
  }
  noOverlap('out', values, 'indices', positions, byAddress);
  const all: ArrayBufferView[] = noise ? [plan.x, noise, values, positions] : [plan.x, values, positions];
  const call: ForwardCall = {
    x: plan.x,
    outer: plan.outer,
    d: plan.d,
    inner: plan.inner,
    k: plan.k,
    epsilon: plan.epsilon,
    nSample: plan.nSample,
    noise,
    seedLo: source.kind === 'stream' ? source.seedLo : 0,
    seedHi: source.kind === 'stream' ? source.seedHi : 0,
    offset: source.kind === 'stream' ? source.offset : 0,
    // The same fixed rule on every backend ('cuda' has both samplers): a pure function of the shape.
    sampler: source.kind === 'stream' ? (source.sampler ?? defaultSampler(plan.d, plan.k)) : 'dense',
    values: privateIfShared(values, all, (n) => new Float32Array(n)),
    positions: privateIfShared(positions, all, (n) => new Int32Array(n)),
    sampleValues,
  };
  const stream = source.kind === 'stream';
  const seed = stream ? (BigInt(source.seedHi) << 32n) | BigInt(source.seedLo) : null;
  return { call, values, positions, sampleValues, seed, offset: stream ? source.offset : null };
}

/** The explicit noise of a functional call: x.shape + [nSample], nSample inferred. */
export function explicitNoise(
  noise: Float32Array,
  x: Float32Array,
  nSampleIn: unknown,
): { noise: Float32Array; nSample: number } {
  if (x.length === 0) {
    const nSample = nSampleIn === undefined ? 1 : v.integer('nSample', nSampleIn, 1, v.MAX_SAMPLES);
    if (noise.length !== 0) throw new RangeError(`noise has length ${noise.length}, expected 0 for an empty input`);
    return { noise, nSample };
  }
  if (noise.length === 0 || noise.length % x.length !== 0) {
    throw new RangeError(
      `noise has length ${noise.length}, expected a positive multiple of x.length (${x.length}): noise is laid out as shape + [nSample]`,
    );
  }
  const nSample = noise.length / x.length;
  if (nSampleIn !== undefined && nSampleIn !== nSample) {
    throw new RangeError(`nSample is ${v.describe(nSampleIn)} but noise holds ${nSample} samples per element`);
  }
  return { noise, nSample };
}

/** A backward call ready for a kernel, with the caller's gradient array it must end up in. */
export interface PreparedBackward {
  call: BackwardCall;
  grad: Float32Array;
}

export function finishBackward(p: PreparedBackward): Float32Array {
  if (p.call.grad !== p.grad) p.grad.set(p.call.grad);
  return p.grad;
}

export function backwardCall(
  plan: TopKPlan,
  positions: Int32Array,
  rowScale: Float32Array,
  out: unknown,
  rowScaleName = 'gradOutput',
): PreparedBackward {
  // positions may be the caller's own array (outputs.indices): it can have been rewritten,
  // detached or resized since the forward pass. Every backend indexes with it.
  const want = plan.rows * plan.nSample;
  if (positions.length !== want) {
    throw new RangeError(
      `indices has length ${positions.length}, expected ${want}: it was resized or detached after the forward pass`,
    );
  }
  for (let j = 0; j < want; j++) {
    const p = positions[j]!;
    if (p < 0 || p >= plan.d)
      throw new RangeError(`indices[${j}] is ${p}, outside [0, ${plan.d}): it was changed after the forward pass`);
  }
  // Sized from the plan, not plan.x.length: x may have been detached since the forward pass.
  const size = plan.outer * plan.d * plan.inner;
  const grad = v.outputArray('out', out, size, Float32Array, `the gradient of ${plan.xName}`);
  const byAddress = plan.kernel.name !== 'js';
  noOverlap('out', grad, rowScaleName, rowScale, byAddress);
  noOverlap('out', grad, 'indices', positions, byAddress);
  const call: BackwardCall = {
    positions,
    rowScale,
    outer: plan.outer,
    d: plan.d,
    inner: plan.inner,
    nSample: plan.nSample,
    grad: privateIfShared(grad, [positions, rowScale], (n) => new Float32Array(n)),
  };
  return { call, grad };
}

// An input with no rows (a 0 in the shape) has nothing to compute: the kernels are not called
// (the js one sizes its scratch by d, which may be up to 2^31 - 1 here).

/**
 * @internal The sample variance (S - 1 denominator) of each row of sampleValues [rows, S], in
 * float64, two passes (the mean, then the squared deviations: no cancellation). NaN for S = 1,
 * where one sample carries no estimate of the spread; NaN or Infinity where a sample is not
 * finite (allowNonFinite).
 */
export function sampleVariances(sampleValues: Float32Array, rows: number, S: number): Float64Array {
  const out = new Float64Array(rows);
  if (S < 2) return out.fill(NaN);
  for (let r = 0; r < rows; r++) {
    const at = r * S;
    let sum = 0;
    for (let s = 0; s < S; s++) sum += sampleValues[at + s]!;
    const mean = sum / S;
    let ss = 0;
    for (let s = 0; s < S; s++) {
      const dev = sampleValues[at + s]! - mean;
      ss += dev * dev;
    }
    out[r] = ss / (S - 1);
  }
  return out;
}

/** Output of a noised top-k forward pass; backward() gives d(sum(values * gradOutput))/dx. */
export class NoisedTopKResult {
  /** Mean over samples of the k-th largest value of each slice, of shape `shape`. */
  readonly values: Float32Array;
  /** Shape of `values`: the input's shape without `dim`. */
  readonly shape: number[];
  /** Column of the k-th largest per (slice, sample), Int32Array [slices, nSample]: the sparse form of the gradient. */
  readonly indices: Int32Array;
  readonly nSample: number;
  /**
   * Each sample's k-th largest value, [slices, nSample] laid out as `indices`: the floats
   * `values` is the mean of (summed in sample order in float64, divided by nSample, rounded once
   * to float32: the same bits).
   */
  readonly sampleValues: Float32Array;
  /**
   * The noise stream's seed and offset this call drew from (a random seed when none was given):
   * pass both back to replay the call. null when the noise was given explicitly.
   */
  readonly seed: bigint | null;
  readonly offset: number | null;
  private readonly plan: TopKPlan;
  private se: Float32Array | null = null;

  constructor(plan: TopKPlan, p: PreparedForward) {
    this.plan = plan;
    this.values = p.values;
    this.indices = p.positions;
    this.sampleValues = p.sampleValues;
    this.shape = plan.valueShape.slice();
    this.nSample = plan.nSample;
    this.seed = p.seed;
    this.offset = p.offset;
  }

  /**
   * The Monte-Carlo standard error of each value, of shape `shape`: sd / sqrt(nSample), with sd
   * the sample standard deviation (nSample - 1 denominator) of the slice's sampleValues,
   * computed in float64. It shrinks as 1 / sqrt(nSample): pick nSample from it. NaN where
   * nSample = 1 (one sample carries no error estimate). Computed when first read, then kept.
   */
  get standardError(): Float32Array {
    if (this.se) return this.se;
    const S = this.nSample;
    const variances = sampleVariances(this.sampleValues, this.plan.rows, S);
    const se = new Float32Array(this.plan.rows);
    for (let r = 0; r < se.length; r++) se[r] = Math.sqrt(variances[r]! / S);
    this.se = se;
    return se;
  }

  /**
   * A confidence interval for the mean over the noise of each value, of shape `shape`:
   * values +- tQuantile(nSample - 1, (1 + level) / 2) * standardError, in float64. It uses
   * Student's t with nSample - 1 degrees of freedom, not the normal quantile: at nSample = 5 a
   * 95% interval is +- 2.78 standard errors (+- 1.96 would cover 87.8%). Exact in coverage where
   * the samples are normal (a row whose k-th column is rarely displaced), close to it otherwise.
   * NaN bounds where nSample = 1. level in (0, 1), default 0.95.
   */
  confidenceInterval(level: number = 0.95): { lower: Float64Array; upper: Float64Array } {
    if (typeof level !== 'number') throw new TypeError(`level must be a number, got ${v.describe(level)}`);
    if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${v.describe(level)}`);
    const se = this.standardError;
    const t = this.nSample > 1 ? tQuantile(this.nSample - 1, (1 + level) / 2) : NaN;
    const lower = new Float64Array(se.length);
    const upper = new Float64Array(se.length);
    for (let r = 0; r < se.length; r++) {
      const half = t * se[r]!;
      lower[r] = this.values[r]! - half;
      upper[r] = this.values[r]! + half;
    }
    return { lower, upper };
  }

  /** @deprecated Renamed `indices` (docs/api.md, Conventions): the same array, kept for one release. */
  get positions(): Int32Array {
    v.warnDeprecated('NoisedTopKResult.positions', 'indices');
    return this.indices;
  }

  private gradCall(gradOutput: unknown, out: unknown): PreparedBackward {
    let g: Float32Array;
    if (gradOutput === undefined) {
      g = new Float32Array(this.plan.rows).fill(1);
    } else {
      g = v.float32Array('gradOutput', gradOutput);
      if (g.length !== this.plan.rows) {
        throw new RangeError(
          `gradOutput has length ${g.length}, expected ${this.plan.rows} (shape [${this.shape.join(', ')}])`,
        );
      }
    }
    return backwardCall(this.plan, this.indices, g, out);
  }

  /** Gradient w.r.t. the input, of the input's shape. gradOutput defaults to ones. */
  backward(gradOutput?: Float32Array, out?: Float32Array): Float32Array {
    const p = this.gradCall(gradOutput, out);
    if (this.plan.rows > 0) this.plan.kernel.backward(p.call);
    return finishBackward(p);
  }

  /**
   * backward's gradient as a Promise. On 'cpu' and 'cuda' it is computed on a worker thread;
   * on 'js' before the Promise settles, on the main thread.
   */
  async backwardAsync(gradOutput?: Float32Array, out?: Float32Array): Promise<Float32Array> {
    const p = this.gradCall(gradOutput, out);
    if (this.plan.rows > 0) await this.plan.kernel.backwardAsync(p.call);
    return finishBackward(p);
  }
}

/** What every module form reads (each option once, at construction). */
export interface ModuleParsed {
  readonly k: number;
  readonly epsilon: number;
  readonly nSample: number;
  readonly seed: number | bigint | undefined;
  readonly backend: BackendOption;
  readonly allowNonFinite: boolean;
  readonly sampler: SamplerName | undefined;
}

/** What every module form holds: its options, its backend and its seeded noise stream. */
export abstract class NoisedModule {
  readonly k: number;
  readonly epsilon: number;
  readonly nSample: number;
  readonly allowNonFinite: boolean;
  protected readonly kernel: Kernel;
  protected readonly stream: NoiseStream;

  /** o: the options parsed once (lib/options.ts), defaults in place. */
  protected constructor(o: ModuleParsed) {
    this.k = o.k;
    this.epsilon = o.epsilon;
    this.nSample = o.nSample;
    this.allowNonFinite = o.allowNonFinite;
    this.kernel = resolveKernel(o.backend);
    this.stream = new NoiseStream(o.seed, o.sampler);
  }

  /** The sampler option ('lazy' | 'dense'), or undefined where the default rule picks by shape. */
  get sampler(): SamplerName | undefined {
    return this.stream.sampler;
  }

  /** The backend this object runs on. */
  get backend(): string {
    return this.kernel.name;
  }

  /** The stream's seed (random when none was given): pass it back to replay the calls. */
  get seed(): bigint {
    return this.stream.seed;
  }
}

/** Differentiable k-th largest value along a dim, smoothed by Gaussian noise (pytopk's NoisedTopK). */
export class NoisedTopK extends NoisedModule {
  readonly dim: number;

  constructor(options: NoisedTopKOptions) {
    const o = parseOptions('options', options, SETS.noisedTopK);
    super(o);
    this.dim = o.dim;
  }

  private prepare(xIn: unknown, shapeIn: unknown, outputs: unknown): [TopKPlan, PreparedForward] {
    // Read order (see validate.ts, Snapshots): options, shape, then the views.
    const outs = v.strictOptions('outputs', outputs, ['out', 'indices'] as const, v.OPTION_HINTS);
    const shape = v.shapeSnapshot('shape', shapeIn);
    const x = v.float32Array('x', xIn);
    const views = outputViews(outs);
    const plan = planTopK(this.kernel, x, shape, this.dim, this.k, this.epsilon, this.nSample);
    return [plan, forwardCall(plan, this.stream.next(), views, this.allowNonFinite)];
  }

  /**
   * The noised k-th largest value of every slice of x (flat, row-major, of shape `shape`) along
   * `dim`, with the next offset of this object's noise stream. `outputs` takes preallocated
   * `out` and `indices`. Throws a TypeError for a wrong type and a RangeError for a bad value.
   */
  forward(x: Float32Array, shape: number[], outputs?: ForwardOutputs): NoisedTopKResult {
    const [plan, p] = this.prepare(x, shape, outputs);
    if (plan.rows > 0) plan.kernel.forward(p.call);
    finishForward(p);
    return new NoisedTopKResult(plan, p);
  }

  /**
   * forward as a Promise, with the same checks (a bad argument rejects). On 'cpu' and 'cuda'
   * the kernel runs on a worker thread, and the call holds x until it settles.
   */
  async forwardAsync(x: Float32Array, shape: number[], outputs?: ForwardOutputs): Promise<NoisedTopKResult> {
    const [plan, p] = this.prepare(x, shape, outputs);
    if (plan.rows > 0) await plan.kernel.forwardAsync(p.call);
    finishForward(p);
    return new NoisedTopKResult(plan, p);
  }
}

/**
 * The options of the functional noisedTopK, declared once in lib/options.ts
 * (SETS.noisedTopKFunctional): the module options, plus noise (shape + [nSample]), offset, out
 * and indices.
 */
export interface FunctionalTopKOptions extends OptionsOf<typeof SETS.noisedTopKFunctional> {
  /** @deprecated Renamed `indices` (docs/api.md, Conventions); read as `indices` for one release. */
  positions?: Int32Array;
}

/**
 * The noise rule of every functional form and every tfjs op (docs/api.md, Conventions):
 * without a seed, each call draws a fresh random seed (offset 0), which the result reports; a
 * seed comes with an offset, since the same (seed, offset) gives the same noise: a seed alone in
 * a training loop would silently reuse one draw at every step. The module forms own a stream
 * and advance the offset by one per call.
 */
export function seededCall(
  seed: number | bigint | undefined,
  offset: number | undefined,
): { seedLo: number; seedHi: number; offset: number } {
  if (seed === undefined) {
    if (offset !== undefined) {
      throw new TypeError(
        'options.offset needs options.seed: without a seed each call draws a fresh random seed (result.seed tells which)',
      );
    }
    const s = new NoiseStream();
    return { seedLo: s.seedLo, seedHi: s.seedHi, offset: 0 };
  }
  if (offset === undefined) {
    throw new TypeError(
      'options.seed needs options.offset: the same (seed, offset) draws the same noise at every call. ' +
        'Pass offset (the step number, say), leave seed out for fresh noise at each call, or use the module form, ' +
        'which advances the offset by one per call',
    );
  }
  const [seedLo, seedHi] = v.seedWords(seed);
  return { seedLo, seedHi, offset };
}

/** Resolves a functional call's noise: explicit `noise` (already a view), or the stream at (seed, offset). */
export function functionalSource(
  o: Partial<Record<string, unknown>>,
  x: Float32Array,
  noise: Float32Array | undefined,
): { source: NoiseSource; nSample: number } {
  const sampler = o.sampler as SamplerName | undefined;
  if (noise !== undefined) {
    if (sampler !== undefined)
      throw new TypeError('options.sampler applies to the seeded stream (seed); explicit noise is used as given');
    const e = explicitNoise(noise, x, o.nSample);
    return { source: { kind: 'explicit', noise: e.noise }, nSample: e.nSample };
  }
  const { seedLo, seedHi, offset } = seededCall(o.seed as number | bigint | undefined, o.offset as number | undefined);
  const nSample = v.integer('nSample', o.nSample ?? DEFAULT_NSAMPLE, 1, v.MAX_SAMPLES);
  return { source: { kind: 'stream', seedLo, seedHi, offset, sampler }, nSample };
}

function functionalPrepare(xIn: unknown, shapeIn: unknown, options: unknown): [TopKPlan, PreparedForward] {
  const o = parseOptions('options', options, SETS.noisedTopKFunctional);
  const shape = v.shapeSnapshot('shape', shapeIn);
  const x = v.float32Array('x', xIn);
  const noise = o.noise === undefined ? undefined : v.float32Array('noise', o.noise);
  const views = outputViews(o);
  const kernel = resolveKernel(o.backend);
  const { source, nSample } = functionalSource(o, x, noise);
  const plan = planTopK(kernel, x, shape, o.dim, o.k, o.epsilon, nSample);
  return [plan, forwardCall(plan, source, views, o.allowNonFinite)];
}

export function noisedTopK(x: Float32Array, shape: number[], options: FunctionalTopKOptions): NoisedTopKResult {
  const [plan, p] = functionalPrepare(x, shape, options);
  if (plan.rows > 0) plan.kernel.forward(p.call);
  finishForward(p);
  return new NoisedTopKResult(plan, p);
}

export async function noisedTopKAsync(
  x: Float32Array,
  shape: number[],
  options: FunctionalTopKOptions,
): Promise<NoisedTopKResult> {
  const [plan, p] = functionalPrepare(x, shape, options);
  if (plan.rows > 0) await plan.kernel.forwardAsync(p.call);
  finishForward(p);
  return new NoisedTopKResult(plan, p);
}
