// The loader's ELF check and NOISED_TOPK_ADDON (docs/limits.md): scripts/elf.mjs reads the ELF
// header and program headers only and refuses what is not a regular file before reading it; a
// NOISED_TOPK_ADDON that does not load is a warning naming the path and why, then the normal
// search (build/, prebuilds/) goes on.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { elfFileProblem, elfProblem } from '../lib/elf.js';
import { compiledPackage, root, testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');
const scratch = fs.mkdtempSync(join(tmpdir(), 'noised-topk-loader-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const real = join(root, 'build', 'Release', 'noised_topk.node');

/** Writes a file into the scratch folder and gives its path. */
function writeAndName(name: string, data: string | Uint8Array): string {
  fs.writeFileSync(join(scratch, name), data);
  return join(scratch, name);
}

/** fs with readSync counting the bytes it returns. */
function countingFs() {
  const counter = { bytes: 0, reads: 0 };
  const wrapped = {
    ...fs,
    readSync: ((fd: number, buf: NodeJS.ArrayBufferView, off: number, len: number, pos: number | null) => {
      const n = fs.readSync(fd, buf, off, len, pos);
      counter.bytes += n;
      counter.reads++;
      return n;
    }) as typeof fs.readSync,
  };
  return { fs: wrapped, counter };
}

describe('elfFileProblem reads the headers only', () => {
  it.skipIf(!fs.existsSync(real))(
    'the real addon: the same verdict as the whole-file check, reading at most the ELF and program headers',
    () => {
      const bytes = fs.readFileSync(real);
      const { fs: cfs, counter } = countingFs();
      expect(elfFileProblem(real, cfs)).toBeNull();
      expect(elfProblem(bytes)).toBeNull();
      const phnum = bytes.readUInt16LE(56);
      expect(counter.bytes).toBe(64 + phnum * 56);
      expect(counter.bytes).toBeLessThan(bytes.length / 100);
      // Truncations: the file check agrees with the byte check at every cut.
      for (const n of [0, 3, 40, 63, 64, 500, 4096, Math.floor(bytes.length / 2), bytes.length - 1]) {
        const file = join(scratch, `cut-${n}.node`);
        fs.writeFileSync(file, bytes.subarray(0, n));
        const want = n === 0 ? 'empty file' : elfProblem(bytes.subarray(0, n));
        expect(elfFileProblem(file), `cut at ${n}`).toBe(want);
      }
    },
  );

  it('a sparse 64 GiB file behind a valid header is judged from its headers in a few reads', () => {
    const file = join(scratch, 'huge.node');
    const head = fs.existsSync(real)
      ? fs.readFileSync(real).subarray(0, 4096)
      : Buffer.from('\x7fELF\x02\x01\x01', 'latin1');
    fs.writeFileSync(file, head);
    fs.truncateSync(file, 64 * 2 ** 30);
    const { fs: cfs, counter } = countingFs();
    elfFileProblem(file, cfs);
    expect(counter.bytes).toBeLessThanOrEqual(64 + 65535 * 56);
    expect(counter.reads).toBeLessThanOrEqual(4);
    fs.rmSync(file);
  });

  it('devices, directories and FIFOs are refused without being read (a FIFO would block a read)', () => {
    const { fs: cfs, counter } = countingFs();
    expect(elfFileProblem('/dev/zero', cfs)).toBe('not a regular file (a character device)');
    expect(elfFileProblem('/dev/null', cfs)).toBe('not a regular file (a character device)');
    expect(elfFileProblem(scratch, cfs)).toBe('not a regular file (a directory)');
    const fifo = join(scratch, 'fifo.node');
    if (spawnSync('mkfifo', [fifo]).status === 0) expect(elfFileProblem(fifo, cfs)).toBe('not a regular file (a FIFO)');
    fs.symlinkSync('/dev/zero', join(scratch, 'zero-link.node'));
    expect(elfFileProblem(join(scratch, 'zero-link.node'), cfs)).toBe('not a regular file (a character device)');
    expect(counter.reads).toBe(0);
    expect(elfFileProblem(join(scratch, 'missing.node'))).toBeNull(); // require() says "cannot find"
  });

  it('an ELF header whose program header entry size is not the standard one is refused (glibc refuses it too)', () => {
    const h = Buffer.alloc(128);
    h.write('\x7fELF\x02\x01\x01', 0, 'latin1');
    h.writeBigUInt64LE(64n, 32); // phoff
    h.writeUInt16LE(4096, 54); // phentsize
    h.writeUInt16LE(65535, 56); // phnum: a 256 MiB table if it were believed
    expect(elfProblem(h)).toBe('unexpected program header entry size 4096');
  });

  it('scripts/install.mjs and lib/ share scripts/elf.mjs: no second copy of the parser', () => {
    const install = fs.readFileSync(join(root, 'scripts', 'install.mjs'), 'utf8');
    expect(install).toMatch(/import \{ elfFileProblem \} from '\.\/elf\.mjs'/);
    expect(install).not.toMatch(/0x7f|getBigUint64|phentsize/);
    const lib = fs.readFileSync(join(root, 'lib', 'elf.ts'), 'utf8');
    expect(lib).toMatch(/from '\.\.\/scripts\/elf\.mjs'/);
    expect(lib).not.toMatch(/0x7f|getBigUint64|phentsize/);
    const pkg = JSON.parse(fs.readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('scripts/elf.mjs');
  });
});

describe.skipIf(!hasCpu)('NOISED_TOPK_ADDON that does not load: a warning, then build/', () => {
  const saved = process.env.NOISED_TOPK_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.NOISED_TOPK_ADDON;
    else process.env.NOISED_TOPK_ADDON = saved;
    vi.resetModules();
  });

  /** A fresh lib/native.ts with NOISED_TOPK_ADDON = file: the warnings it emitted and whether it loaded. */
  async function load(file: string) {
    process.env.NOISED_TOPK_ADDON = file;
    vi.resetModules();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const started = performance.now();
    const native = await import('../lib/native.js');
    const addon = native.loadNative();
    const ms = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10)); // warnings are emitted on the next tick
    process.off('warning', onWarning);
    return {
      addon,
      warnings: warnings.filter((w) => (w as Error & { code?: string }).code === 'NOISED_TOPK_ADDON_INVALID'),
      ms,
    };
  }

  const cases: [string, () => string, RegExp][] = [
    ['/dev/zero', () => '/dev/zero', /not a regular file \(a character device\)/],
    ['a directory', () => scratch, /not a regular file \(a directory\)/],
    ['an empty file', () => writeAndName('empty.node', ''), /empty file/],
    ['a text file', () => writeAndName('text.node', 'hello\n'.repeat(100)), /invalid ELF header|too short/],
    [
      'a truncated copy of the addon',
      () => writeAndName('trunc.node', fs.readFileSync(real).subarray(0, 8192)),
      /segment \d+ ends past the end of the file|program headers past the end/,
    ],
    ['a missing file', () => join(scratch, 'nothing-here.node'), /Cannot find module|no such file/i],
  ];
  it.each(cases)(
    '%s: NOISED_TOPK_ADDON_INVALID names the path and why; the addon still loads from build/',
    async (_name, make, why) => {
      const file = make();
      const r = await load(file);
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]!.message).toContain(`NOISED_TOPK_ADDON=${file} did not load (`);
      expect(r.warnings[0]!.message).toMatch(why);
      expect(r.warnings[0]!.message).toMatch(/looking in build\/ and prebuilds\/ instead/);
      expect(r.addon).not.toBeNull();
      expect(typeof r.addon!.forward).toBe('function');
      expect(r.ms).toBeLessThan(5_000);
    },
  );

  it('a good NOISED_TOPK_ADDON loads without a warning', async () => {
    const r = await load(saved ?? real);
    expect(r.warnings).toHaveLength(0);
    expect(r.addon).not.toBeNull();
  });
});

