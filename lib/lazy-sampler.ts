// TypeScript twin of native/core/lazy_sampler.h (the 'lazy' sampler) and of the row
// preparation of native/cpu/lazy_cpu.cpp. Read the header for the construction and for where
// its law is exact. Bit identity with the C++ code rests on:
//   - binary64: a JavaScript number is an IEEE-754 double, and every +, -, *, /, Math.sqrt and
//     Math.floor below is the same correctly rounded operation as in the header, in the same
//     order (the C++ is built with -ffp-contract=off, so no FMA is formed there either);
//   - binary32: Math.fround after each float operation, as in stream.ts;
//   - the same Philox counters and the same order of word consumption.
// Keep every constant and every operation order identical to the header's.
import { boxMuller, philox4x32_10, rankKey } from './stream.js';

const fr = Math.fround;

/** The seeded samplers: 'dense' draws every normal of the stream, 'lazy' only those that can matter. */
import type { SamplerName } from './addon.js';

export type { SamplerName };
export const SAMPLERS: readonly SamplerName[] = ['lazy', 'dense'];

const TAIL_TAG = 0xc0000000;
const MAX_LAZY_D = 2 ** 24;
const Z_BOUND = 64.0;
const SAFE_MAGNITUDE = 1.0e38;
const ROBERT_FROM = 0.5;

const LN2_HI = 0.6931471803691238; // the doubles of lazy_sampler.h's literals, shortest form
const LN2_LO = 1.9082149292705877e-10;
const INV_LN2 = Math.LOG2E;
const SQRT2 = Math.SQRT2;
const INV_SQRT_2PI = 0.3989422804014327;

/** m = k + 8 + floor(k / 4): a row takes the lazy path only when 2 m <= d (lazy_sampler.h lazyTopCount). */
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
  if (!(t < 38.0)) return 0.0; // NaN too (lazy_sampler.h: total)
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

/** lazy_sampler.h bins: kBins, kBinSteps, BinTable (the bin of floor(clamped s)). */
const BINS = 129;
const BIN_STEPS = 704;
const BIN_OF = Uint8Array.from({ length: BIN_STEPS + 1 }, (_, j) =>
  j < 64 ? j : j < 192 ? 64 + ((j - 64) >> 2) : j < BIN_STEPS ? 96 + ((j - 192) >> 4) : 128,
);
/** lazy_sampler.h lazyBinEnd: the scaled distance where bin b < 128 ends. */
const BIN_END = Int32Array.from({ length: BINS }, (_, b) =>
  b < 64 ? b + 1 : b < 96 ? 64 + 4 * (b - 64) + 4 : 192 + 16 * (b - 96) + 16,
);

/** lazy_sampler.h lazyBinScale: float32(16 / eps), capped at 2^100. */
function lazyBinScale(eps: number): number {
  const s = fr(16.0 / eps);
  return s < 1.2676506002282294e30 ? s : 1.2676506002282294e30;
}

const GRID_PER_EPS = 32;
const GRID_LO = -84 * GRID_PER_EPS;
const GRID_HI = 40 * GRID_PER_EPS;
const MAX_STAGES = 6;
const GROUP_SLACK = 0.125;
export const MIN_Q = 1.0e-300;
const DRAW_ABOVE = 0;
const DRAW_BELOW = 1;
const DRAW_UNIFORM = 2;
const DRAW_PLAIN = 3;

/** lazy_sampler.h lazyTarget: k + 1 + 2.5 sqrt(k + 1). */
function lazyTarget(k: number): number {
  const k1 = k + 1.0;
  return k1 + 2.5 * Math.sqrt(k1);
}

/** lazy_sampler.h lazyGridValue: float32(x_max + a eps / 32). */
function lazyGridValue(hi: number, a: number, eps: number): number {
  return fr(hi + a * 0.03125 * eps);
}

/** lazy_sampler.h lazyEnough: whether the histogram's lower bound of E at grid point a reaches target. */
function lazyEnough(binCount: Uint32Array, total: number, a: number, target: number): boolean {
  if (tailQ === null) fillTailTable();
  const tq = tailQ!;
  let rest = total;
  let sum = 0.0;
  for (let b = 0; b + 1 < BINS; b++) {
    const n = binCount[b]!;
    if (n === 0) continue;
    const i = a + 2 * BIN_END[b]! + 38 * GRID_PER_EPS;
    const q = i >= TAIL_GRID_POINTS - 1 ? 0.0 : i <= 0 ? 1.0 : tq[i]!;
    sum = sum + n * q;
    if (sum >= target) return true;
    rest = rest - n;
    if (sum + rest * q < target) return false;
  }
  return false;
}

