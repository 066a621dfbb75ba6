#include "core/thread_pool.h"

namespace iris {

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) threads = 1;
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void Strand::post(std::function<void()> task) {
  bool start = false;
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
    if (!running_) running_ = start = true;
  }
  if (start) pool_->post([this] { run_one(); });
}

void Strand::run_one() {
  std::function<void()> task;
  {
    std::lock_guard lock(mu_);
    task = std::move(tasks_.front());
    tasks_.pop_front();
  }
  task();
  {
    std::lock_guard lock(mu_);
    if (tasks_.empty()) {
      running_ = false;
      // Notified under the lock: once drain() sees the strand idle, its owner may destroy it,
      // so nothing here may touch `this` after unlocking.
      idle_cv_.notify_all();
      return;
    }
  }
  pool_->post([this] { run_one(); });
}

void Strand::drain() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return !running_ && tasks_.empty(); });
}

}  // namespace iris
