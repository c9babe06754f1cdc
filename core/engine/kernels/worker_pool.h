// A fixed set of worker threads that help the calling thread through one parallel loop at a time:
// what the simd128 table splits its GEMM and convolution lowering over in the threaded WebAssembly
// build (Emscripten pthreads), where there is no pthreadpool (Debian builds it for native targets
// only). Plain C++20 threads, so it is also built and tested natively (kernels_worker_pool_test.cpp).
//
// The caller never waits for a worker to start or wake: it runs any task no worker has claimed
// itself and waits only for tasks a worker took. That matters in a browser, where a worker thread
// that was not preloaded cannot start until the main thread returns to its event loop.
//
// Not for: nested loops (a task must not call run), or tasks that block.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace qplay {

class WorkerPool {
 public:
  // thread: 0 for the caller, 1..helpers for the workers that joined this loop, so a task can index
  // per-thread scratch.
  using Task = void (*)(void* context, size_t index, int thread);

  explicit WorkerPool(int workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int workers() const;
  // Starts more workers until there are `workers` (never fewer than now).
  void add_workers_up_to(int workers);

  // task(context, i, thread) for every i in [0, count), each exactly once, on the caller and at most
  // `max_helpers` workers; returns when all are done. Calls from several threads take turns.
  void run(size_t count, int max_helpers, Task task, void* context);

  // Workers spin for a moment after a loop (the next kernel call usually follows at once); this sends
  // them to sleep now, so an interactive frame gets the cores back.
  void release_workers();

 private:
  struct Loop {
    Task task = nullptr;
    void* context = nullptr;
    size_t count = 0;
    int max_helpers = 0;
  };
  void work();

  std::mutex run_turn_;  // one loop at a time
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
  Loop loop_;                            // under mutex_
  int joined_ = 0;                       // helpers of the current loop, under mutex_
  std::atomic<uint64_t> generation_{0};  // bumped (under mutex_) for each loop
  std::atomic<uint64_t> releases_{0};    // bumped by release_workers
  std::atomic<int> active_{0};           // helpers inside a loop
  std::atomic<size_t> next_{0};          // the next unclaimed index
  std::atomic<size_t> finished_{0};      // indices done
};

// One pool for the whole module, with at least `workers` workers: the browser preloads a fixed number
// of workers (PTHREAD_POOL_SIZE), and the kernel tables of several labs and the int8 runner's
// TaskPool must not ask for more than that between them.
std::shared_ptr<WorkerPool> shared_worker_pool(int workers);

}  // namespace qplay
