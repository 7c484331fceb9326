// Runs every ```js block of docs/ops.md as a user would: an ES module under the package root,
// importing 'noised-topk' and 'noised-topk/tfjs' by name (the package's self-reference, which
// resolves to dist/: built by `npm install` or `npm run build:ts`). Each block checks its own
// claims with node:assert, so a block that runs clean is a block whose claims hold.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const doc = readFileSync(join(root, 'docs', 'ops.md'), 'utf8');
const blocks = [...doc.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

mkdirSync(join(root, 'build'), { recursive: true });
const dir = mkdtempSync(join(root, 'build', 'docs-ops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/ops.md', () => {
  it('has runnable examples, and dist/ has the ops they import', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    expect(existsSync(join(root, 'dist', 'ops.js')), 'dist/ops.js is missing: run npm run build:ts').toBe(true);
  });

  it.each(
    blocks.map(
      (code, i) =>
        [
          i,
          code
            .split('\n')
            .find((l) => l.includes("from 'noised-topk"))
            ?.trim() ?? '',
          code,
        ] as const,
    ),
  )(
    'block %i (%s) runs and its assertions hold',
    (i, _first, code) => {
      const file = join(dir, `block-${i}.mjs`);
      writeFileSync(file, code);
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      expect(out.length).toBeGreaterThan(0);
    },
    180_000,
  );
});
