// TypeScript twin of native/core/lazy_sampler.h (the 'lazy' sampler) and of the row
// preparation of native/cpu/lazy_cpu.cpp. Read the header for the construction and for where
// its law is exact. Bit identity with the C++ code rests on:
//   - binary64: a JavaScript number is an IEEE-754 double, and every +, -, *, /, Math.sqrt and
//     Math.floor below is the same correctly rounded operation as in the header, in the same
//     order (the C++ is built with -ffp-contract=off, so no FMA is formed there either);
//   - binary32: Math.fround after each float operation, as in stream.ts;
//   - the same Philox counters and the same order of word consumption.
// Keep every constant and every operation order identical to the header's.
import { boxMuller, normal4, philox4x32_10, rankKey } from './stream.js';

const fr = Math.fround;

/** The seeded samplers: 'dense' draws every normal of the stream, 'lazy' only those that can matter. */
import type { SamplerName } from './addon.js';

export type { SamplerName };
export const SAMPLERS: readonly SamplerName[] = ['lazy', 'dense'];

const TOP_TAG = 0x80000000;
const TAIL_TAG = 0xc0000000;
const BUCKETS = 33;
const MAX_LAZY_D = 2 ** 24;
const Z_BOUND = 64.0;
const SAFE_MAGNITUDE = 1.0e38;
const ROBERT_FROM = 0.5;

const LN2_HI = 0.6931471803691238; // the doubles of lazy_sampler.h's literals, shortest form
const LN2_LO = 1.9082149292705877e-10;
const INV_LN2 = Math.LOG2E;
const SQRT2 = Math.SQRT2;
const INV_SQRT_2PI = 0.3989422804014327;

/** m: the columns drawn before the buckets (lazy_sampler.h lazyTopCount). */
export function lazyTopCount(k: number): number {
  return k + 8 + Math.floor(k / 4);
}

const f64 = new Float64Array(1);
const w32 = new Uint32Array(f64.buffer); // little-endian: w32[1] is the high word
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
  throw new Error('noised-topk: the lazy sampler needs a little-endian platform');

function pow2(e: number): number {
  w32[0] = 0;
  w32[1] = (e + 1023) * 1048576; // << 20, as an unsigned value
  return f64[0]!;
}

function twoAtanh(s: number): number {
  const y = s * s;
  const y2 = y * y;
  const y4 = y2 * y2;
  const y8 = y4 * y4;
  const a0 = 0.66666666666666663 + 0.40000000000000002 * y;
  const a1 = 0.2857142857142857 + 0.22222222222222221 * y;
  const a2 = 0.18181818181818182 + 0.15384615384615385 * y;
  const a3 = 0.13333333333333333 + 0.11764705882352941 * y;
  const a4 = 0.10526315789473684 + 0.095238095238095233 * y;
  const b0 = a0 + a1 * y2;
  const b1 = a2 + a3 * y2;
  const b2 = a4 + 0.086956521739130432 * y2;
  const p = b0 + b1 * y4 + b2 * y8;
  return 2.0 * s + s * y * p;
}

/** ln(x) for a normal x > 0 (lazy_sampler.h logPositive). */
export function logPositive(x: number): number {
  if (x === 0) return -Infinity;
  f64[0] = x;
  const hi = w32[1]!;
  let e = (hi >>> 20) - 1023;
  w32[1] = (hi & 0x000fffff) | 0x3ff00000;
  let m = f64[0]!;
  if (m > SQRT2) {
    m = m * 0.5;
    e += 1;
  }
  const f = m - 1.0;
  const s = f / (2.0 + f);
  return e * LN2_HI + (e * LN2_LO + twoAtanh(s));
}

export function logOneMinus(q: number): number {
  if (q <= 0.25) return twoAtanh((0.0 - q) / (2.0 - q));
  return logPositive(1.0 - q);
}

/** lazy_sampler.h uniformOpen: (w + 1/2) 2^-32, in the open (0, 1) (never 0, never 1). */
export function uniformOpen(w: number): number {
  return (w + 0.5) * 2.3283064365386963e-10;
}

