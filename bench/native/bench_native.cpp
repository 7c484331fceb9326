// Native micro-benchmark of the balanced smoothed top-k hinge loss, forward + backward
// (BalNoisedTopK, k = 5: the (k+1) = 6-th largest, epsilon = 1), on the same inputs:
//   ours     our CPU kernels (native/cpu, linked directly, no N-API): Philox noise stream,
//            forwardCpu, the loss, backwardCpu, the label term;
//   pytopk   a libtorch implementation of pytopk's computation: torch::randn noise B x D x S,
//            add, torch::kthvalue over the sample-strided slices (dim 1), mean over samples,
//            and a custom autograd backward that scatters ones into a B x D x S zero tensor and
//            takes its mean; the hinge and its gradient through autograd;
//   topk     hard torch::topk(x, k + 1) forward only: the floor a user knows.
// Before timing, ours and pytopk run on one shared explicit noise tensor and their values,
// selected positions, losses and gradients are compared.
//
// Usage: bench_native [--smoke] [--out DIR] [--allow-load] [--sizes B,D,S;B,D,S...] [--budget SECONDS]
// (not written under load: bench_gate.h)
#include <malloc.h>
#include <sys/utsname.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
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
#include "core/noised_topk.h"

// ---------------------------------------------------------------------------------------
// Heap accounting: the executable's malloc family wraps glibc's, so allocations made by
// libtorch and by our kernels are both counted. "Peak extra" = the highest live heap during
// one call minus the live heap before it.
extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace heap {
std::atomic<int64_t> live{0};
std::atomic<int64_t> peak{0};
inline void add(void* p) {
  if (!p) return;
  const int64_t now =
      live.fetch_add(static_cast<int64_t>(malloc_usable_size(p))) + static_cast<int64_t>(malloc_usable_size(p));
  int64_t old = peak.load(std::memory_order_relaxed);
  while (now > old && !peak.compare_exchange_weak(old, now)) {
  }
}
inline void sub(void* p) {
  if (p) live.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)));
}
}  // namespace heap

extern "C" {
void* malloc(size_t n) {
  void* p = __libc_malloc(n);
  heap::add(p);
  return p;
}
void free(void* p) {
  heap::sub(p);
  __libc_free(p);
}
void* calloc(size_t a, size_t b) {
  void* p = __libc_calloc(a, b);
  heap::add(p);
  return p;
}
void* realloc(void* q, size_t n) {
  heap::sub(q);
  void* p = __libc_realloc(q, n);
  if (p)
    heap::add(p);
  else if (q && n != 0)
    heap::add(q);  // failed: q is still live
  return p;
}
void* memalign(size_t al, size_t n) {
  void* p = __libc_memalign(al, n);
  heap::add(p);
  return p;
}
void* aligned_alloc(size_t al, size_t n) { return memalign(al, n); }
int posix_memalign(void** out, size_t al, size_t n) {
  void* p = __libc_memalign(al, n);
  if (!p) return 12;  // ENOMEM
  heap::add(p);
  *out = p;
  return 0;
}
}

