// Runs the CUDA top-k kernel (native/cuda/topk_select.cuh, the real source) on the CPU through
// the SIMT emulator beside this file and compares it with topkCpu, bit for bit: k from 1 to 32,
// d from 1 to 300 (several 32-column sweeps), inner > 1, largest and smallest, sorted or not,
// ties, -0/+0, NaN and infinities (and the non-finite flag), small grids so the grid-stride loop
// turns. A logic check for machines without a GPU (test/ops-topk.test.ts builds and runs it).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "check_util.h"
#include "core/ops.h"
#include "cuda/topk_select.cuh"

namespace {

using emu::Rng;

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? std::atoi(argv[1]) : 150;
  Rng rng(12345);
  const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f, -1.0f, 2.5f};
  int failures = 0;
  for (int t = 0; t < cases; ++t) {
    ntk::TopKArgs a;
    a.layout.outer = 1 + rng.next() % 3;
    a.layout.d = 1 + rng.next() % 300;
    a.layout.inner = 1 + rng.next() % 3;
    const uint32_t d = static_cast<uint32_t>(a.layout.d);
    a.k = 1 + rng.next() % std::min<uint32_t>(d, 32);
    if (t % 7 == 0) a.k = std::min<uint32_t>(d, 32);
    a.largest = rng.next() % 2;
    a.sorted = rng.next() % 3 != 0;
    const int kind = t % 3;  // 0: continuous, 1: ties, 2: non-finite and signed zeros
    std::vector<float> x(a.layout.size());
    for (float& v : x) {
      if (kind == 0)
        v = (rng.next() % 2000001) / 1000.0f - 1000.0f;
      else if (kind == 1)
        v = static_cast<float>(static_cast<int>(rng.next() % 7) - 3);
      else
        v = rng.next() % 4 == 0 ? special[rng.next() % 8] : static_cast<float>(static_cast<int>(rng.next() % 5) - 2);
    }
    const uint64_t outLen = a.layout.rows() * a.k;
    std::vector<float> cv(outLen), gv(outLen);
    std::vector<int32_t> ci(outLen), gi(outLen);
    bool cpuBad = false;
    a.x = x.data();
    a.values = cv.data();
    a.indices = ci.data();
    a.checkFinite = true;
    a.nonFinite = &cpuBad;
    if (ntk::topkCpu(a) != ntk::Status::kOk) {
      std::printf("case %d: topkCpu failed\n", t);
      return 2;
    }
    unsigned gpuBad = 0;
    ntk::cudak::TopkParams p;
    p.x = x.data();
    p.inner = a.layout.inner;
    p.rows = a.layout.rows();
    p.d = d;
    p.k = a.k;
    p.largest = a.largest;
    p.sorted = a.sorted;
    p.values = gv.data();
    p.indices = gi.data();
    p.nonFinite = &gpuBad;
    const unsigned grid = 1 + rng.next() % 2;  // fewer warps than rows: the grid-stride loop turns
    emu::launch(grid, ntk::cudak::kTopkWarpsPerBlock * 32, [&] { ntk::cudak::topkWarpKernel(p); });
    bool ok = (gpuBad != 0) == cpuBad;
    for (uint64_t j = 0; j < outLen && ok; ++j) ok = bits(cv[j]) == bits(gv[j]) && ci[j] == gi[j];
    if (!ok) {
      ++failures;
      std::printf("MISMATCH case %d: outer %llu d %u inner %llu k %u largest %d sorted %d kind %d\n", t,
                  static_cast<unsigned long long>(a.layout.outer), d, static_cast<unsigned long long>(a.layout.inner),
                  a.k, a.largest, a.sorted, kind);
    }
  }
  std::printf("topk emulator check: %d cases, %d mismatches\n", cases, failures);
  return failures == 0 ? 0 : 1;
}
