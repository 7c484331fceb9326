// Install and load where the native addon cannot be had (docs/reliability.md): no cmake, no
// compiler, no node-gyp and no usable prebuild. scripts/install.mjs must still succeed, the
// package must run on 'js', a corrupt or foreign .node must give an actionable error or the
// fallback (never a crash), and neither install nor load may touch the network.
// (test/fallback.test.ts covers the one-time warning and the loader's message.)
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'noised-topk-install-'));
const pkg = join(scratch, 'pkg');
const bin = join(scratch, 'bin');
const platformDir = join(pkg, 'prebuilds', `${process.platform}-${process.arch}`);

// Loaded with --import: any attempt to reach the network is recorded and refused.
const noNetwork = `
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import dns from 'node:dns';
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';
const log = process.env.NOISED_TOPK_NET_LOG;
const refuse = (what) => function () {
  appendFileSync(log, what + '\\n');
  throw new Error('network access refused by the test: ' + what);
};
net.connect = net.createConnection = refuse('net.connect');
net.Socket.prototype.connect = refuse('net.Socket.connect');
tls.connect = refuse('tls.connect');
dns.lookup = refuse('dns.lookup');
dns.resolve = refuse('dns.resolve');
dns.promises.lookup = refuse('dns.promises.lookup');
http.request = http.get = refuse('http.request');
https.request = https.get = refuse('https.request');
globalThis.fetch = refuse('fetch');
syncBuiltinESMExports();
`;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { HOME: scratch, PATH: bin, NOISED_TOPK_NET_LOG: join(scratch, 'net.log'), ...extra };
  return e; // no npm_config_node_gyp, no NOISED_TOPK_ADDON, no proxies: only what is given
}

