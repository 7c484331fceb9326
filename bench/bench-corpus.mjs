// The corpus benchmark from Node (npm run bench -- --corpus [DIR]): BalNoisedTopK k = 5,
// epsilon = 1, forward + backward through the package's API, 'dense' and 'lazy' side by side on
// every file of the corpus (bench/corpus/*.ntkl: logits that training produced) and every
// generated family (bench/corpus/families.json), on 1 and 2 threads.
//   Per case and thread count, the 'dense' and the 'lazy' call alternate call by call (A B A B),
//   each call timed alone: 1 warm-up round, then rounds until `time` ms have passed (default
//   2000) and at least 3 rounds were made (at most 200). --quick: every file's first 8 rows,
//   every family at 4 rows, nSample 2, 2 rounds (a smoke run: does it work).
// Prints a table naming the machine, the CPU, the date and the 1-min load average at the start
// and the end. Writes DIR/corpus-js.{md,json} (--quick: corpus-js-quick.*) only with --out [DIR]
// (default bench/results), and refuses (exit 3) when the 1-min load average at the start or the
// end was above the limit of bench/load-limit.json (1.5), unless --allow-load, which writes the files marked as taken under load.
import path from 'node:path';
import { CORPUS_DIR, corpusCases, FAMILIES_FILE } from './corpus.mjs';
import { loadAverage1, loadVerdict, underLoadBanner, writeResults } from './load-gate.mjs';
import { fmtMs, machine, summary, timeInTurn } from './bench.mjs';
import os from 'node:os';

const K = 5;
const EPS = 1;
const THREADS = [1, 2];

