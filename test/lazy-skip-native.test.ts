// The C++ skip functions of the lazy sampler (native/core/lazy_sampler.h uniformOpen,
// skipLaw, skipNext: the code 'cpu' and 'cuda' run) equal their TypeScript twins, bit
// for bit, on every edge input test/lazy-skip.test.ts checks and on random ones: the program
// test/native/lazy_skip_check.cpp, compiled with the addon's float flags, answers the same
// requests (issue 18, item 1).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalTail, skipLaw, skipNext, uniformOpen } from '../lib/lazy-sampler.js';
import { EDGE_Q, EDGE_WORDS } from './fuzz-kit.js';
import { compileNativeCheck, haveNativeCxx, mulberry32 } from './helpers.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-lazy-skip-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
const hex = (v: number): string => {
  f64[0] = v;
  return u64[0]!.toString(16).padStart(16, '0');
};

describe('the skip functions: C++ = TypeScript (test/native/lazy_skip_check.cpp)', () => {
  it.skipIf(!haveNativeCxx)(
    'uniformOpen, skipLaw and skipNext agree bit for bit on edge and random inputs',
    () => {
      const exe = compileNativeCheck('lazy_skip_check', scratch);
      const rand = mulberry32(18);
      const words = [...EDGE_WORDS, ...Array.from({ length: 200 }, () => Math.floor(rand() * 2 ** 32))];
      // the edge q, and q from the tail over the whole table (t in [-39, 39]) and at random
      const qs = [...EDGE_Q];
      for (let t = -39; t <= 39; t += 1 / 64) qs.push(normalTail(t));
      for (let i = 0; i < 200; i++) qs.push(rand() ** 40, rand());
      const requests: string[] = [];
      const expected: string[] = [];
      for (const w of words) {
        requests.push(`u ${w}`);
        expected.push(hex(uniformOpen(w)));
      }
      for (const q of qs) {
        const p = skipLaw(q);
        requests.push(`p ${hex(q)}`);
        expected.push(`${hex(p.q)} ${hex(p.lq)} ${hex(p.invLq)}`);
      }
      for (const [i, q] of qs.entries()) {
        const p = skipLaw(q);
        for (const w of i < EDGE_Q.length ? words : words.slice(0, EDGE_WORDS.length + 4)) {
          for (const [at, count] of [
            [-1, 4096],
            [0, 2],
            [4094, 4096],
            [2 ** 24 - 2, 2 ** 24],
            [-1, 2 ** 24],
          ] as const) {
            const u = uniformOpen(w);
            requests.push(`s ${hex(at)} ${hex(count)} ${hex(u)} ${hex(q)}`);
            expected.push(hex(skipNext(at, count, u, p)));
          }
        }
      }
      const r = spawnSync(exe, [], { input: `${requests.join('\n')}\n`, encoding: 'utf8', maxBuffer: 1 << 26 });
      expect(r.status, r.stderr).toBe(0);
      const got = r.stdout.trimEnd().split('\n');
      expect(got.length).toBe(expected.length);
      const mismatches = expected.flatMap((e, i) => (got[i] === e ? [] : [`${requests[i]}: C++ ${got[i]}, ts ${e}`]));
      expect(mismatches.slice(0, 10)).toEqual([]);
      expect(requests.length).toBeGreaterThan(10_000);
    },
    120_000,
  );
});
