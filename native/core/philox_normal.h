// The noise stream shared by every backend: Philox4x32-10 and a Box-Muller transform
// built only from correctly rounded IEEE-754 binary32 operations.
//
// Invariant: z(seed, offset, row, sample, column) is a pure function of its arguments and
// is bit-identical on the CPU kernels, the CUDA kernels and lib/js-kernel.ts. To keep it so:
//   - every float operation below is a single +, -, *, / or sqrt on binary32 values, each
//     rounded to nearest-even, in the written order (compile with -ffp-contract=off and no
//     fast-math; CUDA uses the __f*_rn intrinsics through the NTK_F* macros);
//   - no libm call appears: log, sin and cos are our own polynomials;
//   - integer to float conversions are exact (operands below 2^24).
// The constants live in native/constants.json (generated into constants.h). Changing any of
// them or the order of any operation changes the stream: bump kStreamVersion there and the
// known answers in test/bitident.test.ts together.
#pragma once

#include <cstdint>

#include "constants.h"

#include "host_device.h"  // NTK_HD, NTK_F*, bitCast
#include "rank_key.h"     // rankKey, selectKey: the selection order

namespace ntk {

struct Philox4 {
  uint32_t v[4];
};

NTK_HD uint32_t mulhi32(uint32_t a, uint32_t b) { return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32); }

// Philox4x32 with 10 rounds (Salmon et al., SC'11), Random123's constants and key schedule.
NTK_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint32_t lo0 = 0xD2511F53u * c0;
    const uint32_t hi0 = mulhi32(0xD2511F53u, c0);
    const uint32_t lo1 = 0xCD9E8D57u * c2;
    const uint32_t hi1 = mulhi32(0xCD9E8D57u, c2);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// The bits of a float and back (bitCast: host_device.h).
NTK_HD float bitsToFloat(uint32_t u) { return bitCast<float>(u); }
NTK_HD uint32_t floatToBits(float f) { return bitCast<uint32_t>(f); }

// One Horner step, p * x + c, as two rounded operations.
NTK_HD float hornerStep(float p, float x, float c) { return NTK_FADD(NTK_FMUL(p, x), c); }

// The polynomials below copy each coefficient of constants.h into a local constexpr first:
// CUDA device code may read a host constexpr scalar but not index a host array.

// ln(u) for u = m * 2^-24, m in [1, 2^24]: the only inputs Box-Muller gives it.
// ln(u) = e*ln2 + ln(m'), with m' in [sqrt(1/2), sqrt(2)) and ln(m') = 2 atanh(s), s = f/(2+f).
NTK_HD float logUnit(float u) {
  constexpr float c9 = kLogCoef[0], c7 = kLogCoef[1], c5 = kLogCoef[2], c3 = kLogCoef[3];
  const uint32_t bits = floatToBits(u);
  int32_t e = static_cast<int32_t>(bits >> 23) - 127;
  uint32_t mant = bits & 0x007FFFFFu;
  if (mant > 0x003504F3u) {  // m > sqrt(2): halve m, bump e (exact, by exponent bits)
    mant |= 0x3F000000u;
    e += 1;
  } else {
    mant |= 0x3F800000u;
  }
  const float m = bitsToFloat(mant);
  const float f = NTK_FSUB(m, 1.0f);
  const float s = NTK_FDIV(f, NTK_FADD(2.0f, f));
  const float s2 = NTK_FMUL(s, s);
  const float p = hornerStep(hornerStep(hornerStep(c9, s2, c7), s2, c5), s2, c3);
  const float logm = NTK_FADD(NTK_FMUL(2.0f, s), NTK_FMUL(NTK_FMUL(s, s2), p));
  // e is in [-24, 0]: ln2 is split so that e * kLn2Hi is exact.
  const float ef = static_cast<float>(e);
  return NTK_FADD(NTK_FMUL(ef, kLn2Hi), NTK_FADD(NTK_FMUL(ef, kLn2Lo), logm));
}

// sin and cos of a in [-pi/4, pi/4] (Taylor, error below 2^-30 on that range).
NTK_HD float sinQuarter(float a) {
  constexpr float c9 = kSinCoef[0], c7 = kSinCoef[1], c5 = kSinCoef[2], c3 = kSinCoef[3];
  const float a2 = NTK_FMUL(a, a);
  const float p = hornerStep(hornerStep(hornerStep(c9, a2, c7), a2, c5), a2, c3);
  return NTK_FADD(a, NTK_FMUL(NTK_FMUL(a, a2), p));
}

