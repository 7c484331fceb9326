// A process-wide pool for the CPU kernels. One parallel job runs at a time; a caller that
// finds the pool busy (another async call, another worker_thread) runs its job inline, which
// is correct because no result depends on how the work was split.
#pragma once

#include <cstddef>
#include <functional>

namespace ntk {

// The most threads setPoolThreads accepts: 4 x the CPUs this process may run on (its
// affinity mask, as Node's os.availableParallelism() counts them), at least 8. More threads
// than that only add switching: a few thousand OS threads on 2 cores made calls 7x slower.
unsigned maxPoolThreads();

// n = 0 means one per CPU; n must be <= maxPoolThreads(). Lowering it stops and joins the
// workers above n - 1 (at once when the pool is idle, else when its current job ends).
void setPoolThreads(unsigned n);
unsigned poolThreads();
// Worker threads alive now (a test hook: the OS threads setPoolThreads has to account for).
unsigned poolWorkers();

// Calls body(begin, end) over disjoint chunks covering [0, n); returns when all are done.
// Every chunk starts at a multiple of grain (the kernels rely on it to keep rows whole).
// afterwards(), when given, runs once on every thread that took part, after its last chunk
// and before parallelFor returns (where per-thread state of the job is let go).
void parallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body,
                 void (*afterwards)() = nullptr);

}  // namespace ntk
