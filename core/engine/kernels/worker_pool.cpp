// See worker_pool.h. How a loop is handed over: the caller publishes it under the mutex (only when no
// helper of the previous loop is still inside, so the counters can be reset), bumps the generation and
// wakes the workers; a worker joins under the same mutex (at most max_helpers do), then everyone claims
// indices from one atomic counter. The caller waits for `finished_` only, never for a worker to join.
#include "core/engine/kernels/worker_pool.h"

#include <chrono>
#include <cstdint>

namespace qplay {
namespace {

// How long a worker polls for the next loop before it sleeps. Kernel calls of a training step come
// tens of microseconds apart, while waking a sleeping thread costs about as much again (a futex, or
// Atomics.wait/notify in a browser); spinning longer would take a core from everything else.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(200);

}  // namespace

WorkerPool::WorkerPool(int workers) { add_workers_up_to(workers); }

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

int WorkerPool::workers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(threads_.size());
}

void WorkerPool::add_workers_up_to(int workers) {
  std::lock_guard<std::mutex> lock(mutex_);
  while (static_cast<int>(threads_.size()) < workers) {
    threads_.emplace_back([this] { work(); });
  }
}

void WorkerPool::release_workers() { releases_.fetch_add(1, std::memory_order_relaxed); }

void WorkerPool::run(size_t count, int max_helpers, Task task, void* context) {
  std::lock_guard<std::mutex> turn(run_turn_);
  if (count <= 1 || max_helpers <= 0) {
    for (size_t i = 0; i < count; ++i) task(context, i, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Helpers of the last loop may still be leaving it (every index was claimed): wait, since they
    // read the counters this resets.
    while (active_.load(std::memory_order_acquire) != 0) {
    }
    loop_ = Loop{task, context, count, max_helpers};
    joined_ = 0;
    next_.store(0, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  size_t done_here = 0;
  for (size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count; ++done_here)
    task(context, i, 0);
  finished_.fetch_add(done_here, std::memory_order_acq_rel);
  // What the workers claimed; their writes are visible once finished_ counts them (release/acquire).
  while (finished_.load(std::memory_order_acquire) < count) {
  }
}

void WorkerPool::work() {
  uint64_t seen = 0;
  bool spin = false;  // only after taking part in a loop: the next one is likely to follow at once
  for (;;) {
    if (spin) {
      const uint64_t releases = releases_.load(std::memory_order_relaxed);
      const auto deadline = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      for (unsigned polls = 1; generation_.load(std::memory_order_acquire) == seen &&
                               releases_.load(std::memory_order_relaxed) == releases;
           ++polls) {
        if (polls % 256 == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
    if (stop_) return;
    seen = generation_.load(std::memory_order_relaxed);
    spin = joined_ < loop_.max_helpers;
    if (!spin) continue;  // enough helpers already (a table with fewer threads than the pool)
    const int thread = ++joined_;
    active_.fetch_add(1, std::memory_order_relaxed);
    const Loop loop = loop_;
    lock.unlock();
    size_t done_here = 0;
    for (size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < loop.count; ++done_here) {
      loop.task(loop.context, i, thread);
    }
    finished_.fetch_add(done_here, std::memory_order_acq_rel);
    active_.fetch_sub(1, std::memory_order_release);
  }
}

std::shared_ptr<WorkerPool> shared_worker_pool(int workers) {
  static std::mutex mutex;
  static std::shared_ptr<WorkerPool> pool;
  std::lock_guard<std::mutex> lock(mutex);
  if (!pool) {
    pool = std::make_shared<WorkerPool>(workers);
  } else {
    pool->add_workers_up_to(workers);
  }
  return pool;
}

}  // namespace qplay
