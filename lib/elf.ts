// A truncated ELF shared object can kill the process inside dlopen: the loader maps segments
// past the end of the file and the first touch raises SIGBUS, which no try/catch sees. So a
// .node file is checked before it is loaded: every loadable segment and the program header
// table must lie inside the file. Anything that is not ELF (Mach-O, PE) passes unchecked.
// scripts/install.mjs carries a copy of this function (it runs before lib/ is compiled).

/** Why this ELF image cannot be loaded safely, or null when it looks complete (or is not ELF). */
export function elfProblem(b: Uint8Array): string | null {
  if (b.length < 4 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return null;
  if (b.length < 52) return 'truncated ELF header';
  const is64 = b[4] === 2;
  const little = b[5] === 1;
  if ((b[4] !== 1 && b[4] !== 2) || (b[5] !== 1 && b[5] !== 2)) return 'bad ELF class or byte order';
  if (is64 && b.length < 64) return 'truncated ELF header';
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = (o: number) => view.getUint16(o, little);
  const u32 = (o: number) => view.getUint32(o, little);
  const word = (o: number) => (is64 ? Number(view.getBigUint64(o, little)) : u32(o));
  const phoff = word(is64 ? 32 : 28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  if (phentsize < (is64 ? 56 : 32) || phoff + phnum * phentsize > b.length) return 'program headers past the end of the file';
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    const type = u32(ph);
    const offset = word(is64 ? ph + 8 : ph + 4);
    const filesz = word(is64 ? ph + 32 : ph + 16);
    // PT_LOAD (1), PT_DYNAMIC (2), PT_INTERP (3), PT_NOTE (4) are read by the loader.
    if (type >= 1 && type <= 4 && offset + filesz > b.length) return `segment ${i} ends past the end of the file (truncated?)`;
  }
  return null;
}
