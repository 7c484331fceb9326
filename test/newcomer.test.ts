// A newcomer's script, from the docs alone: the README's Quickstart, top-k losses, top-k ops and
// TensorFlow.js examples and docs/losses.md's model.fit example, as written, in one TypeScript
// project outside this repository that depends on the package by name (node_modules/noised-topk
// is the built package, dist/ and its .d.ts; the tfjs packages are the ones the docs name).
// Nothing from test/ is loaded: no gradient registered for it, no path mapped to lib/. The
// project must type-check under strict tsc and run in one Node process, and what each example's
// comments claim is asserted right after it, on the names it declares.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

/** The first ```ts block of the section `heading` of `file` (up to the next heading of its level). */
function block(file: string, heading: string): string {
  const text = readFileSync(join(root, file), 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`${file}: no heading "${heading}"`);
  const level = heading.slice(0, heading.indexOf(' ') + 1);
  const next = text.indexOf(`\n${level}`, at + 1);
  const m = /```ts\n([\s\S]*?)```/.exec(text.slice(at, next < 0 ? undefined : next));
  if (!m) throw new Error(`${file}: no ts block under "${heading}"`);
  return m[1]!;
}

// Each step: a docs example as written, then the checks of what its text says.
const steps = [
  {
    name: 'quickstart',
    code: block('README.md', '## Quickstart'),
    checks: `
assert.deepEqual(Array.from(out.values, (v) => Number(v.toFixed(3))), [0.176, -1.201]);
assert.equal(out.standardError.length, 2);
assert.equal(dx.length, 8);
for (const row of [0, 1]) assert.ok(Math.abs(dx.slice(4 * row, 4 * row + 4).reduce((a, b) => a + b, 0) - 1) < 1e-6);
`,
  },
  {
    name: 'losses',
    code: block('README.md', '## Top-k losses'),
    checks: `
assert.ok(r.loss > 0 && Number.isFinite(r.loss));
assert.deepEqual(Array.from(dScores.subarray(0, 5)), [0, 0, 0, 0, 0]);
assert.ok(Math.abs(dScores.subarray(5).reduce((a, b) => a + b, 0)) < 1e-6);
assert.equal(dScores[7], -0.5);
assert.equal(dScores2[7], -25);
assert.equal(dScores2[9], 25);
`,
  },
  {
    name: 'ops',
    code: block('README.md', '## Top-k ops'),
    checks: `
assert.deepEqual(Array.from(hard.values), [3, 3, 7, 3]);
assert.deepEqual(Array.from(hard.indices), [1, 2, 2, 1]);
assert.deepEqual(Array.from(dv), [0, 1, 2, 0, 0, 4, 3, 0]);
for (const row of [0, 1]) assert.ok(Math.abs(soft.mask.slice(4 * row, 4 * row + 4).reduce((a, b) => a + b, 0) - 2) < 1e-5);
assert.ok(dMask[1]! > 0);
`,
  },
  {
    name: 'tfjs',
    code: block('README.md', '## TensorFlow.js'),
    checks: `
assert.deepEqual(dx.shape, [2, 4]);
for (const s of tf.sum(dx, 1).arraySync() as number[]) assert.ok(Math.abs(s - 1) < 1e-6);
assert.equal(losses.length, 10);
assert.equal(Number(losses[0]!.toFixed(1)), 107.5);
assert.ok(losses[9]! < losses[0]! / 5);
`,
  },
  {
    name: 'fit',
    code: block('docs/losses.md', '## Training a tfjs-layers model: `model.compile` and `model.fit`'),
    checks: `
assert.equal(loss.length, 30);
`,
  },
];

const project = mkdtempSync(join(tmpdir(), 'ntk-newcomer-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe("a newcomer's script from the docs", () => {
  it('type-checks under strict tsc and runs in one process outside the repository', () => {
    expect(existsSync(join(root, 'dist', 'index.d.ts')), 'dist/ is missing: run npm run build:ts').toBe(true);
    // The project's dependencies: the package by name, and what the docs tell a user to install.
    const modules = join(project, 'node_modules');
    mkdirSync(join(modules, '@tensorflow'), { recursive: true });
    mkdirSync(join(modules, '@types'), { recursive: true });
    symlinkSync(root, join(modules, 'noised-topk'), 'dir');
    for (const p of ['tfjs-core', 'tfjs-backend-cpu', 'tfjs-layers'])
      symlinkSync(join(root, 'node_modules', '@tensorflow', p), join(modules, '@tensorflow', p), 'dir');
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(modules, '@types', 'node'), 'dir');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'newcomer', private: true, type: 'module' }));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          types: ['node'],
          outDir: 'out',
        },
        include: ['src'],
      }),
    );
    mkdirSync(join(project, 'src'));
    for (const s of steps) {
      // An example that imports assert itself keeps its own import.
      const assertImport = /import assert from 'node:assert\/strict';/.test(s.code)
        ? ''
        : "import assert from 'node:assert/strict';\n";
      writeFileSync(join(project, 'src', `${s.name}.ts`), `${assertImport}${s.code}\n${s.checks}\nexport {};\n`);
    }
    writeFileSync(
      join(project, 'src', 'main.ts'),
      `${steps.map((s) => `await import('./${s.name}.js');\nconsole.log('ran ${s.name}');`).join('\n')}\n`,
    );

    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], {
      cwd: project,
      encoding: 'utf8',
    });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);

    const run = spawnSync(process.execPath, [join(project, 'out', 'main.js')], {
      cwd: project,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    expect(run.stdout.match(/^ran \w+$/gm)).toEqual(steps.map((s) => `ran ${s.name}`));
  });

  it('the block finder is strict: a heading without an example is an error, not an empty step', () => {
    expect(() => block('README.md', '## No such heading')).toThrow(/no heading/);
    expect(() => block('README.md', '## Development')).toThrow(/no ts block/);
  });
});