/** lazy_sampler.h kSkipNone, kSkipEvery, kSkipGeometric: the kinds of a bucket's skip plan. */
export const SKIP_NONE = 0;
export const SKIP_EVERY = 1;
export const SKIP_GEOMETRIC = 2;
const MIN_SKIP_Q = 2.2250738585072014e-308; // 2^-1022

/** A bucket's geometric skips (lazy_sampler.h SkipPlan). */
export interface SkipPlan {
  kind: number;
  lq: number;
  invLq: number;
}

/**
 * lazy_sampler.h lazySkipPlan: total over every q (NaN included). Below 2^-1022 (t above about
 * 37.5) no column is a candidate; a geometric plan has ln(1 - q) < 0 and a finite inverse.
 */
export function lazySkipPlan(q: number): SkipPlan {
  if (!(q >= MIN_SKIP_Q)) return { kind: SKIP_NONE, lq: 0.0, invLq: 0.0 };
  if (q >= 1.0) return { kind: SKIP_EVERY, lq: 0.0, invLq: 0.0 };
  const lq = logOneMinus(q);
  const inv = 1.0 / lq;
  if (!(lq < 0.0) || !(inv > -1.7976931348623157e308)) return { kind: SKIP_NONE, lq: 0.0, invLq: 0.0 };
  return { kind: SKIP_GEOMETRIC, lq, invLq: inv };
}

/**
 * lazy_sampler.h lazySkipFrom: the next candidate's position after `at` in a segment of countD
 * columns, from one uniform u in (0, 1) (countD or more: none left). Never NaN for a geometric plan.
 */
export function lazySkipFrom(at: number, countD: number, u: number, p: SkipPlan): number {
  const left = countD - (at + 1.0);
  if (u - 1.0 <= left * p.lq) return countD;
  return at + 1.0 + Math.floor(logPositive(u) * p.invLq);
}

export function expNonPositive(x: number): number {
  if (x < -745.0) return 0.0;
  const n = Math.floor(x * INV_LN2 + 0.5);
  const r = x - n * LN2_HI - n * LN2_LO;
  let p = 1.6059043836821613e-10;
  p = p * r + 2.08767569878681e-9;
  p = p * r + 2.505210838544172e-8;
  p = p * r + 2.7557319223985888e-7;
  p = p * r + 0.0000027557319223985893;
  p = p * r + 0.000024801587301587302;
  p = p * r + 0.00019841269841269841;
  p = p * r + 0.0013888888888888889;
  p = p * r + 0.0083333333333333332;
  p = p * r + 0.041666666666666664;
  p = p * r + 0.16666666666666666;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const half = Math.trunc(n / 2);
  return p * pow2(half) * pow2(n - half);
}

/** Q(t) = P(Z > t), Z ~ N(0, 1), the reference evaluation (lazy_sampler.h normalTailSlow). */
export function normalTailSlow(t: number): number {
  if (t >= 38.0) return 0.0;
  if (t <= -38.0) return 1.0;
  const a = t < 0.0 ? 0.0 - t : t;
  const phi = expNonPositive(-0.5 * a * a) * INV_SQRT_2PI;
  let q: number;
  if (a < 2.5) {
    const a2 = a * a;
    let term = a;
    let sum = a;
    for (let n = 1; n <= 40; n++) {
      term = (term * a2) / (2 * n + 1);
      sum = sum + term;
    }
    q = 0.5 - phi * sum;
  } else {
    let f = a;
    for (let n = 90; n >= 1; n--) f = a + n / f;
    q = phi / f;
  }
  return t < 0.0 ? 1.0 - q : q;
}

const TAIL_GRID_PER_UNIT = 32;
const TAIL_GRID_POINTS = 76 * TAIL_GRID_PER_UNIT + 1;
const TAIL_TERMS = 16;
const MERGE_BELOW = 1.0;
const INVERSE = [
  0.0, 0.0, 0.5, 0.33333333333333331, 0.25, 0.20000000000000001, 0.16666666666666666, 0.14285714285714285, 0.125,
  0.1111111111111111, 0.10000000000000001, 0.090909090909090912, 0.083333333333333329, 0.076923076923076927,
  0.071428571428571425, 0.066666666666666666, 0.0625, 0.058823529411764705,
];
let tailQ: Float64Array | null = null;
let tailPhi: Float64Array | null = null;

