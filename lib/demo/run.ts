// The demo: train one model per loss on a long-tailed, ambiguous dataset and compare them on
// top-1, top-k, macro top-k and few-shot top-k, with a plot of per-class accuracy.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { backends } from '../kernel.js';
import { syntheticData, type DemoData, type SyntheticOptions } from './dataset.js';
import { loadDataFile } from './data-file.js';
import { LOSSES, LOSS_NAMES, parseLosses, type LossName } from './losses.js';
import { perClassPlot } from './svg.js';
import { FEW_SHOT_BELOW, trainRun, type RunResult } from './train.js';

export interface DemoOptions {
  losses: LossName[];
  epochs: number;
  k: number;
  seed: number;
  out: string;
  /** The user's CSV or JSON-lines file; the built-in data when absent. */
  data?: string;
  /** Settings of the built-in data (tests use a small one). */
  synthetic?: SyntheticOptions;
  /** Where the report goes. Default process.stdout. */
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Draw progress bars; default: when stdout is a terminal. */
  progress?: boolean;
}

export const DEMO_DEFAULTS = { epochs: 30, k: 5, seed: 0, out: 'noised-topk-demo' };

export const HELP = `Usage: noised-topk demo [options]

Trains the same small model (MLP, SGD with momentum) with cross-entropy, focal, LDAM,
BalNoisedTopK and ImbalNoisedTopK on a long-tailed, ambiguous dataset, then prints top-1,
top-k, macro top-k and few-shot top-k on the test set (model chosen on validation) and writes
a plot of per-class top-k accuracy against class frequency.

Options:
  --losses <list>   comma-separated losses to train: ${LOSS_NAMES.join(',')} (default: all)
  --epochs <n>      training epochs per loss (default ${DEMO_DEFAULTS.epochs})
  --k <n>           the k of top-k: in the metrics and in the top-k losses (default ${DEMO_DEFAULTS.k})
  --seed <n>        seed of the data, the initial weights, the batch order and the noise (default ${DEMO_DEFAULTS.seed})
  --out <dir>       where the plot and results.json go (default ./${DEMO_DEFAULTS.out})
  --data <file>     train on your own data instead: CSV (features..., label; optional header,
                    a column named "label" is used if present) or JSON lines
                    ({"features": [..], "label": ..} per line); split 80/10/10 per class
  --help            show this help
`;

/** A command-line mistake: the message says which flag and what was expected. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function intFlag(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value (an integer in [${min}, ${max}])`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return n;
}

/** Parses the demo's flags (after "demo"); returns null for --help. */
export function parseDemoArgs(argv: string[]): DemoOptions | null {
  const o: DemoOptions = { losses: [...LOSS_NAMES], ...DEMO_DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = (): string | undefined => (value !== undefined ? value : argv[++i]);
    switch (arg) {
      case '--help':
      case '-h':
        return null;
      case '--losses': {
        const v = next();
        if (v === undefined) throw new UsageError(`--losses needs a value, e.g. --losses ${LOSS_NAMES.join(',')}`);
        try {
          o.losses = parseLosses(v);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        break;
      }
      case '--epochs':
        o.epochs = intFlag('--epochs', next(), 1, 10_000);
        break;
      case '--k':
        o.k = intFlag('--k', next(), 1, 1_000_000);
        break;
      case '--seed':
        o.seed = intFlag('--seed', next(), 0, 2 ** 32 - 1);
        break;
      case '--out': {
        const v = next();
        if (v === undefined || v === '') throw new UsageError('--out needs a directory');
        o.out = v;
        break;
      }
      case '--data': {
        const v = next();
        if (v === undefined || v === '') throw new UsageError('--data needs a file (CSV or JSON lines)');
        o.data = v;
        break;
      }
      default:
        throw new UsageError(`unknown option ${JSON.stringify(argv[i])} (see --help)`);
    }
  }
  return o;
}

const pct = (v: number): string => (v === v ? (100 * v).toFixed(1) : '—');

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
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface DemoReport {
  data: DemoData;
  results: RunResult[];
  seconds: number;
  plotPath: string;
  resultsPath: string;
}

export function runDemo(o: DemoOptions): DemoReport {
  const started = performance.now();
  const out = o.stdout ?? process.stdout;
  const print = (s: string) => out.write(s + '\n');
  const data = o.data ? loadDataFile(o.data, o.seed) : syntheticData({ ...o.synthetic, seed: o.seed });
  if (o.k >= data.classes) throw new UsageError(`--k must be below the number of classes (${data.classes}), got ${o.k}`);
  const fewShot = data.trainCounts.filter((c) => c < FEW_SHOT_BELOW).length;
  print(`noised-topk demo: ${data.description}`);
  print(`model: MLP ${data.features}-64-${data.classes}, SGD momentum 0.9, weight decay 1e-4, batch 32, ${o.epochs} epochs; ` +
    `kernels: ${backends().includes('cpu') ? 'native (cpu)' : 'js'}; seed ${o.seed}`);
  const progress = o.progress ?? Boolean(out.isTTY);
  const results: RunResult[] = [];
  for (const name of o.losses) {
    const spec = LOSSES[name];
    let bar: cliProgress.SingleBar | null = null;
    if (progress) {
      bar = new cliProgress.SingleBar(
        {
          format: `${spec.label.padEnd(16)} {bar} {value}/{total} epochs | train loss {loss} | val macro top-${o.k} {val}`,
          stream: out as NodeJS.WritableStream,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(o.epochs, 0, { loss: '-', val: '-' });
    }
    const r = trainRun(data, name, {
      epochs: o.epochs,
      k: o.k,
      seed: o.seed,
      onEpoch: (epoch, info) => bar?.update(epoch, { loss: info.trainLoss.toFixed(3), val: pct(info.valMacro) }),
    });
    bar?.stop();
    if (!progress) print(`${spec.label.padEnd(16)} ${o.epochs} epochs in ${r.seconds.toFixed(1)} s (${spec.settings(o.k)}; best validation epoch ${r.bestEpoch})`);
    results.push(r);
  }
  const seconds = (performance.now() - started) / 1000;
  const dir = resolve(o.out);
  mkdirSync(dir, { recursive: true });
  const plotPath = join(dir, `per-class-top${o.k}.svg`);
  writeFileSync(plotPath, perClassPlot(data.trainCounts, results.map((r) => ({ label: r.label, perClass: r.test.perClassTopk })), { k: o.k }));
  const resultsPath = join(dir, 'results.json');
  writeFileSync(
    resultsPath,
    JSON.stringify(
      {
        data: data.description,
        seed: o.seed,
        epochs: o.epochs,
        k: o.k,
        seconds,
        trainCounts: data.trainCounts,
        results: results.map((r) => ({
          loss: r.label,
          bestEpoch: r.bestEpoch,
          valMacroTopk: r.valMacroTopk,
          top1: r.test.top1,
          topk: r.test.topk,
          macroTopk: r.test.macroTopk,
          fewShotTopk: r.test.fewShotTopk,
          perClassTopk: Array.from(r.test.perClassTopk, (v) => (v === v ? v : null)),
          trainLoss: r.trainLoss,
          seconds: r.seconds,
        })),
      },
      null,
      2,
    ) + '\n',
  );
  print('');
  print(`test set, % (model selected on validation macro top-${o.k}); seed ${o.seed}; wall time ${seconds.toFixed(1)} s`);
  print(formatTable(results, o.k));
  print(`few-shot: the ${fewShot} classes with fewer than ${FEW_SHOT_BELOW} training examples; macro: mean over classes`);
  print(`plot: ${plotPath}`);
  return { data, results, seconds, plotPath, resultsPath };
}
