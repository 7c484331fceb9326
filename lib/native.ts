// The one loader of the native addon. It tries, in order: NOISED_TOPK_ADDON (an explicit
// .node path, e.g. a sanitizer build; a relative one is taken against the working directory), the local build (build/Release/noised_topk.node), then
// prebuilds/<platform>-<arch>/*.node. When none loads it keeps one error that
// lists every attempt and says how to fix it. NOISED_TOPK_NATIVE=0 disables the addon.
// A NOISED_TOPK_ADDON that does not load is a warning (NOISED_TOPK_ADDON_INVALID, naming the
// path and why), then the normal search: asked for one file, silently getting another would
// hide a broken sanitizer or debug build. lib/addon.ts declares what the addon exports.
import type { NativeAddon } from './addon.js';
import { STREAM_VERSION } from './constants.js';
import { elfFileProblem } from './elf.js';

export type { NativeAddon };

let addon: NativeAddon | null | undefined;
let failure: Error | null = null;

interface NodeBits {
  require: (id: string) => unknown;
  root: string;
  platformArch: string;
  join: (...p: string[]) => string;
  /** path.resolve: an absolute path, a relative one taken against the current working directory. */
  resolve: (p: string) => string;
  readdir: (dir: string) => string[];
  exists: (file: string) => boolean;
  /** Throws where the file is not a regular file or is a truncated ELF image (dlopen would crash on it). */
  checkImage: (file: string) => void;
  warn: (message: string, code: string) => void;
  /** Runs fn on the process's 'exit' (process.exit() or the end of the event loop). */
  onExit: (fn: () => void) => void;
}

function nodeBits(): NodeBits | null {
  const proc = globalThis.process as (NodeJS.Process & { getBuiltinModule?: (id: string) => unknown }) | undefined;
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return null;
  const mod = proc.getBuiltinModule('node:module') as typeof import('node:module');
  const path = proc.getBuiltinModule('node:path') as typeof import('node:path');
  const url = proc.getBuiltinModule('node:url') as typeof import('node:url');
  const fs = proc.getBuiltinModule('node:fs') as typeof import('node:fs');
  // This file is lib/native.ts in the repository and dist/native.js in the package.
  const root = path.join(path.dirname(url.fileURLToPath(import.meta.url)), '..');
  const require = mod.createRequire(path.join(root, 'package.json'));
  return {
    require,
    root,
    platformArch: `${proc.platform}-${proc.arch}`,
    join: path.join,
    resolve: (p) => path.resolve(p),
    readdir: (dir) => {
      try {
        return fs.readdirSync(dir);
      } catch {
        return [];
      }
    },
    exists: (file) => fs.existsSync(file),
    checkImage: (file) => {
      // Reads the headers only; missing or unreadable files pass, and require() says why.
      const problem = elfFileProblem(file, fs);
      if (problem) throw new Error(`${file} is not a loadable shared object: ${problem}`);
    },
    warn: (message, code) => proc.emitWarning(message, { code }),
    onExit: (fn) => proc.once('exit', fn),
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function check(candidate: unknown, where: string): NativeAddon {
  const a = candidate as Partial<NativeAddon>;
  if (typeof a?.forward !== 'function' || typeof a.backward !== 'function') {
    throw new Error(`${where} is not a noised-topk addon`);
  }
  if (a.streamVersion !== STREAM_VERSION) {
    throw new Error(
      `${where} implements noise stream v${String(a.streamVersion)}, this package expects v${STREAM_VERSION}: rebuild it`,
    );
  }
  return a as NativeAddon;
}

export function loadNative(): NativeAddon | null {
  if (addon !== undefined) return addon;
  const loaded = findNative();
  if (loaded && typeof loaded.cancelPending === 'function') cancelOnExit(loaded);
  return loaded;
}

// process.exit() joins the threads of libuv's pool, so it waited for an async call in flight to
// end (29 s measured): on 'exit' the addon stops this thread's calls at their next chunk of rows.
// One listener per thread (a Set on globalThis), however many times this module is loaded.
const EXIT_KEY = Symbol.for('noised-topk.cancelOnExit');
function cancelOnExit(a: NativeAddon): void {
  const g = globalThis as { [EXIT_KEY]?: Set<NativeAddon> };
  let set = g[EXIT_KEY];
  if (!set) {
    const fresh = new Set<NativeAddon>();
    set = fresh;
    g[EXIT_KEY] = fresh;
    nodeBits()?.onExit(() => {
      for (const one of fresh) one.cancelPending();
    });
  }
  set.add(a);
}

function findNative(): NativeAddon | null {
  addon = null;
  const env = globalThis.process?.env ?? {};
  if (env.NOISED_TOPK_NATIVE === '0') {
    failure = new Error('the native addon is disabled by NOISED_TOPK_NATIVE=0');
    return null;
  }
  const node = nodeBits();
  if (!node) {
    failure = new Error('the native addon needs Node.js >= 20.16 (process.getBuiltinModule); this runtime has none');
    return null;
  }
  const tried: string[] = [];
  let lastError = '';
  const attempt = (where: string, load: () => unknown): boolean => {
    try {
      addon = check(load(), where);
      return true;
    } catch (err) {
      lastError = firstLine(err);
      tried.push(`  - ${where}: ${lastError}`);
      return false;
    }
  };
  const explicit = env.NOISED_TOPK_ADDON;
  if (explicit) {
    // Resolved once, against the working directory: the file checked is the file loaded (require()
    // would take a relative path against this package, a bare name as a module to look up).
    const file = node.resolve(explicit);
    if (
      attempt(explicit, () => {
        node.checkImage(file);
        return node.require(file);
      })
    )
      return addon;
    node.warn(
      `NOISED_TOPK_ADDON=${explicit} did not load (${lastError}); looking in build/ and prebuilds/ instead`,
      'NOISED_TOPK_ADDON_INVALID',
    );
  }
  // The local build (cmake-js or node-gyp both write build/Release): looked up directly, so
  // the error names the one path it tried.
  const local = node.join(node.root, 'build', 'Release', 'noised_topk.node');
  if (!node.exists(local))
    tried.push('  - build/Release/noised_topk.node: not built (no source build ran, or it failed)');
  else if (
    attempt('build/Release/noised_topk.node', () => {
      node.checkImage(local);
      return node.require(local);
    })
  )
    return addon;
  const dir = node.join(node.root, 'prebuilds', node.platformArch);
  const files = node.readdir(dir).filter((f) => f.endsWith('.node'));
  if (files.length === 0) tried.push(`  - prebuilds/${node.platformArch}/: no prebuild for this platform`);
  for (const f of files) {
    const file = node.join(dir, f);
    if (
      attempt(`prebuilds/${node.platformArch}/${f}`, () => {
        node.checkImage(file);
        return node.require(file);
      })
    )
      return addon;
  }
  failure = new Error(
    'noised-topk: the native addon did not load. Tried:\n' +
      tried.join('\n') +
      '\nTo fix: run `npm rebuild noised-topk` in your project (it needs cmake or node-gyp, and a C++17 compiler ' +
      "such as g++; see docs/install.md), or pass backend: 'js' to use the pure TypeScript backend.",
  );
  return null;
}

/** The loader's error, or a generic one when the addon did load. */
export function nativeLoadError(): Error {
  loadNative();
  return failure ?? new Error('noised-topk: the native addon is loaded');
}
