// The package as a user gets it: npm pack (prepack puts the host's prebuild in), then install
// the tarball into a scratch consumer project with an empty npm cache, --offline, and a PATH
// that holds nothing but node: no cmake, no compiler. That works because the package has no
// runtime dependencies, so nothing is fetched; and it proves the install compiles nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { functional } from '../lib/index.js';
import { root } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'noised-topk-pack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const cache = join(scratch, 'npm-cache'); // empty: nothing may come from a warm cache
const platformArch = `${process.platform}-${process.arch}`;

/** npm's own entry script, so that npm can run with node alone on PATH. */
function npmCli(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'npm');
    if (!existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    if (real.endsWith('.js')) return real;
    const cli = join(real, '..', '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
    if (existsSync(cli)) return cli;
  }
  throw new Error('npm is not on PATH');
}

let tarball = '';

describe('npm pack + install into a consumer project', () => {
  it('the tarball carries the prebuild and no build tree; the consumer install compiles nothing and needs no registry', {
    timeout: 600_000,
  }, () => {
    const env = {
      ...process.env,
      npm_config_cache: cache,
      npm_config_loglevel: 'error',
      npm_config_update_notifier: 'false',
    };
    // Packed from a copy: npm pack runs prepare (tsc), which would rewrite dist/ under the test
    // files that run it meanwhile. Timestamps are kept, so prepack's prebuild is rebuilt only
    // when it is older than the sources, as in the repository.
    const src = join(scratch, 'src');
    mkdirSync(src);
    for (const entry of [
      'package.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'lib',
      'scripts',
      'native',
      'CMakeLists.txt',
      'binding.gyp',
      'prebuilds',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
    ]) {
      if (existsSync(join(root, entry)))
        cpSync(join(root, entry), join(src, entry), { recursive: true, preserveTimestamps: true });
    }
    symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'), 'dir');
    const packedJson = execFileSync(process.execPath, [npmCli(), 'pack', '--json', '--pack-destination', scratch], {
      cwd: src,
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const packed = JSON.parse(packedJson.slice(packedJson.indexOf('['))) as {
      filename: string;
      size: number;
      files: { path: string }[];
    }[];
    const files = packed[0]!.files.map((f) => f.path);
    for (const f of [
      'dist/index.js',
      'dist/index.d.ts',
      'scripts/install.mjs',
      'scripts/elf.mjs',
      'native/core/philox_normal.h',
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
    ]) {
      expect(files).toContain(f);
    }
    // The demo is an application of the repository (demo/, npm run demo), not of the package:
    // no command, nothing of it in dist/ (issue 10).
    expect(files.some((f) => f === 'dist/cli.js' || f.startsWith('dist/demo/') || f.startsWith('demo/'))).toBe(false);
    expect(files).toContain(`prebuilds/${platformArch}/noised-topk.node`);
    // No source maps: they would point at lib/, which is not shipped (tsconfig.build.json, issue 19).
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.some((f) => f.startsWith('lib/'))).toBe(false);
    // examples/ is not shipped, so the README links it in the repository and gives no command
    // that would run it from an installed package.
    expect(files.some((f) => f.startsWith('examples/'))).toBe(false);
    expect(readFileSync(join(root, 'README.md'), 'utf8')).not.toMatch(/`node examples\//);
    // A source build where no prebuild fits needs no node-addon-api package: its headers ride along.
    expect(files).toContain('native/vendor/node-addon-api/napi.h');
    expect(files.some((f) => f.startsWith('build') || f.startsWith('test/') || f.startsWith('node_modules/'))).toBe(
      false,
    );

    const consumer = join(scratch, 'consumer');
    mkdirSync(consumer);
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }),
    );
    const bin = join(scratch, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const install = spawnSync(
      process.execPath,
      [
        npmCli(),
        'install',
        '--offline',
        '--foreground-scripts',
        '--no-audit',
        '--no-fund',
        join(scratch, packed[0]!.filename),
      ],
      // npm runs scripts with sh: named by path, since PATH holds only node.
      {
        cwd: consumer,
        encoding: 'utf8',
        env: { ...env, PATH: bin, HOME: scratch, npm_config_script_shell: '/bin/sh' },
        timeout: 300_000,
      },
    );
    tarball = join(scratch, packed[0]!.filename);
    const said = `${install.stdout}${install.stderr}`;
    expect(install.status, said).toBe(0);
    expect(said).toContain(`noised-topk: using prebuild prebuilds/${platformArch}/noised-topk.node (nothing compiled)`);
    const installed = join(consumer, 'node_modules', 'noised-topk');
    for (const f of readdirSync(join(installed, 'dist')).filter((f) => f.endsWith('.js')))
      expect(readFileSync(join(installed, 'dist', f), 'utf8'), `dist/${f}`).not.toContain('sourceMappingURL');
    expect(readdirSync(installed)).toContain('dist');
    expect(existsSync(join(installed, 'build'))).toBe(false);
    // The package is the only one installed: no build tools or anything else come with it.
    expect(readdirSync(join(consumer, 'node_modules')).filter((d) => !d.startsWith('.'))).toEqual(['noised-topk']);

    const script = `
      import { createRequire } from 'node:module';
      import { backends, functional } from 'noised-topk';
      const addon = createRequire(import.meta.url)('./node_modules/noised-topk/prebuilds/${platformArch}/noised-topk.node');
      const x = new Float32Array([-1.5, 2.0, 0.7, 3.8, -1.1, -5.4, 0.1, 2.3]);
      const r = functional.noisedTopK(x, [2, 4], { k: 3, seed: 7, offset: 0, backend: 'cpu' });
      console.log(JSON.stringify({ backends: backends(), cuda: addon.cuda, values: Array.from(r.values), grad: Array.from(r.backward()) }));
    `;
    writeFileSync(join(consumer, 'run.mjs'), script);
    const got = JSON.parse(execFileSync(process.execPath, ['run.mjs'], { cwd: consumer, encoding: 'utf8' })) as {
      backends: string[];
      cuda: boolean;
      values: number[];
      grad: number[];
    };
    expect(got.backends).toContain('cpu');
    const x = new Float32Array([-1.5, 2.0, 0.7, 3.8, -1.1, -5.4, 0.1, 2.3]);
    const want = functional.noisedTopK(x, [2, 4], { k: 3, seed: 7, offset: 0, backend: 'js' });
    expect(got.values).toEqual(Array.from(want.values));
    expect(got.grad).toEqual(Array.from(want.backward()));
    // Where this machine builds CUDA (nvcc found), the prebuild carries the kernels and still
    // loads with no driver: cudart is linked statically.
    const nvcc = spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status === 0;
    if (nvcc) expect(got.cuda).toBe(true);

    // The README's TensorFlow.js example, as written, in that consumer: the user brings
    // tfjs-core (an optional peer; linked here from this repository, as the registry is not
    // used) and the loss falls at every step on the installed package.
    mkdirSync(join(consumer, 'node_modules', '@tensorflow'));
    for (const pkg of ['tfjs-core', 'tfjs-backend-cpu']) {
      symlinkSync(
        join(root, 'node_modules', '@tensorflow', pkg),
        join(consumer, 'node_modules', '@tensorflow', pkg),
        'dir',
      );
    }
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const tfBlock = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .find((b) => b.includes("from 'noised-topk/tfjs'"));
    expect(tfBlock, 'the README has a tfjs example').toBeDefined();
    const js = ts.transpileModule(`${tfBlock!}\nconsole.log(JSON.stringify(losses));\n`, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(
      join(consumer, 'train.mjs'),
      `import * as tfEnv from '@tensorflow/tfjs-core';\ntfEnv.env().set('IS_TEST', true);\n${js}`,
    );
    const losses = JSON.parse(
      execFileSync(process.execPath, ['train.mjs'], { cwd: consumer, encoding: 'utf8' }).trim().split('\n').pop()!,
    ) as number[];
    expect(losses).toHaveLength(10);
    for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThan(losses[i - 1]!);
  });

  // Where no prebuild fits: the source build with npm's own node-gyp and the node-addon-api
  // headers the tarball carries, still offline from an empty cache.
  const toolchain = ['g++', 'make', 'python3'].every(
    (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0,
  );
  it.skipIf(!toolchain)(
    'NOISED_TOPK_BUILD_FROM_SOURCE=1: builds with node-gyp, offline, and loads the result',
    { timeout: 600_000 },
    () => {
      expect(tarball, 'the pack test above must run first').not.toBe('');
      const consumer = join(scratch, 'from-source');
      mkdirSync(consumer);
      writeFileSync(
        join(consumer, 'package.json'),
        JSON.stringify({ name: 'from-source', version: '1.0.0', private: true, type: 'module' }),
      );
      const install = spawnSync(
        process.execPath,
        [npmCli(), 'install', '--offline', '--foreground-scripts', '--no-audit', '--no-fund', tarball],
        {
          cwd: consumer,
          encoding: 'utf8',
          env: {
            ...process.env,
            npm_config_cache: join(scratch, 'npm-cache-2'),
            npm_config_loglevel: 'error',
            HOME: scratch,
            NOISED_TOPK_BUILD_FROM_SOURCE: '1',
          },
          timeout: 600_000,
        },
      );
      const said = `${install.stdout}${install.stderr}`;
      expect(install.status, said).toBe(0);
      expect(said).toContain('noised-topk: built the native addon from source with node-gyp');
      const installed = join(consumer, 'node_modules', 'noised-topk');
      expect(existsSync(join(installed, 'build', 'Release', 'noised_topk.node'))).toBe(true);
      writeFileSync(
        join(consumer, 'run.mjs'),
        `import { backends } from 'noised-topk';\nimport { nativeLoadError } from './node_modules/noised-topk/dist/native.js';\nconsole.log(JSON.stringify({ backends: backends(), msg: nativeLoadError().message }));\n`,
      );
      const got = JSON.parse(execFileSync(process.execPath, ['run.mjs'], { cwd: consumer, encoding: 'utf8' })) as {
        backends: string[];
        msg: string;
      };
      expect(got.backends).toContain('cpu');
      expect(got.msg).toMatch(/is loaded/);
    },
  );
});
