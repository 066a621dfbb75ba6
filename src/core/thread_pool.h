// ThreadPool and Strand: the executor every stream runs on. The Engine owns one pool; each
// stream is a Strand on it, so a stream's tasks run in order and never concurrently (per-stream
// state needs no locks) while different streams run in parallel on the pool's threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace iris {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();  // runs the tasks already posted, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void post(std::function<void()> task);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Serial executor over a pool: tasks posted to one strand run one at a time in post order.
// A strand occupies a pool thread only while it has work, and gives the thread back after each
// task so that other strands interleave fairly.
class Strand {
 public:
  explicit Strand(ThreadPool* pool) : pool_(pool) {}
  Strand(const Strand&) = delete;
  Strand& operator=(const Strand&) = delete;

  void post(std::function<void()> task);
  // Blocks until every task posted so far has run (not for use from the strand itself).
  void drain();

 private:
  void run_one();
  ThreadPool* pool_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> tasks_;
  bool running_ = false;
};

}  // namespace iris
