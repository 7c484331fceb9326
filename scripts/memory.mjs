#!/usr/bin/env node
// npm run memory: the peak memory of one large call, per backend, sync and async, forward and
// backward, each in a fresh child process. Printed as the table in docs/limits.md.
//   extra peak = VmHWM during the call - RSS just before it (inputs and outputs the caller
//                made already counted in "before"), Linux's peak RSS reset with clear_refs;
//   ratio      = extra peak / bytes of x.
// The package is compiled into a scratch folder (scripts/scratch-package.mjs) and loads the same
// addon the tests use (NOISED_TOPK_ADDON, else build/Release, else the prebuild).
// Options: --shapes "512x32768,2x8388608" (rows x d), --k 5, --samples 5, --threads 0.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchPackage } from './scratch-package.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const shapes = opt('shapes', '512x32768,2x8388608')
  .split(',')
  .map((s) => s.split('x').map(Number));
const k = Number(opt('k', 5));
const nSample = Number(opt('samples', 5));
const threads = Number(opt('threads', 0));

function addonPath() {
  if (process.env.NOISED_TOPK_ADDON) return process.env.NOISED_TOPK_ADDON;
  const built = join(root, 'build', 'Release', 'noised_topk.node');
  if (existsSync(built)) return built;
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.node')) : undefined;
  if (!file) throw new Error('memory: no addon built (npm run build:native)');
  return join(dir, file);
}

// One measurement, in the child: prints { before, extra } in bytes.
const childCode = `
import { readFileSync, writeFileSync } from 'node:fs';
import { NoisedTopK, setThreads } from './dist/index.js';
const [rows, d, k, nSample, threads, backend, mode, pass] = JSON.parse(process.argv[2]);
const status = (key) => Number(/\\s(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8').split('\\n').find((l) => l.startsWith(key + ':')))[1]) * 1024;
if (backend === 'cpu') setThreads(threads);
const x = new Float32Array(rows * d);
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.618);
const op = new NoisedTopK({ k, nSample, seed: 1, backend });
const r = pass === 'backward' ? op.forward(x, [rows, d]) : null;
const gradOutput = new Float32Array(rows).fill(1);
const out = new Float32Array(rows * d); // the backward's output, made by the caller beforehand
out.fill(0);
globalThis.gc();
writeFileSync('/proc/self/clear_refs', '5'); // peak RSS := RSS now
const before = status('VmRSS');
if (pass === 'forward') mode === 'sync' ? op.forward(x, [rows, d]) : await op.forwardAsync(x, [rows, d]);
else mode === 'sync' ? r.backward(gradOutput, out) : await r.backwardAsync(gradOutput, out);
const peak = status('VmHWM');
console.log(JSON.stringify({ before, extra: peak - before }));
`;

const scratch = scratchPackage(root, 'noised-topk-memory-');
try {
  writeFileSync(join(scratch, 'measure.mjs'), childCode);
  const env = { ...process.env, NOISED_TOPK_ADDON: addonPath() };
  const mib = (b) => (b / 2 ** 20).toFixed(0);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `noised-topk memory: ${cpu}, ${cpus().length} cores, Node ${process.version}, k ${k}, nSample ${nSample}, threads ${threads || 'one per core'}`,
  );
  console.log('');
  console.log('| x (rows x d) | x MiB | backend | call | before MiB | extra peak MiB | extra / x |');
  console.log('| --- | ---: | --- | --- | ---: | ---: | ---: |');
  for (const [rows, d] of shapes) {
    for (const backend of ['cpu', 'js']) {
      for (const pass of ['forward', 'backward']) {
        for (const mode of ['sync', 'async']) {
          const r = spawnSync(
            process.execPath,
            [
              '--expose-gc',
              join(scratch, 'measure.mjs'),
              JSON.stringify([rows, d, k, nSample, threads, backend, mode, pass]),
            ],
            {
              encoding: 'utf8',
              env,
              cwd: scratch,
              timeout: 600_000,
            },
          );
          if (r.status !== 0) throw new Error(`memory: ${backend} ${pass} ${mode} failed: ${r.stderr}`);
          const { before, extra } = JSON.parse(r.stdout.trim().split('\n').pop());
          const xBytes = 4 * rows * d;
          console.log(
            `| ${rows} x ${d} | ${mib(xBytes)} | ${backend} | ${pass} ${mode} | ${mib(before)} | ${mib(extra)} | ${(extra / xBytes).toFixed(2)} |`,
          );
        }
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
