// Runs the CUDA kernels of native/cuda/select.cuh and lazy_select.cuh on the CPU through the SIMT
// emulator (cuda_runtime.h beside this file) and compares them with forwardCpu / backwardCpu:
// every selection path, k from 1 to d, inner > 1, explicit noise, NaN / inf, small grids (so every
// grid-stride loop turns); and the lazy sampler (checkLazy) against forwardCpu with sampler
// 'lazy', rows of every kind in one call, lazy and dense-fallback rows mixed. A logic check for
// machines without a GPU; see run.sh.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check_util.h"
#include "core/noised_topk.h"
#include "cuda/lazy_select.cuh"
#include "cuda/select.cuh"

namespace {

using namespace ntk::cudak;

using emu::bitsCanon;
using emu::Rng;

enum Path { kShort, kWarp, kRadixShared, kRadixRegen };
const char* kNames[] = {"short", "warp", "radix-shared", "radix-regen"};

int failures = 0, runs = 0;

void check(uint64_t outer, uint32_t d, uint64_t inner, uint32_t k, uint32_t S, float eps, bool explicitNoise,
           int special, Path path, unsigned grid, Rng& rng) {
  if (path == kShort && d > kShortD) return;
  if (path == kWarp && k > kWarpMaxK) return;
  if (path == kRadixShared && d > kSharedD) return;
  static const float kSpecial[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f, -1.0f, 3.5f};
  ntk::ForwardArgs a;
  a.layout.outer = outer;
  a.layout.d = d;
  a.layout.inner = inner;
  a.k = k;
  a.epsilon = eps;
  a.nSample = S;
  const uint64_t size = a.layout.size(), rows = a.layout.rows(), units = rows * S;
  std::vector<float> x(size), noise;
  for (float& v : x) {
    v = special == 2 ? kSpecial[rng.next() % 8] : special == 1 ? std::round(rng.uniform(-3, 3)) : rng.uniform(-3, 3);
  }
  a.x = x.data();
  if (explicitNoise) {
    noise.resize(size * S);
    for (float& v : noise) v = rng.uniform(-2, 2);
    a.noise.explicitNoise = noise.data();
  } else {
    a.noise.seedLo = rng.next();
    a.noise.seedHi = rng.next();
    a.noise.offset = rng.next();
  }
  std::vector<float> v0(rows), v1(rows, -12345.0f), kth(units, -777.0f), sv0(units, -555.0f);
  std::vector<int32_t> p0(units), p1(units, -1);
  a.values = v0.data();
  a.positions = p0.data();
  a.sampleValues = sv0.data();  // forwardCuda downloads the kernels' kth buffer into it
  if (ntk::forwardCpu(a) != ntk::Status::kOk) {
    std::printf("forwardCpu failed\n");
    ++failures;
    return;
  }
  FwdParams p;
  p.x = x.data();
  p.noise = a.noise.explicitNoise;
  p.inner = inner;
  p.units = units;
  p.d = d;
  p.nSample = S;
  p.k = k;
  p.eps = eps;
  p.seedLo = a.noise.seedLo;
  p.seedHi = a.noise.seedHi;
  p.offset = a.noise.offset;
  p.positions = p1.data();
  p.kth = kth.data();
  switch (path) {
    case kShort: emu::launch(grid, kShortThreads, [&] { selectShortKernel(p); }); break;
    case kWarp: emu::launch(grid, kWarpsPerBlock * 32, [&] { selectWarpKernel(p); }); break;
    case kRadixShared: emu::launch(grid, kRadixThreads, [&] { selectRadixKernel<true>(p); }); break;
    case kRadixRegen: emu::launch(grid, kRadixThreads, [&] { selectRadixKernel<false>(p); }); break;
  }
  emu::launch(1, 32, [&] { meanKernel(kth.data(), rows, S, v1.data()); });
  bool same = p0 == p1;
  for (uint64_t r = 0; r < rows; ++r) same = same && bitsCanon(v0[r]) == bitsCanon(v1[r]);
  // The per-sample values: the CPU's ForwardArgs::sampleValues against the device's kth buffer.
  for (uint64_t u = 0; u < units; ++u) same = same && bitsCanon(sv0[u]) == bitsCanon(kth[u]);

  std::vector<float> scale(rows), g0(size), g1(size, 99.0f);
  static const float kScales[] = {1.0f, -0.5f, 0.0f, -0.0f, 3.25f, INFINITY, NAN, 1e-30f};
  for (uint64_t r = 0; r < rows; ++r) scale[r] = r % 4 == 3 ? kScales[rng.next() % 8] : rng.uniform(-2, 2);
  ntk::BackwardArgs b;
  b.positions = p0.data();
  b.rowScale = scale.data();
  b.layout = a.layout;
  b.nSample = S;
  b.grad = g0.data();
  ntk::backwardCpu(b);
  BwdParams q;
  q.positions = p0.data();
  q.rowScale = scale.data();
  q.grad = g1.data();
  q.inner = inner;
  q.rows = rows;
  q.d = d;
  q.nSample = S;
  bool sameGrad = true;
  for (int scatter = 0; scatter < 2; ++scatter) {
    if (scatter && S > kBackwardSharedS) continue;
    std::fill(g1.begin(), g1.end(), 99.0f);
    if (scatter)
      emu::launch(std::min<unsigned>(grid, 2), 64, [&] { backwardKernel<true>(q); });
    else
      emu::launch(std::min<unsigned>(grid, 2), 64, [&] { backwardKernel<false>(q); });
    for (uint64_t e = 0; e < size; ++e) sameGrad = sameGrad && bitsCanon(g0[e]) == bitsCanon(g1[e]);
  }
  ++runs;
  if (!same || !sameGrad) {
    ++failures;
    std::printf("FAIL %s outer=%llu d=%u inner=%llu k=%u S=%u eps=%g %s special=%d grid=%u: forward %s backward %s\n",
                kNames[path], (unsigned long long)outer, d, (unsigned long long)inner, k, S, eps,
                explicitNoise ? "noise" : "stream", special, grid, same ? "same" : "DIFFERS",
                sameGrad ? "same" : "DIFFERS");
    for (uint64_t u = 0; u < units && u < 8; ++u)
      std::printf("  unit %llu: cpu col %d gpu col %d\n", (unsigned long long)u, p0[u], p1[u]);
  }
}

// ---- the lazy sampler: lazy_select.cuh + the dense kernels for the fallback rows ----

int lazyRuns = 0, lazyFailures = 0;
uint64_t lazyRowsSeen = 0, denseRowsSeen = 0;

// The normal-tail table, filled once by the device kernel (as noised_topk_cuda.cu does).
const ntk::lazy::TailTable& deviceTailTable() {
  static ntk::lazy::TailTable* t = [] {
    auto* tab = new ntk::lazy::TailTable;
    emu::launch(1, 32, [&] { lazyTailTableKernel(tab); });
    return tab;
  }();
  return *t;
}

// Row kinds of checkLazy, mixed within one call.
enum RowKind { kNormal, kTies, kAllEqual, kOutliers, kNonFinite, kHuge, kNarrow, kWide, kZeroTop, kRowKinds };

void fillRow(float* x, uint32_t d, uint64_t inner, RowKind kind, Rng& rng) {
  static const float kSpecial[] = {NAN, INFINITY, -INFINITY, 1.0f};
  for (uint32_t c = 0; c < d; ++c) {
    float v = rng.uniform(-3, 3);
    switch (kind) {
      case kNormal: break;
      case kTies: v = std::round(v); break;
      case kAllEqual: v = 1.5f; break;
      case kOutliers: v = rng.next() % 97 == 0 ? 20.0f + v : v / 3.0f; break;
      case kNonFinite: v = rng.next() % 7 == 0 ? kSpecial[rng.next() % 4] : v; break;
      case kHuge: v = v * 2e37f; break;  // with eps = 1e36: dense by max|x| + 64 eps > 1e38
      case kNarrow: v = v * 1e-4f; break;
      case kWide: v = v * 300.0f; break;
      // The largest x is 0 or -0, both present: the CPU's SIMD extremes may take the other zero
      // than the device's scalar scan, which must change no bucket, far test or threshold.
      case kZeroTop: v = rng.next() % 5 == 0 ? (rng.next() % 2 ? 0.0f : -0.0f) : -std::fabs(v); break;
      default: break;
    }
    x[static_cast<uint64_t>(c) * inner] = v;
  }
}

// One call: forwardCpu with sampler 'lazy' against the emulated CUDA forward as launchForward
// runs it (prepare, a dense path for the fallback rows, the lazy sample kernel with `slots`
// threads, the mean). Positions and values bit for bit.
void checkLazy(uint64_t outer, uint32_t d, uint64_t inner, uint32_t k, uint32_t S, float eps, Path path, uint64_t slots,
               Rng& rng) {
  // A dense path that does not apply to this shape gives way to the next one that does
  // (radix-regen applies to every shape).
  if (path == kShort && d > kShortD) path = kWarp;
  if (path == kWarp && k > kWarpMaxK) path = kRadixShared;
  if (path == kRadixShared && d > kSharedD) path = kRadixRegen;
  ntk::ForwardArgs a;
  a.layout.outer = outer;
  a.layout.d = d;
  a.layout.inner = inner;
  a.k = k;
  a.epsilon = eps;
  a.nSample = S;
  a.sampler = ntk::kSamplerLazy;
  a.noise.seedLo = rng.next();
  a.noise.seedHi = rng.next();
  a.noise.offset = rng.next();
  const uint64_t rows = a.layout.rows(), units = rows * S;
  std::vector<float> x(a.layout.size());
  for (uint64_t row = 0; row < rows; ++row) {
    const uint64_t o = row / inner, i = row % inner;
    fillRow(x.data() + o * d * inner + i, d, inner, static_cast<RowKind>(rng.next() % kRowKinds), rng);
  }
  a.x = x.data();
  std::vector<float> v0(rows), v1(rows, -12345.0f), kth(units, -777.0f);
  std::vector<int32_t> p0(units), p1(units, -1);
  a.values = v0.data();
  a.positions = p0.data();
  if (ntk::forwardCpu(a) != ntk::Status::kOk) {
    std::printf("forwardCpu (lazy) failed\n");
    ++lazyFailures;
    return;
  }
  const uint64_t width = ntk::lazy::lazySlotWidth(d);
  slots = std::min<uint64_t>(std::max<uint64_t>(slots, 1), units);
  std::vector<float> rowX(rows * d), val(slots * width);
  std::vector<uint32_t> cols(rows * d);
  std::vector<uint8_t> binOf(rows * d);
  // Not zeroed, as cudaMalloc's memory is not: lazySampleKernel clears its slot's marks.
  std::vector<uint64_t> key(slots * width, 0xA5A5A5A5A5A5A5A5ull);
  std::vector<LazyRowInfo> info(rows);
  std::vector<uint8_t> flags(rows, 0xEE);
  FwdParams p;
  p.x = x.data();
  p.noise = nullptr;
  p.inner = inner;
  p.units = units;
  p.d = d;
  p.nSample = S;
  p.k = k;
  p.eps = eps;
  p.seedLo = a.noise.seedLo;
  p.seedHi = a.noise.seedHi;
  p.offset = a.noise.offset;
  p.positions = p1.data();
  p.kth = kth.data();
  LazyParams lp;
  lp.call = p;
  lp.rows = rows;
  lp.rowX = rowX.data();
  lp.binOf = binOf.data();
  lp.cols = cols.data();
  lp.info = info.data();
  lp.lazyRows = flags.data();
  lp.tail = &deviceTailTable();
  lp.key = key.data();
  lp.val = val.data();
  lp.slots = slots;
  // Two blocks of prepare threads (fewer than the rows in most calls: the grid-stride loop turns).
  emu::launch(2, kLazyPrepareThreads, [&] { lazyPrepareKernel(lp); });
  p.lazyRows = flags.data();
  switch (path) {
    case kShort: emu::launch(2, kShortThreads, [&] { selectShortKernel(p); }); break;
    case kWarp: emu::launch(2, kWarpsPerBlock * 32, [&] { selectWarpKernel(p); }); break;
    case kRadixShared: emu::launch(2, kRadixThreads, [&] { selectRadixKernel<true>(p); }); break;
    case kRadixRegen: emu::launch(2, kRadixThreads, [&] { selectRadixKernel<false>(p); }); break;
  }
  const unsigned sampleBlocks = static_cast<unsigned>((slots + kLazySampleThreads - 1) / kLazySampleThreads);
  emu::launch(sampleBlocks, kLazySampleThreads, [&] { lazySampleKernel(lp); });
  emu::launch(1, 32, [&] { meanKernel(kth.data(), rows, S, v1.data()); });
  uint64_t lazyRowsHere = 0;
  for (uint64_t r = 0; r < rows; ++r) lazyRowsHere += flags[r] == 1 ? 1 : 0;
  bool same = p0 == p1;
  for (uint64_t r = 0; r < rows; ++r) same = same && bitsCanon(v0[r]) == bitsCanon(v1[r]);
  ++lazyRuns;
  lazyRowsSeen += lazyRowsHere;
  denseRowsSeen += rows - lazyRowsHere;
  if (!same) {
    ++lazyFailures;
    std::printf("FAIL lazy %s outer=%llu d=%u inner=%llu k=%u S=%u eps=%g slots=%llu (%llu lazy rows of %llu)\n",
                kNames[path], (unsigned long long)outer, d, (unsigned long long)inner, k, S, eps,
                (unsigned long long)slots, (unsigned long long)lazyRowsHere, (unsigned long long)rows);
    int shown = 0;
    for (uint64_t u = 0; u < units && shown < 6; ++u) {
      if (p0[u] == p1[u]) continue;
      std::printf("  unit %llu (row %llu, %s): cpu col %d gpu col %d\n", (unsigned long long)u,
                  (unsigned long long)(u / S), flags[u / S] == 1 ? "lazy" : "dense", p0[u], p1[u]);
      ++shown;
    }
    for (uint64_t r = 0; r < rows && shown < 10; ++r) {
      if (bitsCanon(v0[r]) == bitsCanon(v1[r])) continue;
      std::printf("  row %llu: cpu value %.9g gpu value %.9g\n", (unsigned long long)r, v0[r], v1[r]);
      ++shown;
    }
  }
}

// The emulated kernels are host code, so they take lazy_sampler.h's x86 form of the Philox blocks
// (philoxBlocks4, SSE2); the device takes its scalar form, philox4x32_10 block by block. The two
// must give the same words for every counter and key, or the device would draw another stream.
int checkPhiloxBlocks4(Rng& rng) {
  int bad = 0;
  for (int t = 0; t < 200000; ++t) {
    uint32_t c0[4];
    for (uint32_t& c : c0) c = rng.next();
    if (t % 2 == 0) {  // consecutive, as T's and the word stream's counters are
      for (uint32_t i = 1; i < 4; ++i) c0[i] = c0[0] + i;
    }
    const uint32_t c1 = rng.next(), c2 = rng.next(), c3 = rng.next(), k0 = rng.next(), k1 = rng.next();
    uint32_t words[16];
    ntk::lazy::philoxBlocks4(c0, c1, c2, c3, k0, k1, words);
    for (int i = 0; i < 4; ++i) {
      const ntk::Philox4 b = ntk::philox4x32_10(c0[i], c1, c2, c3, k0, k1);
      for (int j = 0; j < 4; ++j) bad += words[4 * i + j] != b.v[j] ? 1 : 0;
    }
  }
  std::printf("philoxBlocks4: %s philox4x32_10 on 200000 random counter sets\n", bad ? "DIFFERS from" : "equals");
  return bad;
}

void runLazyChecks(bool quick, Rng& rng) {
  lazyFailures += checkPhiloxBlocks4(rng) ? 1 : 0;
  // (d, k): lazy rows (2m <= d), k near the bound, and shapes that are dense by the fixed rule
  // (d < 2m: every row falls back).
  struct Shape {
    uint32_t d, k;
  };
  const Shape shapes[] = {{40, 1}, {40, 6}, {300, 3}, {300, 40}, {1000, 6}, {17, 2}, {100, 70}, {2000, 200}};
  const float epsList[] = {1.0f, 0.05f, 20.0f, 0.0f, 1e36f};
  int n = 0;
  for (const Shape& sh : shapes) {
    for (float eps : epsList) {
      const Path dense = static_cast<Path>(n++ % 4);
      const uint64_t outer = sh.d >= 1000 ? 6 : 12;
      checkLazy(outer, sh.d, 1, sh.k, 3, eps, dense, 5, rng);
      if (quick && eps != 1.0f) continue;
      checkLazy(outer / 2, sh.d, 3, sh.k, 1, eps, static_cast<Path>(n++ % 4), 64, rng);  // inner > 1, S = 1
    }
  }
  if (!quick) {
    for (int i = 0; i < 12; ++i) {  // random shapes
      const uint32_t d = 20 + rng.next() % 700;
      const uint32_t k = 1 + rng.next() % std::max(1u, d / 3);
      checkLazy(1 + rng.next() % 10, d, 1 + rng.next() % 3, k, 1 + rng.next() % 5, rng.uniform(0.01f, 4.0f),
                static_cast<Path>(rng.next() % 4), 1 + rng.next() % 200, rng);
    }
  }
  std::printf("lazy emu_check: %d runs (%llu lazy rows, %llu dense-fallback rows), %d failures\n", lazyRuns,
              (unsigned long long)lazyRowsSeen, (unsigned long long)denseRowsSeen, lazyFailures);
}

}  // namespace

