// The TypeScript examples of docs/losses.md and docs/input-rules.md run as written (imports of
// 'noised-topk' point at lib/); each example checks what it shows with node:assert.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { here, root } from './helpers.js';
import { setupTf } from './tfjs-helpers.js';

const docs = ['losses.md', 'input-rules.md'];
const blocks = docs.flatMap((doc) =>
  [...readFileSync(join(root, 'docs', doc), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map(
    (m, i) => [`${doc} block ${i}`, m[1]!] as const,
  ),
);
const dir = mkdtempSync(join(here, '.docs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(setupTf);

describe('docs examples', () => {
  it('each doc has TypeScript examples', () => {
    for (const doc of docs)
      expect(
        blocks.some(([name]) => name.startsWith(doc)),
        doc,
      ).toBe(true);
  });
  it.each(blocks)('%s runs', async (name, code) => {
    const lib = join(root, 'lib');
    const source = code.replace(
      /from 'noised-topk(\/[\w-]+)?'/g,
      (_m, sub: string | undefined) => `from '${lib}/${sub ? sub.slice(1) : 'index'}.js'`,
    );
    const file = join(dir, `${name.replace(/\W+/g, '-')}.ts`);
    writeFileSync(file, `${source}\nexport {};\n`);
    await expect(import(file)).resolves.toBeDefined();
  });
});
