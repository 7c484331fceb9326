// The lazy sampler's geometric skips are total (issue 18, item 1): the uniform lies in the open
// (0, 1), a q below MIN_Q (1e-300: subnormals too) or NaN means no candidate, and no skip is ever NaN. Before,
// a word 0xFFFFFFFF gave u = 1, and with q subnormal 1 / ln(1 - q) was -Infinity: 0 * -Infinity
// made the position NaN and the bucket walk never ended (seed 343676509 below hung 'js' and 'cpu').
// test/lazy-skip-native.test.ts holds the C++ functions equal to these on the same inputs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  logOneMinus,
  logPositive,
  MIN_Q,
  normalTail,
  type SkipLaw,
  skipLaw,
  skipNext,
  uniformOpen,
} from '../lib/lazy-sampler.js';
import { EDGE_Q, EDGE_WORDS } from './fuzz-kit.js';
import { addonPath, compiledPackage, testedBackends } from './helpers.js';

/** What a skip law does: no candidate, every column, or geometric skips. */
const kindOf = (sk: SkipLaw) => (sk.q <= 0 ? 'none' : sk.q >= 1 ? 'every' : 'geometric');
/** Positions and segment lengths at the edges: before the first column, near the end, at 2^24. */
const EDGE_AT = [-1, 0, 1, 4094, 2 ** 24 - 2];
const countsFor = (at: number) => [at + 2, at + 3, 4096, 2 ** 24].filter((c) => c > at + 1);

describe('the skip functions of the lazy sampler (lib/lazy-sampler.ts, lazy_sampler.h)', () => {
  it('the uniform of every edge word lies in the open (0, 1) with a finite negative logarithm', () => {
    for (const w of EDGE_WORDS) {
      const u = uniformOpen(w);
      expect(u, `word ${w}`).toBeGreaterThan(0);
      expect(u, `word ${w}`).toBeLessThan(1);
      const l = logPositive(u);
      expect(Number.isFinite(l) && l < 0, `ln u of word ${w}`).toBe(true);
    }
    expect(uniformOpen(0xffffffff)).toBe(1 - 2 ** -33);
    expect(uniformOpen(0)).toBe(2 ** -33);
  });

  it('the control: the old mapping and plan gave NaN where the sampler hung', () => {
    // u = (w + 1) 2^-32 was 1 for w = 0xFFFFFFFF; 1 / ln(1 - q) overflows for a small subnormal q
    const invLq = 1.0 / logOneMinus(5e-324);
    expect(invLq).toBe(-Infinity);
    expect(Math.floor(logPositive((0xffffffff + 1.0) * 2.3283064365386963e-10) * invLq)).toBeNaN();
  });

  it('every edge q gives a total law: none below MIN_Q (and NaN), every from 1, else finite ln(1 - q) < 0', () => {
    for (const q of EDGE_Q) {
      const p = skipLaw(q);
      if (!(q >= MIN_Q)) expect(kindOf(p), `q ${q}`).toBe('none');
      else if (q >= 1) expect(kindOf(p), `q ${q}`).toBe('every');
      else {
        expect(kindOf(p), `q ${q}`).toBe('geometric');
        expect(p.lq < 0 && Number.isFinite(p.lq), `lq of q ${q}`).toBe(true);
        expect(p.invLq < 0 && Number.isFinite(p.invLq), `invLq of q ${q}`).toBe(true);
      }
    }
  });

  it('the normal tail from t = 36 to the end of the table: none exactly where q is below MIN_Q, never NaN', () => {
    let none = 0;
    for (let t = 36; t <= 38.5; t += 1 / 4096) {
      const q = normalTail(t);
      const p = skipLaw(q);
      expect(kindOf(p), `t ${t}`).toBe(q >= MIN_Q ? 'geometric' : 'none');
      if (kindOf(p) === 'none') none++;
    }
    expect(none).toBeGreaterThan(0); // the band below 1e-300 (and the subnormal one) is covered
    expect(kindOf(skipLaw(normalTail(Number.NaN)))).toBe('none');
  });

  it('every (edge u, edge q, edge position) skip is a number past the position: an integer in the segment or its end', () => {
    let checked = 0;
    for (const q of EDGE_Q) {
      const p = skipLaw(q);
      if (kindOf(p) !== 'geometric') continue;
      for (const w of EDGE_WORDS) {
        const u = uniformOpen(w);
        for (const at of EDGE_AT) {
          for (const count of countsFor(at)) {
            const next = skipNext(at, count, u, p);
            const what = `q ${q}, word ${w}, at ${at}, count ${count}: ${next}`;
            expect(Number.isNaN(next), what).toBe(false);
            expect(next >= at + 1, what).toBe(true);
            expect(next >= count || Number.isInteger(next), what).toBe(true);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('a walk over a whole segment ends for every edge q and every constant edge word', () => {
    for (const q of EDGE_Q) {
      const p = skipLaw(q);
      if (kindOf(p) !== 'geometric') continue;
      for (const w of EDGE_WORDS) {
        let at = -1;
        let steps = 0;
        for (; steps <= 4096; steps++) {
          at = skipNext(at, 4096, uniformOpen(w), p);
          if (at >= 4096) break;
        }
        expect(steps, `q ${q}, word ${w}`).toBeLessThanOrEqual(4096);
      }
    }
  });
});

// The reproducer, in a child process with a time limit: a regression fails, it does not hang the suite.
const pkg = mkdtempSync(join(tmpdir(), 'noised-topk-lazy-skip-'));
beforeAll(() => compiledPackage(pkg), 120_000);
afterAll(() => rmSync(pkg, { recursive: true, force: true }));

describe('the issue 18 reproducer: seed 343676509 at the tail edge', () => {
  it.each(testedBackends())(
    '%s: k 1, nSample 1, 9 columns at 0 and 4,087 at -36.7578239 returns, sync and async',
    (backend) => {
      const file = join(pkg, `repro-${backend}.mjs`);
      writeFileSync(
        file,
        `import { NoisedTopK } from './dist/index.js';
       const out = [];
       for (const zerosFirst of [true, false]) {
         const x = new Float32Array(4096).fill(-36.7578239);
         for (let i = 0; i < 9; i++) x[zerosFirst ? i : 4087 + i] = 0;
         const op = () => new NoisedTopK({ k: 1, nSample: 1, seed: 343676509, backend: ${JSON.stringify(backend)}, sampler: 'lazy' });
         const a = op().forward(x, [1, 4096]);
         const b = await op().forwardAsync(x, [1, 4096]);
         out.push([a.values[0], a.indices[0], b.values[0], b.indices[0]]);
       }
       console.log(JSON.stringify(out));`,
      );
      const r = spawnSync(process.execPath, [file], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NOISED_TOPK_ADDON: addonPath() },
      });
      expect(r.signal, `${backend} did not return within 60 s: ${r.stderr}`).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as number[][];
      for (const [i, [v, p, va, pa]] of out.entries()) {
        expect(va).toBe(v);
        expect(pa).toBe(p);
        expect(p! < 9 === (i === 0)).toBe(true); // the k-th is one of the zeros
        expect(v).toBeGreaterThan(-1);
      }
    },
  );
});