// ---------------------------------------------------------------------------------------
namespace {

constexpr int kK = 5;  // BalNoisedTopK's k: the smoothed (k+1)-th largest
constexpr float kEps = 1.0f;

struct Problem {
  int64_t B, D, S;
  std::vector<float> x;
  std::vector<int64_t> labels;
};

Problem makeProblem(int64_t B, int64_t D, int64_t S, uint32_t seed) {
  Problem p{B, D, S, std::vector<float>(B * D), std::vector<int64_t>(B)};
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (auto& v : p.x) v = n(g);
  std::uniform_int_distribution<int64_t> l(0, D - 1);
  for (auto& v : p.labels) v = l(g);
  return p;
}

// ----- ours -----
struct OursResult {
  float loss = 0;
  std::vector<float> top;
  std::vector<int32_t> positions;
  std::vector<float> grad;
};

// sampler: 0 = dense (the stream of every normal), 1 = lazy (native/core/lazy_sampler.h).
OursResult runOurs(const Problem& p, const float* explicitNoise, uint32_t offset, uint32_t sampler = 0) {
  OursResult r;
  const int64_t B = p.B, D = p.D, S = p.S;
  r.top.resize(B);
  r.positions.resize(B * S);
  ntk::ForwardArgs a;
  a.x = p.x.data();
  a.layout.outer = B;
  a.layout.d = D;
  a.layout.inner = 1;
  a.k = kK + 1;
  a.epsilon = kEps;
  a.nSample = static_cast<uint32_t>(S);
  a.noise.explicitNoise = explicitNoise;
  a.noise.seedLo = 0x9E3779B9u;
  a.noise.seedHi = 0x7F4A7C15u;
  a.noise.offset = offset;
  a.sampler = sampler;
  a.values = r.top.data();
  a.positions = r.positions.data();
  if (ntk::forwardCpu(a) != ntk::Status::kOk) throw std::runtime_error("forwardCpu failed");
  // The hinge, as lib/losses.ts computes it: (1 + top) - s_y, relu, mean.
  std::vector<float> rowScale(B);
  std::vector<float> t(B);
  float sum = 0.0f;
  for (int64_t i = 0; i < B; ++i) {
    const float sy = p.x[i * D + p.labels[i]];
    t[i] = (1.0f + r.top[i]) - sy;
    sum = sum + (t[i] > 0 ? t[i] : 0.0f);
  }
  r.loss = sum / static_cast<float>(B);
  const float g = 1.0f / static_cast<float>(B);
  for (int64_t i = 0; i < B; ++i) rowScale[i] = t[i] > 0 ? g : 0.0f;
  r.grad.resize(B * D);
  ntk::BackwardArgs b;
  b.positions = r.positions.data();
  b.rowScale = rowScale.data();
  b.layout = a.layout;
  b.nSample = a.nSample;
  b.grad = r.grad.data();
  if (ntk::backwardCpu(b) != ntk::Status::kOk) throw std::runtime_error("backwardCpu failed");
  for (int64_t i = 0; i < B; ++i) r.grad[i * D + p.labels[i]] -= rowScale[i];
  return r;
}

// ----- pytopk in libtorch -----
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct NoisedTopKFn : public torch::autograd::Function<NoisedTopKFn> {
  // pytopk's NoisedTopK forward: s [B, D], the kth largest along dim 1 of s + eps * noise.
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor s, int64_t kth, double eps, int64_t nSample,
                               const torch::Tensor* given) {
    // given: the check's shared noise; nullptr draws it as pytopk does.
    const int64_t D = s.size(1);
    const torch::Tensor noise = given ? *given : torch::randn({s.size(0), D, nSample}, s.options());
    const torch::Tensor perturbed = s.unsqueeze(-1) + eps * noise;
    // kth largest = (D - kth + 1)-th smallest, over the sample-strided slices (dim 1).
    auto [values, indices] = torch::kthvalue(perturbed, D - kth + 1, 1);
    ctx->save_for_backward({indices});
    ctx->saved_data["shape"] = perturbed.sizes().vec();
    return values.mean(-1);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list gradOut) {
    const torch::Tensor indices = ctx->get_saved_variables()[0];
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const torch::Tensor mask = torch::zeros(shape, gradOut[0].options()).scatter_(1, indices.unsqueeze(1), 1.0);
    const torch::Tensor grad = mask.mean(-1) * gradOut[0].unsqueeze(-1);
    return {grad, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

struct TorchInputs {
  torch::Tensor x;
  torch::Tensor labels;
};

TorchInputs torchInputs(const Problem& p) {
  TorchInputs t;
  t.x = torch::from_blob(const_cast<float*>(p.x.data()), {p.B, p.D}, torch::kFloat32).clone();
  t.labels = torch::from_blob(const_cast<int64_t*>(p.labels.data()), {p.B}, torch::kInt64).clone();
  return t;
}

struct TorchResult {
  float loss;
  torch::Tensor top, positions, grad;
};

TorchResult runPytopk(const TorchInputs& in, int64_t S, const torch::Tensor* noise) {
  torch::Tensor s = in.x.detach().requires_grad_(true);
  const torch::Tensor top = NoisedTopKFn::apply(s, kK + 1, static_cast<double>(kEps), S, noise);
  const torch::Tensor sy = s.gather(1, in.labels.unsqueeze(1)).squeeze(1);
  const torch::Tensor loss = torch::relu(1 + top - sy).mean();
  loss.backward();
  return TorchResult{loss.item<float>(), top.detach(), torch::Tensor(), s.grad()};
}

// Positions pytopk selects on the shared noise (for the check).
torch::Tensor pytopkPositions(const TorchInputs& in, const torch::Tensor& noise) {
  torch::NoGradGuard ng;
  const torch::Tensor perturbed = in.x.unsqueeze(-1) + static_cast<double>(kEps) * noise;
  return std::get<1>(torch::kthvalue(perturbed, in.x.size(1) - (kK + 1) + 1, 1));
}

// ----- timing -----
struct Stats {
  double median = 0, p10 = 0, p90 = 0, min = 0;
  int runs = 0;
  int threads = 1;
  double peakExtraMB = 0;
};

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double f = pos - i;
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

Stats timeIt(const std::function<void()>& fn, int threads, double budgetS, int minRuns, int maxRuns, int warm) {
  Stats st;
  st.threads = threads;
  // Peak extra heap of one call.
  heap::peak.store(heap::live.load());
  const int64_t before = heap::live.load();
  fn();
  st.peakExtraMB = static_cast<double>(heap::peak.load() - before) / (1024.0 * 1024.0);
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  const double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 1; i < warm && one * i < budgetS * 0.2; ++i) fn();
  int runs = static_cast<int>(budgetS / std::max(one, 1e-7));
  runs = std::max(minRuns, std::min(maxRuns, runs));
  std::vector<double> ms;
  ms.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    const auto a = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  st.runs = runs;
  st.median = quantile(ms, 0.5);
  st.p10 = quantile(ms, 0.1);
  st.p90 = quantile(ms, 0.9);
  st.min = quantile(ms, 0.0);
  return st;
}

std::string cpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto c = line.find(':');
      return c == std::string::npos ? line : line.substr(c + 2);
    }
  }
  return "unknown CPU";
}

std::string cpuDetail() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, family, model;
  while (std::getline(f, line) && (family.empty() || model.empty())) {
    const auto c = line.find(':');
    if (c == std::string::npos) continue;
    if (line.rfind("cpu family", 0) == 0)
      family = line.substr(c + 2);
    else if (line.rfind("model\t", 0) == 0)
      model = line.substr(c + 2);
  }
  std::string out = "family " + family + " model " + model;
#if defined(__x86_64__)
  __builtin_cpu_init();
  out += std::string(", AVX2 ") + (__builtin_cpu_supports("avx2") ? "yes" : "no") + ", AVX-512F " +
         (__builtin_cpu_supports("avx512f") ? "yes" : "no");
#endif
  const char* isa = std::getenv("NOISED_TOPK_CPU_ISA");
  out += std::string(", NOISED_TOPK_CPU_ISA=") + (isa ? isa : "(unset: widest path)");
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

struct Row {
  int64_t B, D, S;
  Stats ours1, oursN, torch1, torchN, topk1;
  Stats lazy1, lazyN, floor1;  // sampler 'lazy'; the memory floor (read x once, write a fresh B x D gradient)
  bool pytopkSkipped2T = false;
  bool checked = true;
  double maxTopDiff, maxGradDiff, lossDiff;
  int64_t positionMismatches;
};