// The warp path's pruning bound against the stream's own radius, for every radius input.
int checkRadiusBound() {
  int bad = 0;
  for (uint32_t m = 0; m < (1u << 24); ++m) {
    const uint32_t w = m << 8;
    const float u = NTK_FMUL(static_cast<float>((w >> 8) + 1u), 5.9604644775390625e-08f);  // as boxMuller
    const float r = NTK_FSQRT(NTK_FMUL(-2.0f, ntk::logUnit(u)));
    if (!(ntk::radiusBound(w) >= r)) {
      if (bad < 5) std::printf("radiusBound(%u) = %.9g < r = %.9g\n", w, ntk::radiusBound(w), r);
      ++bad;
    }
  }
  std::printf("radiusBound: %s for all 2^24 radius inputs\n", bad ? "FAILS" : "holds");
  return bad;
}

// meanKernel on the audit's rows (issue 21): 1000 samples at 30,000,010 or a float32 neighbour,
// and 4096 samples near -1e6. It must give the documented rule, fl32(sum in binary64 in sample
// order / S), written out here independently; the float32 running sum it replaced (the control)
// is many ulp off on both rows. Returns the number of failures.
int checkMeanRule(Rng& rng) {
  const uint32_t sizes[2] = {1000, 4096};
  int bad = 0;
  for (uint32_t row = 0; row < 2; ++row) {
    const uint32_t S = sizes[row];
    std::vector<float> kth(S);
    for (float& v : kth)
      v = row == 0 ? 30000010.0f + 2.0f * static_cast<float>(rng.next() % 2) : -1e6f - rng.uniform(0, 3);
    float got = -1.0f;
    emu::launch(1, 32, [&] { meanKernel(kth.data(), 1, S, &got); });
    double sum = 0.0;
    float sum32 = 0.0f;
    for (float v : kth) {
      sum += static_cast<double>(v);
      sum32 += v;
    }
    const float want = static_cast<float>(sum / static_cast<double>(S));
    const float old = sum32 / static_cast<float>(S);
    int32_t wb, ob;
    std::memcpy(&wb, &want, 4);
    std::memcpy(&ob, &old, 4);
    const int32_t oldUlp = wb > ob ? wb - ob : ob - wb;
    if (bitsCanon(got) != bitsCanon(want) || oldUlp < 50) {
      ++bad;
      std::printf("FAIL meanKernel S=%u: got %.9g, rule %.9g, float32 sum %.9g (%d ulp)\n", S, got, want, old, oldUlp);
    }
  }
  if (bad == 0)
    std::printf("meanKernel: the float64 mean rule holds on the audit's rows (float32 sum control fails)\n");
  return bad;
}

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  Rng rng(2026);
  if (argc > 1 && std::strcmp(argv[1], "--lazy") == 0) {  // the lazy sampler's full check alone
    runLazyChecks(false, rng);
    return lazyFailures == 0 ? 0 : 1;
  }
  failures += checkRadiusBound() ? 1 : 0;
  failures += checkMeanRule(rng);
  const uint32_t ds[] = {1, 2, 5, 16, 17, 31, 100, 129, 300};
  for (uint32_t d : ds) {
    std::vector<uint32_t> ks = {1, std::min(d, 3u), std::min(d, 32u), std::min(d, 33u), (d + 1) / 2, d};
    std::sort(ks.begin(), ks.end());
    ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
    for (uint32_t k : ks) {
      for (int path = 0; path < 4; ++path) {
        const Path P = static_cast<Path>(path);
        check(3, d, 1, k, 3, 1.0f, false, 0, P, 2, rng);
        if (quick) continue;
        check(2, d, 3, k, 2, 0.5f, true, 0, P, 3, rng);    // inner > 1, explicit noise
        check(4, d, 1, k, 1, 0.0f, false, 1, P, 1, rng);   // ties, eps = 0
        check(3, d, 1, k, 2, 0.25f, false, 2, P, 2, rng);  // NaN / inf / signed zeros
      }
    }
  }
  if (!quick) {
    // Long rows: the regenerating radix path and the warp sweep over many groups.
    for (int path = 1; path < 4; ++path) {
      check(1, 9000, 1, 7, 2, 1.0f, false, 0, static_cast<Path>(path), 1, rng);
      check(1, 9000, 1, 4000, 1, 1.0f, false, 0, static_cast<Path>(path), 1, rng);
    }
    check(40, 10, 1, 4, 5, 1.0f, false, 0, kShort, 1, rng);   // 200 units on one small grid
    check(2, 7, 1, 2, 1500, 1.0f, false, 0, kShort, 2, rng);  // S > kBackwardSharedS: the counting backward
    check(2, 40, 1, 3, 1024, 1.0f, false, 0, kWarp, 2, rng);  // S = kBackwardSharedS: the scatter backward
  }
  std::printf("emu_check: %d runs, %d failures\n", runs, failures);
  runLazyChecks(quick, rng);
  return failures == 0 && lazyFailures == 0 ? 0 : 1;
}
