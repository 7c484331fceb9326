// AVX2 versions of the noise stream and the pruned sweep. Eight Philox4x32-10 instances run
// side by side (one per group of 4 columns); Box-Muller runs on 8 radius/angle word pairs at
// once. Each float operation is the same single correctly rounded IEEE binary32 operation as
// in philox_normal.h, in the same order (vmulps, vaddps, vsubps, vdivps, vsqrtps, exact
// int->float conversions); the functions here are compiled with target("avx2") only, never
// FMA, and the project builds with -ffp-contract=off, so no product is fused into an add.
//
// Only the functions defined in this file carry the target attribute: the inline functions of
// the headers are compiled for baseline x86-64, so the addon runs on any x86-64 CPU and takes
// this path only where the CPU reports AVX2 (avx2Usable).
#include "kernel_internal.h"

#include <algorithm>
#include <limits>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(NTK_NO_AVX2_PATH)
#define NTK_HAVE_AVX2_PATH 1
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers build their "undefined" pass-through operands as `__Y = __Y`,
// which -Wmaybe-uninitialized reports at every inlined use; the value is never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#else
#define NTK_HAVE_AVX2_PATH 0
#endif

namespace ntk {
namespace cpu {

#if NTK_HAVE_AVX2_PATH

#define NTK_AVX2 __attribute__((target("avx2")))
#define NTK_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

namespace {

struct Words8 {
  __m256i w0, w1, w2, w3;
};

// (lo, hi) 32-bit halves of a * m for 8 unsigned lanes.
NTK_AVX2_INLINE __m256i mulHiLo(__m256i a, __m256i m, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

struct PhiloxKeys {
  __m256i k0[10], k1[10];
};

NTK_AVX2_INLINE void makeKeys(uint32_t seedLo, uint32_t seedHi, PhiloxKeys& keys) {
  uint32_t k0 = seedLo, k1 = seedHi;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    keys.k0[round] = _mm256_set1_epi32(static_cast<int>(k0));
    keys.k1[round] = _mm256_set1_epi32(static_cast<int>(k1));
  }
}

// philox4x32_10(group, row, sample, offset) for 8 groups.
NTK_AVX2_INLINE Words8 philox8(__m256i group, uint32_t row, uint32_t sample, uint32_t offset,
                               const PhiloxKeys& keys) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  __m256i c0 = group;
  __m256i c1 = _mm256_set1_epi32(static_cast<int>(row));
  __m256i c2 = _mm256_set1_epi32(static_cast<int>(sample));
  __m256i c3 = _mm256_set1_epi32(static_cast<int>(offset));
  for (int round = 0; round < 10; ++round) {
    __m256i lo0, lo1;
    const __m256i hi0 = mulHiLo(c0, m0, lo0);
    const __m256i hi1 = mulHiLo(c2, m1, lo1);
    const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), keys.k0[round]);
    const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), keys.k1[round]);
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return Words8{c0, c1, c2, c3};
}

// Two independent philox8 calls interleaved, so that one's multiply latency hides behind the
// other's (a round is a short dependency chain; a sample has few blocks to overlap).
NTK_AVX2_INLINE void philox8x2(__m256i groupA, __m256i groupB, uint32_t row, uint32_t sample, uint32_t offset,
                               const PhiloxKeys& keys, Words8& a, Words8& b) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  __m256i a0 = groupA, b0 = groupB;
  __m256i a1 = _mm256_set1_epi32(static_cast<int>(row)), b1 = a1;
  __m256i a2 = _mm256_set1_epi32(static_cast<int>(sample)), b2 = a2;
  __m256i a3 = _mm256_set1_epi32(static_cast<int>(offset)), b3 = a3;
#pragma GCC unroll 10
  for (int round = 0; round < 10; ++round) {
    __m256i alo0, alo1, blo0, blo1;
    const __m256i ahi0 = mulHiLo(a0, m0, alo0);
    const __m256i bhi0 = mulHiLo(b0, m0, blo0);
    const __m256i ahi1 = mulHiLo(a2, m1, alo1);
    const __m256i bhi1 = mulHiLo(b2, m1, blo1);
    a0 = _mm256_xor_si256(_mm256_xor_si256(ahi1, a1), keys.k0[round]);
    b0 = _mm256_xor_si256(_mm256_xor_si256(bhi1, b1), keys.k0[round]);
    a2 = _mm256_xor_si256(_mm256_xor_si256(ahi0, a3), keys.k1[round]);
    b2 = _mm256_xor_si256(_mm256_xor_si256(bhi0, b3), keys.k1[round]);
    a1 = alo1;
    b1 = blo1;
    a3 = alo0;
    b3 = blo0;
  }
  a = Words8{a0, a1, a2, a3};
  b = Words8{b0, b1, b2, b3};
}

NTK_AVX2_INLINE __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
NTK_AVX2_INLINE __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
NTK_AVX2_INLINE __m256 bc(float f) { return _mm256_set1_ps(f); }

