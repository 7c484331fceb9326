#include "thread_pool.h"

#include "../core/noised_topk.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace ntk {
namespace {

// The Cancel of the kernel call this thread is making (CancelScope), read by parallelFor.
thread_local Cancel* currentCancel = nullptr;
std::atomic<uint64_t> chunksRun{0};
std::atomic<uint64_t> jobsStopped{0};

// Whether the job's chunks should stop: its Cancel is set, or the calling thread's poll (every
// kPollEvery-th chunk it takes) says so.
bool stopNow(Cancel* c, bool caller, unsigned& taken) {
  if (c == nullptr) return false;
  if (caller && c->poll && taken++ % kPollEvery == 0 && c->poll(c->ctx)) c->requested.store(true);
  return c->stopped();
}

// CPUs this process may run on: the affinity mask where there is one (what libuv's
// uv_available_parallelism, hence os.availableParallelism(), counts), else the hardware count.
unsigned cpuCount() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

unsigned maxThreadsFor(unsigned cpus) { return std::max(8u, 4u * cpus); }

class Pool {
 public:
  Pool() : cpus_(cpuCount()), target_(std::min(cpus_, maxThreadsFor(cpus_))) {}

  unsigned maxThreads() const { return maxThreadsFor(cpus_); }
  void setThreads(unsigned n) {
    target_.store(std::min(n == 0 ? cpus_ : n, maxThreads()));
    maybeShrink();
  }
  unsigned threads() const { return target_.load(); }
  unsigned workers() const { return workerCount_.load(); }

  void run(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body, void (*afterwards)(),
           Cancel* cancel) {
    grain = std::max<size_t>(grain, 1);
    const size_t chunks = (n + grain - 1) / grain;
    const unsigned want = static_cast<unsigned>(std::min<size_t>(target_.load(), chunks));
    // The pool serves one job at a time; a concurrent caller does its own job inline.
    std::unique_lock<std::mutex> job(jobMutex_, std::try_to_lock);
    const unsigned helpers = want > 1 && job.owns_lock() ? ensureWorkers(want - 1) : 0;
    if (helpers == 0) {
      // Inline, still chunk by chunk when the call can be cancelled (no result depends on the split).
      if (cancel == nullptr) {
        body(0, n);
        chunksRun.fetch_add(1, std::memory_order_relaxed);
      } else {
        unsigned taken = 0;
        for (size_t begin = 0; begin < n; begin += grain) {
          if (stopNow(cancel, true, taken)) {
            jobsStopped.fetch_add(1, std::memory_order_relaxed);
            break;
          }
          body(begin, std::min(n, begin + grain));
          chunksRun.fetch_add(1, std::memory_order_relaxed);
        }
      }
      if (afterwards) afterwards();
    } else {
      {
        std::lock_guard<std::mutex> lk(m_);
        body_ = &body;
        afterwards_ = afterwards;
        n_ = n;
        grain_ = grain;
        next_.store(0);
        participants_ = helpers;
        finished_ = 0;
        cancel_ = cancel;
        stoppedFlag_.store(false);
        ++generation_;
      }
      wake_.notify_all();
      runChunks(body, n, grain, cancel, true);
      if (afterwards) afterwards();
      std::unique_lock<std::mutex> lk(m_);
      done_.wait(lk, [&] { return finished_ == participants_; });
      body_ = nullptr;
      afterwards_ = nullptr;
      cancel_ = nullptr;
      if (stoppedFlag_.load()) jobsStopped.fetch_add(1, std::memory_order_relaxed);
    }
    if (job.owns_lock()) {
      job.unlock();
      maybeShrink();  // a setThreads that lowered the count while this job ran left it to us
    }
  }

 private:
  // Stops the workers above target - 1 unless a job holds the pool; its owner calls this
  // again after releasing it, so a lowered target always takes effect by the end of the job.
  void maybeShrink() {
    for (;;) {
      std::unique_lock<std::mutex> job(jobMutex_, std::try_to_lock);
      if (!job.owns_lock()) return;
      shrinkLocked();
      job.unlock();
      if (workerCount_.load() + 1 <= std::max(1u, target_.load())) return;
    }
  }

