#include "events/event_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "support/support.h"
#include "test_events.h"

namespace iris::events {
namespace {

using iris::testing::TempDir;

std::unique_ptr<EventLog> open_log(const std::string& dir, std::vector<std::string> sinks,
                                   uint64_t max_bytes = 64 << 20) {
  auto log = EventLog::open({.dir = dir, .max_bytes = max_bytes, .sinks = std::move(sinks)});
  EXPECT_TRUE(log.ok()) << log.status().message();
  return log.ok() ? std::move(log).value() : nullptr;
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint64_t> seqs(const std::vector<LogRecord>& records) {
  std::vector<uint64_t> out;
  for (const LogRecord& r : records) out.push_back(r.seq);
  return out;
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t s = from; s < to; ++s) out.push_back(s);
  return out;
}

TEST(EventLog, ReadsBackWhatWasAppendedInOrder) {
  TempDir dir;
  auto log = open_log(dir.path(), {"a"});
  ASSERT_TRUE(log);
  std::vector<Event> events;
  for (int i = 0; i < 50; ++i) {
    events.push_back(numbered_event(i, i % 2 ? "lobby" : "gate", "door", "zone_enter"));
    ASSERT_TRUE(log->append(events.back()).ok());
  }
  const std::vector<LogRecord> got = log->read(0, 1000);
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[i].seq, static_cast<uint64_t>(i));
    EXPECT_EQ(got[i].id, events[i].id);
    EXPECT_EQ(got[i].stream, events[i].stream);
    EXPECT_EQ(got[i].rule, "door");
    EXPECT_EQ(got[i].type, "zone_enter");
    EXPECT_EQ(got[i].json, to_json_line(events[i]));
  }
  EXPECT_TRUE(log->read(0, 1000).empty());
  EXPECT_EQ(log->unread(0), 0u);
  EXPECT_EQ(log->stats().appended, 50u);
}

TEST(EventLog, ConcurrentAppendersGetOneRecordEach) {
  TempDir dir;
  auto log = open_log(dir.path(), {"a"});
  ASSERT_TRUE(log);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (!log->append(numbered_event(t * 1000 + i, "s" + std::to_string(t))).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  const std::vector<LogRecord> got = log->read(0, 1000);
  EXPECT_EQ(seqs(got), range(0, 400));
  std::set<std::string> ids;
  for (const LogRecord& r : got) ids.insert(r.id);
  EXPECT_EQ(ids.size(), 400u);
}

TEST(EventLog, CursorSurvivesReopenAndNewSinkStartsAtTheEnd) {
  TempDir dir;
  {
    auto log = open_log(dir.path(), {"a"});
    ASSERT_TRUE(log);
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(log->append(numbered_event(i)).ok());
    ASSERT_EQ(log->read(0, 100).size(), 30u);
    log->acknowledge(0, 20);
    ASSERT_TRUE(log->save_cursor(0).ok());
  }
  EXPECT_EQ(iris::testing::read_file(dir.file("a.cursor")), "20\n");
  auto log = open_log(dir.path(), {"a", "b"});
  ASSERT_TRUE(log);
  EXPECT_EQ(seqs(log->read(0, 100)), range(20, 30));
  EXPECT_TRUE(log->read(1, 100).empty());
  ASSERT_TRUE(log->append(numbered_event(30)).ok());
  EXPECT_EQ(seqs(log->read(0, 100)), range(30, 31));
  EXPECT_EQ(seqs(log->read(1, 100)), range(30, 31));
}

TEST(EventLog, DamagedCursorRedeliversEverythingKept) {
  TempDir dir;
  {
    auto log = open_log(dir.path(), {"a"});
    ASSERT_TRUE(log);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(log->append(numbered_event(i)).ok());
    log->acknowledge(0, 8);
  }
  std::ofstream(dir.file("a.cursor"), std::ios::trunc) << "8x";
  auto log = open_log(dir.path(), {"a"});
  ASSERT_TRUE(log);
  EXPECT_EQ(seqs(log->read(0, 100)), range(0, 10));
  EXPECT_EQ(log->lost(0), 0u);
  EXPECT_EQ(iris::testing::read_file(dir.file("a.cursor")), "0\n");  // rewritten at once
}

TEST(EventLog, TornTailIsCutOffAndAppendingGoesOn) {
  TempDir dir;
  {
    auto log = open_log(dir.path(), {"a"});
    ASSERT_TRUE(log);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(log->append(numbered_event(i)).ok());
  }
  const std::vector<std::string> files = segment_files(dir.path());
  ASSERT_EQ(files.size(), 1u);
  const auto size = std::filesystem::file_size(files[0]);
  std::filesystem::resize_file(files[0], size - 7);  // a crash in the middle of the last write
  auto log = open_log(dir.path(), {"a"});
  ASSERT_TRUE(log);
  EXPECT_LT(std::filesystem::file_size(files[0]), size - 7);
  EXPECT_EQ(seqs(log->read(0, 100)), range(0, 9));
  const Event after = numbered_event(99);
  ASSERT_TRUE(log->append(after).ok());
  const std::vector<LogRecord> next = log->read(0, 100);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].seq, 9u);
  EXPECT_EQ(next[0].json, to_json_line(after));
  EXPECT_EQ(log->lost(0), 0u);
}

