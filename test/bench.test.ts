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
import { runCorpusBench } from '../bench/bench-corpus.mjs';
import { CORPUS_DIR, corpusCases } from '../bench/corpus.mjs';
import { loadVerdict, MAX_LOAD, underLoadBanner, writeResults } from '../bench/load-gate.mjs';

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

describe('corpus benchmarks (--corpus), quick mode', () => {
  const cases = corpusCases(CORPUS_DIR, { quick: true });

  it("from Node (npm run bench -- --corpus --quick): 'dense' and 'lazy' on every file and family, 1 and 2 threads", async () => {
    const out = tmpDir('bench-corpus');
    const lines: string[] = [];
    const report = await runCorpusBench(api, { quick: true, outDir: out, log: (l) => lines.push(l) });
    expect(report.quick).toBe(true);
    expect(report.rows.map((r) => r.name)).toEqual(cases.map((c) => c.name));
    expect(report.rows.some((r) => r.kind === 'file')).toBe(true);
    expect(report.rows.filter((r) => r.kind === 'family').length).toBe(cases.filter((c) => c.kind === 'family').length);
    for (const row of report.rows) {
      for (const name of ['dense 1T', 'lazy 1T', 'dense 2T', 'lazy 2T']) {
        const r = row.results?.[name];
        expect(r, `${row.name} ${name}`).toBeDefined();
        expect(r!.samples).toBe(2);
        expect(r!.medianMs).toBeGreaterThan(0);
      }
      expect(row.results!['dense 2T']!.threads).toBe(2);
      expect(row.defaultSampler).toBe(api.defaultSampler(row.D, 6));
    }
    // Quick runs are smoke tests: written whatever the load, and marked as such.
    expect(report.written).toBe(true);
    const md = fs.readFileSync(path.join(out, 'corpus-js-quick.md'), 'utf8');
    expect(md).toContain('QUICK run');
    expect(md).toContain(report.machine.cpu);
    expect(md).toMatch(/Load average, 1 min: [\d.]+ at the start, [\d.]+ at the end/);
    expect(md.split('\n').filter((l) => /^\| [\w./-]+ \| (file|family) \|/.test(l))).toHaveLength(cases.length);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'corpus-js-quick.json'), 'utf8')).rows).toHaveLength(cases.length);
  });

  it('a full run under load writes nothing, unless --allow-load, which marks the files', async () => {
    const opts = { time: 1, only: 'country-ce-seed0-first', loadAverage: () => 4.2, log: () => {} };
    const out = tmpDir('bench-corpus-load');
    const refused = await runCorpusBench(api, { ...opts, outDir: out });
    expect(refused.loaded).toBe(true);
    expect(refused.written).toBe(false);
    expect(refused.refused).toMatch(/load average 4.20 > 1.5/);
    expect(fs.readdirSync(out)).toEqual([]);
    const marked = await runCorpusBench(api, { ...opts, outDir: out, allowLoad: true });
    expect(marked.written).toBe(true);
    expect(fs.readFileSync(path.join(out, 'corpus-js.md'), 'utf8')).toMatch(/TAKEN UNDER LOAD.*NOT A MEASUREMENT/);
    const quiet = await runCorpusBench(api, { ...opts, loadAverage: () => 0.4, outDir: tmpDir('bench-corpus-quiet') });
    expect(quiet.loaded).toBe(false);
    expect(quiet.written).toBe(true);
  });

  it.skipIf(!fs.existsSync(path.join(root, 'dist', 'index.js')))(
    'the command line: npm run bench -- --corpus --quick prints the table, and rejects an unknown option',
    () => {
      const r = spawnSync(
        process.execPath,
        [path.join(root, 'bench/bench.mjs'), '--corpus', '--quick', '--only', 'd1000'],
        {
          encoding: 'utf8',
        },
      );
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\| normal-d1000 \| family \| generated \| 4 \| 1000 \| 2 \| dense \|/);
      const bad = spawnSync(process.execPath, [path.join(root, 'bench/bench.mjs'), '--corpus', '--quik'], {
        encoding: 'utf8',
      });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/unknown option --quik/);
    },
  );

  it.skipIf(!have('cmake'))(
    "native (npm run bench:native -- --corpus --quick): 'dense', 'lazy' and pytopk on every file and family",
    () => {
      const build = path.join(root, 'build', 'bench-native-smoke'); // shared with the smoke tests above: one build
      const out = tmpDir('bench-corpus-native');
      const r = spawnSync(
        process.execPath,
        [path.join(root, 'bench/native/run.mjs'), '--corpus', '--quick', '--out', out],
        { encoding: 'utf8', env: { ...process.env, NTK_BENCH_BUILD_DIR: build } },
      );
      if (r.status === 2 && /libtorch was not found/.test(r.stdout + r.stderr)) {
        console.warn('native corpus benchmark smoke skipped: libtorch not found (apt-get install libtorch-dev)');
        return;
      }
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const json = JSON.parse(fs.readFileSync(path.join(out, 'corpus-native-quick.json'), 'utf8'));
      expect(json.quick).toBe(true);
      expect(json.checksPassed).toBe(true);
      expect(json.rows.map((x: { name: string }) => x.name)).toEqual(cases.map((c) => c.name));
      for (const row of json.rows) {
        for (const v of ['dense1', 'lazy1', 'dense2', 'lazy2', 'pytopk1', 'pytopk2', 'floor1']) {
          expect(row[v].runs, `${row.name} ${v}`).toBeGreaterThan(0);
          expect(row[v].medianMs).toBeGreaterThan(0);
        }
        expect(row.dense2.threads).toBe(2);
        expect(row.check.positionMismatches).toBe(0);
        expect(row.defaultSampler).toBe(api.defaultSampler(row.D, 6));
      }
      const md = fs.readFileSync(path.join(out, 'corpus-native-quick.md'), 'utf8');
      expect(md).toContain(json.cpu);
      expect(md).toMatch(/Load average, 1 min: [\d.]+ at the start, [\d.]+ at the end/);

      // A full run (here of one small captured file alone, briefly) under load writes nothing and exits 3,
      // unless --allow-load, which marks the files. NTK_BENCH_LOADAVG stands in for the load.
      const full = (dir: string, ...more: string[]) =>
        spawnSync(
          process.execPath,
          [
            path.join(root, 'bench/native/run.mjs'),
            '--corpus',
            '--only',
            'country-ce-seed0-first',
            '--budget',
            '0.01',
            '--out',
            dir,
            ...more,
          ],
          { encoding: 'utf8', env: { ...process.env, NTK_BENCH_BUILD_DIR: build, NTK_BENCH_LOADAVG: '4.2' } },
        );
      const loadedOut = tmpDir('bench-corpus-native-load');
      const refused = full(loadedOut);
      expect(refused.status, refused.stdout + refused.stderr).toBe(3);
      expect(refused.stdout).toMatch(/NOT WRITTEN: the 1-min load average was 4.20 at the start/);
      expect(fs.readdirSync(loadedOut)).toEqual([]);
      const marked = full(loadedOut, '--allow-load');
      expect(marked.status, marked.stdout + marked.stderr).toBe(0);
      expect(fs.readFileSync(path.join(loadedOut, 'corpus-native.md'), 'utf8')).toMatch(
        /TAKEN UNDER LOAD.*NOT A MEASUREMENT/,
      );
      expect(JSON.parse(fs.readFileSync(path.join(loadedOut, 'corpus-native.json'), 'utf8')).loaded).toBe(true);
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

describe('the load rule of every benchmark (bench/load-limit.json)', () => {
  it('one limit: load-gate.mjs reads it, and the native build passes the same file to bench_gate.h', () => {
    const limit = JSON.parse(fs.readFileSync(path.join(root, 'bench/load-limit.json'), 'utf8')).maxLoad;
    expect(MAX_LOAD).toBe(limit);
    expect(limit).toBe(1.5);
    const cmake = fs.readFileSync(path.join(root, 'bench/native/CMakeLists.txt'), 'utf8');
    expect(cmake).toMatch(/string\(JSON NTK_BENCH_MAX_LOAD GET "\$\{NTK_LOAD_LIMIT_JSON\}" maxLoad\)/);
  });

  it('a run above the limit writes nothing; --allow-load writes it with the banner; smoke runs are exempt', () => {
    const dir = tmpDir('load-gate');
    const files = { [path.join(dir, 'x.md')]: 'table\n' };
    const said: string[] = [];
    const log = (l: string) => said.push(l);
    const loaded = loadVerdict(0.9, 4.2);
    expect(loaded.loaded).toBe(true);
    expect(writeResults(files, loaded, { log })).toBe('load average 4.20 > 1.5');
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(said[0]).toMatch(/^NOT WRITTEN: the 1-min load average was 0.90 at the start and 4.20 at the end/);
    expect(writeResults(files, loaded, { allowLoad: true, log })).toBeNull();
    expect(underLoadBanner(loaded)).toMatch(/^\*\*TAKEN UNDER LOAD.*NOT A MEASUREMENT/);
    // The control: at the limit, and for a smoke run above it, nothing is refused or marked.
    expect(loadVerdict(1.5, 1.5).loaded).toBe(false);
    expect(loadVerdict(9, 9, { exempt: true }).loaded).toBe(false);
    expect(underLoadBanner(loadVerdict(0.2, 0.3))).toBe('');
  });

  it('every benchmark that writes bench/results/ goes through the gate (no other writer)', () => {
    for (const f of ['bench.mjs', 'bench-topk.mjs', 'bench-stderr.mjs', 'bench-corpus.mjs']) {
      const src = fs.readFileSync(path.join(root, 'bench', f), 'utf8');
      expect(src, f).toMatch(/import \{[^}]*writeResults[^}]*\} from '\.\/load-gate\.mjs'/);
      expect(src, f).not.toMatch(/writeFileSync/);
    }
    for (const f of ['bench_native.cpp', 'bench_topk.cpp']) {
      const src = fs.readFileSync(path.join(root, 'bench/native', f), 'utf8');
      expect(src, f).toContain('#include "bench_gate.h"');
      expect(src, f).toContain('bench::writeResults(');
      expect(src, f).not.toMatch(/std::ofstream/);
    }
  });

  it('the JS benchmark (not smoke) under load writes nothing and says why', async () => {
    const out = tmpDir('bench-js-load');
    const before = process.env.NTK_BENCH_LOADAVG;
    process.env.NTK_BENCH_LOADAVG = '4.2';
    try {
      const report = await runBench(api, null, {
        sizes: [[8, 50, 4]],
        time: 1,
        baselines: false,
        outDir: out,
        log: () => {},
      });
      expect(report.loaded).toBe(true);
      expect(report.refused).toBe('load average 4.20 > 1.5');
      expect(fs.readdirSync(out)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.NTK_BENCH_LOADAVG;
      else process.env.NTK_BENCH_LOADAVG = before;
    }
  });

  it.skipIf(!have('cmake'))(
    'the native benchmark (not smoke) under load exits 3 and writes nothing, unless --allow-load',
    () => {
      const build = path.join(root, 'build', 'bench-native-smoke'); // shared with the smoke tests above: one build
      const run = (dir: string, ...more: string[]) =>
        spawnSync(
          process.execPath,
          [path.join(root, 'bench/native/run.mjs'), '--sizes', '8,50,4', '--budget', '0.01', '--out', dir, ...more],
          { encoding: 'utf8', env: { ...process.env, NTK_BENCH_BUILD_DIR: build, NTK_BENCH_LOADAVG: '4.2' } },
        );
      const dir = tmpDir('bench-native-load');
      const refused = run(dir);
      if (refused.status === 2 && /libtorch was not found/.test(refused.stdout + refused.stderr)) {
        console.warn('native benchmark load test skipped: libtorch not found (apt-get install libtorch-dev)');
        return;
      }
      expect(refused.status, refused.stdout + refused.stderr).toBe(3);
      expect(refused.stdout).toMatch(/NOT WRITTEN: the 1-min load average was 4.20 at the start/);
      expect(fs.readdirSync(dir)).toEqual([]);
      const marked = run(dir, '--allow-load');
      expect(marked.status, marked.stdout + marked.stderr).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'native.md'), 'utf8')).toMatch(/TAKEN UNDER LOAD.*NOT A MEASUREMENT/);
    },
    900_000,
  );
});
