// The durable event log: every event a process raises is on disk before append() returns, and
// each remote sink reads the log from its own acknowledgement cursor, so an event leaves the log
// for a sink only after that sink confirmed it. Bounded: beyond max_bytes the oldest segment is
// dropped, and the events a sink had not read yet are counted as lost for that sink.
//
// On disk (one directory per process): segments `<first seq, 20 digits>.seg`, each a run of
// records [u32 body length][u32 CRC-32C of seq and body][u64 seq][body], little-endian; one
// cursor file per sink, `<sink>.cursor`, holding the next sequence number it has not
// confirmed; a `LOCK` file held with flock while the log is open.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "events/event.h"

namespace iris::events {

// One event as the log holds it: its sequence number and what sinks need to deliver it.
struct LogRecord {
  uint64_t seq = 0;
  std::string id;
  std::string stream;
  std::string rule;
  std::string type;
  std::string json;  // to_json_line() of the event: what every sink sends
};

struct LogOptions {
  std::string dir;                    // created if missing; one process at a time
  uint64_t max_bytes = 256ull << 20;  // bound on all segments together; at least 64 KiB
  std::vector<std::string> sinks;     // cursor names: valid_sink_name(), unique
};

// Whether `name` can name a sink's cursor file: [A-Za-z0-9_.-]+, neither "." nor "..".
bool valid_sink_name(std::string_view name);

struct LogStats {
  uint64_t appended = 0;  // events made durable by this process
  uint64_t bytes = 0;     // all segments on disk
  size_t segments = 0;
  uint64_t first_seq = 0;  // oldest event still on disk
  uint64_t end_seq = 0;    // the next event's sequence number
};

// Thread rules: append() and stats() from any thread. The per-sink calls (read, wait,
// acknowledge, save_cursor, unread, lost) take a sink index into LogOptions::sinks; each sink
// has one reader thread, and only it calls them for that index. wake() from any thread.
// Destroy only when no call is in progress.
class EventLog {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens or recovers the log: a torn record at the end (a crash mid-write) is cut off with a
  // warning; a sink without a cursor file starts at the end of the log (it gets new events).
  static Result<std::unique_ptr<EventLog>> open(const LogOptions& options);
  ~EventLog();

  // Returns once the event is written and fdatasync'd. Concurrent appenders share one write
  // and one sync (group commit): the first waiter writes everything queued meanwhile. `json` is
  // to_json_line(e).
  Status append(const Event& e, const std::string& json);
  Status append(const Event& e) { return append(e, to_json_line(e)); }

  // The durable records after the sink's read position, in order, at most max_records; moves
  // the read position past them. Records of segments dropped at the size limit are skipped
  // (and counted in lost()).
  std::vector<LogRecord> read(size_t sink, size_t max_records);
  // Blocks until read() has something for the sink, wake() is called, or the deadline passes.
  void wait(size_t sink, Clock::time_point deadline);
  void wake();
  // The sink confirmed every record with seq < end.
  void acknowledge(size_t sink, uint64_t end);
  // Persists the sink's cursor if it moved (write, fdatasync, rename, fsync the directory),
  // then deletes the segments every sink's persisted cursor has passed.
  Status save_cursor(size_t sink);

  uint64_t unread(size_t sink) const;  // durable records the sink has not read yet
  uint64_t lost(size_t sink) const;    // dropped at the size limit before the sink read them
  LogStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Segment {
    std::string path;
    uint64_t bytes = 0;  // durable bytes: whole records only
  };
  struct SinkState {
    std::string name;
    uint64_t read_seq = 0;   // next record to hand out
    uint64_t acked = 0;      // every seq below is confirmed
    uint64_t persisted = 0;  // what the cursor file says
    uint64_t lost = 0;
    int fd = -1;  // open segment of the reader: survives the file's deletion
    uint64_t fd_first = 0;
    uint64_t offset = 0;  // of the record in that segment where read_seq starts, if known
    bool offset_valid = false;
  };
  struct Pending;

  EventLog() = default;
  Status recover(const LogOptions& options);
  void commit(std::unique_lock<std::mutex>& lock);
  Status open_active(uint64_t first_seq);
  void enforce_limit();
  void delete_acknowledged();
  void skip_segment(SinkState& s, uint64_t first, const std::string& why);
  uint64_t segment_end(std::map<uint64_t, Segment>::const_iterator it) const;

  std::string dir_;
  uint64_t max_bytes_ = 0;
  uint64_t segment_bytes_ = 0;  // rotate the active segment beyond this
  int lock_fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable committed_;  // appenders: a batch was written
  std::condition_variable readable_;   // readers: new records or wake()
  std::vector<Pending*> queue_;        // appenders waiting for the next commit
  bool writing_ = false;               // a leader is writing a batch outside the lock
  uint64_t wake_generation_ = 0;

  std::map<uint64_t, Segment> segments_;  // by first seq; the last one is active
  int active_fd_ = -1;
  uint64_t next_seq_ = 0;
  uint64_t total_bytes_ = 0;
  uint64_t appended_ = 0;
  std::vector<SinkState> sinks_;
};

}  // namespace iris::events
