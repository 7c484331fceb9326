// The lazy sampler ('lazy'): the k-th largest of x + eps * z over a row, and its column, with
// noise drawn only for the columns that can reach the top k. Shared by the CPU kernel
// (native/cpu/lazy_cpu.cpp) and the CUDA kernels (native/cuda/lazy_select.cuh), and, line for
// line, by lib/lazy-sampler.ts (NTK_HD, no std:: containers, no libm, no namespace-scope arrays).
//
// Construction (Mussmann, Levy and Ermon, UAI 2017, lazy Gumbel sampling, adapted to Gaussian
// noise and the k-th order statistic):
//   per row, once: every column gets a bucket by its distance below the largest x in units of
//     eps (lazyBucketIndex, float32); the near buckets (kNearBuckets, within 3 eps) are sorted,
//     each with its largest x, u_b; the rest is the far set, unsorted, with its largest x; the top
//     list T is the first m = lazyTopCount(k) columns in bucket order (the largest x, up to the
//     bucket grain).
//   per sample: z for the m columns (the dense stream's Box-Muller, own counters); L = the k-th
//     of their perturbed values, a lower bound of the row's k-th. Bucket by bucket, with
//     t_b = (L - margin - u_b) / eps, every column of the bucket has z > t_b independently with
//     probability q_b = P(Z > t_b): those columns (the candidates) are found by geometric skips
//     and given z from N(0, 1) truncated to (t_b, inf); a candidate whose perturbed value ranks
//     above the current k-th is kept. After each bucket L is raised to the k-th of all kept.
//   Every column that is not a candidate has z <= t_b, so its perturbed value, rounded to
//   float32 as the dense path rounds it, is strictly below L (lazyThreshold's margin covers the
//   three roundings): it cannot be the k-th nor above it. Raising L between buckets is exact
//   because L then depends only on columns of earlier buckets, independent of later ones.
//
// Where the law is exact: conditional on the top-m draws, each other column's z is N(0, 1)
// restricted as above, so (value, column) has the law of the dense draw with N(0, 1) noise, up to
//   - the uniform words (2^-32 granularity, the midpoints (w + 1/2) 2^-32) and the Box-Muller normals of the top m and
//   of the
//     rejection draws (the dense stream's own law: 24-bit words, |z| <= 5.78);
//   - q_b from normalTail (relative error below 2e-13 against glibc erfc; test/lazy-bitident.test.ts
//     holds it to 1e-12 against tabulated values of Q and against normalTailSlow),
//     taken as 0 below 2^-1022 (t above about 37.5; P < 2.3e-308 per column: lazySkipPlan);
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
// two top bits name the purpose and no counter is shared:
//   kTopTag | (j / 4): the normals of the top-m list's entries j (4 per Philox block);
//   kTailTag | n: the n-th block of the sequential word stream (skips and truncated draws).
constexpr uint32_t kTopTag = 0x80000000u;
constexpr uint32_t kTailTag = 0xC0000000u;

// Buckets by distance below the row's largest x, in float32: s = (x_max - x) * scale with
// scale = lazyBucketScale(eps) (4 / eps, capped), s >= 0:
//   buckets 0..15: width eps/4 (distance 0 to 4 eps), where most candidates come from (the
//   overdraw of a bucket of width w at threshold t is about exp(t * w));
//   buckets 16..23: width eps (4 to 12 eps); 24..31: width 4 eps (12 to 44 eps);
//   bucket 32: everything further (its q is 0 unless L is within 38 eps of it).
// The top list T (drawn first, L = the k-th of T) is the first m columns in (bucket, column)
// order: whole buckets from 0, then the first columns of the bucket where the count reaches m.
// The rest of that bucket stays in it, bounded by the whole bucket's largest x (any bound above a
// bucket's columns keeps the law exact; T may be any set of >= k columns chosen from x alone).
// The assignment only decides how much is drawn, never the law: float32 (one subtraction, one
// product, both exact to reproduce in JavaScript with Math.fround) is enough, and it keeps the
// per-column pass of the row preparation free of conversions.
constexpr uint32_t kBuckets = 33;