NTK_HD float cosQuarter(float a) {
  constexpr float c10 = kCosCoef[0], c8 = kCosCoef[1], c6 = kCosCoef[2], c4 = kCosCoef[3], c2 = kCosCoef[4];
  const float a2 = NTK_FMUL(a, a);
  const float q = hornerStep(hornerStep(hornerStep(hornerStep(c10, a2, c8), a2, c6), a2, c4), a2, c2);
  return NTK_FADD(1.0f, NTK_FMUL(a2, q));
}

struct NormalPair {
  float z0;
  float z1;
};

// Box-Muller on two Philox words. The radius word gives u in (0, 1], so ln(u) is finite and
// |z| <= sqrt(-2 ln 2^-24) < 5.78 (kNormalBound): the noise is bounded.
NTK_HD NormalPair boxMuller(uint32_t radiusBits, uint32_t angleBits) {
  const float u = NTK_FMUL(static_cast<float>((radiusBits >> 8) + 1u), kUnitScale);
  const float r = NTK_FSQRT(NTK_FMUL(-2.0f, logUnit(u)));
  // angle = 2*pi*b/2^24 = (q + t/2^22) * pi/2 with q the nearest quadrant, |t| <= 2^21.
  const uint32_t b = angleBits >> 8;
  const uint32_t qRaw = (b + (1u << 21)) >> 22;
  const int32_t t = static_cast<int32_t>(b) - static_cast<int32_t>(qRaw << 22);
  const float a = NTK_FMUL(static_cast<float>(t), kAngleScale);
  const float s = sinQuarter(a);
  const float c = cosQuarter(a);
  float cosT, sinT;
  switch (qRaw & 3u) {
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
      break;
  }
  return NormalPair{NTK_FMUL(r, cosT), NTK_FMUL(r, sinT)};
}

// An upper bound, as a float, on the Box-Muller radius r = sqrt(-2 ln u) that boxMuller computes
// from a radius word (u = ((w >> 8) + 1) * 2^-24): every |z| from that word is <= r <= the bound,
// so y = x + eps * z <= fl(x + fl(eps * bound)) by monotone rounding, which lets the kernels skip
// pairs that cannot reach the k best. With u = 2^e (1 + f), f in [0, 1),
// -log2 u <= -(e + f) = ((151 << 23) - bits(float(m + 1))) / 2^23 since log2(1 + f) >= f;
// kRadiusScale (> 2 ln 2 / 2^23) and kRadiusSlack carry margins for the float rounding of
// logUnit and of this bound. Checked against the stream for all 2^24 radius words by
// test/native/prune_bound_check.cpp (test/prune-bound.test.ts) and the CUDA emulator check.
NTK_HD float radiusBound(uint32_t radiusWord) {
  constexpr float scale = kRadiusScale;  // local copies: device code reads host constexpr scalars
  constexpr float slack = kRadiusSlack;
  const uint32_t m1 = (radiusWord >> 8) + 1u;  // in [1, 2^24]: exact as a float
  const int32_t t = static_cast<int32_t>((151u << 23) - floatToBits(static_cast<float>(m1)));
  const float r2 = NTK_FADD(NTK_FMUL(static_cast<float>(t), scale), slack);
  return NTK_FSQRT(r2);
}

// The four normals of columns 4*group .. 4*group+3 for one (row, sample) of one call.
struct Normal4 {
  float z[4];
};

NTK_HD Normal4 normal4(uint32_t seedLo, uint32_t seedHi, uint32_t offset, uint32_t row, uint32_t sample,
                       uint32_t group) {
  const Philox4 w = philox4x32_10(group, row, sample, offset, seedLo, seedHi);
  const NormalPair p = boxMuller(w.v[0], w.v[1]);
  const NormalPair q = boxMuller(w.v[2], w.v[3]);
  return Normal4{{p.z0, p.z1, q.z0, q.z1}};
}

// y = x + eps * z, two rounded operations (pytopk's order: the product first).
NTK_HD float perturb(float x, float eps, float z) { return NTK_FADD(x, NTK_FMUL(eps, z)); }

}  // namespace ntk
