// Types of bench/bench.mjs for the TypeScript tests that import it.
export interface BenchResult {
  medianMs?: number;
  meanMs?: number;
  rmePct?: number;
  p75Ms?: number;
  p99Ms?: number;
  minMs?: number;
  samples?: number;
  threads?: number;
  skipped?: string;
}
export interface BenchRow {
  B: number;
  D: number;
  S: number;
  results: Record<string, BenchResult>;
}
export interface BenchReport {
  machine: { cpu: string; cores: number; node: string; platform: string; loadavg: string };
  smoke: boolean;
  date: string;
  k: number;
  epsilon: number;
  rows: BenchRow[];
}
export interface BenchOptions {
  smoke?: boolean;
  sizes?: Array<[number, number, number]>;
  slowLimit?: number;
  time?: number;
  outDir?: string;
  log?: (line: string) => void;
}
export function makeInputs(B: number, D: number, seed?: number): { x: Float32Array; labels: Int32Array };
export function plainLossAndGrad(
  x: Float32Array,
  labels: Int32Array,
  B: number,
  D: number,
  S: number,
  k?: number,
  eps?: number,
): { loss: number; grad: Float32Array };
export function tfLossAndGrad(
  tf: unknown,
  x: Float32Array,
  labels: Int32Array,
  B: number,
  D: number,
  S: number,
  k?: number,
  eps?: number,
): { loss: number; grad: Float32Array };
export function runBench(api: unknown, tf: unknown, opts?: BenchOptions): Promise<BenchReport>;
