// The SIMD kernel files (native/cpu/noised_topk_avx2.cpp, noised_topk_avx512.cpp) compile the
// shared stream template (simd_stream.h) under an AVX2 or AVX-512 target. The hazard: an inline
// or template function that another file also emits is a weak symbol, and the linker keeps any
// one copy; were the SIMD file's copy compiled with AVX, a baseline CPU could run it. So every
// weak function these objects define must be baseline x86-64 code (no VEX/EVEX instruction),
// and the only global functions they define are the kernels the dispatcher calls, which do use
// the wide instructions (the target is really on).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cxx = process.env.CXX ?? 'g++';
const usable =
  process.arch === 'x64' &&
  process.platform === 'linux' &&
  spawnSync(cxx, ['--version'], { stdio: 'ignore' }).status === 0 &&
  spawnSync('objdump', ['--version'], { stdio: 'ignore' }).status === 0 &&
  spawnSync('nm', ['--version'], { stdio: 'ignore' }).status === 0;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-simd-target-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const files = {
  'noised_topk_avx2.cpp': ['prepareRowAvx2', 'prunedSampleAvx2', 'kthColumnAvx2', 'perturbedRowAvx2'],
  'noised_topk_avx512.cpp': ['prunedSampleAvx512', 'fullSampleAvx512'],
};

// Instructions by the section that holds them (objdump prints one header per section).
function instructionsBySection(object: string): Map<string, string[]> {
  const out = spawnSync('objdump', ['-d', '--no-show-raw-insn', object], { encoding: 'utf8', maxBuffer: 1 << 28 });
  expect(out.status, out.stderr).toBe(0);
  const sections = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of out.stdout.split('\n')) {
    const header = /^Disassembly of section (\S+):$/.exec(line);
    if (header) {
      current = sections.get(header[1]!) ?? [];
      sections.set(header[1]!, current);
      continue;
    }
    const insn = /^\s+[0-9a-f]+:\t(\S.*)$/.exec(line);
    if (insn) current.push(insn[1]!);
  }
  return sections;
}

// A VEX- or EVEX-encoded instruction (every AVX instruction's mnemonic starts with v) or one
// that names a register only AVX has.
const wide = (insn: string): boolean => /^v/.test(insn) || /%[yz]mm\d|%k[0-7]\b/.test(insn);

describe('SIMD kernel objects keep their target to themselves', () => {
  for (const [file, kernels] of Object.entries(files)) {
    for (const opt of ['-O0', '-O2']) {
      it.skipIf(!usable)(
        `${file} at ${opt}: weak functions are baseline code, globals are the kernels`,
        () => {
          const object = path.join(scratch, `${file}${opt}.o`);
          const cc = spawnSync(
            cxx,
            [
              '-std=c++17',
              opt,
              '-ffp-contract=off',
              '-fno-fast-math',
              '-w',
              '-c',
              path.join(root, 'native/cpu', file),
              '-o',
              object,
            ],
            { encoding: 'utf8' },
          );
          expect(cc.status, cc.stderr).toBe(0);
          const nm = spawnSync('nm', ['--defined-only', object], { encoding: 'utf8' });
          expect(nm.status, nm.stderr).toBe(0);
          const symbols = nm.stdout
            .split('\n')
            .map((l) => l.trim().split(/\s+/))
            .filter((f) => f.length === 3) as [string, string, string][];
          const globals = symbols.filter(([, type]) => type === 'T').map(([, , name]) => name);
          expect(globals.map((n) => kernels.find((k) => n.includes(`${k.length}${k}E`)) ?? n).sort()).toEqual(
            [...kernels].sort(),
          );

          const sections = instructionsBySection(object);
          // Weak (COMDAT) functions sit in sections named after their symbol: .text._Z..., and
          // their cold parts in .text.unlikely._Z...
          const comdat = [...sections.keys()].filter((s) => /^\.text(\.[a-z]+)?\._Z/.test(s));
          if (opt === '-O0') expect(comdat.length).toBeGreaterThan(0); // TopBuffer and friends, out of line
          for (const s of comdat) expect(sections.get(s)!.filter(wide), s).toEqual([]);
          const text = sections.get('.text') ?? [];
          expect(text.some(wide)).toBe(true);
        },
        120_000,
      );
    }
  }
});
