// Runs examples/tfjs-imbalanced.mjs as a user would (node, the package's own exports), so the
// example cannot rot. It imports 'noised-topk/tfjs', which resolves to dist/: built by
// `npm install` (prepare) or `npm run build:ts`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';

describe('examples/tfjs-imbalanced.mjs', () => {
  it('trains a tfjs model with ImbalNoisedTopK and the loss goes down', () => {
    expect(existsSync(join(root, 'dist', 'tfjs.js')), 'dist/tfjs.js is missing: run npm run build:ts').toBe(true);
    // stderr is captured, not shown: tfjs prints its hint about tfjs-node there (a user sees it).
    const r = spawnSync(process.execPath, [join(root, 'examples', 'tfjs-imbalanced.mjs'), '120'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    const losses = [...out.matchAll(/^step +(\d+) +loss ([\d.]+)$/gm)].map(
      (m) => [Number(m[1]), Number(m[2])] as const,
    );
    expect(losses.map(([s]) => s)).toEqual([0, 50, 100, 119]);
    const first = losses[0]![1];
    const last = losses.at(-1)![1];
    expect(last).toBeLessThan(0.5 * first);
    const acc = /train top-3 accuracy ([\d.]+)%, macro top-3 ([\d.]+)%/.exec(out);
    expect(acc).not.toBeNull();
    expect(Number(acc![1])).toBeGreaterThan(60);
  });
});
