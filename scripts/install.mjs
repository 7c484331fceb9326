#!/usr/bin/env node
// npm install hook. It never downloads anything. In order:
//   1. a prebuild in prebuilds/<platform>-<arch>/ that loads in this Node.js -> done;
//   2. build from source with cmake-js (CMakeLists.txt; CUDA too when nvcc is found);
//   3. where cmake is missing or fails, build the CPU sources with node-gyp (binding.gyp);
//   4. otherwise warn and finish: the package then runs on its pure TypeScript backend.
// NOISED_TOPK_BUILD_FROM_SOURCE=1 skips step 1; NOISED_TOPK_SKIP_BUILD=1 skips 2 and 3.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// dlopen of a truncated ELF file dies of SIGBUS, so check before require (shared with lib/native.ts).
import { elfFileProblem } from './elf.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const log = (msg) => console.error(`noised-topk: ${msg}`);
const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v !== 'false';

function prebuildLoads() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return false;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.node'))) {
    try {
      const problem = elfFileProblem(join(dir, file), fs);
      if (problem) throw new Error(problem);
      require(join(dir, file));
      log(`using prebuild ${join('prebuilds', `${process.platform}-${process.arch}`, file)}`);
      return true;
    } catch (err) {
      log(`prebuild ${file} does not load here (${err.message.split('\n')[0]})`);
    }
  }
  return false;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  return r.status === 0;
}

function hasCommand(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function buildWithCmake() {
  if (!hasCommand('cmake')) {
    log('cmake not found, skipping the cmake-js build');
    return false;
  }
  let bin;
  try {
    bin = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    log('cmake-js is not installed, skipping the cmake-js build');
    return false;
  }
  log('building the native addon with cmake-js');
  return run(process.execPath, [bin, 'compile', '--log-level', 'warn']);
}

function buildWithNodeGyp() {
  const gyp = process.env.npm_config_node_gyp;
  log('building the CPU addon with node-gyp');
  if (gyp && existsSync(gyp)) return run(process.execPath, [gyp, 'rebuild']);
  return hasCommand('node-gyp') && run('node-gyp', ['rebuild']);
}

if (truthy(process.env.NOISED_TOPK_SKIP_BUILD)) {
  log('NOISED_TOPK_SKIP_BUILD is set: no native build, the js backend will be used');
} else if (!truthy(process.env.NOISED_TOPK_BUILD_FROM_SOURCE) && prebuildLoads()) {
  // done
} else if (buildWithCmake() || buildWithNodeGyp()) {
  log('native addon built');
} else {
  log(
    'could not build the native addon (needs cmake or node-gyp, and a C++17 compiler). ' +
      "The package still works on its pure TypeScript backend ('js'), more slowly. " +
      'To get the native backend: apt-get install cmake g++ (or the equivalent), then npm rebuild noised-topk.',
  );
}
