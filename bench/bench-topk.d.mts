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
}
export function runTopkBench(
  api: unknown,
  tf: unknown,
  options?: { smoke?: boolean; outDir?: string; log?: (line: string) => void },
): Promise<TopkBenchReport>;
