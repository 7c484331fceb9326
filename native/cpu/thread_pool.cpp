#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace ntk {
namespace {

unsigned defaultThreads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

class Pool {
 public:
  void setThreads(unsigned n) { target_.store(n == 0 ? defaultThreads() : n); }
  unsigned threads() const { return target_.load(); }

  void run(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body) {
    grain = std::max<size_t>(grain, 1);
    const size_t chunks = (n + grain - 1) / grain;
    const unsigned want = static_cast<unsigned>(std::min<size_t>(target_.load(), chunks));
    // The pool serves one job at a time; a concurrent caller does its own job inline.
    std::unique_lock<std::mutex> job(jobMutex_, std::try_to_lock);
    if (want <= 1 || !job.owns_lock()) {
      body(0, n);
      return;
    }
    const unsigned helpers = ensureWorkers(want - 1);
    if (helpers == 0) {
      body(0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(m_);
      body_ = &body;
      n_ = n;
      grain_ = grain;
      next_.store(0);
      participants_ = helpers;
      finished_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    runChunks(body, n, grain);
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [&] { return finished_ == participants_; });
    body_ = nullptr;
  }

 private:
  // Starts workers up to `count`; returns how many exist (fewer if the OS refuses threads).
  unsigned ensureWorkers(unsigned count) {
    while (workers_.size() < count) {
      try {
        const unsigned id = static_cast<unsigned>(workers_.size());
        workers_.emplace_back([this, id] { workerLoop(id); });
        workers_.back().detach();
      } catch (const std::system_error&) {
        break;
      }
    }
    return static_cast<unsigned>(std::min<size_t>(workers_.size(), count));
  }

  void runChunks(const std::function<void(size_t, size_t)>& body, size_t n, size_t grain) {
    for (;;) {
      const size_t begin = next_.fetch_add(grain);
      if (begin >= n) return;
      body(begin, std::min(n, begin + grain));
    }
  }

  void workerLoop(unsigned id) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      wake_.wait(lk, [&] { return generation_ != seen; });
      seen = generation_;
      // The caller waits for every participant before it starts the next job, so a
      // participant always sees the generation it was counted in.
      if (id >= participants_) continue;
      const auto* body = body_;
      const size_t n = n_, grain = grain_;
      lk.unlock();
      runChunks(*body, n, grain);
      lk.lock();
      if (++finished_ == participants_) done_.notify_one();
    }
  }

  std::atomic<unsigned> target_{defaultThreads()};
  std::mutex jobMutex_;
  std::mutex m_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;  // detached; they live as long as the process
  uint64_t generation_ = 0;
  const std::function<void(size_t, size_t)>* body_ = nullptr;
  size_t n_ = 0;
  size_t grain_ = 1;
  std::atomic<size_t> next_{0};
  unsigned participants_ = 0;
  unsigned finished_ = 0;
};

// Never destroyed: detached workers may still be parked on its condition variable at exit.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

void setPoolThreads(unsigned n) { pool().setThreads(n); }
unsigned poolThreads() { return pool().threads(); }

void parallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body) {
  if (n == 0) return;
  pool().run(n, grain, body);
}

}  // namespace ntk