// logUnit of philox_normal.h, lane by lane.
NTK_AVX2_INLINE __m256 logUnit8(__m256 u) {
  const __m256i bits = _mm256_castps_si256(u);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  const __m256i mant = _mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF));
  const __m256i big = _mm256_cmpgt_epi32(mant, _mm256_set1_epi32(0x003504F3));  // -1 where m > sqrt 2
  const __m256i mbits = _mm256_or_si256(
      mant, _mm256_blendv_epi8(_mm256_set1_epi32(0x3F800000), _mm256_set1_epi32(0x3F000000), big));
  e = _mm256_sub_epi32(e, big);
  const __m256 m = _mm256_castsi256_ps(mbits);
  const __m256 f = _mm256_sub_ps(m, bc(1.0f));
  const __m256 s = _mm256_div_ps(f, add(bc(2.0f), f));
  const __m256 s2 = mul(s, s);
  __m256 p = bc(0.2222222238779068f);
  p = add(mul(p, s2), bc(0.2857142984867096f));
  p = add(mul(p, s2), bc(0.4000000059604645f));
  p = add(mul(p, s2), bc(0.6666666865348816f));
  const __m256 logm = add(mul(bc(2.0f), s), mul(mul(s, s2), p));
  const __m256 ef = _mm256_cvtepi32_ps(e);
  return add(mul(ef, bc(0.693145751953125f)), add(mul(ef, bc(1.428606765330187e-06f)), logm));
}

NTK_AVX2_INLINE __m256 sinQuarter8(__m256 a) {
  const __m256 a2 = mul(a, a);
  __m256 p = bc(2.7557318844628753e-06f);
  p = add(mul(p, a2), bc(-0.00019841270113829523f));
  p = add(mul(p, a2), bc(0.008333333767950535f));
  p = add(mul(p, a2), bc(-0.1666666716337204f));
  return add(a, mul(mul(a, a2), p));
}

NTK_AVX2_INLINE __m256 cosQuarter8(__m256 a) {
  const __m256 a2 = mul(a, a);
  __m256 q = bc(-2.755731998149713e-07f);
  q = add(mul(q, a2), bc(2.4801587642286904e-05f));
  q = add(mul(q, a2), bc(-0.0013888889225199819f));
  q = add(mul(q, a2), bc(0.0416666679084301f));
  q = add(mul(q, a2), bc(-0.5f));
  return add(bc(1.0f), mul(a2, q));
}

// boxMuller of philox_normal.h on 8 (radius, angle) word pairs.
NTK_AVX2_INLINE void boxMuller8(__m256i radius, __m256i angle, __m256& z0, __m256& z1) {
  const __m256i m1 = _mm256_add_epi32(_mm256_srli_epi32(radius, 8), _mm256_set1_epi32(1));
  const __m256 u = mul(_mm256_cvtepi32_ps(m1), bc(5.9604644775390625e-08f));
  const __m256 r = _mm256_sqrt_ps(mul(bc(-2.0f), logUnit8(u)));
  const __m256i b = _mm256_srli_epi32(angle, 8);
  const __m256i qRaw = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(1 << 21)), 22);
  const __m256i t = _mm256_sub_epi32(b, _mm256_slli_epi32(qRaw, 22));
  const __m256 a = mul(_mm256_cvtepi32_ps(t), bc(3.7450703871400037e-07f));
  const __m256 s = sinQuarter8(a);
  const __m256 c = cosQuarter8(a);
  // Quadrant q = qRaw & 3: (cos, sin) = (c, s), (-s, c), (-c, -s), (s, -c).
  const __m256i q = _mm256_and_si256(qRaw, _mm256_set1_epi32(3));
  const __m256 swap = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(q, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
  const __m256 cosBase = _mm256_blendv_ps(c, s, swap);
  const __m256 sinBase = _mm256_blendv_ps(s, c, swap);
  const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2), three = _mm256_set1_epi32(3);
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i negCos = _mm256_and_si256(
      _mm256_or_si256(_mm256_cmpeq_epi32(q, one), _mm256_cmpeq_epi32(q, two)), sign);
  const __m256i negSin = _mm256_and_si256(
      _mm256_or_si256(_mm256_cmpeq_epi32(q, two), _mm256_cmpeq_epi32(q, three)), sign);
  const __m256 cosT = _mm256_xor_ps(cosBase, _mm256_castsi256_ps(negCos));
  const __m256 sinT = _mm256_xor_ps(sinBase, _mm256_castsi256_ps(negSin));
  z0 = mul(r, cosT);
  z1 = mul(r, sinT);
}

// radiusBound of kernel_internal.h on 8 words.
NTK_AVX2_INLINE __m256 radiusBound8(__m256i w) {
  const __m256i m1 = _mm256_add_epi32(_mm256_srli_epi32(w, 8), _mm256_set1_epi32(1));
  const __m256i fbits = _mm256_castps_si256(_mm256_cvtepi32_ps(m1));
  const __m256i t = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(151u << 23)), fbits);
  const __m256 r2 = add(mul(_mm256_cvtepi32_ps(t), bc(kRadiusScale)), bc(kRadiusSlack));
  return _mm256_sqrt_ps(r2);
}

