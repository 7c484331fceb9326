// Two-sample tests for the sampler exactness tests: Kolmogorov-Smirnov on values and
// chi-square homogeneity on selected columns, with p-values.

/** ln Gamma(x), x > 0 (Lanczos, g = 7, 9 terms: about 15 digits). */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (series below a + 1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lead = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lead));
  }
  // Lentz's algorithm for the continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(lead) * h;
}

export interface TestResult {
  statistic: number;
  p: number;
  df?: number;
}

/** Two-sample Kolmogorov-Smirnov test (asymptotic p-value with Stephens' correction). */
export function ks2(a: ArrayLike<number>, b: ArrayLike<number>): TestResult {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length;
  const m = y.length;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < n && x[i]! <= v) i++;
    while (j < m && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return { statistic: d, p: kolmogorovP(d, Math.sqrt((n * m) / (n + m))) };
}

/** The asymptotic p-value of a KS statistic d at effective size ne (Stephens' correction). */
export function kolmogorovP(d: number, ne: number): number {
  const lambda = (ne + 0.12 + 0.11 / ne) * d;
  if (lambda <= 0.3) return 1;
  let p = 0;
  for (let k = 1; k <= 100; k++) p += 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
  return Math.min(1, Math.max(0, p));
}

/** The standard normal CDF via erfc (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(poly);
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** One-sample Kolmogorov-Smirnov test of z against N(0, 1). */
export function ksNormal(z: ArrayLike<number>): TestResult {
  const x = Float64Array.from(z).sort();
  const n = x.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = normalCdf(x[i]!);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return { statistic: d, p: kolmogorovP(d, Math.sqrt(n)) };
}

/**
 * Chi-square test that two samples of selected columns come from one law. Columns whose
 * combined count is below minCount are pooled into one bin.
 */
export function chi2Homogeneity(a: ArrayLike<number>, b: ArrayLike<number>, d: number, minCount = 10): TestResult {
  const ca = new Float64Array(d);
  const cb = new Float64Array(d);
  for (let i = 0; i < a.length; i++) ca[a[i]!]!++;
  for (let i = 0; i < b.length; i++) cb[b[i]!]!++;
  const bins: [number, number][] = [];
  let pa = 0;
  let pb = 0;
  for (let c = 0; c < d; c++) {
    if (ca[c]! + cb[c]! >= minCount) bins.push([ca[c]!, cb[c]!]);
    else {
      pa += ca[c]!;
      pb += cb[c]!;
    }
  }
  if (pa + pb > 0) bins.push([pa, pb]);
  const na = a.length;
  const nb = b.length;
  let stat = 0;
  for (const [oa, ob] of bins) {
    const tot = oa + ob;
    const ea = (tot * na) / (na + nb);
    const eb = (tot * nb) / (na + nb);
    stat += (oa - ea) ** 2 / ea + (ob - eb) ** 2 / eb;
  }
  const df = bins.length - 1;
  return { statistic: stat, df, p: df < 1 ? 1 : gammaQ(df / 2, stat / 2) };
}
