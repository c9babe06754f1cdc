#include "core/engine/kernels/task_pool.h"

#if QPLAY_HAVE_PTHREADPOOL
#include <pthreadpool.h>
#elif defined(QPLAY_WASM_KERNEL_THREADS)
#include <algorithm>

#include "core/engine/kernels/worker_pool.h"
#endif

namespace qplay {

TaskPool::TaskPool(int threads) {
#if QPLAY_HAVE_PTHREADPOOL
  if (threads > 1) {
    if (pthreadpool_t pool = pthreadpool_create(static_cast<size_t>(threads))) {
      pool_ =
          std::shared_ptr<void>(pool, [](void* p) { pthreadpool_destroy(static_cast<pthreadpool_t>(p)); });
      threads_ = static_cast<int>(pthreadpool_get_threads_count(pool));
    }
  }
#elif defined(QPLAY_WASM_KERNEL_THREADS)
  // The threaded WebAssembly build: the module's one pool of preloaded workers, which the simd128
  // table's GEMMs use too (never at the same time: both are called from the page's thread).
  threads = std::min(threads, QPLAY_WASM_KERNEL_THREADS);
  if (threads > 1) {
    pool_ = shared_worker_pool(threads - 1);
    threads_ = threads;
  }
#else
  (void)threads;
#endif
}

TaskPool::~TaskPool() = default;

void TaskPool::run(int tasks, const std::function<void(int task)>& task) {
  if (pool_ && tasks > 1) {
#if QPLAY_HAVE_PTHREADPOOL
    pthreadpool_parallelize_1d(
        static_cast<pthreadpool_t>(pool_.get()),
        [](void* context, size_t index) {
          (*static_cast<const std::function<void(int)>*>(context))(static_cast<int>(index));
        },
        const_cast<std::function<void(int)>*>(&task), static_cast<size_t>(tasks),
        PTHREADPOOL_FLAG_YIELD_WORKERS);
    return;
#elif defined(QPLAY_WASM_KERNEL_THREADS)
    static_cast<WorkerPool*>(pool_.get())
        ->run(
            static_cast<size_t>(tasks), threads_ - 1,
            [](void* context, size_t index, int) {
              (*static_cast<const std::function<void(int)>*>(context))(static_cast<int>(index));
            },
            const_cast<std::function<void(int)>*>(&task));
    return;
#endif
  }
  for (int i = 0; i < tasks; ++i) task(i);
}

}  // namespace qplay
