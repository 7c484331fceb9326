// NoisedTopK: the module form (seeded stream) and the functional form (explicit noise).
import { resolveKernel, type BackendOption, type BackwardCall, type ForwardCall, type Kernel } from './kernel.js';
import * as v from './validate.js';

export interface NoisedTopKOptions {
  /** Rank of the value taken, 1 = the largest. */
  k: number;
  /** Noise scale; 0 gives the hard k-th value. Default 1. */
  epsilon?: number;
  /** Samples of noise per slice. Default 5. */
  nSample?: number;
  /** Dimension reduced; negative counts from the end. Default -1. */
  dim?: number;
  /** Seed of the noise stream (integer or bigint below 2^64). Default: random. */
  seed?: number | bigint;
  backend?: BackendOption;
  /** Skip the finite check of the inputs; NaN then ranks above +Infinity. Default false. */
  allowNonFinite?: boolean;
}

export interface ForwardOutputs {
  /** Preallocated output for the values (length: the product of the output shape). */
  out?: Float32Array;
  /** Preallocated output for the selected positions (length: rows * nSample). */
  positions?: Int32Array;
}

/** Where the noise of one call comes from. */
export type NoiseSource =
  | { kind: 'explicit'; noise: Float32Array }
  | { kind: 'stream'; seedLo: number; seedHi: number; offset: number };

/** A seeded sequence of calls: call n uses stream offset n (mod 2^32). */
export class NoiseStream {
  readonly seedLo: number;
  readonly seedHi: number;
  private calls = 0;

  constructor(seed?: number | bigint) {
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
    return { kind: 'stream', seedLo: this.seedLo, seedHi: this.seedHi, offset };
  }
}

/** Input validated and viewed as [outer, d, inner] around the reduced dim. */
export interface TopKPlan {
  kernel: Kernel;
  x: Float32Array;
  shape: number[];
  dim: number;
  outer: number;
  d: number;
  inner: number;
  k: number;
  epsilon: number;
  nSample: number;
  valueShape: number[];
  rows: number;
}

export function planTopK(
  kernel: Kernel,
  xIn: unknown,
  shapeIn: unknown,
  dimIn: unknown,
  kIn: unknown,
  epsilonIn: unknown,
  nSampleIn: unknown,
  kName = 'k',
): TopKPlan {
  const x = v.float32Array('x', xIn);
  const shape = v.shapeOf('shape', shapeIn, x.length, 'x');
  const dim = v.dimOf('dim', dimIn, shape.length);
  const d = shape[dim]!;
  if (d > 2 ** 31 - 1) throw new RangeError(`the size of dim ${dim} is ${d}, above 2^31 - 1`);
  const k = v.kOf(kName, kIn, d, `the size of dim ${dim}`);
  const epsilon = v.epsilonValue('epsilon', epsilonIn);
  const nSample = v.integer('nSample', nSampleIn, 1, v.MAX_SAMPLES);
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  if (outer * inner * nSample > 2 ** 32 - 1) {
    throw new RangeError(`rows * nSample = ${outer * inner * nSample} exceeds 2^32 - 1`);
  }
  const valueShape = shape.filter((_, i) => i !== dim);
  return { kernel, x, shape, dim, outer, d, inner, k, epsilon, nSample, valueShape, rows: outer * inner };
}

/** Throws if two arrays share bytes (an output that aliases an input gives wrong answers). */
export function noOverlap(aName: string, a: ArrayBufferView, bName: string, b: ArrayBufferView): void {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return;
  if (a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength) {
    throw new RangeError(`${aName} shares memory with ${bName}`);
  }
}

function outputArray<T extends Float32Array | Int32Array>(
  name: string,
  given: unknown,
  length: number,
  make: (n: number) => T,
  ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; prototype: T; name: string },
): T {
  if (given === undefined) return make(length);
  const out = v.typedArray(name, given, ctor);
  if (out.length !== length) throw new RangeError(`${name} has length ${out.length}, expected ${length}`);
  return out;
}

