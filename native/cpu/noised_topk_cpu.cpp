// CPU kernels. The answer for each (row, sample) is unique under the rank order of
// philox_normal.h, so neither the selection algorithm nor the thread split can change it.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "../core/noised_topk.h"
#include "../core/philox_normal.h"
#include "../core/sample_mean.h"
#include "kernel_internal.h"
#include "lazy_cpu.h"
#include "thread_pool.h"

namespace ntk {

namespace {

using cpu::PrunedRow;
using cpu::StreamPos;
using cpu::TopBuffer;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One instruction set's kernels for solveUnit, chosen once per process (cpuPath). Every path
// gives the same bits; they differ only in speed.
struct CpuPath {
  // pr.xs by column within its group, and seed columns; false when some x is not finite.
  bool (*prepareRow)(const float* x, uint32_t d, float* xs, size_t lanes, cpu::PrunedRow& pr, uint32_t seeds);
  // The pruned sweep's k-th column and value; floor: a hint of the k-th value, or -inf.
  void (*prunedSample)(const cpu::StreamPos& sp, float eps, const cpu::PrunedRow& pr, uint32_t k, float floor,
                       uint32_t* column, float* value);
  // Every value of a sample from pr.xs and the k-th (k <= kMaxBufferK), into ys; null where
  // the path has none (rows then take perturbedRow and a selection).
  void (*groupedSample)(const cpu::StreamPos& sp, float eps, const cpu::PrunedRow& pr, uint32_t k, float floor,
                        float* ys, uint32_t* column, float* value);
  void (*perturbedRow)(const cpu::StreamPos& sp, float eps, const float* x, uint32_t d, float* y);
  // The k-th column of y for k <= kMaxBufferK with a floor hint; null: kthColumn below.
  uint32_t (*kthColumn)(const float* y, uint32_t d, uint32_t k, float floor);
};

void prunedSampleBaseline(const cpu::StreamPos& sp, float eps, const cpu::PrunedRow& pr, uint32_t k, float,
                          uint32_t* column, float* value) {
  TopBuffer tb;
  tb.reset(k);
  cpu::prunedSampleScalar(sp, eps, pr, tb);
  *column = tb.kthColumn();
  *value = tb.kthValue();
}

constexpr CpuPath kBaselinePath = {cpu::prepareRowScalar, prunedSampleBaseline, nullptr, cpu::perturbedRowScalar,
                                   nullptr};

#if NTK_X86_SIMD
void prunedSampleAvx2(const cpu::StreamPos& sp, float eps, const cpu::PrunedRow& pr, uint32_t k, float,
                      uint32_t* column, float* value) {
  cpu::prunedSampleAvx2(sp, eps, pr, k, column, value);
}

constexpr CpuPath kAvx2Path = {cpu::prepareRowAvx2, prunedSampleAvx2, nullptr, cpu::perturbedRowAvx2,
                               cpu::kthColumnAvx2};
constexpr CpuPath kAvx512Path = {cpu::prepareRowAvx2, cpu::prunedSampleAvx512, cpu::fullSampleAvx512,
                                 cpu::perturbedRowAvx2, cpu::kthColumnAvx2};
#endif

// The widest path the CPU has (AVX-512F, else AVX2, else the baseline x86-64 code), capped by
// NOISED_TOPK_CPU_ISA=baseline|avx2 (read once, at the first kernel call).
const CpuPath& cpuPath() {
  static const CpuPath& chosen = []() -> const CpuPath& {
#if NTK_X86_SIMD
    const char* env = std::getenv("NOISED_TOPK_CPU_ISA");
    if (env && std::strcmp(env, "baseline") == 0) return kBaselinePath;
    if (!cpu::avx2Usable()) return kBaselinePath;
    if (env && std::strcmp(env, "avx2") == 0) return kAvx2Path;
    return cpu::avx512Usable() ? kAvx512Path : kAvx2Path;
#else
    return kBaselinePath;
#endif
  }();
  return chosen;
}

#ifndef NTK_HINT_MARGIN
#define NTK_HINT_MARGIN 0.5f  // in units of epsilon: the hint is the previous k-th value less this
#endif

// Bytes held by every thread's Scratch, as of the end of each thread's part of its last call.
std::atomic<uint64_t> scratchHeld{0};

// Per-thread scratch, grown on demand and reused across calls (no allocation per call once
// sizes are reached), up to kScratchKeepBytes: beyond that it is released when the thread's part
// of the call ends (settleScratch), so one very wide row does not pin memory in every thread
// that served it for the life of the process.
struct Scratch {
  std::vector<float> x;   // the row, contiguous, padded to whole blocks of 64 columns
  std::vector<float> y;   // perturbed row (full path)
  std::vector<float> xs;  // the row by column within its group (pruned path)
  std::vector<uint64_t> seedBits;
  std::vector<uint64_t> keys;
  std::vector<uint32_t> counts;
  uint64_t preparedCall = ~0ull;
  uint64_t hintCall = ~0ull;  // the last k-th value of the full path, by (call, row)
  uint64_t hintRow = ~0ull;
  float hint = 0.0f;
  uint64_t preparedRow = ~0ull;
  bool pruned = false;
  bool grouped = false;  // xs holds the row for the path's groupedSample
  std::vector<float> ys;
  PrunedRow pr;
  uint64_t accounted = 0;  // this thread's share of scratchHeld

  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { scratchHeld.fetch_sub(accounted); }

