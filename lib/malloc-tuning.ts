// What the native addon did to glibc's malloc when it loaded (native/malloc_tuning.cpp): it keeps
// the pages of freed output arrays mapped, so that a new gradient per call reuses them instead of
// taking a page fault per 4 KiB. docs/performance.md, "Fresh outputs and page faults", says why and
// what it costs; NOISED_TOPK_MALLOC_TUNING=0 (or false, no, off; set before the addon loads) turns
// it off. The addon parses the variable (native/malloc_tuning.cpp switchOf, the one rule).
import { loadNative } from './native.js';

export interface MallocTuning {
  /** True when the addon set both thresholds below (glibc only, once per process). */
  applied: boolean;
  /** M_MMAP_THRESHOLD in bytes when applied, else null. */
  mmapThreshold: number | null;
  /** M_TRIM_THRESHOLD in bytes when applied, else null. */
  trimThreshold: number | null;
  /** Why it was not applied; '' when it was. */
  reason: string;
}

interface AddonWithTuning {
  mallocTuning?: () => MallocTuning;
}

/** The addon's decision, loading the addon if it is not loaded yet. */
export function mallocTuning(): MallocTuning {
  const addon = loadNative() as AddonWithTuning | null;
  if (addon === null)
    return { applied: false, mmapThreshold: null, trimThreshold: null, reason: 'the native addon is not loaded' };
  if (typeof addon.mallocTuning !== 'function') {
    return {
      applied: false,
      mmapThreshold: null,
      trimThreshold: null,
      reason: 'this addon build has no malloc tuning',
    };
  }
  return addon.mallocTuning();
}
