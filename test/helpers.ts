import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backends } from '../lib/index.js';
import { compilePackage } from '../scripts/scratch-package.mjs';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..');

export interface GoldenCase {
  kind: 'noised_topk' | 'bal_loss' | 'imbal_loss';
  shape: number[];
  k: number;
  epsilon: number;
  n_sample: number;
  Z: number[];
  grad: number[];
  // noised_topk
  dim?: number;
  x?: number[];
  value?: number[];
  value_shape?: number[];
  grad_output?: number[];
  // losses
  scores?: number[];
  labels?: number[];
  loss?: number;
  cls_num_list?: number[];
  max_m?: number;
  scale?: number;
  m_list?: number[];
}

export function goldenCases(): { file: string; index: number; c: GoldenCase }[] {
  const out: { file: string; index: number; c: GoldenCase }[] = [];
  for (const file of ['golden-1.json', 'golden-2.json']) {
    const doc = JSON.parse(readFileSync(join(here, 'fixtures', file), 'utf8')) as { cases: GoldenCase[] };
    for (const [index, c] of doc.cases.entries()) out.push({ file, index, c });
  }
  return out;
}

/** Backends under test. The addon must load in this repository: a missing build is a failure, not a skip. */
export function testedBackends(): ('js' | 'cpu')[] {
  const list = backends();
  if (!list.includes('cpu') && process.env.NOISED_TOPK_NATIVE !== '0') {
    throw new Error('the native addon did not load: run `npm install` (or `npm run build:native`) first');
  }
  return list.filter((b): b is 'js' | 'cpu' => b === 'js' || b === 'cpu');
}

/** Small deterministic generator for test data (not the library's stream). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(rand: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/** Max relative error |a - b| / max(|b|, floor). */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor);
    if (e > worst || Number.isNaN(e)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

/** The .node file lib/native.ts loads in this process. */
export function addonPath(): string {
  if (process.env.NOISED_TOPK_ADDON) return process.env.NOISED_TOPK_ADDON;
  const built = join(root, 'build', 'Release', 'noised_topk.node');
  if (existsSync(built)) return built;
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  return join(dir, readdirSync(dir).find((f) => f.endsWith('.node'))!);
}

/**
 * A scratch copy of the package for child processes and workers, which cannot load lib/*.ts:
 * lib/ compiled into `dir`/dist (tsc), with package.json, scripts/elf.mjs and node_modules.
 * The child loads the addon named by NOISED_TOPK_ADDON (set it to addonPath()).
 */
export function compiledPackage(dir: string): void {
  compilePackage(root, dir);
}

/** The C++ compiler of the native checks (CXX, else c++), and whether it runs here. */
export const nativeCxx = process.env.CXX ?? 'c++';
export const haveNativeCxx = spawnSync(nativeCxx, ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Compiles test/native/<name>.cpp into `dir` with the addon's float flags (native/sources.json
 * streamFlags: the stream is bit-exact only without contraction or fast-math) and returns the
 * program's path. A compile error fails the calling test with the compiler's message.
 */
export function compileNativeCheck(name: string, dir: string): string {
  const { streamFlags } = JSON.parse(readFileSync(join(root, 'native', 'sources.json'), 'utf8')) as {
    streamFlags: string[];
  };
  const exe = join(dir, name);
  const cc = spawnSync(
    nativeCxx,
    [
      '-O2',
      '-std=c++17',
      ...streamFlags,
      '-I',
      join(root, 'native'),
      join(root, 'test', 'native', `${name}.cpp`),
      '-o',
      exe,
    ],
    { encoding: 'utf8' },
  );
  if (cc.status !== 0) throw new Error(`${nativeCxx} could not compile test/native/${name}.cpp:\n${cc.stderr}`);
  return exe;
}

/** The error f throws; a result instead of an error fails the calling test. */
export function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got a result');
}
