// JS-level benchmark of BalNoisedTopK (k = 5, epsilon = 1) loss + gradient, end to end from Node,
// in the columns of the native benchmark (bench/native: our kernels called from C++, and pytopk
// in libtorch), with the ratio Node / C++ for each shape:
//   cpu 1T / cpu NT        the package's 'cpu' backend through N-API on 1 thread and on all cores,
//                          the default path: backward() returns a new gradient every call, as a
//                          training loop does it
//   cpu 1T out / cpu NT out  the same calls writing into one preallocated `out`
//   js                     the package's pure TypeScript backend (bit-identical to 'cpu')
//   plain TS               the same math written the obvious way: Math.random Box-Muller, a sort
//   tfjs                   the same computation in @tensorflow/tfjs-core ops (cpu backend):
//                          randomNormal, add, topk, and the gradient built with oneHot
// The fresh and the `out` calls alternate call by call (A B A B ...), so both see the same heap
// and the same machine load; each call is timed alone and its minor page faults counted
// (process.resourceUsage().minorPageFault), reported per call (docs/performance.md says why).
// The C++ columns come from bench/results/native.json (npm run bench:native), or --native FILE;
// the table says when that run was on another machine, where the ratio means little.
// Usage: npm run bench [-- --smoke] [-- --sampler lazy|dense] [-- --sizes "B,D,S;B,D,S"]
//        [-- --no-baselines] [-- --native FILE] [-- --time MS]
//        npm run bench -- --corpus [DIR] [--quick] [--out [DIR]] [--allow-load] [--time MS]
//          [--only SUBSTRING] [--nsample S] [--families FILE]: the corpus benchmark (bench/bench-corpus.mjs):
//          'dense' against 'lazy' on every corpus file and generated family, 1 and 2 threads
//   BENCH_SMOKE=1 also selects the smoke mode. --sampler is passed to every 'cpu' and 'js' call
//   and needs a build with the `sampler` option (an error says so otherwise).
// Prints a table naming the machine and its load and writes bench/results/js[-SAMPLER].{md,json}
// (smoke: js-smoke.*; with NOISED_TOPK_MALLOC_TUNING=0: js[-SAMPLER]-no-malloc-tuning.*).
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverage1, loadVerdict, underLoadBanner, writeResults } from './load-gate.mjs';

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

export function loadavg() {
  return os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown CPU',
    cores: cpus.length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg: loadavg(),
  };
}