export function forwardCall(plan: TopKPlan, source: NoiseSource, outputs: ForwardOutputs | undefined, allowNonFinite: boolean): ForwardCall {
  const outs = v.optionsObject('outputs', outputs);
  const values = outputArray('out', outs.out, plan.rows, (n) => new Float32Array(n), Float32Array);
  const positions = outputArray('positions', outs.positions, plan.rows * plan.nSample, (n) => new Int32Array(n), Int32Array);
  let noise: Float32Array | null = null;
  if (source.kind === 'explicit') {
    noise = source.noise;
    if (!allowNonFinite) v.allFinite('noise', noise);
  }
  if (!allowNonFinite) v.allFinite('x', plan.x);
  for (const [name, arr] of [['out', values], ['positions', positions]] as const) {
    noOverlap(name, arr, 'x', plan.x);
    if (noise) noOverlap(name, arr, 'noise', noise);
  }
  noOverlap('out', values, 'positions', positions);
  return {
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
    values,
    positions,
  };
}

/** The explicit noise of a functional call: x.shape + [nSample], nSample inferred. */
export function explicitNoise(noiseIn: unknown, x: Float32Array, nSampleIn: unknown): { noise: Float32Array; nSample: number } {
  const noise = v.float32Array('noise', noiseIn);
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

export function backwardCall(plan: TopKPlan, positions: Int32Array, rowScale: Float32Array, out: unknown): BackwardCall {
  // positions may be the caller's own array (outputs.positions): it can have been rewritten,
  // detached or resized since the forward pass. Every backend indexes with it.
  const want = plan.rows * plan.nSample;
  if (positions.length !== want) {
    throw new RangeError(`positions has length ${positions.length}, expected ${want}: it was resized or detached after the forward pass`);
  }
  for (let j = 0; j < want; j++) {
    const p = positions[j]!;
    if (p < 0 || p >= plan.d) throw new RangeError(`positions[${j}] is ${p}, outside [0, ${plan.d}): it was changed after the forward pass`);
  }
  // Sized from the plan, not plan.x.length: x may have been detached since the forward pass.
  const grad = outputArray('out', out, plan.outer * plan.d * plan.inner, (n) => new Float32Array(n), Float32Array);
  noOverlap('out', grad, 'gradOutput', rowScale);
  noOverlap('out', grad, 'positions', positions);
  return { positions, rowScale, outer: plan.outer, d: plan.d, inner: plan.inner, nSample: plan.nSample, grad };
}

// An input with no rows (a 0 in the shape) has nothing to compute: the kernels are not called
// (the js one sizes its scratch by d, which may be up to 2^31 - 1 here).

/** Output of a noised top-k forward pass; backward() gives d(sum(values * gradOutput))/dx. */
export class NoisedTopKResult {
  /** Mean over samples of the k-th largest value of each slice, of shape `shape`. */
  readonly values: Float32Array;
  /** Shape of `values`: the input's shape without `dim`. */
  readonly shape: number[];
  /** Column of the k-th largest per (slice, sample): the sparse form of the gradient. */
  readonly positions: Int32Array;
  readonly nSample: number;
  private readonly plan: TopKPlan;

  constructor(plan: TopKPlan, call: ForwardCall) {
    this.plan = plan;
    this.values = call.values;
    this.positions = call.positions;
    this.shape = plan.valueShape.slice();
    this.nSample = plan.nSample;
  }

  private gradCall(gradOutput: unknown, out: unknown): BackwardCall {
    let g: Float32Array;
    if (gradOutput === undefined) {
      g = new Float32Array(this.plan.rows).fill(1);
    } else {
      g = v.float32Array('gradOutput', gradOutput);
      if (g.length !== this.plan.rows) {
        throw new RangeError(`gradOutput has length ${g.length}, expected ${this.plan.rows} (shape [${this.shape.join(', ')}])`);
      }
    }
    return backwardCall(this.plan, this.positions, g, out);
  }

  /** Gradient w.r.t. the input, of the input's shape. gradOutput defaults to ones. */
  backward(gradOutput?: Float32Array, out?: Float32Array): Float32Array {
    const call = this.gradCall(gradOutput, out);
    if (this.plan.rows > 0) this.plan.kernel.backward(call);
    return call.grad;
  }

  async backwardAsync(gradOutput?: Float32Array, out?: Float32Array): Promise<Float32Array> {
    const call = this.gradCall(gradOutput, out);
    if (this.plan.rows > 0) await this.plan.kernel.backwardAsync(call);
    return call.grad;
  }
}

/** What every module form holds: its options, its backend and its seeded noise stream. */
export abstract class NoisedModule {
  readonly k: number;
  readonly epsilon: number;
  readonly nSample: number;
  readonly allowNonFinite: boolean;
  protected readonly kernel: Kernel;
  protected readonly stream: NoiseStream;

  protected constructor(o: Record<string, unknown>, kMax: number, kHint: string) {
    if (o.k === undefined) throw new TypeError(`options.k is required (${kHint})`);
    this.k = v.integer('k', o.k, 1, kMax);
    this.epsilon = v.epsilonValue('epsilon', o.epsilon ?? 1.0);
    this.nSample = v.integer('nSample', o.nSample ?? 5, 1, v.MAX_SAMPLES);
    this.allowNonFinite = Boolean(o.allowNonFinite);
    this.kernel = resolveKernel(v.backendOf(o.backend));
    this.stream = new NoiseStream(o.seed as number | bigint | undefined);
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
    const o = v.optionsObject('options', options);
    super(o, 2 ** 31 - 1, '1 = the largest');
    this.dim = v.integer('dim', o.dim ?? -1, -(2 ** 31), 2 ** 31 - 1);
  }

  private prepare(x: unknown, shape: unknown, outputs: ForwardOutputs | undefined): [TopKPlan, ForwardCall] {
    const plan = planTopK(this.kernel, x, shape, this.dim, this.k, this.epsilon, this.nSample);
    return [plan, forwardCall(plan, this.stream.next(), outputs, this.allowNonFinite)];
  }

  forward(x: Float32Array, shape: number[], outputs?: ForwardOutputs): NoisedTopKResult {
    const [plan, call] = this.prepare(x, shape, outputs);
    if (plan.rows > 0) plan.kernel.forward(call);
    return new NoisedTopKResult(plan, call);
  }

  async forwardAsync(x: Float32Array, shape: number[], outputs?: ForwardOutputs): Promise<NoisedTopKResult> {
    const [plan, call] = this.prepare(x, shape, outputs);
    if (plan.rows > 0) await plan.kernel.forwardAsync(call);
    return new NoisedTopKResult(plan, call);
  }
}

export interface FunctionalTopKOptions extends ForwardOutputs {
  k: number;
  epsilon?: number;
  dim?: number;
  /** Noise laid out as shape + [nSample]. Without it, seed (and offset) pick the stream. */
  noise?: Float32Array;
  seed?: number | bigint;
  /** Call offset into the seeded stream. Default 0. */
  offset?: number;
  nSample?: number;
  backend?: BackendOption;
  allowNonFinite?: boolean;
}

/** Resolves a functional call's noise: explicit `noise`, or the stream at (seed, offset). */
export function functionalSource(o: Record<string, unknown>, x: unknown): { source: NoiseSource; nSample: number } {
  if (o.noise !== undefined) {
    const { noise, nSample } = explicitNoise(o.noise, v.float32Array('x', x), o.nSample);
    return { source: { kind: 'explicit', noise }, nSample };
  }
  if (o.seed === undefined) {
    throw new TypeError('options.noise (shape + [nSample]) or options.seed is required: the functional form draws no hidden noise');
  }
  const [seedLo, seedHi] = v.seedWords(o.seed);
  const offset = v.integer('offset', o.offset ?? 0, 0, 2 ** 32 - 1);
  const nSample = v.integer('nSample', o.nSample ?? 5, 1, v.MAX_SAMPLES);
  return { source: { kind: 'stream', seedLo, seedHi, offset }, nSample };
}

function functionalPrepare(x: unknown, shape: unknown, options: unknown): [TopKPlan, ForwardCall] {
  const o = v.optionsObject('options', options);
  if (o.k === undefined) throw new TypeError('options.k is required (1 = the largest)');
  const kernel = resolveKernel(v.backendOf(o.backend));
  const { source, nSample } = functionalSource(o, x);
  const plan = planTopK(kernel, x, shape, o.dim ?? -1, o.k, o.epsilon ?? 1.0, nSample);
  return [plan, forwardCall(plan, source, { out: o.out as Float32Array | undefined, positions: o.positions as Int32Array | undefined }, Boolean(o.allowNonFinite))];
}

export function noisedTopK(x: Float32Array, shape: number[], options: FunctionalTopKOptions): NoisedTopKResult {
  const [plan, call] = functionalPrepare(x, shape, options);
  if (plan.rows > 0) plan.kernel.forward(call);
  return new NoisedTopKResult(plan, call);
}

export async function noisedTopKAsync(x: Float32Array, shape: number[], options: FunctionalTopKOptions): Promise<NoisedTopKResult> {
  const [plan, call] = functionalPrepare(x, shape, options);
  if (plan.rows > 0) await plan.kernel.forwardAsync(call);
  return new NoisedTopKResult(plan, call);
}