NTK_AVX2_INLINE __m256i iota8(uint32_t base) {
  return _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(base)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

bool avx2Usable() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

NTK_AVX2 bool prepareRowAvx2(const float* x, uint32_t d, float* xs, size_t lanes, PrunedRow& pr, uint32_t seeds) {
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
      finite = _mm256_and_ps(finite, _mm256_or_ps(fin, _mm256_andnot_ps(valid, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))));
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

// Exactly computed columns of one sample: the k best so far (kernel_internal.h's TopBuffer);
// tau, the k-th value once k are held, only rises.
struct Candidates {
  TopBuffer tb;
  // A hinted threshold (prunedSampleAvx512): values below it are dropped, which is exact only
  // if k values reach it; the caller checks that (tb.filled == k) and redoes the sample if not.
  float floor = -std::numeric_limits<float>::infinity();
  bool seeded = true;  // the seed columns are in already: the sweep must skip them
  float tau() const { return tb.tau > floor ? tb.tau : floor; }
  void add(float y, uint32_t c) {
    if (y < floor) return;
    tb.insert(y, c);
  }
};

// Pairs whose bound reached tau, waiting for an exact Box-Muller 8 at a time.
struct Pending {
  alignas(32) uint32_t radius[48];
  alignas(32) uint32_t angle[48];
  alignas(32) float x0[48];
  alignas(32) float x1[48];
  uint32_t col[48];
  uint32_t n = 0;
};

// Exact y of the first `count` (<= 8) pending pairs; those at or above tau join the list.
NTK_AVX2_INLINE void flush8(Pending& p, uint32_t count, const PrunedRow& pr, __m256 epsV, Candidates& cand) {
  const uint32_t d = pr.d;
  __m256 z0, z1;
  boxMuller8(_mm256_load_si256(reinterpret_cast<const __m256i*>(p.radius)),
             _mm256_load_si256(reinterpret_cast<const __m256i*>(p.angle)), z0, z1);
  alignas(32) float y[2][8];
  const __m256 y0 = add(_mm256_load_ps(p.x0), mul(epsV, z0));
  const __m256 y1 = add(_mm256_load_ps(p.x1), mul(epsV, z1));
  _mm256_store_ps(y[0], y0);
  _mm256_store_ps(y[1], y1);
  const __m256 tau = _mm256_set1_ps(cand.tau());
  const unsigned lanes = (1u << count) - 1u;
  const unsigned m0 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(y0, tau, _CMP_NLT_UQ))) & lanes;
  const unsigned m1 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(y1, tau, _CMP_NLT_UQ))) & lanes;
  for (unsigned m = m0; m; m &= m - 1) {
    const unsigned q = static_cast<unsigned>(__builtin_ctz(m));
    if (p.col[q] < d && !pr.isSeed(p.col[q])) cand.add(y[0][q], p.col[q]);
  }
  for (unsigned m = m1; m; m &= m - 1) {
    const unsigned q = static_cast<unsigned>(__builtin_ctz(m));
    if (p.col[q] + 1 < d && !pr.isSeed(p.col[q] + 1)) cand.add(y[1][q], p.col[q] + 1);
  }
  // Shift the rest down.
  const uint32_t rest = p.n - count;
  for (uint32_t i = 0; i < rest; ++i) {
    p.radius[i] = p.radius[count + i];
    p.angle[i] = p.angle[count + i];
    p.x0[i] = p.x0[count + i];
    p.x1[i] = p.x1[count + i];
    p.col[i] = p.col[count + i];
  }
  p.n = rest;
}

