// (value - mean) / standardError follows Student's t with nSample - 1 degrees of freedom, not
// N(0, 1): at nSample = 5, 12.2% of values fall outside +- 1.96 standard errors. tQuantile gives
// the t quantile, NoisedTopKResult.confidenceInterval(level) the interval (docs/api.md).
//   - tQuantile against reference quantiles (scipy.stats.t.ppf, float64), on both of its methods;
//   - coverage, statistically: on rows whose samples are normal (one column far above the rest,
//     so value = x + eps * z), the 95% interval at nSample = 5 covers the true mean in 95% of
//     20,000 slices within binomial error (level 1e-4), on both samplers; the control, the same
//     interval with the normal quantile 1.96, is rejected (its coverage is 87.8%).
import { describe, expect, it } from 'vitest';
import { functional, NoisedTopK, tQuantile } from '../lib/index.js';
import { testedBackends } from './helpers.js';
import { normalCdf } from './stats-kit.js';

// [df, p, scipy.stats.t.ppf(p, df)]
const REFERENCE: [number, number, number][] = [
  [1, 0.975, 12.706204736174694],
  [2, 0.975, 4.302652729749462],
  [4, 0.975, 2.7764451051977934],
  [4, 0.995, 4.604094871349992],
  [5, 0.975, 2.5705818356363146],
  [10, 0.975, 2.228138851986274],
  [30, 0.975, 2.0422724563012378],
  [100, 0.975, 1.9839715185235518],
  [1000, 0.975, 1.9623390808264083],
  [1001, 0.975, 1.9623367052808798],
  [5000, 0.9, 1.2817209053357184],
  [16777215, 0.975, 1.9599641259384564],
  [1, 0.95, 6.313751514675037],
  [3, 1e-6, -103.29946778041935],
  [4, 0.025, -2.7764451051977943],
  [999, 0.999, 3.098410361753312],
  [2, 0.6, 0.2886751345948128],
];

describe('tQuantile(df, p)', () => {
  it('matches reference quantiles to 1e-12 relative for p in [0.001, 0.999], 1e-9 in the far tail', () => {
    for (const [df, p, want] of REFERENCE) {
      const tol = p >= 0.001 && p <= 0.999 ? 1e-12 : 1e-9;
      expect(Math.abs(tQuantile(df, p) - want), `df ${df} p ${p}`).toBeLessThanOrEqual(tol * Math.abs(want));
    }
    expect(tQuantile(7, 0.5)).toBe(0);
    // Symmetric, increasing in p, and towards the normal quantile as df grows.
    expect(tQuantile(9, 0.1)).toBe(-tQuantile(9, 0.9));
    expect(tQuantile(9, 0.91)).toBeGreaterThan(tQuantile(9, 0.9));
    expect(tQuantile(2 ** 24 - 1, 0.975)).toBeGreaterThan(1.959963984540054);
  });

  it('at df 4, +- 1.96 holds 87.8% (12.2% outside), +- tQuantile(4, 0.975) 95%', () => {
    // P(|T| > 1.96) at df 4 = 0.12155 (scipy: 2 * t.sf(1.96, 4)); cross-check through the quantile.
    expect(tQuantile(4, 1 - 0.12155463985018358 / 2)).toBeCloseTo(1.96, 9);
  });

  it('names the parameter, the expectation and the value when refused', () => {
    expect(() => tQuantile('4' as unknown as number, 0.9)).toThrow(TypeError);
    expect(() => tQuantile(0, 0.9)).toThrow(/^df must be an integer >= 1, got 0/);
    expect(() => tQuantile(2.5, 0.9)).toThrow(RangeError);
    expect(() => tQuantile(4, 1)).toThrow(/^p must be in \(0, 1\), got 1/);
    expect(() => tQuantile(4, Number.NaN)).toThrow(RangeError);
    expect(() => tQuantile(4, null as unknown as number)).toThrow(/^p must be a number, got null/);
  });
});

describe('NoisedTopKResult.confidenceInterval(level)', () => {
  const backend = testedBackends().includes('cpu') ? 'cpu' : 'js';
  const rows = 20_000;
  const d = 64;
  const S = 5;
  const TRUE_MEAN = 10; // x[0] = 10, the others 0: the k = 1 value is 10 + z in every sample here
  const x = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) x[r * d] = TRUE_MEAN;

  /** Two-sided binomial z-test p-value of `hits` of n against rate p. */
  const pValue = (hits: number, n: number, p: number): number => {
    const z = (hits - n * p) / Math.sqrt(n * p * (1 - p));
    return 2 * (1 - normalCdf(Math.abs(z)));
  };

  for (const sampler of ['dense', 'lazy'] as const) {
    it(`${backend} ${sampler}: the 95% interval at nSample 5 covers the mean in 95%; +- 1.96 SE does not (control)`, () => {
      const r = functional.noisedTopK(x, [rows, d], {
        k: 1,
        dim: 1,
        nSample: S,
        seed: 2105n,
        offset: 0,
        sampler,
        backend,
      });
      for (let i = 0; i < r.indices.length; i++) expect(r.indices[i]).toBe(0);
      const { lower, upper } = r.confidenceInterval(0.95);
      const se = r.standardError;
      let covered = 0;
      let coveredNormal = 0;
      for (let i = 0; i < rows; i++) {
        if (lower[i]! <= TRUE_MEAN && TRUE_MEAN <= upper[i]!) covered++;
        if (Math.abs(r.values[i]! - TRUE_MEAN) <= 1.959963984540054 * se[i]!) coveredNormal++;
      }
      const pT = pValue(covered, rows, 0.95);
      const pNormal = pValue(coveredNormal, rows, 0.95);
      console.log(
        `${sampler}: t interval ${((100 * covered) / rows).toFixed(2)}% (p = ${pT.toPrecision(3)}), normal ${((100 * coveredNormal) / rows).toFixed(2)}% (p = ${pNormal.toExponential(2)})`,
      );
      expect(pT).toBeGreaterThan(1e-4);
      expect(pNormal).toBeLessThan(1e-4);
    });
  }

  it('is values +- t * standardError, NaN at nSample 1, and refuses a bad level', () => {
    const small = new Float32Array([1, 3, 2, 0, 5, 4]);
    const r = new NoisedTopK({ k: 2, nSample: 7, seed: 1 }).forward(small, [2, 3]);
    const { lower, upper } = r.confidenceInterval(0.9);
    const t = tQuantile(6, 0.95);
    for (let i = 0; i < 2; i++) {
      expect(lower[i]).toBe(r.values[i]! - t * r.standardError[i]!);
      expect(upper[i]).toBe(r.values[i]! + t * r.standardError[i]!);
    }
    const one = new NoisedTopK({ k: 2, nSample: 1, seed: 1 }).forward(small, [2, 3]).confidenceInterval();
    expect(Number.isNaN(one.lower[0])).toBe(true);
    expect(() => r.confidenceInterval(1)).toThrow(/^level must be in \(0, 1\), got 1/);
    expect(() => r.confidenceInterval('0.9' as unknown as number)).toThrow(TypeError);
  });
});
