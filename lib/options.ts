// The option sets of every entry point, each declared once (in the spirit of zod, with no
// runtime dependency): an option's TypeScript type, its default, its check (range included) and
// its doc line live in one `Option`; a set is a record of them. From a set come the key list,
// the strict reader (unknown keys refused with a did-you-mean hint), the defaults, the checked
// values and the TypeScript type of the options object (`OptionsOf`). The tfjs bridge builds
// its sets from the same fields (with `axis` for `dim`), so a key cannot go missing in one copy.
//
// Checks run in declaration order when a set is parsed; an option whose check needs the data
// (k against the size of dim) or must be read as a typed-array view after the shapes (the
// snapshot order of validate.ts) is `deferred`: parse only reads it, and the entry point checks
// it at the right moment.
import { MAX_SAMPLES } from './constants.js';
import type { BackendOption } from './kernel.js';
import type { SamplerName } from './lazy-sampler.js';
import * as v from './validate.js';

/** One option: T is the type a caller passes, Req whether it must be given. */
export interface Option<T, Req extends boolean = boolean, D extends boolean = boolean, C extends boolean = boolean> {
  /** The doc line (the reference and the JSDoc of the options types say the same). */
  readonly doc: string;
  readonly required: Req;
  /** Type-level only: whether a default is declared, whether parse checks it. */
  readonly _flags?: [D, C];
  /** Said after "options.<key> is required" when the option is missing. */
  readonly why: string | undefined;
  /** The value used when the option is absent (undefined: none). */
  readonly default: T | undefined;
  /** Checked when parsed (false: read only; the entry point checks it later). */
  readonly checked: boolean;
  /** The check: the value as the library uses it, or a TypeError / RangeError naming `name`. */
  check(name: string, value: unknown): T;
  /** The same option with a default. */
  withDefault(value: T): Option<T, false, true, C>;
  /** The same option, required; `why` says what it is for. */
  isRequired(why: string): Option<T, true, false, C>;
  /** The same option with its check left to the entry point (parse only reads it). */
  deferred(): Option<T, Req, D, false>;
  /** The same option with another doc line. */
  described(doc: string): Option<T, Req, D, C>;
}

function make<T, Req extends boolean, D extends boolean, C extends boolean>(
  doc: string,
  check: (name: string, value: unknown) => T,
  required: Req,
  why: string | undefined,
  dflt: T | undefined,
  checked: boolean,
): Option<T, Req, D, C> {
  return {
    doc,
    required,
    why,
    default: dflt,
    checked,
    check,
    withDefault: (value) => make(doc, check, false, undefined, value, checked),
    isRequired: (w) => make(doc, check, true, w, undefined, checked),
    deferred: () => make(doc, check, required, why, dflt, false),
    described: (d) => make(d, check, required, why, dflt, checked),
  };
}

/** An optional option with no default, checked by `check`. */
export function option<T>(doc: string, check: (name: string, value: unknown) => T): Option<T, false, false, true> {
  return make(doc, check, false, undefined, undefined, true);
}

/** An integer in [min, max]. */
export const int = (doc: string, min: number, max: number) =>
  option<number>(doc, (name, x) => v.integer(name, x, min, max));

/** true or false, nothing else (the string 'false' is not false). */
export const bool = (doc: string) =>
  option<boolean>(doc, (name, x) => {
    if (typeof x !== 'boolean') throw new TypeError(`${name} must be true or false, got ${v.describe(x)}`);
    return x;
  });

