// Exhaustive check of the bounds behind the CPU kernels' exact pruning (kernel_internal.h):
//   - for every one of the 2^24 radius inputs, the stream's Box-Muller radius
//     r = sqrt(-2 logUnit(u)) is <= radiusBound(word);
//   - for every one of the 2^24 angle inputs, the stream's cos and sin factors are <=
//     kCosMax / kSinMax of the angle word's octant and kCosMax16 / kSinMax16 of its sector.
// With |z| built as r * factor and every later operation monotone under rounding, a column
// whose bound x + eps * (radiusBound * factorMax) is below the current k-th value can never
// be selected, so pruning cannot change any result. Exit status 0 when all hold.
#include <cstdio>
#include <cstring>

#include "core/philox_normal.h"
#include "cpu/kernel_internal.h"

using namespace ntk;

namespace {

// The (cos, sin) factors boxMuller multiplies r by (philox_normal.h, same operations).
void angleFactors(uint32_t angleBits, float& cosT, float& sinT) {
  const uint32_t b = angleBits >> 8;
  const uint32_t qRaw = (b + (1u << 21)) >> 22;
  const int32_t t = static_cast<int32_t>(b) - static_cast<int32_t>(qRaw << 22);
  const float a = NTK_FMUL(static_cast<float>(t), 3.7450703871400037e-07f);
  const float s = sinQuarter(a);
  const float c = cosQuarter(a);
  switch (qRaw & 3u) {
    case 0:
      cosT = c;
      sinT = s;
      break;
    case 1:
      cosT = -s;
      sinT = c;
      break;
    case 2:
      cosT = -c;
      sinT = -s;
      break;
    default:
      cosT = s;
      sinT = -c;
      break;
  }
}

bool sameBits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

int main() {
  long bad = 0;
  float worstSlack = 1e30f;
  for (uint32_t m = 0; m < (1u << 24); ++m) {
    const uint32_t word = (m << 8) | 0xA5u;  // low 8 bits are ignored by both
    const float u = NTK_FMUL(static_cast<float>(m + 1u), 5.9604644775390625e-08f);
    const float r = NTK_FSQRT(NTK_FMUL(-2.0f, logUnit(u)));
    const float bound = radiusBound(word);
    if (!(r <= bound)) {
      if (bad < 5) std::printf("radius bound fails at m=%u: r=%.9g bound=%.9g\n", m, r, bound);
      ++bad;
    }
    if (bound - r < worstSlack) worstSlack = bound - r;
  }
  std::printf("radius: 2^24 inputs, %ld failures, smallest slack %.3g\n", bad, worstSlack);
  long badAngle = 0, badReplica = 0;
  const uint32_t radiusWord = 0x12345600u;
  const float u = NTK_FMUL(static_cast<float>((radiusWord >> 8) + 1u), 5.9604644775390625e-08f);
  const float r = NTK_FSQRT(NTK_FMUL(-2.0f, logUnit(u)));
  for (uint32_t b = 0; b < (1u << 24); ++b) {
    const uint32_t word = (b << 8) | 0x3Cu;
    float c, s;
    angleFactors(word, c, s);
    // The replica above must be the stream's own factors: same z bits as boxMuller.
    const NormalPair z = boxMuller(radiusWord, word);
    if (!sameBits(z.z0, NTK_FMUL(r, c)) || !sameBits(z.z1, NTK_FMUL(r, s))) ++badReplica;
    const uint32_t oct = word >> 29;
    if (!(c <= cpu::kCosMax[oct]) || !(s <= cpu::kSinMax[oct])) {
      if (badAngle < 5) std::printf("angle bound fails at b=%u (octant %u): cos=%.9g sin=%.9g\n", b, oct, c, s);
      ++badAngle;
    }
    const uint32_t sector = word >> 28;
    if (!(c <= cpu::kCosMax16[sector]) || !(s <= cpu::kSinMax16[sector])) {
      if (badAngle < 5) std::printf("angle bound fails at b=%u (sector %u): cos=%.9g sin=%.9g\n", b, sector, c, s);
      ++badAngle;
    }
  }
  std::printf("angle: 2^24 inputs, %ld bound failures, %ld replica mismatches\n", badAngle, badReplica);
  const bool ok = bad == 0 && badAngle == 0 && badReplica == 0;
  std::printf("%s\n", ok ? "prune bounds hold for every input" : "PRUNE BOUNDS FAIL");
  return ok ? 0 : 1;
}
