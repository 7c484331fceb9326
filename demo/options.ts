// The demo's options and its per-loss summary: shared by the runner (run.ts) and the writers
// (output.ts), so neither imports the other's module for a type.
import type { BackendOption } from 'noised-topk';
import type { SyntheticOptions } from './dataset.js';
import type { LossName } from './losses.js';

export interface DemoOptions {
  losses: LossName[];
  epochs: number;
  k: number;
  /** The seed of a one-seed run (and the first of `seeds`). */
  seed: number;
  /** Several seeds: one run per seed and loss, reported as mean ± sd. Default [seed]. */
  seeds?: number[];
  out: string;
  /** The user's CSV or JSON-lines file; the built-in data when absent. */
  data?: string;
  /** Backend of the top-k losses (default 'auto'). */
  backend?: BackendOption;
  /** Learning rate for every loss; default: each loss's own (demo/losses.ts). */
  lr?: number;
  /** Mini-batch size (default 32). */
  batch?: number;
  /** L2-normalized features and last-layer weights for every loss (pytopk's --normalize-ll). */
  normalizeLastLayer?: boolean;
  /** Settings of the built-in data (tests use a small one). */
  synthetic?: SyntheticOptions;
  /** Where the report goes. Default process.stdout. */
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Draw progress bars; default: when stdout is a terminal. */
  progress?: boolean;
}

export interface LossSummary {
  loss: LossName;
  label: string;
  top1: { mean: number; sd: number };
  topk: { mean: number; sd: number };
  macroTopk: { mean: number; sd: number };
  fewShotTopk: { mean: number; sd: number };
  seconds: number;
}
