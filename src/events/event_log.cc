#include "events/event_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string_view>

#include "core/files.h"
#include "core/log.h"
#include "core/text.h"
#include "events/sink.h"

namespace iris::events {

namespace {

constexpr size_t kHeaderBytes = 16;          // body length, CRC, seq
constexpr size_t kMaxBodyBytes = 1 << 20;    // one event; larger lengths mean corruption
constexpr size_t kReadChunkBytes = 4 << 20;  // what one read() pulls from a segment
constexpr uint64_t kMinLogBytes = 64 << 10;
constexpr uint64_t kMinSegmentBytes = 8 << 10;
constexpr uint64_t kMaxSegmentBytes = 64 << 20;
constexpr const char* kSegmentSuffix = ".seg";

// CRC-32C (Castagnoli, reflected 0x82F63B78): the checksum of ext4 and iSCSI.
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

uint32_t crc32c(uint32_t crc, std::string_view bytes) {
  crc = ~crc;
  for (unsigned char b : bytes) crc = kCrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void put_u32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t get_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// The body of a record: id, stream, rule, type and the JSON line, each prefixed by its length.
std::string encode_body(const Event& e, const std::string& json) {
  std::string body;
  for (const std::string* field : {&e.id, &e.stream, &e.rule, &e.type}) {
    put_u32(&body, static_cast<uint32_t>(field->size()));
    body += *field;
  }
  put_u32(&body, static_cast<uint32_t>(json.size()));
  body += json;
  return body;
}

bool decode_body(std::string_view body, LogRecord* r) {
  for (std::string* field : {&r->id, &r->stream, &r->rule, &r->type, &r->json}) {
    if (body.size() < 4) return false;
    const uint64_t n = get_le(body.data(), 4);
    if (body.size() - 4 < n) return false;
    field->assign(body.substr(4, n));
    body.remove_prefix(4 + n);
  }
  return body.empty();
}

void append_frame(std::string* out, uint64_t seq, const std::string& body) {
  std::string seq_bytes;
  put_u64(&seq_bytes, seq);
  put_u32(out, static_cast<uint32_t>(body.size()));
  put_u32(out, crc32c(crc32c(0, seq_bytes), body));
  *out += seq_bytes;
  *out += body;
}

enum class Parse { kOk, kNeedMore, kBad };
struct Frame {
  uint64_t seq = 0;
  std::string_view body;
  size_t size = 0;  // header and body
};

// One record at the start of `bytes`: kNeedMore when it may continue past them.
Parse parse_frame(std::string_view bytes, Frame* f) {
  if (bytes.size() < kHeaderBytes) return Parse::kNeedMore;
  const uint64_t len = get_le(bytes.data(), 4);
  if (len > kMaxBodyBytes) return Parse::kBad;
  if (bytes.size() < kHeaderBytes + len) return Parse::kNeedMore;
  const uint32_t crc = static_cast<uint32_t>(get_le(bytes.data() + 4, 4));
  f->body = bytes.substr(kHeaderBytes, len);
  if (crc32c(crc32c(0, bytes.substr(8, 8)), f->body) != crc) return Parse::kBad;
  f->seq = get_le(bytes.data() + 8, 8);
  f->size = kHeaderBytes + len;
  return Parse::kOk;
}

std::string sys_error() { return std::strerror(errno); }

Status write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::error(sys_error());
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// pread until `len` bytes or the end of the file; returns how many were read, or -1.
ssize_t read_at(int fd, char* out, size_t len, uint64_t offset) {
  size_t got = 0;
  while (got < len) {
    const ssize_t n = ::pread(fd, out + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

std::string segment_name(uint64_t first_seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu%s", static_cast<unsigned long long>(first_seq),
                kSegmentSuffix);
  return name;
}

}  // namespace

bool valid_sink_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
         });
}

struct EventLog::Pending {
  std::string body;
  Status result;
  bool done = false;
};

Result<std::unique_ptr<EventLog>> EventLog::open(const LogOptions& options) {
  if (options.dir.empty()) {
    return Status::error("event log: no directory given; set events.log to a writable directory");
  }
  if (options.max_bytes < kMinLogBytes) {
    return Status::error("event log '" + options.dir + "': max_bytes " +
                         std::to_string(options.max_bytes) + " is under the minimum of " +
                         std::to_string(kMinLogBytes) + "; raise it");
  }
  std::set<std::string> seen;
  for (const std::string& name : options.sinks) {
    if (!valid_sink_name(name)) {
      return Status::error("event log '" + options.dir + "': sink name '" + name +
                           "' cannot name a cursor file; use letters, digits, '_', '.' and '-'");
    }
    if (!seen.insert(name).second) {
      return Status::error("event log '" + options.dir + "': two sinks are named '" + name +
                           "'; give each sink its own name");
    }
  }
  std::unique_ptr<EventLog> log(new EventLog());
  if (Status s = log->recover(options); !s) return s;
  return log;
}

Status EventLog::recover(const LogOptions& options) {
  dir_ = options.dir;
  max_bytes_ = options.max_bytes;
  segment_bytes_ = std::clamp(max_bytes_ / 8, kMinSegmentBytes, kMaxSegmentBytes);
  const std::string where = "event log '" + dir_ + "'";
  if (Status s = make_dirs(dir_); !s) return s;

  const std::string lock_path = dir_ + "/LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return Status::error(where + ": cannot create '" + lock_path + "': " + sys_error() +
                         "; choose a writable directory");
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::error(where + " is in use by another process; give each iris process its " +
                         "own events.log directory");
  }

  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    int64_t first = 0;
    if (name.size() != 20 + std::strlen(kSegmentSuffix) || !name.ends_with(kSegmentSuffix) ||
        !parse_int(std::string_view(name).substr(0, 20), &first) || first < 0) {
      continue;
    }
    const uint64_t size = entry.file_size(ec);
    segments_[static_cast<uint64_t>(first)] = {entry.path().string(), ec ? 0 : size};
  }
  if (ec) return Status::error(where + ": cannot list it: " + ec.message());

  // Only the last segment can end in a torn record: older ones were synced before rotation.
  bool have_tail = false;
  if (!segments_.empty()) {
    auto& [first, seg] = *segments_.rbegin();
    Result<std::string> bytes = iris::read_file(seg.path);
    if (!bytes) return bytes.status().with_context(where);
    std::string_view rest = *bytes;
    uint64_t valid_end = 0, skipped = 0, pos = 0;
    next_seq_ = first;
    while (pos < bytes->size()) {
      Frame f;
      if (parse_frame(rest.substr(pos), &f) != Parse::kOk) {
        ++pos;
        ++skipped;
        continue;
      }
      pos += f.size;
      valid_end = pos;
      next_seq_ = f.seq + 1;
    }
    skipped -= std::min<uint64_t>(skipped, bytes->size() - valid_end);
    if (valid_end < bytes->size()) {
      log::warn(where + ": cut " + std::to_string(bytes->size() - valid_end) +
                " bytes of a torn record off the end of " + seg.path +
                " (a crash mid-write); the events before it are intact");
      if (::truncate(seg.path.c_str(), static_cast<off_t>(valid_end)) != 0) {
        return Status::error(where + ": cannot truncate " + seg.path + ": " + sys_error());
      }
    }
    if (skipped > 0) {
      log::warn(where + ": " + std::to_string(skipped) + " corrupt bytes inside " + seg.path +
                "; readers skip them");
    }
    seg.bytes = valid_end;
    have_tail = true;
  }

  // Cursors: the next seq each sink has not confirmed; none for a new sink.
  std::vector<std::optional<uint64_t>> cursors;
  std::vector<bool> damaged;
  uint64_t max_cursor = 0;
  for (const std::string& name : options.sinks) {
    const std::string path = dir_ + "/" + name + ".cursor";
    std::optional<uint64_t> cursor;
    bool bad = false;
    if (std::filesystem::exists(path, ec)) {
      Result<std::string> text = iris::read_file(path);
      int64_t v = 0;
      if (text && text->ends_with('\n') &&
          parse_int(std::string_view(*text).substr(0, text->size() - 1), &v) && v >= 0) {
        cursor = static_cast<uint64_t>(v);
        max_cursor = std::max(max_cursor, *cursor);
      } else {
        // Redelivering everything kept is the safe reading of a damaged cursor.
        log::warn(where + ": cursor file " + path + " is unreadable; sink '" + name +
                  "' restarts from the oldest event kept");
        bad = true;
      }
    }
    cursors.push_back(cursor);
    damaged.push_back(bad);
  }
  if (!have_tail) next_seq_ = max_cursor;  // a wiped log keeps counting where the sinks are
  if (segments_.empty()) {
    if (Status s = open_active(next_seq_); !s) return s.with_context(where);
  } else {
    const std::string& path = segments_.rbegin()->second.path;
    active_fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (active_fd_ < 0) {
      return Status::error(where + ": cannot open " + path + " for appending: " + sys_error());
    }
  }
  for (const auto& [first, seg] : segments_) total_bytes_ += seg.bytes;

  const uint64_t oldest = segments_.begin()->first;
  for (size_t i = 0; i < options.sinks.size(); ++i) {
    SinkState s;
    s.name = options.sinks[i];
    // A new sink gets the events from now on; a damaged cursor all the log still holds.
    uint64_t cursor = damaged[i] ? oldest : cursors[i].value_or(next_seq_);
    if (cursor > next_seq_) {
      log::warn(where + ": cursor of sink '" + s.name + "' is past the end of the log (" +
                std::to_string(cursor) + " > " + std::to_string(next_seq_) +
                "); it resumes at the end");
      cursor = next_seq_;
    }
    if (cursor < oldest) {
      s.lost = oldest - cursor;
      log::warn(where + ": sink '" + s.name + "' lost " + std::to_string(s.lost) +
                " events dropped at the size limit before it confirmed them");
    }
    s.read_seq = s.acked = std::max(cursor, oldest);
    s.persisted = cursors[i].value_or(~uint64_t{0});  // a missing or damaged file: saved below
    sinks_.push_back(std::move(s));
  }
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (Status s = save_cursor(i); !s) return s;
  }
  std::lock_guard lock(mu_);
  delete_acknowledged();
  enforce_limit();
  return {};
}

