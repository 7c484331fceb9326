// The one ELF sanity check, run before a .node file is handed to dlopen: by lib/native.ts (the
// loader, through lib/elf.ts) and by scripts/install.mjs (which runs before lib/ is compiled,
// hence plain JavaScript; types in elf.d.mts). Shipped in the package's "files".
//
// Why: dlopen of a truncated ELF shared object maps segments past the end of the file and the
// first touch raises SIGBUS, which no try/catch sees. So every loadable segment and the program
// header table must lie inside the file. Anything that is not ELF (Mach-O, PE, text) passes
// here and gets dlopen's own error.
//
// Bounded: only the ELF header and the program header table are read (at most 64 bytes plus
// 65535 x 56), whatever the file's size; segment ends are compared with fstat's size. A path
// that is not a regular file (a device such as /dev/zero, a FIFO, a directory) is refused
// before it is read: /dev/zero used to be read "whole", without end.

const EHDR = 64; // the larger (64-bit) ELF header

/** Why an image of `size` bytes read through `read` cannot be loaded safely, or null. */
function check(size, read) {
  const h = read(0, EHDR);
  if (h.length < 4 || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) return null;
  if (size < 52 || h.length < 52) return 'truncated ELF header';
  const is64 = h[4] === 2;
  const little = h[5] === 1;
  if ((h[4] !== 1 && h[4] !== 2) || (h[5] !== 1 && h[5] !== 2)) return 'bad ELF class or byte order';
  if (is64 && (size < 64 || h.length < 64)) return 'truncated ELF header';
  const hv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const word = (v, o) => (is64 ? Number(v.getBigUint64(o, little)) : v.getUint32(o, little));
  const phoff = word(hv, is64 ? 32 : 28);
  const phentsize = hv.getUint16(is64 ? 54 : 42, little);
  const phnum = hv.getUint16(is64 ? 56 : 44, little);
  // glibc refuses any other entry size too; requiring it bounds the table at 65535 entries.
  if (phentsize !== (is64 ? 56 : 32)) return `unexpected program header entry size ${phentsize}`;
  const tableBytes = phnum * phentsize;
  if (phoff + tableBytes > size) return 'program headers past the end of the file';
  const t = read(phoff, tableBytes);
  if (t.length < tableBytes) return 'program headers past the end of the file';
  const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  for (let i = 0; i < phnum; i++) {
    const ph = i * phentsize;
    const type = tv.getUint32(ph, little);
    const offset = word(tv, is64 ? ph + 8 : ph + 4);
    const filesz = word(tv, is64 ? ph + 32 : ph + 16);
    // PT_LOAD (1), PT_DYNAMIC (2), PT_INTERP (3), PT_NOTE (4) are read by the loader.
    if (type >= 1 && type <= 4 && offset + filesz > size)
      return `segment ${i} ends past the end of the file (truncated?)`;
  }
  return null;
}

/** Why this ELF image cannot be loaded safely, or null when it looks complete (or is not ELF). */
export function elfProblem(bytes) {
  return check(bytes.length, (offset, length) => bytes.subarray(offset, offset + length));
}

function kindOf(st) {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a plain file';
}

function builtinFs() {
  const proc = globalThis.process;
  return typeof proc?.getBuiltinModule === 'function' ? proc.getBuiltinModule('node:fs') : null;
}

/**
 * Why the file at `file` cannot be loaded safely, or null when it looks complete, is not ELF,
 * or cannot be opened (then require() gives the error). fs defaults to node:fs.
 */
export function elfFileProblem(file, fs = builtinFs()) {
  if (!fs) return null;
  let st;
  try {
    st = fs.statSync(file);
  } catch {
    return null;
  }
  if (!st.isFile()) return `not a regular file (${kindOf(st)})`;
  let fd;
  try {
    // O_NONBLOCK: should the path become a FIFO after the stat, opening it must not wait.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) return `not a regular file (${kindOf(fst)})`;
    if (fst.size === 0) return 'empty file';
    return check(fst.size, (offset, length) => {
      const buf = new Uint8Array(Math.max(0, Math.min(length, fst.size - offset)));
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, offset + got);
        if (n <= 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    });
  } finally {
    fs.closeSync(fd);
  }
}
