// The selection order of every top-k kernel (noised, hard and perturbed; CPU, CUDA and
// lib/ops-kernel.ts, lib/stream.ts): one float-to-key conversion, and one composite that
// breaks ties by column. Every place that ranks columns builds its keys here.
#pragma once

#include <cstdint>

#include "host_device.h"  // NTK_HD, bitCast

namespace ntk {

// Total order used for selection. Larger key ranks higher; among equal keys the lower column
// ranks higher (the tie rule). NaN ranks above +Infinity (PyTorch's topk order); -0 and +0
// are equal.
NTK_HD uint32_t rankKey(float f) {
  uint32_t b = bitCast<uint32_t>(f);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return 0xFFFFFFFFu;  // any NaN
  if (b == 0x80000000u) b = 0;                              // -0 == +0
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// largest: rankKey. smallest: its complement, so the order is reversed but NaN stays the
// largest value (PyTorch's topk order: NaN is selected first by largest=true and last by
// largest=false) and -0 still equals +0.
NTK_HD uint32_t selectKey(float f, bool largest) { return largest ? rankKey(f) : ~rankKey(f); }

// The composite rank of column c: its 32-bit key above, the complemented column below. Within
// a row every column's composite is distinct, a larger composite ranks higher, and equal keys
// rank the lower column higher. The complemented column of any column below 2^32 - 1 is
// nonzero, so no composite is 0 and 0 can stand for "empty".
NTK_HD uint64_t composite(uint32_t key, uint32_t c) {
  return (static_cast<uint64_t>(key) << 32) | static_cast<uint32_t>(~c);
}
// A float is not a key: rank it with rankComposite (or composite(selectKey(y, largest), c)).
uint64_t composite(float, uint32_t) = delete;

// composite(rankKey(y), c): the order of the noised kernels and the lazy sampler.
NTK_HD uint64_t rankComposite(float y, uint32_t c) { return composite(rankKey(y), c); }

NTK_HD uint32_t compositeColumn(uint64_t v) { return ~static_cast<uint32_t>(v); }

}  // namespace ntk
