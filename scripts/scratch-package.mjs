// The package compiled from the current lib/ into a scratch folder, laid out as installed
// (dist/, scripts/elf.mjs that dist/native.js imports, node_modules linked), for the scripts
// that measure it in a process of their own (soak.mjs, memory.mjs). The caller removes it.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function scratchPackage(root, prefix) {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'tsconfig.build.json'),
        '--outDir',
        join(scratch, 'dist'),
      ],
      { stdio: 'pipe' },
    );
  } catch (err) {
    // tsc emits despite type errors; only a missing output is fatal here
    if (!existsSync(join(scratch, 'dist', 'index.js'))) throw err;
  }
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'noised-topk', type: 'module' }));
  cpSync(join(root, 'scripts', 'elf.mjs'), join(scratch, 'scripts', 'elf.mjs'));
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  return scratch;
}