NTK_AVX2_INLINE void pushPairs(Pending& p, unsigned mask, const uint32_t* radius, const uint32_t* angle,
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

// Seed: the columns with the largest x, exactly (8 per Box-Muller 8), so that tau starts high.
NTK_AVX2_INLINE void seedCandidates(const StreamPos& sp, float eps, const PrunedRow& pr, const PhiloxKeys& keys,
                                    Candidates& cand) {
  const __m256 epsV = _mm256_set1_ps(eps);
  for (uint32_t q0 = 0; q0 < pr.nSeed; q0 += 8) {
    alignas(32) uint32_t col[8];
    alignas(32) float xv[8];
    for (uint32_t q = 0; q < 8; ++q) {
      const uint32_t i = q0 + q < pr.nSeed ? q0 + q : q0;
      col[q] = pr.seed[i];
      xv[q] = pr.seedX[i];
    }
    const __m256i c = _mm256_load_si256(reinterpret_cast<const __m256i*>(col));
    const Words8 ws = philox8(_mm256_srli_epi32(c, 2), sp.row, sp.sample, sp.offset, keys);
    // Columns 4g+2, 4g+3 use words (w2, w3); odd columns take the sine.
    const __m256i hiPair = _mm256_cmpeq_epi32(_mm256_and_si256(c, _mm256_set1_epi32(2)), _mm256_set1_epi32(2));
    const __m256 odd = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(c, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
    __m256 z0, z1;
    boxMuller8(_mm256_blendv_epi8(ws.w0, ws.w2, hiPair), _mm256_blendv_epi8(ws.w1, ws.w3, hiPair), z0, z1);
    alignas(32) float y[8];
    _mm256_store_ps(y, add(_mm256_load_ps(xv), mul(epsV, _mm256_blendv_ps(z0, z1, odd))));
    for (uint32_t q = 0; q < 8 && q0 + q < pr.nSeed; ++q) cand.add(y[q], col[q]);
  }
}

}  // namespace

NTK_AVX2 void prunedSampleAvx2(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, uint32_t* column,
                               float* value) {
  PhiloxKeys keys;
  makeKeys(sp.seedLo, sp.seedHi, keys);
  const __m256 epsV = _mm256_set1_ps(eps);
  Candidates cand;
  cand.tb.reset(k);
  seedCandidates(sp, eps, pr, keys, cand);
  const __m256 cosMax = _mm256_load_ps(kCosMax);
  const __m256 sinMax = _mm256_load_ps(kSinMax);
  Pending pend;
  alignas(32) uint32_t w[4][8];
  for (uint32_t blk = 0; blk < pr.blocks; blk += 2) {
    Words8 wsPair[2];
    philox8x2(iota8(blk * 8), iota8(blk * 8 + 8), sp.row, sp.sample, sp.offset, keys, wsPair[0], wsPair[1]);
    const __m256 tau = _mm256_set1_ps(cand.tau());
    for (uint32_t half = 0; half < 2 && blk + half < pr.blocks; ++half) {
      const uint32_t b = blk + half;
      const uint32_t g0 = b * 8;
      const Words8& ws = wsPair[half];
      // Upper bounds on y of each column: radius bound times the octant's cos or sin bound.
      const __m256 rA = radiusBound8(ws.w0), rB = radiusBound8(ws.w2);
      const __m256i octA = _mm256_srli_epi32(ws.w1, 29), octB = _mm256_srli_epi32(ws.w3, 29);
      const __m256 up0 = add(_mm256_loadu_ps(pr.xs[0] + g0), mul(epsV, mul(rA, _mm256_permutevar8x32_ps(cosMax, octA))));
      const __m256 up1 = add(_mm256_loadu_ps(pr.xs[1] + g0), mul(epsV, mul(rA, _mm256_permutevar8x32_ps(sinMax, octA))));
      const __m256 up2 = add(_mm256_loadu_ps(pr.xs[2] + g0), mul(epsV, mul(rB, _mm256_permutevar8x32_ps(cosMax, octB))));
      const __m256 up3 = add(_mm256_loadu_ps(pr.xs[3] + g0), mul(epsV, mul(rB, _mm256_permutevar8x32_ps(sinMax, octB))));
      const unsigned maskA = static_cast<unsigned>(_mm256_movemask_ps(
          _mm256_or_ps(_mm256_cmp_ps(up0, tau, _CMP_NLT_UQ), _mm256_cmp_ps(up1, tau, _CMP_NLT_UQ))));
      const unsigned maskB = static_cast<unsigned>(_mm256_movemask_ps(
          _mm256_or_ps(_mm256_cmp_ps(up2, tau, _CMP_NLT_UQ), _mm256_cmp_ps(up3, tau, _CMP_NLT_UQ))));
      if ((maskA | maskB) == 0) continue;
      _mm256_store_si256(reinterpret_cast<__m256i*>(w[0]), ws.w0);
      _mm256_store_si256(reinterpret_cast<__m256i*>(w[1]), ws.w1);
      _mm256_store_si256(reinterpret_cast<__m256i*>(w[2]), ws.w2);
      _mm256_store_si256(reinterpret_cast<__m256i*>(w[3]), ws.w3);
      pushPairs(pend, maskA, w[0], w[1], pr.xs[0], pr.xs[1], g0, 0);
      pushPairs(pend, maskB, w[2], w[3], pr.xs[2], pr.xs[3], g0, 2);
      while (pend.n >= 8) flush8(pend, 8, pr, epsV, cand);
    }
  }
  if (pend.n > 0) flush8(pend, pend.n, pr, epsV, cand);
  *column = cand.tb.kthColumn();
  *value = cand.tb.kthValue();
}

// ---------------------------------------------------------------------------------------
// AVX-512F: the same sweep with 16 Philox instances per block (integer work and the bounds
// only; exact values still come from boxMuller8 above, so the float operations that make a
// result are the same instructions as on the AVX2 path).
#define NTK_AVX512 __attribute__((target("avx2,avx512f")))
#define NTK_AVX512_INLINE __attribute__((target("avx2,avx512f"), always_inline)) inline

namespace {

struct Words16 {
  __m512i w0, w1, w2, w3;
};

NTK_AVX512_INLINE __m512i mulHiLo16(__m512i a, __m512i m, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

struct PhiloxKeys16 {
  __m512i k0[10], k1[10];
};

NTK_AVX512_INLINE Words16 philox16(__m512i group, uint32_t row, uint32_t sample, uint32_t offset,
                                   const PhiloxKeys16& keys) {
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  __m512i c0 = group;
  __m512i c1 = _mm512_set1_epi32(static_cast<int>(row));
  __m512i c2 = _mm512_set1_epi32(static_cast<int>(sample));
  __m512i c3 = _mm512_set1_epi32(static_cast<int>(offset));
#pragma GCC unroll 10
  for (int round = 0; round < 10; ++round) {
    __m512i lo0, lo1;
    const __m512i hi0 = mulHiLo16(c0, m0, lo0);
    const __m512i hi1 = mulHiLo16(c2, m1, lo1);
    c0 = _mm512_ternarylogic_epi32(hi1, c1, keys.k0[round], 0x96);  // hi1 ^ c1 ^ k0
    c2 = _mm512_ternarylogic_epi32(hi0, c3, keys.k1[round], 0x96);  // hi0 ^ c3 ^ k1
    c1 = lo1;
    c3 = lo0;
  }
  return Words16{c0, c1, c2, c3};
}

NTK_AVX512_INLINE __m512 add16(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
NTK_AVX512_INLINE __m512 mul16(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
NTK_AVX512_INLINE __m512 bc16(float f) { return _mm512_set1_ps(f); }

// logUnit of philox_normal.h on 16 lanes (the same operations as logUnit8).
NTK_AVX512_INLINE __m512 logUnit16(__m512 u) {
  const __m512i bits = _mm512_castps_si512(u);
  __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127));
  const __m512i mant = _mm512_and_si512(bits, _mm512_set1_epi32(0x007FFFFF));
  const __mmask16 big = _mm512_cmpgt_epi32_mask(mant, _mm512_set1_epi32(0x003504F3));
  const __m512i mbits = _mm512_or_si512(
      mant, _mm512_mask_blend_epi32(big, _mm512_set1_epi32(0x3F800000), _mm512_set1_epi32(0x3F000000)));
  e = _mm512_mask_add_epi32(e, big, e, _mm512_set1_epi32(1));
  const __m512 m = _mm512_castsi512_ps(mbits);
  const __m512 f = _mm512_sub_ps(m, bc16(1.0f));
  const __m512 s = _mm512_div_ps(f, add16(bc16(2.0f), f));
  const __m512 s2 = mul16(s, s);
  __m512 p = bc16(0.2222222238779068f);
  p = add16(mul16(p, s2), bc16(0.2857142984867096f));
  p = add16(mul16(p, s2), bc16(0.4000000059604645f));
  p = add16(mul16(p, s2), bc16(0.6666666865348816f));
  const __m512 logm = add16(mul16(bc16(2.0f), s), mul16(mul16(s, s2), p));
  const __m512 ef = _mm512_cvtepi32_ps(e);
  return add16(mul16(ef, bc16(0.693145751953125f)), add16(mul16(ef, bc16(1.428606765330187e-06f)), logm));
}

NTK_AVX512_INLINE __m512 sinQuarter16(__m512 a) {
  const __m512 a2 = mul16(a, a);
  __m512 p = bc16(2.7557318844628753e-06f);
  p = add16(mul16(p, a2), bc16(-0.00019841270113829523f));
  p = add16(mul16(p, a2), bc16(0.008333333767950535f));
  p = add16(mul16(p, a2), bc16(-0.1666666716337204f));
  return add16(a, mul16(mul16(a, a2), p));
}

NTK_AVX512_INLINE __m512 cosQuarter16(__m512 a) {
  const __m512 a2 = mul16(a, a);
  __m512 q = bc16(-2.755731998149713e-07f);
  q = add16(mul16(q, a2), bc16(2.4801587642286904e-05f));
  q = add16(mul16(q, a2), bc16(-0.0013888889225199819f));
  q = add16(mul16(q, a2), bc16(0.0416666679084301f));
  q = add16(mul16(q, a2), bc16(-0.5f));
  return add16(bc16(1.0f), mul16(a2, q));
}

// boxMuller of philox_normal.h on 16 word pairs (the same operations as boxMuller8).
NTK_AVX512_INLINE void boxMuller16(__m512i radius, __m512i angle, __m512& z0, __m512& z1) {
  const __m512i m1 = _mm512_add_epi32(_mm512_srli_epi32(radius, 8), _mm512_set1_epi32(1));
  const __m512 u = mul16(_mm512_cvtepi32_ps(m1), bc16(5.9604644775390625e-08f));
  const __m512 r = _mm512_sqrt_ps(mul16(bc16(-2.0f), logUnit16(u)));
  const __m512i b = _mm512_srli_epi32(angle, 8);
  const __m512i qRaw = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(1 << 21)), 22);
  const __m512i t = _mm512_sub_epi32(b, _mm512_slli_epi32(qRaw, 22));
  const __m512 a = mul16(_mm512_cvtepi32_ps(t), bc16(3.7450703871400037e-07f));
  const __m512 s = sinQuarter16(a);
  const __m512 c = cosQuarter16(a);
  const __m512i q = _mm512_and_si512(qRaw, _mm512_set1_epi32(3));
  const __mmask16 swap = _mm512_test_epi32_mask(q, _mm512_set1_epi32(1));
  const __m512 cosBase = _mm512_mask_blend_ps(swap, c, s);
  const __m512 sinBase = _mm512_mask_blend_ps(swap, s, c);
  const __mmask16 q1 = _mm512_cmpeq_epi32_mask(q, _mm512_set1_epi32(1));
  const __mmask16 q2 = _mm512_cmpeq_epi32_mask(q, _mm512_set1_epi32(2));
  const __mmask16 q3 = _mm512_cmpeq_epi32_mask(q, _mm512_set1_epi32(3));
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512i negCos = _mm512_maskz_mov_epi32(static_cast<__mmask16>(q1 | q2), sign);
  const __m512i negSin = _mm512_maskz_mov_epi32(static_cast<__mmask16>(q2 | q3), sign);
  const __m512 cosT = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(cosBase), negCos));
  const __m512 sinT = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(sinBase), negSin));
  z0 = mul16(r, cosT);
  z1 = mul16(r, sinT);
}

