// Self-check and benchmark of the CUDA backend (native/cuda/), run on the GPU machine by
// scripts/gpu-check.sh. Build: bench/cuda/CMakeLists.txt.
//
//   bench_cuda --check [--small]   every selection path (NOISED_TOPK_CUDA_SELECT) and the
//                                  backward against forwardCpu / backwardCpu, bit for bit
//                                  (NaN payloads aside); host API and device-resident API.
//                                  --small: few, small cases (the compute-sanitizer driver).
//   bench_cuda --bench [--out F]   BalNoisedTopK(k=5, eps=1) shaped work (kernel k = 6) at the
//                                  issue's sizes: device-resident ("kernel only") and from
//                                  pageable host arrays (end to end), the extra device memory,
//                                  and the Philox + memory floor. Markdown table to stdout / F.
// Exit status 0 when every check passes.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/noised_topk.h"
#include "core/noised_topk_cuda.h"
#include "core/philox_normal.h"

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

uint32_t bitsCanon(float f) {
  if (std::isnan(f)) return 0x7fc00000u;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s >> 16);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * (next() / 4294967296.0f); }
};

bool ok(ntk::Status s, const char* what) {
  if (s == ntk::Status::kOk) return true;
  std::fprintf(stderr, "%s failed: %s (%s)\n", what, ntk::statusName(s), ntk::cudaLastError());
  return false;
}

// ---------------------------------------------------------------- check

struct Case {
  uint64_t outer, d, inner;
  uint32_t k, S;
  float eps;
  bool explicitNoise;
  int special;  // 0: uniform values; 1: coarse (ties); 2: NaN / inf / signed zeros
};

int failures = 0;

void fillX(std::vector<float>& x, Rng& rng, int special) {
  static const float kSpecial[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f, -1.0f, 3.5f};
  for (float& v : x) {
    if (special == 2)
      v = kSpecial[rng.next() % 8];
    else if (special == 1)
      v = std::round(rng.uniform(-3, 3));
    else
      v = rng.uniform(-3, 3);
  }
}