function fillTailTable(): void {
  tailQ = new Float64Array(TAIL_GRID_POINTS);
  tailPhi = new Float64Array(TAIL_GRID_POINTS);
  for (let i = 0; i < TAIL_GRID_POINTS; i++) {
    const t0 = -38.0 + i / TAIL_GRID_PER_UNIT;
    tailQ[i] = normalTailSlow(t0);
    tailPhi[i] = expNonPositive(-0.5 * t0 * t0) * INV_SQRT_2PI;
  }
}

/** Q(t) = P(Z > t) by the tabulated Taylor expansion (lazy_sampler.h normalTail). */
export function normalTail(t: number): number {
  if (!(t < 38.0)) return 0.0; // NaN too (lazy_sampler.h)
  if (t <= -38.0) return 1.0;
  if (tailQ === null) fillTailTable();
  const i = Math.floor((t + 38.0) * 32.0 + 0.5);
  const t0 = -38.0 + i / 32.0;
  const h = t - t0;
  const a = t0 < 0.0 ? 0.0 - t0 : t0;
  const terms = a < 2.0 ? 8 : a < 6.0 ? 10 : a < 14.0 ? 12 : TAIL_TERMS; // lazy_sampler.h tailTermsAt
  let hp = h;
  let heP = 0.0;
  let heC = 1.0;
  let sum = 0.0;
  for (let n = 1; n <= terms; n += 2) {
    sum = sum + heC * hp;
    let heN = t0 * heC - (n - 1) * heP;
    heP = heC;
    heC = heN;
    hp = hp * h * INVERSE[n + 1]!;
    sum = sum - heC * hp;
    heN = t0 * heC - n * heP;
    heP = heC;
    heC = heN;
    hp = hp * h * INVERSE[n + 2]!;
  }
  const q = tailQ![i]! - tailPhi![i]! * sum;
  return q < 0.0 ? 0.0 : q > 1.0 ? 1.0 : q;
}

function lazyThreshold(kth: number, u: number, eps: number): number {
  const aL = kth < 0.0 ? 0.0 - kth : kth;
  const au = u < 0.0 ? 0.0 - u : u;
  const margin = (aL + 2.0 * au) * 9.5367431640625e-7 + 1.0e-37;
  return (kth - margin - u) / eps;
}

/** lazy_sampler.h BucketTable: the bucket of floor(min(s, 176)). */
const BUCKET_OF = Uint8Array.from({ length: 177 }, (_, j) =>
  j < 16 ? j : j < 48 ? 16 + ((j - 16) >> 2) : j < 176 ? 24 + ((j - 48) >> 4) : 32,
);

/** lazy_sampler.h kNearBuckets, kNearEdge: only buckets below 12 (3 eps) are sorted; the rest is the far set. */
const NEAR_BUCKETS = 12;
const NEAR_EDGE = 12.0;

/** lazy_sampler.h lazyBucketScale: float32(4 / eps), capped at 2^100. */
function lazyBucketScale(eps: number): number {
  const s = fr(4.0 / eps);
  return s < 1.2676506002282294e30 ? s : 1.2676506002282294e30;
}

/** The word stream of one (row, sample): Philox blocks at counter word 0 = TAIL_TAG | n. */
class TailStream {
  private seedLo = 0;
  private seedHi = 0;
  private offset = 0;
  private row = 0;
  private sample = 0;
  private block = 0;
  private used = 4;
  private readonly words = new Uint32Array(4);
  private hasSpare = false;
  private spare = 0;
  private readonly pair = new Float32Array(2);

  start(seedLo: number, seedHi: number, offset: number, row: number, sample: number): void {
    this.seedLo = seedLo;
    this.seedHi = seedHi;
    this.offset = offset;
    this.row = row;
    this.sample = sample;
    this.block = 0;
    this.used = 4;
    this.hasSpare = false;
    this.spare = 0;
  }

