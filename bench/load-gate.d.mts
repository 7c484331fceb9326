// Types of bench/load-gate.mjs.
export interface LoadVerdict {
  load0: number;
  load1: number;
  /** Above MAX_LOAD at the start or the end, and not a smoke or quick run. */
  loaded: boolean;
}
/** The 1-min load average above which no figure is written (bench/load-limit.json). */
export const MAX_LOAD: number;
/** The 1-min load average now; NTK_BENCH_LOADAVG stands in for it. */
export function loadAverage1(): number;
export function loadVerdict(load0: number, load1: number, options?: { exempt?: boolean }): LoadVerdict;
export function underLoadBanner(v: LoadVerdict): string;
/** Writes files (path -> content) unless the verdict refuses them: null when written, else why not. */
export function writeResults(
  files: Record<string, string>,
  verdict: LoadVerdict,
  options?: { allowLoad?: boolean; log?: (line: string) => void },
): string | null;
