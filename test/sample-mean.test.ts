// Every mean over samples (and the losses' mean over rows) is a float64 sum in a fixed order,
// rounded once to float32 (docs/determinism.md, "Means over samples"): `values` equals the
// float64 mean of `sampleValues` rounded once, bit for bit, on 'js' and 'cpu', both samplers
// and explicit noise, including the audit's rows (issue 21, item 6), where the float32 running
// sum it replaced was hundreds of ulp off (the control below shows that rule fails the check).
// The gradient of a selected column is fl32(count * gradOutput / nSample), one rounding; the
// losses' 'mean' is fl32(sum_r double(w_r l_r) / sum_r double(w_r)).
import { describe, expect, it } from 'vitest';
import type { SamplerName } from '../lib/addon.js';
import { functional } from '../lib/index.js';
import { resolveOpsKernel } from '../lib/ops-kernel.js';
import { normal4 } from '../lib/stream.js';
import { perturbedBackwardCall, perturbedForwardCall } from './addon-calls.js';
import { bits } from './fuzz-kit.js';
import { mulberry32, randomArray, testedBackends } from './helpers.js';
import { auditCases, float32RunningMean, float64Mean, runCase, ulpDistance } from './sample-mean-cases.js';

const backends = testedBackends();
const samplers: SamplerName[] = ['dense', 'lazy'];
const fr = Math.fround;

describe('values: the float64 mean of sampleValues, rounded once', () => {
  for (const c of auditCases()) {
    it(`${c.name}: every backend and sampler, bit for bit; the float32 running sum is ${c.controlUlp}+ ulp off`, () => {
      const runs = new Map<string, ReturnType<typeof runCase>>();
      for (const backend of backends) {
        for (const sampler of samplers) {
          const r = runCase(c, backend, sampler);
          expect(bits(r.values), `${backend} ${sampler}`).toEqual(bits(float64Mean(r.sampleValues, c.rows, c.nSample)));
          // The control: the old rule disagrees with these very samples by many ulp on some row.
          const old = float32RunningMean(r.sampleValues, c.rows, c.nSample);
          const worst = Math.max(...Array.from(old, (v, row) => ulpDistance(v, r.values[row]!)));
          expect(worst, `${backend} ${sampler}: the float32 running sum's error`).toBeGreaterThanOrEqual(c.controlUlp);
          runs.set(`${backend} ${sampler}`, r);
        }
      }
      // The two samplers draw differently (so both were exercised), 'js' and 'cpu' alike.
      if (backends.includes('cpu')) {
        for (const sampler of samplers) {
          const js = runs.get(`js ${sampler}`)!;
          const cpu = runs.get(`cpu ${sampler}`)!;
          expect(bits(cpu.values)).toEqual(bits(js.values));
          expect(bits(cpu.sampleValues)).toEqual(bits(js.sampleValues));
          expect(cpu.indices).toEqual(js.indices);
        }
      }
      const dense = runs.get('js dense')!;
      const lazy = runs.get('js lazy')!;
      expect(lazy.indices).not.toEqual(dense.indices);
    });
  }

  it.each(backends)('%s: the 3e7 row gives 30,000,010 or a neighbour, as its samples are', (backend) => {
    const c = auditCases()[0]!;
    const x = new Float32Array(c.rows * c.d).fill(30_000_010);
    for (const sampler of samplers) {
      const r = runCase({ ...c, x }, backend, sampler);
      for (const v of r.sampleValues) expect(Math.abs(v - 30_000_010)).toBeLessThanOrEqual(8);
      for (const v of r.values) expect(Math.abs(v - 30_000_010)).toBeLessThanOrEqual(8);
      // The float32 running sum lands near 29,999,682 (the audit's figure), far outside the samples.
      const old = float32RunningMean(r.sampleValues, c.rows, c.nSample);
      expect(Math.abs(old[0]! - 30_000_010)).toBeGreaterThan(100);
    }
  });

  it.each(backends)('%s: random rows, both samplers and explicit noise, S from 1 to 3000', (backend) => {
    const rand = mulberry32(77);
    for (const [rows, d, S] of [
      [3, 50, 1],
      [4, 37, 7],
      [2, 300, 333],
      [2, 64, 3000],
    ] as const) {
      const x = randomArray(rand, rows * d, 50);
      for (let i = 0; i < x.length; i++) x[i] = x[i]! + 1e5;
      const runs = [
        ...samplers.map((sampler) =>
          functional.noisedTopK(x, [rows, d], { k: 3, dim: 1, nSample: S, seed: 5 + S, offset: 0, sampler, backend }),
        ),
        functional.noisedTopK(x, [rows, d], { k: 3, dim: 1, noise: randomArray(rand, x.length * S, 2), backend }),
      ];
      for (const r of runs) expect(bits(r.values)).toEqual(bits(float64Mean(r.sampleValues, rows, S)));
    }
  });
});