EventLog::~EventLog() {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (Status s = save_cursor(i); !s) log::warn(s.message());
    if (sinks_[i].fd >= 0) ::close(sinks_[i].fd);
  }
  if (active_fd_ >= 0) ::close(active_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status EventLog::open_active(uint64_t first_seq) {
  const std::string path = dir_ + "/" + segment_name(first_seq);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error("cannot create segment " + path + ": " + sys_error());
  if (Status s = sync_dir(dir_); !s) {
    ::close(fd);
    return s;
  }
  if (active_fd_ >= 0) ::close(active_fd_);
  active_fd_ = fd;
  segments_[first_seq] = {path, 0};
  return {};
}

uint64_t EventLog::segment_end(std::map<uint64_t, Segment>::const_iterator it) const {
  const auto next = std::next(it);
  return next == segments_.end() ? next_seq_ : next->first;
}

Status EventLog::append(const Event& e, const std::string& json) {
  Pending p;
  p.body = encode_body(e, json);
  if (p.body.size() > kMaxBodyBytes) {
    return Status::error("event " + e.id + " of stream '" + e.stream + "' is " +
                         std::to_string(p.body.size()) + " bytes, over the event log's limit of " +
                         std::to_string(kMaxBodyBytes) + " per event; shorten its fields");
  }
  std::unique_lock lock(mu_);
  queue_.push_back(&p);
  while (!p.done) {
    if (!writing_) {
      commit(lock);
    } else {
      committed_.wait(lock);
    }
  }
  return p.result;
}

// The leader writes every queued record with one write() and one fdatasync() outside the lock;
// appenders arriving meanwhile queue up for the next leader.
void EventLog::commit(std::unique_lock<std::mutex>& lock) {
  writing_ = true;
  std::vector<Pending*> batch;
  batch.swap(queue_);
  const uint64_t first = next_seq_;
  const int fd = active_fd_;
  Segment& seg = segments_.rbegin()->second;  // rotation happens only here, under writing_
  lock.unlock();

  std::string bytes;
  for (size_t k = 0; k < batch.size(); ++k) append_frame(&bytes, first + k, batch[k]->body);
  Status s = write_all(fd, bytes);
  if (s && ::fdatasync(fd) != 0) s = Status::error(sys_error());

  lock.lock();
  if (s) {
    next_seq_ += batch.size();
    seg.bytes += bytes.size();
    total_bytes_ += bytes.size();
    appended_ += batch.size();
  } else {
    // Cut a partial write so the next batch starts on a record boundary; if even that fails,
    // readers skip the garbage by its CRC.
    if (::ftruncate(fd, static_cast<off_t>(seg.bytes)) != 0) {
      struct stat st {};
      if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > seg.bytes) {
        total_bytes_ += static_cast<uint64_t>(st.st_size) - seg.bytes;
        seg.bytes = static_cast<uint64_t>(st.st_size);
      }
    }
    s = Status::error("event log '" + dir_ + "': writing " + seg.path + ": " + s.message() +
                      "; free disk space or lower events.max_mb");
  }
  for (Pending* p : batch) {
    p->result = s;
    p->done = true;
  }
  if (s && seg.bytes >= segment_bytes_) {
    if (Status r = open_active(next_seq_); !r) {
      log::warn("event log '" + dir_ + "': " + r.message() + "; still appending to " + seg.path);
    }
  }
  if (s) enforce_limit();
  writing_ = false;
  committed_.notify_all();
  readable_.notify_all();
}

