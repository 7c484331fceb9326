// npm run bench's new columns (bench/bench.mjs): a new gradient and `out` in turn with minor
// faults per call, the Node / C++ ratios from a native.json, and --sampler passed through only
// when the build has that option. Smoke sizes; timings are printed, never asserted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as api from '../lib/index.js';
import { readNativeResults, runBench, samplerSupported } from '../bench/bench.mjs';
import { testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-bench-node-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A native.json of bench/native's shape, for the smoke sizes, from a machine named `cpu`. */
function fakeNative(cpu: string): string {
  const stats = (ms: number, threads: number) => ({
    medianMs: ms,
    p10Ms: ms,
    p90Ms: ms,
    minMs: ms,
    runs: 3,
    threads,
    peakExtraMB: 0,
  });
  const rows = [
    [4, 20, 3],
    [2, 40, 2],
  ].map(([B, D, S]) => ({
    B,
    D,
    S,
    ours1: stats(0.01, 1),
    oursN: stats(0.008, 2),
    pytopk1: stats(0.2, 1),
    pytopkN: stats(0.1, 2),
    topk1: stats(0.001, 1),
  }));
  const file = path.join(fs.mkdtempSync(path.join(scratch, 'native-')), 'native.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      cpu,
      logicalCores: os.cpus().length,
      date: '2026-01-01 00:00 UTC',
      loadBefore: '0 0 0',
      libtorch: 'test',
      smoke: true,
      rows,
    }),
  );
  return file;
}

describe.skipIf(!hasCpu)('npm run bench: Node against C++', () => {
  it('times a new gradient and `out` in turn, counts faults, and divides by the C++ medians of the same machine', async () => {
    const lines: string[] = [];
    const native = fakeNative(os.cpus()[0]!.model.trim());
    const report = await runBench(api, null, { smoke: true, baselines: false, native, log: (l) => lines.push(l) });
    expect(report.native?.sameMachine).toBe(true);
    for (const row of report.rows) {
      for (const name of ['cpu 1T', 'cpu 1T out']) {
        const r = row.results[name]!;
        expect(r.samples).toBeGreaterThan(0);
        expect(r.faultsPerCall).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(r.faultsPerCall)).toBe(true);
      }
      expect(row.native?.ours1Ms).toBe(0.01);
      expect(row.results['js backend']).toBeUndefined(); // baselines: false
    }
    const md = lines.join('\n');
    expect(md).toContain('Node / C++ 1T fresh');
    expect(md).not.toContain('another machine');
    // The ratio cell: Node's median over the C++ median of the row.
    const r0 = report.rows[0]!;
    expect(md).toContain(`${(r0.results['cpu 1T']!.medianMs! / 0.01).toFixed(2)}x`);
  });

  it('says so when the C++ run was on another machine', async () => {
    const lines: string[] = [];
    const report = await runBench(api, null, {
      smoke: true,
      baselines: false,
      native: fakeNative('Some Other CPU'),
      log: (l) => lines.push(l),
    });
    expect(report.native?.sameMachine).toBe(false);
    expect(lines.join('\n')).toContain('another machine than this run');
  });

  it('reads bench/native JSON rows by shape, and nothing from a missing file', () => {
    const nat = readNativeResults(fakeNative('X')) as {
      cpu: string;
      rows: Map<string, { ours1: { medianMs: number } }>;
    };
    expect(nat.cpu).toBe('X');
    expect(nat.rows.get('4,20,3')!.ours1.medianMs).toBe(0.01);
    expect(readNativeResults(path.join(scratch, 'none.json'))).toBeNull();
  });

  it('--sampler: passed through when the build has the option, an error naming it otherwise', async () => {
    const opts = {
      smoke: true,
      baselines: false,
      sizes: [[3, 12, 2]] as Array<[number, number, number]>,
      sampler: 'dense',
      log: () => {},
    };
    if (samplerSupported(api)) {
      const report = await runBench(api, null, opts);
      expect(report.sampler).toBe('dense');
    } else {
      await expect(runBench(api, null, opts)).rejects.toThrow(/no `sampler` option/);
    }
  });
});