  // Needs jobMutex_: no job runs, so every worker is parked on wake_.
  void shrinkLocked() {
    const size_t keep = std::max(1u, target_.load()) - 1;
    if (workers_.size() <= keep) return;
    {
      std::lock_guard<std::mutex> lk(m_);
      stopFrom_ = static_cast<unsigned>(keep);
    }
    wake_.notify_all();
    for (size_t j = keep; j < workers_.size(); ++j) workers_[j].join();
    workers_.resize(keep);
    workerCount_.store(static_cast<unsigned>(keep));
    std::lock_guard<std::mutex> lk(m_);
    stopFrom_ = UINT_MAX;
  }

  // Needs jobMutex_. Starts workers up to `count`; returns how many exist (fewer if the OS
  // refuses threads).
  unsigned ensureWorkers(unsigned count) {
    while (workers_.size() < count) {
      try {
        const unsigned id = static_cast<unsigned>(workers_.size());
        uint64_t seen;
        {
          std::lock_guard<std::mutex> lk(m_);
          seen = generation_;  // a new worker must not take an earlier job's generation for its own
        }
        workers_.emplace_back([this, id, seen] { workerLoop(id, seen); });
      } catch (const std::system_error&) {
        break;
      }
    }
    workerCount_.store(static_cast<unsigned>(workers_.size()));
    return static_cast<unsigned>(std::min<size_t>(workers_.size(), count));
  }

  void runChunks(const std::function<void(size_t, size_t)>& body, size_t n, size_t grain, Cancel* cancel, bool caller) {
    unsigned taken = 0;
    for (;;) {
      if (stopNow(cancel, caller, taken)) {
        stoppedFlag_.store(true);
        return;
      }
      const size_t begin = next_.fetch_add(grain);
      if (begin >= n) return;
      body(begin, std::min(n, begin + grain));
      chunksRun.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void workerLoop(unsigned id, uint64_t seen) {
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      wake_.wait(lk, [&] { return generation_ != seen || id >= stopFrom_; });
      if (id >= stopFrom_) return;
      seen = generation_;
      // The caller waits for every participant before it starts the next job, so a
      // participant always sees the generation it was counted in.
      if (id >= participants_) continue;
      const auto* body = body_;
      const auto afterwards = afterwards_;
      const size_t n = n_, grain = grain_;
      Cancel* const cancel = cancel_;
      lk.unlock();
      runChunks(*body, n, grain, cancel, false);
      if (afterwards) afterwards();
      lk.lock();
      if (++finished_ == participants_) done_.notify_one();
    }
  }

  const unsigned cpus_;
  std::atomic<unsigned> target_;
  std::atomic<unsigned> workerCount_{0};
  std::mutex jobMutex_;  // held by the job using the workers, and to start or stop workers
  std::mutex m_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;  // joined when setThreads lowers the count, else live until exit
  uint64_t generation_ = 0;
  unsigned stopFrom_ = UINT_MAX;  // workers with an id at or above it exit
  const std::function<void(size_t, size_t)>* body_ = nullptr;
  void (*afterwards_)() = nullptr;
  size_t n_ = 0;
  size_t grain_ = 1;
  std::atomic<size_t> next_{0};
  Cancel* cancel_ = nullptr;              // the job's (workers look at it, never poll)
  std::atomic<bool> stoppedFlag_{false};  // a participant skipped chunks of the job
  unsigned participants_ = 0;
  unsigned finished_ = 0;
};

// Never destroyed: at exit, workers may still be parked on its condition variable (joining
// them from a static destructor could deadlock with a worker_thread's teardown).
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

unsigned maxPoolThreads() { return pool().maxThreads(); }
void setPoolThreads(unsigned n) { pool().setThreads(n); }
unsigned poolThreads() { return pool().threads(); }
unsigned poolWorkers() { return pool().workers(); }

void parallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body, void (*afterwards)()) {
  if (n == 0) return;
  pool().run(n, grain, body, afterwards, currentCancel);
}

CancelScope::CancelScope(Cancel* c) : prev_(currentCancel) { currentCancel = c; }
CancelScope::~CancelScope() { currentCancel = prev_; }

CancelStats cancelStats() { return CancelStats{chunksRun.load(), jobsStopped.load()}; }

}  // namespace ntk
