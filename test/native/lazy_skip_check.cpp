// The lazy sampler's skip functions (native/core/lazy_sampler.h uniformOpen, skipLaw,
// skipNext) on inputs read from stdin, for test/lazy-skip.test.ts to hold equal, bit for bit,
// to their TypeScript twins (lib/lazy-sampler.ts). One request per line, doubles as 16 hex digits
// of their bits:
//   u W              -> the bits of uniformOpen(W) (W a decimal 32-bit word)
//   p Q              -> the skip law of q: the bits of its q, lq and invLq
//   s AT COUNT U Q   -> the bits of skipNext(at, count, u, skipLaw(q))
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/lazy_sampler.h"

using namespace ntk::lazy;

namespace {

double readBits(const char* hex) {
  uint64_t b = 0;
  std::sscanf(hex, "%" SCNx64, &b);
  return bitsDouble(b);
}

}  // namespace

int main() {
  char line[512];
  while (std::fgets(line, sizeof line, stdin)) {
    char op[4] = {0}, a[32] = {0}, b[32] = {0}, c[32] = {0}, d[32] = {0};
    const int n = std::sscanf(line, "%3s %31s %31s %31s %31s", op, a, b, c, d);
    if (n < 2) continue;
    if (std::strcmp(op, "u") == 0) {
      unsigned long w = 0;
      std::sscanf(a, "%lu", &w);
      std::printf("%016" PRIx64 "\n", doubleBits(uniformOpen(static_cast<uint32_t>(w))));
    } else if (std::strcmp(op, "p") == 0) {
      const SkipLaw p = skipLaw(readBits(a));
      std::printf("%016" PRIx64 " %016" PRIx64 " %016" PRIx64 "\n", doubleBits(p.q), doubleBits(p.lq),
                  doubleBits(p.invLq));
    } else if (std::strcmp(op, "s") == 0 && n == 5) {
      const SkipLaw p = skipLaw(readBits(d));
      std::printf("%016" PRIx64 "\n", doubleBits(skipNext(readBits(a), readBits(b), readBits(c), p)));
    }
  }
  return 0;
}
