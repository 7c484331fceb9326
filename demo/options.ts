// The demo's options and its per-loss summary: shared by the runner (run.ts) and the writers
// (output.ts), so neither imports the other's module for a type.
import type { BackendOption } from 'noised-topk';
import type { SyntheticOptions } from './dataset.js';
import type { LossName } from './losses.js';
import type { PlaceTarget } from './places.js';

/** The built-in datasets: the place names (the default) and the generated data of 0.1.0. */
export type DatasetName = 'places' | 'synthetic';

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
  /** The built-in dataset when `data` is absent (default 'places'). */
  dataset?: DatasetName;
  /** Places: the class to predict (default 'country'). */
  target?: PlaceTarget;
  /** Places: every training place (trainRows is then ignored); said up front, no time limit. */
  full?: boolean;
  /** Places: train on a sample of about this many training places (all when absent). */
  trainRows?: number;
  /** Places: use a seeded sample of this many places in all (short runs, tests). */
  names?: number;
  /** Places: write validation logits (.ntkl files, demo/logits-file.ts) into this folder. */
  saveLogits?: string;
  /** Validation rows per logits file (default 2048). */
  logitsRows?: number;
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