// radiusBound of kernel_internal.h on 16 words (same operations).
NTK_AVX512_INLINE __m512 radiusBound16(__m512i w) {
  const __m512i m1 = _mm512_add_epi32(_mm512_srli_epi32(w, 8), _mm512_set1_epi32(1));
  const __m512i fbits = _mm512_castps_si512(_mm512_cvtepi32_ps(m1));
  const __m512i t = _mm512_sub_epi32(_mm512_set1_epi32(static_cast<int>(151u << 23)), fbits);
  const __m512 r2 = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(t), _mm512_set1_ps(kRadiusScale)),
                                  _mm512_set1_ps(kRadiusSlack));
  return _mm512_sqrt_ps(r2);
}

}  // namespace

bool avx512Usable() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2");
}

namespace {

// Pairs whose bound reached tau, waiting for an exact Box-Muller 16 at a time. Filled by
// register compress + full-width stores (no per-pair branches); room for 16 lanes of slack.
struct Pending16 {
  alignas(64) uint32_t radius[80];
  alignas(64) uint32_t angle[80];
  alignas(64) uint32_t col[80];
  alignas(64) float x0[80];
  alignas(64) float x1[80];
  uint32_t n = 0;

  NTK_AVX512_INLINE void push(__mmask16 m, __m512i r, __m512i a, __m512i c, __m512 xa, __m512 xb) {
    _mm512_storeu_si512(radius + n, _mm512_maskz_compress_epi32(m, r));
    _mm512_storeu_si512(angle + n, _mm512_maskz_compress_epi32(m, a));
    _mm512_storeu_si512(col + n, _mm512_maskz_compress_epi32(m, c));
    _mm512_storeu_ps(x0 + n, _mm512_maskz_compress_ps(m, xa));
    _mm512_storeu_ps(x1 + n, _mm512_maskz_compress_ps(m, xb));
    n += static_cast<uint32_t>(__builtin_popcount(m));
  }

