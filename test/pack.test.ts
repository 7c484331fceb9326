// The package as a user gets it: npm pack, install the tarball into a scratch project (offline,
// from npm's cache), import it and run one call on the native backend.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { functional } from '../lib/index.js';
import { root } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'noised-topk-pack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

describe('npm pack + install into a consumer project', () => {
  it('installs from the tarball and runs a call', { timeout: 600_000 }, () => {
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', scratch], root)) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('scripts/install.mjs');
    expect(files).toContain('scripts/elf.mjs'); // the ELF check dist/native.js and install.mjs import
    expect(files).toContain('native/core/philox_normal.h');
    expect(files.some((f) => f.startsWith('build/') || f.startsWith('test/') || f.startsWith('node_modules/'))).toBe(false);

    const consumer = join(scratch, 'consumer');
    npm(['init', '-y'], (execFileSync('mkdir', ['-p', consumer]), consumer));
    npm(['install', '--offline', '--no-audit', '--no-fund', join(scratch, packed[0]!.filename)], consumer);
    const script = `
      import { backends, functional } from 'noised-topk';
      const x = new Float32Array([-1.5, 2.0, 0.7, 3.8, -1.1, -5.4, 0.1, 2.3]);
      const r = functional.noisedTopK(x, [2, 4], { k: 3, seed: 7, backend: 'cpu' });
      console.log(JSON.stringify({ backends: backends(), values: Array.from(r.values), grad: Array.from(r.backward()) }));
    `;
    writeFileSync(join(consumer, 'run.mjs'), script);
    const got = JSON.parse(execFileSync(process.execPath, ['run.mjs'], { cwd: consumer, encoding: 'utf8' })) as {
      backends: string[];
      values: number[];
      grad: number[];
    };
    expect(got.backends).toContain('cpu');
    const x = new Float32Array([-1.5, 2.0, 0.7, 3.8, -1.1, -5.4, 0.1, 2.3]);
    const want = functional.noisedTopK(x, [2, 4], { k: 3, seed: 7, backend: 'js' });
    expect(got.values).toEqual(Array.from(want.values));
    expect(got.grad).toEqual(Array.from(want.backward()));
    // Installed as a user gets it: no build tree in the package unless it had to compile.
    const installed = readdirSync(join(consumer, 'node_modules', 'noised-topk'));
    expect(installed).toContain('dist');
  });
});