// Bucket of the truncated scaled distance floor(min(s, 176)) through a table (branch-free: the
// three widths would be unpredictable branches on every column).
struct BucketTable {
  uint8_t of[177];
};
NTK_HD BucketTable makeBucketTable() {
  BucketTable t = {};
  for (uint32_t j = 0; j < 177; ++j)
    t.of[j] = static_cast<uint8_t>(j < 16 ? j : (j < 48 ? 16 + (j - 16) / 4 : (j < 176 ? 24 + (j - 48) / 16 : 32)));
  return t;
}

// The scale of the bucket distance: float32(4 / eps), capped at 2^100 so that (x_max - x) * scale
// is never NaN (x_max - x is finite and at most 2e38 on an eligible row; a product that overflows
// to +inf lands in bucket 32).
NTK_HD float lazyBucketScale(float eps) {
  const float s = 4.0f / eps;
  return s < 1.2676506002282294e30f ? s : 1.2676506002282294e30f;
}

// Bucket of a column at scaled distance s = (x_max - x) * scale >= 0 (float32 operations).
// Clamped to [0, 176] (NaN to 176) before the conversion: s < 0 cannot happen on a row read once,
// but the CPU kernel reads a contiguous row in place, and a caller's thread writing a shared x
// between the maximum and this pass can raise a column above x_max. The index must stay in the
// table whatever was read (a negative float converted to uint32_t is undefined, in practice
// about 4e9 entries out).
NTK_HD uint32_t lazyBucketIndex(const BucketTable& t, float s) {
  const float c = s < 176.0f ? (s > 0.0f ? s : 0.0f) : 176.0f;
  return t.of[static_cast<uint32_t>(c)];  // truncation is floor for c >= 0
}

// The near buckets: only columns in buckets below kNearBuckets (scaled distance below
// kNearEdge = 12, i.e. 3 eps below the largest x) are sorted by bucket in the row preparation.
// The rest, the far set, is never sorted: one pass over x marks nothing for it, and a sample that
// reaches it walks the whole row in column order with the far set's threshold and keeps the
// candidates that are far (lazyIsFar). Every column of the row is a candidate there with the same
// probability q independently, so the far columns among them are exactly the far set's
// candidates; near columns found there are dropped without a draw (they were walked in their
// own buckets). The far walk costs q * d skips instead of q * |far|, which matters little
// because it runs with the smallest q of the sample. A row whose near set has fewer than m
// columns sorts every bucket (nearBuckets = kBuckets: no far set), so T is always near.
constexpr uint32_t kNearBuckets = 12;
constexpr float kNearEdge = 12.0f;  // the scaled distance where bucket kNearBuckets begins
// The near buckets are the first buckets of width eps/4, where the bucket is floor(s) itself
// (lazy_cpu.cpp's SIMD pass relies on it).
static_assert(kNearBuckets <= 16 && kNearEdge == static_cast<float>(kNearBuckets), "near buckets: floor(s) below 16");

// Whether a column is far: its bucket is kNearBuckets or beyond, i.e. its scaled distance is at
// least kNearEdge (floor(min(s, 176)) >= 12 iff s >= 12), computed with the same float32
// operations as its bucket.
NTK_HD bool lazyIsFar(float hi, float x, float scale) { return (hi - x) * scale >= kNearEdge; }

// Rows wider than this, and rows where the top-m list covers half of the row or more (k close
// to d, or d < 2m), take the dense path: see lazyPrepareRow.
constexpr uint32_t kMaxLazyD = 1u << 24;

// m: the columns drawn before the buckets. More than k, so that L is close to the true k-th.
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

