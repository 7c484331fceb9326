#!/usr/bin/env node
// npm install hook. It never downloads anything. In order:
//   1. a prebuild in prebuilds/<platform>-<arch>/ that loads in this Node.js -> done;
//   2. build from source with cmake-js (CMakeLists.txt; CUDA too when nvcc is found);
//   3. where cmake is missing or fails, build the CPU sources with node-gyp (binding.gyp);
//   4. otherwise warn and finish: the package then runs on its pure TypeScript backend.
// NOISED_TOPK_BUILD_FROM_SOURCE=1 skips step 1; NOISED_TOPK_SKIP_BUILD=1 skips 2 and 3.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const log = (msg) => console.error(`noised-topk: ${msg}`);
const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v !== 'false';

// A copy of lib/elf.ts: dlopen of a truncated ELF file dies of SIGBUS, so check before require.
function elfProblem(b) {
  if (b.length < 4 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return null;
  if (b.length < 52) return 'truncated ELF header';
  const is64 = b[4] === 2;
  const little = b[5] === 1;
  if ((b[4] !== 1 && b[4] !== 2) || (b[5] !== 1 && b[5] !== 2)) return 'bad ELF class or byte order';
  if (is64 && b.length < 64) return 'truncated ELF header';
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = (o) => view.getUint16(o, little);
  const u32 = (o) => view.getUint32(o, little);
  const word = (o) => (is64 ? Number(view.getBigUint64(o, little)) : u32(o));
  const phoff = word(is64 ? 32 : 28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  if (phentsize < (is64 ? 56 : 32) || phoff + phnum * phentsize > b.length) return 'program headers past the end of the file';
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    const type = u32(ph);
    const offset = word(is64 ? ph + 8 : ph + 4);
    const filesz = word(is64 ? ph + 32 : ph + 16);
    if (type >= 1 && type <= 4 && offset + filesz > b.length) return `segment ${i} ends past the end of the file (truncated?)`;
  }
  return null;
}

function prebuildLoads() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return false;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.node'))) {
    try {
      const problem = elfProblem(readFileSync(join(dir, file)));
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