describe('the gradient: fl32(count * gradOutput / nSample), one rounding', () => {
  it.each(backends)('%s: every selected column, both samplers; the two-rounding rule differs (control)', (backend) => {
    const rand = mulberry32(31);
    const [rows, d, S] = [16, 40, 1000];
    const x = randomArray(rand, rows * d, 0.5);
    const gradOut = randomArray(rand, rows, 3);
    let twoRoundingsDiffer = 0;
    for (const sampler of samplers) {
      const r = functional.noisedTopK(x, [rows, d], { k: 2, dim: 1, nSample: S, seed: 8, offset: 0, sampler, backend });
      const g = r.backward(gradOut);
      const want = new Float32Array(rows * d);
      for (let row = 0; row < rows; row++) {
        const counts = new Uint32Array(d);
        for (let s = 0; s < S; s++) counts[r.indices[row * S + s]!]!++;
        for (let c = 0; c < d; c++) {
          const n = counts[c]!;
          const scale = gradOut[row]!;
          want[row * d + c] = n === 0 ? 0 * scale : (n * scale) / S;
          if (n > 0 && fr(fr(n / S) * scale) !== want[row * d + c]) twoRoundingsDiffer++;
        }
      }
      expect(bits(g)).toEqual(bits(want));
    }
    expect(twoRoundingsDiffer).toBeGreaterThan(0);
  });
});

describe("the losses' mean over rows: a float64 sum rounded once", () => {
  it.each(backends)(
    '%s: BalNoisedTopK and ImbalNoisedTopK with weights; the float32 row sum differs (control)',
    (backend) => {
      const rand = mulberry32(4242);
      const [B, D] = [3000, 12];
      const scores = randomArray(rand, B * D, 1);
      const labels = Int32Array.from({ length: B }, () => Math.floor(rand() * D));
      const weight = Float32Array.from({ length: D }, () => 0.3 + rand());
      let float32Differs = 0;
      const o = { k: 2, epsilon: 1, nSample: 5, seed: 3n, offset: 0, backend } as const;
      const results = [
        functional.balNoisedTopKLoss(scores, labels, [B, D], o),
        functional.balNoisedTopKLoss(scores, labels, [B, D], { ...o, weight }),
        functional.imbalNoisedTopKLoss(scores, labels, [B, D], {
          ...o,
          weight,
          margins: new Float32Array(D).fill(0.5),
        }),
      ];
      for (const [i, r] of results.entries()) {
        let sum = 0;
        let w = 0;
        let sum32 = 0;
        let w32 = 0;
        for (let row = 0; row < B; row++) {
          const wr = i === 0 ? 1 : weight[labels[row]!]!;
          sum += r.rowLosses[row]!;
          w += wr;
          sum32 = fr(sum32 + r.rowLosses[row]!);
          w32 = fr(w32 + wr);
        }
        expect(r.loss).toBe(fr(sum / w));
        if (fr(sum32 / w32) !== r.loss) float32Differs++;
      }
      const total = functional.balNoisedTopKLoss(scores, labels, [B, D], { ...o, reduction: 'sum' });
      const none = functional.balNoisedTopKLoss(scores, labels, [B, D], { ...o, reduction: 'none' });
      let s64 = 0;
      for (const l of none.rowLosses) s64 += l;
      expect(total.loss).toBe(fr(s64));
      expect(float32Differs).toBeGreaterThan(0);
    },
  );
});

describe("perturbedTopK's backward: a float64 sum over samples, rounded once", () => {
  it.each(backends)(
    '%s: gradX = fl32(sum_s double(dot_s) z_s / (eps S)); the float32 accumulator differs (control)',
    (backend) => {
      const rand = mulberry32(9);
      const [rows, d, k, S, eps] = [3, 21, 3, 700, 0.75];
      const [seedLo, seedHi, offset] = [123, 456, 7];
      const x = randomArray(rand, rows * d, 1);
      const g = randomArray(rand, rows * d, 1);
      const ops = resolveOpsKernel(backend, 'perturbedTopK');
      const mask = new Float32Array(rows * d);
      const indices = new Int32Array(rows * S * k);
      ops.perturbedForward(perturbedForwardCall(x, 1, d, rows, k, eps, S, seedLo, seedHi, offset, mask, indices));
      // One outer slice, rows as `inner`: row r's column c is element c * rows + r.
      const gradX = new Float32Array(rows * d);
      ops.perturbedBackward(perturbedBackwardCall(indices, g, 1, d, rows, k, eps, S, seedLo, seedHi, offset, gradX));
      const z = new Float32Array(4);
      let float32Differs = 0;
      for (let r = 0; r < rows; r++) {
        const acc = new Float64Array(d);
        const acc32 = new Float32Array(d);
        for (let s = 0; s < S; s++) {
          let dot = 0;
          for (let j = 0; j < k; j++) dot = fr(dot + g[indices[(r * S + s) * k + j]! * rows + r]!);
          for (let c0 = 0; c0 < d; c0 += 4) {
            normal4(seedLo, seedHi, offset, r, s, c0 / 4, z, 0);
            for (let j = 0; j < 4 && c0 + j < d; j++) {
              acc[c0 + j] = acc[c0 + j]! + dot * z[j]!;
              acc32[c0 + j] = acc32[c0 + j]! + fr(dot * z[j]!);
            }
          }
        }
        for (let c = 0; c < d; c++) {
          expect(gradX[c * rows + r], `row ${r} column ${c}`).toBe(fr(acc[c]! / (fr(eps) * S)));
          if (fr(acc32[c]! / fr(fr(eps) * S)) !== gradX[c * rows + r]) float32Differs++;
        }
      }
      expect(float32Differs).toBeGreaterThan(0);
    },
  );
});
