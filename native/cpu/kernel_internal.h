// Internals shared by the CPU kernel files (the baseline noised_topk_cpu.cpp and the AVX2 and
// AVX-512 files). Everything here is compiled for baseline x86-64 in every translation unit
// that includes it: the SIMD files include it before they switch their target on, so no
// inline function of this header or of philox_normal.h can be emitted with AVX2 or AVX-512
// instructions (the linker keeps one copy of each, which every CPU must be able to run).
#pragma once
#define NTK_CPU_KERNEL_INTERNAL_H 1

#include <cstdint>
#include <limits>

#include "../core/philox_normal.h"

// Whether this compiler and architecture build the AVX2 and AVX-512 files' kernels (x86 with
// GCC-style target attributes). Elsewhere those files are empty and only the baseline runs.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(NTK_NO_AVX2_PATH)
#define NTK_X86_SIMD 1
#else
#define NTK_X86_SIMD 0
#endif

// Compiles what follows, up to NTK_SIMD_TARGET_END, for the instruction set `isa` (a GCC
// target string, "avx2"). A SIMD file switches its target on only after every shared header
// is included, so that the shared headers' inline functions stay baseline code.
#define NTK_SIMD_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define NTK_SIMD_TARGET_BEGIN(isa) \
  NTK_SIMD_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define NTK_SIMD_TARGET_END NTK_SIMD_PRAGMA(clang attribute pop)
#else
#define NTK_SIMD_TARGET_BEGIN(isa) NTK_SIMD_PRAGMA(GCC push_options) NTK_SIMD_PRAGMA(GCC target(isa))
#define NTK_SIMD_TARGET_END NTK_SIMD_PRAGMA(GCC pop_options)
#endif

namespace ntk {
namespace cpu {

constexpr uint32_t kMaxBufferK = 32;

// The k best (column, value) seen so far, sorted by descending composite rank. tau is the
// value of the k-th best once k are held, -inf before: a column whose perturbed value is
// certainly below tau can never be among the k best of the full slice.
struct TopBuffer {
  uint64_t key[kMaxBufferK];
  float val[kMaxBufferK];
  uint32_t k = 1;
  uint32_t filled = 0;
  float tau = -std::numeric_limits<float>::infinity();

  void reset(uint32_t kk) {
    k = kk;
    filled = 0;
    tau = -std::numeric_limits<float>::infinity();
  }

  // Inserts (y, c) unless it ranks below the k-th held. A column must be offered at most once.
  void insert(float y, uint32_t c) {
    if (y < tau) return;  // quick reject (false for NaN: the key order decides)
    const uint64_t kk = rankComposite(y, c);
    uint32_t p;
    if (filled == k) {
      if (kk <= key[k - 1]) return;
      p = k - 1;  // the last slot is dropped
    } else {
      p = filled++;
    }
    // One insertion-sort step: shift down while the entry above ranks lower.
    while (p > 0 && key[p - 1] < kk) {
      key[p] = key[p - 1];
      val[p] = val[p - 1];
      --p;
    }
    key[p] = kk;
    val[p] = y;
    if (filled == k) tau = val[k - 1];
  }

