// A process-wide pool for the CPU kernels. One parallel job runs at a time; a caller that
// finds the pool busy (another async call, another worker_thread) runs its job inline, which
// is correct because no result depends on how the work was split.
#pragma once

#include <cstddef>
#include <functional>

namespace ntk {

void setPoolThreads(unsigned n);
unsigned poolThreads();

// Calls body(begin, end) over disjoint chunks covering [0, n); returns when all are done.
// Every chunk starts at a multiple of grain (the kernels rely on it to keep rows whole).
void parallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body);

}  // namespace ntk
