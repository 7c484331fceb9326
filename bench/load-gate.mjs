// The load rule of every benchmark here (bench/load-limit.json): results taken while the 1-min
// load average was above the limit, at the start or at the end, are not written, unless the run
// says --allow-load, and then the files open with a banner that says they are not a measurement.
// Smoke and quick runs are tests of the benchmark, not measurements: written whatever the load,
// and named so (-smoke, -quick). bench/native/bench_gate.h is the same rule in C++.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The 1-min load average above which no figure is written (bench/load-limit.json). */
export const MAX_LOAD = JSON.parse(fs.readFileSync(path.join(here, 'load-limit.json'), 'utf8')).maxLoad;

/** The 1-min load average now. NTK_BENCH_LOADAVG stands in for it (the tests of the refusal). */
export function loadAverage1() {
  const fake = process.env.NTK_BENCH_LOADAVG;
  return fake !== undefined ? Number(fake) : os.loadavg()[0];
}

/**
 * The verdict on a run from its load at the start and at the end. `exempt`: a smoke or quick
 * run, never refused.
 */
export function loadVerdict(load0, load1, { exempt = false } = {}) {
  return { load0, load1, loaded: !exempt && Math.max(load0, load1) > MAX_LOAD };
}

/** The banner a file taken under load opens with (written only with --allow-load); '' otherwise. */
export function underLoadBanner(v) {
  if (!v.loaded) return '';
  return `**TAKEN UNDER LOAD: the 1-min load average was ${v.load0.toFixed(2)} at the start and ${v.load1.toFixed(2)} at the end, above ${MAX_LOAD}. NOT A MEASUREMENT: quote nothing from this file.**\n\n`;
}

/**
 * Writes `files` (path -> content) unless the verdict refuses them. Returns null when written, or
 * the reason they were not.
 */
export function writeResults(files, verdict, { allowLoad = false, log = console.log } = {}) {
  if (verdict.loaded && !allowLoad) {
    log(
      `NOT WRITTEN: the 1-min load average was ${verdict.load0.toFixed(2)} at the start and ${verdict.load1.toFixed(2)} at the end (limit ${MAX_LOAD}); rerun on a quiet machine, or pass --allow-load to write files marked as taken under load`,
    );
    return `load average ${Math.max(verdict.load0, verdict.load1).toFixed(2)} > ${MAX_LOAD}`;
  }
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  log(`wrote ${Object.keys(files).join(' and ')}`);
  return null;
}
