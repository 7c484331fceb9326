// The AVX2 kernels: eight Philox4x32-10 instances side by side (one per group of 4 columns)
// and Box-Muller on 8 radius/angle word pairs at once, through simd_stream.h. Each float
// operation is the same single correctly rounded binary32 operation as in philox_normal.h, in
// the same order (vmulps, vaddps, vsubps, vdivps, vsqrtps, exact int->float conversions): the
// target is avx2 only, never FMA, and the project builds with -ffp-contract=off, so no
// product is fused into an add.
//
// The addon runs on any x86-64 CPU and takes these kernels only where the CPU reports AVX2
// (avx2Usable). Only the code after the target switch below is AVX2 code; the shared headers
// are included before it and stay baseline.
#include "kernel_internal.h"

#include <algorithm>
#include <limits>

#include "../core/constants.h"

#if NTK_X86_SIMD
#include <immintrin.h>

NTK_SIMD_TARGET_BEGIN("avx2")

#include "simd_stream.h"

namespace ntk {
namespace cpu {

namespace {

// simd_stream.h's lane traits for 8 lanes of AVX2. M, a lane mask, is all ones or all zeros
// per 32-bit lane.
struct Avx2Lanes {
  NTK_SIMD_LANES_OF_WIDTH(256)
  using M = __m256i;

  static I laneIndex() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }

  static I xor3(I a, I b, I c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
  // (hi, lo) 32-bit halves of the 64-bit product a * m, lane by lane (unsigned).
  static I mulHiLo(I a, I m, I& lo) {
    const I even = _mm256_mul_epu32(a, m);
    const I odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  }

  static M greater(I a, I b) { return _mm256_cmpgt_epi32(a, b); }  // signed
  static M equal(I a, I b) { return _mm256_cmpeq_epi32(a, b); }
  static M either(M a, M b) { return _mm256_or_si256(a, b); }
  static I select(M m, I ifClear, I ifSet) { return _mm256_blendv_epi8(ifClear, ifSet, m); }
  static F select(M m, F ifClear, F ifSet) { return _mm256_blendv_ps(ifClear, ifSet, _mm256_castsi256_ps(m)); }
  static F negateWhere(M m, F a) {
    return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_and_si256(m, _mm256_set1_epi32(static_cast<int>(0x80000000u)))));
  }
  // Bit i set where lane i of a is not below b (NaN is not below anything: it ranks highest).
  static uint32_t notBelow(F a, F b) {
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_NLT_UQ)));
  }
};

using V = Avx2Lanes;
using Words8 = simd::Words<V>;
using PhiloxKeys8 = simd::PhiloxKeys<V>;

inline __m256i iota8(uint32_t base) { return simd::groupsFrom<V>(base); }

}  // namespace

bool prepareRowAvx2(const float* x, uint32_t d, float* xs, size_t lanes, PrunedRow& pr, uint32_t seeds) {
  const __m256 negInf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256i pairPerm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256 finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  const uint32_t blocks = static_cast<uint32_t>(lanes / 8);
  for (uint32_t blk = 0; blk < blocks; ++blk) {
    const uint32_t c0 = blk * 32;
    __m256 v[4];
    for (int j = 0; j < 4; ++j) {
      const __m256i col = iota8(c0 + 8 * j);
      const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(d)), col));
      const __m256 xv = _mm256_loadu_ps(x + c0 + 8 * j);
      // finite: |x| < inf (false for NaN), required on valid columns only
      const __m256 fin = _mm256_cmp_ps(_mm256_and_ps(xv, absMask), inf, _CMP_LT_OQ);
      finite =
          _mm256_and_ps(finite, _mm256_or_ps(fin, _mm256_andnot_ps(valid, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))));
      v[j] = _mm256_permutevar8x32_ps(_mm256_blendv_ps(negInf, xv, valid), pairPerm);
    }
    // v[j] = [g c0, g' c0, g c1, g' c1, g c2, g' c2, g c3, g' c3] for groups 2j, 2j+1.
    const __m256d lo01 = _mm256_unpacklo_pd(_mm256_castps_pd(v[0]), _mm256_castps_pd(v[1]));
    const __m256d lo23 = _mm256_unpacklo_pd(_mm256_castps_pd(v[2]), _mm256_castps_pd(v[3]));
    const __m256d hi01 = _mm256_unpackhi_pd(_mm256_castps_pd(v[0]), _mm256_castps_pd(v[1]));
    const __m256d hi23 = _mm256_unpackhi_pd(_mm256_castps_pd(v[2]), _mm256_castps_pd(v[3]));
    _mm256_storeu_ps(xs + 0 * lanes + 8 * blk, _mm256_castpd_ps(_mm256_permute2f128_pd(lo01, lo23, 0x20)));
    _mm256_storeu_ps(xs + 2 * lanes + 8 * blk, _mm256_castpd_ps(_mm256_permute2f128_pd(lo01, lo23, 0x31)));
    _mm256_storeu_ps(xs + 1 * lanes + 8 * blk, _mm256_castpd_ps(_mm256_permute2f128_pd(hi01, hi23, 0x20)));
    _mm256_storeu_ps(xs + 3 * lanes + 8 * blk, _mm256_castpd_ps(_mm256_permute2f128_pd(hi01, hi23, 0x31)));
  }
  if (_mm256_movemask_ps(finite) != 0xFF) return false;
  // Seeds: the largest x of each of `want` equal chunks of the row (high x, found in one pass;
  // any choice of seeds is exact, a good one prunes more).
  const uint32_t want = d < seeds ? d : seeds;
  if (want == 0) return true;
  const uint32_t chunk = ((d + want - 1) / want + 7) & ~7u;
  const __m256 negInfV = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (uint32_t c0 = 0; c0 < d && pr.nSeed < kMaxSeed; c0 += chunk) {
    const uint32_t end = c0 + chunk < d ? c0 + chunk : d;
    __m256 mv = negInfV;
    for (uint32_t c = c0; c < end; c += 8) {
      const __m256i col = iota8(c);
      const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(end)), col));
      mv = _mm256_max_ps(mv, _mm256_blendv_ps(negInfV, _mm256_loadu_ps(x + c), valid));
    }
    alignas(32) float m8[8];
    _mm256_store_ps(m8, mv);
    float best = m8[0];
    for (int i = 1; i < 8; ++i) best = m8[i] > best ? m8[i] : best;
    for (uint32_t c = c0; c < end; ++c) {
      if (x[c] == best) {
        pr.seed[pr.nSeed] = c;
        pr.seedX[pr.nSeed] = best;
        ++pr.nSeed;
        break;
      }
    }
  }
  return true;
}

