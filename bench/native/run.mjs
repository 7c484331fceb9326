// Configures, builds and runs the native benchmark (bench/native, its own CMake project).
//   npm run bench:native                    full run, writes bench/results/native.{md,json}
//   npm run bench:native -- --smoke         tiny sizes (what the test suite runs)
//   npm run bench:native -- --sizes "256,1000,5" --budget 5
//   npm run bench:topk-native               the hard top-k against torch::topk (bench_topk),
//                                           writes bench/results/topk-native.md (--topk [--smoke])
//   npm run bench:native -- --corpus [DIR] [--quick] [--out [DIR]] [--allow-load] [--budget S]
//       [--pytopk-work VALUES] [--only SUBSTRING] [--nsample S] [--families FILE]
//                                           the corpus (bench/corpus.mjs): 'dense', 'lazy' and
//                                           pytopk on every corpus file and generated family, 1 and
//                                           2 threads; writes corpus-native.{md,json} only with --out
// Environment: NTK_BENCH_BUILD_DIR (default build/bench-native), CMAKE_PREFIX_PATH for a
// libtorch other than Debian's libtorch-dev (e.g. python -c "import torch;
// print(torch.utils.cmake_prefix_path)").
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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

/** The value after name when there is one that is not an option itself (--corpus [DIR]). */
function optionalValue(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  return v !== undefined && !v.startsWith('--') ? v : dflt;
}

function argValue(args, name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
  return args[i + 1];
}

/**
 * The generated family's .ntkl file in the cache (generated on first use): the C++ benchmark
 * reads the same bytes the Node one generates. Keyed by the family's definition and the
 * generator's version; an entry of the same name and rows made from another definition is removed.
 */
function familyFile(corpus, cacheDir, family) {
  const key = createHash('sha256')
    .update(JSON.stringify({ v: corpus.GENERATOR_VERSION, family }))
    .digest('hex')
    .slice(0, 12);
  const stem = `${family.name}-r${family.rows}`;
  const file = path.join(cacheDir, `${stem}-${key}.ntkl`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    for (const f of fs.readdirSync(cacheDir)) if (f.startsWith(`${stem}-`)) fs.rmSync(path.join(cacheDir, f));
    const g = corpus.generate(family);
    const tmp = `${file}.${process.pid}.tmp`;
    corpus.writeNtkl(tmp, g.header, g.scores);
    fs.renameSync(tmp, file);
  }
  return file;
}

/** The corpus benchmark (--corpus [DIR]): writes the manifest bench_native reads, then runs it. */
async function corpusMain(args, buildDir, exe) {
  const known = new Set([
    '--corpus',
    '--quick',
    '--out',
    '--allow-load',
    '--budget',
    '--pytopk-work',
    '--only',
    '--nsample',
    '--families',
  ]);
  for (const a of args)
    if (a.startsWith('--') && !known.has(a))
      throw new Error(`--corpus: unknown option ${a} (known: ${[...known].join(', ')})`);
  const corpus = await import('../corpus.mjs');
  const dir = path.resolve(optionalValue(args, '--corpus', corpus.CORPUS_DIR));
  const quick = args.includes('--quick');
  const nsample = argValue(args, '--nsample');
  if (nsample !== undefined && !/^[1-9]\d*$/.test(nsample))
    throw new Error(`--nsample: expected a positive integer, got ${nsample}`);
  const cases = corpus.corpusCases(dir, {
    quick,
    only: argValue(args, '--only'),
    familiesFile: argValue(args, '--families'),
    nSample: nsample === undefined ? undefined : Number(nsample),
  });
  if (cases.length === 0) throw new Error(`no corpus case to run in ${dir}`);
  // The default sampler comes from the package (dist/, built by npm install); '?' without it.
  let defaultSampler = () => '?';
  try {
    const api = await import('../../dist/index.js');
    defaultSampler = (d) => api.defaultSampler(d, 6);
  } catch {
    console.log('dist/ is not built (npm run build:ts): the "default" column is left as ?');
  }
  const cacheDir = path.join(buildDir, 'corpus-cache');
  const lines = ['NTK-CORPUS 1'];
  for (const c of cases) {
    let file = c.file;
    let dataOffset = c.dataOffset;
    let labels;
    if (c.kind === 'family') {
      file = familyFile(corpus, cacheDir, c.family);
      const p = corpus.readNtkl(file, 0);
      dataOffset = p.dataOffset;
      labels = p.header.labels;
    } else {
      labels = corpus.readNtkl(file, 0).header.labels.slice(0, c.rows);
    }
    const fields = [c.name, c.kind, c.stage, defaultSampler(c.classes), file, dataOffset, c.rows, c.classes, c.nSample];
    if (fields.some((f) => /[\t\n]/.test(String(f)))) throw new Error(`case ${c.name}: a tab or newline in its fields`);
    lines.push([...fields, labels.join(',')].join('\t'));
  }
  const manifest = path.join(buildDir, quick ? 'corpus-manifest-quick.tsv' : 'corpus-manifest.tsv');
  fs.writeFileSync(manifest, `${lines.join('\n')}\n`);
  const pass = ['--corpus-manifest', manifest];
  if (quick) pass.push('--quick');
  if (args.includes('--allow-load')) pass.push('--allow-load');
  for (const o of ['--budget', '--pytopk-work']) {
    const v = argValue(args, o);
    if (v === undefined) continue;
    if (!(Number(v) >= 0) || !Number.isFinite(Number(v))) throw new Error(`${o}: expected a number >= 0, got ${v}`);
    pass.push(o, v);
  }
  const out = optionalValue(args, '--out', path.join(root, 'bench', 'results'));
  if (out !== undefined) {
    fs.mkdirSync(path.resolve(out), { recursive: true });
    pass.push('--out', path.resolve(out));
  }
  return run(exe, pass);
}

async function main() {
  const args = process.argv.slice(2);
  const buildDir = path.resolve(root, process.env.NTK_BENCH_BUILD_DIR ?? path.join('build', 'bench-native'));
  const exe = buildNativeBench(buildDir);
  if (args.includes('--corpus')) {
    if (!exe) process.exit(2);
    process.exit(await corpusMain(args, buildDir, exe));
  }
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

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err.message ?? err);
    process.exit(1);
  });
}
