#!/usr/bin/env node
// npm run prebuild (and npm pack, through prepack): the host's prebuild, the file a user's
// install loads instead of compiling.
//   prebuilds/<platform>-<arch>/noised-topk.node  the cmake-js build (CUDA kernels compiled in
//       when nvcc is found; cudart is static, so it loads with no driver), stripped;
//       prebuildify + node-gyp (CPU only) where cmake or cmake-js is missing.
//   native/vendor/node-addon-api/  node-addon-api's headers, so that a source build in a
//       consumer (no prebuild for its platform) needs no package from the registry.
// --if-stale: do nothing when the prebuild is newer than every source it is built from (so a
// second npm pack does not rebuild).
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const platformArch = `${process.platform}-${process.arch}`;
const outDir = join(root, 'prebuilds', platformArch);
const outFile = join(outDir, 'noised-topk.node');
const log = (msg) => console.log(`noised-topk prebuild: ${msg}`);
const fail = (msg) => {
  console.error(`noised-topk prebuild: ${msg}`);
  process.exit(1);
};

function vendorHeaders() {
  let dir;
  try {
    dir = dirname(require.resolve('node-addon-api/package.json'));
  } catch {
    if (existsSync(join(root, 'native', 'vendor', 'node-addon-api', 'napi.h'))) return;
    fail('node-addon-api is not installed: run npm install first');
  }
  const dest = join(root, 'native', 'vendor', 'node-addon-api');
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.h') || /^LICENSE/.test(f)))
    copyFileSync(join(dir, f), join(dest, f));
}

/** Newest modification time among the files a prebuild is made from. */
function newestSource() {
  let newest = 0;
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      if (relative(root, p) === join('native', 'vendor')) return;
      for (const e of readdirSync(p)) walk(join(p, e));
    } else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['native', 'CMakeLists.txt', 'binding.gyp']) walk(join(root, p));
  return newest;
}

const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** Loads the addon in a fresh process; returns its cuda flag, or throws with the reason. */
function probe(file) {
  const code = `const a = require(${JSON.stringify(file)}); console.log(JSON.stringify({ cuda: a.cuda === true, stream: a.streamVersion }))`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${file} does not load: ${(r.stderr || '').trim().split('\n')[0]}`);
  return JSON.parse(r.stdout.trim());
}

function buildWithCmakeJs() {
  let bin;
  try {
    bin = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    return null;
  }
  if (!has('cmake')) return null;
  const started = Date.now();
  // Its own build tree: build/ stays the developer's (possibly a debug or sanitizer build).
  const r = spawnSync(process.execPath, [bin, 'compile', '--out', 'build-prebuild', '--log-level', 'error'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    fail('the cmake-js build failed (output above)');
  }
  log(`cmake-js build in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return join(root, 'build-prebuild', 'Release', 'noised_topk.node');
}

function buildWithPrebuildify() {
  // node-gyp rebuild wipes its build/, so it runs in a scratch copy of the sources.
  const scratch = mkdtempSync(join(tmpdir(), 'noised-topk-prebuild-'));
  try {
    for (const entry of ['package.json', 'binding.gyp', 'native'])
      cpSync(join(root, entry), join(scratch, entry), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
    const args = [require.resolve('prebuildify/bin.js'), '--napi', '--strip'];
    // npm exposes its bundled node-gyp to scripts; prebuildify would otherwise look on PATH.
    const gyp = process.env.npm_config_node_gyp;
    if (gyp && existsSync(gyp)) args.push('--node-gyp', gyp);
    const r = spawnSync(process.execPath, args, { cwd: scratch, stdio: 'inherit' });
    if (r.status !== 0) fail('prebuildify failed');
    const dir = join(scratch, 'prebuilds', platformArch);
    const made = readdirSync(dir).find((f) => f.endsWith('.node'));
    if (!made) fail(`prebuildify wrote no .node file into ${dir}`);
    const keep = join(root, 'build-prebuild', 'prebuildify.node');
    mkdirSync(dirname(keep), { recursive: true });
    copyFileSync(join(dir, made), keep);
    return keep;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

vendorHeaders();
if (process.argv.includes('--if-stale') && existsSync(outFile) && statSync(outFile).mtimeMs > newestSource()) {
  log(`prebuilds/${platformArch}/noised-topk.node is up to date`);
  process.exit(0);
}
let built = buildWithCmakeJs();
if (!built) {
  log('cmake or cmake-js is missing: a CPU-only prebuild with prebuildify (node-gyp)');
  built = buildWithPrebuildify();
}
mkdirSync(outDir, { recursive: true });
const tmp = join(root, 'build-prebuild', 'stripped.node');
mkdirSync(dirname(tmp), { recursive: true });
copyFileSync(built, tmp);
// Debug info and the static symbol table are a third of the file and no use to a user.
if (has('strip', ['--version'])) spawnSync('strip', ['--strip-unneeded', tmp], { stdio: 'inherit' });
let info;
try {
  info = probe(tmp);
} catch (err) {
  rmSync(tmp, { force: true });
  fail(err.message);
}
for (const f of readdirSync(outDir)) if (f.endsWith('.node')) rmSync(join(outDir, f));
copyFileSync(tmp, outFile);
const kb = (statSync(outFile).size / 1024).toFixed(0);
log(
  `wrote prebuilds/${platformArch}/noised-topk.node (${kb} KiB, CUDA kernels ${info.cuda ? 'compiled in' : 'not compiled in'})`,
);