  // Exact y of the first `count` (<= 16) pairs; those at or above tau join the candidates.
  NTK_AVX512_INLINE void flush(uint32_t count, const PrunedRow& pr, __m512 epsW, Candidates& cand) {
    __m512 z0, z1;
    boxMuller16(_mm512_load_si512(radius), _mm512_load_si512(angle), z0, z1);
    alignas(64) float y[2][16];
    const __m512 y0 = _mm512_add_ps(_mm512_load_ps(x0), _mm512_mul_ps(epsW, z0));
    const __m512 y1 = _mm512_add_ps(_mm512_load_ps(x1), _mm512_mul_ps(epsW, z1));
    _mm512_store_ps(y[0], y0);
    _mm512_store_ps(y[1], y1);
    const __m512 tau = _mm512_set1_ps(cand.tau());
    const unsigned lanes = count >= 16 ? 0xFFFFu : (1u << count) - 1u;
    for (unsigned m = _mm512_cmp_ps_mask(y0, tau, _CMP_NLT_UQ) & lanes; m; m &= m - 1) {
      const unsigned q = static_cast<unsigned>(__builtin_ctz(m));
      if (col[q] < pr.d && !(cand.seeded && pr.isSeed(col[q]))) cand.add(y[0][q], col[q]);
    }
    for (unsigned m = _mm512_cmp_ps_mask(y1, tau, _CMP_NLT_UQ) & lanes; m; m &= m - 1) {
      const unsigned q = static_cast<unsigned>(__builtin_ctz(m));
      if (col[q] + 1 < pr.d && !(cand.seeded && pr.isSeed(col[q] + 1))) cand.add(y[1][q], col[q] + 1);
    }
    const uint32_t rest = n - count;  // < 64: move the tail to the front
    for (uint32_t i = 0; i < rest; i += 16) {
      _mm512_store_si512(radius + i, _mm512_loadu_si512(radius + count + i));
      _mm512_store_si512(angle + i, _mm512_loadu_si512(angle + count + i));
      _mm512_store_si512(col + i, _mm512_loadu_si512(col + count + i));
      _mm512_store_ps(x0 + i, _mm512_loadu_ps(x0 + count + i));
      _mm512_store_ps(x1 + i, _mm512_loadu_ps(x1 + count + i));
    }
    n = rest;
  }
};

}  // namespace

