// The CUDA kernels of native/cuda/select.cuh, the real source compiled as host C++ against the
// SIMT emulator of test/native/cuda-emu, equal the CPU kernels bit for bit (every selection
// path, backward, explicit noise, non-finite values; the CUDA radius bound for every input).
// No GPU needed: this is how the kernels' logic is checked on machines without one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const haveGxx = spawnSync('g++', ['--version'], { stdio: 'ignore' }).status === 0;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-cuda-emu-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('CUDA kernels under the SIMT emulator (test/native/cuda-emu/run.sh)', () => {
  it.skipIf(!haveGxx)('select.cuh equals forwardCpu / backwardCpu on every run of the quick check', () => {
    const r = spawnSync('bash', [path.join(root, 'test/native/cuda-emu/run.sh'), '--quick'], {
      encoding: 'utf8',
      env: { ...process.env, TMPDIR: scratch },
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('radiusBound: holds for all 2^24 radius inputs');
    const summary = /emu_check: (\d+) runs, (\d+) failures/.exec(r.stdout);
    expect(summary, r.stdout).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(0);
    expect(Number(summary![2])).toBe(0);
  }, 600_000);
});
