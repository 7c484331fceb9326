// The AVX-512F kernels: the pruned sweep and the full sample with 16 Philox4x32-10 instances
// per block, through simd_stream.h (the same stream operations as the AVX2 and baseline
// paths, 16 lanes wide). Each float operation is a single correctly rounded binary32
// operation, without FMA (the target enables avx512f, whose FMA instructions the compiler does
// not form under -ffp-contract=off), so every path gives the same bits.
//
// Taken only where the CPU reports AVX-512F and AVX2 (avx512Usable). Only the code after the
// target switch below is AVX-512 code; the shared headers are included before it.
#include "kernel_internal.h"

#include <algorithm>
#include <limits>

#include "../core/constants.h"

#if NTK_X86_SIMD
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers build their "undefined" pass-through operands as `__Y = __Y`,
// which -W(maybe-)uninitialized reports at every inlined use; the value is never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

NTK_SIMD_TARGET_BEGIN("avx2,avx512f")

#include "simd_stream.h"

namespace ntk {
namespace cpu {

namespace {

// simd_stream.h's lane traits for 16 lanes of AVX-512F. M is a 16-bit lane mask.
struct Avx512Lanes {
  NTK_SIMD_LANES_OF_WIDTH(512)
  using M = __mmask16;

  static I laneIndex() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }

