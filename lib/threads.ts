import { loadNative } from './native.js';
import { integer } from './validate.js';

/**
 * The most threads setThreads accepts: 4 x the CPUs this process may use (os.availableParallelism()),
 * at least 8. More only add OS threads and switching; the addon refuses them too.
 */
export function maxThreads(): number {
  const fromAddon = loadNative()?.maxThreads;
  if (typeof fromAddon === 'number') return fromAddon;
  const os = globalThis.process?.getBuiltinModule?.('node:os') as typeof import('node:os') | undefined;
  const cpus = typeof os?.availableParallelism === 'function' ? os.availableParallelism() : 1;
  return Math.max(8, 4 * cpus);
}

/**
 * Threads used by the 'cpu' backend (0 = one per core). Results never depend on it. Lowering it
 * stops the extra OS threads. Above maxThreads() it is a RangeError.
 */
export function setThreads(n: number): void {
  const cap = maxThreads();
  if (typeof n === 'number' && n > cap) {
    throw new RangeError(
      `n must be an integer in [0, ${cap}] (4 x the CPUs this process may use, at least 8), got ${n}`,
    );
  }
  integer('n', n, 0, cap);
  loadNative()?.setThreads(n);
}

/** Threads the 'cpu' backend uses; 1 where the addon is not loaded. */
export function threads(): number {
  return loadNative()?.threads() ?? 1;
}
