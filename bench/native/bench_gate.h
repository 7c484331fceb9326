// The load rule of the native benchmarks, as bench/load-gate.mjs for the Node ones: results
// taken while the 1-min load average was above NTK_BENCH_MAX_LOAD (bench/load-limit.json, passed
// in by CMakeLists.txt) at the start or the end are not written unless --allow-load, and then
// open with a banner that says they are not a measurement. Smoke and quick runs are exempt.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#ifndef NTK_BENCH_MAX_LOAD
#error "NTK_BENCH_MAX_LOAD comes from bench/load-limit.json through bench/native/CMakeLists.txt"
#endif

namespace bench {

constexpr double kMaxLoad = NTK_BENCH_MAX_LOAD;

// The 1-min load average now. NTK_BENCH_LOADAVG stands in for it (the tests of the refusal).
inline double loadAvg1() {
  if (const char* fake = std::getenv("NTK_BENCH_LOADAVG")) return std::atof(fake);
  std::ifstream f("/proc/loadavg");
  double a = -1;
  f >> a;
  return a;
}

// "1, 5 and 15 min" as /proc/loadavg gives them, for a table's header.
inline std::string loadAvgLine() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct LoadVerdict {
  double start = 0, end = 0;
  bool loaded = false;  // above kMaxLoad at the start or the end, and not exempt
};

inline LoadVerdict loadVerdict(double start, double end, bool exempt) {
  return {start, end, !exempt && std::max(start, end) > kMaxLoad};
}

// The banner of a file taken under load ("" when the run was quiet).
inline std::string underLoadBanner(const LoadVerdict& v) {
  if (!v.loaded) return "";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "**TAKEN UNDER LOAD: the 1-min load average was %.2f at the start and %.2f at the end, above %.1f. "
                "NOT A MEASUREMENT: quote nothing from this file.**\n\n",
                v.start, v.end, kMaxLoad);
  return buf;
}

// Writes each (path, content) unless the verdict refuses them. Returns 0 when written, 3 when
// refused (the exit status the benchmarks give then).
inline int writeResults(const std::vector<std::pair<std::string, std::string>>& files, const LoadVerdict& v,
                        bool allowLoad) {
  if (v.loaded && !allowLoad) {
    std::printf(
        "NOT WRITTEN: the 1-min load average was %.2f at the start and %.2f at the end (limit %.1f); rerun on a "
        "quiet machine, or pass --allow-load to write files marked as taken under load\n",
        v.start, v.end, kMaxLoad);
    return 3;
  }
  for (const auto& [path, content] : files) {
    std::ofstream(path) << content;
    std::printf("wrote %s\n", path.c_str());
  }
  return 0;
}

}  // namespace bench
