// JS-level benchmark of the hard top-k from Node, end to end (largest, sorted, along the last dim):
//   cpu 1T / cpu all   the package's topk on its 'cpu' backend through N-API, 1 thread and all cores
//   js                 the package's topk on its pure TypeScript backend (bit-identical to 'cpu')
//   tf.topk            @tensorflow/tfjs-core's topk on @tensorflow/tfjs-backend-cpu, values and
//                      indices read back with dataSync (the input tensor is made once, outside)
// Every variant writes fresh outputs per call (ours allocate them; tfjs makes new tensors).
// Before timing, ours and tf.topk must agree (values equal; indices equal or tied values).
// Usage: npm run bench:topk [-- --smoke]   (BENCH_SMOKE=1 also selects the smoke mode)
// Prints a table naming the machine and writes bench/results/topk-js.md (smoke: topk-js-smoke.md).
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg, makeInputs } from './bench.mjs';
import { loadAverage1, loadVerdict, underLoadBanner, writeResults } from './load-gate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

function time(fn, budgetMs, minRuns, maxRuns) {
  fn();
  fn();
  const ms = [];
  const start = performance.now();
  while (ms.length < maxRuns) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
    if (ms.length >= minRuns && performance.now() - start > budgetMs) break;
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.round(q * (ms.length - 1)))];
  return { medianMs: at(0.5), p10Ms: at(0.1), p90Ms: at(0.9), samples: ms.length };
}

const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));

export async function runTopkBench(api, tf, { smoke = false, outDir, allowLoad = false, log = console.log } = {}) {
  const load0 = loadAverage1();
  await tf.setBackend('cpu');
  const cores = os.cpus().length;
  const sizes = smoke
    ? [
        [8, 50, 3],
        [4, 300, 40],
      ]
    : [
        [256, 1000, 5],
        [1024, 10000, 10],
        [4096, 32768, 5],
      ];
  const budgetMs = smoke ? 20 : 2000;
  const machine = {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown CPU',
    cores,
    node: process.version,
    tfjs: tf.version_core,
    backends: api.backends(),
    loadAverage: loadavg(),
    date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  };
  log(
    `bench-topk: ${machine.cpu}, ${cores} logical cores, Node ${machine.node}, tfjs-core ${machine.tfjs}, load average ${machine.loadAverage}`,
  );
  const before = api.threads();
  const rows = [];
  for (const [B, D, k] of sizes) {
    const { x } = makeInputs(B, D, B + D);
    const t = tf.tensor2d(x, [B, D]);
    // Check first.
    const ours = api.topk(x, [B, D], { k, backend: 'cpu' });
    const theirs = tf.topk(t, k, true);
    const tv = theirs.values.dataSync();
    const ti = theirs.indices.dataSync();
    let mismatches = 0;
    for (let j = 0; j < B * k; j++) {
      if (ours.values[j] !== tv[j]) mismatches++;
      else if (
        ours.indices[j] !== ti[j] &&
        x[Math.floor(j / k) * D + ours.indices[j]] !== x[Math.floor(j / k) * D + ti[j]]
      )
        mismatches++;
    }
    theirs.values.dispose();
    theirs.indices.dispose();
    if (mismatches) throw new Error(`topk and tf.topk disagree at (${B}, ${D}, ${k}): ${mismatches} entries`);
    const results = {};
    api.setThreads(1);
    results['cpu 1T'] = { ...time(() => api.topk(x, [B, D], { k, backend: 'cpu' }), budgetMs, 5, 5000), threads: 1 };
    api.setThreads(cores);
    results[`cpu ${cores}T`] = {
      ...time(() => api.topk(x, [B, D], { k, backend: 'cpu' }), budgetMs, 5, 5000),
      threads: cores,
    };
    results['js backend'] = time(() => api.topk(x, [B, D], { k, backend: 'js' }), budgetMs, smoke ? 2 : 3, 5000);
    results['tf.topk'] = time(
      () => {
        const r = tf.topk(t, k, true);
        r.values.dataSync();
        r.indices.dataSync();
        r.values.dispose();
        r.indices.dispose();
      },
      budgetMs,
      smoke ? 2 : 3,
      5000,
    );
    t.dispose();
    const row = { B, D, k, results };
    rows.push(row);
    const c1 = results['cpu 1T'].medianMs;
    log(
      `(${B}, ${D}, ${k}): cpu 1T ${fmt(c1)} ms, cpu ${cores}T ${fmt(results[`cpu ${cores}T`].medianMs)} ms, js ${fmt(results['js backend'].medianMs)} ms, tf.topk ${fmt(results['tf.topk'].medianMs)} ms (${(results['tf.topk'].medianMs / c1).toFixed(1)}x cpu 1T)`,
    );
  }
  api.setThreads(before);
  const lines = [
    `# topk from Node: noised-topk vs tf.topk${smoke ? ' (smoke)' : ''}`,
    '',
    `\`npm run bench:topk\` (bench/bench-topk.mjs). Machine: ${machine.cpu}, ${cores} logical cores, Node ${machine.node}, ` +
      `@tensorflow/tfjs-core ${machine.tfjs} with tfjs-backend-cpu; ${machine.date}, load average at the start ${machine.loadAverage}.`,
    '',
    'float32 N(0, 1) inputs [B, D], top-k along the last dim, largest, sorted; ms per call, median (p10-p90), end to end ' +
      '(argument checks, output allocation; for tf.topk the values and indices read back with dataSync). ' +
      'Ours and tf.topk were checked to agree first.',
    '',
    `| B | D | k | 'cpu' 1T | 'cpu' ${cores}T | 'js' | tf.topk | tf.topk / 'cpu' 1T (target >= 20x) | tf.topk / 'js' |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { B, D, k, results } of rows) {
    const cell = (r) => `${fmt(r.medianMs)} (${fmt(r.p10Ms)}-${fmt(r.p90Ms)})`;
    const ratio = results['tf.topk'].medianMs / results['cpu 1T'].medianMs;
    lines.push(
      `| ${B} | ${D} | ${k} | ${cell(results['cpu 1T'])} | ${cell(results[`cpu ${cores}T`])} | ${cell(results['js backend'])} | ` +
        `${cell(results['tf.topk'])} | **${ratio.toFixed(1)}x** (${ratio >= 20 ? 'met' : 'missed'}) | ${(results['tf.topk'].medianMs / results['js backend'].medianMs).toFixed(1)}x |`,
    );
  }
  const verdict = loadVerdict(load0, loadAverage1(), { exempt: smoke });
  const md = `${underLoadBanner(verdict)}${lines.join('\n')}\n`;
  log(`\n${md}`);
  const refused = outDir
    ? writeResults({ [path.join(outDir, smoke ? 'topk-js-smoke.md' : 'topk-js.md')]: md }, verdict, { allowLoad, log })
    : null;
  return { smoke, machine, rows, loaded: verdict.loaded, refused };
}

async function main() {
  const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
  const api = await import(path.join(here, '..', 'dist', 'index.js'));
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  const report = await runTopkBench(api, tf, {
    smoke,
    outDir: path.join(here, 'results'),
    allowLoad: process.argv.includes('--allow-load'),
  });
  if (report.refused) process.exit(3);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