  word(): number {
    if (this.used === 4) {
      philox4x32_10(
        (TAIL_TAG | (this.block & 0x3fffffff)) >>> 0,
        this.row,
        this.sample,
        this.offset,
        this.seedLo,
        this.seedHi,
        this.words,
      );
      this.block = (this.block + 1) >>> 0;
      this.used = 0;
    }
    return this.words[this.used++]!;
  }

  uniform(): number {
    return uniformOpen(this.word());
  }

  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const w0 = this.word();
    const w1 = this.word();
    boxMuller(w0, w1, this.pair, 0);
    this.spare = this.pair[1]!;
    this.hasSpare = true;
    return this.pair[0]!;
  }

  /** lazy_sampler.h truncatedNormal: z ~ N(0, 1) given z > t; alpha, invAlpha from truncatedBound. */
  truncatedNormal(t: number, alpha: number, invAlpha: number): number {
    if (t < ROBERT_FROM) {
      for (;;) {
        const z = this.normal();
        if (z > t) return z;
      }
    }
    for (;;) {
      const z = t - logPositive(this.uniform()) * invAlpha;
      const dz = z - alpha;
      const bound = -0.5 * dz * dz;
      const v = this.uniform();
      if (v - 1.0 <= bound || logPositive(v) <= bound) return fr(z);
    }
  }
}

function selectLargest(kh: Uint32Array, col: Uint32Array, val: Float32Array, n: number, k: number): void {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >>> 1);
    const pk = kh[mid]!;
    const pc = col[mid]!;
    let i = lo;
    let j = hi;
    for (;;) {
      while (kh[i]! > pk || (kh[i] === pk && col[i]! < pc)) i++;
      while (kh[j]! < pk || (kh[j] === pk && col[j]! > pc)) j--;
      if (i >= j) break;
      let t = kh[i]!;
      kh[i] = kh[j]!;
      kh[j] = t;
      t = col[i]!;
      col[i] = col[j]!;
      col[j] = t;
      t = val[i]!;
      val[i] = val[j]!;
      val[j] = t;
      i++;
      j--;
    }
    if (target <= j) hi = j;
    else lo = j + 1;
  }
}

/** One row's lazy sampler, with scratch for rows up to the length it was last grown to. */
export class LazyRowSampler {
  private x: Float32Array = new Float32Array(0);
  private d = 0;
  private k = 1;
  private m = 0;
  private eps = 0;
  private bucketCols = new Uint32Array(0);
  private nearCols = new Uint32Array(0);
  private nearBucket = new Uint8Array(0);
  private hi = 0;
  private scale = 0;
  private nearBuckets = BUCKETS;
  private nearCount = 0;
  private farCount = 0;
  private farMax = 0;
  private readonly bucketStart = new Uint32Array(BUCKETS);
  private readonly bucketEnd = new Uint32Array(BUCKETS);
  private readonly count = new Uint32Array(BUCKETS);
  private readonly fill = new Uint32Array(BUCKETS);
  private readonly bucketMax = new Float64Array(BUCKETS);
  private kh = new Uint32Array(0);
  private col = new Uint32Array(0);
  private val = new Float32Array(0);
  private readonly stream = new TailStream();
  private readonly z4 = new Float32Array(4);
  /** The last sample's result. */
  column = 0;
  value = 0;
  /** Normals drawn by the last sample: m + candidates. */
  drawn = 0;

