// The mean rule (docs/determinism.md, "Means over samples"), shared by test/sample-mean.test.ts
// and the CPU identity suites (which run it on the baseline, AVX2 and widest CPU paths):
// `values` is the float64 mean of `sampleValues` in sample order, rounded once to float32.
import type { SamplerName } from '../lib/addon.js';
import { functional } from '../lib/index.js';
import { mulberry32 } from './helpers.js';

const fr = Math.fround;

/** fl32(sum_s double(v_s) / S), the sum in sample order from +0: the documented rule. */
export function float64Mean(samples: Float32Array, rows: number, S: number): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let s = 0; s < S; s++) sum += samples[r * S + s]!;
    out[r] = fr(sum / S);
  }
  return out;
}

/** The rule this replaces (the control): a float32 running sum in sample order, then / S. */
export function float32RunningMean(samples: Float32Array, rows: number, S: number): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let s = 0; s < S; s++) sum = fr(sum + samples[r * S + s]!);
    out[r] = fr(sum / S);
  }
  return out;
}

/** Distance in float32 steps between two finite floats of the same sign. */
export function ulpDistance(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const u = new Int32Array(f.buffer);
  return Math.abs(u[0]! - u[1]!);
}

export interface AuditCase {
  name: string;
  rows: number;
  d: number;
  k: number;
  nSample: number;
  epsilon: number;
  x: Float32Array;
  /** How far (in ulp) the float32 running sum's mean is from the float64 mean on at least one row. */
  controlUlp: number;
}

/** The audit's rows (issue 21, item 6): near 3e7 with nSample 1000, |x| ~ 1e6 with nSample 4096. */
export function auditCases(): AuditCase[] {
  const r = mulberry32(2106);
  const near3e7 = new Float32Array(2 * 64);
  // Every perturbed value is 30,000,010 or a float32 neighbour (spacing 2 there).
  for (let i = 0; i < near3e7.length; i++) near3e7[i] = 30_000_010 + 2 * Math.floor(r() * 3 - 1);
  const near1e6 = new Float32Array(2 * 32);
  for (let i = 0; i < near1e6.length; i++) near1e6[i] = (i < 32 ? 1 : -1) * (1e6 + 3 * r());
  return [
    // The float32 running sum drifts by about 300 (150 ulp) here.
    {
      name: 'rows near 3e7, nSample 1000',
      rows: 2,
      d: 64,
      k: 1,
      nSample: 1000,
      epsilon: 1,
      x: near3e7,
      controlUlp: 50,
    },
    { name: '|x| ~ 1e6, nSample 4096', rows: 2, d: 32, k: 2, nSample: 4096, epsilon: 1, x: near1e6, controlUlp: 50 },
  ];
}

export interface MeanRun {
  values: Float32Array;
  sampleValues: Float32Array;
  indices: Int32Array;
}

export function runCase(c: AuditCase, backend: 'js' | 'cpu', sampler: SamplerName): MeanRun {
  const res = functional.noisedTopK(c.x, [c.rows, c.d], {
    k: c.k,
    dim: 1,
    epsilon: c.epsilon,
    nSample: c.nSample,
    seed: 2106n,
    offset: 0,
    sampler,
    backend,
  });
  return { values: res.values, sampleValues: res.sampleValues, indices: res.indices };
}
