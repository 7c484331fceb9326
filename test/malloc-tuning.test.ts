// The addon's malloc tuning (native/malloc_tuning.cpp, docs/performance.md "Fresh outputs and
// page faults"): when it applies and when it stands aside, that it changes no value and no
// ownership (a gradient kept by the caller is never written again), and that after it a new
// 1 MB array per call no longer arrives as fresh pages. Page faults are counted, never timed.
import { spawnSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { functional } from '../lib/index.js';
import { mallocTuning, type MallocTuning } from '../lib/malloc-tuning.js';
import { addonPath, mulberry32, testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');
const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
const glibc = process.platform === 'linux' && Boolean(report?.header?.glibcVersionRuntime);
// Sanitizer runtimes replace malloc, and their mallopt refuses: the tuning then reports so.
const underSanitizer = /lib[at]san/.test(process.env.LD_PRELOAD ?? '');

/**
 * Runs `body` (CommonJS; `load()` requires the addon, `report(obj)` answers) in a child node
 * with `env` added to this process's environment, minus the variables the tuning reads.
 */
function child<T>(body: string, env: Record<string, string> = {}): T {
  const base = { ...process.env };
  for (const k of [
    'NOISED_TOPK_MALLOC_TUNING',
    'GLIBC_TUNABLES',
    'MALLOC_MMAP_THRESHOLD_',
    'MALLOC_TRIM_THRESHOLD_',
    'MALLOC_TOP_PAD_',
    'MALLOC_MMAP_MAX_',
  ])
    delete base[k];
  const code = `
    const load = () => require(process.argv[1]);
    const report = (o) => console.log(JSON.stringify(o));
    ${body}`;
  const r = spawnSync(process.execPath, ['-e', code, addonPath()], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...base, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

describe.skipIf(!hasCpu)('when the tuning applies', () => {
  it.skipIf(!glibc || underSanitizer)('on glibc, at load: M_MMAP_THRESHOLD 4 MiB and M_TRIM_THRESHOLD 64 MiB', () => {
    const t = child<MallocTuning>('report(load().mallocTuning());');
    expect(t).toEqual({ applied: true, mmapThreshold: 4 * 2 ** 20, trimThreshold: 64 * 2 ** 20, reason: '' });
    // This process loaded the addon too: the same decision, read through lib/.
    expect(mallocTuning()).toEqual(t);
  });

  it('NOISED_TOPK_MALLOC_TUNING=0 turns it off', () => {
    const t = child<MallocTuning>('report(load().mallocTuning());', { NOISED_TOPK_MALLOC_TUNING: '0' });
    expect(t.applied).toBe(false);
    expect(t.mmapThreshold).toBeNull();
    expect(t.trimThreshold).toBeNull();
    expect(t.reason).toMatch(glibc ? /NOISED_TOPK_MALLOC_TUNING=0/ : /not glibc/);
  });

  it.skipIf(!glibc)("the user's own malloc settings win (GLIBC_TUNABLES, MALLOC_TRIM_THRESHOLD_)", () => {
    const a = child<MallocTuning>('report(load().mallocTuning());', {
      GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1048576',
    });
    expect(a.applied).toBe(false);
    expect(a.reason).toMatch(/GLIBC_TUNABLES/);
    const b = child<MallocTuning>('report(load().mallocTuning());', { MALLOC_TRIM_THRESHOLD_: '1048576' });
    expect(b.applied).toBe(false);
    expect(b.reason).toMatch(/MALLOC_TRIM_THRESHOLD_/);
    // A GLIBC_TUNABLES about something else leaves it on.
    const c = child<MallocTuning>('report(load().mallocTuning());', {
      GLIBC_TUNABLES: 'glibc.cpu.x86_shstk=permissive',
    });
    expect(c.applied).toBe(!underSanitizer);
  });

  it('is decided once per process: a second require reports the same', () => {
    const t = child<MallocTuning[]>(`
      const a = load().mallocTuning();
      process.env.NOISED_TOPK_MALLOC_TUNING = '0';
      delete require.cache[process.argv[1]];
      report([a, load().mallocTuning()]);`);
    expect(t[1]).toEqual(t[0]);
  });
});

describe.skipIf(!hasCpu)(
  'NOISED_TOPK_MALLOC_TUNING: the usual spellings, one warning for anything else (issue 18, 11)',
  () => {
    /** Loads the addon in this child and in a worker of it; the report of the child, and its stderr. */
    function load(value: string): { t: MallocTuning; stderr: string } {
      const base = { ...process.env };
      for (const k of [
        'NOISED_TOPK_MALLOC_TUNING',
        'GLIBC_TUNABLES',
        'MALLOC_MMAP_THRESHOLD_',
        'MALLOC_TRIM_THRESHOLD_',
      ])
        delete base[k];
      const code = `
      const { Worker } = require('node:worker_threads');
      const t = require(process.argv[1]).mallocTuning();
      const w = new Worker('require(process.argv[2]).mallocTuning()', { eval: true, argv: [process.argv[1]] });
      w.on('exit', () => console.log(JSON.stringify(t)));`;
      const r = spawnSync(process.execPath, ['-e', code, addonPath()], {
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...base, NOISED_TOPK_MALLOC_TUNING: value },
      });
      expect(r.status, r.stderr).toBe(0);
      return { t: JSON.parse(r.stdout.trim().split('\n').pop()!) as MallocTuning, stderr: r.stderr };
    }

    it.each(['0', 'false', 'FALSE', ' Off ', 'no', 'off\n'])('%j turns it off, without a warning', (value) => {
      const { t, stderr } = load(value);
      expect(t.applied).toBe(false);
      expect(t.reason).toBe(glibc ? `NOISED_TOPK_MALLOC_TUNING=${value}` : 'not glibc');
      expect(stderr).not.toMatch(/NOISED_TOPK_MALLOC_TUNING/);
    });

    it.each(['1', 'true', 'YES', ' on ', ''])('%j keeps it, without a warning', (value) => {
      const { t, stderr } = load(value);
      expect(t.applied).toBe(glibc && !underSanitizer);
      expect(stderr).not.toMatch(/NOISED_TOPK_MALLOC_TUNING/);
    });

    it.skipIf(!glibc)('anything else keeps it and warns once per process (a worker loading it too)', () => {
      const { t, stderr } = load('disable');
      expect(t.applied).toBe(!underSanitizer);
      const warnings = stderr.match(
        /\[NOISED_TOPK_MALLOC_TUNING_INVALID\] Warning: NOISED_TOPK_MALLOC_TUNING=disable is not recognized/g,
      );
      expect(warnings, stderr).toHaveLength(1);
      expect(stderr).toMatch(/0, false, no or off turn the malloc tuning off/);
    });
  },
);

describe('without the addon', () => {
  it("mallocTuning() says so, and the 'js' backend computes as before", async () => {
    const saved = process.env.NOISED_TOPK_NATIVE;
    process.env.NOISED_TOPK_NATIVE = '0';
    try {
      vi.resetModules();
      const tuningNoAddon = await import('../lib/malloc-tuning.js');
      const lib = await import('../lib/index.js');
      expect(lib.backends()).not.toContain('cpu');
      expect(tuningNoAddon.mallocTuning()).toEqual({
        applied: false,
        mmapThreshold: null,
        trimThreshold: null,
        reason: 'the native addon is not loaded',
      });
      const [B, D] = [6, 40];
      const rnd = mulberry32(5);
      const x = Float32Array.from({ length: B * D }, () => rnd() * 4 - 2);
      const labels = Int32Array.from({ length: B }, () => Math.floor(rnd() * D));
      const o = { k: 3, epsilon: 0.5, nSample: 4, seed: 9n, offset: 0 };
      const fresh = lib.functional.balNoisedTopKLoss(x, labels, [B, D], o).backward();
      const into = lib.functional.balNoisedTopKLoss(x, labels, [B, D], o).backward(undefined, new Float32Array(B * D));
      expect(Array.from(fresh)).toEqual(Array.from(into));
    } finally {
      if (saved === undefined) delete process.env.NOISED_TOPK_NATIVE;
      else process.env.NOISED_TOPK_NATIVE = saved;
      vi.resetModules();
    }
  });
});

describe('a new gradient per call', () => {
  it.each(testedBackends())(
    '%s: equals the preallocated `out`, and gradients the caller keeps are never written again',
    (backend) => {
      const [B, D, S] = [64, 1000, 3]; // a 256 KB gradient: a heap block with the tuning, an mmap without
      const rnd = mulberry32(17);
      const x = Float32Array.from({ length: B * D }, () => rnd() * 6 - 3);
      const labels = Int32Array.from({ length: B }, () => Math.floor(rnd() * D));
      const out = new Float32Array(B * D);
      const kept: { grad: Float32Array; copy: Float32Array }[] = [];
      const calls = backend === 'js' ? 12 : 200; // enough freed arrays for the allocator to reuse memory
      for (let i = 0; i < calls; i++) {
        const o = { k: 5, epsilon: 1, nSample: S, seed: 3n, offset: i, backend };
        const grad = functional.balNoisedTopKLoss(x, labels, [B, D], o).backward();
        const again = functional.balNoisedTopKLoss(x, labels, [B, D], o).backward(undefined, out);
        expect(again).toBe(out);
        let same = true;
        for (let j = 0; j < grad.length; j++) same &&= Object.is(grad[j], out[j]);
        expect(same, `call ${i}`).toBe(true);
        expect(grad.buffer.byteLength).toBe(B * D * 4); // its own buffer, not a view into a shared block
        if (i % 5 === 0) kept.push({ grad, copy: grad.slice() });
      }
      for (const { grad, copy } of kept) expect(Array.from(grad)).toEqual(Array.from(copy));
    },
  );
});

describe.skipIf(!hasCpu || !glibc || underSanitizer)(
  'page faults of a new 1 MB array per call (counted, not timed)',
  () => {
    // Each call allocates a 1 MB Float32Array and writes every page (as a kernel writing a
    // gradient does), keeping the last 4 alive; 1000 warm-up calls, then the faults of 1000 calls.
    const loop = `
    const n = 256000, pages = n * 4 / 4096;
    let keep = [];
    const step = () => { const a = new Float32Array(n); a.fill(1); keep.push(a); if (keep.length > 4) keep.shift(); };
    for (let i = 0; i < 1000; i++) step();
    const f0 = process.resourceUsage().minorPageFault;
    for (let i = 0; i < 1000; i++) step();
    report({ perCall: (process.resourceUsage().minorPageFault - f0) / 1000, pages, tuning: tuning.applied });`;

    it('control: when glibc maps every such array afresh, the counter sees about one fault per page', () => {
      // Forcing glibc's mmap threshold below 1 MB is the state a process reaches by itself when
      // its last freed mmapped block was smaller (docs/performance.md): every array is new pages.
      const r = child<{ perCall: number; pages: number; tuning: boolean }>(
        `const tuning = load().mallocTuning();\n${loop}`,
        {
          GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072',
        },
      );
      expect(r.tuning).toBe(false);
      expect(r.perCall).toBeGreaterThan(0.9 * r.pages);
    });

    it('with the tuning, after warm-up, fewer than a quarter of the pages fault per call', () => {
      const r = child<{ perCall: number; pages: number; tuning: boolean }>(
        `const tuning = load().mallocTuning();\n${loop}`,
      );
      expect(r.tuning).toBe(true);
      expect(r.perCall).toBeLessThan(0.25 * r.pages);
    });
  },
);