namespace {

// Appends the pairs of `mask`'s lanes (one per group g0 + lane) to the pending list: their
// radius and angle words, the pair's first column (4g + colOffset) and its two x values.
inline void pushPairs(simd::Pending<V>& p, unsigned mask, const uint32_t* radius, const uint32_t* angle,
                      const float* xa, const float* xb, uint32_t g0, uint32_t colOffset) {
  for (; mask; mask &= mask - 1) {
    const unsigned q = static_cast<unsigned>(__builtin_ctz(mask));
    p.radius[p.n] = radius[q];
    p.angle[p.n] = angle[q];
    p.x0[p.n] = xa[g0 + q];
    p.x1[p.n] = xb[g0 + q];
    p.col[p.n] = 4 * (g0 + q) + colOffset;
    ++p.n;
  }
}

}  // namespace

void prunedSampleAvx2(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, uint32_t* column, float* value) {
  const PhiloxKeys8 keys = simd::philoxKeys<V>(sp.seedLo, sp.seedHi);
  const __m256 epsV = _mm256_set1_ps(eps);
  Candidates cand;
  cand.tb.reset(k);
  simd::seedCandidates<V>(sp, eps, pr, keys, cand);
  const __m256 cosMax = _mm256_load_ps(kCosMax);
  const __m256 sinMax = _mm256_load_ps(kSinMax);
  simd::Pending<V> pend;
  alignas(32) uint32_t w[4][8];
  for (uint32_t blk = 0; blk < pr.blocks; blk += 2) {
    const __m256i groups[2] = {iota8(blk * 8), iota8(blk * 8 + 8)};
    Words8 wsPair[2];
    simd::philoxBlocks<V, 2>(groups, sp.row, sp.sample, sp.offset, keys, wsPair);
    const __m256 tau = _mm256_set1_ps(cand.tau());
    for (uint32_t half = 0; half < 2 && blk + half < pr.blocks; ++half) {
      const uint32_t g0 = (blk + half) * 8;
      const Words8& ws = wsPair[half];
      // Upper bounds on y of each column: radius bound times the octant's cos or sin bound.
      const __m256 rA = simd::radiusBound<V>(ws.w0), rB = simd::radiusBound<V>(ws.w2);
      const __m256i octA = _mm256_srli_epi32(ws.w1, 29), octB = _mm256_srli_epi32(ws.w3, 29);
      const __m256 up0 =
          simd::perturb<V>(_mm256_loadu_ps(pr.xs[0] + g0), epsV, V::mul(rA, _mm256_permutevar8x32_ps(cosMax, octA)));
      const __m256 up1 =
          simd::perturb<V>(_mm256_loadu_ps(pr.xs[1] + g0), epsV, V::mul(rA, _mm256_permutevar8x32_ps(sinMax, octA)));
      const __m256 up2 =
          simd::perturb<V>(_mm256_loadu_ps(pr.xs[2] + g0), epsV, V::mul(rB, _mm256_permutevar8x32_ps(cosMax, octB)));
      const __m256 up3 =
          simd::perturb<V>(_mm256_loadu_ps(pr.xs[3] + g0), epsV, V::mul(rB, _mm256_permutevar8x32_ps(sinMax, octB)));
      const unsigned maskA = V::notBelow(up0, tau) | V::notBelow(up1, tau);
      const unsigned maskB = V::notBelow(up2, tau) | V::notBelow(up3, tau);
      if ((maskA | maskB) == 0) continue;
      _mm256_store_si256(reinterpret_cast<__m256i*>(w[0]), ws.w0);
      _mm256_store_si256(reinterpret_cast<__m256i*>(w[1]), ws.w1);
      _mm256_store_si256(reinterpret_cast<__m256i*>(w[2]), ws.w2);
      _mm256_store_si256(reinterpret_cast<__m256i*>(w[3]), ws.w3);
      pushPairs(pend, maskA, w[0], w[1], pr.xs[0], pr.xs[1], g0, 0);
      pushPairs(pend, maskB, w[2], w[3], pr.xs[2], pr.xs[3], g0, 2);
      while (pend.n >= V::kWidth) pend.flush(V::kWidth, pr, epsV, cand);
    }
  }
  if (pend.n > 0) pend.flush(pend.n, pr, epsV, cand);
  *column = cand.tb.kthColumn();
  *value = cand.tb.kthValue();
}

