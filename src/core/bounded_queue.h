// BoundedQueue: the only kind of queue between threads in iris. Every queue has a capacity and
// a policy for when it is full: block the producer (files: never drop) or drop the oldest item
// and count it (live cameras: keep the newest, latency stays bounded).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace iris {

enum class FullPolicy { kBlock, kDropOldest };

template <typename T>
class BoundedQueue {
 public:
  BoundedQueue(size_t capacity, FullPolicy policy)
      : capacity_(capacity < 1 ? 1 : capacity), policy_(policy) {}

  // For a producer that learns what it is only once it runs (an http URL: a camera or a file).
  // Items beyond a smaller capacity stay queued.
  void reconfigure(size_t capacity, FullPolicy policy) {
    std::lock_guard lock(mu_);
    capacity_ = capacity < 1 ? 1 : capacity;
    policy_ = policy;
    not_full_.notify_all();
  }

  // Returns false if the queue was closed (the item is not queued).
  bool push(T item) {
    std::unique_lock lock(mu_);
    if (policy_ == FullPolicy::kBlock) {
      not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    } else if (items_.size() >= capacity_ && !closed_) {
      items_.pop_front();
      ++dropped_;
    }
    if (closed_) return false;
    items_.push_back(std::move(item));
    return true;
  }

  std::optional<T> try_pop() {
    std::lock_guard lock(mu_);
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  // Wakes blocked producers; later pushes fail. Items already queued can still be popped.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  uint64_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  size_t capacity_;
  FullPolicy policy_;
  bool closed_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace iris
