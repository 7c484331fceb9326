// The noise stream of philox_normal.h and the pruned sweep's bounds of kernel_internal.h,
// written once for any SIMD width. `V` is a lane-traits type (noised_topk_avx2.cpp's
// Avx2Lanes, noised_topk_avx512.cpp's Avx512Lanes) that wraps one instruction set's
// intrinsics; every function here performs, lane by lane, the same correctly rounded binary32
// operations as the scalar stream, in the same order, with the coefficients of constants.h.
//
// Target hazard: these templates are compiled under the target of the file that includes
// them (AVX2 or AVX-512). Each instantiation is distinct because each traits type exists only
// inside its own file's anonymous namespace, so the linker can never merge an AVX-512
// instantiation with an AVX2 one, nor either with baseline code. kernel_internal.h and
// philox_normal.h must be included before the target is switched on (checked below), so that
// their inline functions stay baseline code in every translation unit.
#pragma once

#ifndef NTK_CPU_KERNEL_INTERNAL_H
#error "include kernel_internal.h before the target pragma and before simd_stream.h"
#endif

#include <cstdint>
#include <cstring>

#include "../core/constants.h"

// The lane-traits members that differ between instruction sets only in the vector width W in
// bits (256: AVX2, 512: AVX-512), which names their types (__m256i, __m256) and intrinsics
// (_mm256_add_epi32, _mm256_and_si256). I holds 32-bit integer lanes, F binary32 lanes.
#define NTK_SIMD_LANES_OF_WIDTH(W)                                                                 \
  static constexpr uint32_t kWidth = W / 32;                                                       \
  using I = __m##W##i;                                                                             \
  using F = __m##W;                                                                                \
  static I splat(uint32_t v) { return _mm##W##_set1_epi32(static_cast<int>(v)); }                  \
  static F splat(float v) { return _mm##W##_set1_ps(v); }                                          \
  static I load(const uint32_t* p) { return _mm##W##_loadu_si##W(reinterpret_cast<const I*>(p)); } \
  static F load(const float* p) { return _mm##W##_loadu_ps(p); }                                   \
  static void store(float* p, F v) { _mm##W##_storeu_ps(p, v); }                                   \
  static I add(I a, I b) { return _mm##W##_add_epi32(a, b); }                                      \
  static I sub(I a, I b) { return _mm##W##_sub_epi32(a, b); }                                      \
  static I band(I a, I b) { return _mm##W##_and_si##W(a, b); }                                     \
  static I bor(I a, I b) { return _mm##W##_or_si##W(a, b); }                                       \
  template <int n>                                                                                 \
  static I shr(I a) {                                                                              \
    return _mm##W##_srli_epi32(a, n);                                                              \
  }                                                                                                \
  template <int n>                                                                                 \
  static I shl(I a) {                                                                              \
    return _mm##W##_slli_epi32(a, n);                                                              \
  }                                                                                                \
  static F toFloat(I a) { return _mm##W##_cvtepi32_ps(a); }                                        \
  static I bits(F a) { return _mm##W##_castps_si##W(a); }                                          \
  static F fromBits(I a) { return _mm##W##_castsi##W##_ps(a); }                                    \
  static F add(F a, F b) { return _mm##W##_add_ps(a, b); }                                         \
  static F sub(F a, F b) { return _mm##W##_sub_ps(a, b); }                                         \
  static F mul(F a, F b) { return _mm##W##_mul_ps(a, b); }                                         \
  static F div(F a, F b) { return _mm##W##_div_ps(a, b); }                                         \
  static F sqrt(F a) { return _mm##W##_sqrt_ps(a); }

// Inlined into the one kernel that calls it, as the hand-written intrinsics were: the stream's
// vectors then stay in registers across these calls.
#define NTK_SIMD_INLINE inline __attribute__((always_inline))

namespace ntk {
namespace cpu {
namespace simd {

// The four 32-bit words of Philox4x32-10 for V::kWidth counters.
template <class V>
struct Words {
  typename V::I w0, w1, w2, w3;
};

// The key of each of the 10 rounds, splat to every lane.
template <class V>
struct PhiloxKeys {
  typename V::I k0[10], k1[10];
};

template <class V>
NTK_SIMD_INLINE PhiloxKeys<V> philoxKeys(uint32_t seedLo, uint32_t seedHi) {
  PhiloxKeys<V> keys;
  uint32_t k0 = seedLo, k1 = seedHi;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    keys.k0[round] = V::splat(k0);
    keys.k1[round] = V::splat(k1);
  }
  return keys;
}

// philox4x32_10(group, row, sample, offset) for N independent vectors of groups. The N chains
// run interleaved round by round, so that one chain's multiply latency hides behind another's;
// each chain's state lives in its Words (not in per-word arrays), which the compiler keeps in
// registers.
template <class V, int N>
NTK_SIMD_INLINE void philoxBlocks(const typename V::I (&group)[N], uint32_t row, uint32_t sample, uint32_t offset,
                                  const PhiloxKeys<V>& keys, Words<V> (&out)[N]) {
  using I = typename V::I;
  const I m0 = V::splat(0xD2511F53u);
  const I m1 = V::splat(0xCD9E8D57u);
  for (int n = 0; n < N; ++n) out[n] = Words<V>{group[n], V::splat(row), V::splat(sample), V::splat(offset)};
#pragma GCC unroll 10
  for (int round = 0; round < 10; ++round) {
#pragma GCC unroll 4
    for (int n = 0; n < N; ++n) {
      I lo0, lo1;
      const I hi0 = V::mulHiLo(out[n].w0, m0, lo0);
      const I hi1 = V::mulHiLo(out[n].w2, m1, lo1);
      out[n] = Words<V>{V::xor3(hi1, out[n].w1, keys.k0[round]), lo1, V::xor3(hi0, out[n].w3, keys.k1[round]), lo0};
    }
  }
}

template <class V>
NTK_SIMD_INLINE Words<V> philox(typename V::I group, uint32_t row, uint32_t sample, uint32_t offset,
                                const PhiloxKeys<V>& keys) {
  const typename V::I groups[1] = {group};
  Words<V> out[1];
  philoxBlocks<V, 1>(groups, row, sample, offset, keys, out);
  return out[0];
}

// The V::kWidth consecutive group indices base, base + 1, ...
template <class V>
NTK_SIMD_INLINE typename V::I groupsFrom(uint32_t base) {
  return V::add(V::splat(base), V::laneIndex());
}

// logUnit of philox_normal.h.
template <class V>
NTK_SIMD_INLINE typename V::F logUnit(typename V::F u) {
  using I = typename V::I;
  using F = typename V::F;
  const I bits = V::bits(u);
  I e = V::sub(V::template shr<23>(bits), V::splat(127u));
  const I mant = V::band(bits, V::splat(0x007FFFFFu));
  // m > sqrt 2: halve m (exponent bits of 1/2 instead of 1) and bump e.
  const typename V::M big = V::greater(mant, V::splat(0x003504F3u));
  const I mbits = V::bor(mant, V::select(big, V::splat(0x3F800000u), V::splat(0x3F000000u)));
  e = V::add(e, V::select(big, V::splat(0u), V::splat(1u)));
  const F m = V::fromBits(mbits);
  const F f = V::sub(m, V::splat(1.0f));
  const F s = V::div(f, V::add(V::splat(2.0f), f));
  const F s2 = V::mul(s, s);
  F p = V::splat(kLogCoef[0]);
  for (int i = 1; i < 4; ++i) p = V::add(V::mul(p, s2), V::splat(kLogCoef[i]));
  const F logm = V::add(V::mul(V::splat(2.0f), s), V::mul(V::mul(s, s2), p));
  const F ef = V::toFloat(e);
  return V::add(V::mul(ef, V::splat(kLn2Hi)), V::add(V::mul(ef, V::splat(kLn2Lo)), logm));
}

// sinQuarter and cosQuarter of philox_normal.h.
template <class V>
NTK_SIMD_INLINE typename V::F sinQuarter(typename V::F a) {
  const typename V::F a2 = V::mul(a, a);
  typename V::F p = V::splat(kSinCoef[0]);
  for (int i = 1; i < 4; ++i) p = V::add(V::mul(p, a2), V::splat(kSinCoef[i]));
  return V::add(a, V::mul(V::mul(a, a2), p));
}

template <class V>
NTK_SIMD_INLINE typename V::F cosQuarter(typename V::F a) {
  const typename V::F a2 = V::mul(a, a);
  typename V::F q = V::splat(kCosCoef[0]);
  for (int i = 1; i < 5; ++i) q = V::add(V::mul(q, a2), V::splat(kCosCoef[i]));
  return V::add(V::splat(1.0f), V::mul(a2, q));
}

// boxMuller of philox_normal.h on V::kWidth (radius, angle) word pairs.
template <class V>
NTK_SIMD_INLINE void boxMuller(typename V::I radius, typename V::I angle, typename V::F& z0, typename V::F& z1) {
  using I = typename V::I;
  using F = typename V::F;
  using M = typename V::M;
  const I m1 = V::add(V::template shr<8>(radius), V::splat(1u));
  const F u = V::mul(V::toFloat(m1), V::splat(kUnitScale));
  const F r = V::sqrt(V::mul(V::splat(-2.0f), logUnit<V>(u)));
  const I b = V::template shr<8>(angle);
  const I qRaw = V::template shr<22>(V::add(b, V::splat(1u << 21)));
  const I t = V::sub(b, V::template shl<22>(qRaw));  // signed offset within the quadrant
  const F a = V::mul(V::toFloat(t), V::splat(kAngleScale));
  const F s = sinQuarter<V>(a);
  const F c = cosQuarter<V>(a);
  // Quadrant q = qRaw & 3: (cos, sin) = (c, s), (-s, c), (-c, -s), (s, -c).
  const I q = V::band(qRaw, V::splat(3u));
  const M odd = V::equal(V::band(q, V::splat(1u)), V::splat(1u));
  const M q1 = V::equal(q, V::splat(1u)), q2 = V::equal(q, V::splat(2u)), q3 = V::equal(q, V::splat(3u));
  const F cosT = V::negateWhere(V::either(q1, q2), V::select(odd, c, s));
  const F sinT = V::negateWhere(V::either(q2, q3), V::select(odd, s, c));
  z0 = V::mul(r, cosT);
  z1 = V::mul(r, sinT);
}

// perturb of philox_normal.h: x + eps * z, the product first.
template <class V>
NTK_SIMD_INLINE typename V::F perturb(typename V::F x, typename V::F eps, typename V::F z) {
  return V::add(x, V::mul(eps, z));
}

// radiusBound of philox_normal.h on V::kWidth radius words.
template <class V>
NTK_SIMD_INLINE typename V::F radiusBound(typename V::I w) {
  using I = typename V::I;
  const I m1 = V::add(V::template shr<8>(w), V::splat(1u));
  const I t = V::sub(V::splat(151u << 23), V::bits(V::toFloat(m1)));
  return V::sqrt(V::add(V::mul(V::toFloat(t), V::splat(kRadiusScale)), V::splat(kRadiusSlack)));
}

// The seed columns of the row, computed exactly (V::kWidth per Box-Muller), so that tau
// starts high before the sweep.
template <class V>
NTK_SIMD_INLINE void seedCandidates(const StreamPos& sp, float eps, const PrunedRow& pr, const PhiloxKeys<V>& keys,
                                    Candidates& cand) {
  using I = typename V::I;
  using F = typename V::F;
  constexpr uint32_t W = V::kWidth;
  const F epsV = V::splat(eps);
  for (uint32_t q0 = 0; q0 < pr.nSeed; q0 += W) {
    uint32_t col[W];
    float xv[W];
    for (uint32_t q = 0; q < W; ++q) {
      const uint32_t i = q0 + q < pr.nSeed ? q0 + q : q0;  // spare lanes repeat a real seed
      col[q] = pr.seed[i];
      xv[q] = pr.seedX[i];
    }
    const I c = V::load(col);
    const Words<V> ws = philox<V>(V::template shr<2>(c), sp.row, sp.sample, sp.offset, keys);
    // Columns 4g+2, 4g+3 use words (w2, w3); odd columns take the sine.
    const typename V::M hiPair = V::equal(V::band(c, V::splat(2u)), V::splat(2u));
    const typename V::M odd = V::equal(V::band(c, V::splat(1u)), V::splat(1u));
    F z0, z1;
    boxMuller<V>(V::select(hiPair, ws.w0, ws.w2), V::select(hiPair, ws.w1, ws.w3), z0, z1);
    float y[W];
    V::store(y, perturb<V>(V::load(xv), epsV, V::select(odd, z0, z1)));
    for (uint32_t q = 0; q < W && q0 + q < pr.nSeed; ++q) cand.add(y[q], col[q]);
  }
}

// Pairs of columns whose bound reached tau, waiting to be computed exactly V::kWidth at a
// time. Capacity: the pairs one sweep block can add (2 * V::kWidth) on top of fewer than a
// full batch, plus a batch of slack for full-width stores past n.
template <class V>
struct Pending {
  static constexpr uint32_t kCapacity = 5 * V::kWidth;
  alignas(64) uint32_t radius[kCapacity];
  alignas(64) uint32_t angle[kCapacity];
  alignas(64) uint32_t col[kCapacity];  // the pair's first column (4g or 4g + 2)
  alignas(64) float x0[kCapacity];
  alignas(64) float x1[kCapacity];
  uint32_t n = 0;

  // Exact y of the first `count` (<= V::kWidth) pairs; those not below tau join the
  // candidates. The rest move to the front.
  NTK_SIMD_INLINE void flush(uint32_t count, const PrunedRow& pr, typename V::F epsV, Candidates& cand) {
    typename V::F z0, z1;
    boxMuller<V>(V::load(radius), V::load(angle), z0, z1);
    const typename V::F y0 = perturb<V>(V::load(x0), epsV, z0);
    const typename V::F y1 = perturb<V>(V::load(x1), epsV, z1);
    float y[2][V::kWidth];
    V::store(y[0], y0);
    V::store(y[1], y1);
    const typename V::F tau = V::splat(cand.tau());
    const uint32_t lanes = (1u << count) - 1u;  // count <= 16
    const uint32_t notBelow[2] = {V::notBelow(y0, tau) & lanes, V::notBelow(y1, tau) & lanes};
    for (uint32_t j = 0; j < 2; ++j) {
      for (uint32_t m = notBelow[j]; m; m &= m - 1) {
        const uint32_t q = static_cast<uint32_t>(__builtin_ctz(m));
        const uint32_t c = col[q] + j;
        if (c < pr.d && !(cand.seeded && pr.isSeed(c))) cand.add(y[j][q], c);
      }
    }
    const uint32_t rest = n - count;
    std::memmove(radius, radius + count, rest * sizeof(uint32_t));
    std::memmove(angle, angle + count, rest * sizeof(uint32_t));
    std::memmove(col, col + count, rest * sizeof(uint32_t));
    std::memmove(x0, x0 + count, rest * sizeof(float));
    std::memmove(x1, x1 + count, rest * sizeof(float));
    n = rest;
  }
};

}  // namespace simd
}  // namespace cpu
}  // namespace ntk
