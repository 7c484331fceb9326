// The demo: train one model per loss on a long-tailed, ambiguous dataset and compare them on
// top-1, top-k, macro top-k and few-shot top-k, with a plot of per-class accuracy.
// Order matters for a run that takes minutes: every argument and the output folder are checked
// before training, and the table is printed before anything is written, so a bad --out or a
// full disk never loses a finished run.
import { parseArgs } from 'node:util';
import { backends, type BackendOption } from 'noised-topk';
import { nearestKey } from './did-you-mean.js';
import { syntheticData, type DemoData } from './dataset.js';
import { loadDataFile } from './data-file.js';
import { LOSSES, LOSS_NAMES, parseLosses, type LossName } from './losses.js';
import { UsageError } from './errors.js';
import type { DemoOptions, LossSummary } from './options.js';
import { prepareOutDir, writeOutputs } from './output.js';
import { FEW_SHOT_BELOW, trainRun, type RunResult } from './train.js';

export const DEMO_DEFAULTS = { epochs: 30, k: 5, seed: 0, out: 'noised-topk-demo', batch: 32 };
const BACKENDS: readonly BackendOption[] = ['auto', 'js', 'cpu', 'cuda'];

export const HELP = `Usage: npm run demo -- [options]      (in a clone of the noised-topk repository)

Trains the same small model (MLP, SGD with momentum) with cross-entropy, focal, LDAM,
BalNoisedTopK, ImbalNoisedTopK and the smooth top-k SVM on a long-tailed, ambiguous
dataset, then prints top-1, top-k, macro top-k and few-shot top-k on the test set (model
chosen on validation) and writes a plot of per-class top-k accuracy against class frequency
(SVG and PNG) and results.json.

Options:
  --losses <list>   comma-separated losses to train: ${LOSS_NAMES.join(',')} (default: all)
  --epochs <n>      training epochs per loss (default ${DEMO_DEFAULTS.epochs})
  --k <n>           the k of top-k: in the metrics and in the top-k losses (default ${DEMO_DEFAULTS.k})
  --seed <n>        seed of the data, the initial weights, the batch order and the noise (default ${DEMO_DEFAULTS.seed})
  --seeds <list>    several seeds, e.g. 0,1,2: one run each, reported as mean ± sd per loss
  --lr <rate>       learning rate for every loss (default: each loss's own, chosen on validation)
  --batch <n>       mini-batch size (default ${DEMO_DEFAULTS.batch})
  --backend <name>  kernels of the top-k losses: ${BACKENDS.join(', ')} (default auto)
  --normalize-ll    normalized last layer (features and weights L2-normalized) for every loss
  --out <dir>       where the plots and results.json go (default ./${DEMO_DEFAULTS.out})
  --data <file>     train on your own data instead: CSV (features..., label; optional header,
                    a column named "label" is used if present) or JSON lines
                    ({"features": [..], "label": ..} per line); split 80/10/10 per class
  --help            show this help
  --version         print the noised-topk version (alone)
`;

export { OutputError, UsageError } from './errors.js';

function intFlag(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || value === '')
    throw new UsageError(`${flag} needs a value (an integer in [${min}, ${max}])`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return n;
}

const FLAGS = {
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

/** Parses the demo's flags (after "demo"); returns null for --help. */
export function parseDemoArgs(argv: string[]): DemoOptions | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw usageFromParseError(e as Error & { code?: string });
  }
  if (values.help) return null;
  const v = values as Partial<Record<keyof typeof FLAGS, string>>;
  const o: DemoOptions = { losses: [...LOSS_NAMES], ...DEMO_DEFAULTS };
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
  if (v.backend !== undefined) {
    if (!(BACKENDS as readonly string[]).includes(v.backend)) {
      const near = nearestKey(v.backend, BACKENDS);
      throw new UsageError(
        `--backend must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(v.backend)}${near ? ` (did you mean ${near}?)` : ''}`,
      );
    }
    o.backend = v.backend as BackendOption;
  }
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

const pct = (v: number): string => (Number.isNaN(v) ? '—' : (100 * v).toFixed(1));

