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
  /** Minor page faults per timed call (process.resourceUsage().minorPageFault). */
  faultsPerCall?: number;
  skipped?: string;
}
/** The C++ run's medians for the same shape (bench/results/native.json), in ms. */
export interface NativeRow {
  ours1Ms?: number;
  oursNMs?: number;
  oursNThreads?: number;
  pytopk1Ms?: number;
  pytopkNMs?: number;
  topk1Ms?: number;
}
export interface BenchRow {
  B: number;
  D: number;
  S: number;
  results: Record<string, BenchResult>;
  native?: NativeRow;
}
export interface MallocTuningReport {
  applied: boolean;
  mmapThreshold: number | null;
  trimThreshold: number | null;
  reason: string;
}
export interface BenchReport {
  machine: { cpu: string; cores: number; node: string; platform: string; loadavg: string };
  smoke: boolean;
  date: string;
  k: number;
  epsilon: number;
  sampler: string | null;
  mallocTuning: MallocTuningReport | null;
  native: { cpu: string; cores: number; date: string; sameMachine: boolean } | null;
  rows: BenchRow[];
  /** Above the load limit (bench/load-limit.json) at the start or the end, and not a smoke run. */
  loaded: boolean;
  /** Why the files were not written (null: written, or no outDir). */
  refused?: string | null;
}
export interface BenchOptions {
  smoke?: boolean;
  sizes?: Array<[number, number, number]>;
  slowLimit?: number;
  time?: number;
  /** Passed as the `sampler` option to every 'cpu' and 'js' call; the build must have it. */
  sampler?: string;
  /** Run the js / plain TS / tfjs baselines (default true). */
  baselines?: boolean;
  /** bench/native's JSON report to compare with (the Node / C++ columns). */
  native?: string;
  /** What the addon did to malloc, for the header (when the api object has no mallocTuning). */
  mallocTuning?: MallocTuningReport;
  /** Where js.{md,json} go; nothing is written there under load unless allowLoad. */
  outDir?: string;
  /** Write the files of a run taken under load, marked as such. */
  allowLoad?: boolean;
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
export function samplerSupported(api: unknown): boolean;
export function readNativeResults(file: string): unknown;
export function runBench(api: unknown, tf: unknown, opts?: BenchOptions): Promise<BenchReport>;
export function loadavg(): string;
export function machine(): { cpu: string; cores: number; node: string; platform: string; loadavg: string };
export function fmtMs(v: number | undefined): string;
export function summary(ms: number[], faults: number[], threads: number): BenchResult;
export function timeInTurn(
  fns: Array<() => unknown>,
  opts: {
    timeMs: number;
    minRuns: number;
    warmupRuns: number;
    warmupMs?: number;
    warmupMax?: number;
    maxRuns?: number;
  },
): { ms: number[][]; faults: number[][] };