// Beyond max_bytes the oldest segment goes, read by every sink or not; what a sink had not
// read yet is counted as lost for it.
void EventLog::enforce_limit() {
  while (total_bytes_ > max_bytes_ && segments_.size() > 1) {
    const auto it = segments_.begin();
    const uint64_t first = it->first, end = segment_end(it);
    std::string losses;
    for (SinkState& s : sinks_) {
      if (s.read_seq >= end) continue;
      const uint64_t n = end - std::max(s.read_seq, first);
      s.lost += n;
      s.read_seq = end;
      s.offset_valid = false;
      losses += (losses.empty() ? "" : ", ") + ("sink '" + s.name + "' lost " + std::to_string(n));
    }
    ::unlink(it->second.path.c_str());
    total_bytes_ -= it->second.bytes;
    segments_.erase(it);
    log::warn("event log '" + dir_ + "' is at its size limit of " + std::to_string(max_bytes_) +
              " bytes: dropped " +
              (end > first ? "events " + std::to_string(first) + " to " + std::to_string(end - 1)
                           : std::string("an empty segment")) +
              (losses.empty() ? " (every sink had read them)"
                              : "; " + losses + "; raise events.max_mb or bring the sink back"));
  }
}

void EventLog::delete_acknowledged() {
  uint64_t passed = next_seq_;
  for (const SinkState& s : sinks_) passed = std::min(passed, s.persisted);
  while (segments_.size() > 1 && segment_end(segments_.begin()) <= passed) {
    const auto it = segments_.begin();
    ::unlink(it->second.path.c_str());
    total_bytes_ -= it->second.bytes;
    segments_.erase(it);
  }
}

