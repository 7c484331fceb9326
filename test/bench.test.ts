// The benchmarks never rot: their smoke modes run here (tiny sizes, a few runs). Timings are
// printed by the benchmarks, never asserted: only that they ran and produced their rows.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as api from '../lib/index.js';
import { makeInputs, plainLossAndGrad, runBench, tfLossAndGrad } from '../bench/bench.mjs';

const root = path.resolve(__dirname, '..');

// TensorFlow.js prints a hint about tfjs-node on first use; tests have no use for it.
tf.env().set('IS_TEST', true);

// Everything written under /tmp goes in one folder, removed when the file's tests end.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-bench-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function tmpDir(name: string): string {
  return fs.mkdtempSync(path.join(scratch, `${name}-`));
}

function have(cmd: string, args: string[] = ['--version']): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

describe('JS benchmark (npm run bench), smoke mode', () => {
  it('the baselines compute the same loss as the package on the same inputs (up to noise)', async () => {
    await tf.setBackend('cpu');
    // epsilon 0 removes the noise: every implementation must give the hard top-(k+1) hinge.
    const [B, D, S] = [6, 25, 3];
    const { x, labels } = makeInputs(B, D, 3);
    const ours = api.functional.balNoisedTopKLoss(x, labels, [B, D], {
      k: 5,
      epsilon: 0,
      nSample: S,
      seed: 1n,
      offset: 0,
      backend: 'cpu',
    });
    const g = ours.backward();
    const plain = plainLossAndGrad(x, labels, B, D, S, 5, 0);
    const tfr = tfLossAndGrad(tf, x, labels, B, D, S, 5, 0);
    expect(plain.loss).toBeCloseTo(ours.loss, 5);
    expect(tfr.loss).toBeCloseTo(ours.loss, 5);
    for (let i = 0; i < g.length; i++) {
      expect(plain.grad[i]).toBeCloseTo(g[i]!, 6);
      expect(tfr.grad[i]).toBeCloseTo(g[i]!, 6);
    }
  });

  it('runs every variant and writes its table', async () => {
    await tf.setBackend('cpu');
    const out = tmpDir('bench-js');
    const lines: string[] = [];
    const report = await runBench(api, tf, { smoke: true, outDir: out, log: (l) => lines.push(l) });
    expect(report.smoke).toBe(true);
    expect(report.rows.length).toBeGreaterThan(0);
    const cores = os.cpus().length;
    for (const row of report.rows) {
      for (const name of ['cpu 1T', `cpu ${cores}T`, 'js backend', 'plain TS', 'tfjs-core (cpu)']) {
        const r = row.results[name];
        expect(r, `${name} at (${row.B}, ${row.D}, ${row.S})`).toBeDefined();
        expect(r!.samples).toBeGreaterThan(0);
        expect(r!.medianMs).toBeGreaterThan(0);
      }
      expect(row.results['cpu 1T']!.threads).toBe(1);
      expect(row.results[`cpu ${cores}T`]!.threads).toBe(cores);
    }
    const md = fs.readFileSync(path.join(out, 'js-smoke.md'), 'utf8');
    expect(md).toContain(report.machine.cpu);
    expect(md.split('\n').filter((l) => /^\| \d+ \| \d+ \| \d+ \|/.test(l))).toHaveLength(report.rows.length);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'js-smoke.json'), 'utf8'));
    expect(json.rows).toHaveLength(report.rows.length);
  });
});

describe('native benchmark (npm run bench:native)', () => {
  it.skipIf(!have('cmake'))(
    'builds against libtorch, checks ours against pytopk on shared noise and times them (smoke sizes)',
    () => {
      // Kept between runs (an incremental build), so under build/ rather than /tmp.
      const build = path.join(root, 'build', 'bench-native-smoke');
      const out = tmpDir('bench-native');
      const r = spawnSync(process.execPath, [path.join(root, 'bench/native/run.mjs'), '--smoke', '--out', out], {
        encoding: 'utf8',
        env: { ...process.env, NTK_BENCH_BUILD_DIR: build },
      });
      if (r.status === 2 && /libtorch was not found/.test(r.stdout + r.stderr)) {
        console.warn('native benchmark smoke skipped: libtorch not found (apt-get install libtorch-dev)');
        return;
      }
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('prune bounds hold for every input');
      expect(r.stdout).toMatch(/check \(8, 50, 4\) on shared noise: positions 0\/32 differ.* -> OK/);
      const json = JSON.parse(fs.readFileSync(path.join(out, 'native-smoke.json'), 'utf8'));
      expect(json.checksPassed).toBe(true);
      expect(json.rows.length).toBeGreaterThan(0);
      for (const row of json.rows) {
        for (const v of ['ours1', 'oursN', 'pytopk1', 'pytopkN', 'topk1']) {
          expect(row[v].runs).toBeGreaterThan(0);
          expect(row[v].medianMs).toBeGreaterThan(0);
        }
        expect(row.check.positionMismatches).toBe(0);
      }
      expect(fs.readFileSync(path.join(out, 'native-smoke.md'), 'utf8')).toContain(json.cpu);
    },
    900_000,
  );
});

describe('topk benchmarks, smoke mode', () => {
  it('from Node (npm run bench:topk): checks topk against tf.topk, times every variant, writes its table', async () => {
    const { runTopkBench } = await import('../bench/bench-topk.mjs');
    const out = tmpDir('bench-topk');
    const report = await runTopkBench(api, tf, { smoke: true, outDir: out, log: () => {} });
    expect(report.rows.length).toBe(2);
    const cores = os.cpus().length;
    for (const row of report.rows) {
      for (const name of ['cpu 1T', `cpu ${cores}T`, 'js backend', 'tf.topk'])
        expect(row.results[name]!.medianMs).toBeGreaterThan(0);
    }
    expect(fs.readFileSync(path.join(out, 'topk-js-smoke.md'), 'utf8')).toContain(report.machine.cpu);
  });

  it.skipIf(!have('cmake'))(
    'native (npm run bench:topk-native): ours equals torch::topk on the smoke sizes',
    () => {
      const build = path.join(root, 'build', 'bench-native-smoke'); // shared with the pytopk smoke test above: one build
      const out = tmpDir('bench-topk-native');
      const r = spawnSync(
        process.execPath,
        [path.join(root, 'bench/native/run.mjs'), '--topk', '--smoke', '--out', out],
        {
          encoding: 'utf8',
          env: { ...process.env, NTK_BENCH_BUILD_DIR: build },
        },
      );
      if (r.status === 2 && /libtorch was not found/.test(r.stdout + r.stderr)) {
        console.warn('native topk benchmark smoke skipped: libtorch not found (apt-get install libtorch-dev)');
        return;
      }
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/check \(8, 50, k 3\): values differ 0, indices differ 0 \(ties 0\) -> OK/);
      expect(r.stdout).toMatch(/check \(4, 3000, k 40\): .* -> OK/);
      expect(fs.readFileSync(path.join(out, 'topk-native-smoke.md'), 'utf8')).toContain('torch::topk');
    },
    900_000,
  );
});
