// The bounds behind the CPU and CUDA kernels' exact pruning (native/cpu/kernel_internal.h,
// native/cuda/select.cuh) hold for every input the stream can give them: the exhaustive check
// test/native/prune_bound_check.cpp, compiled with the addon's float flags and run here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileNativeCheck, haveNativeCxx } from './helpers.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-prune-bound-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('pruning bounds (test/native/prune_bound_check.cpp)', () => {
  it.skipIf(!haveNativeCxx)(
    'the pruning bounds hold for every one of the 2^24 radius and angle inputs',
    () => {
      const exe = compileNativeCheck('prune_bound_check', scratch);
      const r = spawnSync(exe, [], { encoding: 'utf8' });
      expect(r.stdout).toContain('radius: 2^24 inputs, 0 failures');
      expect(r.stdout).toContain('angle: 2^24 inputs, 0 bound failures, 0 replica mismatches');
      expect(r.status).toBe(0);
    },
    300_000,
  );
});
