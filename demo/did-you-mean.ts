// The "did you mean" hints of the demo's command line: the known name nearest to a mistyped
// one. Case, '_' and '-' are ignored first (--Normalize_LL is --normalize-ll); otherwise the
// nearest by Levenshtein distance (fastest-levenshtein) if it is at most 3 edits away.
import { distance } from 'fastest-levenshtein';

/** Beyond this many edits a name is a different word, not a typo. */
const MAX_EDITS = 3;

export function nearestKey(key: string, known: readonly string[]): string | null {
  const fold = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const folded = known.find((k) => fold(k) === fold(key));
  if (folded) return folded;
  let best: string | null = null;
  let bestDistance = MAX_EDITS + 1;
  for (const k of known) {
    const d = distance(fold(key), fold(k));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}
