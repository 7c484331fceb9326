// Types of scripts/scratch-package.mjs (plain JavaScript: the soak and memory scripts run it
// without a build step).

/** Compiles lib/ of the repository at `root` into `dir`, laid out as installed. */
export function compilePackage(root: string, dir: string): void;

/** compilePackage into a new temporary folder named from `prefix`; the caller removes it. */
export function scratchPackage(root: string, prefix: string): string;