function columns(head: string[], rows: string[][]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatTable(results: RunResult[], k: number): string {
  const head = ['loss', 'top-1', `top-${k}`, `macro top-${k}`, `few-shot top-${k}`, 'best epoch', 'time'];
  const rows = results.map((r) => [
    r.label,
    pct(r.test.top1),
    pct(r.test.topk),
    pct(r.test.macroTopk),
    pct(r.test.fewShotTopk),
    String(r.bestEpoch),
    `${r.seconds.toFixed(1)} s`,
  ]);
  return columns(head, rows);
}

/** Mean and sample standard deviation (0 for one value), NaN values left out. */
export function meanSd(values: number[]): { mean: number; sd: number; n: number } {
  const v = values.filter((x) => !Number.isNaN(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, sd: NaN, n };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

export function summarise(runs: RunResult[][], losses: LossName[]): LossSummary[] {
  return losses.map((loss, i) => {
    const of = (f: (r: RunResult) => number) => {
      const { mean, sd } = meanSd(runs.map((seedRuns) => f(seedRuns[i]!)));
      return { mean, sd };
    };
    return {
      loss,
      label: LOSSES[loss].label,
      top1: of((r) => r.test.top1),
      topk: of((r) => r.test.topk),
      macroTopk: of((r) => r.test.macroTopk),
      fewShotTopk: of((r) => r.test.fewShotTopk),
      seconds: runs.reduce((a, seedRuns) => a + seedRuns[i]!.seconds, 0),
    };
  });
}

export function formatSummary(summary: LossSummary[], k: number): string {
  const ms = (m: { mean: number; sd: number }) => `${pct(m.mean)} ± ${pct(m.sd)}`;
  const head = ['loss', 'top-1', `top-${k}`, `macro top-${k}`, `few-shot top-${k}`, 'time (all seeds)'];
  return columns(
    head,
    summary.map((s) => [
      s.label,
      ms(s.top1),
      ms(s.topk),
      ms(s.macroTopk),
      ms(s.fewShotTopk),
      `${s.seconds.toFixed(1)} s`,
    ]),
  );
}

/** A progress line redrawn in place on a terminal (no dependency: one line, carriage returns). */
class ProgressLine {
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, info: string): void {
    const width = 24;
    const filled = Math.round((done / this.total) * width);
    this.out.write(
      `\r${this.label.padEnd(16)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} epochs | ${info}\u001b[K`,
    );
  }

  stop(): void {
    this.out.write('\n');
  }
}

export interface DemoReport {
  data: DemoData;
  /** The runs of the first seed, one per loss. */
  results: RunResult[];
  /** Every seed's runs: runs[s][l] is loss l at seeds[s]. */
  runs: RunResult[][];
  seeds: number[];
  summary: LossSummary[];
  seconds: number;
  plotPath: string;
  pngPath: string;
  resultsPath: string;
}

export function runDemo(o: DemoOptions): DemoReport {
  const started = performance.now();
  const out = o.stdout ?? process.stdout;
  const print = (s: string) => out.write(`${s}\n`);
  const seeds = o.seeds ?? [o.seed];
  const backend = o.backend ?? 'auto';
  if (backend !== 'auto' && !backends().includes(backend)) {
    throw new UsageError(`--backend ${backend} is not available here (available: ${backends().join(', ')})`);
  }
  const loadData = (seed: number): DemoData =>
    o.data ? loadDataFile(o.data, seed) : syntheticData({ ...o.synthetic, seed });
  const first = loadData(seeds[0]!);
  if (o.k >= first.classes)
    throw new UsageError(`--k must be below the number of classes (${first.classes}), got ${o.k}`);
  // Before any training: a run must not be lost to an output folder that cannot be written.
  const dir = prepareOutDir(o.out);
  const batch = o.batch ?? DEMO_DEFAULTS.batch;
  const kernels = backend === 'auto' ? (backends().includes('cpu') ? 'native (cpu)' : 'js') : backend;
  print(`noised-topk demo: ${first.description}`);
  print(
    `model: MLP ${first.features}-64-${first.classes}, SGD momentum 0.9, weight decay 1e-4, batch ${batch}, ${o.epochs} epochs` +
      `${o.lr !== undefined ? `, lr ${o.lr}` : ''}; kernels: ${kernels}; ${seeds.length > 1 ? `seeds ${seeds.join(',')}` : `seed ${seeds[0]}`}`,
  );
  const progress = o.progress ?? Boolean(out.isTTY);
  const runs: RunResult[][] = [];
  const datasets: DemoData[] = [];
  for (const seed of seeds) {
    const data = seed === seeds[0] ? first : loadData(seed);
    datasets.push(data);
    if (seeds.length > 1) print(`seed ${seed}:`);
    const seedRuns: RunResult[] = [];
    for (const name of o.losses) {
      const spec = LOSSES[name];
      const bar = progress ? new ProgressLine(out, spec.label, o.epochs) : null;
      bar?.update(0, 'starting');
      const r = trainRun(data, name, {
        epochs: o.epochs,
        k: o.k,
        seed,
        lr: o.lr,
        batchSize: batch,
        backend,
        normalizeLastLayer: o.normalizeLastLayer,
        onEpoch: (epoch, info) =>
          bar?.update(epoch, `train loss ${info.trainLoss.toFixed(3)} | val macro top-${o.k} ${pct(info.valMacro)}`),
      });
      bar?.stop();
      if (!progress)
        print(
          `${spec.label.padEnd(16)} ${o.epochs} epochs in ${r.seconds.toFixed(1)} s (${spec.settings(o.k)}; best validation epoch ${r.bestEpoch})`,
        );
      seedRuns.push(r);
    }
    runs.push(seedRuns);
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = summarise(runs, o.losses);
  const fewShot = first.trainCounts.filter((c) => c < FEW_SHOT_BELOW).length;
  print('');
  if (seeds.length === 1) {
    print(
      `test set, % (model selected on validation macro top-${o.k}); seed ${seeds[0]}; wall time ${seconds.toFixed(1)} s`,
    );
    print(formatTable(runs[0]!, o.k));
  } else {
    print(
      `test set, %, mean ± sd over seeds ${seeds.join(',')} (model selected on validation macro top-${o.k}); wall time ${seconds.toFixed(1)} s`,
    );
    print(formatSummary(summary, o.k));
  }
  print(
    `few-shot: the ${fewShot} classes with fewer than ${FEW_SHOT_BELOW} training examples${seeds.length > 1 ? ` (seed ${seeds[0]})` : ''}; macro: mean over classes`,
  );
  // The table is out: what follows may fail (disk full, folder removed meanwhile) without
  // losing the numbers.
  const written = writeOutputs(dir, {
    options: o,
    seeds,
    datasets,
    runs,
    summary,
    seconds,
    k: o.k,
    backend: kernels,
    batch,
  });
  print(`plot: ${written.shown.svg} and ${written.shown.png}; results: ${written.shown.json}`);
  return {
    data: first,
    results: runs[0]!,
    runs,
    seeds,
    summary,
    seconds,
    plotPath: written.svg,
    pngPath: written.png,
    resultsPath: written.json,
  };
}
