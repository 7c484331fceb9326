// One source for every shared constant (native/constants.json) and for the source list
// (native/sources.json): the committed generated files equal what the generator writes now, the
// loaded addon reports the values lib/ uses, and every build reads the one source list.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as constants from '../lib/constants.js';
import { loadNative } from '../lib/native.js';
import { MAX_OUTPUT_ELEMENTS, MAX_SAMPLES } from '../lib/validate.js';
import { OUTPUTS, render } from '../scripts/gen-constants.mjs';
import { root } from './helpers.js';

const spec = JSON.parse(readFileSync(join(root, 'native/constants.json'), 'utf8')) as {
  constants: { cpp: string; ts: string; type: string; value: number | number[] }[];
};

describe('native/constants.json is the one source', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'ntk-constants-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('the committed constants.h and lib/constants.ts are what gen-constants writes now', () => {
    execFileSync(process.execPath, [join(root, 'scripts/gen-constants.mjs'), '--out', scratch]);
    for (const path of Object.values(OUTPUTS)) {
      expect(readFileSync(join(root, path), 'utf8'), `${path} is stale: run npm run gen:constants`).toBe(
        readFileSync(join(scratch, path), 'utf8'),
      );
    }
  });

  it('lib/constants.ts holds every value of the source, floats as the binary32 values C++ parses', () => {
    const ts = constants as Record<string, unknown>;
    for (const c of spec.constants) {
      expect(ts[c.ts], c.ts).toEqual(c.value);
      for (const v of [c.value].flat()) if (c.type.startsWith('float')) expect(Math.fround(v), c.ts).toBe(v);
    }
    expect(MAX_SAMPLES).toBe(constants.MAX_SAMPLES);
    expect(MAX_OUTPUT_ELEMENTS).toBe(constants.MAX_POSITIONS);
  });

  it('the generator refuses a float that is not binary32 and a name declared twice', () => {
    const one = (value: number) => ({ constants: [{ cpp: 'kX', ts: 'X', type: 'float', value, doc: 'x' }] });
    expect(() => render(one(0.1))).toThrow(/kX: 0.1 is not a finite binary32 value/);
    expect(render(one(0.5))[OUTPUTS.header]).toContain('constexpr float kX = 0.5f;');
    const twice = { constants: [one(0.5).constants[0]!, { ...one(0.25).constants[0]!, ts: 'Y' }] };
    expect(() => render(twice)).toThrow(/kX is declared twice/);
  });

  it('the loaded addon reports the same stream version and limits', () => {
    const addon = loadNative();
    expect(addon, 'the native addon must load in this repository').not.toBeNull();
    expect(addon!.streamVersion).toBe(constants.STREAM_VERSION);
    expect(addon!.maxPositions).toBe(constants.MAX_POSITIONS);
    expect(addon!.maxSamples).toBe(constants.MAX_SAMPLES);
  });

  it('no native file spells a stream constant or a limit itself', () => {
    // A float literal with six or more digits after the point is a constant spelled again.
    const longFloat = /\d\.\d{6,}|\d{7,}e-?\d/;
    const code = (file: string) => readFileSync(join(root, file), 'utf8').replace(/\/\/.*$/gm, '');
    expect(code('native/core/philox_normal.h')).not.toMatch(longFloat);
    expect(code('native/cpu/kernel_internal.h')).not.toMatch(/constexpr float kRadius(Scale|Slack)/);
    for (const file of ['native/binding.cpp', 'native/binding_ops.cpp', 'native/core/validate.cpp']) {
      expect(code(file), file).not.toMatch(/16777216|1u << 24|<< 28|NTK_STREAM_VERSION/);
    }
  });
});

describe('native/core/rank_key.h is the one selection order', () => {
  // Every kernel ranks columns by one 32-bit key and one (key, column) composite; a second
  // spelling could drift from the tie rule (docs/determinism.md) on one backend only.
  const nativeFiles = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? nativeFiles(`${dir}/${e.name}`) : /\.(h|cpp|cu|cuh)$/.test(e.name) ? [`${dir}/${e.name}`] : [],
    );
  const files = [...nativeFiles('native'), ...nativeFiles('test/native')];
  const code = (file: string) => readFileSync(join(root, file), 'utf8').replace(/\/\/.*$/gm, '');

  it('no other native file builds a composite, reads its column or defines a rank key', () => {
    expect(files).toContain('native/core/rank_key.h');
    expect(files.length).toBeGreaterThan(20);
    const spelled =
      /\(\s*(?:static_cast<\s*(?:uint64_t|unsigned long long)\s*>|\(\s*(?:uint64_t|unsigned long long)\s*\))\s*\([^;]*\)\s*<<\s*32|~\s*static_cast<\s*uint32_t\s*>|uint32_t\s+(?:rank|select)Key\s*\(/;
    const offenders = files.filter((f) => f !== 'native/core/rank_key.h' && spelled.test(code(f)));
    expect(offenders).toEqual([]);
    // The control: the pattern finds each spelling the header replaced.
    expect(spelled.test(code('native/core/rank_key.h'))).toBe(true);
    for (const old of [
      'return (static_cast<uint64_t>(rankKey(y)) << 32) | static_cast<uint32_t>(~c);',
      'return (static_cast<unsigned long long>(selectKey(y, largest)) << 32) | c;',
      'const uint32_t col = ~static_cast<uint32_t>(keys[k - 1]);',
      'NTK_HD uint32_t rankKey(float f) {',
    ]) {
      expect(spelled.test(old), old).toBe(true);
    }
  });
});

describe('native/sources.json is the one source list', () => {
  const sources = JSON.parse(readFileSync(join(root, 'native/sources.json'), 'utf8')) as Record<string, string[]>;
  const listed = [...sources.binding!, ...sources.core!, ...sources.cpu!, ...sources.cuda!];

  it('lists every source file under native/ exactly once, and only files that exist', () => {
    const onDisk = ['native', 'native/core', 'native/cpu', 'native/cuda'].flatMap((dir) =>
      readdirSync(join(root, dir))
        .filter((f) => /\.(cpp|cu)$/.test(f))
        .map((f) => `${dir}/${f}`),
    );
    expect([...listed].sort()).toEqual(onDisk.sort());
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('CMakeLists.txt, binding.gyp and the fuzzer read it instead of listing sources', () => {
    for (const file of ['CMakeLists.txt', 'binding.gyp', 'scripts/fuzz-native.sh', 'bench/native/CMakeLists.txt']) {
      const text = readFileSync(join(root, file), 'utf8');
      expect(text, file).toContain('native/sources.json');
      expect(text, file).not.toMatch(/native\/(cpu|core|cuda)\/\w+\.(cpp|cu)\b|native\/binding\w*\.cpp/);
    }
  });

  it('binding.gyp expands to the listed CPU sources and the stream flags', () => {
    const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
    const commands = [...gyp.matchAll(/<!@\(node -p \\"(.+?)\\"\)/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
    expect(commands).toHaveLength(2);
    const run = (expr: string) => execFileSync(process.execPath, ['-p', expr], { cwd: root, encoding: 'utf8' }).trim();
    expect(run(commands[0]!).split(' ')).toEqual([...sources.binding!, ...sources.core!, ...sources.cpu!]);
    expect(run(commands[1]!).split(' ')).toEqual(sources.streamFlags);
  });
});
