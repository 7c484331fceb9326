// The package compiled from the current lib/ into a folder, laid out as installed (dist/,
// scripts/elf.mjs that dist/native.js imports, node_modules linked), for code that must load it
// in a process of its own: the soak and memory scripts, and the tests' child processes and
// workers (test/helpers.ts compiledPackage). It has no build/ or prebuilds/: a child loads the
// addon named by NOISED_TOPK_ADDON, or none.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Compiles lib/ of the repository at `root` into `dir`, laid out as installed. */
export function compilePackage(root, dir) {
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'tsconfig.build.json'),
        '--outDir',
        join(dir, 'dist'),
      ],
      { stdio: 'pipe' },
    );
  } catch (err) {
    // Type errors are the typecheck step's business; the emitted JavaScript is what is needed.
    if (!existsSync(join(dir, 'dist', 'index.js'))) throw err;
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'noised-topk', type: 'module' }));
  cpSync(join(root, 'scripts', 'elf.mjs'), join(dir, 'scripts', 'elf.mjs'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

/** compilePackage into a new temporary folder named from `prefix`; the caller removes it. */
export function scratchPackage(root, prefix) {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  compilePackage(root, scratch);
  return scratch;
}
