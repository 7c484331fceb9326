// Native micro-benchmark of the hard top-k: our CPU kernel (ntk::topkCpu, native/cpu/topk_cpu.cpp,
// linked directly, no N-API) against torch::topk_out on the same float32 inputs, in the same
// run, both writing into preallocated outputs, largest = true, sorted = true.
// Before timing, both run on the same input and must give the same values and indices (the
// inputs are N(0, 1) draws: a tie inside a row's top k is checked to be a tie, not an error).
//
// Usage: bench_topk [--smoke] [--out DIR] [--allow-load] [--budget SECONDS]
//   writes DIR/topk-native.md (and topk-native-smoke.md with --smoke)
#include <sys/utsname.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_gate.h"

#include "core/ops.h"

namespace {

struct Size {
  int64_t B, D, k;
};

struct Timing {
  double median = 0, p10 = 0, p90 = 0;
  int runs = 0;
};

// Median, p10, p90 of one call's wall time after a warm-up, within a time budget.
Timing timeIt(const std::function<void()>& fn, double budgetS, int minRuns, int maxRuns) {
  for (int w = 0; w < 2; ++w) fn();
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  while (static_cast<int>(ms.size()) < maxRuns) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    const double spent = std::chrono::duration<double>(t1 - start).count();
    if (static_cast<int>(ms.size()) >= minRuns && spent > budgetS) break;
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * (ms.size() - 1) + 0.5))]; };
  return Timing{at(0.5), at(0.1), at(0.9), static_cast<int>(ms.size())};
}

std::string cpuName() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