/** One of a few strings. */
export function oneOf<const T extends string>(doc: string, values: readonly T[]): Option<T, false, false, true> {
  const list = values.map((s) => `'${s}'`);
  const expected = `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
  return option<T>(doc, (name, x) => {
    if (typeof x !== 'string') throw new TypeError(`${name} must be ${expected}, got ${v.describe(x)}`);
    if (!(values as readonly string[]).includes(x))
      throw new RangeError(`${name} must be ${expected}, got ${v.describe(x)}`);
    return x as T;
  });
}

/** A finite number (finite as a float32 too where the value is used in float32). */
export const finite = (doc: string, float32 = false) =>
  option<number>(doc, (name, x) => (float32 ? v.finiteFloat32(name, x) : v.finiteNumber(name, x)));

/** A finite number >= 0, or > 0 with `positive` (finite as a float32 with `float32`). */
export const atLeastZero = (doc: string, positive: boolean, float32: boolean) =>
  option<number>(doc, (name, x) => {
    if (float32) return v.float32AtLeast(name, x, positive);
    const n = v.finiteNumber(name, x);
    if (positive ? !(n > 0) : !(n >= 0))
      throw new RangeError(`${name} must be a finite number ${positive ? '> 0' : '>= 0'}, got ${v.describe(x)}`);
    return n;
  });

/** A value read as given: its check belongs to the entry point (views, lists, data-dependent ranges). */
export const raw = <T>(doc: string): Option<T, false, false, false> =>
  option<T>(doc, () => {
    throw new Error('unreachable: a raw option is deferred');
  }).deferred();

// ---------------------------------------------------------------------------------------------
// The fields, each declared once.

/** k, whose range is checked against the data by the entry point; `why` is said when it is missing. */
const kDeferred = (doc: string, why: string) => raw<number>(doc).isRequired(why);

export const FIELDS = {
  epsilon: option<number>('Noise scale; 0 gives the hard k-th value.', (name, x) =>
    v.epsilonValue(name, x),
  ).withDefault(1),
  nSample: int('Samples of noise per slice.', 1, MAX_SAMPLES).withDefault(5),
  dim: int('Dimension reduced; negative counts from the end.', -(2 ** 31), 2 ** 31 - 1).withDefault(-1),
  axis: int(
    "Axis reduced (tfjs's name; the plain API calls it dim); negative counts from the end.",
    -(2 ** 31),
    2 ** 31 - 1,
  ).withDefault(-1),
  seed: option<number | bigint>('Seed of the noise stream (integer or bigint below 2^64).', (_, x) => {
    v.seedWords(x);
    return x as number | bigint;
  }),
  offset: int('Call offset into the seeded stream (the module forms advance it by one per call).', 0, 2 ** 32 - 1),
  backend: option<BackendOption>(
    "'auto' (default: 'cpu' where the addon loads, else 'js'), 'js', 'cpu' or 'cuda'.",
    (_, x) => v.backendOf(x),
  ).withDefault('auto'),
  allowNonFinite: bool('Skip the finite check of the inputs; NaN then ranks above +Infinity.').withDefault(false),
  sampler: option<SamplerName>(
    "How the seeded noise is drawn: 'dense' draws every normal of the stream, 'lazy' only where it can matter, with the same law (docs/lazy-sampler.md). Default: defaultSampler's fixed rule.",
    (_, x) => v.samplerOf(x)!,
  ),
  noise: raw<Float32Array>(
    'Noise laid out as the input shape + [nSample]; without it, seed and offset pick the stream.',
  ),
  reduction: oneOf("How the per-row losses are combined (PyTorch's reduction).", ['mean', 'sum', 'none']).withDefault(
    'mean',
  ),
  weight: raw<ArrayLike<number>>(
    "Per-class weight (any numeric array-like; length: classes, finite, >= 0): row r counts weight[labels[r]], as in torch's CrossEntropyLoss.",
  ),
  ignoreIndex: raw<number>(
    "Rows whose label equals this add nothing to the loss or the gradient and leave the mean's denominator.",
  ),
  maxM: raw<number>('Largest LDAM margin, given to the rarest class.'),
  clsNumList: raw<ArrayLike<number>>('Training count of each class (any numeric array-like).'),
  /** pytopk's default scale: it assumes cosine-normalized scores in [-1, 1] (docs/choosing.md). */
  scale: atLeastZero(
    'Multiplies the margined hinge argument; the default 50 assumes cosine-normalized scores (docs/choosing.md).',
    true,
    true,
  ).withDefault(50),
  margins: raw<Float32Array>('Per-class margins (see ldamMargins).'),
  out: raw<Float32Array>('Preallocated output for the values.'),
  indices: raw<Int32Array>('Preallocated output for the selected indices (columns).'),
} as const;

const TOPK_K_DOC = 'Rank of the value taken, 1 = the largest.';
const LOSS_K_DOC = 'Rank in the top-k hinge: the loss uses smoothtop_{k+1}.';

const NOISE_FIELDS = {
  k: int(TOPK_K_DOC, 1, 2 ** 31 - 1).isRequired('1 = the largest'),
  epsilon: FIELDS.epsilon,
  nSample: FIELDS.nSample,
  seed: FIELDS.seed,
  backend: FIELDS.backend,
  allowNonFinite: FIELDS.allowNonFinite,
  sampler: FIELDS.sampler,
} as const;

const CONVENTION_FIELDS = {
  reduction: FIELDS.reduction,
  weight: FIELDS.weight,
  ignoreIndex: FIELDS.ignoreIndex,
} as const;

/** The functional forms: nSample has no default of its own here (it is inferred from noise). */
/** The noise rule of the functional forms (seededCall in lib/topk.ts). */
const FUNCTIONAL_SEED = FIELDS.seed.described(
  'Seed of the noise stream (integer or bigint below 2^64), given with offset. Without a seed each call draws a fresh random seed (result.seed, result.offset tell which).',
);
const FUNCTIONAL_OFFSET = FIELDS.offset.described(
  'Call offset into the seeded stream; required with seed (the same seed and offset draw the same noise).',
);

const FUNCTIONAL_NOISE_FIELDS = {
  ...NOISE_FIELDS,
  seed: FUNCTIONAL_SEED,
  offset: FUNCTIONAL_OFFSET,
  k: kDeferred(TOPK_K_DOC, '1 = the largest'),
  noise: FIELDS.noise,
  nSample: int('Samples of noise per slice. Default 5 with a seed; inferred from noise.', 1, MAX_SAMPLES).deferred(),
} as const;

const LOSS_K = int(LOSS_K_DOC, 1, 2 ** 31 - 2).isRequired('the loss uses smoothtop_{k+1}');
const LOSS_K_FUNCTIONAL = kDeferred(LOSS_K_DOC, 'the loss uses smoothtop_{k+1}');

const IMBAL_MODULE_FIELDS = {
  maxM: FIELDS.maxM.isRequired('the largest LDAM margin, given to the rarest class'),
  clsNumList: FIELDS.clsNumList.isRequired('the training count of each class'),
  scale: FIELDS.scale,
} as const;

const IMBAL_FUNCTIONAL_FIELDS = {
  margins: FIELDS.margins.isRequired('see ldamMargins'),
  scale: FIELDS.scale,
} as const;

/** Every option set of the plain API, by entry point. */
export const SETS = {
  noisedTopK: { ...NOISE_FIELDS, dim: FIELDS.dim },
  noisedTopKFunctional: {
    ...FUNCTIONAL_NOISE_FIELDS,
    dim: FIELDS.dim,
    out: FIELDS.out,
    indices: FIELDS.indices.described(
      'Preallocated output for the selected columns (length: rows * nSample); `positions` up to 0.1.0.',
    ),
  },
  balNoisedTopK: { ...NOISE_FIELDS, k: LOSS_K, ...CONVENTION_FIELDS },
  imbalNoisedTopK: { ...NOISE_FIELDS, k: LOSS_K, ...CONVENTION_FIELDS, ...IMBAL_MODULE_FIELDS },
  balNoisedTopKLoss: { ...FUNCTIONAL_NOISE_FIELDS, k: LOSS_K_FUNCTIONAL, ...CONVENTION_FIELDS },
  imbalNoisedTopKLoss: {
    ...FUNCTIONAL_NOISE_FIELDS,
    k: LOSS_K_FUNCTIONAL,
    ...CONVENTION_FIELDS,
    ...IMBAL_FUNCTIONAL_FIELDS,
  },
  topk: {
    k: kDeferred('Entries kept along dim, in [1, size of dim].', 'the number of entries kept'),
    dim: FIELDS.dim,
    largest: bool('The k largest (default) or the k smallest.').withDefault(true),
    sorted: bool('Rank order (default); false: increasing index order.').withDefault(true),
    out: FIELDS.out,
    indices: FIELDS.indices,
    backend: FIELDS.backend,
    allowNonFinite: FIELDS.allowNonFinite.described(
      'Accept NaN and infinities (NaN is the largest value, see docs/ops.md). Default false: a non-finite x is a RangeError.',
    ),
  },
  perturbedTopK: {
    k: kDeferred('Size of the selected set, in [1, size of dim].', 'the size of the selected set'),
    // The gradient divides by epsilon: a normal float32 (a subnormal one gave an infinite
    // gradient; docs/input-rules.md, The float32 domain).
    epsilon: option<number>('Noise scale: a normal float32 > 0.', (name, x) => {
      v.epsilonValue(name, x);
      return v.divisorFloat32(name, x);
    }).withDefault(1),
    nSample: int(
      'Noise samples per row (the variance of the mask and its gradient is 1/nSample).',
      1,
      MAX_SAMPLES,
    ).isRequired('noise samples per row'),
    dim: FIELDS.dim,
    seed: FIELDS.seed,
    backend: FIELDS.backend,
    allowNonFinite: FIELDS.allowNonFinite,
  },
  smoothTopKSvm: {
    k: int('Size of the predicted set, in [1, classes - 1].', 1, 2 ** 31 - 1).isRequired(
      'the size of the predicted set',
    ),
    // The scores divide by tau, so tau is a normal float32 (1e-310 turned ties into NaN, 1e40 an
    // Infinity loss); alpha a finite float32 (docs/input-rules.md, The float32 domain).
    tau: option<number>('Smoothing temperature: a normal float32 > 0.', (name, x) =>
      v.divisorFloat32(name, x),
    ).withDefault(1),
    alpha: atLeastZero('Margin (>= 0, a finite float32).', false, true).withDefault(1),
    gradient: oneOf(
      "'exact' (default): the gradient of the loss; 'reference': oval-group's gradient, bit-level formulas included (docs/ops.md).",
      ['exact', 'reference'],
    ).withDefault('exact'),
    backend: FIELDS.backend.described(
      'Accepted for symmetry with the other losses: every backend runs the same TypeScript code.',
    ),
  },
  focalLoss: {
    gamma: atLeastZero('Focusing parameter; 0 gives cross-entropy.', false, false).withDefault(2),
  },
  ldamLoss: {
    margins: FIELDS.margins.described('Per-class margins (see ldamMargins); or give clsNumList and maxM.'),
    clsNumList: FIELDS.clsNumList,
    maxM: FIELDS.maxM.withDefault(0.5),
    scale: FIELDS.scale
      .described("Multiplies the margined scores before the softmax; meant for cosine scores (LDAM's default 30).")
      .withDefault(30),
  },
  rareClass: {
    clsNumList: raw<ArrayLike<number>>(
      'Training count of each class (length: classes): what "rare" is measured by; `classCounts` up to 0.1.0.',
    ).isRequired('the training count of each class'),
    below: finite('A class is rare when its count is below this (the usual few-shot cut).').withDefault(20),
  },
} as const;

SETS.perturbedTopK satisfies Record<string, Option<unknown>>;

/** The perturbed top-k's functional form: the module set plus offset and the outputs. */
export const PERTURBED_FUNCTIONAL = {
  ...SETS.perturbedTopK,
  seed: FUNCTIONAL_SEED,
  offset: FUNCTIONAL_OFFSET,
  out: raw<Float32Array>("Preallocated mask (x's length)."),
  indices: raw<Int32Array>('Preallocated selected indices (rows * nSample * k).'),
} as const;

// ---------------------------------------------------------------------------------------------
// Types and the reader.

// biome-ignore lint/suspicious/noExplicitAny: a set holds options of every value type
export type OptionSet = Readonly<Record<string, Option<any>>>;

type ValueOf<O> = O extends Option<infer T> ? T : never;
// biome-ignore lint/suspicious/noExplicitAny: matches an option of any value type
type RequiredKeys<S> = { [K in keyof S]: S[K] extends Option<any, true> ? K : never }[keyof S];

/** The options object a caller passes: required options required, the others optional. */
export type OptionsOf<S> = {
  -readonly [K in keyof S as K extends RequiredKeys<S> ? K : never]: ValueOf<S[K]>;
} & {
  -readonly [K in keyof S as K extends RequiredKeys<S> ? never : K]?: ValueOf<S[K]>;
};

/** A set parsed: checked options with their defaults in place; deferred ones as read (unknown). */
export type Parsed<S> = {
  readonly [K in keyof S]: S[K] extends Option<infer T, infer R, infer D, infer C>
    ? [C] extends [false]
      ? [D] extends [true]
        ? unknown
        : unknown
      : [R] extends [true]
        ? T
        : [D] extends [true]
          ? T
          : T | undefined
    : never;
};

/** The keys of a set, in declaration order (the known-options list of its messages). */
export function keysOf<S extends OptionSet>(set: S): (keyof S & string)[] {
  return Object.keys(set) as (keyof S & string)[];
}

/**
 * Reads `value` as options of `set`: each known key once (strictOptions), unknown keys refused
 * with a hint, missing required options refused ("options.<key> is required (<why>)"), then each
 * checked option checked in declaration order, its default put in place where it is absent.
 * Deferred options are returned as read.
 */
export function parseOptions<S extends OptionSet>(
  name: string,
  value: unknown,
  set: S,
  hints: Readonly<Record<string, v.OptionHint>> = v.OPTION_HINTS,
): Parsed<S> & { readonly [key: string]: unknown } {
  const keys = keysOf(set);
  const o = v.strictOptions(name, value, keys, hints);
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of keys) {
    const opt = set[key]!;
    const x = (o as Record<string, unknown>)[key];
    if (x === undefined) {
      if (opt.required) throw new TypeError(`${name}.${key} is required (${opt.why})`);
      if (opt.default !== undefined) out[key] = opt.default;
      continue;
    }
    out[key] = opt.checked ? opt.check(key, x) : x;
  }
  return out as Parsed<S>;
}

/** The default of an option (for a deferred one, applied by its entry point). */
export function defaultOf<T>(opt: Option<T>): T {
  if (opt.default === undefined) throw new Error('this option has no default');
  return opt.default;
}

export const DEFAULT_NSAMPLE = defaultOf(FIELDS.nSample);

/** The set without some keys (the tfjs bridge drops the preallocated outputs and `dim`). */
function omit<S extends OptionSet, K extends keyof S>(set: S, keys: readonly K[]): Omit<S, K> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(set)) if (!(keys as readonly PropertyKey[]).includes(key)) out[key] = value;
  return out as Omit<S, K>;
}

/**
 * The tfjs bridge's sets (noised-topk/tfjs): the plain API's own fields, with tfjs's `axis` in
 * place of `dim` and without the preallocated outputs (a tensor op allocates its result).
 */
export const TF_SETS = {
  noisedTopK: { ...omit(SETS.noisedTopKFunctional, ['dim', 'out', 'indices']), axis: FIELDS.axis },
  balNoisedTopKLoss: SETS.balNoisedTopKLoss,
  imbalNoisedTopKLoss: SETS.imbalNoisedTopKLoss,
  NoisedTopK: { ...omit(SETS.noisedTopK, ['dim']), axis: FIELDS.axis },
  BalNoisedTopK: SETS.balNoisedTopK,
  ImbalNoisedTopK: SETS.imbalNoisedTopK,
  topk: omit(SETS.topk, ['k', 'dim', 'out', 'indices']),
  perturbedTopK: { ...omit(PERTURBED_FUNCTIONAL, ['dim', 'out', 'indices']), axis: FIELDS.axis },
  smoothTopKSvm: SETS.smoothTopKSvm,
} as const;
