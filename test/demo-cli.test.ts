// The installed command (package.json "bin" -> dist/cli.js), run as a user runs it. dist/ is
// built by `npm install` (prepare) or `npm run build:ts`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const cli = join(root, 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

describe('noised-topk command', () => {
  it('package.json names dist/cli.js as the bin and npm run demo runs it', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.bin['noised-topk']).toBe('dist/cli.js');
    expect(pkg.scripts.demo).toBe('node dist/cli.js demo');
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build:ts').toBe(true);
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('demo --help lists every flag', () => {
    const r = run('demo', '--help');
    expect(r.status).toBe(0);
    for (const flag of ['--losses', '--epochs', '--k', '--seed', '--out', '--data', '--help']) expect(r.stdout).toContain(flag);
  });

  it('bad flags and bad files fail with a clear message and a non-zero status', () => {
    const bad = run('demo', '--epochs', 'many');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('noised-topk demo: --epochs must be an integer in [1, 10000], got "many"');
    const dir = mkdtempSync(join(tmpdir(), 'ntk-cli-'));
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"features":[1,2],"label":0}\n{"features":[1,2],"label":1}\n{"features":[1,2,3],"label":1}\n');
    const r = run('demo', '--data', file, '--out', dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${file}:3: "features" has 3 numbers, expected 2 (as on line 1)`);
    const unknown = run('train');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('unknown command "train"');
  });

  it('a tiny run through the command prints the table (quiet without a terminal: no bars)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ntk-cli-'));
    const rows = ['a,b,label'];
    for (let i = 0; i < 60; i++) rows.push(`${(i % 3) + Math.sin(i)},${(i % 3) * 2 + Math.cos(i)},${i % 3}`);
    writeFileSync(join(dir, 'd.csv'), rows.join('\n'));
    const r = run('demo', '--data', join(dir, 'd.csv'), '--losses', 'ce,imbal', '--epochs', '2', '--k', '1', '--out', dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^cross-entropy +\d/m);
    expect(r.stdout).toMatch(/^ImbalNoisedTopK +\d/m);
    expect(r.stdout).not.toContain('\u001b['); // no progress-bar escapes when stdout is a pipe
    expect(existsSync(join(dir, 'per-class-top1.svg'))).toBe(true);
  });
});
