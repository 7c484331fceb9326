#!/usr/bin/env node
// npm run prebuild: the portable CPU prebuild, prebuilds/<platform>-<arch>/*.node, made by
// prebuildify (node-gyp + binding.gyp, N-API, stripped). node-gyp rebuild wipes build/, so it
// runs in a scratch copy of the sources and the cmake-js build in build/ survives.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const scratch = mkdtempSync(join(tmpdir(), 'noised-topk-prebuild-'));
try {
  for (const entry of ['package.json', 'binding.gyp', 'native']) cpSync(join(root, entry), join(scratch, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  const args = [require.resolve('prebuildify/bin.js'), '--napi', '--strip'];
  // npm exposes its bundled node-gyp to scripts; prebuildify would otherwise look on PATH.
  const gyp = process.env.npm_config_node_gyp;
  if (gyp && existsSync(gyp)) args.push('--node-gyp', gyp);
  const r = spawnSync(process.execPath, args, { cwd: scratch, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('noised-topk: prebuildify failed');
    process.exit(r.status ?? 1);
  }
  cpSync(join(scratch, 'prebuilds'), join(root, 'prebuilds'), { recursive: true });
  console.log(`noised-topk: prebuild written to prebuilds/${process.platform}-${process.arch}/`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
