import { loadNative } from './native.js';
import { integer } from './validate.js';

/** Threads used by the 'cpu' backend (0 = one per core). Results never depend on it. */
export function setThreads(n: number): void {
  integer('n', n, 0, 1024);
  loadNative()?.setThreads(n);
}

/** Threads the 'cpu' backend uses; 1 where the addon is not loaded. */
export function threads(): number {
  return loadNative()?.threads() ?? 1;
}