const ratio = (a, b) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}x` : '');

/**
 * Runs the corpus benchmark. api: the noised-topk module. opts: { dir, quick, time (ms per case
 * and thread count), only (a substring of the case names), nSample, familiesFile, outDir, allowLoad,
 * loadAverage (the 1-min load average: a test hook), log }.
 * Returns the report; report.written says whether the files were written, report.refused why not.
 */
export async function runCorpusBench(api, opts = {}) {
  const quick = Boolean(opts.quick);
  const log = opts.log ?? console.log;
  const dir = opts.dir ?? CORPUS_DIR;
  const timeMs = quick ? 0 : (opts.time ?? 2000);
  const minRuns = quick ? 2 : 3;
  const warmupRuns = 1;
  const maxRuns = quick ? 2 : 200;
  const cases = corpusCases(dir, { quick, only: opts.only, nSample: opts.nSample, familiesFile: opts.familiesFile });
  if (cases.length === 0) throw new RangeError(`no corpus case to run (dir ${dir}, only ${opts.only ?? '(all)'})`);
  const m = machine();
  const loadAverage = opts.loadAverage ?? loadAverage1;
  const load0 = loadAverage();
  const t0 = Date.now();
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  log(
    `corpus benchmark (Node): ${cases.length} cases from ${dir} and ${opts.familiesFile ?? FAMILIES_FILE}; ${m.cpu}, ${m.cores} cores; ${date} UTC; load ${m.loadavg}`,
  );
  const rows = [];
  const savedThreads = api.threads();
  for (const c of cases) {
    const { scores, labels } = c.load();
    const B = c.rows;
    const D = c.classes;
    const S = c.nSample;
    if (D < K + 2) {
      rows.push({ ...caseInfo(c), skipped: `classes ${D} < k + 2 = ${K + 2}` });
      log(`${c.name}: skipped (classes ${D} < ${K + 2})`);
      continue;
    }
    let offset = 0;
    const call = (sampler) => () => {
      const r = api.functional.balNoisedTopKLoss(scores, labels, [B, D], {
        k: K,
        epsilon: EPS,
        nSample: S,
        seed: 42n,
        offset: offset++ & 0xffffffff,
        backend: 'cpu',
        sampler,
      });
      if (!Number.isFinite(r.loss)) throw new Error(`${c.name}: loss ${r.loss} with sampler ${sampler}`);
      return r.backward();
    };
    const row = { ...caseInfo(c), defaultSampler: api.defaultSampler(D, K + 1), results: {} };
    for (const threads of THREADS) {
      api.setThreads(threads);
      const t = timeInTurn([call('dense'), call('lazy')], { timeMs, minRuns, warmupRuns, maxRuns });
      row.results[`dense ${threads}T`] = summary(t.ms[0], t.faults[0], api.threads());
      row.results[`lazy ${threads}T`] = summary(t.ms[1], t.faults[1], api.threads());
      const d = row.results[`dense ${threads}T`];
      const l = row.results[`lazy ${threads}T`];
      log(
        `${c.name} (${B}, ${D}, ${S}) ${threads}T: dense ${fmtMs(d.medianMs)} ms, lazy ${fmtMs(l.medianMs)} ms, dense / lazy ${ratio(d.medianMs, l.medianMs)} (${d.samples} runs each); load ${os.loadavg()[0].toFixed(2)}`,
      );
    }
    rows.push(row);
  }
  api.setThreads(savedThreads);
  const load1 = loadAverage();
  const seconds = (Date.now() - t0) / 1000;
  const verdict = loadVerdict(load0, load1, { exempt: quick });

  const lines = [];
  lines.push(
    `# Corpus benchmark from Node: BalNoisedTopK (k = 5, epsilon = 1) loss + gradient, 'dense' against 'lazy'${quick ? ' (QUICK run: a smoke test, not a measurement)' : ''}`,
  );
  lines.push('');
  if (verdict.loaded) lines.push(underLoadBanner(verdict).trimEnd(), '');
  lines.push(`- Machine: ${os.hostname()}; CPU: ${m.cpu}, ${m.cores} logical cores; Node ${m.node} (${m.platform})`);
  lines.push(`- Date: ${date} UTC; the run took ${seconds.toFixed(0)} s`);
  lines.push(`- Load average, 1 min: ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end`);
  lines.push(
    `- Corpus: ${dir} (${rows.filter((r) => r.kind === 'file').length} files timed) and the generated families (${rows.filter((r) => r.kind === 'family').length} timed, from ${opts.familiesFile ?? FAMILIES_FILE})`,
  );
  lines.push(
    `- Times: median ms per forward + backward through the package ('cpu' backend, a new gradient per call) [p75]; 'dense' and 'lazy' alternate call by call; runs per sampler in the last column (${quick ? 'quick: 2' : `at least ${minRuns}, up to ${timeMs} ms per case and thread count`}, after 1 warm-up round)`,
  );
  lines.push(
    "- default: the sampler the package picks for this width (defaultSampler); 'default / other' is its time over the other sampler's (above 1.00x: the default is the slower one)",
  );
  lines.push('');
  lines.push(
    '| case | kind | stage | B | D | S | default | dense 1T | lazy 1T | dense / lazy 1T | dense 2T | lazy 2T | dense / lazy 2T | default / other 1T | dense 1T / 2T | lazy 1T / 2T | runs 1T, 2T |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const cell = (v) => (v ? `${fmtMs(v.medianMs)} [${fmtMs(v.p75Ms)}]` : '');
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${r.name} | ${r.kind} | ${r.stage} | ${r.B} | ${r.D} | ${r.S} | skipped: ${r.skipped} |||||||||||`);
      continue;
    }
    const x = r.results;
    const d1 = x['dense 1T']?.medianMs;
    const l1 = x['lazy 1T']?.medianMs;
    const def1 = r.defaultSampler === 'lazy' ? ratio(l1, d1) : ratio(d1, l1);
    lines.push(
      `| ${r.name} | ${r.kind} | ${r.stage} | ${r.B} | ${r.D} | ${r.S} | ${r.defaultSampler} | ${cell(x['dense 1T'])} | ${cell(x['lazy 1T'])} | ${ratio(d1, l1)} | ${cell(x['dense 2T'])} | ${cell(x['lazy 2T'])} | ${ratio(x['dense 2T']?.medianMs, x['lazy 2T']?.medianMs)} | ${def1} | ${ratio(d1, x['dense 2T']?.medianMs)} | ${ratio(l1, x['lazy 2T']?.medianMs)} | ${x['dense 1T']?.samples}, ${x['dense 2T']?.samples} |`,
    );
  }
  const md = `${lines.join('\n')}\n`;
  log(`\n${md}`);
  const report = {
    quick,
    loaded: verdict.loaded,
    machine: { ...m, host: os.hostname() },
    date: new Date(t0).toISOString(),
    seconds,
    loadStart: load0,
    loadEnd: load1,
    k: K,
    epsilon: EPS,
    dir,
    rows,
    written: false,
    refused: null,
  };
  if (opts.outDir) {
    const base = path.join(opts.outDir, quick ? 'corpus-js-quick' : 'corpus-js');
    // written is set before the JSON is rendered, so the file says true; a refused run writes none.
    report.written = !verdict.loaded || Boolean(opts.allowLoad);
    const files = { [`${base}.md`]: md, [`${base}.json`]: `${JSON.stringify(report, null, 2)}\n` };
    report.refused = writeResults(files, verdict, { allowLoad: opts.allowLoad, log });
  }
  return report;
}

function caseInfo(c) {
  return {
    name: c.name,
    kind: c.kind,
    stage: c.stage,
    target: c.target,
    loss: c.loss,
    epoch: c.epoch,
    B: c.rows,
    D: c.classes,
    S: c.nSample,
  };
}
