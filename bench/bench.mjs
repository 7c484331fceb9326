// JS-level benchmark of BalNoisedTopK (k = 5, epsilon = 1) loss + gradient, end to end:
//   cpu 1T / cpu all   the package's 'cpu' backend through N-API, on 1 thread and on all cores
//   js                 the package's pure TypeScript backend (bit-identical to 'cpu')
//   plain TS           the same math written the obvious way: Math.random Box-Muller, a sort
//   tfjs               the same computation in @tensorflow/tfjs-core ops (cpu backend):
//                      randomNormal, add, topk, and the gradient built with oneHot
// Usage: npm run bench [-- --smoke]   (BENCH_SMOKE=1 also selects the smoke mode)
// Prints a table naming the machine and writes bench/results/js.{md,json} (smoke: js-smoke.*).
import { Bench } from 'tinybench';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const K = 5;
const EPS = 1;

/** Deterministic inputs: scores ~ N(0, 1) (Box-Muller on a small LCG), labels uniform. */
export function makeInputs(B, D, seed = 7) {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const x = new Float32Array(B * D);
  for (let i = 0; i < x.length; i++) x[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const labels = new Int32Array(B);
  for (let i = 0; i < B; i++) labels[i] = Math.floor(u() * D);
  return { x, labels };
}

/**
 * The loss and gradient as a JS user would write them without this package: Gaussian noise by
 * Box-Muller on Math.random, each perturbed row sorted to find the (k+1)-th largest, the
 * gradient as the selection counts over samples.
 */
export function plainLossAndGrad(x, labels, B, D, S, k = K, eps = EPS) {
  const kth = k + 1;
  const grad = new Float32Array(B * D);
  const top = new Float64Array(B);
  const idx = new Array(D);
  const y = new Float64Array(D);
  const picks = new Int32Array(B * S);
  for (let r = 0; r < B; r++) {
    let sum = 0;
    for (let s = 0; s < S; s++) {
      for (let c = 0; c < D; c++) {
        const z = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
        y[c] = x[r * D + c] + eps * z;
        idx[c] = c;
      }
      idx.sort((a, b) => y[b] - y[a]);
      const c = idx[kth - 1];
      picks[r * S + s] = c;
      sum += y[c];
    }
    top[r] = sum / S;
  }
  let loss = 0;
  const active = new Uint8Array(B);
  for (let r = 0; r < B; r++) {
    const m = 1 + top[r] - x[r * D + labels[r]];
    if (m > 0) {
      loss += m;
      active[r] = 1;
    }
  }
  loss /= B;
  for (let r = 0; r < B; r++) {
    if (!active[r]) continue;
    for (let s = 0; s < S; s++) grad[r * D + picks[r * S + s]] += 1 / (S * B);
    grad[r * D + labels[r]] -= 1 / B;
  }
  return { loss, grad };
}

/** The same computation in tfjs ops. tf.topk has no gradient: it is built with oneHot. */
export function tfLossAndGrad(tf, x, labels, B, D, S, k = K, eps = EPS) {
  return tf.tidy(() => {
    const xs = tf.tensor2d(x, [B, D]);
    const noise = tf.randomNormal([B, S, D]);
    const y = tf.add(tf.expandDims(xs, 1), tf.mul(eps, noise)); // [B, S, D]
    const { values, indices } = tf.topk(y, k + 1); // along the last axis
    const kthVal = tf.squeeze(tf.slice(values, [0, 0, k], [B, S, 1]), [2]); // [B, S]
    const kthIdx = tf.squeeze(tf.slice(indices, [0, 0, k], [B, S, 1]), [2]);
    const top = tf.mean(kthVal, 1); // [B]
    const lab = tf.tensor1d(labels, 'int32');
    const sy = tf.sum(tf.mul(xs, tf.oneHot(lab, D)), 1);
    const margin = tf.sub(tf.add(1, top), sy);
    const loss = tf.mean(tf.relu(margin));
    const rowScale = tf.div(tf.cast(tf.greater(margin, 0), 'float32'), B); // [B]
    const mask = tf.mean(tf.oneHot(kthIdx, D), 1); // [B, D]
    const grad = tf.mul(tf.sub(mask, tf.oneHot(lab, D)), tf.expandDims(rowScale, 1));
    return { loss: loss.dataSync()[0], grad: grad.dataSync() };
  });
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown CPU',
    cores: cpus.length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg: os.loadavg().map((v) => v.toFixed(2)).join(' '),
  };
}

