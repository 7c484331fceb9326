// The demo's report: the tables (one seed, or mean ± sd over seeds) and the progress line.
import { LOSSES, type LossName } from './losses.js';
import type { LossSummary } from './options.js';
import type { RunResult } from './train.js';

export const pct = (v: number): string => (Number.isNaN(v) ? '—' : (100 * v).toFixed(1));

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
export class ProgressLine {
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
