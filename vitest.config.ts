import { defineConfig } from 'vitest/config';

// Tests by purpose. `npm test` runs all three projects (what CI runs); `npm run test:unit` runs
// the unit project alone, in seconds, for the edit-test loop.
//   unit         the library's behaviour in this process (or a child Node), against the built addon;
//   integration  what builds, packs, installs or runs a whole program: the tarball, node-gyp, the
//                demo, the native benchmark's smoke run, the C++ checks (prune bounds, the CUDA
//                emulator, the SIMD target test);
//   fuzz         property and fuzz runs over the API and the addon (NOISED_TOPK_FUZZ_SCALE scales them).
const integration = [
  'test/pack.test.ts',
  'test/install.test.ts',
  'test/demo.test.ts',
  'test/demo-cli.test.ts',
  'test/demo-places.test.ts',
  'test/ops-demo.test.ts',
  'test/bench.test.ts',
  'test/cuda-emu.test.ts',
  'test/prune-bound.test.ts',
  'test/lazy-skip-native.test.ts',
  'test/cpu-simd-target.test.ts',
  'test/tfjs-example.test.ts',
  'test/newcomer.test.ts',
];
const fuzz = ['test/fuzz.test.ts', 'test/fuzz-native.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 300_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...integration, ...fuzz] } },
      { extends: true, test: { name: 'integration', include: integration } },
      { extends: true, test: { name: 'fuzz', include: fuzz } },
    ],
  },
});
