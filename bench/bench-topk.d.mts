// Types of bench/bench-topk.mjs for the TypeScript tests that import it.
export interface TopkBenchResult {
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  samples: number;
  threads?: number;
}
export interface TopkBenchRow {
  B: number;
  D: number;
  k: number;
  results: Record<string, TopkBenchResult>;
}
export interface TopkBenchReport {
  smoke: boolean;
  machine: {
    cpu: string;
    cores: number;
    node: string;
    tfjs: string;
    backends: string[];
    loadAverage: string;
    date: string;
  };
  rows: TopkBenchRow[];
  /** Above the load limit (bench/load-limit.json) at the start or the end, and not a smoke run. */
  loaded: boolean;
  /** Why the file was not written (null: written, or no outDir). */
  refused: string | null;
}
export function runTopkBench(
  api: unknown,
  tf: unknown,
  options?: { smoke?: boolean; outDir?: string; allowLoad?: boolean; log?: (line: string) => void },
): Promise<TopkBenchReport>;
