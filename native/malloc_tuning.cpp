// Keeps the pages of freed output arrays in the process, so that a new gradient per step (the
// default path: backward() with no `out`) reuses mapped pages, as a preallocated `out` does,
// instead of taking a page fault per 4 KiB.
//
// Why (docs/performance.md, "Fresh outputs and page faults"): every output this package returns
// is a new Float32Array, whose memory V8 takes from glibc's calloc. V8 frees dead arrays in
// batches, on a GC thread, tens of MB at once. glibc then gives the top of its heap back to the
// OS once more than M_TRIM_THRESHOLD is free there, and serves blocks above M_MMAP_THRESHOLD
// with a fresh mmap each time. Both thresholds move by themselves (glibc raises them when an
// mmapped block is freed), so which path an output takes depends on what the process did
// before. Either way the next outputs arrive as new pages: one minor page fault per 4 KiB on the
// first write, about 250 per 1 MB gradient, which measured 0.3 ms (here) to 2.7 ms (a busier VM)
// per call against 2.5 ms for the whole forward + backward at (256, 1000, 5).
//
// What: at load, once per process, two mallopt calls:
//   M_MMAP_THRESHOLD = 4 MiB    blocks below it (a gradient of up to 1M floats) come from the
//                               heap, whose freed pages stay mapped; larger ones are mmapped and
//                               unmapped when freed, as before. Not higher: the kernels' threads
//                               and the async calls' input copies live in per-thread arenas,
//                               where freed blocks of 16 MB stayed resident (test/resources
//                               measured 340 MB held with 32 MiB here, 9 MB with 4 MiB);
//   M_TRIM_THRESHOLD = 64 MiB   the heap top is given back only beyond this (glibc's own
//                               dynamic value reaches the same 64 MiB), so a batch of arrays
//                               freed by the GC is reused by the next outputs instead of being
//                               returned and faulted in again.
// Setting either one stops glibc moving both. The cost, process-wide: up to 64 MiB
// of freed heap top stays resident per arena instead of going back to the OS. Outputs of 4 MiB
// and more are still mmapped by glibc on every call, and still fault.
//
// Not applied (and reported by mallocTuning()) when:
//   - the C library is not glibc (musl, macOS, Windows: other allocators, no mallopt);
//   - NOISED_TOPK_MALLOC_TUNING is 0, false, no or off (any case, spaces around ignored; the
//     one parser is switchOf below: 1, true, yes, on or empty keep it, anything else keeps it
//     and warns once per process, code NOISED_TOPK_MALLOC_TUNING_INVALID);
//   - the user tuned malloc already (GLIBC_TUNABLES naming glibc.malloc.*, or one of glibc's
//     MALLOC_*_ variables for these thresholds): theirs wins.
// No values or results depend on it: it moves where memory comes from, not what is computed.
#include <napi.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ntk_malloc {

namespace {

constexpr long kMmapThreshold = 4L * 1024 * 1024;
constexpr long kTrimThreshold = 64L * 1024 * 1024;

struct Tuning {
  bool applied = false;
  std::string reason;   // why it was not applied; "" when it was
  std::string warning;  // an unrecognized NOISED_TOPK_MALLOC_TUNING, said once; "" when none
};

enum class Switch { kOn, kOff, kUnrecognized };

// The value of NOISED_TOPK_MALLOC_TUNING: the usual spellings of false turn the tuning off,
// those of true (and an empty value) keep it, compared trimmed and case-insensitively.
Switch switchOf(const char* raw) {
  std::string v(raw);
  const char* space = " \t\n\r\f\v";
  const size_t first = v.find_first_not_of(space);
  v = first == std::string::npos ? "" : v.substr(first, v.find_last_not_of(space) - first + 1);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* off : {"0", "false", "no", "off"})
    if (v == off) return Switch::kOff;
  for (const char* on : {"", "1", "true", "yes", "on"})
    if (v == on) return Switch::kOn;
  return Switch::kUnrecognized;
}

std::atomic<bool> g_warned{false};

// process.emitWarning(message, { code }) in the loading environment; a warning never fails the load.
void emitWarning(Napi::Env env, const std::string& message) {
  try {
    const Napi::Value proc = env.Global().Get("process");
    if (!proc.IsObject()) return;
    const Napi::Value f = proc.As<Napi::Object>().Get("emitWarning");
    if (!f.IsFunction()) return;
    Napi::Object options = Napi::Object::New(env);
    options.Set("code", "NOISED_TOPK_MALLOC_TUNING_INVALID");
    f.As<Napi::Function>().Call(proc, {Napi::String::New(env, message), options});
  } catch (const Napi::Error&) {
    // node-addon-api has cleared the exception: the load goes on without the warning.
  }
}

// One process, one decision: every worker_thread loads this same library, and mallopt is
// process-wide, so the first load decides and later ones report the same.
std::once_flag g_once;
Tuning g_tuning;

bool envSet(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0';
}

Tuning decide() {
  Tuning t;
#if !defined(__GLIBC__)
  t.reason = "not glibc";
  return t;
#else
  const char* opt = std::getenv("NOISED_TOPK_MALLOC_TUNING");
  const Switch sw = opt == nullptr ? Switch::kOn : switchOf(opt);
  if (sw == Switch::kOff) {
    t.reason = std::string("NOISED_TOPK_MALLOC_TUNING=") + opt;
    return t;
  }
  if (sw == Switch::kUnrecognized) {
    t.warning = std::string("NOISED_TOPK_MALLOC_TUNING=") + opt +
                " is not recognized: 0, false, no or off turn the malloc tuning off, 1, true, yes or on keep it "
                "(docs/performance.md); it stays on";
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) {
    t.reason = "GLIBC_TUNABLES sets glibc.malloc.*";
    return t;
  }
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"}) {
    if (envSet(name)) {
      t.reason = std::string(name) + " is set";
      return t;
    }
  }
  // mallopt returns 1 on success. The trim threshold first: should the second call fail, the
  // heap top is still kept.
  if (mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThreshold)) != 1 ||
      mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThreshold)) != 1) {
    t.reason = "mallopt refused";
    return t;
  }
  t.applied = true;
  return t;
#endif
}

Napi::Value MallocTuning(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("applied", Napi::Boolean::New(env, g_tuning.applied));
  o.Set("mmapThreshold",
        g_tuning.applied ? Napi::Value(Napi::Number::New(env, static_cast<double>(kMmapThreshold))) : env.Null());
  o.Set("trimThreshold",
        g_tuning.applied ? Napi::Value(Napi::Number::New(env, static_cast<double>(kTrimThreshold))) : env.Null());
  o.Set("reason", Napi::String::New(env, g_tuning.reason));
  return o;
}

}  // namespace

// Called from the module's Init: decides once, and exports mallocTuning() to report it.
void init(Napi::Env env, Napi::Object exports) {
  std::call_once(g_once, [] { g_tuning = decide(); });
  if (!g_tuning.warning.empty() && !g_warned.exchange(true)) emitWarning(env, g_tuning.warning);
  exports.Set("mallocTuning", Napi::Function::New(env, MallocTuning, "mallocTuning"));
}

}  // namespace ntk_malloc