void checkCase(const Case& c, const char* path, Rng& rng) {
  if (std::strcmp(path, "auto") == 0)
    unsetenv("NOISED_TOPK_CUDA_SELECT");
  else
    setenv("NOISED_TOPK_CUDA_SELECT", path, 1);
  ntk::ForwardArgs a;
  a.layout.outer = c.outer;
  a.layout.d = c.d;
  a.layout.inner = c.inner;
  a.k = c.k;
  a.epsilon = c.eps;
  a.nSample = c.S;
  const uint64_t size = a.layout.size(), rows = a.layout.rows();
  std::vector<float> x(size), noise;
  fillX(x, rng, c.special);
  a.x = x.data();
  if (c.explicitNoise) {
    noise.resize(size * c.S);
    for (float& v : noise) v = rng.uniform(-2, 2);
    a.noise.explicitNoise = noise.data();
  } else {
    a.noise.seedLo = rng.next();
    a.noise.seedHi = rng.next();
    a.noise.offset = rng.next();
  }
  std::vector<float> v0(rows), v1(rows), v2(rows);
  std::vector<int32_t> p0(rows * c.S), p1(rows * c.S), p2(rows * c.S);
  ntk::ForwardArgs cpu = a, gpu = a;
  cpu.values = v0.data();
  cpu.positions = p0.data();
  gpu.values = v1.data();
  gpu.positions = p1.data();
  char label[256];
  std::snprintf(label, sizeof label, "[%s] outer=%llu d=%llu inner=%llu k=%u S=%u eps=%g %s special=%d (path %s)", path,
                (unsigned long long)c.outer, (unsigned long long)c.d, (unsigned long long)c.inner, c.k, c.S, c.eps,
                c.explicitNoise ? "noise" : "stream", c.special, ntk::cudaSelectPath(c.d, c.k, rows * c.S));
  if (!ok(ntk::forwardCpu(cpu), "forwardCpu") || !ok(ntk::forwardCuda(gpu), "forwardCuda")) {
    ++failures;
    std::printf("FAIL %s: forward error\n", label);
    return;
  }
  bool same = p0 == p1;
  for (uint64_t r = 0; r < rows; ++r) same = same && bitsCanon(v0[r]) == bitsCanon(v1[r]);

  // The device-resident API gives the same.
  {
    void *dx = nullptr, *dn = nullptr, *dv = nullptr, *dp = nullptr;
    ntk::ForwardArgs d = a;
    bool good = ok(ntk::deviceAlloc(&dx, size * 4), "deviceAlloc") &&
                ok(ntk::deviceAlloc(&dv, rows * 4), "deviceAlloc") &&
                ok(ntk::deviceAlloc(&dp, rows * c.S * 4), "deviceAlloc") &&
                ok(ntk::deviceUpload(dx, x.data(), size * 4), "deviceUpload");
    if (good && c.explicitNoise)
      good = ok(ntk::deviceAlloc(&dn, size * c.S * 4), "deviceAlloc") &&
             ok(ntk::deviceUpload(dn, noise.data(), size * c.S * 4), "deviceUpload");
    d.x = static_cast<const float*>(dx);
    d.noise.explicitNoise = static_cast<const float*>(dn);
    d.values = static_cast<float*>(dv);
    d.positions = static_cast<int32_t*>(dp);
    good = good && ok(ntk::forwardCudaDevice(d), "forwardCudaDevice") && ok(ntk::deviceSynchronize(), "sync") &&
           ok(ntk::deviceDownload(v2.data(), dv, rows * 4), "download") &&
           ok(ntk::deviceDownload(p2.data(), dp, rows * c.S * 4), "download");
    same = same && good && p2 == p1;
    for (uint64_t r = 0; good && r < rows; ++r) same = same && bitsCanon(v2[r]) == bitsCanon(v1[r]);
    ntk::deviceFree(dx);
    ntk::deviceFree(dn);
    ntk::deviceFree(dv);
    ntk::deviceFree(dp);
  }

  // Backward from the (identical) positions, with scales of both signs and specials.
  std::vector<float> scale(rows), g0(size), g1(size);
  static const float kScales[] = {1.0f, -0.5f, 0.0f, -0.0f, 3.25f, INFINITY, NAN, 1e-30f};
  for (uint64_t r = 0; r < rows; ++r) scale[r] = (r % 5 == 4) ? kScales[rng.next() % 8] : rng.uniform(-2, 2);
  ntk::BackwardArgs b;
  b.positions = p0.data();
  b.rowScale = scale.data();
  b.layout = a.layout;
  b.nSample = c.S;
  ntk::BackwardArgs bc = b, bg = b;
  bc.grad = g0.data();
  bg.grad = g1.data();
  if (!ok(ntk::backwardCpu(bc), "backwardCpu") || !ok(ntk::backwardCuda(bg), "backwardCuda")) {
    ++failures;
    std::printf("FAIL %s: backward error\n", label);
    return;
  }
  bool sameGrad = true;
  for (uint64_t e = 0; e < size; ++e) sameGrad = sameGrad && bitsCanon(g0[e]) == bitsCanon(g1[e]);
  if (!same || !sameGrad) {
    ++failures;
    std::printf("FAIL %s: forward %s, backward %s\n", label, same ? "same" : "DIFFERS", sameGrad ? "same" : "DIFFERS");
  }
}

