// Types of scripts/elf.mjs (plain JavaScript: scripts/install.mjs imports it before lib/ is compiled).
type ElfFs = Pick<
  typeof import('node:fs'),
  'statSync' | 'openSync' | 'fstatSync' | 'readSync' | 'closeSync' | 'constants'
>;

/** Why this ELF image cannot be loaded safely, or null when it looks complete (or is not ELF). */
export function elfProblem(bytes: Uint8Array): string | null;

/**
 * Why the file cannot be loaded safely (not a regular file, empty, a truncated ELF image), or
 * null when it looks complete, is not ELF, or cannot be opened. Reads the headers only.
 */
export function elfFileProblem(file: string, fs?: ElfFs | null): string | null;
