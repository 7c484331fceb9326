// The ELF check before dlopen lives in scripts/elf.mjs, shared with scripts/install.mjs (which
// runs before lib/ is compiled); this module is its typed face for lib/.
export { elfFileProblem, elfProblem } from '../scripts/elf.mjs';