int runCheck(bool small) {
  std::vector<Case> cases;
  Rng rng(12345);
  // Edges and every path's limits: d = 1, 2, 16 / 17 (short), 32 (k), 128 / 129 (warp sweep), 8192 / 8193 (shared).
  const uint64_t ds[] = {1, 2, 3, 7, 16, 17, 33, 100, 128, 129, 1000, 8192, 8193};
  for (uint64_t d : ds) {
    if (small && d != 7 && d != 17 && d != 129 && d != 1000) continue;
    const uint32_t ks[] = {1u,
                           static_cast<uint32_t>(std::min<uint64_t>(d, 5)),
                           static_cast<uint32_t>(std::min<uint64_t>(d, 32)),
                           static_cast<uint32_t>(std::min<uint64_t>(d, 33)),
                           static_cast<uint32_t>((d + 1) / 2),
                           static_cast<uint32_t>(d)};
    for (uint32_t k : ks) {
      const uint64_t rows = small ? 3 : (d > 1000 ? 4 : 37);
      cases.push_back({rows, d, 1, k, small ? 3u : 5u, 1.0f, false, 0});
      if (!small) {
        cases.push_back({rows, d, 1, k, 1, 0.0f, false, 1});
        cases.push_back({2, d, 3, k, 3, 0.5f, true, 0});       // inner > 1, explicit noise
        cases.push_back({rows, d, 1, k, 4, 0.25f, false, 2});  // NaN / inf / signed zeros
      }
    }
  }
  if (!small) {
    cases.push_back({1, 100000, 1, 7, 2, 1.0f, false, 0});
    cases.push_back({2, 20000, 1, 15000, 2, 1.0f, false, 0});
    cases.push_back({3000, 100, 1, 5, 10, 1.0f, false, 0});  // many units: grid-stride loops
    cases.push_back({2, 5, 1000, 3, 2, 1.0f, false, 0});     // many inner rows
    cases.push_back({3, 50, 1, 2, 1024, 1.0f, false, 0});    // the scatter backward at its limit
    cases.push_back({3, 50, 1, 2, 3000, 1.0f, false, 0});    // the counting backward
  } else {
    cases.push_back({2, 3, 4, 2, 3, 0.5f, true, 2});
  }
  const char* paths[] = {"auto", "short", "warp", "radix-shared", "radix-regen"};
  int run = 0;
  for (const Case& c : cases) {
    for (const char* p : paths) {
      checkCase(c, p, rng);
      ++run;
    }
  }
  // The host API's pinned staging: the same results, chunked copies included (x of 6 MB).
  setenv("NOISED_TOPK_CUDA_STAGING", "pinned", 1);
  cases.push_back({300, 5000, 1, 5, 1, 1.0f, false, 0});
  for (const Case& c : cases) {
    checkCase(c, "auto", rng);
    ++run;
  }
  unsetenv("NOISED_TOPK_CUDA_STAGING");
  unsetenv("NOISED_TOPK_CUDA_SELECT");
  std::printf("check: %d runs over %zu cases, %d failures\n", run, cases.size(), failures);
  return failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- bench

// The arithmetic floor: Philox (and, with kBoxMuller, Box-Muller) for every group of every
// unit, folded per thread. Without Box-Muller it is the floor of a kernel that prunes perfectly.
template <bool kBoxMuller>
__global__ void philoxFloorKernel(uint64_t items, uint32_t groups, uint32_t S, float* sink) {
  float acc = 0.0f;
  uint32_t bits = 0;
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items; i += stride) {
    const uint64_t unit = i / groups;
    const uint32_t g = static_cast<uint32_t>(i - unit * groups);
    const uint32_t row = static_cast<uint32_t>(unit / S), s = static_cast<uint32_t>(unit % S);
    if (kBoxMuller) {
      const ntk::Normal4 z = ntk::normal4(1u, 2u, 0u, row, s, g);
      acc = __fadd_rn(acc, __fadd_rn(__fadd_rn(z.z[0], z.z[1]), __fadd_rn(z.z[2], z.z[3])));
    } else {
      const ntk::Philox4 w = ntk::philox4x32_10(g, row, s, 0u, 1u, 2u);
      bits ^= w.v[0] ^ w.v[1] ^ w.v[2] ^ w.v[3];
    }
  }
  if (acc == 1234.5f || bits == 0x12345678u) sink[threadIdx.x] = acc;  // keeps the work alive
}