// Compares ours with pytopk on one shared explicit noise tensor. Returns false on mismatch.
bool check(const Problem& p, Row& row) {
  torch::manual_seed(1234);
  const torch::Tensor noise = torch::randn({p.B, p.D, p.S}, torch::kFloat32).contiguous();
  const TorchInputs in = torchInputs(p);
  const OursResult ours = runOurs(p, noise.data_ptr<float>(), 0);
  const TorchResult ref = runPytopk(in, p.S, &noise);
  const torch::Tensor refPos = pytopkPositions(in, noise).contiguous();
  int64_t mismatches = 0;
  const int64_t* rp = refPos.data_ptr<int64_t>();
  for (int64_t i = 0; i < p.B * p.S; ++i) mismatches += rp[i] != ours.positions[i];
  double topDiff = 0, gradDiff = 0;
  const torch::Tensor refTop = ref.top.contiguous();
  const torch::Tensor refGrad = ref.grad.contiguous();
  for (int64_t i = 0; i < p.B; ++i)
    topDiff = std::max(topDiff, std::fabs(double(refTop.data_ptr<float>()[i]) - ours.top[i]));
  for (int64_t i = 0; i < p.B * p.D; ++i)
    gradDiff = std::max(gradDiff, std::fabs(double(refGrad.data_ptr<float>()[i]) - ours.grad[i]));
  row.maxTopDiff = topDiff;
  row.maxGradDiff = gradDiff;
  row.lossDiff = std::fabs(double(ref.loss) - ours.loss);
  row.positionMismatches = mismatches;
  // Values are means of S floats: the summation order may differ by an ulp or so.
  const bool ok = mismatches == 0 && topDiff <= 1e-5 && gradDiff <= 1e-6 && row.lossDiff <= 1e-5;
  std::printf(
      "check (%lld, %lld, %lld) on shared noise: positions %lld/%lld differ, max |top diff| %.3g, "
      "|loss diff| %.3g, max |grad diff| %.3g -> %s\n",
      (long long)p.B, (long long)p.D, (long long)p.S, (long long)mismatches, (long long)(p.B * p.S), topDiff,
      row.lossDiff, gradDiff, ok ? "OK" : "MISMATCH");
  return ok;
}

// ----- the corpus (npm run bench:native -- --corpus [DIR]) -----
// bench/native/run.mjs reads and validates the corpus with bench/corpus.mjs, writes the
// generated families to .ntkl files in its build directory, and hands this program a manifest:
// a first line "NTK-CORPUS 1", then one case per line, tab-separated: name, kind, stage,
// default sampler, file, data offset, rows (to read: the file may have more), classes, nSample,
// labels (comma-separated). The scores are read straight from the file (float32 little-endian,
// row-major, at the data offset); the size and the magic are checked again here.
struct CorpusCase {
  std::string name, kind, stage, defaultSampler, file;
  int64_t dataOffset = 0, rows = 0, classes = 0, nSample = 0;
  std::vector<int64_t> labels;
};

std::vector<std::string> splitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::stringstream ss(s);
  while (std::getline(ss, cur, sep)) out.push_back(cur);
  return out;
}

std::vector<CorpusCase> readManifest(const std::string& file) {
  std::ifstream f(file);
  if (!f) throw std::runtime_error("cannot open the corpus manifest " + file);
  std::string line;
  if (!std::getline(f, line) || line != "NTK-CORPUS 1")
    throw std::runtime_error(file + ": not a corpus manifest (first line must be \"NTK-CORPUS 1\")");
  std::vector<CorpusCase> cases;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const auto v = splitOn(line, '\t');
    if (v.size() != 10)
      throw std::runtime_error(file + ": a case line needs 10 tab-separated fields: " + line.substr(0, 80));
    CorpusCase c;
    c.name = v[0];
    c.kind = v[1];
    c.stage = v[2];
    c.defaultSampler = v[3];
    c.file = v[4];
    c.dataOffset = std::stoll(v[5]);
    c.rows = std::stoll(v[6]);
    c.classes = std::stoll(v[7]);
    c.nSample = std::stoll(v[8]);
    for (const auto& y : splitOn(v[9], ',')) c.labels.push_back(std::stoll(y));
    if (c.rows <= 0 || c.classes <= 0 || c.nSample <= 0 || static_cast<int64_t>(c.labels.size()) != c.rows)
      throw std::runtime_error(file + ": case " + c.name + ": bad rows, classes, nSample or labels");
    for (const int64_t y : c.labels)
      if (y < 0 || y >= c.classes) throw std::runtime_error(file + ": case " + c.name + ": a label is out of range");
    cases.push_back(std::move(c));
  }
  return cases;
}

