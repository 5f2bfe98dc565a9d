/// @file thread_pool.hpp
/// @brief `ThreadPool`: a fixed set of worker threads that run one task per thread and wait for
/// all of them, the primitive the chunked row reduction splits a batch with.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "symbatch/core/error.hpp"

namespace symbatch {

/// @brief `threads - 1` worker threads plus the calling thread. `run(tasks, task)` calls
/// `task(0) .. task(tasks - 1)`, one per thread, and returns when all have returned.
///
/// A task must not throw (catch inside it and hand the exception back). Calls to `run` from
/// several threads at once are serialised. The workers sleep between runs and are joined by the
/// destructor.
class ThreadPool {
 public:
  /// @throws std::invalid_argument when `threads < 1`.
  explicit ThreadPool(int threads) : threads_(threads) {
    if (threads < 1) throw_invalid("ThreadPool", "threads is ", threads, ", but must be at least 1");
    for (int worker = 1; worker < threads; ++worker) workers_.emplace_back([this, worker] { serve(worker); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  int threads() const { return threads_; }

  /// Runs `task(i)` for `i < tasks` (at most `threads()` tasks), task 0 on the calling thread.
  void run(int tasks, const std::function<void(int)>& task) {
    if (tasks > threads_) throw_invalid("ThreadPool::run", "tasks is ", tasks, ", but the pool has ", threads_, " threads");
    if (tasks <= 0) return;
    if (tasks == 1) {
      task(0);
      return;
    }
    std::lock_guard serial(run_mutex_);
    {
      std::lock_guard lock(mutex_);
      task_ = &task;
      tasks_ = tasks;
      pending_ = tasks - 1;
      ++generation_;
    }
    wake_.notify_all();
    task(0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void serve(int worker) {
    std::uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* task = nullptr;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (worker >= tasks_) continue;
        task = task_;
      }
      (*task)(worker);
      std::lock_guard lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_, run_mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* task_ = nullptr;
  int tasks_ = 0, pending_ = 0;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
};

}  // namespace symbatch
