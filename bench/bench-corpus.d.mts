// Types of bench/bench-corpus.mjs for the TypeScript tests that import it.
import type { BenchResult } from './bench.mjs';

export interface CorpusBenchRow {
  name: string;
  kind: 'file' | 'family';
  stage: string;
  target: string;
  loss: string;
  epoch: number;
  B: number;
  D: number;
  S: number;
  defaultSampler?: 'dense' | 'lazy';
  /** 'dense 1T', 'lazy 1T', 'dense 2T', 'lazy 2T'. */
  results?: Record<string, BenchResult>;
  skipped?: string;
}
export interface CorpusBenchReport {
  quick: boolean;
  loaded: boolean;
  machine: { cpu: string; cores: number; node: string; platform: string; loadavg: string; host: string };
  date: string;
  seconds: number;
  loadStart: number;
  loadEnd: number;
  k: number;
  epsilon: number;
  dir: string;
  rows: CorpusBenchRow[];
  written: boolean;
  refused: string | null;
}
export interface CorpusBenchOptions {
  dir?: string;
  quick?: boolean;
  /** ms per case and thread count (default 2000). */
  time?: number;
  only?: string;
  nSample?: number;
  familiesFile?: string;
  outDir?: string;
  allowLoad?: boolean;
  /** The 1-min load average (default os.loadavg()[0]); a test hook. */
  loadAverage?: () => number;
  log?: (line: string) => void;
}
export function runCorpusBench(api: unknown, opts?: CorpusBenchOptions): Promise<CorpusBenchReport>;
