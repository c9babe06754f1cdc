#include "core/engine/kernels/task_pool.h"

#if QPLAY_HAVE_PTHREADPOOL
#include <pthreadpool.h>
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
#else
  (void)threads;
#endif
}

TaskPool::~TaskPool() = default;

void TaskPool::run(int tasks, const std::function<void(int task)>& task) {
#if QPLAY_HAVE_PTHREADPOOL
  if (pool_ && tasks > 1) {
    pthreadpool_parallelize_1d(
        static_cast<pthreadpool_t>(pool_.get()),
        [](void* context, size_t index) {
          (*static_cast<const std::function<void(int)>*>(context))(static_cast<int>(index));
        },
        const_cast<std::function<void(int)>*>(&task), static_cast<size_t>(tasks),
        PTHREADPOOL_FLAG_YIELD_WORKERS);
    return;
  }
#endif
  for (int i = 0; i < tasks; ++i) task(i);
}

}  // namespace qplay
