#!/usr/bin/env node
// npm run soak: many calls through the public API, RSS before and after (docs/reliability.md).
//   node scripts/soak.mjs [--sync 100000] [--async 10000] [--rounds 3] [--backend cpu]
//                         [--max-native-growth-mb 16]
// Each round makes --sync and --async calls; memory is read after each, after full GCs. RSS
// alone is not the measure: V8 keeps committed heap pages it no longer uses (heapTotal grows
// while heapUsed stays flat, with the 'js' backend too). Native memory is RSS - heapTotal.
// It compiles lib/ with tsc into a scratch dist/ (so it runs the current sources) and loads the
// same addon the tests use: NOISED_TOPK_ADDON, else build/Release, else the prebuild. Every
// call's answer is checked against the first one of its kind. Exit 1 when an answer changes,
// the JS heap in use or external memory grows by more than 2 MiB, or RSS - heapTotal grows by
// more than --max-native-growth-mb from the end of the first round (the warm-up) to the end.
// scripts/soak-lsan.sh runs it under LeakSanitizer against the ASan build.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { scratchPackage } from './scratch-package.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const nSync = Number(opt('sync', 100_000));
const nAsync = Number(opt('async', 10_000));
const backend = opt('backend', 'cpu');
const rounds = Number(opt('rounds', 3));
const maxNativeGrowthMb = Number(opt('max-native-growth-mb', 16));

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

function addonPath() {
  if (process.env.NOISED_TOPK_ADDON) return process.env.NOISED_TOPK_ADDON;
  const built = join(root, 'build', 'Release', 'noised_topk.node');
  if (existsSync(built)) return built;
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.node')) : undefined;
  if (!file) throw new Error('soak: no addon built (npm run build:native)');
  return join(dir, file);
}

const scratch = scratchPackage(root, 'noised-topk-soak-');
try {
  if (backend !== 'js') process.env.NOISED_TOPK_ADDON = addonPath();
  const lib = await import(pathToFileURL(join(scratch, 'dist', 'index.js')).href);
  await soak(lib);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

function memory() {
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return {
    rss: m.rss / 2 ** 20,
    heap: m.heapUsed / 2 ** 20,
    heapTotal: m.heapTotal / 2 ** 20,
    external: (m.external + m.arrayBuffers) / 2 ** 20,
  };
}

async function soak({ NoisedTopK, BalNoisedTopK, functional }) {
  const x = Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i * 0.37) * 2);
  const labels = Int32Array.from({ length: 8 }, (_, i) => (i * 5) % 64);
  const noise = Float32Array.from({ length: x.length * 3 }, (_, i) => Math.cos(i * 0.11));
  const shape = [8, 64];
  const want = {};
  let mismatches = 0;
  const same = (key, arr) => {
    const b = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).toString('base64');
    if (want[key] === undefined) want[key] = b;
    else if (want[key] !== b) mismatches++;
  };
  // One call = one forward or one backward through the public API, rotating over the forms.
  const syncCall = (i) => {
    switch (i % 4) {
      case 0:
        same('topk', new NoisedTopK({ k: 3, seed: 1, backend }).forward(x, shape).values);
        break;
      case 1:
        same('grad', new NoisedTopK({ k: 3, seed: 1, backend }).forward(x, shape).backward());
        break;
      case 2:
        same('loss', new BalNoisedTopK({ k: 2, seed: 2, backend }).forward(x, labels, shape).backward());
        break;
      default:
        same('explicit', functional.noisedTopK(x, shape, { k: 5, noise, backend }).values);
    }
  };
  const asyncCall = async (i) => {
    if (i % 2) {
      const r = await new NoisedTopK({ k: 3, seed: 1, backend }).forwardAsync(x, shape);
      same('topk', r.values);
      same('grad', await r.backwardAsync());
    } else {
      same('explicit', (await functional.noisedTopKAsync(x, shape, { k: 5, noise, backend })).values);
    }
  };

  for (let i = 0; i < 2000; i++) syncCall(i);
  for (let i = 0; i < 200; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => asyncCall(i + j)));
  const m0 = memory();
  const before = m0.rss;
  const rssAfterRound = [];
  const outsideHeapAfterRound = [];
  let afterSync = before;
  const t0 = performance.now();
  let syncMs = 0;
  for (let round = 0; round < rounds; round++) {
    const ts = performance.now();
    for (let i = 0; i < nSync; i++) syncCall(i);
    syncMs += performance.now() - ts;
    if (round === 0) afterSync = memory().rss;
    const batch = 100;
    for (let i = 0; i < nAsync; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, nAsync - i) }, (_, j) => asyncCall(i + j)));
    }
    const m = memory();
    rssAfterRound.push(+m.rss.toFixed(1));
    outsideHeapAfterRound.push(+(m.rss - m.heapTotal).toFixed(1));
  }
  const m2 = memory();
  const after = m2.rss;
  const t2 = performance.now();
  const report = {
    backend,
    syncCallsPerRound: nSync,
    asyncCallsPerRound: nAsync,
    rssBeforeMb: +before.toFixed(1),
    rssAfterSyncMb: +afterSync.toFixed(1),
    rssAfterMb: +after.toFixed(1),
    rounds,
    rssAfterRoundMb: rssAfterRound,
    lastRoundGrowthMb: rounds > 1 ? +(rssAfterRound[rounds - 1] - rssAfterRound[rounds - 2]).toFixed(1) : null,
    growthMb: +(after - before).toFixed(1),
    heapUsedMb: [+m0.heap.toFixed(1), +m2.heap.toFixed(1)],
    heapTotalMb: [+m0.heapTotal.toFixed(1), +m2.heapTotal.toFixed(1)],
    rssOutsideV8HeapMb: [+(m0.rss - m0.heapTotal).toFixed(1), ...outsideHeapAfterRound],
    externalMb: [+m0.external.toFixed(1), +m2.external.toFixed(1)],
    syncSeconds: +(syncMs / 1000).toFixed(1),
    asyncSeconds: +((t2 - t0 - syncMs) / 1000).toFixed(1),
    mismatches,
  };
  if (mismatches > 0) {
    console.error(`soak: ${mismatches} answers changed between identical calls`);
    process.exitCode = 1;
  }
  const nativeGrowth = report.rssOutsideV8HeapMb[report.rssOutsideV8HeapMb.length - 1] - report.rssOutsideV8HeapMb[1];
  report.nativeGrowthAfterWarmupMb = +nativeGrowth.toFixed(1);
  console.log(`soak: ${JSON.stringify(report)}`);
  console.log(
    `soak: native memory (RSS - V8 heap) after warm-up grew ${nativeGrowth.toFixed(1)} MiB; JS heap in use ${m0.heap.toFixed(1)} -> ${m2.heap.toFixed(1)} MiB; external ${m0.external.toFixed(1)} -> ${m2.external.toFixed(1)} MiB`,
  );
  if (nativeGrowth > maxNativeGrowthMb) {
    console.error(`soak: native memory grew ${nativeGrowth.toFixed(1)} MiB after warm-up (limit ${maxNativeGrowthMb})`);
    process.exitCode = 1;
  }
  if (m2.heap - m0.heap > 2 || m2.external - m0.external > 2) {
    console.error('soak: the JS heap in use or external memory grew by more than 2 MiB');
    process.exitCode = 1;
  }
}
