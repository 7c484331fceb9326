// The README's TypeScript examples run as written (imports of 'noised-topk' point at lib/).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { here, root } from './helpers.js';

const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = mkdtempSync(join(here, '.readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  it('has TypeScript examples', () => expect(blocks.length).toBeGreaterThan(0));
  it.each(blocks.map((code, i) => [i, code] as const))('block %i runs', async (i, code) => {
    const lib = join(root, 'lib');
    const source = code.replace(/from 'noised-topk(\/[\w-]+)?'/g, (_m, sub: string | undefined) => `from '${lib}/${sub ? sub.slice(1) : 'index'}.js'`);
    const file = join(dir, `block-${i}.ts`);
    writeFileSync(file, `${source}\nexport {};\n`);
    await expect(import(file)).resolves.toBeDefined();
  });
});
