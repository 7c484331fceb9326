// The generated reference (docs/reference/, `npm run docs:reference`, TypeDoc with
// typedoc-plugin-markdown, issue 19) is up to date with the JSDoc in lib/, and covers every
// export of the package's two entry points.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const committed = join(root, 'docs', 'reference');
const fresh = mkdtempSync(join(tmpdir(), 'ntk-reference-'));
afterAll(() => rmSync(fresh, { recursive: true, force: true }));

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

// One TypeDoc run (a few seconds), with the committed typedoc.json, into a temporary folder.
const run = spawnSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', fresh], {
  cwd: root,
  encoding: 'utf8',
});
// Colour codes off; one warning a line: "[warning] <name> (<kind>), defined in ...".
// biome-ignore lint/suspicious/noControlCharactersInRegex: TypeDoc colours its log
const log = `${run.stdout}${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
const warnings = log.split('\n').filter((l) => l.includes('[warning]') && !/Found \d+ errors/.test(l));

/**
 * Members that have no JSDoc of their own yet. TypeDoc warns about each; a new undocumented
 * export, or an old one that gained docs and should leave this list, fails the test.
 */
const undocumented = [
  'tfjs.NoisedTopK.apply',
  'tfjs.BalNoisedTopK.apply',
  'tfjs.ImbalNoisedTopK.apply',
  'index.NoisedTopK.forward',
  'index.NoisedTopK.forwardAsync',
  'index.NoisedTopKResult.backwardAsync',
  'index.ForwardOutputs',
  'index.BalNoisedTopK.marginsAndScale',
  'index.BalNoisedTopK.forwardAsync',
  'index.ImbalNoisedTopK.marginsAndScale',
  'index.ImbalNoisedTopK.forwardAsync',
  'index.LossResult.backwardAsync',
  'index.BackendName',
  'index.BackendOption',
  'index.Scores',
  'index.perturbedTopKAsync',
  'index.PerturbedTopK.forward',
  'index.PerturbedTopK.forwardAsync',
  'index.PerturbedTopKResult.backwardAsync',
  'index.SmoothTopKSvm.forward',
  'index.functional.__type.noisedTopK',
  'index.functional.__type.noisedTopKAsync',
  'index.functional.__type.balNoisedTopKLoss',
  'index.functional.__type.balNoisedTopKLossAsync',
  'index.functional.__type.imbalNoisedTopKLoss',
  'index.functional.__type.imbalNoisedTopKLossAsync',
];

describe('the generated reference (docs/reference/)', () => {
  it('TypeDoc runs, and warns only about the listed undocumented members', () => {
    expect(run.status, log).toBe(0);
    const named = warnings.map(
      (w) => /\[warning\] (\S+) \(\w+\), defined in .* does not have any documentation/.exec(w)?.[1] ?? w,
    );
    expect(named.sort()).toEqual([...undocumented].sort());
  });

  it('is up to date: regenerating gives the committed files (run `npm run docs:reference`)', () => {
    const files = (dir: string) =>
      walk(dir)
        .map((f) => relative(dir, f))
        .sort();
    expect(files(committed)).toEqual(files(fresh));
    for (const f of files(fresh))
      expect(readFileSync(join(committed, f), 'utf8'), `docs/reference/${f} is stale`).toBe(
        readFileSync(join(fresh, f), 'utf8'),
      );
  });

  it('covers every export of both entry points (classes, functions, results, types, tfjs)', () => {
    const entries = { index: join(root, 'lib', 'index.ts'), tfjs: join(root, 'lib', 'tfjs.ts') };
    const program = ts.createProgram(Object.values(entries), {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      noResolve: false,
    });
    const checker = program.getTypeChecker();
    for (const [entry, file] of Object.entries(entries)) {
      const source = program.getSourceFile(file)!;
      const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).map((s) => s.name);
      expect(exports.length).toBeGreaterThan(5);
      const pages = new Set(
        walk(join(fresh, entry))
          .filter((f) => f.endsWith('.md'))
          .map((f) => basename(f, '.md')),
      );
      const index = readFileSync(join(fresh, entry, 'README.md'), 'utf8');
      // Each export has a page of its own, or (variables, namespaces) a heading in the index.
      const missing = exports.filter((name) => !pages.has(name) && !new RegExp(`\\[${name}\\]\\(`).test(index));
      expect(missing, `${entry}: exports missing from the reference`).toEqual([]);
    }
  });
});
