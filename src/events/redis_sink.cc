// Redis Streams sink (hiredis): each event is `XADD key [MAXLEN ~ N] * id <id> event <json>`,
// pipelined; the reply with the entry's id confirms it. The key comes from a template.
#include <hiredis.h>

#include <algorithm>

#include "events/remote_sink.h"

namespace iris::events {
namespace {

struct RedisOptions {
  std::string host;
  int port = 6379;
  std::string key;
  int64_t maxlen = 0;  // 0: the stream is not trimmed
  std::string username;
  std::string password;
  std::chrono::milliseconds timeout{5000};
};

timeval to_timeval(std::chrono::microseconds us) {
  us = std::max(us, std::chrono::microseconds(1000));
  return {static_cast<time_t>(us.count() / 1000000),
          static_cast<suseconds_t>(us.count() % 1000000)};
}

class RedisSink : public RemoteSink {
 public:
  explicit RedisSink(RedisOptions o) : o_(std::move(o)) {}
  ~RedisSink() override { disconnect(); }

  std::string describe() const override {
    return "redis " + o_.host + ":" + std::to_string(o_.port);
  }

  Status connect(Clock::time_point deadline) override {
    disconnect();
    ctx_ = redisConnectWithTimeout(o_.host.c_str(), o_.port, to_timeval(left(deadline)));
    if (!ctx_) return Status::error("connecting to " + describe() + ": out of memory");
    if (ctx_->err) return fail("connecting to " + describe() + ": " + ctx_->errstr);
    redisEnableKeepAlive(ctx_);
    if (!o_.password.empty()) {
      std::vector<std::string> args = {"AUTH"};
      if (!o_.username.empty()) args.push_back(o_.username);
      args.push_back(o_.password);
      if (Status s = command(args, deadline); !s)
        return fail("AUTH at " + describe() + ": " + s.message());
    }
    return {};
  }

  // All XADDs go out in one write; the replies come back in order.
  Status send(std::span<const LogRecord> records, Clock::time_point deadline,
              size_t* confirmed) override {
    *confirmed = 0;
    redisSetTimeout(ctx_, to_timeval(left(deadline)));
    const std::string maxlen = std::to_string(o_.maxlen);
    for (const LogRecord& r : records) {
      const std::string key = expand(o_.key, r);
      std::vector<const char*> argv = {"XADD", key.c_str()};
      std::vector<size_t> lens = {4, key.size()};
      if (o_.maxlen > 0) {
        argv.insert(argv.end(), {"MAXLEN", "~", maxlen.c_str()});
        lens.insert(lens.end(), {6, 1, maxlen.size()});
      }
      argv.insert(argv.end(), {"*", "id", r.id.c_str(), "event", r.json.c_str()});
      lens.insert(lens.end(), {1, 2, r.id.size(), 5, r.json.size()});
      if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
          REDIS_OK) {
        return Status::error("XADD to " + describe() + ": " + ctx_->errstr);
      }
    }
    for (const LogRecord& r : records) {
      if (Status s = reply("XADD of event " + r.id); !s) return s;
      ++*confirmed;
    }
    return {};
  }

  void disconnect() override {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
  }

 private:
  std::chrono::microseconds left(Clock::time_point deadline) const {
    return std::chrono::duration_cast<std::chrono::microseconds>(
        std::min(deadline - Clock::now(), Clock::duration(o_.timeout)));
  }

  Status command(const std::vector<std::string>& args, Clock::time_point deadline) {
    redisSetTimeout(ctx_, to_timeval(left(deadline)));
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.c_str());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return Status::error(ctx_->errstr);
    }
    return reply(args[0]);
  }

  // The next reply; an error reply (LOADING, NOAUTH, WRONGTYPE, ...) fails like a lost link.
  Status reply(const std::string& what) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) {
      return Status::error(what + " at " + describe() + ": " + ctx_->errstr);
    }
    auto* r = static_cast<redisReply*>(raw);
    Status s;
    if (r->type == REDIS_REPLY_ERROR) {
      s = Status::error(describe() + " refused " + what + ": " + std::string(r->str, r->len));
    }
    freeReplyObject(r);
    return s;
  }

  Status fail(const std::string& message) {
    disconnect();
    return Status::error(message);
  }

  RedisOptions o_;
  redisContext* ctx_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<RemoteSink>> make_redis_sink(const SinkSpec& spec) {
  SinkOptions o(spec);
  RedisOptions r;
  r.host = o.text("host", "127.0.0.1");
  r.port = static_cast<int>(o.integer("port", 6379, 1, 65535));
  r.key = o.pattern("key", "iris:events", {"stream", "rule", "type"});
  r.maxlen = o.integer("maxlen", 1000000, 0, int64_t{1} << 40);
  r.username = o.text("username", "");
  r.password = o.text("password", "");
  if (Status s = o.finish(); !s) return s;
  if (r.key.empty()) {
    return Status::error("sink '" + spec.name + "' (redis): option 'key' must not be empty");
  }
  r.timeout = spec.timeout;
  return std::unique_ptr<RemoteSink>(new RedisSink(std::move(r)));
}

}  // namespace iris::events
