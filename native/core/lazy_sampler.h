// The lazy sampler ('lazy'): the k-th largest of x + eps * z over a row, and its column, with
// noise drawn only for the columns that can reach the top k. Shared by the CPU kernel
// (native/cpu/lazy_cpu.cpp) and the CUDA kernels (native/cuda/lazy_select.cuh), and, line for
// line, by lib/lazy-sampler.ts (NTK_HD, no std:: containers, no libm, no namespace-scope arrays).
//
// Construction (after Mussmann, Levy and Ermon, UAI 2017, lazy Gumbel sampling, adapted to
// Gaussian noise and the k-th order statistic):
//   per row, once: a histogram of x below its largest value (lazyBinIndex, float32; each bin with
//     its count and largest x, u_b), one counting pass and no comparison sort; a threshold T_1
//     chosen from x alone, with E(T_1) = sum_j Q((T_1 - x_j) / eps), the expected number of
//     perturbed values above it, at least lazyTarget(k) = k + 1 + 2.5 sqrt(k + 1) (bounded below
//     from the histogram, a short search on a grid of eps / 32); the bins merged into groups; the
//     columns listed by bin (a counting sort).
//   per sample: the columns whose perturbed value can reach T_1 (the candidates: z > tau_g =
//     (T_1 - margin - u_g) / eps in group g) by geometric skips with q_g = Q(tau_g), each with z
//     from N(0, 1) truncated to (tau_g, inf). Every other column has z <= tau_g, so its perturbed
//     value, rounded to float32 as the dense path rounds it, is strictly below T_1 (lazyThreshold's
//     margin covers the three roundings). When k of the drawn values reach T_1, the k-th of the
//     drawn values is the row's. Otherwise (rarely, by the choice of T_1) the sampler descends:
//     a lower T_2, and among the columns not drawn (known to have z <= tau_g) those with
//     z > tau_{2,g}, with probability P(Z > tau_2 | Z <= tau_1) and z from N(0, 1) on
//     (tau_2, tau_1], and so on; the last stage draws every column left (lazySample).
//   T_1 depends only on x, and each later threshold only on what was drawn before it, so every
//   stage draws exactly the columns above its threshold with their conditional law: the law of
//   the result is the dense draw's.
//
// Where the law is exact: (value, column) has the law of the dense draw with N(0, 1) noise, up to
//   - the uniform words (2^-32 granularity) and the Box-Muller normals of the rejection draws
//     (the dense stream's own law: 24-bit words, |z| <= 5.78);
//   - q_b from normalTail (relative error below 2e-13 against glibc erfc; test/lazy-bitident.test.ts
//     holds it to 1e-12 against tabulated values of Q and against normalTailSlow),
//     taken as 0 beyond t = 38 (P < 1e-315 per column), and a candidate probability below
//     kMinQ = 1e-300 taken as 0;
//   - the candidates' z rounded to float32 before the product, as every stream value is.
// Bit identity: every double operation is one IEEE-754 binary64 +, -, *, / or sqrt, in the written
// order (no FMA contraction: -ffp-contract=off; JavaScript numbers are binary64), plus floor and
// exact bit manipulation; no libm transcendental is called.
#pragma once

#include <cstdint>

#include "philox_normal.h"

// SIMD only on an x86 host: device code (and every other host) takes the scalar forms, which the
// SIMD ones equal word for word.
#if defined(__SSE2__) && !defined(__CUDA_ARCH__)
#include <emmintrin.h>
#define NTK_LAZY_SSE2 1
#endif

// binary64 operations on the device: plain + - * / below compile to add/sub/mul/div.rn.f64 (no
// FMA) because every CUDA build passes --fmad=false (CMakeLists.txt, bench/cuda; checked on the
// PTX by test/cuda-emu.test.ts). NTK_D* spell the same operations as the __d*_rn intrinsics, for
// device code that should not depend on the flag (lazyValuesEligible, native/cuda).
#if defined(__CUDA_ARCH__)
#define NTK_DADD(a, b) __dadd_rn((a), (b))
#define NTK_DSUB(a, b) __dsub_rn((a), (b))
#define NTK_DMUL(a, b) __dmul_rn((a), (b))
#define NTK_DDIV(a, b) __ddiv_rn((a), (b))
#define NTK_DSQRT(a) __dsqrt_rn((a))
#else
#include <cmath>
#define NTK_DADD(a, b) ((a) + (b))
#define NTK_DSUB(a, b) ((a) - (b))
#define NTK_DMUL(a, b) ((a) * (b))
#define NTK_DDIV(a, b) ((a) / (b))
#define NTK_DSQRT(a) std::sqrt((a))
#endif

