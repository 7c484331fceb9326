// How the Monte-Carlo error and the time move with nSample (docs/performance.md, Monte-Carlo
// error), and what the per-sample values cost:
//   1. BalNoisedTopK (k = 5, epsilon = 1, reduction 'mean') forward on B x D N(0, 1) scores, on
//      'cpu' with 1 thread, for each nSample and both samplers: the loss's standard error
//      (LossResult.standardError), the median per-row standard error of smoothtop_6, and the
//      median forward time. The error falls as 1 / sqrt(nSample); the time grows with nSample,
//      slowly with 'lazy' at a large D.
//   2. The kernel's write of sampleValues ([rows, nSample] floats): the addon's forward on one
//      call with sampleValues null and with an array, interleaved, and the standardError getter.
// Usage: npm run build:ts (or npx tsc -p tsconfig.build.json), then node bench/bench-stderr.mjs
// [--smoke] [--allow-load]. Prints tables naming the machine and writes bench/results/stderr.{md,json}
// (smoke: stderr-smoke.*), not under load (bench/load-gate.mjs).
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg, makeInputs } from './bench.mjs';
import { loadAverage1, loadVerdict, underLoadBanner, writeResults } from './load-gate.mjs';

const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const here = path.dirname(fileURLToPath(import.meta.url));
const load0 = loadAverage1();
const api = await import('../dist/index.js');
const { loadNative } = await import('../dist/native.js');
const addon = loadNative();
if (!addon) throw new Error("bench-stderr needs the native addon ('cpu')");

/** Median of the times (ms) of fn, after one warm-up call: at least minRuns, or until minMs has passed. */
function time(fn, minRuns = smoke ? 2 : 5, minMs = smoke ? 5 : 300) {
  fn();
  const t = [];
  const start = performance.now();
  while (t.length < minRuns || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
    if (t.length >= 200) break;
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

/**
 * Medians of interleaved runs of a and b, each first every other time, so that a busy moment of
 * a shared machine hits both alike.
 */
function timePair(a, b, runs = smoke ? 4 : 60) {
  a();
  b();
  const ta = [];
  const tb = [];
  const once = (fn, into) => {
    const t0 = performance.now();
    fn();
    into.push(performance.now() - t0);
  };
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      once(a, ta);
      once(b, tb);
    } else {
      once(b, tb);
      once(a, ta);
    }
  }
  const med = (t) => t.sort((x, y) => x - y)[t.length >> 1];
  // The minimum too: on a loaded machine it is the better estimate of the work itself.
  return [med(ta), med(tb), Math.min(...ta), Math.min(...tb)];
}

const fmt = (v, digits = 3) => (Number.isFinite(v) ? Number(v.toPrecision(digits)).toString() : String(v));

const cpus = os.cpus();
const machine = {
  cpu: cpus[0]?.model?.trim() ?? 'unknown CPU',
  cores: cpus.length,
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  loadavg: loadavg(),
};
const threadsBefore = api.threads();
api.setThreads(1);

// ---- 1. error and time against nSample ----
const B = smoke ? 8 : 64;
const D = smoke ? 500 : 10000;
const K = 5;
const nSamples = smoke ? [2, 8] : [2, 5, 10, 20, 50, 100, 200];
const { x, labels } = makeInputs(B, D, 11);
const sweep = [];
for (const S of nSamples) {
  const row = { S };
  for (const sampler of ['lazy', 'dense']) {
    const run = () =>
      api.functional.balNoisedTopKLoss(x, labels, [B, D], {
        k: K,
        epsilon: 1,
        nSample: S,
        seed: 1,
        offset: 0,
        sampler,
        backend: 'cpu',
      });
    const r = run();
    const topSe = api.functional.noisedTopK(x, [B, D], {
      k: K + 1,
      nSample: S,
      seed: 1,
      offset: 0,
      sampler,
      backend: 'cpu',
    }).standardError;
    const sorted = Float64Array.from(topSe).sort();
    row[sampler] = { ms: time(run), lossSe: r.standardError, loss: r.loss, topkSeMedian: sorted[sorted.length >> 1] };
  }
  sweep.push(row);
}

// ---- 2. the cost of writing sampleValues, and of reading standardError ----
const writeShapes = smoke
  ? [[8, 100, 4]]
  : [
      [64, 100, 10],
      [4096, 100, 100],
      [256, 1000, 5],
      [64, 10000, 10],
    ];
