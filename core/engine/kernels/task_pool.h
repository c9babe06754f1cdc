// A pool of threads that runs a number of independent tasks and returns when all are done: the int8
// inference splits a chunk's rows across it (deploy/int8_inference.h). Natively a pthreadpool; in the
// threaded WebAssembly build the module's one WorkerPool (worker_pool.h); elsewhere the tasks run in
// order on the caller.
// Natively its workers sleep as soon as a call is done (PTHREADPOOL_FLAG_YIELD_WORKERS): the slider calls it
// a few times per frame, and a worker spinning between calls would take a core from drawing (the
// float tables' pools are sent to sleep by the lab after each slice for the same reason).
// Not for kernels that want their pool to spin between back-to-back calls (kernel_table.h).
#pragma once

#include <functional>
#include <memory>

namespace qplay {

class TaskPool {
 public:
  // threads >= 1: how many tasks run at once (1 runs them on the caller, without a pool).
  explicit TaskPool(int threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // The threads a call really uses: 1 where this build has no pthreadpool or the pool failed.
  int threads() const { return threads_; }
  // Runs task(0) .. task(tasks - 1), each once, in any order and on any of the threads.
  void run(int tasks, const std::function<void(int task)>& task);

 private:
  int threads_ = 1;
  std::shared_ptr<void> pool_;  // pthreadpool_t, null with 1 thread
};

}  // namespace qplay