export function fmtMs(v) {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function fmtFaults(v) {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}

function quantile(sorted, q) {
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

export function summary(ms, faults, threads) {
  const sorted = ms.slice().sort((a, b) => a - b);
  const sum = ms.reduce((a, b) => a + b, 0);
  return {
    medianMs: quantile(sorted, 0.5),
    meanMs: sum / ms.length,
    p75Ms: quantile(sorted, 0.75),
    p99Ms: quantile(sorted, 0.99),
    minMs: sorted[0],
    samples: ms.length,
    threads,
    faultsPerCall: faults.reduce((a, b) => a + b, 0) / faults.length,
  };
}

const minorFaults = () => process.resourceUsage().minorPageFault;

/**
 * Times fns in turn, call by call (A B A B ...), each call alone: the wall time and the minor
 * page faults it took. Warm-up rounds first (not counted): at least warmupRuns, then more until
 * warmupMs has passed or warmupMax rounds were made; then rounds until timeMs has passed and at
 * least minRuns rounds were made.
 */
export function timeInTurn(
  fns,
  { timeMs, minRuns, warmupRuns, warmupMs = 0, warmupMax = warmupRuns, maxRuns = 100000 },
) {
  const w0 = performance.now();
  for (let i = 0; i < warmupRuns || (i < warmupMax && performance.now() - w0 < warmupMs); i++) for (const f of fns) f();
  const ms = fns.map(() => []);
  const faults = fns.map(() => []);
  const t0 = performance.now();
  for (let r = 0; r < maxRuns && (r < minRuns || performance.now() - t0 < timeMs); r++) {
    for (let j = 0; j < fns.length; j++) {
      const f0 = minorFaults();
      const a = process.hrtime.bigint();
      fns[j]();
      const b = process.hrtime.bigint();
      faults[j].push(minorFaults() - f0);
      ms[j].push(Number(b - a) / 1e6);
    }
  }
  return { ms, faults };
}

/**
 * Whether this build takes the `sampler` option: options are strict, so a build without it
 * throws an error naming the key.
 */
export function samplerSupported(api) {
  const { x, labels } = makeInputs(2, 8);
  try {
    api.functional.balNoisedTopKLoss(x, labels, [2, 8], {
      k: 1,
      epsilon: EPS,
      nSample: 1,
      seed: 1n,
      offset: 0,
      backend: 'js',
      sampler: 'dense',
    });
    return true;
  } catch (err) {
    if (String(err?.message ?? err).includes('sampler')) return false;
    throw err;
  }
}

/** The C++ run's rows by "B,D,S", or null when there is none to read. */
export function readNativeResults(file) {
  if (!file || !fs.existsSync(file)) return null;
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const rows = new Map();
  for (const r of j.rows ?? []) rows.set(`${r.B},${r.D},${r.S}`, r);
  return {
    cpu: j.cpu,
    cpuDetail: j.cpuDetail,
    date: j.date,
    load: j.loadBefore,
    cores: j.logicalCores,
    libtorch: j.libtorch,
    smoke: Boolean(j.smoke),
    rows,
  };
}

const ratio = (a, b) => (a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : '');

/**
 * Runs the benchmark. api: the noised-topk module (dist/index.js or lib/index.ts); tf: the
 * tfjs-core module with a backend set, or null to skip tfjs.
 */
export async function runBench(api, tf, opts = {}) {
  const smoke = Boolean(opts.smoke);
  const log = opts.log ?? console.log;
  const sizes =
    opts.sizes ??
    (smoke
      ? [
          [4, 20, 3],
          [2, 40, 2],
        ]
      : [
          [64, 100, 10],
          [32, 1081, 5],
          [256, 1000, 5],
          [1024, 10000, 10],
        ]);
  // The slow baselines skip sizes where one call takes seconds.
  const slowLimit = opts.slowLimit ?? 5e6; // B * D * S
  const timeMs = smoke ? 0 : (opts.time ?? 1500);
  const minRuns = smoke ? 2 : 5;
  const warmupRuns = smoke ? 1 : 5;
  const baselines = opts.baselines ?? true;
  const sampler = opts.sampler;
  if (sampler !== undefined && !samplerSupported(api)) {
    throw new Error(`--sampler ${sampler}: this build of noised-topk has no \`sampler\` option`);
  }
  const samplerOpt = sampler === undefined ? {} : { sampler };
  const nat = opts.native === undefined ? null : readNativeResults(opts.native);
  const hw = os.cpus().length;
  const m = machine();
  const load0 = loadAverage1();
  const tuning = typeof api.mallocTuning === 'function' ? api.mallocTuning() : (opts.mallocTuning ?? null);
  const rows = [];

  // Sanity: 'cpu' and 'js' agree bit for bit on one call (they are the same contract), and a
  // preallocated `out` receives the same gradient as a fresh one.
  {
    const { x, labels } = makeInputs(8, 30);
    const o = { k: K, epsilon: EPS, nSample: 3, seed: 11n, offset: 0, ...samplerOpt };
    const a = api.functional.balNoisedTopKLoss(x, labels, [8, 30], { ...o, backend: 'js' });
    const b = api.functional.balNoisedTopKLoss(x, labels, [8, 30], { ...o, backend: 'cpu' });
    const ga = a.backward();
    const gb = b.backward(undefined, new Float32Array(8 * 30));
    if (a.loss !== b.loss || !ga.every((v, i) => Object.is(v, gb[i]))) throw new Error("'cpu' and 'js' disagree");
  }

  for (const [B, D, S] of sizes) {
    const { x, labels } = makeInputs(B, D);
    const out = new Float32Array(B * D);
    let offset = 0;
    const call = (backend, into) => () => {
      const r = api.functional.balNoisedTopKLoss(x, labels, [B, D], {
        k: K,
        epsilon: EPS,
        nSample: S,
        seed: 42n,
        offset: offset++ & 0xffffffff,
        backend,
        ...samplerOpt,
      });
      return into ? r.backward(undefined, into) : r.backward();
    };
    const row = { B, D, S, results: {} };
    const record = (name, res) => {
      row.results[name] = res;
      log(
        `(${B}, ${D}, ${S}) ${name}: median ${fmtMs(res.medianMs)} ms, ${fmtFaults(res.faultsPerCall)} minor faults per call (${res.samples} runs)`,
      );
    };
    // Our backend: the default path (a new gradient each call) and `out`, in turn.
    for (const threads of hw > 1 ? [1, 0] : [1]) {
      api.setThreads(threads);
      const used = api.threads();
      // The warm-up allocates up to 256 MiB of gradients (or runs 1 s): several of V8's
      // batches of freed arrays, so that the heap has reached the state a training loop
      // runs in (the issue measured after a few thousand calls).
      const warmupMax = Math.ceil(2 ** 28 / (B * D * 4));
      const t = timeInTurn([call('cpu', null), call('cpu', out)], {
        timeMs,
        minRuns,
        warmupRuns,
        warmupMs: smoke ? 0 : 1000,
        warmupMax,
      });
      record(`cpu ${used}T`, summary(t.ms[0], t.faults[0], used));
      record(`cpu ${used}T out`, summary(t.ms[1], t.faults[1], used));
    }
    api.setThreads(1);
    const slow = B * D * S > slowLimit;
    const others = [];
    if (baselines) {
      others.push({ name: 'js backend', fn: call('js', null) });
      others.push({ name: 'plain TS', fn: () => plainLossAndGrad(x, labels, B, D, S) });
      if (tf) others.push({ name: 'tfjs-core (cpu)', fn: () => tfLossAndGrad(tf, x, labels, B, D, S) });
    }
    for (const v of others) {
      if (slow) {
        row.results[v.name] = { skipped: `B*D*S > ${slowLimit}` };
        continue;
      }
      const t = timeInTurn([v.fn], { timeMs, minRuns, warmupRuns: Math.min(warmupRuns, 2) });
      record(v.name, summary(t.ms[0], t.faults[0], 1));
    }
    api.setThreads(0);
    const cxx = nat?.rows.get(`${B},${D},${S}`);
    if (cxx) {
      row.native = {
        ours1Ms: cxx.ours1?.medianMs,
        oursNMs: cxx.oursN?.medianMs,
        oursNThreads: cxx.oursN?.threads,
        pytopk1Ms: cxx.pytopk1?.medianMs,
        pytopkNMs: cxx.pytopkN?.medianMs,
        topk1Ms: cxx.topk1?.medianMs,
      };
    }
    rows.push(row);
  }

  const nT = `cpu ${hw}T`;
  const sameMachine = nat !== null && nat.cpu === m.cpu && nat.cores === m.cores;
  const verdict = loadVerdict(load0, loadAverage1(), { exempt: smoke });
  const lines = [];
  lines.push('# JS-level benchmark: BalNoisedTopK (k = 5, epsilon = 1) loss + gradient, end to end from Node');
  lines.push('');
  if (verdict.loaded) lines.push(underLoadBanner(verdict).trimEnd(), '');
  lines.push(`- Machine: ${m.cpu}, ${m.cores} logical cores; Node ${m.node} (${m.platform})`);
  lines.push(
    `- Load average (uptime: 1, 5, 15 min) at start: ${m.loadavg}; at end: ${loadavg()} (a shared machine: a busy core inflates the all-threads numbers first)`,
  );
  lines.push(
    `- Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${smoke ? ' (SMOKE run: tiny sizes, not a measurement)' : ''}`,
  );
  lines.push(`- sampler: ${sampler ?? "(not given: the build's default)"}`);
  lines.push(
    `- malloc tuning (native/malloc_tuning.cpp): ${tuning === null ? 'unknown (no mallocTuning() in this build)' : tuning.applied ? `applied (M_MMAP_THRESHOLD ${tuning.mmapThreshold / 2 ** 20} MiB, M_TRIM_THRESHOLD ${tuning.trimThreshold / 2 ** 20} MiB)` : `not applied: ${tuning.reason}`}`,
  );
  lines.push(
    '- Times: median ms per forward + backward, each call timed alone [p75 in brackets]. "fresh": backward() returns a new gradient (the default path); "out": backward(undefined, out) into one preallocated array; the two alternate call by call.',
  );
  lines.push('- faults: minor page faults per call (process.resourceUsage().minorPageFault), fresh / out');
  if (nat) {
    lines.push(
      `- C++: bench/results/native.json, ${nat.cpu}, ${nat.cores} cores, ${nat.date}, load ${nat.load}, libtorch ${nat.libtorch}${nat.smoke ? ' (SMOKE run)' : ''}` +
        (sameMachine
          ? ''
          : ` — **another machine than this run** (${m.cpu}): the Node / C++ ratios compare two machines and are not a measurement of the N-API cost`),
    );
  } else {
    lines.push('- C++: no bench/results/native.json to compare with (npm run bench:native writes it)');
  }
  lines.push('');
  lines.push('## Node against C++ (ours: the same kernels called directly; pytopk: libtorch)');
  lines.push('');
  lines.push(
    `| B | D | S | sampler | Node 1T fresh | Node 1T out | faults 1T fresh / out | C++ 1T | Node / C++ 1T fresh | Node / C++ 1T out | Node ${hw}T fresh | Node ${hw}T out | C++ ${hw}T | Node / C++ ${hw}T fresh | Node 1T / ${hw}T (fresh) | C++ 1T / ${hw}T | pytopk 1T (C++) | pytopk 1T / Node 1T fresh |`,
  );
  lines.push(`|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const f1 = r.results['cpu 1T'];
    const o1 = r.results['cpu 1T out'];
    const fN = r.results[nT];
    const oN = r.results[`${nT} out`];
    const c = r.native ?? {};
    const cell = (v) => (v ? `${fmtMs(v.medianMs)} [${fmtMs(v.p75Ms)}]` : '');
    lines.push(
      `| ${r.B} | ${r.D} | ${r.S} | ${sampler ?? 'default'} | ${cell(f1)} | ${cell(o1)} | ${fmtFaults(f1?.faultsPerCall)} / ${fmtFaults(o1?.faultsPerCall)} | ${fmtMs(c.ours1Ms)} | ${ratio(f1?.medianMs, c.ours1Ms)} | ${ratio(o1?.medianMs, c.ours1Ms)} | ${cell(fN)} | ${cell(oN)} | ${fmtMs(c.oursNMs)} | ${ratio(fN?.medianMs, c.oursNMs)} | ${ratio(f1?.medianMs, fN?.medianMs)} | ${ratio(c.ours1Ms, c.oursNMs)} | ${fmtMs(c.pytopk1Ms)} | ${ratio(c.pytopk1Ms, f1?.medianMs)} |`,
    );
  }
  const baseNames = [...new Set(rows.flatMap((r) => Object.keys(r.results)))].filter((n) => !n.startsWith('cpu '));
  if (baseNames.length > 0) {
    lines.push('');
    lines.push('## Baselines in Node ("x" = slower than cpu 1T fresh by that factor)');
    lines.push('');
    // One "B, D, S" column here: the main table alone has one row per shape in "| B | D | S |" form.
    lines.push(
      `| B, D, S | ${baseNames.map((n) => `${n} ms`).join(' | ')} | ${baseNames.map((n) => `${n} / cpu 1T`).join(' | ')} |`,
    );
    lines.push(`|---|${baseNames.map(() => '---').join('|')}|${baseNames.map(() => '---').join('|')}|`);
    for (const r of rows) {
      const base = r.results['cpu 1T']?.medianMs;
      const cells = baseNames.map((n) => {
        const v = r.results[n];
        if (!v) return '';
        return v.skipped ? 'skipped' : `${fmtMs(v.medianMs)} [${fmtMs(v.p75Ms)}]`;
      });
      const ratios = baseNames.map((n) => {
        const v = r.results[n];
        return !v || v.skipped ? '' : ratio(v.medianMs, base);
      });
      lines.push(`| ${r.B}, ${r.D}, ${r.S} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
    }
  }
  const md = `${lines.join('\n')}\n`;
  log(`\n${md}`);
  const report = {
    machine: m,
    smoke,
    date: new Date().toISOString(),
    k: K,
    epsilon: EPS,
    sampler: sampler ?? null,
    mallocTuning: tuning,
    native: nat ? { cpu: nat.cpu, cores: nat.cores, date: nat.date, sameMachine } : null,
    rows,
    loaded: verdict.loaded,
  };
  if (opts.outDir) {
    // A run with the tuning turned off (the comparison in docs/performance.md) keeps its own file.
    const untuned =
      tuning !== null && !tuning.applied && tuning.reason === 'NOISED_TOPK_MALLOC_TUNING=0' ? '-no-malloc-tuning' : '';
    const base = path.join(opts.outDir, smoke ? 'js-smoke' : `js${sampler ? `-${sampler}` : ''}${untuned}`);
    report.refused = writeResults(
      { [`${base}.md`]: md, [`${base}.json`]: `${JSON.stringify(report, null, 2)}\n` },
      verdict,
      { allowLoad: opts.allowLoad, log },
    );
  }
  return report;
}

function argValue(args, name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
  return args[i + 1];
}

/** The value after name when there is one that is not an option itself (--corpus [DIR]). */
function optionalValue(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  return v !== undefined && !v.startsWith('--') ? v : dflt;
}

async function corpusMain(args, here) {
  const known = new Set([
    '--corpus',
    '--quick',
    '--out',
    '--allow-load',
    '--time',
    '--only',
    '--nsample',
    '--families',
  ]);
  for (let i = 0; i < args.length; i++) {
    if (!args[i].startsWith('--')) continue;
    if (!known.has(args[i])) throw new Error(`--corpus: unknown option ${args[i]} (known: ${[...known].join(', ')})`);
  }
  const { runCorpusBench } = await import('./bench-corpus.mjs');
  const api = await import('../dist/index.js');
  if (!api.backends().includes('cpu'))
    throw new Error('the native addon did not load: build it first (npm run build:native)');
  const num = (name) => {
    const v = argValue(args, name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got ${v}`);
    return n;
  };
  const report = await runCorpusBench(api, {
    dir: path.resolve(optionalValue(args, '--corpus', path.join(here, 'corpus'))),
    quick: args.includes('--quick'),
    outDir: optionalValue(args, '--out', path.join(here, 'results')),
    allowLoad: args.includes('--allow-load'),
    time: num('--time'),
    only: argValue(args, '--only'),
    familiesFile: argValue(args, '--families'),
    nSample: (() => {
      const n = num('--nsample');
      if (n !== undefined && !Number.isInteger(n)) throw new Error(`--nsample: expected a positive integer, got ${n}`);
      return n;
    })(),
  });
  if (report.refused) process.exit(3);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--corpus')) return corpusMain(args, path.dirname(fileURLToPath(import.meta.url)));
  const smoke = args.includes('--smoke') || process.env.BENCH_SMOKE === '1';
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sampler = argValue(args, '--sampler');
  const sizesArg = argValue(args, '--sizes');
  const sizes = sizesArg?.split(';').map((t) => {
    const v = t.split(',').map(Number);
    if (v.length !== 3 || !v.every((n) => Number.isInteger(n) && n > 0))
      throw new Error(`--sizes: "${t}" is not B,D,S`);
    return v;
  });
  const time = argValue(args, '--time');
  const api = await import('../dist/index.js');
  let tf = null;
  const baselines = !args.includes('--no-baselines');
  if (baselines) {
    try {
      tf = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-backend-cpu');
      await tf.setBackend('cpu');
    } catch (err) {
      console.log(`tfjs not available, skipping it: ${err.message}`);
      tf = null;
    }
  }
  if (!api.backends().includes('cpu'))
    throw new Error('the native addon did not load: build it first (npm run build:native)');
  const { mallocTuning } = await import('../dist/malloc-tuning.js');
  const report = await runBench(api, tf, {
    smoke,
    sampler,
    sizes,
    baselines,
    time: time === undefined ? undefined : Number(time),
    native: argValue(args, '--native') ?? path.join(here, 'results', 'native.json'),
    mallocTuning: mallocTuning(),
    outDir: path.join(here, 'results'),
    allowLoad: args.includes('--allow-load'),
  });
  if (report.refused) process.exit(3);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
