// The addon is context-aware (NODE_API_MODULE): it loads in several worker_threads at once,
// each runs calls (sync and async) with correct results, and a worker terminated with async
// calls in flight takes nothing down with it. The workers run the compiled package (tsc into
// a scratch dist/) with NOISED_TOPK_ADDON naming the same .node the main thread uses.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoisedTopK } from '../lib/index.js';
import { loadNative } from '../lib/native.js';
import { bits } from './fuzz-kit.js';
import { compiledPackage, root } from './helpers.js';

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
  compiledPackage(pkg);
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

  // Issue 18, item 12: a sync call in a terminated worker stops at its next chunks of rows (the
  // calling thread finds that it can no longer run JavaScript), so terminate() does not wait for
  // the whole call. Observed by the addon's process-wide chunk counters, not by the clock.
  it('a worker terminated in a long sync call exits, and the kernel skipped the chunks left', async () => {
    const addon = loadNative()!;
    // rows 2048 x nSample 512: 2048 chunks of whole rows (one row of 512 samples each)
    writeFileSync(
      join(pkg, 'long-sync.mjs'),
      `import { parentPort } from 'node:worker_threads';
       import { NoisedTopK } from './dist/index.js';
       const x = new Float32Array(2048 * 1024).map((_, i) => Math.sin(i));
       const op = new NoisedTopK({ k: 3, nSample: 512, seed: 1, backend: 'cpu', sampler: 'dense' });
       parentPort.postMessage('started');
       op.forward(x, [2048, 1024]);
       parentPort.postMessage('finished');`,
    );
    const before = addon.cancelStats();
    const worker = spawn('long-sync.mjs', null);
    const messages: string[] = [];
    worker.on('message', (m: string) => messages.push(m));
    await new Promise((resolve) => worker.once('message', resolve));
    // wait until the call has run a chunk (it is inside the kernel), then terminate
    while (addon.cancelStats().chunksRun === before.chunksRun) await new Promise((resolve) => setTimeout(resolve, 5));
    const code = await worker.terminate();
    const after = addon.cancelStats();
    expect(code).toBe(1); // terminated, not finished
    expect(messages).toEqual(['started']);
    expect(after.jobsStopped - before.jobsStopped).toBe(1);
    expect(after.chunksRun - before.chunksRun).toBeLessThan(2048);
  }, 300_000);

  // What process.exit() does first is emit 'exit': lib/native.ts's listener then stops this
  // thread's calls, so the join of libuv's threads that follows does not wait for the whole call.
  // Emitted by hand here (in a child: the cancellation is for good), so the call can be observed.
  it("the process's 'exit' stops an async call in flight: it rejects as cancelled, the chunks left skipped", () => {
    writeFileSync(
      join(pkg, 'exit-cancel.mjs'),
      `import { NoisedTopK } from './dist/index.js';
       import { loadNative } from './dist/native.js';
       const addon = loadNative();
       const x = new Float32Array(2048 * 1024).map((_, i) => Math.sin(i));
       const op = new NoisedTopK({ k: 3, nSample: 512, seed: 1, backend: 'cpu', sampler: 'dense' });
       const before = addon.cancelStats();
       const p = op.forwardAsync(x, [2048, 1024]).then(() => 'settled', (e) => e.message);
       while (addon.cancelStats().chunksRun === before.chunksRun) await new Promise((r) => setTimeout(r, 5));
       process.emit('exit', 0);
       const outcome = await p;
       const after = addon.cancelStats();
       console.log(JSON.stringify({ outcome, stopped: after.jobsStopped - before.jobsStopped, chunks: after.chunksRun - before.chunksRun }));
       process.exitCode = 0; // node's own 'exit' listener took the pending top-level await for an unsettled one (13)`,
    );
    const r = spawnSync(process.execPath, [join(pkg, 'exit-cancel.mjs')], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, NOISED_TOPK_ADDON: addonPath() },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { outcome: string; stopped: number; chunks: number };
    expect(out.outcome).toMatch(/^noisedTopK: cancelled: the environment is shutting down/);
    expect(out.stopped).toBe(1);
    expect(out.chunks).toBeLessThan(2048);
  }, 300_000);
});