  uint32_t kthColumn() const { return compositeColumn(key[k - 1]); }
  float kthValue() const { return val[k - 1]; }
};

// Upper bounds on cos and sin of the stream's angle over each octant of the angle word
// (octant = word >> 29: angle in [octant * pi/4, (octant + 1) * pi/4)), clamped at 0 (a
// negative factor only lowers y, and 0 is a valid bound for it), with 1e-6 of slack for the
// float polynomials. With |z0| = r |cos| and z1 = r sin: z0 <= r * kCosMax[o],
// z1 <= r * kSinMax[o]. Exhaustively checked for all 2^24 angle inputs
// (test/native/prune_bound_check.cpp, run by test/prune-bound.test.ts).
alignas(32) constexpr float kCosMax[8] = {1.000001f, 0.707108f, 1e-6f, 0.0f, 0.0f, 1e-6f, 0.707108f, 1.000001f};
alignas(32) constexpr float kSinMax[8] = {0.707108f, 1.000001f, 1.000001f, 0.707108f, 1e-6f, 0.0f, 0.0f, 1e-6f};
// The same over 16 sectors (sector = word >> 28: angle in [sector * pi/8, (sector + 1) * pi/8)),
// used by the AVX-512 sweep (one 16-entry permute); tighter, so fewer columns are computed.
alignas(64) constexpr float kCosMax16[16] = {1.000001f, 0.923881f, 0.707108f, 0.382684f, 1e-6f, 0.0f,
                                             0.0f,      0.0f,      0.0f,      0.0f,      0.0f,  1e-6f,
                                             0.382684f, 0.707108f, 0.923881f, 1.000001f};
alignas(64) constexpr float kSinMax16[16] = {0.382684f, 0.707108f, 0.923881f, 1.000001f, 1.000001f, 0.923881f,
                                             0.707108f, 0.382684f, 1e-6f,     0.0f,      0.0f,      0.0f,
                                             0.0f,      0.0f,      0.0f,      1e-6f};

// Per-row data of the pruned sweep. Groups of 4 columns share one Philox call. xs[j][g] is
// x[4g + j] (-inf past the last column), padded to whole blocks of 8 groups.
struct PrunedRow {
  const float* x = nullptr;  // [d], contiguous
  const float* xs[4] = {nullptr, nullptr, nullptr, nullptr};
  uint32_t d = 0;
  uint32_t groups = 0;
  uint32_t blocks = 0;  // ceil(groups / 8)
  // Seed: columns with large x (the largest, or each chunk's largest on the AVX2 paths),
  // computed exactly first so that tau is high from the start; the sweep skips them
  // (seedBits) so that no column is counted twice.
  const uint64_t* seedBits = nullptr;  // [d / 64 + 1]
  uint32_t seed[16] = {};
  float seedX[16] = {};
  uint32_t nSeed = 0;  // at most kMaxSeed
  bool isSeed(uint32_t c) const { return (seedBits[c >> 6] >> (c & 63)) & 1u; }
};

// Keeps pr.seed / pr.seedX as the (up to) `want` largest x seen so far, descending. Columns are
// scanned in increasing order and only a strictly larger x displaces, so ties keep the lower
// column. (Any seed choice is correct; a good one makes tau high early.)
inline void considerSeed(PrunedRow& pr, uint32_t want, float v, uint32_t c) {
  if (pr.nSeed == want && !(v > pr.seedX[want - 1])) return;
  uint32_t p = pr.nSeed < want ? pr.nSeed++ : want - 1;
  while (p > 0 && pr.seedX[p - 1] < v) {
    pr.seedX[p] = pr.seedX[p - 1];
    pr.seed[p] = pr.seed[p - 1];
    --p;
  }
  pr.seedX[p] = v;
  pr.seed[p] = c;
}

// Exactly computed columns of one sample in the SIMD sweeps: the k best so far; tau, the k-th
// value once k are held, only rises.
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

struct StreamPos {
  uint32_t seedLo = 0;
  uint32_t seedHi = 0;
  uint32_t offset = 0;
  uint32_t row = 0;
  uint32_t sample = 0;
};

constexpr uint32_t kMaxSeed = 16;
#ifndef NTK_PRUNE_MIN_D
#define NTK_PRUNE_MIN_D 256
#endif
// Below this many columns the sweep computes every value (the pruning's fixed costs, seeds and
// candidate bookkeeping, outweigh the Box-Muller work it saves).
constexpr uint32_t kPruneMinD = NTK_PRUNE_MIN_D;
#ifndef NTK_SEED_COLUMNS
#define NTK_SEED_COLUMNS 8
#endif
constexpr uint32_t kSeedColumns = NTK_SEED_COLUMNS;  // columns with the largest x, computed first

// Baseline versions (noised_topk_cpu.cpp).
// prepareRow*: xs[j * lanes + g] = x[4g + j] (-inf past d) and, when every x[0, d) is finite,
// `seeds` seed columns with large x into pr's seed (the scalar version takes the largest, the
// AVX2 one each of `seeds` chunks' largest: any choice is exact); returns whether
// every x[0, d) is finite. x is padded to 4 * lanes columns.
bool prepareRowScalar(const float* x, uint32_t d, float* xs, size_t lanes, PrunedRow& pr, uint32_t seeds);
void prunedSampleScalar(const StreamPos& sp, float eps, const PrunedRow& pr, TopBuffer& tb);
void perturbedRowScalar(const StreamPos& sp, float eps, const float* x, uint32_t d, float* y);

// Whether the CPU runs the AVX2 / AVX-512 kernels (always false where NTK_X86_SIMD is 0).
bool avx2Usable();
bool avx512Usable();

// AVX2 versions (noised_topk_avx2.cpp). Call only when NTK_X86_SIMD and avx2Usable().
bool prepareRowAvx2(const float* x, uint32_t d, float* xs, size_t lanes, PrunedRow& pr, uint32_t seeds);
// The k-th best column of the sample and its value.
void prunedSampleAvx2(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, uint32_t* column, float* value);
// Column of the k-th largest of y[0, d) under the rank order, k <= kMaxBufferK; y padded to 32.
// floor is a hint (e.g. the row's previous k-th value less a margin): used only when at least k
// values are not below it, which makes skipping the others exact.
uint32_t kthColumnAvx2(const float* y, uint32_t d, uint32_t k, float floor);
// y[0, 32 * ceil(d / 32)) = x + eps * z; x must be readable (padded) to the same length.
void perturbedRowAvx2(const StreamPos& sp, float eps, const float* x, uint32_t d, float* y);

// AVX-512F versions (noised_topk_avx512.cpp), 16 groups per Philox block. Call only when
// NTK_X86_SIMD and avx512Usable(); xs must be padded to whole 16-group blocks.
// prunedSampleAvx512: as prunedSampleAvx2. hint: a guess of the k-th value (e.g. the row's
// previous sample's, less a margin), or -inf; the result is exact either way (a hint that
// fewer than k values reach is discarded).
void prunedSampleAvx512(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float hint, uint32_t* column,
                        float* value);
// All values of the sample from pr.xs (any finite or non-finite x; k <= kMaxBufferK) into ys
// (4 * 16 * ceil(blocks / 2) floats), and the k-th by rank; floor as in kthColumnAvx2.
void fullSampleAvx512(const StreamPos& sp, float eps, const PrunedRow& pr, uint32_t k, float floor, float* ys,
                      uint32_t* column, float* value);

}  // namespace cpu
}  // namespace ntk