  uint64_t bytes() const {
    return (x.capacity() + y.capacity() + xs.capacity() + ys.capacity()) * sizeof(float) +
           (seedBits.capacity() + keys.capacity()) * sizeof(uint64_t) + counts.capacity() * sizeof(uint32_t);
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

template <typename T>
void release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

// Runs on each thread of a call once its chunks are done: returns scratch grown past
// kScratchKeepBytes and brings scratchHeld up to date. backward's counts are all zero between
// rows, so dropping them loses nothing; the forward's prepared row is marked stale.
void settleScratch() {
  Scratch& sc = scratch();
  if (sc.bytes() > kScratchKeepBytes) {
    release(sc.x);
    release(sc.y);
    release(sc.xs);
    release(sc.ys);
    release(sc.seedBits);
    release(sc.keys);
    release(sc.counts);
    sc.preparedCall = ~0ull;
    sc.preparedRow = ~0ull;
    sc.pr = PrunedRow();
  }
  const uint64_t now = sc.bytes();
  if (now >= sc.accounted)
    scratchHeld.fetch_add(now - sc.accounted);
  else
    scratchHeld.fetch_sub(sc.accounted - now);
  sc.accounted = now;
  cpu::lazySettleScratch(kScratchKeepBytes);  // the lazy sampler's scratch (lazy_cpu.cpp)
}

std::atomic<uint64_t> callCounter{0};

// cpuFailNextChunks: chunks left to fail. Taken at the end of a chunk, inside its try, so that
// failing chunks still overlap in time on several threads (as real allocation failures can).
std::atomic<unsigned> chunksToFail{0};

void injectedFailure() {
  unsigned n = chunksToFail.load(std::memory_order_relaxed);
  while (n > 0) {
    if (chunksToFail.compare_exchange_weak(n, n - 1)) throw std::bad_alloc();
  }
}

// Column of the k-th largest of y[0, d) under the rank order.
uint32_t kthColumn(const float* y, uint32_t d, uint32_t k, std::vector<uint64_t>& keys) {
  if (k <= cpu::kMaxBufferK) {
    TopBuffer tb;
    tb.reset(k);
    for (uint32_t c = 0; c < d; ++c) {
      if (tb.filled == k && rankComposite(y[c], c) <= tb.key[k - 1]) continue;
      tb.insert(y[c], c);
    }
    return tb.kthColumn();
  }
  keys.resize(d);
  for (uint32_t c = 0; c < d; ++c) keys[c] = rankComposite(y[c], c);
  std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end(), std::greater<uint64_t>());
  return compositeColumn(keys[k - 1]);
}

// Loads the row into scratch (contiguous, padded) and, for the pruned path, its pair maxima
// and seed groups. Done once per (call, row) per thread.
void prepareRow(const ForwardArgs& a, const CpuPath& path, uint64_t call, uint64_t row, Scratch& sc) {
  if (sc.preparedCall == call && sc.preparedRow == row) return;
  sc.preparedCall = ~0ull;  // stays invalid if an allocation below throws
  const Layout& l = a.layout;
  const uint32_t d = static_cast<uint32_t>(l.d);
  const uint32_t padded = (d + 63) & ~63u;
  if (sc.x.size() < padded) sc.x.resize(padded);
  if (sc.y.size() < padded) sc.y.resize(padded);
  const uint64_t o = row / l.inner, i = row % l.inner;
  const float* src = a.x + o * l.d * l.inner + i;
  float* x = sc.x.data();
  if (l.inner == 1) {
    std::memcpy(x, src, static_cast<size_t>(d) * sizeof(float));
  } else {
    for (uint32_t c = 0; c < d; ++c) x[c] = src[static_cast<uint64_t>(c) * l.inner];
  }
  for (uint32_t c = d; c < padded; ++c) x[c] = 0.0f;
  sc.pruned = false;
  sc.grouped = false;
  const bool wide = d >= cpu::kPruneMinD;
  if (a.k <= cpu::kMaxBufferK && !a.noise.explicitNoise && (wide || path.groupedSample)) {
    const uint32_t groups = (d + 3) / 4;
    const uint32_t blocks = (groups + 7) / 8;
    const size_t lanes = static_cast<size_t>((blocks + 1) & ~1u) * 8;  // whole 16-group blocks
    if (sc.xs.size() < 4 * lanes) sc.xs.resize(4 * lanes);
    PrunedRow& pr = sc.pr;
    for (uint32_t j = 0; j < 4; ++j) pr.xs[j] = sc.xs.data() + j * lanes;
    pr.x = x;
    pr.d = d;
    pr.groups = groups;
    pr.blocks = blocks;
    // Pruning is exact only on finite rows.
    pr.nSeed = 0;
    const uint32_t seeds = wide ? cpu::kSeedColumns : 0;
    const bool finite = path.prepareRow(x, d, sc.xs.data(), lanes, pr, seeds);
    sc.pruned = finite && wide;
    sc.grouped = !sc.pruned && path.groupedSample;  // xs is ready for path.groupedSample
    if (sc.grouped && sc.ys.size() < 4 * lanes) sc.ys.resize(4 * lanes);
    const size_t words = d / 64 + 1;
    if (sc.seedBits.size() < words) sc.seedBits.resize(words);
    std::memset(sc.seedBits.data(), 0, words * sizeof(uint64_t));
    for (uint32_t q = 0; q < pr.nSeed; ++q) sc.seedBits[pr.seed[q] >> 6] |= uint64_t{1} << (pr.seed[q] & 63);
    pr.seedBits = sc.seedBits.data();
  }
  sc.preparedCall = call;
  sc.preparedRow = row;
}

}  // namespace

namespace cpu {

// Baseline code: the CPU checks must run on every CPU, so they live outside the SIMD files.
bool avx2Usable() {
#if NTK_X86_SIMD
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

bool avx512Usable() {
#if NTK_X86_SIMD
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

void perturbedRowScalar(const StreamPos& sp, float eps, const float* x, uint32_t d, float* y) {
  const uint32_t groups = (d + 3) / 4;
  for (uint32_t g = 0; g < groups; ++g) {
    const Normal4 z = normal4(sp.seedLo, sp.seedHi, sp.offset, sp.row, sp.sample, g);
    const uint32_t c0 = g * 4;
    const uint32_t n = std::min<uint32_t>(4, d - c0);
    for (uint32_t j = 0; j < n; ++j) y[c0 + j] = perturb(x[c0 + j], eps, z.z[j]);
  }
}

bool prepareRowScalar(const float* x, uint32_t d, float* xs, size_t lanes, PrunedRow& pr, uint32_t seeds) {
  bool finite = true;
  for (uint32_t c = 0; c < d; ++c) finite = finite && std::isfinite(x[c]);
  for (uint32_t j = 0; j < 4; ++j) {
    for (size_t g = 0; g < lanes; ++g) {
      const size_t c = 4 * g + j;
      xs[j * lanes + g] = c < d ? x[c] : kNegInf;
    }
  }
  if (finite) {
    const uint32_t want = std::min(d, seeds);
    for (uint32_t c = 0; want > 0 && c < d; ++c) considerSeed(pr, want, x[c], c);
  }
  return finite;
}

void prunedSampleScalar(const StreamPos& sp, float eps, const PrunedRow& pr, TopBuffer& tb) {
  const uint32_t d = pr.d;
  for (uint32_t q = 0; q < pr.nSeed; ++q) {
    const uint32_t c = pr.seed[q];
    const Normal4 z = normal4(sp.seedLo, sp.seedHi, sp.offset, sp.row, sp.sample, c / 4);
    tb.insert(perturb(pr.x[c], eps, z.z[c % 4]), c);  // the sweep skips seed columns
  }
  for (uint32_t g = 0; g < pr.groups; ++g) {
    const Philox4 w = philox4x32_10(g, sp.row, sp.sample, sp.offset, sp.seedLo, sp.seedHi);
    for (uint32_t h = 0; h < 2; ++h) {
      // Every z from these words is at most r * (cos or sin bound of the angle's octant),
      // r <= radiusBound, so y <= the bound below; a pair both below tau is skipped.
      const float r = radiusBound(w.v[2 * h]);
      const uint32_t oct = w.v[2 * h + 1] >> 29;
      const uint32_t c = 4 * g + 2 * h;
      const float up0 = NTK_FADD(pr.xs[2 * h][g], NTK_FMUL(eps, NTK_FMUL(r, cpu::kCosMax[oct])));
      const float up1 = NTK_FADD(pr.xs[2 * h + 1][g], NTK_FMUL(eps, NTK_FMUL(r, cpu::kSinMax[oct])));
      if (up0 < tb.tau && up1 < tb.tau) continue;
      const NormalPair z = boxMuller(w.v[2 * h], w.v[2 * h + 1]);
      if (c < d && !pr.isSeed(c)) tb.insert(perturb(pr.x[c], eps, z.z0), c);
      if (c + 1 < d && !pr.isSeed(c + 1)) tb.insert(perturb(pr.x[c + 1], eps, z.z1), c + 1);
    }
  }
}

}  // namespace cpu

namespace {

// The hint of solveUnit's kernels: the k-th value of the row's previous sample (same call,
// same thread) less a margin, or -inf. Any floor gives the exact answer; a close one lets the
// kernels skip most columns.
float hintFloor(const Scratch& sc, uint64_t call, uint64_t row, float eps) {
  if (sc.hintCall != call || sc.hintRow != row || !std::isfinite(sc.hint)) return kNegInf;
  return NTK_FSUB(sc.hint, NTK_FADD(NTK_FMUL(NTK_HINT_MARGIN, eps), 1e-3f));
}

// One (row, sample): the column of the k-th largest perturbed value and that value.
void solveUnit(const ForwardArgs& a, const CpuPath& path, uint64_t call, uint64_t row, uint32_t s, Scratch& sc,
               int32_t* pos, float* value) {
  const uint32_t d = static_cast<uint32_t>(a.layout.d);
  const float eps = a.epsilon;
  if (a.noise.explicitNoise) {
    prepareRow(a, path, call, row, sc);
    float* y = sc.y.data();
    const Layout& l = a.layout;
    const uint64_t o = row / l.inner, i = row % l.inner;
    const uint64_t base = o * l.d * l.inner + i;
    const float* z = a.noise.explicitNoise;
    for (uint32_t c = 0; c < d; ++c) {
      const uint64_t e = base + static_cast<uint64_t>(c) * l.inner;
      y[c] = perturb(sc.x[c], eps, z[e * a.nSample + s]);
    }
    const uint32_t c = kthColumn(y, d, a.k, sc.keys);
    *pos = static_cast<int32_t>(c);
    *value = y[c];
    return;
  }
  // The lazy sampler (lazy_cpu.cpp); a row it does not take runs the dense path below.
  if (a.sampler == kSamplerLazy && cpu::lazySolveUnit(a, call, row, s, pos, value)) return;
  prepareRow(a, path, call, row, sc);
  float* y = sc.y.data();
  StreamPos sp;
  sp.seedLo = a.noise.seedLo;
  sp.seedHi = a.noise.seedHi;
  sp.offset = a.noise.offset;
  sp.row = static_cast<uint32_t>(row);
  sp.sample = s;
  const float floor = hintFloor(sc, call, row, eps);
  uint32_t c;
  if (sc.pruned) {
    path.prunedSample(sp, eps, sc.pr, a.k, floor, &c, value);
  } else if (sc.grouped) {
    path.groupedSample(sp, eps, sc.pr, a.k, floor, sc.ys.data(), &c, value);
  } else {
    path.perturbedRow(sp, eps, sc.x.data(), d, y);
    c = a.k <= cpu::kMaxBufferK && path.kthColumn ? path.kthColumn(y, d, a.k, floor) : kthColumn(y, d, a.k, sc.keys);
    *value = y[c];
  }
  *pos = static_cast<int32_t>(c);
  sc.hint = *value;
  sc.hintCall = call;
  sc.hintRow = row;
}

}  // namespace

Status forwardCpu(const ForwardArgs& a) {
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  const uint64_t rows = a.layout.rows();
  const uint32_t d = static_cast<uint32_t>(a.layout.d);
  const uint32_t S = a.nSample;
  if (rows == 0) return Status::kOk;
  const uint64_t call = callCounter.fetch_add(1, std::memory_order_relaxed);
  std::atomic<bool> oom{false};
  const uint64_t units = rows * S;
  // Work per unit is about d columns of noise; chunks of ~16k columns (tens of microseconds)
  // keep the pool busy and its overhead small. Chunks hold whole rows (multiples of S units,
  // starting at multiples of S): a row is prepared once, its samples after the first start
  // from the previous one's k-th value, and its mean is summed right here, so no per-sample
  // buffer is needed beyond the outputs.
  const size_t perRow = std::max<size_t>(1, 16384 / ((static_cast<size_t>(d) + 1) * S));
  const size_t grain = perRow * S;
  const CpuPath& path = cpuPath();
  parallelFor(
      units, grain,
      [&](size_t begin, size_t end) {
        Scratch& sc = scratch();
        try {
          // Samples in order, in binary64, one rounding at the end (core/sample_mean.h): the
          // rule is part of the contract, the same bits on every backend and both samplers.
          SampleMean mean;
          for (size_t u = begin; u < end; ++u) {
            const uint64_t row = u / S;
            const uint32_t s = static_cast<uint32_t>(u % S);
            float value;
            solveUnit(a, path, call, row, s, sc, a.positions + u, &value);
            if (a.sampleValues) a.sampleValues[u] = value;  // the float the mean below sums
            if (s == 0) mean = SampleMean{};
            mean.add(value);
            if (s + 1 == S) a.values[row] = mean.mean(S);
          }
          injectedFailure();
        } catch (const std::bad_alloc&) {
          sc.preparedCall = ~0ull;
          oom.store(true);
        }
      },
      settleScratch);
  return oom.load() ? Status::kOutOfMemory : Status::kOk;
}

namespace {

// Rows o in [ob, oe) of backwardCpu. counts (d entries) is all zeros on entry and on return.
void backwardChunk(const BackwardArgs& a, uint64_t ob, uint64_t oe, uint32_t* counts) {
  const Layout& l = a.layout;
  const uint32_t S = a.nSample;
  const uint32_t d = static_cast<uint32_t>(l.d);
  for (uint64_t o = ob; o < oe; ++o) {
    for (uint64_t i = 0; i < l.inner; ++i) {
      const uint64_t r = o * l.inner + i;
      const int32_t* pos = a.positions + r * S;
      for (uint32_t s = 0; s < S; ++s) ++counts[pos[s]];
      const float scale = a.rowScale[r];
      // Unselected columns get 0 * scale, as a dense mask times grad_output would: -0 for
      // a negative scale, NaN for a non-finite one.
      const float unselected = NTK_FMUL(0.0f, scale);
      float* slice = a.grad + o * l.d * l.inner + i;
      for (uint32_t c = 0; c < d; ++c) slice[static_cast<uint64_t>(c) * l.inner] = unselected;
      for (uint32_t s = 0; s < S; ++s) {
        const uint32_t c = static_cast<uint32_t>(pos[s]);
        if (counts[c] == 0) continue;  // already written
        // The mean over samples of scale * onehot, rounded once (core/sample_mean.h).
        a.grad[(o * l.d + c) * l.inner + i] = countShare(counts[c], S, scale);
        counts[c] = 0;
      }
    }
  }
}

}  // namespace

Status backwardCpu(const BackwardArgs& a) {
  if (validate(a, nullptr) != Status::kOk) return Status::kInvalidArgument;
  const Layout& l = a.layout;
  const uint64_t rows = l.rows();
  const uint32_t S = a.nSample;
  const uint32_t d = static_cast<uint32_t>(l.d);
  for (uint64_t r = 0; r < rows * S; ++r) {
    if (a.positions[r] < 0 || static_cast<uint64_t>(a.positions[r]) >= l.d) return Status::kInvalidArgument;
  }
  // Set by whichever pool thread fails to allocate: an atomic, as in forwardCpu.
  std::atomic<bool> oom{false};
  const size_t grain = std::max<size_t>(1, 65536 / (static_cast<size_t>(d) + S));
  parallelFor(
      l.outer, std::max<size_t>(1, grain / std::max<uint64_t>(l.inner, 1)),
      [&](size_t ob, size_t oe) {
        Scratch& sc = scratch();
        try {
          if (sc.counts.size() < d) sc.counts.assign(d, 0);
          backwardChunk(a, ob, oe, sc.counts.data());
          injectedFailure();
        } catch (const std::bad_alloc&) {
          oom.store(true);
        }
      },
      settleScratch);
  return oom.load() ? Status::kOutOfMemory : Status::kOk;
}

void setCpuThreads(unsigned n) { setPoolThreads(n); }
unsigned cpuThreads() { return poolThreads(); }
unsigned maxCpuThreads() { return maxPoolThreads(); }
uint64_t cpuScratchBytes() { return scratchHeld.load() + cpu::lazyScratchBytes(); }
unsigned cpuWorkerThreads() { return poolWorkers(); }
void cpuFailNextChunks(unsigned n) { chunksToFail.store(n); }

}  // namespace ntk
