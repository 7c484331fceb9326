#!/usr/bin/env node
// npm install hook. It never downloads anything. In order:
//   1. a prebuild in prebuilds/<platform>-<arch>/ that loads in this Node.js -> done;
//   2. build from source with cmake-js (CMakeLists.txt; CUDA too when nvcc is found), where
//      cmake-js is installed (a devDependency: a developer's checkout);
//   3. otherwise build the CPU sources with node-gyp (binding.gyp; npm bundles node-gyp), with
//      Node.js headers found on this machine;
//   4. otherwise one message (what failed, and how to fix it) and a successful exit: the package
//      then runs on its pure TypeScript backend.
// Build output is captured into build/install.log, not shown: a normal install prints one line.
// NOISED_TOPK_BUILD_FROM_SOURCE=1 skips step 1; NOISED_TOPK_SKIP_BUILD=1 skips 2 and 3.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// dlopen of a truncated ELF file dies of SIGBUS, so check before require (shared with lib/native.ts).
import { elfFileProblem } from './elf.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const log = (msg) => console.error(`noised-topk: ${msg}`);
const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v !== 'false';

// What each way of getting the addon said when it did not work; the final message lists them.
const failed = [];
let buildLog = '';

function prebuildLoads() {
  const rel = join('prebuilds', `${process.platform}-${process.arch}`);
  const dir = join(root, rel);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  if (files.length === 0) failed.push(`no prebuild for ${process.platform}-${process.arch} in this package`);
  for (const file of files) {
    try {
      const problem = elfFileProblem(join(dir, file), fs);
      if (problem) throw new Error(problem);
      require(join(dir, file));
      log(`using prebuild ${join(rel, file)} (nothing compiled)`);
      return true;
    } catch (err) {
      failed.push(`prebuild ${file} does not load here (${err.message.split('\n')[0]})`);
    }
  }
  return false;
}

/** Runs a build step with its output captured: a normal install shows none of it. */
function run(what, cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: process.env, maxBuffer: 64 * 1024 * 1024 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  buildLog += `$ ${[cmd, ...args].join(' ')}\n${out}\n`;
  if (r.status === 0) return true;
  // The first compiler or cmake error says more than the last line of a make trace.
  const lines = out.split('\n').map((l) => l.trim());
  const first =
    lines.find((l) => /error|not found|No such file|could not|cannot/i.test(l)) ??
    lines.filter(Boolean).pop() ??
    (r.error?.message || `exit ${r.status}`);
  failed.push(`${what} failed: ${first.slice(0, 200)}`);
  return false;
}

function hasCommand(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function buildWithCmake() {
  let bin;
  try {
    bin = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    failed.push('cmake-js is not installed (it is a devDependency: the source build of a user install uses node-gyp)');
    return false;
  }
  if (!hasCommand('cmake')) {
    failed.push('cmake not found, so no cmake-js build');
    return false;
  }
  return run('the cmake-js build', process.execPath, [bin, 'compile', '--log-level', 'error']) && 'cmake-js';
}

/** Node.js headers already on this machine: node-gyp would otherwise download them. */
function localNodeDir() {
  const candidates = [join(dirname(process.execPath), '..')];
  const home = process.env.HOME;
  if (home) candidates.push(join(home, '.cache', 'node-gyp', process.versions.node));
  return candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
}

function buildWithNodeGyp() {
  const gyp = process.env.npm_config_node_gyp;
  const cmd = gyp && existsSync(gyp) ? [process.execPath, gyp] : hasCommand('node-gyp') ? ['node-gyp'] : null;
  if (!cmd) {
    failed.push('node-gyp not found (npm provides it to install scripts)');
    return false;
  }
  const nodedir = localNodeDir();
  if (!nodedir) {
    failed.push(
      `node-gyp skipped: no Node.js headers on this machine (include/node under ${join(dirname(process.execPath), '..')}), and the install downloads nothing`,
    );
    return false;
  }
  return run('the node-gyp build', cmd[0], [...cmd.slice(1), 'rebuild', `--nodedir=${nodedir}`]) && 'node-gyp';
}

/** A build that "succeeded" may still not load here (wrong ABI, missing symbol): check in a child. */
function builtAddonLoads(how) {
  if (!how) return false;
  const file = join(root, 'build', 'Release', 'noised_topk.node');
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
  if (r.status === 0) return how;
  const why =
    (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`)
      .trim()
      .split('\n')
      .find((l) => /error/i.test(l)) ?? 'it does not load';
  failed.push(`the ${how} build finished, but its addon does not load here (${why.slice(0, 200)})`);
  return false;
}

function writeLog() {
  if (!buildLog) return null;
  const file = join(root, 'build', 'install.log');
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, buildLog);
    return file;
  } catch {
    return null;
  }
}

if (truthy(process.env.NOISED_TOPK_SKIP_BUILD)) {
  log("NOISED_TOPK_SKIP_BUILD is set: no native build, the pure TypeScript backend ('js') will be used");
} else if (!truthy(process.env.NOISED_TOPK_BUILD_FROM_SOURCE) && prebuildLoads()) {
  // done: the prebuild loads here
} else {
  const how = builtAddonLoads(buildWithCmake()) || builtAddonLoads(buildWithNodeGyp());
  const logFile = writeLog();
  if (how) {
    const before = failed.length > 0 && !truthy(process.env.NOISED_TOPK_BUILD_FROM_SOURCE) ? ` (${failed[0]})` : '';
    log(`built the native addon from source with ${how}${before}`);
  } else {
    log(
      [
        `no native addon for ${process.platform}-${process.arch}, so the package will run on its pure TypeScript backend ('js'), which is slower:`,
        ...failed.map((f) => `  - ${f}`),
        '  To fix: install cmake and a C++17 compiler (e.g. apt-get install cmake g++), then run `npm rebuild noised-topk`.' +
          (logFile ? `\n  Build output: ${logFile}` : ''),
      ].join('\n'),
    );
  }
}
