// Specification of WorkerPool (kernels/worker_pool.h), the threads of the simd128 table in the threaded
// WebAssembly build: every index runs exactly once, on at most the helpers asked for, with workers
// really taking part; loops back to back, after release_workers, and from several calling threads.
// Natively (also under ASan/UBSan) and in the threaded WebAssembly build; a WebAssembly build without
// pthreads cannot start threads.
#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)

#include "core/engine/kernels/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace qplay {
namespace {

struct Counts {
  std::vector<std::atomic<int>> runs;  // [index]: how often it ran
  std::atomic<int> highest_thread{0};
  explicit Counts(size_t count) : runs(count) {}
};

void count_run(void* context, size_t index, int thread) {
  auto& counts = *static_cast<Counts*>(context);
  counts.runs[index].fetch_add(1);
  int highest = counts.highest_thread.load();
  while (thread > highest && !counts.highest_thread.compare_exchange_weak(highest, thread)) {
  }
}

void expect_each_ran_once(const Counts& counts) {
  for (size_t i = 0; i < counts.runs.size(); ++i) ASSERT_EQ(counts.runs[i].load(), 1) << "index " << i;
}

TEST(WorkerPool, RunsEveryIndexExactlyOnce) {
  WorkerPool pool(3);
  for (size_t count : {0, 1, 2, 7, 1000}) {
    Counts counts(count);
    pool.run(count, 3, count_run, &counts);
    expect_each_ran_once(counts);
  }
}

TEST(WorkerPool, NoMoreHelpersThanAskedFor) {
  WorkerPool pool(3);
  for (int helpers : {0, 1, 2}) {
    Counts counts(5000);
    pool.run(counts.runs.size(), helpers, count_run, &counts);
    expect_each_ran_once(counts);
    EXPECT_LE(counts.highest_thread.load(), helpers);
  }
}

// Each task waits (at most 10 s) until two tasks have started: only a worker running beside the caller
// lets that happen before the time runs out.
struct Rendezvous {
  std::atomic<int> started{0};
  std::atomic<bool> met{true};
};

void meet_another_thread(void* context, size_t, int) {
  auto& rendezvous = *static_cast<Rendezvous*>(context);
  rendezvous.started.fetch_add(1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rendezvous.started.load() < 2) {
    if (std::chrono::steady_clock::now() > deadline) {
      rendezvous.met = false;
      return;
    }
  }
}

TEST(WorkerPool, AWorkerRunsBesideTheCaller) {
  WorkerPool pool(1);
  for (int loop = 0; loop < 3; ++loop) {  // also after sleeping: the first loop wakes a sleeping worker
    Rendezvous rendezvous;
    pool.run(2, 1, meet_another_thread, &rendezvous);
    EXPECT_TRUE(rendezvous.met) << "loop " << loop;
    pool.release_workers();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void add_index(void* context, size_t index, int) {
  static_cast<std::atomic<long long>*>(context)->fetch_add(static_cast<long long>(index));
}

TEST(WorkerPool, LoopsBackToBackAndAfterReleasingWorkers) {
  WorkerPool pool(2);
  for (int loop = 0; loop < 2000; ++loop) {
    std::atomic<long long> sum{0};
    const size_t count = 1 + loop % 37;
    pool.run(count, 2, add_index, &sum);
    ASSERT_EQ(sum.load(), static_cast<long long>(count * (count - 1) / 2)) << "loop " << loop;
    if (loop % 100 == 0) pool.release_workers();
  }
}

TEST(WorkerPool, CallersOnSeveralThreadsTakeTurns) {
  WorkerPool pool(2);
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int caller = 0; caller < 2; ++caller) {
    callers.emplace_back([&] {
      for (int loop = 0; loop < 300; ++loop) {
        std::atomic<long long> sum{0};
        pool.run(64, 2, add_index, &sum);
        if (sum.load() != 64 * 63 / 2) wrong.fetch_add(1);
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(WorkerPool, AddsWorkersButNeverRemovesThem) {
  WorkerPool pool(1);
  EXPECT_EQ(pool.workers(), 1);
  pool.add_workers_up_to(3);
  EXPECT_EQ(pool.workers(), 3);
  pool.add_workers_up_to(2);
  EXPECT_EQ(pool.workers(), 3);
  Counts counts(300);
  pool.run(counts.runs.size(), 3, count_run, &counts);
  expect_each_ran_once(counts);
}

}  // namespace
}  // namespace qplay

#endif