namespace ntk {
namespace lazy {

// floor(v) for |v| < 2^62 by an integer conversion (baseline x86-64 has no rounding
// instruction, and std::floor would be a libm call); integers from 2^52 up are their own floor.
// Equal to Math.floor on every such input.
NTK_HD double floorDouble(double v) {
  if (!(v < 4503599627370496.0 && v > -4503599627370496.0)) return v;
  const double t = static_cast<double>(static_cast<int64_t>(v));  // toward zero
  return t > v ? t - 1.0 : t;
}
#define NTK_DFLOOR(a) floorDouble((a))

// Philox counter word 0 of the lazy sampler's draws (counter (c0, row, sample, offset), key =
// the seed, as the dense stream). The dense stream's word 0 is a group index below 2^29, so the
// top bits set keep the counters apart:
//   kTailTag | n: the n-th block of the sequential word stream (skips and truncated draws,
//   consumed in a fixed order).
constexpr uint32_t kTailTag = 0xC0000000u;

// ---- bins: the row's histogram below its largest x ----
//
// Every column gets a bin by its distance below the row's largest x, in float32:
// s = (x_max - x) * scale with scale = lazyBinScale(eps) (16 / eps, capped), then s is clamped to
// [0, kBinSteps] (a NaN or a negative s, which only a row changed while it is read could give,
// lands in bin 0) and the bin is a table of floor(s):
//   bins 0..63: width eps/16 (0 to 4 eps below the top), where nearly every candidate comes from
//   (a bin of width w at threshold a eps above it draws about exp(a w) times the columns that
//   exceed the threshold: 1.25 at a = 3.5, w = 1/16);
//   bins 64..95: width eps/4 (4 to 12 eps); 96..127: width eps (12 to 44 eps);
//   bin 128: everything further.
// The bins only decide how much is drawn, never the law: float32 (one subtraction, one product,
// both exact to reproduce in JavaScript with Math.fround) is enough and keeps the column pass free
// of conversions.
constexpr uint32_t kBins = 129;
constexpr uint32_t kBinSteps = 704;

struct BinTable {
  uint8_t of[kBinSteps + 1];
};
NTK_HD BinTable makeBinTable() {
  BinTable t = {};
  for (uint32_t j = 0; j <= kBinSteps; ++j)
    t.of[j] =
        static_cast<uint8_t>(j < 64 ? j : (j < 192 ? 64 + (j - 64) / 4 : (j < kBinSteps ? 96 + (j - 192) / 16 : 128)));
  return t;
}

// The scaled distance where bin b < 128 ends: its columns have s < lazyBinEnd(b) (bin 128 has no end).
NTK_HD int32_t lazyBinEnd(uint32_t b) {
  const int32_t i = static_cast<int32_t>(b);
  return i < 64 ? i + 1 : (i < 96 ? 64 + 4 * (i - 64) + 4 : 192 + 16 * (i - 96) + 16);
}

// float32(16 / eps), capped at 2^100 so that (x_max - x) * scale is never NaN on an eligible row
// (x_max - x is finite, at most 2e38; a product that overflows to +inf lands in bin 128).
NTK_HD float lazyBinScale(float eps) {
  const float s = 16.0f / eps;
  return s < 1.2676506002282294e30f ? s : 1.2676506002282294e30f;
}

// Bin of a column at scaled distance s. Total: any float s, NaN included, gives a bin in [0, 128]
// (the first comparison is false for NaN), so an index derived from x is always in range.
NTK_HD uint32_t lazyBinIndex(const BinTable& t, float s) {
  const float p = s > 0.0f ? s : 0.0f;
  const float c = p < static_cast<float>(kBinSteps) ? p : static_cast<float>(kBinSteps);
  return t.of[static_cast<uint32_t>(c)];  // truncation is floor for c >= 0
}

// Rows wider than this, and rows where k is close to d (2 m > d with m = lazyTopCount(k)), take
// the dense path: see lazyPrepareRow.
// to d, or d < 2m), take the dense path: see lazyPrepareRow.
constexpr uint32_t kMaxLazyD = 1u << 24;

// m = k + 8 + floor(k / 4): a row takes the lazy path only when 2 m <= d (the rule of the first
// version, kept so that the same rows fall back to 'dense').
NTK_HD uint32_t lazyTopCount(uint32_t k) { return k + 8u + k / 4u; }

// Below this bound on max|x| + eps * kZBound, no perturbed value the sampler can form overflows
// (a candidate's z is below about 38 + 23 = 61 for a 32-bit uniform).
constexpr double kZBound = 64.0;
constexpr double kSafeMagnitude = 1.0e38;

// ---- double-precision functions: +, -, *, /, sqrt, floor and bit moves only ----

NTK_HD uint64_t doubleBits(double d) { return bitCast<uint64_t>(d); }
NTK_HD double bitsDouble(uint64_t u) { return bitCast<double>(u); }

// 2^e for e in [-1022, 1023], exactly.
NTK_HD double pow2(int32_t e) { return bitsDouble(static_cast<uint64_t>(e + 1023) << 52); }

constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 32 significant bits: n * kLn2Hi is exact
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.4426950408889634;
constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kInvSqrt2Pi = 0.39894228040143270;

// 2 atanh(s) = 2s + 2s^3/3 + ... + 2s^23/23, for |s| <= 0.1716 (error below 1e-17 relative).
// The polynomial in y = s^2 by Estrin's scheme (pairs, then powers y^2, y^4, y^8): a tree four
// products deep instead of Horner's chain of ten, which is what a logarithm's latency is made of
// here (one per geometric skip and per Robert draw).
NTK_HD double twoAtanh(double s) {
  const double y = s * s;
  const double y2 = y * y;
  const double y4 = y2 * y2;
  const double y8 = y4 * y4;
  const double a0 = 0.66666666666666663 + 0.40000000000000002 * y;   // 2/3, 2/5
  const double a1 = 0.28571428571428570 + 0.22222222222222221 * y;   // 2/7, 2/9
  const double a2 = 0.18181818181818182 + 0.15384615384615385 * y;   // 2/11, 2/13
  const double a3 = 0.13333333333333333 + 0.11764705882352941 * y;   // 2/15, 2/17
  const double a4 = 0.10526315789473684 + 0.095238095238095233 * y;  // 2/19, 2/21
  const double b0 = a0 + a1 * y2;
  const double b1 = a2 + a3 * y2;
  const double b2 = a4 + 0.086956521739130432 * y2;  // 2/23
  const double p = (b0 + b1 * y4) + b2 * y8;
  return 2.0 * s + (s * y) * p;
}

// ln(x) for a normal x > 0 (the callers pass x >= 2^-53); 0 gives -inf.
NTK_HD double logPositive(double x) {
  if (x == 0.0) return bitsDouble(0xFFF0000000000000ull);  // -inf
  const uint64_t b = doubleBits(x);
  int32_t e = static_cast<int32_t>(b >> 52) - 1023;
  double m = bitsDouble((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);  // [1, 2)
  if (m > kSqrt2) {
    m = m * 0.5;  // exact
    e += 1;
  }
  const double f = m - 1.0;
  const double s = f / (2.0 + f);
  const double ed = static_cast<double>(e);
  return ed * kLn2Hi + (ed * kLn2Lo + twoAtanh(s));
}

// ln(1 - q) for q in (0, 1): the atanh series directly for small q, so that no precision of q is
// lost in 1 - q.
NTK_HD double logOneMinus(double q) {
  if (q <= 0.25) return twoAtanh((0.0 - q) / (2.0 - q));  // 1 - q = (1 + s) / (1 - s)
  return logPositive(1.0 - q);
}

// exp(x) for x <= 0 (0 below -745).
NTK_HD double expNonPositive(double x) {
  if (x < -745.0) return 0.0;
  const double n = NTK_DFLOOR(x * kInvLn2 + 0.5);
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;  // |r| <= 0.3466
  double p = 1.6059043836821613e-10;               // 1/13!
  p = p * r + 2.0876756987868100e-9;               // 1/12!
  p = p * r + 2.5052108385441720e-8;               // 1/11!
  p = p * r + 2.7557319223985888e-7;               // 1/10!
  p = p * r + 0.0000027557319223985893;            // 1/9!
  p = p * r + 0.000024801587301587302;             // 1/8!
  p = p * r + 0.00019841269841269841;              // 1/7!
  p = p * r + 0.0013888888888888889;               // 1/6!
  p = p * r + 0.0083333333333333332;               // 1/5!
  p = p * r + 0.041666666666666664;                // 1/4!
  p = p * r + 0.16666666666666666;                 // 1/3!
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^n in two exact factors (n >= -1075 here, each factor >= 2^-538).
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t half = ni / 2;  // truncates toward 0: both parts in [-538, 0]
  return (p * pow2(half)) * pow2(ni - half);
}

// Q(t) = P(Z > t) for Z ~ N(0, 1), the reference evaluation (series below 2.5, continued
// fraction above): 0 from t = 38 up, 1 from t = -38 down. Used to build the table below.
NTK_HD double normalTailSlow(double t) {
  if (t >= 38.0) return 0.0;
  if (t <= -38.0) return 1.0;
  const double a = t < 0.0 ? 0.0 - t : t;
  const double phi = expNonPositive((-0.5 * a) * a) * kInvSqrt2Pi;
  double q;
  if (a < 2.5) {
    // Phi(a) - 1/2 = phi(a) * sum_n a^(2n+1) / (2n+1)!!; 40 terms reach 1e-25 at a = 2.5.
    const double a2 = a * a;
    double term = a;
    double sum = a;
    for (int32_t n = 1; n <= 40; ++n) {
      term = (term * a2) / static_cast<double>(2 * n + 1);
      sum = sum + term;
    }
    q = 0.5 - phi * sum;
  } else {
    // Laplace's continued fraction Q(a) = phi(a) / (a + 1/(a + 2/(a + 3/(a + ...)))), evaluated
    // backward from a fixed depth (a fixed operation sequence on every backend).
    double f = a;
    for (int32_t n = 90; n >= 1; --n) f = a + static_cast<double>(n) / f;
    q = phi / f;
  }
  return t < 0.0 ? 1.0 - q : q;
}

// The fast Q: Taylor expansion about the nearest point t0 of a grid of step 1/32 on [-38, 38],
// Q(t0 + h) = Q(t0) - phi(t0) sum_{n>=1} (-1)^(n-1) He_{n-1}(t0) h^n / n! (He: the
// probabilists' Hermite polynomials, He_{n+1} = t He_n - n He_{n-1}), 16 terms: |t0 h| <= 0.6,
// so the remainder is below 1e-15 relative. Q(t0) and phi(t0) come from normalTailSlow and
// expNonPositive, tabulated once (the same operations on every backend give the same table).
constexpr int32_t kTailGridPerUnit = 32;
constexpr int32_t kTailGridPoints = 76 * kTailGridPerUnit + 1;  // t0 = -38 + i / 32
constexpr int32_t kTailTerms = 16;

// 1 / n for n in [2, 17] (correctly rounded; index 0 and 1 unused).
// (A function with a local table: device code may not index a namespace-scope constexpr array.)
NTK_HD double inverseOf(int32_t n) {
  // clang-format off
  constexpr double kInverse[18] = {0.0, 0.0, 0.50000000000000000, 0.33333333333333331, 0.25000000000000000, 0.20000000000000001, 0.16666666666666666, 0.14285714285714285, 0.12500000000000000, 0.11111111111111110, 0.10000000000000001, 0.090909090909090912, 0.083333333333333329, 0.076923076923076927, 0.071428571428571425, 0.066666666666666666, 0.062500000000000000, 0.058823529411764705};
  // clang-format on
  return kInverse[n];
}

struct TailTable {
  double q[kTailGridPoints];
  double phi[kTailGridPoints];
};

NTK_HD void fillTailTable(TailTable& tab) {
  for (int32_t i = 0; i < kTailGridPoints; ++i) {
    const double t0 = -38.0 + static_cast<double>(i) / static_cast<double>(kTailGridPerUnit);
    tab.q[i] = normalTailSlow(t0);
    tab.phi[i] = expNonPositive((-0.5 * t0) * t0) * kInvSqrt2Pi;
  }
}

// Terms of the expansion about t0: the n-th is about (|t0| + 1)^n |h|^n / n! relative to Q
// (|h| <= 1/64), so near the centre, where nearly every threshold falls, fewer terms reach the
// same precision: 8 below |t0| = 2, 10 below 6, 12 below 14, 16 beyond
// (test/lazy-bitident.test.ts holds the result to the slow reference on a grid over [-37.9, 37.3]).
NTK_HD int32_t tailTermsAt(double t0) {
  const double a = t0 < 0.0 ? 0.0 - t0 : t0;
  return a < 2.0 ? 8 : (a < 6.0 ? 10 : (a < 14.0 ? 12 : kTailTerms));
}

// Total: 0 for t >= 38 and for NaN (a threshold formed from a row changed while it is read), 1
// for t <= -38, a value in [0, 1] otherwise.
NTK_HD double normalTail(const TailTable& tab, double t) {
  if (!(t < 38.0)) return 0.0;
  if (t <= -38.0) return 1.0;
  const int32_t i = static_cast<int32_t>(NTK_DFLOOR((t + 38.0) * 32.0 + 0.5));
  const double t0 = -38.0 + static_cast<double>(i) / 32.0;
  const double h = t - t0;
  const int32_t terms = tailTermsAt(t0);
  // Two terms per step (signs + then -), h^n / n! by products with 1/n: no division.
  double hp = h;     // h^n / n!
  double heP = 0.0;  // He_{n-2}(t0)
  double heC = 1.0;  // He_{n-1}(t0)
  double sum = 0.0;
  for (int32_t n = 1; n <= terms; n += 2) {
    sum = sum + heC * hp;
    double heN = t0 * heC - static_cast<double>(n - 1) * heP;
    heP = heC;
    heC = heN;
    hp = (hp * h) * inverseOf(n + 1);
    sum = sum - heC * hp;
    heN = t0 * heC - static_cast<double>(n) * heP;
    heP = heC;
    heC = heN;
    hp = (hp * h) * inverseOf(n + 2);
  }
  const double q = tab.q[i] - tab.phi[i] * sum;
  return q < 0.0 ? 0.0 : (q > 1.0 ? 1.0 : q);
}

// The threshold of z for a group whose largest x is u, given a threshold value L (float32): a
// column x_j <= u with z <= it has float32(x_j + float32(eps * float32(z))) < L strictly. The margin
// bounds the three roundings (each at most 2^-24 relative of a magnitude at most |L| + 2|u| plus
// the margin itself) with room to spare, plus an absolute term for subnormal results.
NTK_HD double lazyThreshold(float kth, float u, float eps) {
  const double L = static_cast<double>(kth);
  const double ud = static_cast<double>(u);
  const double aL = L < 0.0 ? 0.0 - L : L;
  const double au = ud < 0.0 ? 0.0 - ud : ud;
  const double margin = (aL + 2.0 * au) * 9.5367431640625e-07 + 1.0e-37;  // 2^-20
  return ((L - margin) - ud) / static_cast<double>(eps);
}
// ---- Philox blocks four at a time ----

// Four Philox4x32-10 blocks with counter words (c0[i], c1, c2, c3), i = 0..3, and key (k0, k1):
// out[4 i + j] = word j of block i, exactly philox4x32_10's words. On an x86 host the four run
// side by side in SSE2 (one 32 x 32 -> 64 product instruction covers two of them), which costs
// about a quarter of four scalar blocks; elsewhere they run one after another.
NTK_HD void philoxBlocks4(const uint32_t* c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                          uint32_t* out) {
#if defined(NTK_LAZY_SSE2)
  __m128i x0 =
      _mm_set_epi32(static_cast<int>(c0[3]), static_cast<int>(c0[2]), static_cast<int>(c0[1]), static_cast<int>(c0[0]));
  __m128i x1 = _mm_set1_epi32(static_cast<int>(c1));
  __m128i x2 = _mm_set1_epi32(static_cast<int>(c2));
  __m128i x3 = _mm_set1_epi32(static_cast<int>(c3));
  const __m128i m0 = _mm_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m128i m1 = _mm_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    // 64-bit products of lanes 0, 2 and of lanes 1, 3; then the low and high halves in lane order.
    const __m128i p0e = _mm_mul_epu32(x0, m0), p0o = _mm_mul_epu32(_mm_srli_epi64(x0, 32), m0);
    const __m128i p2e = _mm_mul_epu32(x2, m1), p2o = _mm_mul_epu32(_mm_srli_epi64(x2, 32), m1);
    const __m128i lo0 = _mm_unpacklo_epi32(_mm_shuffle_epi32(p0e, 0x08), _mm_shuffle_epi32(p0o, 0x08));
    const __m128i hi0 = _mm_unpacklo_epi32(_mm_shuffle_epi32(p0e, 0x0D), _mm_shuffle_epi32(p0o, 0x0D));
    const __m128i lo1 = _mm_unpacklo_epi32(_mm_shuffle_epi32(p2e, 0x08), _mm_shuffle_epi32(p2o, 0x08));
    const __m128i hi1 = _mm_unpacklo_epi32(_mm_shuffle_epi32(p2e, 0x0D), _mm_shuffle_epi32(p2o, 0x0D));
    const __m128i n0 = _mm_xor_si128(_mm_xor_si128(hi1, x1), _mm_set1_epi32(static_cast<int>(k0)));
    const __m128i n2 = _mm_xor_si128(_mm_xor_si128(hi0, x3), _mm_set1_epi32(static_cast<int>(k1)));
    x0 = n0;
    x1 = lo1;
    x2 = n2;
    x3 = lo0;
  }
  alignas(16) uint32_t w[4][4];
  _mm_store_si128(reinterpret_cast<__m128i*>(w[0]), x0);
  _mm_store_si128(reinterpret_cast<__m128i*>(w[1]), x1);
  _mm_store_si128(reinterpret_cast<__m128i*>(w[2]), x2);
  _mm_store_si128(reinterpret_cast<__m128i*>(w[3]), x3);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) out[4 * i + j] = w[j][i];
#else
  for (int i = 0; i < 4; ++i) {
    const Philox4 b = philox4x32_10(c0[i], c1, c2, c3, k0, k1);
    for (int j = 0; j < 4; ++j) out[4 * i + j] = b.v[j];
  }
#endif
}

// ---- the word stream of one (row, sample) ----

// Blocks made per refill of the word stream: four on an x86 host (philoxBlocks4), one elsewhere.
// The stream's words are the same either way (block n is always counter kTailTag | n).
#if defined(NTK_LAZY_SSE2)
constexpr uint32_t kTailBlocksPerRefill = 4;
#else
constexpr uint32_t kTailBlocksPerRefill = 1;
#endif

struct TailStream {
  uint32_t seedLo, seedHi, offset, row, sample;
  uint32_t block;  // next Philox block
  uint32_t used;   // words of `words` consumed (4 * kTailBlocksPerRefill: none left)
  uint32_t words[4 * kTailBlocksPerRefill];
  bool hasSpare;
  float spare;
};

NTK_HD void tailStart(TailStream& st, uint32_t seedLo, uint32_t seedHi, uint32_t offset, uint32_t row,
                      uint32_t sample) {
  st.seedLo = seedLo;
  st.seedHi = seedHi;
  st.offset = offset;
  st.row = row;
  st.sample = sample;
  st.block = 0;
  st.used = 4 * kTailBlocksPerRefill;
  st.hasSpare = false;
  st.spare = 0.0f;
}

NTK_HD uint32_t tailWord(TailStream& st) {
  if (st.used == 4 * kTailBlocksPerRefill) {
#if defined(NTK_LAZY_SSE2)
    uint32_t c0[4];
    for (uint32_t i = 0; i < 4; ++i) c0[i] = kTailTag | ((st.block + i) & 0x3FFFFFFFu);
    philoxBlocks4(c0, st.row, st.sample, st.offset, st.seedLo, st.seedHi, st.words);
#else
    const Philox4 w =
        philox4x32_10(kTailTag | (st.block & 0x3FFFFFFFu), st.row, st.sample, st.offset, st.seedLo, st.seedHi);
    st.words[0] = w.v[0];
    st.words[1] = w.v[1];
    st.words[2] = w.v[2];
    st.words[3] = w.v[3];
#endif
    st.block += kTailBlocksPerRefill;
    st.used = 0;
  }
  return st.words[st.used++];
}

// Uniform in (0, 1), open at both ends: (w + 1/2) 2^-32, exact in binary64, from 2^-33 to
// 1 - 2^-33. So ln U is finite and strictly negative, and a geometric skip ln U / ln(1 - q) is a
// finite positive number for every q the sampler uses (see skipLaw).
// (w + 1/2) 2^-32: in the open (0, 1) for every word, so ln u is finite and negative (a word
// 0xFFFFFFFF once gave u = 1, and with it a NaN skip that never ended a walk).
NTK_HD double uniformOpen(uint32_t w) { return (static_cast<double>(w) + 0.5) * 2.3283064365386963e-10; }
NTK_HD double tailUniform(TailStream& st) { return uniformOpen(tailWord(st)); }

// A standard normal from the dense stream's Box-Muller (two words, two normals; the second is
// kept for the next call).
NTK_HD float tailNormal(TailStream& st) {
  if (st.hasSpare) {
    st.hasSpare = false;
    return st.spare;
  }
  const uint32_t w0 = tailWord(st);
  const uint32_t w1 = tailWord(st);
  const NormalPair p = boxMuller(w0, w1);
  st.spare = p.z1;
  st.hasSpare = true;
  return p.z0;
}

// Below this threshold, truncated draws are rejection from N(0, 1) (acceptance >= 0.31);
// from it up, Robert (1995)'s exponential proposal with the optimal rate.
constexpr double kRobertFrom = 0.5;

// What a truncated draw above t needs, computed once per group and stage:
// Robert's optimal rate alpha = (t + sqrt(t^2 + 4)) / 2 and 1 / alpha.
struct TruncatedBound {
  double t;
  double alpha;
  double invAlpha;
};

NTK_HD TruncatedBound truncatedBound(double t) {
  TruncatedBound b;
  b.t = t;
  b.alpha = 0.0;
  b.invAlpha = 0.0;
  if (t >= kRobertFrom) {
    b.alpha = (t + NTK_DSQRT(t * t + 4.0)) * 0.5;
    b.invAlpha = 1.0 / b.alpha;
  }
  return b;
}

// z ~ N(0, 1) conditioned on z > t, in binary64 (a Box-Muller normal below kRobertFrom, already
// a float32; Robert's z unrounded: the caller rounds once).
// Robert's test accepts z = t + E / alpha when ln V <= -(z - alpha)^2 / 2; since ln V <= V - 1,
// V - 1 <= -(z - alpha)^2 / 2 already accepts, and only the rest needs the logarithm (the
// decision is the same; most acceptances skip the logarithm).
NTK_HD double truncatedNormal(TailStream& st, const TruncatedBound& b) {
  const double t = b.t;
  if (t < kRobertFrom) {
    for (;;) {
      const float z = tailNormal(st);
      if (static_cast<double>(z) > t) return static_cast<double>(z);
    }
  }
  for (;;) {
    const double z = t - logPositive(tailUniform(st)) * b.invAlpha;
    const double dz = z - b.alpha;
    const double bound = (-0.5 * dz) * dz;
    const double v = tailUniform(st);
    if (v - 1.0 <= bound || logPositive(v) <= bound) return z;
  }
}
// ---- the law of one candidate's z: N(0, 1) restricted to (a, b] ----

// A candidate of stage 1 has z > a (b = +inf); one of a later stage has a < z <= b, since every
// column not drawn before is known only to have z <= b (its threshold of the stage before), and
// one of the last stage has z <= b (a = -inf). The method is chosen once per group and stage;
// each is exact and accepts with probability about 0.47 or more:
//   kDrawAbove: the tail above a (truncatedNormal), rejected when above b (chosen when
//     Q(b) <= Q(a) / 2, so at least half is kept);
//   kDrawBelow: the mirror image, -(the tail above -b), rejected when at or below a;
//   kDrawUniform: z uniform on (a, b], kept with probability phi(z) / phi(c), c the point of the
//     interval nearest 0 (a narrow interval: Q(b) > Q(a) / 2 on one side of 0, or b - a <= 2
//     across it);
//   kDrawPlain: a standard normal, kept when a < z <= b (an interval across 0 wider than 2).
constexpr uint32_t kDrawAbove = 0;
constexpr uint32_t kDrawBelow = 1;
constexpr uint32_t kDrawUniform = 2;
constexpr uint32_t kDrawPlain = 3;

struct DrawLaw {
  uint32_t mode;
  double a, b;        // the interval (a, b]; a may be -inf, b +inf
  double c;           // kDrawUniform: the point of the interval nearest 0
  TruncatedBound tb;  // kDrawAbove: the tail above a; kDrawBelow: the tail above -b
};

NTK_HD DrawLaw drawLaw(const TailTable& tab, double a, double b) {
  // Total: an empty or NaN interval (only a row changed while it is read gives one) becomes the
  // whole line, so that no draw can loop for ever.
  if (!(a < b)) {
    a = bitsDouble(0xFFF0000000000000ull);
    b = bitsDouble(0x7FF0000000000000ull);
  }
  DrawLaw w;
  w.mode = kDrawPlain;
  w.a = a;
  w.b = b;
  w.c = 0.0;
  w.tb = truncatedBound(0.0);
  if (a >= 0.0) {
    if (normalTail(tab, b) <= 0.5 * normalTail(tab, a)) {
      w.mode = kDrawAbove;
      w.tb = truncatedBound(a);
    } else {
      w.mode = kDrawUniform;
      w.c = a;
    }
  } else if (b <= 0.0) {
    if (normalTail(tab, 0.0 - a) <= 0.5 * normalTail(tab, 0.0 - b)) {
      w.mode = kDrawBelow;
      w.tb = truncatedBound(0.0 - b);
    } else {
      w.mode = kDrawUniform;
      w.c = b;
    }
  } else if (b - a <= 2.0) {
    w.mode = kDrawUniform;
  }
  return w;
}

// One z from the law w, in binary64 (rounded to float32 by the caller, as every stream value).
NTK_HD double drawZ(TailStream& st, const DrawLaw& w) {
  for (;;) {
    if (w.mode == kDrawAbove) {
      const double z = truncatedNormal(st, w.tb);
      if (z <= w.b) return z;
    } else if (w.mode == kDrawBelow) {
      const double z = 0.0 - truncatedNormal(st, w.tb);
      if (z > w.a) return z;
    } else if (w.mode == kDrawUniform) {
      const double z = w.a + (w.b - w.a) * tailUniform(st);
      const double bound = ((w.c - z) * (w.c + z)) * 0.5;  // ln(phi(z) / phi(c)) <= 0
      const double v = tailUniform(st);
      if (v - 1.0 <= bound || logPositive(v) <= bound) return z;
    } else {
      const double z = static_cast<double>(tailNormal(st));
      if (z > w.a && z <= w.b) return z;
    }
  }
}

// ---- the geometric skips of one group ----

// Below this a candidate probability is taken as 0: no candidate (the law's error is below
// d 1e-300). From it up, ln(1 - q) is a normal binary64 number, so 1 / ln(1 - q) is finite
// (about -1e300 at worst) and a skip ln U / ln(1 - q), with ln U in [-22.9, -1.2e-10]
// (tailUniform), is a finite positive number: it can neither be NaN nor loop.
constexpr double kMinQ = 1.0e-300;

struct SkipLaw {
  double q;      // 0: no candidate; 1: every column; else in [kMinQ, 1)
  double lq;     // ln(1 - q) (q in (0, 1))
  double invLq;  // 1 / ln(1 - q)
};

NTK_HD SkipLaw skipLaw(double q) {
  SkipLaw s;
  s.q = q >= kMinQ ? (q < 1.0 ? q : 1.0) : 0.0;  // NaN: 0
  s.lq = 0.0;
  s.invLq = 0.0;
  if (s.q > 0.0 && s.q < 1.0) {
    s.lq = logOneMinus(s.q);
    s.invLq = 1.0 / s.lq;
  }
  return s;
}

// The next candidate's position in a group of `count` columns after position `at`, given the
// uniform u of this skip; `count` or more when none is left. Total: for every SkipLaw and every u
// in (0, 1) it is a finite number greater than `at` (an integer, or `count` itself).
// Geometric skip G = floor(ln U / ln(1 - q)): P(G >= n) = (1 - q)^n. It passes the `left` columns
// still in the group iff ln U <= left ln(1 - q); ln U <= U - 1 decides most of those without the
// logarithm (the same decision).
NTK_HD double skipNext(double at, double count, double u, const SkipLaw& sk) {
  if (sk.q >= 1.0) return at + 1.0;
  if (!(sk.q > 0.0)) return count;
  const double left = count - (at + 1.0);
  if (u - 1.0 <= left * sk.lq) return count;
  return (at + 1.0) + NTK_DFLOOR(logPositive(u) * sk.invLq);
}

// P(Z > a | Z <= b) for a < b (0 when a >= b), from the side where neither tail cancels.
NTK_HD double conditionalTail(const TailTable& tab, double a, double b) {
  if (!(a < b)) return 0.0;
  if (b <= 0.0) {
    const double pb = normalTail(tab, 0.0 - b);  // P(Z <= b)
    if (!(pb > 0.0)) return 1.0;                 // b <= -38: no column was left undrawn
    return (pb - normalTail(tab, 0.0 - a)) / pb;
  }
  const double qb = normalTail(tab, b);
  return (normalTail(tab, a) - qb) / (1.0 - qb);
}

// ---- the threshold ----

// A threshold is T = float32(x_max + a eps / 32) for an integer a in [kGridLo, kGridHi] (-84 eps
// to 40 eps). The lower bound of the expected exceedances E(T) = sum_j Q((T - x_j) / eps) from the
// histogram, with each bin's columns put at its far end, is sum_b n_b Q(a / 32 + end_b / 16):
// the arguments lie on the grid of the tail table (step 1/32), so each Q is one table entry.
constexpr int32_t kGridPerEps = 32;
constexpr int32_t kGridLo = -84 * kGridPerEps;
constexpr int32_t kGridHi = 40 * kGridPerEps;

// Whether the lower bound of E at grid point a reaches target (total: the columns of bins 0..127).
// Stops as soon as the partial sum reaches it, or when even the columns left, all at the current
// bin's Q, could not.
NTK_HD bool lazyEnough(const TailTable& tab, const uint32_t* binCount, double total, int32_t a, double target) {
  double rest = total;
  double sum = 0.0;
  for (uint32_t b = 0; b + 1 < kBins; ++b) {
    const uint32_t n = binCount[b];
    if (n == 0) continue;
    // the table index of a / 32 + end_b / 16: (v + 38) * 32
    const int32_t i = a + 2 * lazyBinEnd(b) + 38 * kGridPerEps;
    const double q = i >= kTailGridPoints - 1 ? 0.0 : (i <= 0 ? 1.0 : tab.q[i]);
    sum = sum + static_cast<double>(n) * q;
    if (sum >= target) return true;
    rest = rest - static_cast<double>(n);
    if (sum + rest * q < target) return false;
  }
  return false;
}

// The largest grid point a < below with lazyEnough (a bisection, 12 steps over the grid), or
// kGridLo - 1 when not even kGridLo has it.
NTK_HD int32_t lazySearchGrid(const TailTable& tab, const uint32_t* binCount, double target, int32_t below) {
  double total = 0.0;
  for (uint32_t b = 0; b + 1 < kBins; ++b) total = total + static_cast<double>(binCount[b]);
  if (below <= kGridLo || !lazyEnough(tab, binCount, total, kGridLo, target)) return kGridLo - 1;
  int32_t lo = kGridLo, hi = below;
  while (hi - lo > 1) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (lazyEnough(tab, binCount, total, mid, target))
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

// The expected exceedances asked of the first threshold: k + 1 and 2.5 standard deviations
// (Poisson: sqrt(k + 1)), so that fewer than k are found in about 1% of the samples or less.
NTK_HD double lazyTarget(uint32_t k) {
  const double k1 = static_cast<double>(k) + 1.0;
  return k1 + 2.5 * NTK_DSQRT(k1);
}

NTK_HD float lazyGridValue(float hi, int32_t a, float eps) {
  return static_cast<float>(static_cast<double>(hi) + (static_cast<double>(a) * 0.03125) * static_cast<double>(eps));
}

// The stages of the descent: stage s + 1 lowers the threshold by s eps (1, 2, 3, ... eps below
// the one before); after kMaxStages stages, or below kGridLo, the last stage draws every column
// left. The threshold of a stage may depend on anything drawn before it: given those draws, the
// columns not drawn are independent with the law N(0, 1) truncated above at their last threshold.
constexpr uint32_t kMaxStages = 6;

// ---- the prepared row ----

// A group: the columns cols[begin, end) (whole bins, consecutive), bounded above by u, with the
// first stage's threshold of z, tau = lazyThreshold(T1, u, eps), its candidate probability and
// candidate law. Grouping bins changes only how much is drawn (any bound at or above a group's
// columns keeps the law exact); they are merged while the extra candidates that costs stay below
// kGroupSlack in expectation, since each group costs a uniform per sample.
constexpr double kGroupSlack = 0.125;

struct LazyGroup {
  uint32_t begin, end;
  float u;
  double tau;
  SkipLaw skip;
  DrawLaw law;
};

struct LazyRow {
  const float* x = nullptr;  // the row, contiguous
  uint32_t d = 0;
  uint32_t k = 1;
  float eps = 0.0f;
  float hi = 0.0f;  // the largest x
  int32_t a1 = 0;   // the first threshold's grid point
  float t1 = 0.0f;  // the first threshold, lazyGridValue(hi, a1, eps)
  uint32_t groups = 0;
  const LazyGroup* group = nullptr;  // [groups]
  const uint32_t* cols = nullptr;    // [d]: every column by (bin, column)
  const TailTable* tail = nullptr;   // filled by fillTailTable
};

// Where a prepared row lives: binOf and cols of d entries each, the histogram and the groups of
// kBins entries each.
struct LazyRowStorage {
  uint8_t* binOf;
  uint32_t* cols;
  uint32_t* binCount;
  float* binMax;
  LazyGroup* group;
};

// Scratch of one sample: the drawn (key, value) pairs, at most d, and a bit per column (marks,
// (d + 63) / 64 words). The marks must be all 0 before a sample; lazySample leaves them so (it
// clears the ones it set). The CUDA kernel keeps key and marks in one slot of lazySlotWidth(d)
// entries (d keys, then the mark words).
NTK_HD uint64_t lazyMarkWords(uint64_t d) { return (d + 63) / 64; }
NTK_HD uint64_t lazySlotWidth(uint64_t d) { return d + lazyMarkWords(d); }

// ---- the row preparation (both backends: the CPU runs its SIMD form of the two column passes,
// which must equal lazyExtremesFrom and lazyBinFrom here) ----

// The part of the eligibility rule that needs no value of the row: eps > 0, d <= 2^24, 2m <= d.
NTK_HD bool lazyShapeEligible(uint64_t d, uint32_t k, float eps) {
  const uint64_t m = lazyTopCount(k);
  return eps > 0.0f && d <= kMaxLazyD && 2 * m <= d;
}

// The row's largest and smallest x and whether every x is finite, as a running scan.
struct LazyExtremes {
  float hi;
  float lo;
  bool finite;
};

NTK_HD LazyExtremes lazyExtremesStart(const float* x) { return LazyExtremes{x[0], x[0], true}; }

// Continues the scan over x[from, d).
NTK_HD void lazyExtremesFrom(const float* x, uint32_t from, uint32_t d, LazyExtremes& e) {
  for (uint32_t c = from; c < d; ++c) {
    const float v = x[c];
    e.finite = e.finite && (NTK_FSUB(v, v) == 0.0f);  // false for NaN and +-inf
    e.hi = v > e.hi ? v : e.hi;
    e.lo = v < e.lo ? v : e.lo;
  }
}

// The rest of the rule, on the scanned row: every x finite and max|x| + 64 eps <= 1e38, so that
// no perturbed value the sampler forms can overflow.
NTK_HD bool lazyValuesEligible(const LazyExtremes& e, float eps) {
  if (!e.finite) return false;
  const double hd = static_cast<double>(e.hi), ld = static_cast<double>(e.lo);
  const double ah = hd < 0.0 ? 0.0 - hd : hd, al = ld < 0.0 ? 0.0 - ld : ld;
  const double maxAbs = ah < al ? al : ah;
  return !(NTK_DADD(maxAbs, NTK_DMUL(static_cast<double>(eps), kZBound)) > kSafeMagnitude);
}

NTK_HD void lazyHistogramStart(uint32_t* binCount, float* binMax) {
  for (uint32_t b = 0; b < kBins; ++b) {
    binCount[b] = 0;
    binMax[b] = bitsToFloat(0xFF800000u);  // -inf
  }
}

// The counting pass over x[from, d): each column's bin (from one read of x[c]) into binOf, and
// the bin's count and largest x from that same value. So the counts and binOf always agree and
// every bin index is in range (lazyBinIndex), whatever the row holds.
NTK_HD void lazyBinFrom(const float* x, uint32_t from, uint32_t d, float hi, float scale, const BinTable& table,
                        uint8_t* binOf, uint32_t* binCount, float* binMax) {
  for (uint32_t c = from; c < d; ++c) {
    const float v = x[c];
    const uint32_t b = lazyBinIndex(table, NTK_FMUL(NTK_FSUB(hi, v), scale));
    binOf[c] = static_cast<uint8_t>(b);
    ++binCount[b];
    binMax[b] = v > binMax[b] ? v : binMax[b];
  }
}

// After the counting pass: the first threshold (false when none is found: the row takes the dense
// path), the groups, and every column by (bin, column) (a counting sort over binOf). `raise`
// lifts the first threshold by that many grid points (0 in use; a test hook sets it to force the
// descent). x stays the caller's: the row, contiguous.
NTK_HD bool lazyFinishRow(const float* x, uint32_t d, uint32_t k, float eps, float hi, const LazyRowStorage& s,
                          const TailTable* tail, int32_t raise, LazyRow& r) {
  const TailTable& tab = *tail;
  int32_t a1 = lazySearchGrid(tab, s.binCount, lazyTarget(k), kGridHi);
  if (a1 < kGridLo) return false;  // fewer than ~target columns within 44 eps of the top
  a1 = a1 + (raise > 0 ? (raise < kGridHi - a1 ? raise : kGridHi - a1) : 0);
  const float t1 = lazyGridValue(hi, a1, eps);
  // Groups of consecutive bins (in bin order, so by decreasing x), each bounded by its largest x.
  uint32_t groups = 0;
  uint32_t at = 0;
  double extra = 0.0;
  for (uint32_t b = 0; b < kBins; ++b) {
    const uint32_t n = s.binCount[b];
    if (n == 0) continue;
    const float ub = s.binMax[b];
    if (groups > 0) {
      LazyGroup& g = s.group[groups - 1];
      const double qg = g.skip.q;
      const double dn = static_cast<double>(n);
      bool merge = false;
      if (ub <= g.u) {
        if (extra + dn * qg <= kGroupSlack) {  // q_b <= q_g: no need for q_b
          merge = true;
          extra = extra + dn * qg;
        } else {
          const double qb = normalTail(tab, lazyThreshold(t1, ub, eps));
          const double more = dn * (qg - qb);
          if (extra + more <= kGroupSlack) {
            merge = true;
            extra = extra + more;
          }
        }
      }
      if (merge) {
        g.end = at + n;
        at += n;
        continue;
      }
    }
    LazyGroup& g = s.group[groups++];
    g.begin = at;
    g.end = at + n;
    g.u = ub;
    g.tau = lazyThreshold(t1, ub, eps);
    g.skip = skipLaw(normalTail(tab, g.tau));
    g.law = drawLaw(tab, g.tau, bitsDouble(0x7FF0000000000000ull));  // (tau, +inf)
    extra = 0.0;
    at += n;
  }
  // The counting sort: bin b's columns at [start_b, start_b + n_b), in column order.
  uint32_t fill[kBins];
  at = 0;
  for (uint32_t b = 0; b < kBins; ++b) {
    fill[b] = at;
    at += s.binCount[b];
  }
  for (uint32_t c = 0; c < d; ++c) s.cols[fill[s.binOf[c]]++] = c;
  r.x = x;
  r.d = d;
  r.k = k;
  r.eps = eps;
  r.hi = hi;
  r.a1 = a1;
  r.t1 = t1;
  r.groups = groups;
  r.group = s.group;
  r.cols = s.cols;
  r.tail = tail;
  return true;
}

// Whether a row (contiguous, d columns) takes the lazy path, and if so its preparation into s and
// r: the scalar form of the CPU kernel's preparation. The rule depends only on the row, k and eps
// (and raise, 0 in use), so every backend sends the same rows to the dense path.
NTK_HD bool lazyPrepareRow(const float* x, uint32_t d, uint32_t k, float eps, const LazyRowStorage& s,
                           const TailTable* tail, int32_t raise, LazyRow& r) {
  if (!lazyShapeEligible(d, k, eps)) return false;
  LazyExtremes e = lazyExtremesStart(x);
  lazyExtremesFrom(x, 0, d, e);
  if (!lazyValuesEligible(e, eps)) return false;
  const BinTable table = makeBinTable();
  lazyHistogramStart(s.binCount, s.binMax);
  lazyBinFrom(x, 0, d, e.hi, lazyBinScale(eps), table, s.binOf, s.binCount, s.binMax);
  return lazyFinishRow(x, d, k, eps, e.hi, s, tail, raise, r);
}

// Reorders key/val[0, n) so that [0, k) hold the k largest keys and key[k - 1] is the k-th
// (keys are distinct). Any correct selection gives the same k-th.
NTK_HD void selectLargest(uint64_t* key, float* val, uint32_t n, uint32_t k) {
  uint32_t lo = 0, hi = n - 1;
  const uint32_t target = k - 1;
  while (lo < hi) {
    const uint64_t pivot = key[lo + (hi - lo) / 2];
    uint32_t i = lo, j = hi;
    for (;;) {
      while (key[i] > pivot) ++i;
      while (key[j] < pivot) --j;
      if (i >= j) break;
      const uint64_t tk = key[i];
      key[i] = key[j];
      key[j] = tk;
      const float tv = val[i];
      val[i] = val[j];
      val[j] = tv;
      ++i;
      --j;
    }
    // [lo, j] >= pivot >= [j + 1, hi] (Hoare partition on distinct keys).
    if (target <= j)
      hi = j;
    else
      lo = j + 1;
  }
}

struct LazyResult {
  uint32_t column;
  float value;
  uint32_t drawn;   // candidates drawn (normals), for the work counts
  uint32_t stages;  // 1 + the descents
};

// One (row, sample). key/val: scratch of d entries each; marks: lazyMarkWords(d) words, all 0
// (left so).
//
// Stage s has a threshold T_s (T_1 = r.t1, chosen from x alone) and, for each group g, the
// threshold of z tau_{s,g} = lazyThreshold(T_s, u_g, eps): a column of g whose z is at or below it
// has a float32 perturbed value strictly below T_s (the margin covers the three roundings). Stage
// 1 draws every column with z > tau_1 (the candidates: geometric skips with q = Q(tau_1), z from
// N(0, 1) above tau_1); every column not drawn then has z <= tau_1 and a value below T_1. If
// fewer than k drawn values reach T_1, stage 2 draws, among the columns not drawn (marks), those
// with z > tau_2, each with probability P(Z > tau_2 | Z <= tau_1) and z from N(0, 1) on
// (tau_2, tau_1], and so on; the last stage draws every column left. When k drawn values reach
// T_s, every column not drawn is below them: the k-th of the drawn values is the row's k-th.
NTK_HD LazyResult lazySample(const LazyRow& r, uint32_t seedLo, uint32_t seedHi, uint32_t offset, uint32_t row,
                             uint32_t sample, uint64_t* key, float* val, uint64_t* marks) {
  const TailTable& tab = *r.tail;
  TailStream st;
  tailStart(st, seedLo, seedHi, offset, row, sample);
  const double inf = bitsDouble(0x7FF0000000000000ull);
  uint32_t n = 0;
  uint32_t stage = 1;
  int32_t a = r.a1;
  float t = r.t1;
  float tPrev = r.t1;
  bool last = false;
  for (;;) {
    for (uint32_t gi = 0; gi < r.groups; ++gi) {
      const LazyGroup& g = r.group[gi];
      SkipLaw sk = g.skip;
      DrawLaw law = g.law;
      if (stage > 1) {
        const double tauPrev = stage == 2 ? g.tau : lazyThreshold(tPrev, g.u, r.eps);
        const double tau = last ? 0.0 - inf : lazyThreshold(t, g.u, r.eps);
        sk = skipLaw(last ? 1.0 : conditionalTail(tab, tau, tauPrev));
        if (sk.q <= 0.0) continue;
        law = drawLaw(tab, tau, tauPrev);
      }
      if (sk.q <= 0.0) continue;
      const bool every = sk.q >= 1.0;
      const double countD = static_cast<double>(g.end - g.begin);
      double at = -1.0;  // position in the group of the last candidate
      for (;;) {
        // `every` draws no uniform: skipNext would step by one without it
        at = every ? at + 1.0 : skipNext(at, countD, tailUniform(st), sk);
        if (at >= countD) break;
        const uint32_t c = r.cols[g.begin + static_cast<uint32_t>(at)];
        const uint64_t bit = 1ull << (c & 63u);
        if (marks[c >> 6] & bit) continue;  // drawn at an earlier stage
        marks[c >> 6] |= bit;
        const float y = perturb(r.x[c], r.eps, static_cast<float>(drawZ(st, law)));
        key[n] = rankComposite(y, c);
        val[n] = y;
        ++n;
      }
    }
    uint32_t reached = 0;
    for (uint32_t i = 0; i < n; ++i) reached += val[i] >= t ? 1u : 0u;
    if (last || reached >= r.k) break;
    // Descend: 1, 2, 3, ... eps lower, then everything.
    tPrev = t;
    a = a - static_cast<int32_t>(stage) * kGridPerEps;
    ++stage;
    if (stage > kMaxStages || a < kGridLo)
      last = true;
    else
      t = lazyGridValue(r.hi, a, r.eps);
  }
  selectLargest(key, val, n, r.k);
  LazyResult res;
  res.column = compositeColumn(key[r.k - 1]);
  res.value = val[r.k - 1];
  res.drawn = n;
  res.stages = stage;
  for (uint32_t i = 0; i < n; ++i) {  // leave the marks all 0
    const uint32_t c = compositeColumn(key[i]);
    marks[c >> 6] &= ~(1ull << (c & 63u));
  }
  return res;
}

}  // namespace lazy
}  // namespace ntk