const writes = [];
for (const [rows, d, S] of writeShapes) {
  const xs = makeInputs(rows, d, 5).x;
  for (const sampler of ['lazy', 'dense']) {
    const call = (sampleValues) => ({
      x: xs,
      outer: rows,
      d,
      inner: 1,
      k: K + 1,
      epsilon: 1,
      nSample: S,
      noise: null,
      seedLo: 1,
      seedHi: 2,
      offset: 3,
      sampler,
      values: new Float32Array(rows),
      positions: new Int32Array(rows * S),
      sampleValues,
    });
    const without = call(null);
    const withValues = call(new Float32Array(rows * S));
    const [msWithout, msWith, minWithout, minWith] = timePair(
      () => addon.forward(without),
      () => addon.forward(withValues),
    );
    // The getter computes once, then keeps its answer: its first read on fresh results, median.
    const results = Array.from({ length: smoke ? 3 : 21 }, (_, i) =>
      api.functional.noisedTopK(xs, [rows, d], { k: K + 1, nSample: S, seed: i, offset: 0, sampler, backend: 'cpu' }),
    );
    const getter = results
      .map((r) => {
        const t0 = performance.now();
        void r.standardError;
        return performance.now() - t0;
      })
      .sort((p, q) => p - q);
    writes.push({ rows, d, S, sampler, msWithout, msWith, minWithout, minWith, msGetter: getter[getter.length >> 1] });
  }
}
api.setThreads(threadsBefore);

// ---- report ----
const lines = [];
const when = new Date().toISOString().replace('T', ' ').slice(0, 16);
lines.push(
  `Machine: ${machine.cpu}, ${machine.cores} logical cores, ${machine.platform}, Node ${machine.node}, ${when} UTC, load average at start ${machine.loadavg}, at end ${loadavg()}; 'cpu' backend, 1 thread.${smoke ? ' SMOKE MODE: tiny sizes, not a measurement.' : ''}`,
);
lines.push('');
lines.push(
  `BalNoisedTopK (k = ${K}, epsilon = 1, reduction 'mean'), B = ${B}, D = ${D}, N(0, 1) scores, seed 1. Forward only, median ms per call.`,
);
lines.push('');
lines.push(
  "| nSample | SE of the loss | median SE of smoothtop_6 per row | 'lazy' ms | 'dense' ms | 'dense' / 'lazy' | 'lazy' us per row-sample |",
);
lines.push('|---|---|---|---|---|---|---|');
for (const r of sweep) {
  lines.push(
    `| ${r.S} | ${fmt(r.lazy.lossSe)} | ${fmt(r.lazy.topkSeMedian)} | ${fmt(r.lazy.ms)} | ${fmt(r.dense.ms)} | ${fmt(r.dense.ms / r.lazy.ms, 2)}x | ${fmt((1000 * r.lazy.ms) / (B * r.S))} |`,
  );
}
lines.push('');
lines.push("The errors are from the 'lazy' run ('dense' draws the same law; its errors differ only by sampling).");
lines.push('');
lines.push(
  'Writing sampleValues (the addon called directly, interleaved medians) and reading standardError once (through the API):',
);
lines.push('');
lines.push(
  '| rows, D, nSample | sampler | forward, no sampleValues: median (min) ms | with sampleValues: median (min) ms | extra, medians | extra, minima | standardError getter (ms) |',
);
lines.push('|---|---|---|---|---|---|---|');
for (const w of writes) {
  lines.push(
    `| ${w.rows}, ${w.d}, ${w.S} | ${w.sampler} | ${fmt(w.msWithout)} (${fmt(w.minWithout)}) | ${fmt(w.msWith)} (${fmt(w.minWith)}) | ${fmt(100 * (w.msWith / w.msWithout - 1), 2)}% | ${fmt(100 * (w.minWith / w.minWithout - 1), 2)}% | ${fmt(w.msGetter, 2)} |`,
  );
}
const verdict = loadVerdict(load0, loadAverage1(), { exempt: smoke });
const md = `${underLoadBanner(verdict)}${lines.join('\n')}`;
console.log(md);
const base = path.join(here, 'results', smoke ? 'stderr-smoke' : 'stderr');
const report = { machine, smoke, loaded: verdict.loaded, date: new Date().toISOString(), sweep, writes };
const files = { [`${base}.md`]: `${md}\n`, [`${base}.json`]: `${JSON.stringify(report, null, 2)}\n` };
if (writeResults(files, verdict, { allowLoad: process.argv.includes('--allow-load') })) process.exit(3);