// One sweep. With a finite floor (a hint) the seeds are skipped and values below the floor are
// dropped; returns false when fewer than k values reached it (the result is then not exact).
NTK_AVX512_INLINE bool sweepAvx512(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float floor,
                                   uint32_t* column, float* value) {
  PhiloxKeys keys;
  makeKeys(sp.seedLo, sp.seedHi, keys);
  PhiloxKeys16 keys16;
  {
    uint32_t k0 = sp.seedLo, k1 = sp.seedHi;
    for (int round = 0; round < 10; ++round) {
      if (round > 0) {
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
      }
      keys16.k0[round] = _mm512_set1_epi32(static_cast<int>(k0));
      keys16.k1[round] = _mm512_set1_epi32(static_cast<int>(k1));
    }
  }
  const __m512 epsW = _mm512_set1_ps(eps);
  Candidates cand;
  cand.tb.reset(k);
  cand.floor = floor;
  cand.seeded = !(floor > -std::numeric_limits<float>::infinity());
  if (cand.seeded) seedCandidates(sp, eps, pr, keys, cand);
  const __m512 cosMax = _mm512_load_ps(kCosMax16);
  const __m512 sinMax = _mm512_load_ps(kSinMax16);
  const __m512i iota16 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  Pending16 pend;
  const uint32_t blocks16 = (pr.blocks + 1) / 2;
  for (uint32_t b = 0; b < blocks16; ++b) {
    const uint32_t g0 = b * 16;
    const __m512i groups = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(g0)), iota16);
    const Words16 ws = philox16(groups, sp.row, sp.sample, sp.offset, keys16);
    const __m512 tau = _mm512_set1_ps(cand.tau());
    const __m512 rA = radiusBound16(ws.w0), rB = radiusBound16(ws.w2);
    const __m512i octA = _mm512_srli_epi32(ws.w1, 28), octB = _mm512_srli_epi32(ws.w3, 28);  // 16 sectors
    const __m512 x0 = _mm512_loadu_ps(pr.xs[0] + g0), x1 = _mm512_loadu_ps(pr.xs[1] + g0);
    const __m512 x2 = _mm512_loadu_ps(pr.xs[2] + g0), x3 = _mm512_loadu_ps(pr.xs[3] + g0);
    const __m512 up0 = _mm512_add_ps(x0, _mm512_mul_ps(epsW, _mm512_mul_ps(rA, _mm512_permutexvar_ps(octA, cosMax))));
    const __m512 up1 = _mm512_add_ps(x1, _mm512_mul_ps(epsW, _mm512_mul_ps(rA, _mm512_permutexvar_ps(octA, sinMax))));
    const __m512 up2 = _mm512_add_ps(x2, _mm512_mul_ps(epsW, _mm512_mul_ps(rB, _mm512_permutexvar_ps(octB, cosMax))));
    const __m512 up3 = _mm512_add_ps(x3, _mm512_mul_ps(epsW, _mm512_mul_ps(rB, _mm512_permutexvar_ps(octB, sinMax))));
    const __mmask16 maskA = static_cast<__mmask16>(_mm512_cmp_ps_mask(up0, tau, _CMP_NLT_UQ) |
                                                   _mm512_cmp_ps_mask(up1, tau, _CMP_NLT_UQ));
    const __mmask16 maskB = static_cast<__mmask16>(_mm512_cmp_ps_mask(up2, tau, _CMP_NLT_UQ) |
                                                   _mm512_cmp_ps_mask(up3, tau, _CMP_NLT_UQ));
    const __m512i col = _mm512_slli_epi32(groups, 2);
    pend.push(maskA, ws.w0, ws.w1, col, x0, x1);
    pend.push(maskB, ws.w2, ws.w3, _mm512_add_epi32(col, _mm512_set1_epi32(2)), x2, x3);
    while (pend.n >= 16) pend.flush(16, pr, epsW, cand);
  }
  if (pend.n > 0) pend.flush(pend.n, pr, epsW, cand);
  if (cand.tb.filled < k) return false;
  *column = cand.tb.kthColumn();
  *value = cand.tb.kthValue();
  return true;
}

NTK_AVX512 void prunedSampleAvx512(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float hint,
                                   uint32_t* column, float* value) {
  if (hint > -std::numeric_limits<float>::infinity() && sweepAvx512(sp, eps, pr, k, hint, column, value)) return;
  sweepAvx512(sp, eps, pr, k, -std::numeric_limits<float>::infinity(), column, value);
}

