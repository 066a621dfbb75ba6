// ThreadPool, Strand and BoundedQueue: the guarantees the Engine is built on.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/bounded_queue.h"
#include "core/thread_pool.h"

namespace iris {
namespace {

TEST(Strand, TasksOfOneStrandRunInOrderAndNeverConcurrently) {
  ThreadPool pool(4);
  constexpr int kStrands = 6;
  constexpr int kTasks = 2000;
  std::vector<std::unique_ptr<Strand>> strands;
  std::vector<std::vector<int>> seen(kStrands);
  std::vector<std::atomic<int>> inside(kStrands);
  std::atomic<bool> overlap{false};
  for (int s = 0; s < kStrands; ++s) strands.push_back(std::make_unique<Strand>(&pool));
  // Two producers per strand would break ordering by design; one producer thread per strand.
  std::vector<std::thread> producers;
  for (int s = 0; s < kStrands; ++s) {
    producers.emplace_back([&, s] {
      for (int i = 0; i < kTasks; ++i) {
        strands[s]->post([&, s, i] {
          if (inside[s].fetch_add(1) != 0) overlap = true;
          seen[s].push_back(i);
          inside[s].fetch_sub(1);
        });
      }
    });
  }
  for (auto& p : producers) p.join();
  for (auto& s : strands) s->drain();
  EXPECT_FALSE(overlap);
  for (int s = 0; s < kStrands; ++s) {
    ASSERT_EQ(seen[s].size(), static_cast<size_t>(kTasks));
    for (int i = 0; i < kTasks; ++i) ASSERT_EQ(seen[s][i], i);
  }
}

TEST(Strand, StrandsRunInParallel) {
  ThreadPool pool(2);
  Strand a(&pool), b(&pool);
  std::atomic<int> arrived{0};
  std::atomic<bool> both{false};
  auto task = [&] {
    arrived.fetch_add(1);
    // Waits (bounded) for the other strand's task: only possible if both run at once.
    for (int i = 0; i < 2000 && arrived.load() < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (arrived.load() == 2) both = true;
  };
  a.post(task);
  b.post(task);
  a.drain();
  b.drain();
  EXPECT_TRUE(both);
}

TEST(BoundedQueue, DropOldestKeepsTheNewestAndCounts) {
  BoundedQueue<int> q(3, FullPolicy::kDropOldest);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(q.push(i));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.dropped(), 7u);
  EXPECT_EQ(*q.try_pop(), 7);
  EXPECT_EQ(*q.try_pop(), 8);
  EXPECT_EQ(*q.try_pop(), 9);
  EXPECT_FALSE(q.try_pop().has_value());
}

TEST(BoundedQueue, BlockPolicyNeverDropsAndCloseWakesTheProducer) {
  BoundedQueue<int> q(2, FullPolicy::kBlock);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      if (!q.push(i)) return;
      pushed.fetch_add(1);
    }
  });
  std::vector<int> got;
  while (got.size() < 50) {
    if (auto v = q.try_pop()) got.push_back(*v);
  }
  q.close();  // the producer is blocked or about to be: it must return
  producer.join();
  while (auto v = q.try_pop()) got.push_back(*v);
  EXPECT_EQ(q.dropped(), 0u);
  EXPECT_EQ(static_cast<int>(got.size()), pushed.load());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<int>(i));
  EXPECT_FALSE(q.push(1000));
}

}  // namespace
}  // namespace iris