std::string fmt(double ms) {
  char buf[32];
  if (ms >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", ms);
  else if (ms >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", ms);
  else if (ms >= 1)
    std::snprintf(buf, sizeof buf, "%.2f", ms);
  else
    std::snprintf(buf, sizeof buf, "%.3f", ms);
  return buf;
}

bool isaAvx2() {
  const char* env = std::getenv("NOISED_TOPK_CPU_ISA");
  if (env && std::strcmp(env, "baseline") == 0) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  std::string outDir;
  double budget = 3.0;
  bool allowLoad = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smoke")
      smoke = true;
    else if (a == "--out" && i + 1 < argc)
      outDir = argv[++i];
    else if (a == "--budget" && i + 1 < argc)
      budget = std::atof(argv[++i]);
    else if (a == "--allow-load")
      allowLoad = true;
    else {
      std::fprintf(stderr, "usage: bench_topk [--smoke] [--out DIR] [--allow-load] [--budget SECONDS]\n");
      return 2;
    }
  }
  const std::vector<Size> sizes = smoke ? std::vector<Size>{{8, 50, 3}, {4, 3000, 40}}
                                        : std::vector<Size>{{256, 1000, 5}, {1024, 10000, 10}, {4096, 32768, 5}};
  if (smoke) budget = 0.05;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double load0 = bench::loadAvg1();
  std::printf("bench_topk: %s, %u logical cores, libtorch %s, load average %s\n", cpuName().c_str(), cores,
              TORCH_VERSION, bench::loadAvgLine().c_str());

  std::ostringstream rows;
  bool allOk = true;
  for (const Size& sz : sizes) {
    std::mt19937 gen(static_cast<uint32_t>(sz.B * 31 + sz.D));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    torch::Tensor x = torch::empty({sz.B, sz.D}, torch::kFloat32);
    float* xp = x.data_ptr<float>();
    for (int64_t i = 0; i < sz.B * sz.D; ++i) xp[i] = nd(gen);
    std::vector<float> values(sz.B * sz.k);
    std::vector<int32_t> indices(sz.B * sz.k);
    torch::Tensor tv = torch::empty({sz.B, sz.k}, torch::kFloat32);
    torch::Tensor ti = torch::empty({sz.B, sz.k}, torch::kInt64);

    ntk::TopKArgs a;
    a.x = xp;
    a.layout.outer = sz.B;
    a.layout.d = sz.D;
    a.layout.inner = 1;
    a.k = static_cast<uint32_t>(sz.k);
    a.values = values.data();
    a.indices = indices.data();
    auto ours = [&] {
      if (ntk::topkCpu(a) != ntk::Status::kOk) std::abort();
    };
    auto theirs = [&] { torch::topk_out(tv, ti, x, sz.k, 1, true, true); };

    // Check: same values; same indices, or a tie of values where they differ.
    ntk::setCpuThreads(1);
    at::set_num_threads(1);
    ours();
    theirs();
    const float* tvp = tv.data_ptr<float>();
    const int64_t* tip = ti.data_ptr<int64_t>();
    int64_t valueDiffs = 0, indexDiffs = 0, tieDiffs = 0;
    for (int64_t j = 0; j < sz.B * sz.k; ++j) {
      if (values[j] != tvp[j]) ++valueDiffs;
      if (indices[j] != tip[j]) {
        ++indexDiffs;
        const int64_t r = j / sz.k;
        if (xp[r * sz.D + indices[j]] == xp[r * sz.D + tip[j]]) ++tieDiffs;
      }
    }
    const bool ok = valueDiffs == 0 && indexDiffs == tieDiffs;
    allOk = allOk && ok;
    std::printf("check (%lld, %lld, k %lld): values differ %lld, indices differ %lld (ties %lld) -> %s\n",
                static_cast<long long>(sz.B), static_cast<long long>(sz.D), static_cast<long long>(sz.k),
                static_cast<long long>(valueDiffs), static_cast<long long>(indexDiffs),
                static_cast<long long>(tieDiffs), ok ? "OK" : "MISMATCH");

    const int maxRuns = smoke ? 5 : 2000;
    const Timing o1 = timeIt(ours, budget, 5, maxRuns);
    const Timing t1 = timeIt(theirs, budget, 5, maxRuns);
    ntk::setCpuThreads(cores);
    at::set_num_threads(static_cast<int>(cores));
    const Timing oN = timeIt(ours, budget, 5, maxRuns);
    const Timing tN = timeIt(theirs, budget, 5, maxRuns);
    const double ratio1 = t1.median / o1.median;
    const double ratioN = tN.median / oN.median;
    std::printf("(%lld, %lld, %lld): ours 1T %s ms, torch 1T %s ms (%.2fx); ours %uT %s ms, torch %uT %s ms (%.2fx)\n",
                static_cast<long long>(sz.B), static_cast<long long>(sz.D), static_cast<long long>(sz.k),
                fmt(o1.median).c_str(), fmt(t1.median).c_str(), ratio1, cores, fmt(oN.median).c_str(), cores,
                fmt(tN.median).c_str(), ratioN);
    char line[512];
    std::snprintf(
        line, sizeof line,
        "| %lld | %lld | %lld | %s (%s-%s) | %s (%s-%s) | **%.2fx** (>= 2x: %s) | %s | %s | %.2fx | %d / %d |\n",
        static_cast<long long>(sz.B), static_cast<long long>(sz.D), static_cast<long long>(sz.k),
        fmt(o1.median).c_str(), fmt(o1.p10).c_str(), fmt(o1.p90).c_str(), fmt(t1.median).c_str(), fmt(t1.p10).c_str(),
        fmt(t1.p90).c_str(), ratio1, ratio1 >= 2 ? "met" : "missed", fmt(oN.median).c_str(), fmt(tN.median).c_str(),
        ratioN, o1.runs, t1.runs);
    rows << line;
  }

  struct utsname u;
  uname(&u);
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  const bench::LoadVerdict verdict = bench::loadVerdict(load0, bench::loadAvg1(), smoke);
  std::ostringstream md;
  md << "# topk: ours ('cpu' kernel) vs torch::topk" << (smoke ? " (smoke)" : "") << "\n\n"
     << bench::underLoadBanner(verdict)
     << "`npm run bench:topk-native` (bench/native/bench_topk.cpp). Machine: " << cpuName() << ", " << cores
     << " logical cores, " << u.sysname << " " << u.release << ", libtorch " << TORCH_VERSION
     << " (Debian libtorch-dev), "
     << "our scan path " << (isaAvx2() ? "AVX2" : "baseline") << "; " << date << ", load average at the end "
     << bench::loadAvgLine() << ".\n\n"
     << "float32 N(0, 1) inputs [B, D], top-k along the last dim, largest, sorted; both write into preallocated "
        "outputs (torch::topk_out). Milliseconds per call: median (p10-p90). Values and indices checked equal before "
        "timing: "
     << (allOk ? "all equal" : "MISMATCH (see the run's output)") << ".\n\n"
     << "| B | D | k | ours 1T | torch 1T | torch 1T / ours 1T (target) | ours " << cores << "T | torch " << cores
     << "T | torch / ours, " << cores << "T | runs (ours / torch, 1T) |\n"
     << "|---|---|---|---|---|---|---|---|---|---|\n"
     << rows.str();
  std::printf("\n%s", md.str().c_str());
  int rc = 0;
  if (!outDir.empty())
    rc = bench::writeResults({{outDir + (smoke ? "/topk-native-smoke.md" : "/topk-native.md"), md.str()}}, verdict,
                             allowLoad);
  return allOk ? rc : 1;
}
