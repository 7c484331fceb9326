// What the emulator checks share: a small deterministic generator for their inputs, and the
// bit pattern compared for "same result" (every NaN one pattern: the kernels promise the NaN
// rule, not a NaN payload).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace emu {

inline uint32_t bitsCanon(float f) {
  if (std::isnan(f)) return 0x7fc00000u;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// xorshift64, high bits out: inputs only, never part of a result.
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

}  // namespace emu