// Every value of the sample, 16 groups per block, kept in group-major order (ys[j][g] is
// column 4g + j: no transpose, the selection takes (value, column) pairs in any order), then
// the k-th by rank. floor: as in kthColumnAvx2.
NTK_AVX512 void fullSampleAvx512(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float floor,
                                 float* ys, uint32_t* column, float* value) {
  PhiloxKeys16 keys16;
  uint32_t k0 = sp.seedLo, k1 = sp.seedHi;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    keys16.k0[round] = _mm512_set1_epi32(static_cast<int>(k0));
    keys16.k1[round] = _mm512_set1_epi32(static_cast<int>(k1));
  }
  const uint32_t lanes = ((pr.blocks + 1) / 2) * 16;
  const __m512 epsW = _mm512_set1_ps(eps);
  const __m512i iota16 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 fl = _mm512_set1_ps(floor);
  const __m512i dV = _mm512_set1_epi32(static_cast<int>(pr.d));
  uint32_t count = 0;
  __m512 laneMax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __mmask16 nan = 0;
  for (uint32_t g0 = 0; g0 < lanes; g0 += 16) {
    const Words16 ws = philox16(_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(g0)), iota16), sp.row, sp.sample,
                                sp.offset, keys16);
    __m512 z[4];
    boxMuller16(ws.w0, ws.w1, z[0], z[1]);
    boxMuller16(ws.w2, ws.w3, z[2], z[3]);
    // Lanes past d: counted never (-inf + eps * z is NaN when eps * z overflows to +inf).
    const __m512i col0 = _mm512_slli_epi32(_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(g0)), iota16), 2);
    for (int j = 0; j < 4; ++j) {
      const __m512 y = add16(_mm512_loadu_ps(pr.xs[j] + g0), mul16(epsW, z[j]));
      _mm512_storeu_ps(ys + j * lanes + g0, y);
      const __mmask16 valid = _mm512_cmplt_epu32_mask(_mm512_add_epi32(col0, _mm512_set1_epi32(j)), dV);
      count += static_cast<uint32_t>(__builtin_popcount(_mm512_mask_cmp_ps_mask(valid, y, fl, _CMP_NLT_UQ)));
      laneMax = _mm512_mask_max_ps(laneMax, valid, laneMax, y);
      nan = static_cast<__mmask16>(nan | _mm512_mask_cmp_ps_mask(valid, y, y, _CMP_UNORD_Q));
    }
  }
  if (count < k) floor = -std::numeric_limits<float>::infinity();
  if (floor == -std::numeric_limits<float>::infinity() && nan == 0 && k <= 16) {
    // No hint: the 16 lane maxima (over existing columns) are values of 16 distinct elements
    // (lanes hold disjoint columns; a lane with none keeps -inf), so the k-th largest of them
    // is a floor that k values reach.
    alignas(64) float m[16];
    _mm512_store_ps(m, laneMax);
    std::nth_element(m, m + (k - 1), m + 16, [](float a, float b) { return a > b; });
    floor = m[k - 1];
    count = k;  // at least; the collection below stops past 64
  }
  if (floor > -std::numeric_limits<float>::infinity() && count <= 64) {
    const __m512 fl2 = _mm512_set1_ps(floor);
    // Few values reach the floor: rank them by counting, branch-free. The k-th is the one
    // with exactly k - 1 composites above it (composites are distinct).
    alignas(64) uint64_t key[64];
    float val[64];
    uint32_t n = 0;
    for (uint32_t j = 0; j < 4; ++j) {
      const float* yj = ys + j * lanes;
      for (uint32_t g0 = 0; g0 < lanes; g0 += 16) {
        unsigned m = _mm512_cmp_ps_mask(_mm512_loadu_ps(yj + g0), fl2, _CMP_NLT_UQ);
        for (; m && n < 64; m &= m - 1) {
          const uint32_t g = g0 + static_cast<uint32_t>(__builtin_ctz(m));
          const uint32_t c = 4 * g + j;
          if (c < pr.d) {
            key[n] = composite(yj[g], c);
            val[n] = yj[g];
            ++n;
          }
        }
        if (m) n = 65;  // more than 64 reach the floor: rank them the other way
      }
    }
    if (n >= k && n <= 64) {
      const uint32_t padded = (n + 7) & ~7u;
      for (uint32_t i = n; i < padded; ++i) key[i] = 0;  // below every composite
      for (uint32_t i = 0; i < n; ++i) {
        const __m512i ki = _mm512_set1_epi64(static_cast<long long>(key[i]));
        uint32_t above = 0;
        for (uint32_t b = 0; b < padded; b += 8) {
          above += static_cast<uint32_t>(__builtin_popcount(
              _mm512_cmpgt_epu64_mask(_mm512_load_si512(reinterpret_cast<const __m512i*>(key + b)), ki)));
        }
        if (above == k - 1) {
          *column = compositeColumn(key[i]);
          *value = val[i];
          return;
        }
      }
    }
    // More than 64 reach the floor: rank by insertion below (the floor stays valid).
  }
  TopBuffer tb;
  tb.reset(k);
  for (uint32_t j = 0; j < 4; ++j) {
    const float* yj = ys + j * lanes;
    for (uint32_t g0 = 0; g0 < lanes; g0 += 16) {
      const float t = tb.tau > floor ? tb.tau : floor;
      unsigned m = _mm512_cmp_ps_mask(_mm512_loadu_ps(yj + g0), _mm512_set1_ps(t), _CMP_NLT_UQ);
      for (; m; m &= m - 1) {
        const uint32_t g = g0 + static_cast<uint32_t>(__builtin_ctz(m));
        const uint32_t c = 4 * g + j;
        if (c < pr.d) tb.insert(yj[g], c);
      }
    }
  }
  *column = tb.kthColumn();
  *value = tb.kthValue();
}

NTK_AVX2 void perturbedRowAvx2(const StreamPos& sp, float eps, const float* x, uint32_t d, float* y) {
  PhiloxKeys keys;
  makeKeys(sp.seedLo, sp.seedHi, keys);
  const __m256 epsV = _mm256_set1_ps(eps);
  const uint32_t blocks = (d + 31) / 32;
  for (uint32_t blk = 0; blk < blocks; ++blk) {
    const Words8 ws = philox8(iota8(blk * 8), sp.row, sp.sample, sp.offset, keys);
    __m256 z0, z1, z2, z3;
    boxMuller8(ws.w0, ws.w1, z0, z1);
    boxMuller8(ws.w2, ws.w3, z2, z3);
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
      _mm256_storeu_ps(y + c0 + 8 * j, add(xv, mul(epsV, out[j])));
    }
  }
}

NTK_AVX2 uint32_t kthColumnAvx2(const float* y, uint32_t d, uint32_t k, float floor) {
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

#else  // no AVX2 path on this compiler or architecture

bool avx2Usable() { return false; }
bool avx512Usable() { return false; }
uint32_t kthColumnAvx2(const float* y, uint32_t d, uint32_t k, float) {
  TopBuffer tb;
  tb.reset(k);
  for (uint32_t c = 0; c < d; ++c) tb.insert(y[c], c);
  return tb.kthColumn();
}
void prunedSampleAvx512(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float, uint32_t* column,
                        float* value) {
  prunedSampleAvx2(sp, eps, pr, k, column, value);
}
void fullSampleAvx512(const StreamPos&, float, const PrunedRow&, uint32_t, float, float*, uint32_t*, float*) {}
bool prepareRowAvx2(const float* x, uint32_t d, float* xs, size_t lanes, PrunedRow& pr, uint32_t seeds) {
  return prepareRowScalar(x, d, xs, lanes, pr, seeds);
}
void prunedSampleAvx2(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, uint32_t* column, float* value) {
  TopBuffer tb;
  tb.reset(k);
  prunedSampleScalar(sp, eps, pr, tb);
  *column = tb.kthColumn();
  *value = tb.kthValue();
}
void perturbedRowAvx2(const StreamPos& sp, float eps, const float* x, uint32_t d, float* y) {
  perturbedRowScalar(sp, eps, x, d, y);
}

#endif

}  // namespace cpu
}  // namespace ntk
