// Configures, builds and runs the native benchmark (bench/native, its own CMake project).
//   npm run bench:native                    full run, writes bench/results/native.{md,json}
//   npm run bench:native -- --smoke         tiny sizes (what the test suite runs)
//   npm run bench:native -- --sizes "256,1000,5" --budget 5
//   npm run bench:topk-native               the hard top-k against torch::topk (bench_topk),
//                                           writes bench/results/topk-native.md (--topk [--smoke])
// Environment: NTK_BENCH_BUILD_DIR (default build/bench-native), CMAKE_PREFIX_PATH for a
// libtorch other than Debian's libtorch-dev (e.g. python -c "import torch;
// print(torch.utils.cmake_prefix_path)").
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

/** Builds bench/native into buildDir; returns the path of bench_native, or null without libtorch. */
export function buildNativeBench(buildDir, log = console.log) {
  fs.mkdirSync(buildDir, { recursive: true });
  const cfg = ['-S', here, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release'];
  if (spawnSync('ninja', ['--version']).status === 0) cfg.push('-G', 'Ninja');
  if (!fs.existsSync(path.join(buildDir, 'CMakeCache.txt')) || process.env.NTK_BENCH_RECONFIGURE) {
    if (run('cmake', cfg) !== 0) throw new Error('cmake configure of bench/native failed');
  }
  const jobs = String(Math.max(1, Number(process.env.CMAKE_BUILD_PARALLEL_LEVEL) || 2));
  if (run('cmake', ['--build', buildDir, '--parallel', jobs]) !== 0) throw new Error('build of bench/native failed');
  const exe = path.join(buildDir, 'bench_native');
  if (!fs.existsSync(exe)) {
    log(
      'bench/native: libtorch was not found, so bench_native was not built (apt-get install libtorch-dev, or set CMAKE_PREFIX_PATH)',
    );
    return null;
  }
  return exe;
}

function main() {
  const args = process.argv.slice(2);
  const buildDir = path.resolve(root, process.env.NTK_BENCH_BUILD_DIR ?? path.join('build', 'bench-native'));
  const exe = buildNativeBench(buildDir);
  if (args[0] === '--topk') {
    if (!exe) process.exit(2);
    const outDir = path.join(root, 'bench', 'results');
    fs.mkdirSync(outDir, { recursive: true });
    const rest = args.slice(1);
    process.exit(run(path.join(buildDir, 'bench_topk'), rest.includes('--out') ? rest : ['--out', outDir, ...rest]));
  }
  const check = path.join(buildDir, 'prune_bound_check');
  if (run(check, []) !== 0) process.exit(1);
  if (!exe) process.exit(2);
  const outDir = path.join(root, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  process.exit(run(exe, ['--out', outDir, ...args]));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
