// TypeScript twin of native/core/philox_normal.h. Every float operation is one IEEE binary32
// operation: a double-precision +, -, *, / or sqrt of two binary32 values rounded once with
// Math.fround gives the correctly rounded binary32 result (53 >= 2 * 24 + 2), so this file
// produces the same bits as the C++ and CUDA code. Keep the operation order identical to the
// header's; any change there is a change here.
import { ANGLE_SCALE, COS_COEF, LN2_HI, LN2_LO, LOG_COEF, NORMAL_BOUND, SIN_COEF, UNIT_SCALE } from './constants.js';

const fr = Math.fround;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function floatBits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

function bitsFloat(b: number): number {
  u32[0] = b;
  return f32[0]!;
}

// Returns the high 32 bits of a * b (both uint32); the low bits are Math.imul.
function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + Math.floor(lh / 65536) + Math.floor(hl / 65536) + Math.floor(mid / 65536)) >>> 0;
}

/** Philox4x32-10 of counter (c0..c3) under key (k0, k1), written into out[0..3]. */
export function philox4x32_10(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + 0x9e3779b9) >>> 0;
      k1 = (k1 + 0xbb67ae85) >>> 0;
    }
    const lo0 = Math.imul(0xd2511f53, c0) >>> 0;
    const hi0 = mulhi32(0xd2511f53, c0);
    const lo1 = Math.imul(0xcd9e8d57, c2) >>> 0;
    const hi1 = mulhi32(0xcd9e8d57, c2);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

// The stream's constants, from native/constants.json (the C++ kernels read the same file's
// constants.h): Horner coefficients highest degree first.
const [LOG_C9, LOG_C7, LOG_C5, LOG_C3] = LOG_COEF;
const [SIN_C9, SIN_C7, SIN_C5, SIN_C3] = SIN_COEF;
const [COS_C10, COS_C8, COS_C6, COS_C4, COS_C2] = COS_COEF;

export function logUnit(u: number): number {
  const bits = floatBits(u);
  let e = (bits >>> 23) - 127;
  let mant = bits & 0x007fffff;
  if (mant > 0x003504f3) {
    mant = (mant | 0x3f000000) >>> 0;
    e += 1;
  } else {
    mant = (mant | 0x3f800000) >>> 0;
  }
  const m = bitsFloat(mant);
  const f = fr(m - 1);
  const s = fr(f / fr(2 + f));
  const s2 = fr(s * s);
  let p = LOG_C9;
  p = fr(fr(p * s2) + LOG_C7);
  p = fr(fr(p * s2) + LOG_C5);
  p = fr(fr(p * s2) + LOG_C3);
  const logm = fr(fr(2 * s) + fr(fr(s * s2) * p));
  return fr(fr(e * LN2_HI) + fr(fr(e * LN2_LO) + logm));
}

function sinQuarter(a: number): number {
  const a2 = fr(a * a);
  let p = SIN_C9;
  p = fr(fr(p * a2) + SIN_C7);
  p = fr(fr(p * a2) + SIN_C5);
  p = fr(fr(p * a2) + SIN_C3);
  return fr(a + fr(fr(a * a2) * p));
}

function cosQuarter(a: number): number {
  const a2 = fr(a * a);
  let q = COS_C10;
  q = fr(fr(q * a2) + COS_C8);
  q = fr(fr(q * a2) + COS_C6);
  q = fr(fr(q * a2) + COS_C4);
  q = fr(fr(q * a2) + COS_C2);
  return fr(1 + fr(a2 * q));
}

/** Box-Muller of two Philox words; writes the pair at out[at], out[at + 1]. */
export function boxMuller(radiusBits: number, angleBits: number, out: Float32Array, at: number): void {
  const u = fr(((radiusBits >>> 8) + 1) * UNIT_SCALE);
  const r = fr(Math.sqrt(fr(-2 * logUnit(u))));
  const b = angleBits >>> 8;
  const qRaw = (b + (1 << 21)) >>> 22;
  const t = b - qRaw * (1 << 22);
  const a = fr(t * ANGLE_SCALE);
  const s = sinQuarter(a);
  const c = cosQuarter(a);
  let cosT: number;
  let sinT: number;
  switch (qRaw & 3) {
    case 0:
      cosT = c;
      sinT = s;
      break;
    case 1:
      cosT = -s;
      sinT = c;
      break;
    case 2:
      cosT = -c;
      sinT = -s;
      break;
    default:
      cosT = s;
      sinT = -c;
  }
  out[at] = r * cosT;
  out[at + 1] = r * sinT;
}

/** Upper bound on |z| for every normal the stream can produce. */
export { NORMAL_BOUND };

const words = new Uint32Array(4);

/**
 * The normals of columns 4*group .. 4*group+3 of (row, sample) in call `offset` of the stream
 * keyed by (seedLo, seedHi), written to out[at .. at+3].
 */
export function normal4(
  seedLo: number,
  seedHi: number,
  offset: number,
  row: number,
  sample: number,
  group: number,
  out: Float32Array,
  at: number,
): void {
  philox4x32_10(group, row, sample, offset, seedLo, seedHi, words);
  boxMuller(words[0]!, words[1]!, out, at);
  boxMuller(words[2]!, words[3]!, out, at + 2);
}

/** Rank key of a binary32 value: NaN highest, -0 equal to +0 (see docs/determinism.md). */
export function rankKey(y: number): number {
  if (Number.isNaN(y)) return 0xffffffff;
  let b = floatBits(y);
  if (b === 0x80000000) b = 0;
  return b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}
