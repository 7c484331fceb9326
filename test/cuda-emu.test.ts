// The CUDA kernels of native/cuda/select.cuh and lazy_select.cuh, the real source compiled as
// host C++ against the SIMT emulator of test/native/cuda-emu, equal the CPU kernels bit for bit
// (every selection path, backward, explicit noise, non-finite values, the lazy sampler with its
// dense-fallback rows; the CUDA radius bound for every input).
// No GPU needed: this is how the kernels' logic is checked on machines without one. Where nvcc is
// found, the PTX of the CUDA sources is checked for what the emulator cannot see: no FMA
// contraction of the float and double operations (the streams' and the lazy sampler's bit identity).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sourceList from '../native/sources.json' with { type: 'json' };

const root = path.resolve(__dirname, '..');
const haveGxx = spawnSync('g++', ['--version'], { stdio: 'ignore' }).status === 0;
const haveNvcc = spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status === 0;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-cuda-emu-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const LAZY_SUMMARY = /lazy emu_check: (\d+) runs \((\d+) lazy rows, (\d+) dense-fallback rows\), (\d+) failures/;

describe('CUDA kernels under the SIMT emulator (test/native/cuda-emu/run.sh)', () => {
  it.skipIf(!haveGxx)(
    'select.cuh and lazy_select.cuh equal the CPU kernels in the quick check',
    () => {
      const r = spawnSync('bash', [path.join(root, 'test/native/cuda-emu/run.sh'), '--quick'], {
        encoding: 'utf8',
        env: { ...process.env, TMPDIR: scratch },
      });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('radiusBound: holds for all 2^24 radius inputs');
      // values: the float64 mean of the samples rounded once (docs/determinism.md), on the audit's rows.
      expect(r.stdout).toContain('meanKernel: the float64 mean rule holds');
      // The emulated kernels take lazy_sampler.h's SSE2 Philox blocks; the device its scalar form.
      expect(r.stdout).toContain('philoxBlocks4: equals philox4x32_10 on 200000 random counter sets');
      const summary = /emu_check: (\d+) runs, (\d+) failures/.exec(r.stdout);
      expect(summary, r.stdout).not.toBeNull();
      expect(Number(summary![1])).toBeGreaterThan(0);
      expect(Number(summary![2])).toBe(0);
      // The lazy sampler (lazy_select.cuh, and the dense kernels for its fallback rows) against
      // forwardCpu with sampler 'lazy': calls mixing both kinds of rows; positions and values.
      const lazy = LAZY_SUMMARY.exec(r.stdout);
      expect(lazy, r.stdout).not.toBeNull();
      const [lazyRuns, lazyRows, denseRows, lazyFailures] = lazy!.slice(1).map(Number);
      expect(lazyRuns).toBeGreaterThan(0);
      expect(lazyRows).toBeGreaterThan(0);
      expect(denseRows).toBeGreaterThan(0);
      expect(lazyFailures, r.stdout).toBe(0);
    },
    600_000,
  );

  // PTX instruction counts of one CUDA source compiled with `flags` (sm_90's virtual ISA).
  function ptxOps(source: string, flags: string[]): Map<string, number> {
    const out = path.join(scratch, `${path.basename(source)}.ptx`);
    const cc = spawnSync(
      'nvcc',
      ['--ptx', ...flags, '-arch=compute_90', '-I', path.join(root, 'native'), source, '-o', out],
      {
        encoding: 'utf8',
      },
    );
    expect(cc.status, cc.stderr).toBe(0);
    const counts = new Map<string, number>();
    for (const m of fs
      .readFileSync(out, 'utf8')
      .matchAll(/^\s*((?:fma|add|sub|mul|div)(?:\.[a-z]+)*\.f(?:32|64))\s/gm)) {
      counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
    }
    return counts;
  }

  it.skipIf(!haveNvcc)(
    'with the build flags (--fmad=false) no float or double operation is fused into an FMA',
    () => {
      // The flags of the addon's CUDA build (CMakeLists.txt).
      const cmake = fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
      expect(cmake).toMatch(/COMPILE_LANGUAGE:CUDA>:-O3;--fmad=false;/);
      const source = path.join(root, 'native/cuda/noised_topk_cuda.cu');
      expect(sourceList.cuda).toContain('native/cuda/noised_topk_cuda.cu');
      const built = ptxOps(source, ['-O3', '--fmad=false']);
      const names = [...built.keys()];
      expect(names.filter((n) => n.startsWith('fma'))).toEqual([]);
      // Every double add / sub / mul / div carries .rn: ptxas may not fuse it later.
      expect(names.filter((n) => n.endsWith('.f64') && !n.includes('.rn'))).toEqual([]);
      expect(built.get('mul.rn.f64') ?? 0).toBeGreaterThan(0); // the lazy sampler's binary64 work is there
      // The control: the same source with nvcc's default (--fmad=true) does get FMAs, so the check
      // above would see them.
      const contracted = ptxOps(source, ['-O3']);
      expect([...contracted.keys()].some((n) => n.startsWith('fma') && n.endsWith('.f64'))).toBe(true);
    },
    300_000,
  );

  it.skipIf(!haveGxx)(
    'the hard top-k kernel (topk_select.cuh) equals topkCpu bit for bit',
    () => {
      const exe = path.join(scratch, 'topk-emu-check');
      const kernelSources = [...sourceList.core, ...sourceList.cpu].map((f) => path.join(root, f));
      const emu = path.join(root, 'test/native/cuda-emu');
      const flags = ['-std=c++20', '-O1', '-ffp-contract=off', '-fno-fast-math', '-pthread'];
      const cc = spawnSync(
        'g++',
        [
          ...flags,
          '-I',
          emu,
          '-I',
          path.join(root, 'native'),
          path.join(emu, 'topk_emu_check.cpp'),
          ...kernelSources,
          '-o',
          exe,
        ],
        { encoding: 'utf8' },
      );
      expect(cc.status, cc.stderr).toBe(0);
      const r = spawnSync(exe, ['150'], { encoding: 'utf8' });
      expect(r.stdout).toContain('topk emulator check: 150 cases, 0 mismatches');
      expect(r.status).toBe(0);
    },
    300_000,
  );
});