TEST(EventLog, GarbageAfterTheLastRecordIsCutOff) {
  TempDir dir;
  {
    auto log = open_log(dir.path(), {"a"});
    ASSERT_TRUE(log);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->append(numbered_event(i)).ok());
  }
  const std::string file = segment_files(dir.path()).at(0);
  std::ofstream(file, std::ios::app) << std::string("\x30\x00\x00\x00garbage", 11);
  auto log = open_log(dir.path(), {"a"});
  ASSERT_TRUE(log);
  EXPECT_EQ(seqs(log->read(0, 100)), range(0, 5));
  ASSERT_TRUE(log->append(numbered_event(5)).ok());
  EXPECT_EQ(seqs(log->read(0, 100)), range(5, 6));
}

TEST(EventLog, CorruptRecordInsideIsSkippedAndCounted) {
  TempDir dir;
  std::vector<Event> events;
  {
    auto log = open_log(dir.path(), {"a"});
    ASSERT_TRUE(log);
    for (int i = 0; i < 10; ++i) {
      events.push_back(numbered_event(i));
      ASSERT_TRUE(log->append(events.back()).ok());
    }
  }
  const std::string file = segment_files(dir.path()).at(0);
  std::string bytes = iris::testing::read_file(file);
  const size_t at = bytes.find(events[5].id);  // inside record 5's body
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 0x40;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  auto log = open_log(dir.path(), {"a"});
  ASSERT_TRUE(log);
  std::vector<uint64_t> want = range(0, 10);
  want.erase(want.begin() + 5);
  EXPECT_EQ(seqs(log->read(0, 100)), want);
  EXPECT_EQ(log->lost(0), 1u);
}

TEST(EventLog, SizeLimitDropsTheOldestSegmentAndCountsWhatEachSinkLost) {
  TempDir dir;
  constexpr uint64_t kMax = 64 << 10;
  auto log = open_log(dir.path(), {"fast", "slow"}, kMax);
  ASSERT_TRUE(log);
  constexpr int kEvents = 400;  // about 2.5 times the limit
  uint64_t fast_read = 0;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(log->append(numbered_event(i)).ok());
    const std::vector<LogRecord> got = log->read(0, 100);
    fast_read += got.size();
    if (!got.empty()) log->acknowledge(0, got.back().seq + 1);
    EXPECT_LE(log->stats().bytes, kMax);
  }
  EXPECT_EQ(fast_read, static_cast<uint64_t>(kEvents));
  EXPECT_EQ(log->lost(0), 0u);
  const LogStats st = log->stats();
  EXPECT_GT(st.first_seq, 0u);
  EXPECT_GT(log->lost(1), 0u);
  EXPECT_EQ(log->lost(1), st.first_seq);
  const std::vector<LogRecord> rest = log->read(1, kEvents);
  EXPECT_EQ(seqs(rest), range(st.first_seq, kEvents));
  EXPECT_EQ(log->lost(1) + rest.size(), static_cast<uint64_t>(kEvents));
}

TEST(EventLog, SegmentsEverySinkConfirmedAreDeleted) {
  TempDir dir;
  auto log = open_log(dir.path(), {"a", "b"}, 256 << 10);  // segments of 32 KiB
  ASSERT_TRUE(log);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(log->append(numbered_event(i)).ok());
  const size_t segments = segment_files(dir.path()).size();
  ASSERT_GT(segments, 2u);
  for (size_t sink : {0, 1}) ASSERT_EQ(log->read(sink, 1000).size(), 300u);
  log->acknowledge(0, 300);
  ASSERT_TRUE(log->save_cursor(0).ok());
  EXPECT_EQ(segment_files(dir.path()).size(), segments);  // b has not confirmed them
  log->acknowledge(1, 200);
  ASSERT_TRUE(log->save_cursor(1).ok());
  const size_t left = segment_files(dir.path()).size();
  EXPECT_LT(left, segments);
  EXPECT_GT(left, 1u);
  EXPECT_LE(log->stats().first_seq, 200u);
  log->acknowledge(1, 300);
  ASSERT_TRUE(log->save_cursor(1).ok());
  EXPECT_EQ(segment_files(dir.path()).size(), 1u);  // the active one stays
  EXPECT_EQ(log->stats().segments, 1u);
}

TEST(EventLog, OneProcessAtATime) {
  TempDir dir;
  auto first = open_log(dir.path(), {"a"});
  ASSERT_TRUE(first);
  auto second = EventLog::open({.dir = dir.path(), .sinks = {"a"}});
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(iris::testing::contains(second.status().message(), "in use by another process"));
}

TEST(EventLog, BadOptionsNameTheProblem) {
  TempDir dir;
  auto small = EventLog::open({.dir = dir.path(), .max_bytes = 1000, .sinks = {"a"}});
  ASSERT_FALSE(small.ok());
  EXPECT_TRUE(iris::testing::contains(small.status().message(), "under the minimum"));
  auto bad_name = EventLog::open({.dir = dir.path(), .sinks = {"../x"}});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_TRUE(iris::testing::contains(bad_name.status().message(), "cannot name a cursor file"));
  auto twice = EventLog::open({.dir = dir.path(), .sinks = {"a", "a"}});
  ASSERT_FALSE(twice.ok());
  EXPECT_TRUE(iris::testing::contains(twice.status().message(), "two sinks are named 'a'"));
}

}  // namespace
}  // namespace iris::events
