// The place-name featurizer: hashed character n-grams, fastText style. A name becomes a bag of
// bucket ids: its character 2-, 3- and 4-grams with "<" and ">" marking the start and the end
// (so "<sa" is a prefix and "ez>" a suffix), plus each whole word. Each piece is hashed into
// one of 2^bits buckets. The bag keeps repeats, as fastText's does.
// Deterministic: the hash is FNV-1a over code points with a fixed final mix, no Math.random,
// no Map iteration order, so a name gives the same bag on every machine and run.

/** n-gram lengths of the bag. */
export const NGRAM_MIN = 2;
export const NGRAM_MAX = 4;
export const DEFAULT_HASH_BITS = 16;

/** Bags in compressed-row form: row r's bucket ids are ids[offsets[r] .. offsets[r + 1]). */
export interface Bags {
  offsets: Int32Array;
  ids: Int32Array;
  /** The number of buckets (2^bits): every id is below it. */
  buckets: number;
}

/** Lower case and one Unicode form, so "Zürich" spelt with a combining mark hashes the same. */
export function normalizeName(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/**
 * FNV-1a over a run of code points, then murmur3's final mix: FNV's low bits alone are weak,
 * and the bucket is taken from the low bits. `salt` separates words from n-grams.
 */
function hashRun(cps: number[], start: number, end: number, salt: number): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = start; i < end; i++) {
    h ^= cps[i]!;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const LT = '<'.codePointAt(0)!;
const GT = '>'.codePointAt(0)!;
const WORD_SALT = 0x5bd1e995;

/** Appends the bucket ids of one name to `out`. */
export function nameBag(name: string, bits: number, out: number[] = []): number[] {
  const mask = 2 ** bits - 1;
  const cps = [LT];
  for (const ch of normalizeName(name)) cps.push(ch.codePointAt(0)!);
  cps.push(GT);
  for (let n = NGRAM_MIN; n <= NGRAM_MAX; n++)
    for (let i = 0; i + n <= cps.length; i++) out.push(hashRun(cps, i, i + n, 0) & mask);
  // Whole words ("san", "springfield"), split on spaces and hyphens, with their markers.
  let start = 0;
  for (let i = 1; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === 0x20 || c === 0x2d || c === GT) {
      if (i - start > 1) out.push(hashRun(cps, start, i, WORD_SALT) & mask);
      start = i;
    }
  }
  return out;
}

/** The bags of many names, in compressed-row form. */
export function featurize(names: readonly string[], bits = DEFAULT_HASH_BITS): Bags {
  if (!Number.isInteger(bits) || bits < 8 || bits > 24)
    throw new RangeError(`bits must be an integer in [8, 24], got ${bits}`);
  const offsets = new Int32Array(names.length + 1);
  const ids: number[] = [];
  for (let r = 0; r < names.length; r++) {
    nameBag(names[r]!, bits, ids);
    offsets[r + 1] = ids.length;
  }
  return { offsets, ids: Int32Array.from(ids), buckets: 2 ** bits };
}

/** The bags of the given rows only, renumbered 0..rows.length-1. */
export function selectBags(bags: Bags, rows: ArrayLike<number>): Bags {
  const offsets = new Int32Array(rows.length + 1);
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    total += bags.offsets[r + 1]! - bags.offsets[r]!;
    offsets[i + 1] = total;
  }
  const ids = new Int32Array(total);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    ids.set(bags.ids.subarray(bags.offsets[r]!, bags.offsets[r + 1]!), offsets[i]!);
  }
  return { offsets, ids, buckets: bags.buckets };
}
