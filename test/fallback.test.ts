// Where the addon cannot load: 'auto' falls back to 'js' with one warning, 'cpu' throws the
// loader's one actionable error listing every attempt.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledPackage } from './helpers.js';

const pkg = mkdtempSync(join(tmpdir(), 'noised-topk-fallback-'));

beforeAll(() => {
  // A package tree with compiled lib/ but no build/ and no prebuilds/.
  compiledPackage(pkg);
}, 120_000);
afterAll(() => rmSync(pkg, { recursive: true, force: true }));

function run(code: string, env: Record<string, string> = {}): { stdout: string; stderr: string } {
  const file = join(pkg, `run-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, code);
  // The package tree has no addon; an explicit one (a sanitizer run sets NOISED_TOPK_ADDON) would
  // be loaded instead and defeat the point.
  const { NOISED_TOPK_ADDON: _explicit, ...inherited } = process.env;
  const out = execFileSync(process.execPath, [file], {
    encoding: 'utf8',
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { stdout: out, stderr: '' };
}

describe('without a loadable addon', () => {
  it("'auto' runs on 'js' and warns once; 'cpu' throws the loader's error", () => {
    const { stdout } = run(`
      import { backends, NoisedTopK } from './dist/index.js';
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.code));
      const x = new Float32Array([3, 1, 2, 5]);
      const a = new NoisedTopK({ k: 2, seed: 1 });
      const b = new NoisedTopK({ k: 2, seed: 1 });
      const va = a.forward(x, [4]).values[0];
      b.forward(x, [4]);
      let cpuError = null;
      try { new NoisedTopK({ k: 1, backend: 'cpu' }); } catch (e) { cpuError = e.message; }
      setTimeout(() => console.log(JSON.stringify({ backends: backends(), backend: a.backend, va, warnings, cpuError })), 10);
    `);
    const r = JSON.parse(stdout) as {
      backends: string[];
      backend: string;
      va: number;
      warnings: string[];
      cpuError: string;
    };
    expect(r.backends).toEqual(['js']);
    expect(r.backend).toBe('js');
    expect(Number.isFinite(r.va)).toBe(true);
    expect(r.warnings).toEqual(['NOISED_TOPK_JS_FALLBACK']);
    expect(r.cpuError).toMatch(/the native addon did not load\. Tried:/);
    // Each attempt with its reason: no attempt ends without one (the old "Tried:" of `bindings`).
    expect(r.cpuError).toMatch(/build\/Release\/noised_topk\.node: not built/);
    const attempts = r.cpuError.split('\n').filter((l) => l.startsWith('  - '));
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    for (const a of attempts) expect(a).toMatch(/^ {2}- \S.*: \S/);
    expect(r.cpuError).toMatch(/Tried:\n {2}- /);
    expect(r.cpuError).toMatch(/prebuilds\/linux-x64\/: no prebuild for this platform|prebuilds\//);
    expect(r.cpuError).toMatch(/npm rebuild noised-topk/);
  });

  it('a corrupt .node named by NOISED_TOPK_ADDON is reported, not a crash', () => {
    const bad = join(pkg, 'corrupt.node');
    writeFileSync(bad, 'not an ELF file');
    const { stdout } = run(
      `import { backends } from './dist/index.js';
       import { nativeLoadError } from './dist/native.js';
       console.log(JSON.stringify({ backends: backends(), msg: nativeLoadError().message }));`,
      { NOISED_TOPK_ADDON: bad },
    );
    const r = JSON.parse(stdout) as { backends: string[]; msg: string };
    expect(r.backends).toEqual(['js']);
    expect(r.msg).toContain(bad);
  });
});
