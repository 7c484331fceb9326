// Student's t quantile, for intervals from a Monte-Carlo standard error (docs/api.md,
// "Monte-Carlo error"). (value - mean) / standardError of nSample draws follows Student's t with
// nSample - 1 degrees of freedom (exactly when the draws are normal, approximately otherwise), so
// a level-L interval is value +- tQuantile(nSample - 1, (1 + L) / 2) * standardError. Plain
// float64 code, no dependency.
import { describe } from './validate.js';

/** Degrees of freedom from which the quantile comes from the Cornish-Fisher expansion. */
const EXPANSION_FROM = 1000;

/**
 * P(|T| <= t) for t >= 0 and T ~ t(df), df a positive integer, by the finite trigonometric series
 * (Abramowitz and Stegun 26.7.3 and 26.7.4) with theta = atan(t / sqrt(df)). O(df) terms.
 */
function twoSidedCdf(t: number, df: number): number {
  const r = Math.sqrt(df + t * t);
  const sinT = t / r;
  const cosT = Math.sqrt(df) / r;
  const c2 = cosT * cosT;
  let sum = 1;
  let term = 1;
  if (df % 2 === 1) {
    const theta = Math.atan2(t, Math.sqrt(df));
    if (df === 1) return (2 / Math.PI) * theta;
    for (let j = 1; j <= (df - 3) / 2; j++) {
      term *= (c2 * (2 * j)) / (2 * j + 1);
      sum += term;
    }
    return (2 / Math.PI) * (theta + sinT * cosT * sum);
  }
  for (let j = 1; j <= (df - 2) / 2; j++) {
    term *= (c2 * (2 * j - 1)) / (2 * j);
    sum += term;
  }
  return sinT * sum;
}

/** erfc(x) for x >= 0: the Taylor series of erf below 2, Laplace's continued fraction above. */
function erfc(x: number): number {
  if (x < 2) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 100; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))), from the tail.
  let k = x;
  for (let n = 200; n >= 1; n--) k = x + n / 2 / k;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * k);
}

/** The t >= 0 at which a decreasing upper tail equals q in (0, 1/2], by bracketing and bisection. */
function solveUpperTail(tail: (t: number) => number, q: number): number {
  let lo = 0;
  let hi = 1;
  while (tail(hi) > q) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return Infinity;
  }
  for (let i = 0; i < 2000 && hi - lo > 4e-16 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (tail(mid) > q) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** Phi^-1(1 - q) for q in (0, 1/2]. */
function normalUpperQuantile(q: number): number {
  return solveUpperTail((z) => 0.5 * erfc(z / Math.SQRT2), q);
}

/**
 * The p-quantile of Student's t distribution with `df` degrees of freedom: the t with
 * P(T <= t) = p. df is a positive integer (nSample - 1 for an interval from `standardError`);
 * p in (0, 1). The exact series up to 1000 degrees of freedom (solved by bisection), the
 * Cornish-Fisher expansion to the fourth order above: about 1e-12 relative for p in
 * [0.001, 0.999], less in the far tails (1e-10 at p = 1e-6, where 1 - P(|T| <= t) cancels). For example
 * tQuantile(4, 0.975) = 2.7764: the 95% interval at nSample = 5 is value +- 2.78 standard errors,
 * where +- 1.96 covers only 87.8%.
 */
export function tQuantile(df: number, p: number): number {
  if (typeof df !== 'number') throw new TypeError(`df must be a number, got ${describe(df)}`);
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`df must be an integer >= 1, got ${describe(df)}`);
  if (typeof p !== 'number') throw new TypeError(`p must be a number, got ${describe(p)}`);
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${describe(p)}`);
  if (p === 0.5) return 0;
  const q = p < 0.5 ? p : 1 - p; // the upper tail beyond |t|
  let t: number;
  if (df <= EXPANSION_FROM) {
    t = solveUpperTail((x) => 0.5 * (1 - twoSidedCdf(x, df)), q);
  } else {
    // Cornish-Fisher (Abramowitz and Stegun 26.7.5): t = z + g1/df + g2/df^2 + g3/df^3 + g4/df^4.
    const z = normalUpperQuantile(q);
    const z2 = z * z;
    const g1 = (z * (z2 + 1)) / 4;
    const g2 = (z * ((5 * z2 + 16) * z2 + 3)) / 96;
    const g3 = (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / 384;
    const g4 = (z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945)) / 92160;
    t = z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df;
  }
  return p < 0.5 ? -t : t;
}