  static I xor3(I a, I b, I c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
  // (hi, lo) 32-bit halves of the 64-bit product a * m, lane by lane (unsigned).
  static I mulHiLo(I a, I m, I& lo) {
    const I even = _mm512_mul_epu32(a, m);
    const I odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  }

  static M greater(I a, I b) { return _mm512_cmpgt_epi32_mask(a, b); }  // signed
  static M equal(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static M either(M a, M b) { return static_cast<M>(a | b); }
  static I select(M m, I ifClear, I ifSet) { return _mm512_mask_blend_epi32(m, ifClear, ifSet); }
  static F select(M m, F ifClear, F ifSet) { return _mm512_mask_blend_ps(m, ifClear, ifSet); }
  static F negateWhere(M m, F a) {
    const I bits = _mm512_castps_si512(a);
    return _mm512_castsi512_ps(_mm512_mask_xor_epi32(bits, m, bits, _mm512_set1_epi32(static_cast<int>(0x80000000u))));
  }
  // Bit i set where lane i of a is not below b (NaN is not below anything: it ranks highest).
  static uint32_t notBelow(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLT_UQ); }
};

using V = Avx512Lanes;
using Words16 = simd::Words<V>;
using PhiloxKeys16 = simd::PhiloxKeys<V>;

// Appends the pairs of mask's lanes to the pending list by register compress and full-width
// stores (no per-pair branches; Pending's capacity leaves room for the stores past n).
inline void pushPairs(simd::Pending<V>& p, __mmask16 m, __m512i radius, __m512i angle, __m512i col, __m512 xa,
                      __m512 xb) {
  _mm512_storeu_si512(p.radius + p.n, _mm512_maskz_compress_epi32(m, radius));
  _mm512_storeu_si512(p.angle + p.n, _mm512_maskz_compress_epi32(m, angle));
  _mm512_storeu_si512(p.col + p.n, _mm512_maskz_compress_epi32(m, col));
  _mm512_storeu_ps(p.x0 + p.n, _mm512_maskz_compress_ps(m, xa));
  _mm512_storeu_ps(p.x1 + p.n, _mm512_maskz_compress_ps(m, xb));
  p.n += static_cast<uint32_t>(__builtin_popcount(m));
}

// One sweep. With a finite floor (a hint) the seeds are skipped and values below the floor are
// dropped; returns false when fewer than k values reached it (the result is then not exact).
bool sweep(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float floor, uint32_t* column,
           float* value) {
  const PhiloxKeys16 keys = simd::philoxKeys<V>(sp.seedLo, sp.seedHi);
  const __m512 epsW = _mm512_set1_ps(eps);
  Candidates cand;
  cand.tb.reset(k);
  cand.floor = floor;
  cand.seeded = !(floor > -std::numeric_limits<float>::infinity());
  if (cand.seeded) simd::seedCandidates<V>(sp, eps, pr, keys, cand);
  const __m512 cosMax = _mm512_load_ps(kCosMax16);
  const __m512 sinMax = _mm512_load_ps(kSinMax16);
  simd::Pending<V> pend;
  const uint32_t blocks16 = (pr.blocks + 1) / 2;
  for (uint32_t b = 0; b < blocks16; ++b) {
    const uint32_t g0 = b * 16;
    const __m512i groups = simd::groupsFrom<V>(g0);
    const Words16 ws = simd::philox<V>(groups, sp.row, sp.sample, sp.offset, keys);
    const __m512 tau = _mm512_set1_ps(cand.tau());
    // Upper bounds on y of each column: radius bound times the sector's cos or sin bound.
    const __m512 rA = simd::radiusBound<V>(ws.w0), rB = simd::radiusBound<V>(ws.w2);
    const __m512i secA = _mm512_srli_epi32(ws.w1, 28), secB = _mm512_srli_epi32(ws.w3, 28);  // 16 sectors
    const __m512 x0 = _mm512_loadu_ps(pr.xs[0] + g0), x1 = _mm512_loadu_ps(pr.xs[1] + g0);
    const __m512 x2 = _mm512_loadu_ps(pr.xs[2] + g0), x3 = _mm512_loadu_ps(pr.xs[3] + g0);
    const __m512 up0 = simd::perturb<V>(x0, epsW, V::mul(rA, _mm512_permutexvar_ps(secA, cosMax)));
    const __m512 up1 = simd::perturb<V>(x1, epsW, V::mul(rA, _mm512_permutexvar_ps(secA, sinMax)));
    const __m512 up2 = simd::perturb<V>(x2, epsW, V::mul(rB, _mm512_permutexvar_ps(secB, cosMax)));
    const __m512 up3 = simd::perturb<V>(x3, epsW, V::mul(rB, _mm512_permutexvar_ps(secB, sinMax)));
    const __mmask16 maskA = static_cast<__mmask16>(V::notBelow(up0, tau) | V::notBelow(up1, tau));
    const __mmask16 maskB = static_cast<__mmask16>(V::notBelow(up2, tau) | V::notBelow(up3, tau));
    const __m512i col = _mm512_slli_epi32(groups, 2);
    pushPairs(pend, maskA, ws.w0, ws.w1, col, x0, x1);
    pushPairs(pend, maskB, ws.w2, ws.w3, _mm512_add_epi32(col, _mm512_set1_epi32(2)), x2, x3);
    while (pend.n >= V::kWidth) pend.flush(V::kWidth, pr, epsW, cand);
  }
  if (pend.n > 0) pend.flush(pend.n, pr, epsW, cand);
  if (cand.tb.filled < k) return false;
  *column = cand.tb.kthColumn();
  *value = cand.tb.kthValue();
  return true;
}

}  // namespace

void prunedSampleAvx512(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float hint, uint32_t* column,
                        float* value) {
  if (hint > -std::numeric_limits<float>::infinity() && sweep(sp, eps, pr, k, hint, column, value)) return;
  sweep(sp, eps, pr, k, -std::numeric_limits<float>::infinity(), column, value);
}

void fullSampleAvx512(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float floor, float* ys,
                      uint32_t* column, float* value) {
  const PhiloxKeys16 keys = simd::philoxKeys<V>(sp.seedLo, sp.seedHi);
  const uint32_t lanes = ((pr.blocks + 1) / 2) * 16;
  const __m512 epsW = _mm512_set1_ps(eps);
  const __m512 fl = _mm512_set1_ps(floor);
  const __m512i dV = _mm512_set1_epi32(static_cast<int>(pr.d));
  uint32_t count = 0;
  __m512 laneMax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __mmask16 nan = 0;
  for (uint32_t g0 = 0; g0 < lanes; g0 += 16) {
    const Words16 ws = simd::philox<V>(simd::groupsFrom<V>(g0), sp.row, sp.sample, sp.offset, keys);
    __m512 z[4];
    simd::boxMuller<V>(ws.w0, ws.w1, z[0], z[1]);
    simd::boxMuller<V>(ws.w2, ws.w3, z[2], z[3]);
    // Lanes past d: counted never (-inf + eps * z is NaN when eps * z overflows to +inf).
    const __m512i col0 = _mm512_slli_epi32(simd::groupsFrom<V>(g0), 2);
    for (int j = 0; j < 4; ++j) {
      const __m512 y = simd::perturb<V>(_mm512_loadu_ps(pr.xs[j] + g0), epsW, z[j]);
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
            key[n] = rankComposite(yj[g], c);
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

}  // namespace cpu
}  // namespace ntk

NTK_SIMD_TARGET_END

#endif  // NTK_X86_SIMD
