// The addon is context-aware (NODE_API_MODULE): it loads in several worker_threads at once,
// each runs calls (sync and async) with correct results, and a worker terminated with async
// calls in flight takes nothing down with it. The workers run the compiled package (tsc into
// a scratch dist/) with NOISED_TOPK_ADDON naming the same .node the main thread uses.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoisedTopK } from '../lib/index.js';
import { bits } from './fuzz-kit.js';
import { root } from './helpers.js';

const pkg = mkdtempSync(join(tmpdir(), 'noised-topk-workers-'));

/** The .node file lib/native.ts loads in this process. */
function addonPath(): string {
  if (process.env.NOISED_TOPK_ADDON) return process.env.NOISED_TOPK_ADDON;
  const built = join(root, 'build', 'Release', 'noised_topk.node');
  if (existsSync(built)) return built;
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const file = readdirSync(dir).find((f) => f.endsWith('.node'));
  if (!file) throw new Error('no addon: build it first');
  return join(dir, file);
}

beforeAll(() => {
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'tsconfig.build.json'),
        '--outDir',
        join(pkg, 'dist'),
      ],
      { stdio: 'pipe' },
    );
  } catch (err) {
    if (!existsSync(join(pkg, 'dist', 'index.js'))) throw err;
  }
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'noised-topk', type: 'module' }));
  cpSync(join(root, 'scripts', 'elf.mjs'), join(pkg, 'scripts', 'elf.mjs')); // dist/native.js imports it, as in the package
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  writeFileSync(
    join(pkg, 'worker.mjs'),
    `import { parentPort, workerData } from 'node:worker_threads';
     import { NoisedTopK, functional } from './dist/index.js';
     const { x, shape, jobs } = workerData;
     const out = [];
     for (const [i, job] of jobs.entries()) {
       const op = new NoisedTopK({ ...job, backend: 'cpu' });
       if (op.backend !== 'cpu') throw new Error('worker fell back to ' + op.backend);
       const r = i % 2 ? await op.forwardAsync(x, shape) : op.forward(x, shape);
       const g = i % 2 ? await r.backwardAsync() : r.backward();
       out.push({ values: Array.from(new Uint32Array(r.values.buffer)), grad: Array.from(new Uint32Array(g.buffer)) });
     }
     const many = await Promise.all(jobs.map((job) => functional.noisedTopKAsync(x, shape, { ...job, offset: 0, backend: 'cpu' })));
     parentPort.postMessage({ out, many: many.map((r) => Array.from(new Uint32Array(r.values.buffer))) });`,
  );
}, 120_000);
afterAll(() => rmSync(pkg, { recursive: true, force: true }));

const x = Float32Array.from({ length: 12 * 90 }, (_, i) => Math.fround(Math.sin(i * 12.9898) * 3));
const shape = [12, 90];

function spawn(file: string, workerData: unknown): Worker {
  return new Worker(join(pkg, file), { workerData, env: { ...process.env, NOISED_TOPK_ADDON: addonPath() } });
}

describe('worker_threads', () => {
  it('six workers run sync and async calls at once, each result equal to the js backend', async () => {
    const workers = Array.from({ length: 6 }, (_, w) => {
      const jobs = Array.from({ length: 10 }, (_, i) => ({
        k: 1 + ((w + i) % 9),
        seed: w * 1000 + i,
        nSample: 1 + (i % 4),
      }));
      return { jobs, worker: spawn('worker.mjs', { x, shape, jobs }) };
    });
    const results = await Promise.all(
      workers.map(
        ({ worker }) =>
          new Promise<{ out: { values: number[]; grad: number[] }[]; many: number[][] }>((resolve, reject) => {
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );
    results.forEach((res, w) => {
      workers[w]!.jobs.forEach((job, i) => {
        const want = new NoisedTopK({ ...job, backend: 'js' }).forward(x, shape);
        expect(res.out[i]!.values).toEqual(bits(want.values));
        expect(res.out[i]!.grad).toEqual(bits(want.backward()));
        expect(res.many[i]).toEqual(bits(want.values));
      });
    });
    await Promise.all(workers.map(({ worker }) => worker.terminate()));
  }, 120_000);

  it('terminating workers with async calls in flight leaves the process and later calls sound', async () => {
    writeFileSync(
      join(pkg, 'busy.mjs'),
      `import { parentPort } from 'node:worker_threads';
       import { NoisedTopK } from './dist/index.js';
       const x = new Float32Array(256 * 2000).map((_, i) => Math.sin(i));
       const op = new NoisedTopK({ k: 7, nSample: 8, seed: 1, backend: 'cpu' });
       parentPort.postMessage('started');
       for (;;) await Promise.all([op.forwardAsync(x, [256, 2000]), op.forwardAsync(x, [256, 2000])]);`,
    );
    for (let round = 0; round < 3; round++) {
      const workers = Array.from({ length: 3 }, () => spawn('busy.mjs', null));
      await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
      await new Promise((resolve) => setTimeout(resolve, 30));
      await Promise.all(workers.map((w) => w.terminate()));
    }
    const a = new NoisedTopK({ k: 2, seed: 5, backend: 'cpu' }).forward(x, shape);
    const b = new NoisedTopK({ k: 2, seed: 5, backend: 'js' }).forward(x, shape);
    expect(bits(a.values)).toEqual(bits(b.values));
  }, 120_000);
});