void perturbedRowAvx2(const StreamPos& sp, float eps, const float* x, uint32_t d, float* y) {
  const PhiloxKeys8 keys = simd::philoxKeys<V>(sp.seedLo, sp.seedHi);
  const __m256 epsV = _mm256_set1_ps(eps);
  const uint32_t blocks = (d + 31) / 32;
  for (uint32_t blk = 0; blk < blocks; ++blk) {
    const Words8 ws = simd::philox<V>(iota8(blk * 8), sp.row, sp.sample, sp.offset, keys);
    __m256 z0, z1, z2, z3;
    simd::boxMuller<V>(ws.w0, ws.w1, z0, z1);
    simd::boxMuller<V>(ws.w2, ws.w3, z2, z3);
    // Lane g holds columns 4g..4g+3 in (z0, z1, z2, z3): transpose to 32 consecutive columns.
    const __m256 t0 = _mm256_unpacklo_ps(z0, z1), t1 = _mm256_unpackhi_ps(z0, z1);
    const __m256 t2 = _mm256_unpacklo_ps(z2, z3), t3 = _mm256_unpackhi_ps(z2, z3);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 out[4] = {_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u2, u3, 0x20),
                           _mm256_permute2f128_ps(u0, u1, 0x31), _mm256_permute2f128_ps(u2, u3, 0x31)};
    const uint32_t c0 = blk * 32;
    for (int j = 0; j < 4; ++j) {
      const __m256 xv = _mm256_loadu_ps(x + c0 + 8 * j);
      _mm256_storeu_ps(y + c0 + 8 * j, simd::perturb<V>(xv, epsV, out[j]));
    }
  }
}

uint32_t kthColumnAvx2(const float* y, uint32_t d, uint32_t k, float floor) {
  // With at least k values not below `floor` (NaN counts: it ranks above everything), the k-th
  // largest is not below it, and the values below it can be skipped.
  if (floor > -std::numeric_limits<float>::infinity()) {
    const __m256 f = _mm256_set1_ps(floor);
    uint32_t count = 0;
    uint32_t c0 = 0;
    for (; c0 + 8 <= d; c0 += 8) {
      count += static_cast<uint32_t>(__builtin_popcount(
          static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(y + c0), f, _CMP_NLT_UQ)))));
    }
    for (; c0 < d; ++c0) count += !(y[c0] < floor);
    if (count < k) floor = -std::numeric_limits<float>::infinity();
  }
  TopBuffer tb;
  tb.reset(k);
  // Only values not below the current k-th (or unordered: NaN) reach the exact rank order.
  for (uint32_t c0 = 0; c0 < d; c0 += 8) {
    const float t = tb.tau > floor ? tb.tau : floor;
    const __m256 v = _mm256_loadu_ps(y + c0);  // y is padded to whole blocks of 32
    unsigned m = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(t), _CMP_NLT_UQ)));
    for (; m; m &= m - 1) {
      const uint32_t c = c0 + static_cast<uint32_t>(__builtin_ctz(m));
      if (c < d) tb.insert(y[c], c);
    }
  }
  return tb.kthColumn();
}

}  // namespace cpu
}  // namespace ntk

NTK_SIMD_TARGET_END

#endif  // NTK_X86_SIMD