struct BenchCase {
  uint32_t B, D, S;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

int runBench(const char* outPath) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    std::fprintf(stderr, "no CUDA device\n");
    return 1;
  }
  const BenchCase cases[] = {{64, 100, 10}, {32, 1081, 5}, {256, 1000, 5}, {1024, 10000, 10}, {4096, 32768, 5}};
  const uint32_t k = 6;  // BalNoisedTopK(k = 5) takes smoothtop_{k+1}
  const float eps = 1.0f;
  std::string table;
  char line[1024];
  std::snprintf(
      line, sizeof line,
      "# noised-topk CUDA backend, BalNoisedTopK(k=5, epsilon=1) forward + backward\n\n"
      "Device: %s (%d SMs). Kernel k = 6 (smoothtop_{k+1}). Times in ms, median of repeated runs.\n"
      "kernel-only = forwardCudaDevice + backwardCudaDevice on device-resident x, rowScale, outputs "
      "(the O(B) hinge/rowScale step of the loss is not included).\n"
      "end-to-end = forwardCuda + host hinge + backwardCuda from pageable host arrays (x up, values and "
      "positions down, positions and rowScale up, grad down); e2e, cpu bwd = the same with backwardCpu "
      "on the host from the downloaded positions (no grad download); pinned = the host API's copies through "
      "pinned staging buffers (NOISED_TOPK_CUDA_STAGING=pinned).\n"
      "floor = max(Philox + Box-Muller of every (row, sample, column), memory = a device copy of B x D floats, i.e. "
      "read x + write grad); pruned floor = max(Philox alone, memory), the floor of a kernel that skips every "
      "Box-Muller it can.\n\n"
      "| case (B, D, S) | path | fwd ms | bwd ms | kernel-only ms | end-to-end ms | e2e, cpu bwd ms | e2e pinned ms | "
      "e2e pinned, cpu bwd ms | philox+BM ms | philox ms | memory ms | floor ms | kernel / floor | kernel / pruned "
      "floor | extra device MB | bits vs cpu (first rows) |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
      prop.name, prop.multiProcessorCount);
  table += line;
  int bad = 0;
  for (const BenchCase& bc : cases) {
    const uint64_t B = bc.B, D = bc.D, S = bc.S, size = B * D;
    Rng rng(B * 1000003 + D);
    std::vector<float> x(size);
    for (float& v : x) v = rng.uniform(-3, 3);
    std::vector<int32_t> labels(B);
    for (auto& l : labels) l = static_cast<int32_t>(rng.next() % D);
    std::vector<float> rowScale(B, 1.0f / B);

    void *dx = nullptr, *dv = nullptr, *dp = nullptr, *ds = nullptr, *dg = nullptr;
    if (!ok(ntk::deviceAlloc(&dx, size * 4), "alloc") || !ok(ntk::deviceAlloc(&dv, B * 4), "alloc") ||
        !ok(ntk::deviceAlloc(&dp, B * S * 4), "alloc") || !ok(ntk::deviceAlloc(&ds, B * 4), "alloc") ||
        !ok(ntk::deviceAlloc(&dg, size * 4), "alloc"))
      return 1;
    ntk::deviceUpload(dx, x.data(), size * 4);
    ntk::deviceUpload(ds, rowScale.data(), B * 4);
    ntk::ForwardArgs f;
    f.x = static_cast<const float*>(dx);
    f.layout.outer = B;
    f.layout.d = D;
    f.layout.inner = 1;
    f.k = k;
    f.epsilon = eps;
    f.nSample = bc.S;
    f.noise.seedLo = 42;
    f.noise.seedHi = 7;
    f.values = static_cast<float*>(dv);
    f.positions = static_cast<int32_t*>(dp);
    ntk::BackwardArgs b;
    b.positions = static_cast<const int32_t*>(dp);
    b.rowScale = static_cast<const float*>(ds);
    b.layout = f.layout;
    b.nSample = bc.S;
    b.grad = static_cast<float*>(dg);

    size_t free0 = 0, total = 0, free1 = 0;
    cudaMemGetInfo(&free0, &total);
    if (!ok(ntk::forwardCudaDevice(f), "forward") || !ok(ntk::deviceSynchronize(), "sync")) return 1;
    cudaMemGetInfo(&free1, &total);
    const double extraMB = (static_cast<double>(free0) - static_cast<double>(free1)) / 1e6;

    // Bits against the CPU on the first rows (the stream depends on the row index only).
    const uint64_t checkRows = std::min<uint64_t>(B, 256);
    std::vector<float> vg(B), vc(checkRows);
    std::vector<int32_t> pg(B * S), pc(checkRows * S);
    ntk::deviceDownload(vg.data(), dv, B * 4);
    ntk::deviceDownload(pg.data(), dp, B * S * 4);
    ntk::ForwardArgs fc = f;
    fc.x = x.data();
    fc.layout.outer = checkRows;
    fc.values = vc.data();
    fc.positions = pc.data();
    bool same = ok(ntk::forwardCpu(fc), "forwardCpu");
    for (uint64_t r = 0; same && r < checkRows; ++r) same = bitsCanon(vg[r]) == bitsCanon(vc[r]);
    for (uint64_t j = 0; same && j < checkRows * S; ++j) same = pg[j] == pc[j];
    if (!same) ++bad;

    auto timeLoop = [&](bool fwd, bool bwd) {
      for (int w = 0; w < 5; ++w) {
        if (fwd) ntk::forwardCudaDevice(f);
        if (bwd) ntk::backwardCudaDevice(b);
      }
      ntk::deviceSynchronize();
      std::vector<double> reps;
      for (int rep = 0; rep < 7; ++rep) {
        int n = 0;
        const auto t0 = Clock::now();
        do {
          f.noise.offset = static_cast<uint32_t>(n);
          if (fwd) ntk::forwardCudaDevice(f);
          if (bwd) ntk::backwardCudaDevice(b);
          ++n;
          if (n % 16 == 0) ntk::deviceSynchronize();
        } while (n < 20 || (msSince(t0) < 30.0 && n < 2000));
        ntk::deviceSynchronize();
        reps.push_back(msSince(t0) / n);
      }
      return median(reps);
    };
    const double fwdMs = timeLoop(true, false);
    const double bwdMs = timeLoop(false, true);
    const double bothMs = timeLoop(true, true);

    // End to end from pageable host arrays, as the Node binding does.
    std::vector<float> hv(B), hg(size);
    std::vector<int32_t> hp(B * S);
    // Four variants, interleaved: bit 0 = the backward on the CPU from the downloaded positions
    // (backwardCpu, the reference itself: no positions upload, no B x D download); bit 1 = the
    // copies through pinned staging (NOISED_TOPK_CUDA_STAGING=pinned).
    std::vector<double> e2eVar[4];
    for (int it = 0; it < 64; ++it) {
      const int variant = it % 4;
      const bool hostBwd = (variant & 1) != 0;
      if (variant & 2)
        setenv("NOISED_TOPK_CUDA_STAGING", "pinned", 1);
      else
        unsetenv("NOISED_TOPK_CUDA_STAGING");
      const auto t0 = Clock::now();
      ntk::ForwardArgs h = f;
      h.x = x.data();
      h.values = hv.data();
      h.positions = hp.data();
      h.noise.offset = static_cast<uint32_t>(it);
      if (!ok(ntk::forwardCuda(h), "forwardCuda")) return 1;
      std::vector<float> scale(B);
      for (uint64_t r = 0; r < B; ++r) {
        const float t = (1.0f + hv[r]) - x[r * D + labels[r]];
        scale[r] = t > 0.0f ? 1.0f / B : 0.0f;
      }
      ntk::BackwardArgs hb = b;
      hb.positions = hp.data();
      hb.rowScale = scale.data();
      hb.grad = hg.data();
      if (!ok(hostBwd ? ntk::backwardCpu(hb) : ntk::backwardCuda(hb), "backward")) return 1;
      for (uint64_t r = 0; r < B; ++r) hg[r * D + labels[r]] -= scale[r];
      if (it >= 8) e2eVar[variant].push_back(msSince(t0));
    }
    unsetenv("NOISED_TOPK_CUDA_STAGING");
    const double e2eMs = median(e2eVar[0]), e2eHostBwdMs = median(e2eVar[1]);
    const double e2ePinnedMs = median(e2eVar[2]), e2ePinnedHostBwdMs = median(e2eVar[3]);

    // Floors.
    float* sink = nullptr;
    cudaMalloc(&sink, 1024 * sizeof(float));
    const uint32_t groups = static_cast<uint32_t>((D + 3) / 4);
    const uint64_t items = B * S * groups;
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    const int blocks = prop.multiProcessorCount * 8;
    philoxFloorKernel<true><<<blocks, 256>>>(items, groups, static_cast<uint32_t>(S), sink);
    philoxFloorKernel<false><<<blocks, 256>>>(items, groups, static_cast<uint32_t>(S), sink);
    std::vector<double> ph, phOnly, mem;
    for (int rep = 0; rep < 10; ++rep) {
      float ms = 0;
      cudaEventRecord(e0);
      philoxFloorKernel<true><<<blocks, 256>>>(items, groups, static_cast<uint32_t>(S), sink);
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      cudaEventElapsedTime(&ms, e0, e1);
      ph.push_back(ms);
      cudaEventRecord(e0);
      philoxFloorKernel<false><<<blocks, 256>>>(items, groups, static_cast<uint32_t>(S), sink);
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      cudaEventElapsedTime(&ms, e0, e1);
      phOnly.push_back(ms);
      cudaEventRecord(e0);
      cudaMemcpyAsync(dg, dx, size * 4, cudaMemcpyDeviceToDevice);
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      cudaEventElapsedTime(&ms, e0, e1);
      mem.push_back(ms);
    }
    const double phMs = median(ph), phOnlyMs = median(phOnly), memMs = median(mem);
    const double floorMs = std::max(phMs, memMs), prunedFloorMs = std::max(phOnlyMs, memMs);
    cudaFree(sink);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);

    std::snprintf(line, sizeof line,
                  "| (%u, %u, %u) | %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | "
                  "%.2f | %.2f | %.2f | %s |\n",
                  bc.B, bc.D, bc.S, ntk::cudaSelectPath(D, k, B * S), fwdMs, bwdMs, bothMs, e2eMs, e2eHostBwdMs,
                  e2ePinnedMs, e2ePinnedHostBwdMs, phMs, phOnlyMs, memMs, floorMs, bothMs / floorMs,
                  bothMs / prunedFloorMs, extraMB, same ? "identical" : "DIFFER");
    table += line;
    std::fputs(line, stdout);
    std::fflush(stdout);
    ntk::deviceFree(dx);
    ntk::deviceFree(dv);
    ntk::deviceFree(dp);
    ntk::deviceFree(ds);
    ntk::deviceFree(dg);
  }
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    std::fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(e));
    bad++;
  }
  std::printf("\n%s", table.c_str());
  if (outPath) {
    if (FILE* f = std::fopen(outPath, "w")) {
      std::fputs(table.c_str(), f);
      std::fclose(f);
    }
  }
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false, small = false, bench = false;
  const char* out = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--check"))
      check = true;
    else if (!std::strcmp(argv[i], "--small"))
      small = true;
    else if (!std::strcmp(argv[i], "--bench"))
      bench = true;
    else if (!std::strcmp(argv[i], "--out") && i + 1 < argc)
      out = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_cuda --check [--small] | --bench [--out FILE]\n");
      return 2;
    }
  }
  if (!ntk::cudaUsable()) {
    void* p = nullptr;
    ntk::deviceAlloc(&p, 1);  // fails, and records why
    std::fprintf(stderr, "no usable CUDA device: %s\n", ntk::cudaLastError());
    return 1;
  }
  int rc = 0;
  if (check) rc |= runCheck(small);
  if (bench) rc |= runBench(out);
  if (!check && !bench) rc = runCheck(true);
  return rc;
}
