// The generated reference (docs/reference/, `npm run docs:reference`, TypeDoc with
// typedoc-plugin-markdown, issue 19) is up to date with the JSDoc in lib/, and covers every
// export of the package's two entry points.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
const undocumentedName = (w: string) =>
  /\[warning\] (\S+) \(\w+\), defined in .* does not have any documentation/.exec(w)?.[1] ?? w;

describe('the generated reference (docs/reference/)', () => {
  it('TypeDoc runs, and every exported member has its own documentation (no warning)', () => {
    expect(run.status, log).toBe(0);
    expect(warnings.map(undocumentedName)).toEqual([]);
  });

  it('the control: the committed settings do warn, by name, about an export without JSDoc', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'ntk-typedoc-control-'));
    try {
      writeFileSync(
        join(scratch, 'entry.ts'),
        '/** Documented. */\nexport function documented(): number { return 1; }\nexport function bare(): number { return 2; }\n',
      );
      const tsconfig = { compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true }, include: ['*.ts'] };
      writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify(tsconfig));
      const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as Record<string, unknown>;
      const plugin = createRequire(import.meta.url).resolve('typedoc-plugin-markdown');
      const control = {
        ...config,
        name: 'control',
        entryPoints: ['entry.ts'],
        tsconfig: 'tsconfig.json',
        out: 'out',
        plugin: [plugin],
      };
      writeFileSync(join(scratch, 'typedoc.json'), JSON.stringify(control));
      const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc')], {
        cwd: scratch,
        encoding: 'utf8',
      });
      // biome-ignore lint/suspicious/noControlCharactersInRegex: TypeDoc colours its log
      const said = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
      expect(said.filter((l) => l.includes('does not have any documentation')).map(undocumentedName)).toEqual(['bare']);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
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