function node(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(noNetwork)}`, ...args],
    {
      cwd: pkg,
      env: env(extra),
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const loadScript = `
import { backends, NoisedTopK } from './dist/index.js';
import { nativeLoadError } from './dist/native.js';
const warnings = [];
process.on('warning', (w) => warnings.push(w.code));
const r = new NoisedTopK({ k: 1, seed: 3 }).forward(Float32Array.of(1, 5, 2), [3]);
let cpuError = null;
try { new NoisedTopK({ k: 1, backend: 'cpu' }); } catch (e) { cpuError = e.message; }
setTimeout(() => console.log(JSON.stringify({ backends: backends(), value: r.values[0], warnings, cpuError, loadError: nativeLoadError().message })), 10);
`;

beforeAll(() => {
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node')); // the only command on PATH
  mkdirSync(pkg);
  for (const entry of ['package.json', 'scripts', 'native', 'CMakeLists.txt', 'binding.gyp'])
    cpSync(join(root, entry), join(pkg, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  const tsc = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      join(pkg, 'dist'),
    ],
    { encoding: 'utf8' },
  );
  if (!existsSync(join(pkg, 'dist', 'index.js'))) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  writeFileSync(join(pkg, 'load.mjs'), loadScript);
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function parseLoad(r: ReturnType<typeof node>) {
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    backends: string[];
    value: number;
    warnings: string[];
    cpuError: string;
    loadError: string;
  };
}

describe('install without cmake, a compiler, node-gyp or a prebuild', () => {
  it('npm install (scripts/install.mjs) succeeds and says the js backend will be used', () => {
    rmSync(join(pkg, 'prebuilds'), { recursive: true, force: true });
    const r = node(['scripts/install.mjs']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/cmake not found/);
    expect(r.stderr).toMatch(/pure TypeScript backend \('js'\)/);
    expect(existsSync(join(pkg, 'build', 'Release', 'noised_topk.node'))).toBe(false);
    // One short plain message: what failed (each way, with its reason) and how to fix it.
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(8);
    expect(lines[0]).toMatch(
      /^noised-topk: no native addon for \S+, so the package will run on its pure TypeScript backend/,
    );
    expect(r.stderr).toMatch(/^ {2}- no prebuild for \S+ in this package$/m);
    expect(r.stderr).toMatch(/^ {2}- node-gyp not found/m);
    expect(r.stderr).toMatch(/To fix: install cmake and a C\+\+17 compiler .*then run `npm rebuild noised-topk`/);
  }, 120_000);

  it('a failing source build: its output goes to build/install.log, the message quotes its error', () => {
    rmSync(join(pkg, 'prebuilds'), { recursive: true, force: true });
    // A cmake that configures nothing: routine chatter on stdout, then an error.
    writeFileSync(
      join(bin, 'cmake'),
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "cmake version 3.31.6"; exit 0; fi\n' +
        'echo "Not searching for unused variables given on the command line."\n' +
        'echo "CMake Error at CMakeLists.txt:3 (project): No CMAKE_CXX_COMPILER could be found." >&2\nexit 1\n',
      { mode: 0o755 },
    );
    try {
      const r = node(['scripts/install.mjs']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/Not searching for unused variables/);
      // cmake-js looks for a compiler before it runs cmake: here it finds none.
      const quoted = /^ {2}- the cmake-js build failed: (\S.*[Cc]ompiler.*)$/m.exec(r.stderr);
      expect(quoted, r.stderr).not.toBeNull();
      expect(r.stderr).toMatch(/pure TypeScript backend \('js'\)/);
      const logFile = join(pkg, 'build', 'install.log');
      expect(r.stderr).toContain(`Build output: ${logFile}`);
      const log = readFileSync(logFile, 'utf8');
      expect(log).toMatch(/^\$ \S+ \S+cmake-js compile --log-level error$/m);
      expect(log).toContain(quoted![1]!.slice(0, 60));
    } finally {
      rmSync(join(bin, 'cmake'));
      rmSync(join(pkg, 'build'), { recursive: true, force: true });
    }
  }, 120_000);

  it("the package then runs on 'js' with one warning, and 'cpu' says how to fix it", () => {
    const r = parseLoad(node(['load.mjs']));
    expect(r.backends).toEqual(['js']);
    expect(r.value).toBeGreaterThan(3);
    expect(r.warnings).toEqual(['NOISED_TOPK_JS_FALLBACK']);
    expect(r.cpuError).toMatch(/npm rebuild noised-topk/);
  });
});

describe('a source build that "succeeds" but whose addon does not load', () => {
  it('is reported as such, and the install ends on the js message', () => {
    rmSync(join(pkg, 'prebuilds'), { recursive: true, force: true });
    // A node-gyp that exits 0 after writing garbage where the addon goes; Node.js headers where
    // the install script looks for them (node-gyp's cache under HOME).
    const fakeGyp = join(scratch, 'fake-node-gyp.js');
    writeFileSync(
      fakeGyp,
      "const fs = require('fs'); fs.mkdirSync('build/Release', { recursive: true }); fs.writeFileSync('build/Release/noised_topk.node', 'not a shared object');\n",
    );
    const headers = join(scratch, '.cache', 'node-gyp', process.versions.node, 'include', 'node');
    mkdirSync(headers, { recursive: true });
    writeFileSync(join(headers, 'node_api.h'), '');
    try {
      const r = node(['scripts/install.mjs'], { npm_config_node_gyp: fakeGyp });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^ {2}- the node-gyp build finished, but its addon does not load here \(.+\)$/m);
      expect(r.stderr).toMatch(/pure TypeScript backend \('js'\)/);
      expect(r.stderr).not.toMatch(/built the native addon/);
    } finally {
      rmSync(join(pkg, 'build'), { recursive: true, force: true });
      rmSync(join(scratch, '.cache'), { recursive: true, force: true });
    }
  }, 120_000);
});

describe('a corrupt or foreign .node file', () => {
  const real = join(root, 'build', 'Release', 'noised_topk.node');
  const variants: [string, () => Buffer][] = [
    ['garbage bytes', () => Buffer.from('definitely not an ELF shared object\n'.repeat(50))],
    ['an empty file', () => Buffer.alloc(0)],
    [
      'a truncated copy of the real addon',
      () => (existsSync(real) ? readFileSync(real).subarray(0, 4096) : Buffer.from('\x7fELF')),
    ],
    [
      'an ELF header with garbage after it',
      () => Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), Buffer.alloc(8192, 0xa5)]),
    ],
  ];

  it.each(variants)(
    '%s as the prebuild: install still succeeds, load falls back to js and names it',
    (_, bytes) => {
      rmSync(join(pkg, 'prebuilds'), { recursive: true, force: true });
      mkdirSync(platformDir, { recursive: true });
      writeFileSync(join(platformDir, 'noised-topk.node'), bytes());
      const install = node(['scripts/install.mjs']);
      expect(install.signal, install.stderr).toBeNull();
      expect(install.status, install.stderr).toBe(0);
      expect(install.stderr).toMatch(/prebuild noised-topk\.node does not load here/);
      const r = parseLoad(node(['load.mjs']));
      expect(r.backends).toEqual(['js']);
      expect(r.loadError).toMatch(/prebuilds\/[^/]+\/noised-topk\.node: /);
      expect(r.loadError).toMatch(/npm rebuild noised-topk/);
    },
    120_000,
  );

  it.each(variants)('%s named by NOISED_TOPK_ADDON: the error names the file, no crash', (name, bytes) => {
    const file = join(scratch, `addon-${name.replace(/\W+/g, '-')}.node`);
    writeFileSync(file, bytes());
    const r = parseLoad(node(['load.mjs'], { NOISED_TOPK_ADDON: file }));
    expect(r.backends).toEqual(['js']);
    expect(r.loadError).toContain(file);
    // Asked for that file and not given it: said at once, not only when 'cpu' is asked for.
    expect(r.warnings).toContain('NOISED_TOPK_ADDON_INVALID');
  });

  it('a prebuild that is a link to /dev/zero: install and load refuse it at once, unread', () => {
    rmSync(join(pkg, 'prebuilds'), { recursive: true, force: true });
    mkdirSync(platformDir, { recursive: true });
    symlinkSync('/dev/zero', join(platformDir, 'noised-topk.node'));
    const started = Date.now();
    const install = node(['scripts/install.mjs']);
    expect(install.signal, install.stderr).toBeNull();
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).toMatch(
      /prebuild noised-topk\.node does not load here \(not a regular file \(a character device\)\)/,
    );
    const r = parseLoad(node(['load.mjs']));
    expect(r.backends).toEqual(['js']);
    expect(r.loadError).toMatch(/noised-topk\.node: .*not a regular file \(a character device\)/);
    expect(Date.now() - started).toBeLessThan(60_000);
    rmSync(join(pkg, 'prebuilds'), { recursive: true, force: true });
  }, 120_000);

  it('a shared library that is not a Node addon (libm) gives an error, not a crash', () => {
    const libm = ['/lib/x86_64-linux-gnu/libm.so.6', '/usr/lib/x86_64-linux-gnu/libm.so.6', '/lib64/libm.so.6'].find(
      existsSync,
    );
    if (!libm) return;
    const file = join(scratch, 'libm.node');
    cpSync(libm, file);
    const r = parseLoad(node(['load.mjs'], { NOISED_TOPK_ADDON: file }));
    expect(r.backends).toEqual(['js']);
    expect(r.loadError).toContain(file);
  });
});

describe('truncated addons are refused before dlopen (which would die of SIGBUS)', () => {
  const real = join(root, 'build', 'Release', 'noised_topk.node');

  it('elfProblem passes the real addon and the prebuild, and refuses every truncation of it', async () => {
    const { elfProblem } = await import('../lib/elf.js');
    if (!existsSync(real)) return;
    const bytes = readFileSync(real);
    expect(elfProblem(bytes)).toBeNull();
    const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    for (const f of existsSync(prebuilt) ? readdirSync(prebuilt) : [])
      expect(elfProblem(readFileSync(join(prebuilt, f))), f).toBeNull();
    // Cuts are refused up to the end of the last segment the loader reads, accepted after it
    // (what follows is debug info and section headers).
    const verdicts = [];
    for (let n = 4; n < bytes.length; n += 97) verdicts.push(elfProblem(bytes.subarray(0, n)) === null);
    const firstAccepted = verdicts.indexOf(true);
    expect(firstAccepted).toBeGreaterThan(0);
    expect(verdicts.slice(firstAccepted).every(Boolean)).toBe(true);
  });

  it('loading truncated copies cut at 12 points: the js fallback or a working addon, never a signal', () => {
    if (!existsSync(real)) return;
    const bytes = readFileSync(real);
    for (let i = 1; i <= 12; i++) {
      const file = join(scratch, `cut-${i}.node`);
      writeFileSync(file, bytes.subarray(0, Math.floor((bytes.length * i) / 13)));
      const r = parseLoad(node(['load.mjs'], { NOISED_TOPK_ADDON: file }));
      // Cut inside what the loader reads: refused by name. Cut in the trailing debug info: loads.
      if (r.backends.includes('cpu')) expect(r.loadError).toMatch(/is loaded/);
      else expect(r.loadError).toContain(file);
    }
  }, 120_000);
});

describe('no network', () => {
  it('nothing above tried to reach the network', () => {
    const log = join(scratch, 'net.log');
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
  });

  it('the install script and the loader import no networking module', () => {
    const sources = [
      join(root, 'scripts', 'install.mjs'),
      join(root, 'scripts', 'elf.mjs'),
      join(root, 'lib', 'native.ts'),
      join(root, 'lib', 'kernel.ts'),
    ];
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(
        /['"]node:(https?|net|tls|dns|dgram|http2)['"]|\bfetch\(|XMLHttpRequest|WebSocket/,
      );
    }
    expect(readdirSync(join(root, 'scripts'))).toContain('install.mjs');
  });
});