  /**
   * Prepares the row x[0, d) (contiguous, binary32 values). Returns false when the row is not
   * eligible (lazy_cpu.cpp prepareLazyRow's rule): the caller runs the dense path for it.
   */
  prepare(x: Float32Array, d: number, k: number, epsilon: number): boolean {
    const eps = fr(epsilon);
    const m = lazyTopCount(k);
    if (!(eps > 0) || d > MAX_LAZY_D || 2 * m > d) return false;
    let hi = x[0]!;
    let lo = x[0]!;
    for (let c = 0; c < d; c++) {
      const v = x[c]!;
      if (!Number.isFinite(v)) return false;
      if (v > hi) hi = v;
      if (v < lo) lo = v;
    }
    const maxAbs = Math.max(Math.abs(hi), Math.abs(lo));
    if (maxAbs + eps * Z_BOUND > SAFE_MAGNITUDE) return false;
    if (this.kh.length < m + d) {
      this.kh = new Uint32Array(m + d);
      this.col = new Uint32Array(m + d);
      this.val = new Float32Array(m + d);
      this.bucketCols = new Uint32Array(d);
      this.nearCols = new Uint32Array(d);
      this.nearBucket = new Uint8Array(d);
    }
    const scale = lazyBucketScale(eps);
    // lazy_cpu.cpp prepareLazyRow: the near columns in column order, the largest far x
    const nearCols = this.nearCols;
    const nearBucket = this.nearBucket;
    let nearBuckets = NEAR_BUCKETS;
    let nearCount = 0;
    let farMax = -Infinity;
    for (let c = 0; c < d; c++) {
      const v = x[c]!;
      const sd = fr(fr(hi - v) * scale); // lazy_sampler.h lazyBucketIndex, float32
      const b = BUCKET_OF[Math.floor(sd < 176.0 ? (sd > 0.0 ? sd : 0.0) : 176.0)]!; // clamped as the header
      if (b < NEAR_BUCKETS) {
        nearCols[nearCount] = c;
        nearBucket[nearCount] = b;
        nearCount++;
      } else if (v > farMax) farMax = v;
    }
    if (nearCount < m) {
      // T must be near: sort every column (no far set)
      nearBuckets = BUCKETS;
      for (let c = 0; c < d; c++) {
        const sd = fr(fr(hi - x[c]!) * scale);
        nearCols[c] = c;
        nearBucket[c] = BUCKET_OF[Math.floor(sd < 176.0 ? (sd > 0.0 ? sd : 0.0) : 176.0)]!;
      }
      nearCount = d;
      farMax = -Infinity;
    }
    const count = this.count;
    count.fill(0);
    const bmax = this.bucketMax;
    bmax.fill(-Infinity);
    for (let j = 0; j < nearCount; j++) {
      const b = nearBucket[j]!;
      const v = x[nearCols[j]!]!;
      if (v > bmax[b]!) bmax[b] = v;
      count[b]!++;
    }
    const fill = this.fill;
    let at = 0;
    for (let b = 0; b < BUCKETS; b++) {
      fill[b] = at;
      at += count[b]!;
    }
    for (let j = 0; j < nearCount; j++) this.bucketCols[fill[nearBucket[j]!]!++] = nearCols[j]!;
    at = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const begin = at;
      const end = at + count[b]!;
      this.bucketStart[b] = Math.max(begin, Math.min(end, m));
      this.bucketEnd[b] = end;
      if (count[b] === 0) bmax[b] = 0;
      at = end;
    }
    this.x = x;
    this.d = d;
    this.k = k;
    this.m = m;
    this.eps = eps;
    this.hi = hi;
    this.scale = scale;
    this.nearBuckets = nearBuckets;
    this.nearCount = nearCount;
    this.farCount = d - nearCount;
    this.farMax = farMax;
    return true;
  }

  /** One sample of the prepared row: sets column, value and drawn. */
  sample(seedLo: number, seedHi: number, offset: number, row: number, sample: number): void {
    const { x, k, m, eps, kh, col, val, z4 } = this;
    let n = 0;
    for (let j = 0; j < m; j++) {
      if ((j & 3) === 0) normal4(seedLo, seedHi, offset, row, sample, (TOP_TAG | (j >>> 2)) >>> 0, z4, 0);
      const c = this.bucketCols[j]!; // T: the first m entries
      const y = fr(x[c]! + fr(eps * z4[j & 3]!));
      kh[n] = rankKey(y);
      col[n] = c;
      val[n] = y;
      n++;
    }
    selectLargest(kh, col, val, n, k);
    n = k;
    let kthHi = kh[k - 1]!;
    let kthCol = col[k - 1]!;
    let kth = val[k - 1]!;
    let drawn = m;
    if (eps > 0) {
      const st = this.stream;
      st.start(seedLo, seedHi, offset, row, sample);
      const { nearBuckets, farCount, hi, scale } = this;
      const nearEnd = this.nearCount; // bucketCols[m, nearEnd): near columns outside T
      for (let b = 0; b <= nearBuckets; b++) {
        const farBucket = b === nearBuckets;
        const begin = farBucket ? nearEnd : this.bucketStart[b]!;
        const count = farBucket ? farCount : this.bucketEnd[b]! - begin;
        if (count === 0) continue;
        const t = lazyThreshold(kth, farBucket ? this.farMax : this.bucketMax[b]!, eps);
        const q = normalTail(t);
        const plan = lazySkipPlan(q);
        if (plan.kind === SKIP_NONE) continue;
        // the columns left (far set included), walked as one bucket when few candidates are expected
        const last = farBucket || (nearEnd - begin + farCount) * q < MERGE_BELOW;
        const every = plan.kind === SKIP_EVERY;
        // lazy_sampler.h truncatedBound: Robert's rate, once per bucket
        const alpha = t >= ROBERT_FROM ? (t + Math.sqrt(t * t + 4.0)) * 0.5 : 0.0;
        const invAlpha = t >= ROBERT_FROM ? 1.0 / alpha : 0.0;
        let kept = false;
        // segment 0: sorted columns; segment 1 (last, far set non-empty): the whole row, far kept
        const segEnd = last && farCount > 0 ? 2 : 1;
        for (let seg = farBucket ? 1 : 0; seg < segEnd; seg++) {
          const farWalk = seg === 1;
          const segCount = farWalk ? this.d : last ? nearEnd - begin : count;
          let at = -1.0;
          for (;;) {
            at = every ? at + 1.0 : lazySkipFrom(at, segCount, st.uniform(), plan);
            if (at >= segCount) break;
            const c = farWalk ? at : this.bucketCols[begin + at]!;
            if (farWalk && !(fr(fr(hi - x[c]!) * scale) >= NEAR_EDGE)) continue; // lazy_sampler.h lazyIsFar
            const y = fr(x[c]! + fr(eps * st.truncatedNormal(t, alpha, invAlpha)));
            drawn++;
            const key = rankKey(y);
            if (key > kthHi || (key === kthHi && c < kthCol)) {
              if (n === m + this.d) {
                // lazy_sampler.h: the scratch full (only under a writer racing the C++ kernel)
                selectLargest(kh, col, val, n, k);
                n = k;
                kthHi = kh[k - 1]!;
                kthCol = col[k - 1]!;
                kth = val[k - 1]!;
              }
              kh[n] = key;
              col[n] = c;
              val[n] = y;
              n++;
              kept = true;
            }
          }
        }
        if (kept) {
          selectLargest(kh, col, val, n, k);
          n = k;
          kthHi = kh[k - 1]!;
          kthCol = col[k - 1]!;
          kth = val[k - 1]!;
        }
        if (last) break;
      }
    }
    this.column = kthCol;
    this.value = kth;
    this.drawn = drawn;
  }
}

/** The row length from which the default is 'lazy' (docs/lazy-sampler.md: the measured crossover). */
export const LAZY_DEFAULT_MIN_D = 4096;

/**
 * The sampler a seeded call uses when none is given: a fixed rule of the shape only, so results
 * stay a pure function of seed, shape and inputs. 'lazy' from LAZY_DEFAULT_MIN_D columns up,
 * where it measured faster than the pruned dense path (one thread, same run: 1.22x at d = 4096,
 * 1.58x at 8192, 1.21x at 10000), 'dense' below (0.29x at d = 100, 0.49x at 300, 0.73x at 1000,
 * 0.97x at 2000). k is part of the signature for a rule that needs it; today's does not (rows
 * with k close to d take the dense path either way).
 */
export function defaultSampler(d: number, k: number): SamplerName {
  void k;
  return d >= LAZY_DEFAULT_MIN_D ? 'lazy' : 'dense';
}
