// The CPU kernel's entry to the lazy sampler (native/cpu/lazy_cpu.cpp).
#pragma once

#include <cstdint>

#include "../core/noised_topk.h"

namespace ntk {
namespace cpu {

// One (row, sample) of a seeded call with a.sampler == kSamplerLazy. Returns false, writing
// nothing, when the row is not eligible for the lazy path (see lazy::lazyPrepareRow): the caller then
// runs the dense path for it. The row is prepared once per (call, row) per thread.
bool lazySolveUnit(const ForwardArgs& a, uint64_t call, uint64_t row, uint32_t s, int32_t* pos, float* value);

// At the end of a thread's part of a call: releases lazy scratch grown past keepBytes and
// updates the total lazyScratchBytes() reports.
void lazySettleScratch(uint64_t keepBytes);
uint64_t lazyScratchBytes();

// Test hook (addon `_lazyTestRaise`): raises the lazy sampler's first threshold by gridPoints
// points of eps / 32 in every row prepared from now on, so that the descent runs in most
// samples; 0 (the default) turns it off. The law stays exact either way; only the work changes.
void lazySetTestRaise(int32_t gridPoints);

}  // namespace cpu
}  // namespace ntk