// Issue 18, item 6: a relative NOISED_TOPK_ADDON was checked against the working directory but
// loaded against the package, so a truncated file the check never saw reached dlopen (SIGBUS).
// Now it is resolved once, against the working directory, and that one file is checked and loaded.
describe.skipIf(!fs.existsSync(real))(
  'a relative NOISED_TOPK_ADDON: resolved once, against the working directory',
  () => {
    const pkg = join(scratch, 'pkg');
    const cwd = join(scratch, 'cwd');
    /** Runs the compiled loader in a child in `cwd` with NOISED_TOPK_ADDON = rel: its warnings, or how it died. */
    function child(rel: string) {
      fs.writeFileSync(
        join(pkg, 'load.mjs'),
        `import { loadNative } from './dist/native.js';
       const warnings = [];
       process.on('warning', (w) => warnings.push(w.code + ': ' + w.message));
       const a = loadNative();
       setTimeout(() => console.log(JSON.stringify({ loaded: a !== null, warnings })), 10);`,
      );
      return spawnSync(process.execPath, [join(pkg, 'load.mjs')], {
        cwd,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NOISED_TOPK_ADDON: rel },
      });
    }
    const truncated = () => fs.readFileSync(real).subarray(0, 8192);

    it('a truncated file there gives the ELF guard warning, not a signal', () => {
      if (!fs.existsSync(join(pkg, 'dist'))) {
        fs.mkdirSync(cwd, { recursive: true });
        compiledPackage(pkg);
      }
      fs.mkdirSync(join(cwd, 'sub'), { recursive: true });
      fs.writeFileSync(join(cwd, 'sub', 'trunc.node'), truncated());
      for (const rel of ['sub/trunc.node', './sub/trunc.node']) {
        const r = child(rel);
        expect(r.signal, r.stderr).toBeNull();
        expect(r.status, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout) as { warnings: string[] };
        const warning = out.warnings.find((w) =>
          w.startsWith(`NOISED_TOPK_ADDON_INVALID: NOISED_TOPK_ADDON=${rel} did not load (`),
        );
        expect(warning, out.warnings.join('\n')).toMatch(
          /segment \d+ ends past the end of the file|program headers past the end/,
        );
      }
    }, 180_000);

    it('a truncated file at that path under the package is never loaded: the path is missing where it is resolved', () => {
      if (!fs.existsSync(join(pkg, 'dist'))) {
        fs.mkdirSync(cwd, { recursive: true });
        compiledPackage(pkg);
      }
      fs.mkdirSync(join(pkg, 'only-here'), { recursive: true });
      fs.writeFileSync(join(pkg, 'only-here', 'trunc.node'), truncated());
      const r = child('./only-here/trunc.node');
      expect(r.signal, r.stderr).toBeNull(); // before: SIGBUS in dlopen
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { warnings: string[] };
      expect(out.warnings.join('\n')).toMatch(
        /NOISED_TOPK_ADDON=\.\/only-here\/trunc\.node did not load \(.*(Cannot find module|no such file)/i,
      );
    }, 180_000);
  },
);