NTK_HD double normalTail(const TailTable& tab, double t) {
  // NaN (a row written by another thread during the call can make L NaN) is 0, like t >= 38: the
  // table index below is formed only for t in (-38, 38).
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

// The threshold t_b of a bucket whose largest x is u, given the current k-th value L: a column
// x_j <= u with z <= t_b has float32(x_j + float32(eps * float32(z))) < L strictly. The margin
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

// Uniform in the open (0, 1) from one word: (w + 1/2) 2^-32, exact in binary64 (33 significant
// bits at most), from 2^-33 to 1 - 2^-33. Never 0, so ln U is finite; never 1, so ln U < 0 and a
// skip ln U / ln(1 - q) is never 0 * infinity (lazySkipFrom).
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

// When the columns left would give fewer candidates than this in expectation under the current
// bucket's threshold, they are walked as one bucket (one Q and usually one skip for all). 1.0
// measured best of 0.125 to 2 (instruction counts at d = 100, 1000, 10000; the spread is 3%).
constexpr double kMergeBelow = 1.0;

// The geometric skips of one bucket, from q = P(Z > t) of each of its columns. Total: every q,
// NaN included, gives one of three kinds, and a kGeometric plan has ln(1 - q) < 0 and a finite
// 1 / ln(1 - q), so lazySkipFrom never forms NaN.
//   kSkipNone: no candidate. q is 0, NaN, or below 2^-1022 (t above about 37.5): there
//     ln(1 - q) would be subnormal and 1 / ln(1 - q) could overflow to -inf, and a column is a
//     candidate with probability below 2.3e-308 (d <= 2^24 columns: below 4e-301 per bucket);
//   kSkipEvery: q >= 1, every column is a candidate (no uniform is drawn);
//   kSkipGeometric: the skips of lazySkipFrom.
constexpr uint32_t kSkipNone = 0;
constexpr uint32_t kSkipEvery = 1;
constexpr uint32_t kSkipGeometric = 2;
constexpr double kMinSkipQ = 2.2250738585072014e-308;  // 2^-1022, the smallest normal double

struct SkipPlan {
  uint32_t kind;
  double lq;     // ln(1 - q) < 0 (kSkipGeometric; 0 otherwise)
  double invLq;  // 1 / ln(1 - q), finite and < 0 (kSkipGeometric; 0 otherwise)
};

NTK_HD SkipPlan lazySkipPlan(double q) {
  SkipPlan p;
  p.kind = kSkipNone;
  p.lq = 0.0;
  p.invLq = 0.0;
  if (!(q >= kMinSkipQ)) return p;  // 0, subnormal or NaN
  if (q >= 1.0) {
    p.kind = kSkipEvery;
    return p;
  }
  // For a normal q < 1, ln(1 - q) is about -q or below, so it is normal and its inverse finite;
  // the test keeps the plan total should a rounding ever say otherwise.
  const double lq = logOneMinus(q);
  const double inv = 1.0 / lq;
  if (!(lq < 0.0) || !(inv > -1.7976931348623157e308)) return p;
  p.kind = kSkipGeometric;
  p.lq = lq;
  p.invLq = inv;
  return p;
}

// The next candidate of a kSkipGeometric plan in a segment of countD columns, after the one at
// position `at` (-1 before the first), from one uniform u in (0, 1): at + 1 + G with the
// geometric skip G = floor(ln u / ln(1 - q)), P(G >= n) = (1 - q)^n; countD or more when none is
// left. The skip passes the `left` columns still in the segment iff ln u <= left ln(1 - q);
// ln u <= u - 1 decides most of those without the logarithm (the same decision). With u in
// (0, 1), ln u lies in [-22.9, -1.1e-10] and the invLq of the plan is finite and negative, so
// the product is positive (finite or +inf): never NaN, and the result is at least at + 1.
NTK_HD double lazySkipFrom(double at, double countD, double u, const SkipPlan& p) {
  const double left = countD - (at + 1.0);
  if (u - 1.0 <= left * p.lq) return countD;
  return (at + 1.0) + NTK_DFLOOR(logPositive(u) * p.invLq);
}

// Below this threshold, truncated draws are rejection from N(0, 1) (acceptance >= 0.31);
// from it up, Robert (1995)'s exponential proposal with the optimal rate.
constexpr double kRobertFrom = 0.5;

// What a truncated draw above t needs, computed once per bucket (t is the bucket's threshold):
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

// z ~ N(0, 1) conditioned on z > t, as a float32 (rounded to nearest).
// Robert's test accepts z = t + E / alpha when ln V <= -(z - alpha)^2 / 2; since ln V <= V - 1,
// V - 1 <= -(z - alpha)^2 / 2 already accepts, and only the rest needs the logarithm (the
// decision is the same; most acceptances skip the logarithm).
NTK_HD float truncatedNormal(TailStream& st, const TruncatedBound& b) {
  const double t = b.t;
  if (t < kRobertFrom) {
    for (;;) {
      const float z = tailNormal(st);
      if (static_cast<double>(z) > t) return z;
    }
  }
  for (;;) {
    const double z = t - logPositive(tailUniform(st)) * b.invAlpha;
    const double dz = z - b.alpha;
    const double bound = (-0.5 * dz) * dz;
    const double v = tailUniform(st);
    if (v - 1.0 <= bound || logPositive(v) <= bound) return static_cast<float>(z);
  }
}

// ---- one sample over a prepared row ----

// A prepared row. bucketCols: every column by (bucket, column); top = its first m entries (T);
// bucketCols[bucketStart[b], bucketEnd[b]): bucket b's columns outside T; bucketMax[b]: the
// largest x of the whole bucket (T included: still an upper bound of the rest).
// nearBuckets: kNearBuckets, or kBuckets when every column is sorted; bucketCols[0, nearCount):
// the near columns by (bucket, column), T first; the far set is every other column, farCount of
// them, farMax their largest x (the bound of the whole far set; -inf when empty).
struct LazyRow {
  const float* x = nullptr;  // the row, contiguous
  uint32_t d = 0;
  uint32_t k = 1;
  uint32_t m = 0;
  float eps = 0.0f;
  float hi = 0.0f;     // the largest x (lazyIsFar)
  float scale = 0.0f;  // lazyBucketScale(eps)
  uint32_t nearBuckets = kBuckets;
  uint32_t nearCount = 0;
  uint32_t farCount = 0;
  float farMax = 0.0f;
  const uint32_t* top = nullptr;
  const uint32_t* bucketStart = nullptr;  // [kBuckets]: first entry of bucket b outside T
  const uint32_t* bucketEnd = nullptr;    // [kBuckets]
  const uint32_t* bucketCols = nullptr;
  const float* bucketMax = nullptr;  // [kBuckets]
  const TailTable* tail = nullptr;   // filled by fillTailTable
};

// ---- the row preparation (both backends: the CPU runs its SIMD form of the two column passes,
// which must equal lazyExtremesFrom and lazyNearFrom here) ----

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

// The near set in column order, appended by the column pass, and the far set's largest x.
struct LazyNearSet {
  uint32_t count;
  float farMax;  // -inf while no far column is seen
};

NTK_HD LazyNearSet lazyNearStart() { return LazyNearSet{0, bitsToFloat(0xFF800000u)}; }

// Continues the column pass over x[from, d): each near column is appended to nearCols with its
// bucket in nearBucket (d entries each); each far one raises farMax. Branch-free: the slot is
// written either way and the count moves only for a near column (a branch here mispredicts on
// every crossing of the near edge).
NTK_HD void lazyNearFrom(const float* x, uint32_t from, uint32_t d, float hi, float scale, const BucketTable& table,
                         uint32_t* nearCols, uint8_t* nearBucket, LazyNearSet& s) {
  for (uint32_t c = from; c < d; ++c) {
    const float v = x[c];
    const uint32_t b = lazyBucketIndex(table, NTK_FMUL(NTK_FSUB(hi, v), scale));
    // 1 for a near column (b < kNearBuckets <= 33), by the sign of b - kNearBuckets.
    const uint32_t nearBit = (b - kNearBuckets) >> 31;
    nearCols[s.count] = c;
    nearBucket[s.count] = static_cast<uint8_t>(b);
    s.count += nearBit;
    // v for a far column, -inf (bits 0xFF800000) for a near one.
    const uint32_t nearMask = 0u - nearBit;
    const float f = bitsToFloat((floatToBits(v) & ~nearMask) | (0xFF800000u & nearMask));
    s.farMax = f > s.farMax ? f : s.farMax;
  }
}

// Where a prepared row lives: nearCols, nearBucket and bucketCols of d entries each (the first
// two are scratch of the preparation), and the per-bucket arrays of kBuckets entries.
struct LazyRowStorage {
  uint32_t* nearCols;
  uint8_t* nearBucket;
  uint32_t* bucketCols;
  uint32_t* bucketStart;
  uint32_t* bucketEnd;
  float* bucketMax;
};

// After the column pass: sorts the near columns by (bucket, column) with a counting sort (every
// column when the near set has fewer than m, so that T is near), takes each bucket's count and
// largest x, and fills r (x stays the caller's: the row, contiguous).
NTK_HD void lazyFinishRow(const float* x, uint32_t d, uint32_t k, float eps, float hi, float scale,
                          const BucketTable& table, LazyNearSet nearSet, const LazyRowStorage& s, const TailTable* tail,
                          LazyRow& r) {
  const uint32_t m = lazyTopCount(k);
  const float negInf = bitsToFloat(0xFF800000u);
  uint32_t nearBuckets = kNearBuckets;
  if (nearSet.count < m) {
    nearBuckets = kBuckets;
    for (uint32_t c = 0; c < d; ++c) {
      s.nearCols[c] = c;
      s.nearBucket[c] = static_cast<uint8_t>(lazyBucketIndex(table, NTK_FMUL(NTK_FSUB(hi, x[c]), scale)));
    }
    nearSet.count = d;
    nearSet.farMax = negInf;
  }
  uint32_t count[kBuckets];
  float bmax[kBuckets];
  for (uint32_t b = 0; b < kBuckets; ++b) {
    count[b] = 0;
    bmax[b] = negInf;
  }
  for (uint32_t j = 0; j < nearSet.count; ++j) {
    const uint32_t b = s.nearBucket[j];
    const float v = x[s.nearCols[j]];
    bmax[b] = v > bmax[b] ? v : bmax[b];
    ++count[b];
  }
  uint32_t fill[kBuckets];
  uint32_t at = 0;
  for (uint32_t b = 0; b < kBuckets; ++b) {
    fill[b] = at;
    at += count[b];
  }
  for (uint32_t j = 0; j < nearSet.count; ++j) s.bucketCols[fill[s.nearBucket[j]]++] = s.nearCols[j];
  at = 0;
  for (uint32_t b = 0; b < kBuckets; ++b) {
    const uint32_t end = at + count[b];
    const uint32_t afterTop = end < m ? end : m;
    s.bucketStart[b] = at > afterTop ? at : afterTop;  // the part of the bucket after T
    s.bucketEnd[b] = end;
    s.bucketMax[b] = count[b] ? bmax[b] : 0.0f;
    at = end;
  }
  r.x = x;
  r.d = d;
  r.k = k;
  r.m = m;
  r.eps = eps;
  r.hi = hi;
  r.scale = scale;
  r.nearBuckets = nearBuckets;
  r.nearCount = nearSet.count;
  r.farCount = d - nearSet.count;
  r.farMax = nearSet.farMax;
  r.top = s.bucketCols;  // T: the first m entries
  r.bucketStart = s.bucketStart;
  r.bucketEnd = s.bucketEnd;
  r.bucketCols = s.bucketCols;
  r.bucketMax = s.bucketMax;
  r.tail = tail;
}

// Whether a row (contiguous, d columns) takes the lazy path, and if so its preparation into s and
// r: the scalar form of the CPU kernel's preparation. The rule depends only on the row, k and eps,
// so every backend sends the same rows to the dense path.
NTK_HD bool lazyPrepareRow(const float* x, uint32_t d, uint32_t k, float eps, const LazyRowStorage& s,
                           const TailTable* tail, LazyRow& r) {
  if (!lazyShapeEligible(d, k, eps)) return false;
  LazyExtremes e = lazyExtremesStart(x);
  lazyExtremesFrom(x, 0, d, e);
  if (!lazyValuesEligible(e, eps)) return false;
  const float scale = lazyBucketScale(eps);
  const BucketTable table = makeBucketTable();
  LazyNearSet nearSet = lazyNearStart();
  lazyNearFrom(x, 0, d, e.hi, scale, table, s.nearCols, s.nearBucket, nearSet);
  lazyFinishRow(x, d, k, eps, e.hi, scale, table, nearSet, s, tail, r);
  return true;
}

// Composite rank (rankKey above, complemented column below): a larger key ranks higher.
NTK_HD uint64_t lazyComposite(float y, uint32_t c) {
  return (static_cast<uint64_t>(rankKey(y)) << 32) | static_cast<uint32_t>(~c);
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

// Up to this k the k kept items are kept sorted, with insertion (see lazySample).
constexpr uint32_t kInsertMaxK = 32;

struct LazyResult {
  uint32_t column;
  float value;
  uint32_t drawn;  // normals drawn: m + candidates (for the statistics of the benchmark)
};

// One (row, sample). key/val: scratch of at least m + d entries.
NTK_HD LazyResult lazySample(const LazyRow& r, uint32_t seedLo, uint32_t seedHi, uint32_t offset, uint32_t row,
                             uint32_t sample, uint64_t* key, float* val) {
  uint32_t n = 0;
  // T's normals: entry j takes normal j % 4 of block kTopTag | j / 4 (normal4's mapping), the
  // blocks made four at a time.
  float z16[16];
  for (uint32_t j = 0; j < r.m; ++j) {
    if ((j & 15u) == 0) {
      uint32_t c0[4], w[16];
      for (uint32_t i = 0; i < 4; ++i) c0[i] = kTopTag | ((j >> 2) + i);
      philoxBlocks4(c0, row, sample, offset, seedLo, seedHi, w);
      for (uint32_t i = 0; i < 4; ++i) {
        const NormalPair p = boxMuller(w[4 * i], w[4 * i + 1]);
        const NormalPair q = boxMuller(w[4 * i + 2], w[4 * i + 3]);
        z16[4 * i] = p.z0;
        z16[4 * i + 1] = p.z1;
        z16[4 * i + 2] = q.z0;
        z16[4 * i + 3] = q.z1;
      }
    }
    const uint32_t c = r.top[j];
    const float y = perturb(r.x[c], r.eps, z16[j & 15u]);
    key[n] = lazyComposite(y, c);
    val[n] = y;
    ++n;
  }
  selectLargest(key, val, n, r.k);
  n = r.k;
  // For k up to kInsertMaxK the k kept items stay sorted (largest first) and each kept candidate
  // is inserted at once, which raises the k-th at once; larger k collects a bucket's candidates and
  // re-selects after it. Both give, after every bucket, the k-th of everything drawn so far (the
  // threshold of the next bucket): the same value and column, so the same stream.
  const bool sorted = r.k <= kInsertMaxK;
  if (sorted) {
    for (uint32_t i = 1; i < r.k; ++i) {
      const uint64_t kk = key[i];
      const float y = val[i];
      uint32_t j = i;
      for (; j > 0 && key[j - 1] < kk; --j) {
        key[j] = key[j - 1];
        val[j] = val[j - 1];
      }
      key[j] = kk;
      val[j] = y;
    }
  }
  uint64_t kthKey = key[r.k - 1];
  float kth = val[r.k - 1];
  uint32_t drawn = r.m;
  if (r.eps > 0.0f) {
    TailStream st;
    tailStart(st, seedLo, seedHi, offset, row, sample);
    const uint32_t nearEnd = r.nearCount;  // bucketCols[m, nearEnd): near columns outside T
    // Buckets 0 .. nearBuckets - 1 from the sorted list, then the far set as one more bucket.
    for (uint32_t b = 0; b <= r.nearBuckets; ++b) {
      const bool farBucket = b == r.nearBuckets;
      const uint32_t begin = farBucket ? nearEnd : r.bucketStart[b];
      const uint32_t count = farBucket ? r.farCount : r.bucketEnd[b] - begin;
      if (count == 0) continue;
      const double t = lazyThreshold(kth, farBucket ? r.farMax : r.bucketMax[b], r.eps);
      const double q = normalTail(*r.tail, t);
      const SkipPlan plan = lazySkipPlan(q);
      if (plan.kind == kSkipNone) continue;
      // Bucket b's u is the largest x of every column from `begin` on (the far set included), so
      // t and q serve for all of them: when they would give few candidates, walk them as one
      // bucket and stop (any partition whose u bounds its columns is exact; the choice depends
      // only on L).
      const bool last = farBucket || static_cast<double>(nearEnd - begin + r.farCount) * q < kMergeBelow;
      const bool every = plan.kind == kSkipEvery;
      const TruncatedBound tb = truncatedBound(t);
      bool kept = false;
      // Segment 0: sorted columns (this bucket, or every near column left when last);
      // segment 1 (when last and a far set exists): the whole row in column order, far kept.
      for (uint32_t seg = farBucket ? 1u : 0u; seg < (last && r.farCount > 0 ? 2u : 1u); ++seg) {
        const bool farWalk = seg == 1;
        const double countD = static_cast<double>(farWalk ? r.d : (last ? nearEnd - begin : count));
        double at = -1.0;  // position in the segment of the last candidate
        for (;;) {
          at = every ? at + 1.0 : lazySkipFrom(at, countD, tailUniform(st), plan);
          if (at >= countD) break;
          const uint32_t c = farWalk ? static_cast<uint32_t>(at) : r.bucketCols[begin + static_cast<uint32_t>(at)];
          if (farWalk && !lazyIsFar(r.hi, r.x[c], r.scale)) continue;  // near: walked in its bucket
          const float y = perturb(r.x[c], r.eps, truncatedNormal(st, tb));
          ++drawn;
          const uint64_t kk = lazyComposite(y, c);
          if (kk > kthKey) {  // below the current k-th it can never be the k-th
            if (sorted) {
              uint32_t j = r.k - 1;  // the old k-th drops out
              for (; j > 0 && key[j - 1] < kk; --j) {
                key[j] = key[j - 1];
                val[j] = val[j - 1];
              }
              key[j] = kk;
              val[j] = y;
              kthKey = key[r.k - 1];
              kth = val[r.k - 1];
            } else {
              // At most k + d - m items are kept (each column once) on a row read once, within
              // the m + d entries of scratch. A caller's thread writing x during the call can make
              // a column near when prepared and far when walked, so kept twice: when the scratch
              // is full, keep its k largest and go on (the k-th of everything kept is unchanged).
              if (n == r.m + r.d) {
                selectLargest(key, val, n, r.k);
                n = r.k;
                kthKey = key[r.k - 1];
                kth = val[r.k - 1];
              }
              key[n] = kk;
              val[n] = y;
              ++n;
              kept = true;
            }
          }
        }
      }
      if (kept) {
        selectLargest(key, val, n, r.k);
        n = r.k;
        kthKey = key[r.k - 1];
        kth = val[r.k - 1];
      }
      if (last) break;
    }
  }
  LazyResult res;
  res.column = ~static_cast<uint32_t>(kthKey);
  res.value = kth;
  res.drawn = drawn;
  return res;
}

}  // namespace lazy
}  // namespace ntk
