// The bounds behind the CPU and CUDA kernels' exact pruning (native/cpu/kernel_internal.h,
// native/cuda/select.cuh) hold for every input the stream can give them: the exhaustive check
// test/native/prune_bound_check.cpp, compiled with the addon's float flags and run here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cxx = process.env.CXX ?? 'c++';
const haveCxx = spawnSync(cxx, ['--version'], { stdio: 'ignore' }).status === 0;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-prune-bound-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('pruning bounds (test/native/prune_bound_check.cpp)', () => {
  it.skipIf(!haveCxx)(
    'the pruning bounds hold for every one of the 2^24 radius and angle inputs',
    () => {
      const exe = path.join(scratch, 'prune_bound_check');
      const cc = spawnSync(
        cxx,
        [
          '-O2',
          '-std=c++17',
          '-ffp-contract=off',
          '-fno-fast-math',
          '-I',
          path.join(root, 'native'),
          path.join(root, 'test/native/prune_bound_check.cpp'),
          '-o',
          exe,
        ],
        { encoding: 'utf8' },
      );
      expect(cc.status, cc.stderr).toBe(0);
      const r = spawnSync(exe, [], { encoding: 'utf8' });
      expect(r.stdout).toContain('radius: 2^24 inputs, 0 failures');
      expect(r.stdout).toContain('angle: 2^24 inputs, 0 bound failures, 0 replica mismatches');
      expect(r.status).toBe(0);
    },
    300_000,
  );
});
