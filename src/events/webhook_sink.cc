// Webhook sink: one HTTP(S) POST per event, its JSON line as the body; any 2xx confirms it.
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/text.h"
#include "events/remote_sink.h"

namespace iris::events {
namespace {

struct Url {
  std::string origin;  // scheme://host:port, what httplib::Client takes
  std::string path;    // path and query
  std::string host;    // without the brackets of an IPv6 literal
  std::string port;
};

// http[s]://host[:port][/path][?query]; no user info (put credentials in `headers`).
Result<Url> parse_url(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return Status::error("'" + url + "' is not an http:// or https:// URL");
  }
  const size_t host_start = scheme_end + 3;
  const size_t path_start = std::min(url.find('/', host_start), url.find('?', host_start));
  const std::string authority = url.substr(host_start, path_start - host_start);
  if (authority.empty() || authority.find('@') != std::string::npos) {
    return Status::error("'" + url + "' needs a host and no user info (send credentials as a " +
                         "header, e.g. headers: {Authorization: ...})");
  }
  Url u;
  u.origin = scheme + "://" + authority;
  u.path = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (u.path.front() == '?') u.path = "/" + u.path;
  const size_t bracket = authority.find(']');
  const size_t colon = authority.find(':', bracket == std::string::npos ? 0 : bracket);
  u.host = authority.substr(0, colon);
  if (u.host.starts_with('[') && u.host.ends_with(']'))
    u.host = u.host.substr(1, u.host.size() - 2);
  u.port =
      colon == std::string::npos ? (scheme == "https" ? "443" : "80") : authority.substr(colon + 1);
  int64_t port = 0;
  if (u.host.empty() || !parse_int(u.port, &port) || port < 1 || port > 65535) {
    return Status::error("'" + url + "' has no valid host and port");
  }
  return u;
}

// Opens and closes one TCP connection to the peer, so a peer that is down shows up as
// disconnected before any event waits; httplib then opens its own connections.
Status probe(const Url& u, std::chrono::steady_clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &found); rc != 0) {
    return Status::error("cannot resolve '" + u.host + "': " + gai_strerror(rc));
  }
  std::string why = "no address";
  bool ok = false;
  for (const addrinfo* a = found; a && !ok; a = a->ai_next) {
    const int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLOUT, 0};
      socklen_t len = sizeof err;
      if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) == 1) {
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      } else {
        err = ETIMEDOUT;
      }
    }
    close(fd);
    ok = err == 0;
    if (!ok) why = std::strerror(err);
  }
  freeaddrinfo(found);
  if (!ok) return Status::error("connecting to " + u.host + ":" + u.port + ": " + why);
  return {};
}

class WebhookSink : public RemoteSink {
 public:
  WebhookSink(std::string url, Url parts, httplib::Headers headers, std::string ca_file,
              std::chrono::milliseconds timeout)
      : url_(std::move(url)),
        parts_(std::move(parts)),
        headers_(std::move(headers)),
        ca_file_(std::move(ca_file)),
        timeout_(timeout) {}

  std::string describe() const override { return "webhook " + url_; }

  Status connect(Clock::time_point deadline) override {
    if (Status s = probe(parts_, std::min(deadline, Clock::now() + timeout_)); !s) return s;
    client_ = std::make_unique<httplib::Client>(parts_.origin);
    client_->set_keep_alive(true);
    client_->set_tcp_nodelay(true);  // headers and body go out in two writes: no Nagle wait
    if (!ca_file_.empty()) client_->set_ca_cert_path(ca_file_);
    return {};
  }

  Status send(std::span<const LogRecord> records, Clock::time_point deadline,
              size_t* confirmed) override {
    *confirmed = 0;
    for (const LogRecord& r : records) {
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
          std::min(deadline - Clock::now(), Clock::duration(timeout_)));
      if (left.count() <= 0)
        return Status::error("no answer from " + url_ + " before the stop deadline");
      const time_t sec = left.count() / 1000000, usec = left.count() % 1000000;
      client_->set_connection_timeout(sec, usec);
      client_->set_read_timeout(sec, usec);
      client_->set_write_timeout(sec, usec);
      const httplib::Result res = client_->Post(parts_.path, headers_, r.json, "application/json");
      if (!res) return Status::error("POST " + url_ + ": " + httplib::to_string(res.error()));
      if (res->status < 200 || res->status > 299) {
        return Status::error("POST " + url_ + " answered " + std::to_string(res->status) +
                             (res->body.empty() ? "" : ": " + res->body.substr(0, 200)));
      }
      ++*confirmed;
    }
    return {};
  }

  void disconnect() override { client_.reset(); }

 private:
  std::string url_;
  Url parts_;
  httplib::Headers headers_;
  std::string ca_file_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace

Result<std::unique_ptr<RemoteSink>> make_webhook_sink(const SinkSpec& spec) {
  SinkOptions o(spec);
  const std::string url = o.required_text("url");
  const std::map<std::string, std::string> headers = o.text_map("headers");
  const std::string ca_file = o.text("ca_file", "");
  if (Status s = o.finish(); !s) return s;
  Result<Url> parts = parse_url(url);
  if (!parts) {
    return parts.status().with_context("sink '" + spec.name + "' (webhook): option 'url'");
  }
  return std::unique_ptr<RemoteSink>(new WebhookSink(
      url, *parts, httplib::Headers(headers.begin(), headers.end()), ca_file, spec.timeout));
}

}  // namespace iris::events