/** lazy_sampler.h lazySearchGrid: the largest grid point below `below` with lazyEnough, or GRID_LO - 1. */
function lazySearchGrid(binCount: Uint32Array, target: number, below: number): number {
  let total = 0.0;
  for (let b = 0; b + 1 < BINS; b++) total = total + binCount[b]!;
  if (below <= GRID_LO || !lazyEnough(binCount, total, GRID_LO, target)) return GRID_LO - 1;
  let lo = GRID_LO;
  let hi = below;
  while (hi - lo > 1) {
    const mid = lo + Math.trunc((hi - lo) / 2);
    if (lazyEnough(binCount, total, mid, target)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** (w + 1/2) 2^-32: in the open (0, 1) for every 32-bit word (lazy_sampler.h uniformOpen). */
export function uniformOpen(w: number): number {
  return (w + 0.5) * 2.3283064365386963e-10;
}

/** lazy_sampler.h SkipLaw / skipLaw: q in {0} or [MIN_Q, 1], ln(1 - q), 1 / ln(1 - q). */
export class SkipLaw {
  q = 0;
  lq = 0;
  invLq = 0;
  set(q: number): void {
    this.q = q >= MIN_Q ? (q < 1.0 ? q : 1.0) : 0.0;
    this.lq = 0.0;
    this.invLq = 0.0;
    if (this.q > 0.0 && this.q < 1.0) {
      this.lq = logOneMinus(this.q);
      this.invLq = 1.0 / this.lq;
    }
  }
  copy(o: SkipLaw): void {
    this.q = o.q;
    this.lq = o.lq;
    this.invLq = o.invLq;
  }
}

/** lazy_sampler.h skipLaw. */
export function skipLaw(q: number): SkipLaw {
  const s = new SkipLaw();
  s.set(q);
  return s;
}

/**
 * lazy_sampler.h skipNext: the next candidate's position after `at` in a group of `count`
 * columns, or `count` when none is left; total for every law and every u in (0, 1).
 */
export function skipNext(at: number, count: number, u: number, sk: SkipLaw): number {
  if (sk.q >= 1.0) return at + 1.0;
  if (!(sk.q > 0.0)) return count;
  const left = count - (at + 1.0);
  if (u - 1.0 <= left * sk.lq) return count;
  return at + 1.0 + Math.floor(logPositive(u) * sk.invLq);
}

/** lazy_sampler.h DrawLaw / drawLaw: N(0, 1) on (a, b], and how it is drawn. */
class DrawLaw {
  mode = DRAW_PLAIN;
  a = 0;
  b = 0;
  c = 0;
  t = 0; // truncatedBound: t, alpha, invAlpha
  alpha = 0;
  invAlpha = 0;
  private bound(t: number): void {
    this.t = t;
    this.alpha = 0.0;
    this.invAlpha = 0.0;
    if (t >= ROBERT_FROM) {
      this.alpha = (t + Math.sqrt(t * t + 4.0)) * 0.5;
      this.invAlpha = 1.0 / this.alpha;
    }
  }
  set(a: number, b: number): void {
    if (!(a < b)) {
      a = -Infinity;
      b = Infinity;
    }
    this.mode = DRAW_PLAIN;
    this.a = a;
    this.b = b;
    this.c = 0.0;
    this.bound(0.0);
    if (a >= 0.0) {
      if (normalTail(b) <= 0.5 * normalTail(a)) {
        this.mode = DRAW_ABOVE;
        this.bound(a);
      } else {
        this.mode = DRAW_UNIFORM;
        this.c = a;
      }
    } else if (b <= 0.0) {
      if (normalTail(0.0 - a) <= 0.5 * normalTail(0.0 - b)) {
        this.mode = DRAW_BELOW;
        this.bound(0.0 - b);
      } else {
        this.mode = DRAW_UNIFORM;
        this.c = b;
      }
    } else if (b - a <= 2.0) {
      this.mode = DRAW_UNIFORM;
    }
  }
  copy(o: DrawLaw): void {
    this.mode = o.mode;
    this.a = o.a;
    this.b = o.b;
    this.c = o.c;
    this.t = o.t;
    this.alpha = o.alpha;
    this.invAlpha = o.invAlpha;
  }
}

/** lazy_sampler.h conditionalTail: P(Z > a | Z <= b). */
function conditionalTail(a: number, b: number): number {
  if (!(a < b)) return 0.0;
  if (b <= 0.0) {
    const pb = normalTail(0.0 - b);
    if (!(pb > 0.0)) return 1.0;
    return (pb - normalTail(0.0 - a)) / pb;
  }
  const qb = normalTail(b);
  return (normalTail(a) - qb) / (1.0 - qb);
}

/** lazy_sampler.h LazyGroup. */
class LazyGroup {
  begin = 0;
  end = 0;
  u = 0;
  tau = 0;
  readonly skip = new SkipLaw();
  readonly law = new DrawLaw();
}

/** The test hook's raise of the first threshold, in grid points (lazy_cpu.h lazySetTestRaise). */
let testRaise = 0;

/**
 * Test hook, not part of the package's API (lib/index.ts does not export it): raises the first
 * threshold of every row prepared from now on by n grid points (eps / 32 each), as the addon's
 * `_lazyTestRaise`, so that the descent runs in most samples. 0 turns it off.
 */
export function _lazyTestRaise(n: number): void {
  testRaise = n > 0 ? Math.floor(n) : 0;
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

  /** lazy_sampler.h tailUniform. */
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

  /** lazy_sampler.h truncatedNormal: z ~ N(0, 1) given z > t, binary64 (not rounded). */
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
      if (v - 1.0 <= bound || logPositive(v) <= bound) return z;
    }
  }

  /** lazy_sampler.h drawZ: one z from the law w, binary64. */
  drawZ(w: DrawLaw): number {
    for (;;) {
      if (w.mode === DRAW_ABOVE) {
        const z = this.truncatedNormal(w.t, w.alpha, w.invAlpha);
        if (z <= w.b) return z;
      } else if (w.mode === DRAW_BELOW) {
        const z = 0.0 - this.truncatedNormal(w.t, w.alpha, w.invAlpha);
        if (z > w.a) return z;
      } else if (w.mode === DRAW_UNIFORM) {
        const z = w.a + (w.b - w.a) * this.uniform();
        const bound = (w.c - z) * (w.c + z) * 0.5;
        const v = this.uniform();
        if (v - 1.0 <= bound || logPositive(v) <= bound) return z;
      } else {
        const z = this.normal();
        if (z > w.a && z <= w.b) return z;
      }
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
  private k = 1;
  private eps = 0;
  private hi = 0;
  private a1 = 0;
  private t1 = 0;
  private groups = 0;
  private readonly group: LazyGroup[] = Array.from({ length: BINS }, () => new LazyGroup());
  private binOf = new Uint8Array(0);
  private cols = new Uint32Array(0);
  private readonly binCount = new Uint32Array(BINS);
  private readonly binMax = new Float64Array(BINS);
  private readonly fill = new Uint32Array(BINS);
  private kh = new Uint32Array(0);
  private col = new Uint32Array(0);
  private val = new Float32Array(0);
  private marks = new Uint32Array(0);
  private readonly stream = new TailStream();
  private readonly sk = new SkipLaw();
  private readonly law = new DrawLaw();
  /** The last sample's result. */
  column = 0;
  value = 0;
  /** Work of the last sample: candidates drawn (normals), and stages (1 + the descents). */
  drawn = 0;
  stages = 0;

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
    if (this.kh.length < d) {
      this.kh = new Uint32Array(d);
      this.col = new Uint32Array(d);
      this.val = new Float32Array(d);
      this.cols = new Uint32Array(d);
      this.binOf = new Uint8Array(d);
      this.marks = new Uint32Array((d + 31) >>> 5);
    }
    // lazy_sampler.h lazyBinFrom: bin, count and largest x from one read of each value
    const scale = lazyBinScale(eps);
    const { binOf, binCount, binMax } = this;
    binCount.fill(0);
    binMax.fill(-Infinity);
    for (let c = 0; c < d; c++) {
      const v = x[c]!;
      const sd = fr(fr(hi - v) * scale);
      const p = sd > 0.0 ? sd : 0.0;
      const b = BIN_OF[Math.floor(p < BIN_STEPS ? p : BIN_STEPS)]!;
      binOf[c] = b;
      binCount[b]!++;
      if (v > binMax[b]!) binMax[b] = v;
    }
    // lazy_sampler.h lazyFinishRow
    let a1 = lazySearchGrid(binCount, lazyTarget(k), GRID_HI);
    if (a1 < GRID_LO) return false;
    a1 = a1 + (testRaise > 0 ? Math.min(testRaise, GRID_HI - a1) : 0);
    const t1 = lazyGridValue(hi, a1, eps);
    let groups = 0;
    let at = 0;
    let extra = 0.0;
    for (let b = 0; b < BINS; b++) {
      const n = binCount[b]!;
      if (n === 0) continue;
      const ub = binMax[b]!;
      if (groups > 0) {
        const g = this.group[groups - 1]!;
        const qg = g.skip.q;
        let merge = false;
        if (ub <= g.u) {
          if (extra + n * qg <= GROUP_SLACK) {
            merge = true;
            extra = extra + n * qg;
          } else {
            const qb = normalTail(lazyThreshold(t1, ub, eps));
            const more = n * (qg - qb);
            if (extra + more <= GROUP_SLACK) {
              merge = true;
              extra = extra + more;
            }
          }
        }
        if (merge) {
          g.end = at + n;
          at += n;
          continue;
        }
      }
      const g = this.group[groups++]!;
      g.begin = at;
      g.end = at + n;
      g.u = ub;
      g.tau = lazyThreshold(t1, ub, eps);
      g.skip.set(normalTail(g.tau));
      g.law.set(g.tau, Infinity);
      extra = 0.0;
      at += n;
    }
    const fill = this.fill;
    at = 0;
    for (let b = 0; b < BINS; b++) {
      fill[b] = at;
      at += binCount[b]!;
    }
    const cols = this.cols;
    for (let c = 0; c < d; c++) cols[fill[binOf[c]!]!++] = c;
    this.x = x;
    this.k = k;
    this.eps = eps;
    this.hi = hi;
    this.a1 = a1;
    this.t1 = t1;
    this.groups = groups;
    return true;
  }

  /** One sample of the prepared row (lazy_sampler.h lazySample): sets column, value, drawn and stages. */
  sample(seedLo: number, seedHi: number, offset: number, row: number, sample: number): void {
    const { x, k, eps, kh, col, val, marks, cols, sk, law } = this;
    const st = this.stream;
    st.start(seedLo, seedHi, offset, row, sample);
    let n = 0;
    let stage = 1;
    let a = this.a1;
    let t = this.t1;
    let tPrev = this.t1;
    let last = false;
    for (;;) {
      for (let gi = 0; gi < this.groups; gi++) {
        const g = this.group[gi]!;
        if (stage > 1) {
          const tauPrev = stage === 2 ? g.tau : lazyThreshold(tPrev, g.u, eps);
          const tau = last ? -Infinity : lazyThreshold(t, g.u, eps);
          sk.set(last ? 1.0 : conditionalTail(tau, tauPrev));
          if (sk.q <= 0.0) continue;
          law.set(tau, tauPrev);
        } else {
          sk.copy(g.skip);
          law.copy(g.law);
        }
        if (sk.q <= 0.0) continue;
        const every = sk.q >= 1.0;
        const countD = g.end - g.begin;
        let pos = -1.0;
        for (;;) {
          pos = every ? pos + 1.0 : skipNext(pos, countD, st.uniform(), sk); // `every` draws no uniform
          if (pos >= countD) break;
          const c = cols[g.begin + pos]!;
          const bit = 1 << (c & 31);
          if ((marks[c >>> 5]! & bit) !== 0) continue; // drawn at an earlier stage
          marks[c >>> 5] = marks[c >>> 5]! | bit;
          const y = fr(x[c]! + fr(eps * fr(st.drawZ(law))));
          kh[n] = rankKey(y);
          col[n] = c;
          val[n] = y;
          n++;
        }
      }
      let reached = 0;
      for (let i = 0; i < n; i++) if (val[i]! >= t) reached++;
      if (last || reached >= k) break;
      tPrev = t;
      a = a - stage * GRID_PER_EPS;
      stage++;
      if (stage > MAX_STAGES || a < GRID_LO) last = true;
      else t = lazyGridValue(this.hi, a, eps);
    }
    selectLargest(kh, col, val, n, k);
    this.column = col[k - 1]!;
    this.value = val[k - 1]!;
    this.drawn = n;
    this.stages = stage;
    for (let i = 0; i < n; i++) marks[col[i]! >>> 5] = 0; // leave the marks all 0
  }
}

/**
 * The row length from which the default is 'lazy' (bench/results/corpus-native.md and
 * crossover-native.md, docs/lazy-sampler.md#the-default): placed between d = 3072, where 'dense'
 * measured faster on every family (1.2x to 1.6x), and d = 3879 (the demo's region logits), where
 * 'lazy' measured faster (1.07x to 1.10x).
 */
export const LAZY_DEFAULT_MIN_D = 3584;

/**
 * The sampler a seeded call uses when none is given: a fixed rule of the shape only, so results
 * stay a pure function of seed, shape and inputs. 'lazy' from LAZY_DEFAULT_MIN_D columns up,
 * where it measured at least as fast as the pruned dense path on every corpus file and family
 * (one thread, the same run, load below 1.5: 1.07x to 1.10x at d = 3879, 1.04x to 1.65x from
 * d = 10,000), 'dense' below (0.30x to 0.41x at d = 246, 0.40x to 0.62x at 1000, 0.54x to 0.81x
 * at 2048 and 3072). k is part of the signature for a rule that needs it; today's does not
 * (rows with k close to d take the dense path either way).
 */
export function defaultSampler(d: number, k: number): SamplerName {
  void k;
  return d >= LAZY_DEFAULT_MIN_D ? 'lazy' : 'dense';
}