function fmtMs(v) {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/**
 * Runs the benchmark. api: the noised-topk module (dist/index.js or lib/index.ts); tf: the
 * tfjs-core module with a backend set, or null to skip tfjs.
 */
export async function runBench(api, tf, opts = {}) {
  const smoke = Boolean(opts.smoke);
  const log = opts.log ?? console.log;
  const sizes = opts.sizes ?? (smoke ? [[4, 20, 3], [2, 40, 2]] : [[64, 100, 10], [32, 1081, 5], [256, 1000, 5], [1024, 10000, 10]]);
  // The slow baselines skip sizes where one call takes seconds.
  const slowLimit = opts.slowLimit ?? 5e6; // B * D * S
  const benchTime = smoke ? 0 : opts.time ?? 1500;
  const minIter = smoke ? 2 : 5;
  const hw = os.cpus().length;
  const m = machine();
  const rows = [];

  // Sanity: 'cpu' and 'js' agree bit for bit on one call (they are the same contract).
  {
    const { x, labels } = makeInputs(8, 30);
    const o = { k: K, epsilon: EPS, nSample: 3, seed: 11n };
    const a = api.functional.balNoisedTopKLoss(x, labels, [8, 30], { ...o, backend: 'js' });
    const b = api.functional.balNoisedTopKLoss(x, labels, [8, 30], { ...o, backend: 'cpu' });
    const ga = a.backward();
    const gb = b.backward();
    if (a.loss !== b.loss || !ga.every((v, i) => Object.is(v, gb[i]))) throw new Error("'cpu' and 'js' disagree");
  }

  for (const [B, D, S] of sizes) {
    const { x, labels } = makeInputs(B, D);
    const variants = [];
    let offset = 0;
    const ours = (backend) => () => {
      const r = api.functional.balNoisedTopKLoss(x, labels, [B, D], { k: K, epsilon: EPS, nSample: S, seed: 42n, offset: offset++ & 0xffffffff, backend });
      r.backward();
    };
    variants.push({ name: 'cpu 1T', threads: 1, fn: ours('cpu') });
    variants.push({ name: `cpu ${hw}T`, threads: 0, fn: ours('cpu') });
    const slow = B * D * S > slowLimit;
    variants.push({ name: 'js backend', fn: ours('js'), skip: slow });
    variants.push({ name: 'plain TS', fn: () => plainLossAndGrad(x, labels, B, D, S), skip: slow });
    if (tf) variants.push({ name: 'tfjs-core (cpu)', fn: () => tfLossAndGrad(tf, x, labels, B, D, S), skip: slow });
    const row = { B, D, S, results: {} };
    for (const v of variants) {
      if (v.skip) {
        row.results[v.name] = { skipped: `B*D*S > ${slowLimit}` };
        continue;
      }
      api.setThreads(v.threads ?? 1);
      const threads = api.threads();
      const bench = new Bench({
        time: benchTime,
        iterations: minIter,
        warmupTime: smoke ? 0 : 200,
        warmupIterations: smoke ? 1 : 3,
      });
      bench.add(v.name, v.fn, { async: false });
      await bench.run();
      const t = bench.tasks[0];
      const res = t.result;
      if (res.state !== 'completed') throw new Error(`${v.name} (${B}, ${D}, ${S}): ${res.state} ${res.error ?? ''}`);
      const lat = res.latency;
      row.results[v.name] = {
        medianMs: lat.p50,
        meanMs: lat.mean,
        rmePct: lat.rme,
        p75Ms: lat.p75,
        p99Ms: lat.p99,
        minMs: lat.min,
        samples: lat.samplesCount,
        threads: v.name.startsWith('cpu') ? threads : 1,
      };
      log(`(${B}, ${D}, ${S}) ${v.name}: median ${fmtMs(lat.p50)} ms (${lat.samplesCount} runs)`);
    }
    api.setThreads(0);
    rows.push(row);
  }

  const names = [...new Set(rows.flatMap((r) => Object.keys(r.results)))];
  const lines = [];
  lines.push('# JS-level benchmark: BalNoisedTopK (k = 5, epsilon = 1) loss + gradient, end to end');
  lines.push('');
  lines.push(`- Machine: ${m.cpu}, ${m.cores} logical cores; Node ${m.node} (${m.platform})`);
  lines.push(`- Load average (1, 5, 15 min) at start: ${m.loadavg}; at end: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (a shared machine: a busy core inflates the all-threads numbers first)`);
  lines.push(`- Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${smoke ? ' (SMOKE run: tiny sizes, not a measurement)' : ''}`);
  lines.push('- Times: tinybench median (p50) ms per call [p75 in brackets]; "x" = slower than cpu 1T by that factor');
  lines.push('');
  lines.push(`| B | D | S | ${names.map((n) => `${n} ms`).join(' | ')} | ${names.filter((n) => n !== 'cpu 1T').map((n) => `${n} / cpu 1T`).join(' | ')} |`);
  lines.push(`|---|---|---|${names.map(() => '---').join('|')}|${names.filter((n) => n !== 'cpu 1T').map(() => '---').join('|')}|`);
  for (const r of rows) {
    const base = r.results['cpu 1T']?.medianMs;
    const cells = names.map((n) => {
      const v = r.results[n];
      if (!v) return '';
      if (v.skipped) return 'skipped';
      return `${fmtMs(v.medianMs)} [${fmtMs(v.p75Ms)}]`;
    });
    const ratios = names
      .filter((n) => n !== 'cpu 1T')
      .map((n) => {
        const v = r.results[n];
        if (!v || v.skipped || !base) return '';
        return `${(v.medianMs / base).toFixed(2)}x`;
      });
    lines.push(`| ${r.B} | ${r.D} | ${r.S} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  const md = lines.join('\n') + '\n';
  log('\n' + md);
  const report = { machine: m, smoke, date: new Date().toISOString(), k: K, epsilon: EPS, rows };
  if (opts.outDir) {
    fs.mkdirSync(opts.outDir, { recursive: true });
    const base = path.join(opts.outDir, smoke ? 'js-smoke' : 'js');
    fs.writeFileSync(`${base}.md`, md);
    fs.writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
    log(`wrote ${base}.md and ${base}.json`);
  }
  return report;
}

async function main() {
  const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
  const here = path.dirname(fileURLToPath(import.meta.url));
  const api = await import('../dist/index.js');
  let tf = null;
  try {
    tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
  } catch (err) {
    console.log(`tfjs not available, skipping it: ${err.message}`);
    tf = null;
  }
  if (!api.backends().includes('cpu')) throw new Error('the native addon did not load: build it first (npm run build:native)');
  await runBench(api, tf, { smoke, outDir: path.join(here, 'results') });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