std::vector<LogRecord> EventLog::read(size_t sink, size_t max_records) {
  std::vector<LogRecord> out;
  SinkState& s = sinks_[sink];
  while (out.size() < max_records) {
    std::unique_lock lock(mu_);
    if (s.read_seq >= next_seq_) break;
    auto it = segments_.upper_bound(s.read_seq);
    if (it == segments_.begin()) {  // behind the oldest segment: nothing left to read there
      s.read_seq = it->first;
      s.offset_valid = false;
      continue;
    }
    --it;
    if (s.fd < 0 || s.fd_first != it->first) {
      if (s.fd >= 0) ::close(s.fd);
      s.fd = ::open(it->second.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (s.fd < 0) {
        skip_segment(s, it->first, "cannot open " + it->second.path + ": " + sys_error());
        continue;
      }
      s.fd_first = it->first;
      s.offset_valid = false;
    }
    if (!s.offset_valid) s.offset = 0;  // scan from the segment's start up to read_seq
    const uint64_t limit = it->second.bytes;
    const uint64_t end = segment_end(it);
    const bool active = std::next(it) == segments_.end();
    const uint64_t from_seq = s.read_seq, offset = s.offset;
    const int fd = s.fd;
    const std::string path = it->second.path;
    lock.unlock();

    // Outside the lock: appenders go on; a dropped segment stays readable through the fd.
    std::vector<LogRecord> got;
    uint64_t next = from_seq, gap = 0, skipped = 0;
    size_t pos = 0;
    if (offset < limit) {
      std::string buf(std::min<uint64_t>(limit - offset, kReadChunkBytes), '\0');
      const ssize_t n = read_at(fd, buf.data(), buf.size(), offset);
      if (n < 0) {
        const std::string why = "reading " + path + ": " + sys_error();
        lock.lock();
        if (s.read_seq == from_seq) skip_segment(s, s.fd_first, why);
        continue;
      }
      buf.resize(static_cast<size_t>(n));
      const bool whole = offset + buf.size() >= limit;
      const std::string_view bytes = buf;
      while (pos < bytes.size() && out.size() + got.size() < max_records) {
        Frame f;
        Parse p = parse_frame(bytes.substr(pos), &f);
        if (p == Parse::kNeedMore && !whole) break;  // continues in the next chunk
        LogRecord r;
        if (p != Parse::kOk || !decode_body(f.body, &r)) {
          ++pos;  // resynchronize on the next byte whose record checks out
          ++skipped;
          continue;
        }
        pos += f.size;
        if (f.seq < next) continue;
        gap += f.seq - next;
        r.seq = f.seq;
        next = f.seq + 1;
        got.push_back(std::move(r));
      }
    }
    const bool segment_done = !active && offset + pos >= limit;

    lock.lock();
    if (s.read_seq != from_seq) continue;  // the size limit dropped this segment meanwhile
    if (skipped > 0) {
      log::warn("event log '" + dir_ + "': skipped " + std::to_string(skipped) +
                " corrupt bytes in " + path + " for sink '" + s.name + "'");
    }
    s.lost += gap;
    for (LogRecord& r : got) out.push_back(std::move(r));
    s.read_seq = next;
    s.offset = offset + pos;
    s.offset_valid = true;
    if (segment_done) {
      if (s.read_seq < end) s.lost += end - s.read_seq;  // records lost to corruption
      s.read_seq = std::max(s.read_seq, end);
      s.offset_valid = false;
    } else if (got.empty() && pos == 0) {
      break;
    }
  }
  return out;
}

// A segment the sink cannot read: its unread events count as lost rather than stall the sink.
void EventLog::skip_segment(SinkState& s, uint64_t first, const std::string& why) {
  const auto it = segments_.find(first);
  if (it != segments_.end()) {
    const uint64_t end = segment_end(it);
    if (s.read_seq < end) {
      log::warn("event log '" + dir_ + "': " + why + "; sink '" + s.name + "' loses " +
                std::to_string(end - s.read_seq) + " events");
      s.lost += end - s.read_seq;
      s.read_seq = end;
    }
  }
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
  s.offset_valid = false;
}

void EventLog::wait(size_t sink, Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  const uint64_t generation = wake_generation_;
  readable_.wait_until(lock, deadline, [&] {
    return sinks_[sink].read_seq < next_seq_ || wake_generation_ != generation;
  });
}

void EventLog::wake() {
  std::lock_guard lock(mu_);
  ++wake_generation_;
  readable_.notify_all();
}

void EventLog::acknowledge(size_t sink, uint64_t end) {
  std::lock_guard lock(mu_);
  sinks_[sink].acked = std::max(sinks_[sink].acked, end);
}

Status EventLog::save_cursor(size_t sink) {
  uint64_t cursor = 0;
  std::string name;
  {
    std::lock_guard lock(mu_);
    if (sinks_[sink].acked == sinks_[sink].persisted) return {};
    cursor = sinks_[sink].acked;
    name = sinks_[sink].name;
  }
  const std::string path = dir_ + "/" + name + ".cursor";
  if (Status s = replace_file(path, std::to_string(cursor) + "\n"); !s) {
    return Status::error("event log: saving cursor " + path + ": " + s.message());
  }
  std::lock_guard lock(mu_);
  sinks_[sink].persisted = cursor;
  delete_acknowledged();
  return {};
}

uint64_t EventLog::unread(size_t sink) const {
  std::lock_guard lock(mu_);
  return next_seq_ - std::min(next_seq_, sinks_[sink].read_seq);
}

uint64_t EventLog::lost(size_t sink) const {
  std::lock_guard lock(mu_);
  return sinks_[sink].lost;
}

LogStats EventLog::stats() const {
  std::lock_guard lock(mu_);
  LogStats st;
  st.appended = appended_;
  st.bytes = total_bytes_;
  st.segments = segments_.size();
  st.first_seq = segments_.empty() ? next_seq_ : segments_.begin()->first;
  st.end_seq = next_seq_;
  return st;
}

}  // namespace iris::events