Problem loadCase(const CorpusCase& c) {
  std::ifstream f(c.file, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot open " + c.file);
  const int64_t size = static_cast<int64_t>(f.tellg());
  const int64_t need = c.dataOffset + 4 * c.rows * c.classes;
  if (size < need)
    throw std::runtime_error(c.file + ": " + std::to_string(size) + " bytes, fewer than the " + std::to_string(need) +
                             " its rows need");
  char magic[4];
  f.seekg(0);
  f.read(magic, 4);
  if (std::memcmp(magic, "NTKL", 4) != 0) throw std::runtime_error(c.file + ": not an .ntkl file");
  Problem p{c.rows, c.classes, c.nSample, std::vector<float>(c.rows * c.classes), c.labels};
  f.seekg(c.dataOffset);
  f.read(reinterpret_cast<char*>(p.x.data()), static_cast<std::streamsize>(4 * p.x.size()));
  if (!f) throw std::runtime_error(c.file + ": short read");
  static_assert(sizeof(float) == 4, "float32");
  const uint16_t probe = 1;
  if (*reinterpret_cast<const uint8_t*>(&probe) != 1) {  // a big-endian host: the file is little-endian
    for (auto& v : p.x) {
      uint32_t u;
      std::memcpy(&u, &v, 4);
      u = __builtin_bswap32(u);
      std::memcpy(&v, &u, 4);
    }
  }
  return p;
}

Problem firstRows(const Problem& p, int64_t rows) {
  rows = std::min(rows, p.B);
  Problem q{rows, p.D, p.S, std::vector<float>(p.x.begin(), p.x.begin() + rows * p.D),
            std::vector<int64_t>(p.labels.begin(), p.labels.begin() + rows)};
  return q;
}

// Times two functions in turn, call by call (A B A B ...), so that both see the same load:
// one warm-up round, then rounds until budgetS has passed and at least minRuns were made.
std::pair<Stats, Stats> timePair(const std::function<void()>& a, const std::function<void()>& b, int threads,
                                 double budgetS, int minRuns, int maxRuns) {
  a();
  b();
  std::vector<double> ma, mb;
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < maxRuns; ++r) {
    if (r >= minRuns && std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >= budgetS) break;
    auto s = std::chrono::steady_clock::now();
    a();
    ma.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    s = std::chrono::steady_clock::now();
    b();
    mb.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  auto stats = [&](const std::vector<double>& ms) {
    Stats st;
    st.threads = threads;
    st.runs = static_cast<int>(ms.size());
    st.median = quantile(ms, 0.5);
    st.p10 = quantile(ms, 0.1);
    st.p90 = quantile(ms, 0.9);
    st.min = quantile(ms, 0.0);
    return st;
  };
  return {stats(ma), stats(mb)};
}

struct CorpusRow {
  CorpusCase c;
  Stats dense1, lazy1, dense2, lazy2, floor1, torch1, torch2;
  int64_t pytopkRows = 0;  // rows pytopk was timed on (its figures are scaled to all rows when fewer)
  double checkTopDiff = 0, checkGradDiff = 0, checkLossDiff = 0;
  int64_t checkMismatches = 0, checkRows = 0;
  bool skipped = false;
  std::string why;
};

int runCorpus(const std::string& manifest, const std::string& outDir, bool quick, bool allowLoad, double budget,
              double pytopkWork) {
  const std::vector<CorpusCase> cases = readManifest(manifest);
  const std::string cpu = cpuModel();
  const std::string detail = cpuDetail();
  const double load0 = bench::loadAvg1();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const auto start = std::chrono::system_clock::now();
  const auto startT = std::chrono::system_clock::to_time_t(start);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&startT));
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("corpus benchmark (C++): %zu cases; %s, %d logical cores; libtorch %s; %s; load %.2f\n", cases.size(),
              cpu.c_str(), hw, TORCH_VERSION, date, load0);
  const int minRuns = quick ? 1 : 3;
  const int maxRuns = quick ? 1 : 200;
  if (quick) budget = 0;
  std::vector<CorpusRow> rows;
  bool allOk = true;
  for (const CorpusCase& c : cases) {
    CorpusRow row;
    row.c = c;
    if (c.classes < kK + 2) {
      row.skipped = true;
      row.why = "classes < k + 2";
      rows.push_back(row);
      continue;
    }
    const Problem p = loadCase(c);
    torch::set_num_threads(1);
    ntk::setCpuThreads(1);
    // Ours ('dense') against pytopk on one shared noise tensor, on the first rows: a real-data
    // check that both compute the same thing before anything is timed.
    {
      const Problem q = firstRows(p, 8);
      Row r{};
      allOk = check(q, r) && allOk;
      row.checkRows = q.B;
      row.checkMismatches = r.positionMismatches;
      row.checkTopDiff = r.maxTopDiff;
      row.checkGradDiff = r.maxGradDiff;
      row.checkLossDiff = r.lossDiff;
    }
    uint32_t offset = 1;
    auto dense = [&] { (void)runOurs(p, nullptr, offset++, 0); };
    auto lazy = [&] { (void)runOurs(p, nullptr, offset++, 1); };
    for (const int t : {1, 2}) {
      ntk::setCpuThreads(static_cast<unsigned>(t));
      const auto pr = timePair(dense, lazy, static_cast<int>(ntk::cpuThreads()), budget, minRuns, maxRuns);
      (t == 1 ? row.dense1 : row.dense2) = pr.first;
      (t == 1 ? row.lazy1 : row.lazy2) = pr.second;
    }
    ntk::setCpuThreads(1);
    volatile float sink = 0.0f;
    auto floor = [&] {
      std::vector<float> g(static_cast<size_t>(p.B * p.D));
      float acc = 0.0f;
      for (const float v : p.x) acc += v;
      g[0] = acc;
      sink = g[static_cast<size_t>(p.B * p.D) - 1] + g[0];
    };
    row.floor1 = timeIt(floor, 1, quick ? 0 : budget / 4, minRuns, maxRuns, 1);
    // pytopk's cost is B x D x S dense work whatever the scores: timed on the first rows that
    // hold about pytopkWork noise values (pytopkWork <= 0: all rows), scaled to all rows.
    const int64_t perRow = p.D * p.S;
    row.pytopkRows =
        pytopkWork > 0 ? std::max<int64_t>(1, std::min<int64_t>(p.B, static_cast<int64_t>(pytopkWork / perRow))) : p.B;
    const Problem pq = firstRows(p, row.pytopkRows);
    const TorchInputs in = torchInputs(pq);
    auto pytopk = [&] { (void)runPytopk(in, pq.S, nullptr); };
    const double scale = static_cast<double>(p.B) / static_cast<double>(pq.B);
    for (const int t : {1, 2}) {
      torch::set_num_threads(t);
      Stats st = timeIt(pytopk, torch::get_num_threads(), budget, quick ? 1 : 2, maxRuns, 1);
      st.median *= scale;
      st.p10 *= scale;
      st.p90 *= scale;
      st.min *= scale;
      (t == 1 ? row.torch1 : row.torch2) = st;
    }
    torch::set_num_threads(1);
    std::printf(
        "%s (%lld, %lld, %lld): dense %.4g / lazy %.4g ms (1T), dense %.4g / lazy %.4g ms (2T), pytopk %.4g / %.4g ms "
        "(1T / 2T%s), floor %.4g ms; load %.2f\n",
        c.name.c_str(), (long long)p.B, (long long)p.D, (long long)p.S, row.dense1.median, row.lazy1.median,
        row.dense2.median, row.lazy2.median, row.torch1.median, row.torch2.median,
        row.pytopkRows < p.B ? (", timed on " + std::to_string(row.pytopkRows) + " rows, scaled").c_str() : "",
        row.floor1.median, bench::loadAvg1());
    std::fflush(stdout);
    rows.push_back(row);
  }
  const double load1 = bench::loadAvg1();
  const double seconds = std::chrono::duration<double>(std::chrono::system_clock::now() - start).count();
  const bench::LoadVerdict verdict = bench::loadVerdict(load0, load1, quick);

  std::ostringstream md;
  md << "# Corpus benchmark in C++: BalNoisedTopK (k = 5, epsilon = 1) loss + gradient, 'dense' against 'lazy' "
        "against pytopk (libtorch)"
     << (quick ? " (QUICK run: a smoke test, not a measurement)" : "") << "\n\n";
  md << bench::underLoadBanner(verdict);
  md << "- Machine: " << host << "; CPU: " << cpu << " (" << detail << "), " << hw << " logical cores\n";
  md << "- Date: " << date << "; the run took " << fmt("%.0f", seconds) << " s\n";
  md << "- Load average, 1 min: " << fmt("%.2f", load0) << " at the start, " << fmt("%.2f", load1) << " at the end\n";
  md << "- libtorch " << TORCH_VERSION << "; ours = native/cpu kernels linked directly (no N-API)\n";
  md << "- Times: median ms per forward + backward [p10, p90]; 'dense' and 'lazy' alternate call by call (1 warm-up "
        "round, then "
     << (quick ? "1 round" : "rounds for " + fmt("%.1f", budget) + " s, at least 3")
     << " per thread count). pytopk: " << (quick ? "1 run" : "at least 2 timed runs after 2 untimed calls")
     << " per thread count, on the first rows holding about " << fmt("%.3g", pytopkWork)
     << " noise values (B x D x S; column 'pytopk rows'), scaled linearly to all B rows (its work is dense: "
        "B x D x S whatever the scores). Floor: one read of x and one write of a fresh B x D gradient, 1 thread.\n";
  md << "- default: the sampler the package picks for this width; 'default / other' is its time over the other "
        "sampler's (above 1.00x: the default is the slower one)\n\n";
  md << "| case | kind | stage | B | D | S | default | dense 1T | lazy 1T | dense / lazy 1T | dense 2T | lazy 2T | "
        "dense / lazy 2T | default / other 1T | pytopk 1T | pytopk 2T | pytopk rows | pytopk 1T / lazy 1T | pytopk 1T "
        "/ "
        "dense 1T | floor 1T | lazy 1T / floor | runs dense 1T, 2T; pytopk |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  auto cell = [](const Stats& s) {
    return fmt("%.4g", s.median) + " [" + fmt("%.3g", s.p10) + ", " + fmt("%.3g", s.p90) + "]";
  };
  for (const CorpusRow& r : rows) {
    const CorpusCase& c = r.c;
    md << "| " << c.name << " | " << c.kind << " | " << c.stage << " | " << c.rows << " | " << c.classes << " | "
       << c.nSample << " | ";
    if (r.skipped) {
      md << "skipped: " << r.why << " |||||||||||||||\n";
      continue;
    }
    const double def = c.defaultSampler == "lazy"    ? r.lazy1.median / r.dense1.median
                       : c.defaultSampler == "dense" ? r.dense1.median / r.lazy1.median
                                                     : 0;
    md << c.defaultSampler << " | " << cell(r.dense1) << " | " << cell(r.lazy1) << " | "
       << fmt("%.2fx", r.dense1.median / r.lazy1.median) << " | " << cell(r.dense2) << " | " << cell(r.lazy2) << " | "
       << fmt("%.2fx", r.dense2.median / r.lazy2.median) << " | " << (def > 0 ? fmt("%.2fx", def) : "") << " | "
       << cell(r.torch1) << " | " << cell(r.torch2) << " | " << r.pytopkRows << " | "
       << fmt("%.1fx", r.torch1.median / r.lazy1.median) << " | " << fmt("%.1fx", r.torch1.median / r.dense1.median)
       << " | " << cell(r.floor1) << " | " << fmt("%.2fx", r.lazy1.median / r.floor1.median) << " | " << r.dense1.runs
       << ", " << r.dense2.runs << "; " << r.torch1.runs << " |\n";
  }
  md << "\nCheck before timing, per case ('dense' against pytopk on one shared noise tensor, the first rows):\n\n";
  md << "| case | rows | positions differing | max abs top diff | abs loss diff | max abs grad diff |\n";
  md << "|---|---|---|---|---|---|\n";
  for (const CorpusRow& r : rows) {
    if (r.skipped) continue;
    md << "| " << r.c.name << " | " << r.checkRows << " | " << r.checkMismatches << " | " << fmt("%.3g", r.checkTopDiff)
       << " | " << fmt("%.3g", r.checkLossDiff) << " | " << fmt("%.3g", r.checkGradDiff) << " |\n";
  }
  std::printf("\n%s", md.str().c_str());

  std::ostringstream js;
  auto sj = [](const Stats& s) {
    std::ostringstream o;
    o << "{\"medianMs\": " << s.median << ", \"p10Ms\": " << s.p10 << ", \"p90Ms\": " << s.p90
      << ", \"minMs\": " << s.min << ", \"runs\": " << s.runs << ", \"threads\": " << s.threads << "}";
    return o.str();
  };
  auto str = [](const std::string& s) {
    std::string o = "\"";
    for (const char ch : s) {
      if (ch == '"' || ch == '\\') o += '\\';
      if (static_cast<unsigned char>(ch) >= 0x20) o += ch;
    }
    return o + "\"";
  };
  js << "{\n  \"host\": " << str(host) << ",\n  \"cpu\": " << str(cpu) << ",\n  \"cpuDetail\": " << str(detail)
     << ",\n  \"logicalCores\": " << hw << ",\n  \"libtorch\": \"" << TORCH_VERSION << "\",\n  \"date\": \"" << date
     << "\",\n  \"seconds\": " << seconds << ",\n  \"loadStart\": " << load0 << ",\n  \"loadEnd\": " << load1
     << ",\n  \"loaded\": " << (verdict.loaded ? "true" : "false") << ",\n  \"quick\": " << (quick ? "true" : "false")
     << ",\n  \"pytopkWork\": " << pytopkWork << ",\n  \"checksPassed\": " << (allOk ? "true" : "false")
     << ",\n  \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const CorpusRow& r = rows[i];
    js << "    {\"name\": " << str(r.c.name) << ", \"kind\": " << str(r.c.kind) << ", \"stage\": " << str(r.c.stage)
       << ", \"B\": " << r.c.rows << ", \"D\": " << r.c.classes << ", \"S\": " << r.c.nSample
       << ", \"defaultSampler\": " << str(r.c.defaultSampler);
    if (r.skipped) {
      js << ", \"skipped\": " << str(r.why) << "}";
    } else {
      js << ", \"dense1\": " << sj(r.dense1) << ", \"lazy1\": " << sj(r.lazy1) << ", \"dense2\": " << sj(r.dense2)
         << ", \"lazy2\": " << sj(r.lazy2) << ", \"pytopk1\": " << sj(r.torch1) << ", \"pytopk2\": " << sj(r.torch2)
         << ", \"pytopkRows\": " << r.pytopkRows << ", \"floor1\": " << sj(r.floor1)
         << ", \"check\": {\"rows\": " << r.checkRows << ", \"positionMismatches\": " << r.checkMismatches
         << ", \"maxTopDiff\": " << r.checkTopDiff << ", \"lossDiff\": " << r.checkLossDiff
         << ", \"maxGradDiff\": " << r.checkGradDiff << "}}";
    }
    js << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  js << "  ]\n}\n";
  int rc = 0;
  if (!outDir.empty()) {
    const std::string base = outDir + (quick ? "/corpus-native-quick" : "/corpus-native");
    rc = bench::writeResults({{base + ".md", md.str()}, {base + ".json", js.str()}}, verdict, allowLoad);
  }
  if (!allOk) {
    std::fprintf(stderr, "correctness check FAILED: ours and pytopk disagree on the shared noise\n");
    return 1;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  std::string outDir;
  std::string sizesArg;
  std::string manifest;
  bool quick = false, allowLoad = false;
  double pytopkWork = 2.5e7;
  double budget = 3.0;
  bool budgetGiven = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smoke")
      smoke = true;
    else if (a == "--out" && i + 1 < argc)
      outDir = argv[++i];
    else if (a == "--sizes" && i + 1 < argc)
      sizesArg = argv[++i];
    else if (a == "--budget" && i + 1 < argc) {
      budget = std::atof(argv[++i]);
      budgetGiven = true;
    } else if (a == "--corpus-manifest" && i + 1 < argc)
      manifest = argv[++i];
    else if (a == "--quick")
      quick = true;
    else if (a == "--allow-load")
      allowLoad = true;
    else if (a == "--pytopk-work" && i + 1 < argc)
      pytopkWork = std::atof(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: %s [--smoke] [--out DIR] [--allow-load] [--sizes B,D,S;...] [--budget SECONDS]\n"
                   "       %s --corpus-manifest FILE [--quick] [--out DIR] [--allow-load] [--budget SECONDS] "
                   "[--pytopk-work VALUES]\n",
                   argv[0], argv[0]);
      return 2;
    }
  }
  if (!manifest.empty()) {
    try {
      return runCorpus(manifest, outDir, quick, allowLoad, budgetGiven ? budget : 1.0, pytopkWork);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_native --corpus: %s\n", e.what());
      return 1;
    }
  }
  std::vector<std::array<int64_t, 3>> sizes;
  if (!sizesArg.empty()) {
    std::stringstream ss(sizesArg);
    std::string item;
    while (std::getline(ss, item, ';')) {
      std::array<int64_t, 3> s{};
      if (std::sscanf(item.c_str(), "%ld,%ld,%ld", &s[0], &s[1], &s[2]) == 3) sizes.push_back(s);
    }
  } else if (smoke) {
    sizes = {{{8, 50, 4}}, {{4, 130, 3}}};
  } else {
    sizes = {{{64, 100, 10}}, {{32, 1081, 5}}, {{256, 1000, 5}}, {{1024, 10000, 10}}, {{4096, 32768, 5}}};
  }
  if (smoke) budget = 0.05;

  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::string cpu = cpuModel();
  const std::string detail = cpuDetail();
  const std::string loadBefore = bench::loadAvgLine();
  const double load0 = bench::loadAvg1();
  struct utsname un;
  uname(&un);
  std::printf("CPU: %s, %d logical cores; libtorch %s; torch default threads %d\n", cpu.c_str(), hw, TORCH_VERSION,
              torch::get_num_threads());

  std::vector<Row> rows;
  bool allOk = true;
  for (const auto& sz : sizes) {
    Row row{};
    row.B = sz[0];
    row.D = sz[1];
    row.S = sz[2];
    const Problem p = makeProblem(row.B, row.D, row.S, 42);
    torch::set_num_threads(1);
    ntk::setCpuThreads(1);
    // Above 2e8 noise values pytopk's dense tensors take gigabytes and tens of seconds per call:
    // no shared-noise check there, and pytopk is timed once, on one thread.
    const bool giant = row.B * row.D * row.S > 200000000;
    if (!giant)
      allOk = check(p, row) && allOk;
    else
      row.checked = false;
    const TorchInputs in = torchInputs(p);
    uint32_t offset = 1;
    const bool huge = row.B * row.D * row.S > 20000000;
    const int minRuns = smoke ? 2 : (huge ? 3 : 15);
    const int maxRuns = smoke ? 3 : 2000;
    const int warm = smoke ? 1 : (huge ? 1 : 5);
    auto ours = [&] { (void)runOurs(p, nullptr, offset++); };
    auto oursLazy = [&] { (void)runOurs(p, nullptr, offset++, 1); };
    volatile float sink = 0.0f;
    auto floor = [&] {
      // The least any forward + backward must do: read x once, write a fresh B x D gradient.
      std::vector<float> g(static_cast<size_t>(row.B * row.D));
      float acc = 0.0f;
      for (const float v : p.x) acc += v;
      g[0] = acc;
      sink = g[static_cast<size_t>(row.B * row.D) - 1] + g[0];
    };
    auto pytopk = [&] { (void)runPytopk(in, row.S, nullptr); };
    auto topk = [&] {
      torch::NoGradGuard ng;
      (void)torch::topk(in.x, kK + 1, 1);
    };
    ntk::setCpuThreads(1);
    row.ours1 = timeIt(ours, 1, budget, minRuns, maxRuns, warm);
    ntk::setCpuThreads(hw);
    row.oursN = timeIt(ours, static_cast<int>(ntk::cpuThreads()), budget, minRuns, maxRuns, warm);
    ntk::setCpuThreads(1);
    row.lazy1 = timeIt(oursLazy, 1, budget, minRuns, maxRuns, warm);
    ntk::setCpuThreads(hw);
    row.lazyN = timeIt(oursLazy, static_cast<int>(ntk::cpuThreads()), budget, minRuns, maxRuns, warm);
    ntk::setCpuThreads(1);
    row.floor1 = timeIt(floor, 1, budget, minRuns, maxRuns, warm);
    torch::set_num_threads(1);
    row.torch1 = timeIt(pytopk, torch::get_num_threads(), budget, giant ? 1 : minRuns, maxRuns, giant ? 0 : warm);
    row.topk1 = timeIt(topk, torch::get_num_threads(), budget, minRuns, maxRuns, warm);
    if (giant) {
      row.torchN = row.torch1;
      row.pytopkSkipped2T = true;
    } else {
      torch::set_num_threads(hw);
      row.torchN = timeIt(pytopk, torch::get_num_threads(), budget, minRuns, maxRuns, warm);
    }
    torch::set_num_threads(1);
    rows.push_back(row);
    std::printf(
        "(%lld, %lld, %lld): ours %.4g ms (1T) %.4g ms (%dT); lazy %.4g ms (1T) %.4g ms; floor %.4g ms; pytopk %.4g ms "
        "(1T) %.4g ms (%dT); topk %.4g ms; load %s\n",
        (long long)row.B, (long long)row.D, (long long)row.S, row.ours1.median, row.oursN.median, row.oursN.threads,
        row.lazy1.median, row.lazyN.median, row.floor1.median, row.torch1.median, row.torchN.median, row.torchN.threads,
        row.topk1.median, bench::loadAvgLine().c_str());
    std::fflush(stdout);
  }

  // ----- report -----
  std::ostringstream md;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  const bench::LoadVerdict verdict = bench::loadVerdict(load0, bench::loadAvg1(), smoke);
  md << "# Native benchmark: BalNoisedTopK (k = 5, epsilon = 1) loss + gradient\n\n";
  md << bench::underLoadBanner(verdict);
  md << "- Machine: " << cpu << " (" << detail << "), " << hw << " logical cores (" << un.sysname << " " << un.release
     << ")\n";
  md << "- Load average (1, 5, 15 min) at start: " << loadBefore << "; at end: " << bench::loadAvgLine()
     << " (the machine is shared: other processes on a core inflate the 2-thread numbers first)\n";
  md << "- libtorch " << TORCH_VERSION << "; ours = native/cpu kernels linked directly (no N-API)\n";
  md << "- Date: " << date << (smoke ? " (SMOKE run: tiny sizes, not a measurement)" : "") << "\n";
  md << "- Times: median over runs after warm-up, [p10, p90] in brackets; ms per forward + backward "
        "(topk: hard torch::topk forward only)\n";
  md << "- Peak extra: highest live heap during one call minus before it (malloc accounting)\n\n";
  md << "| B | D | S | ours 1T ms | ours " << hw << "T ms | pytopk (libtorch) 1T ms | pytopk " << hw
     << "T ms | torch.topk 1T ms | pytopk 1T / ours 1T | pytopk " << hw << "T / ours " << hw << "T | ours 1T / ours "
     << hw << "T | ours 1T / topk | pytopk 1T / topk | peak extra ours / pytopk MB | runs (ours, pytopk) |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  auto cell = [](const Stats& s) {
    return fmt("%.4g", s.median) + " [" + fmt("%.3g", s.p10) + ", " + fmt("%.3g", s.p90) + "]";
  };
  for (const Row& r : rows) {
    md << "| " << r.B << " | " << r.D << " | " << r.S << " | " << cell(r.ours1) << " | " << cell(r.oursN) << " | "
       << cell(r.torch1) << " | " << cell(r.torchN) << " | " << cell(r.topk1) << " | "
       << fmt("%.1fx", r.torch1.median / r.ours1.median) << " | " << fmt("%.1fx", r.torchN.median / r.oursN.median)
       << " | " << fmt("%.2fx", r.ours1.median / r.oursN.median) << " | "
       << fmt("%.2f", r.ours1.median / r.topk1.median) << " | " << fmt("%.1f", r.torch1.median / r.topk1.median)
       << " | " << fmt("%.2f", r.ours1.peakExtraMB) << " / " << fmt("%.1f", r.torch1.peakExtraMB) << " | "
       << r.ours1.runs << ", " << r.torch1.runs << " |\n";
  }
  md << "\nSampler 'lazy' (native/core/lazy_sampler.h) in the same run: same loss and gradient law, noise drawn only "
        "where it can matter. Floor: one read of x plus one write of a fresh B x D gradient, 1 thread.\n\n";
  md << "| B | D | S | dense 1T ms | lazy 1T ms | lazy " << hw
     << "T ms | pytopk 1T ms | pytopk 1T / dense 1T | pytopk 1T / lazy 1T | "
        "dense 1T / lazy 1T | lazy 1T / lazy "
     << hw << "T | floor 1T ms | lazy 1T / floor |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    md << "| " << r.B << " | " << r.D << " | " << r.S << " | " << cell(r.ours1) << " | " << cell(r.lazy1) << " | "
       << cell(r.lazyN) << " | " << cell(r.torch1) << (r.pytopkSkipped2T ? " (1 run)" : "") << " | "
       << fmt("%.1fx", r.torch1.median / r.ours1.median) << " | " << fmt("%.1fx", r.torch1.median / r.lazy1.median)
       << " | " << fmt("%.2fx", r.ours1.median / r.lazy1.median) << " | "
       << fmt("%.2fx", r.lazy1.median / r.lazyN.median) << " | " << cell(r.floor1) << " | "
       << fmt("%.2fx", r.lazy1.median / r.floor1.median) << " |\n";
  }
  md << "\nCorrectness check before timing (shared explicit noise tensor, ours vs pytopk):\n\n";
  md << "| B | D | S | positions differing | max abs top diff | abs loss diff | max abs grad diff "
        "|\n|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    if (!r.checked) {
      md << "| " << r.B << " | " << r.D << " | " << r.S
         << " | not checked (too large for pytopk's dense tensors here) | | | |\n";
      continue;
    }
    md << "| " << r.B << " | " << r.D << " | " << r.S << " | " << r.positionMismatches << " | "
       << fmt("%.3g", r.maxTopDiff) << " | " << fmt("%.3g", r.lossDiff) << " | " << fmt("%.3g", r.maxGradDiff)
       << " |\n";
  }
  // The targets (one thread vs the libtorch pytopk of this run; all threads vs one).
  md << "\nTargets (issue 4), judged on this run:\n\n";
  for (const Row& r : rows) {
    double speedTarget = 0, threadTarget = 0;
    if (r.B == 64 && r.D == 100 && r.S == 10) speedTarget = 10;
    if ((r.B == 32 && r.D == 1081 && r.S == 5) || (r.B == 256 && r.D == 1000 && r.S == 5)) speedTarget = 20;
    if ((r.B == 256 && r.D == 1000 && r.S == 5) || (r.B == 1024 && r.D == 10000 && r.S == 10)) threadTarget = 1.8;
    const double speed = r.torch1.median / r.ours1.median, scale = r.ours1.median / r.oursN.median;
    if (speedTarget > 0)
      md << "- (" << r.B << ", " << r.D << ", " << r.S << "): pytopk 1T / ours 1T = " << fmt("%.1fx", speed)
         << ", target " << fmt("%.0fx", speedTarget) << ": " << (speed >= speedTarget ? "met" : "MISSED") << "\n";
    if (threadTarget > 0 && hw >= 2)
      md << "- (" << r.B << ", " << r.D << ", " << r.S << "): ours 1T / ours " << hw << "T = " << fmt("%.2fx", scale)
         << ", target " << fmt("%.1fx", threadTarget) << ": " << (scale >= threadTarget ? "met" : "MISSED") << "\n";
  }
  md << "\nTargets of the lazy sampler (issue 14), judged on this run:\n\n";
  for (const Row& r : rows) {
    double target = 0;
    if (r.B == 64 && r.D == 100 && r.S == 10) target = 10;
    if ((r.B == 32 && r.D == 1081 && r.S == 5) || (r.B == 256 && r.D == 1000 && r.S == 5)) target = 25;
    if (r.B == 1024 && r.D == 10000 && r.S == 10) target = 150;
    const double speed = r.torch1.median / r.lazy1.median;
    if (target > 0)
      md << "- (" << r.B << ", " << r.D << ", " << r.S << "): pytopk 1T / lazy 1T = " << fmt("%.1fx", speed)
         << ", target " << fmt("%.0fx", target) << ": " << (speed >= target ? "met" : "MISSED") << "\n";
    if (r.B == 4096 && r.D == 32768 && r.S == 5) {
      const double f = r.lazy1.median / r.floor1.median;
      md << "- (4096, 32768, 5): lazy 1T / memory floor = " << fmt("%.2fx", f)
         << ", target 3x: " << (f <= 3 ? "met" : "MISSED") << "\n";
    }
    if (r.D >= 1000 && r.B * r.D * r.S >= 1280000 && hw >= 2) {
      const double sc = r.lazy1.median / r.lazyN.median;
      md << "- (" << r.B << ", " << r.D << ", " << r.S << "): lazy 1T / lazy " << hw << "T = " << fmt("%.2fx", sc)
         << ", target 1.8x: " << (sc >= 1.8 ? "met" : "MISSED") << "\n";
    }
  }
  md << "\nWhy the misses: README.md, Performance; docs/lazy-sampler.md.\n";
  std::printf("\n%s", md.str().c_str());

  std::ostringstream js;
  js << "{\n  \"cpu\": \"" << cpu << "\",\n  \"cpuDetail\": \"" << detail << "\",\n  \"loadBefore\": \"" << loadBefore
     << "\",\n  \"logicalCores\": " << hw << ",\n  \"libtorch\": \"" << TORCH_VERSION << "\",\n  \"date\": \"" << date
     << "\",\n  \"smoke\": " << (smoke ? "true" : "false") << ",\n  \"checksPassed\": " << (allOk ? "true" : "false")
     << ",\n  \"rows\": [\n";
  auto sj = [](const Stats& s) {
    std::ostringstream o;
    o << "{\"medianMs\": " << s.median << ", \"p10Ms\": " << s.p10 << ", \"p90Ms\": " << s.p90
      << ", \"minMs\": " << s.min << ", \"runs\": " << s.runs << ", \"threads\": " << s.threads
      << ", \"peakExtraMB\": " << s.peakExtraMB << "}";
    return o.str();
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    js << "    {\"B\": " << r.B << ", \"D\": " << r.D << ", \"S\": " << r.S << ", \"ours1\": " << sj(r.ours1)
       << ", \"oursN\": " << sj(r.oursN) << ", \"pytopk1\": " << sj(r.torch1) << ", \"pytopkN\": " << sj(r.torchN)
       << ", \"topk1\": " << sj(r.topk1) << ", \"lazy1\": " << sj(r.lazy1) << ", \"lazyN\": " << sj(r.lazyN)
       << ", \"floor1\": " << sj(r.floor1) << ", \"check\": {\"positionMismatches\": " << r.positionMismatches
       << ", \"maxTopDiff\": " << r.maxTopDiff << ", \"lossDiff\": " << r.lossDiff
       << ", \"maxGradDiff\": " << r.maxGradDiff << "}}" << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  js << "  ]\n}\n";
  int rc = 0;
  if (!outDir.empty()) {
    const std::string base = outDir + (smoke ? "/native-smoke" : "/native");
    rc = bench::writeResults({{base + ".md", md.str()}, {base + ".json", js.str()}}, verdict, allowLoad);
  }
  if (!allOk) {
    std::fprintf(stderr, "correctness check FAILED: ours and pytopk disagree on the shared noise\n");
    return 1;
  }
  return rc;
}
