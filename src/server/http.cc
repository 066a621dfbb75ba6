#include "server/http.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/log.h"
#include "core/text.h"

namespace iris::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path[0] != '/') return out;
  path.remove_prefix(1);
  for (;;) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Compares every byte whatever the first difference, so the time taken says nothing of where a
// guessed token goes wrong.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// `text` with %XX sequences decoded; nullopt when one is malformed.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(text[i + 1]);
    const int lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

Response Response::error(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.body = nlohmann::json{{"error", message}}.dump();
  return r;
}

Response Response::json(std::string body, int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "{}" matches any non-empty segment
  std::string name;                   // "GET /v2/models/{}/infer", for stats
  Handler handler;
  Run run = Run::kWorker;
  Access access = Access::kToken;
};

class Session;

struct HttpServer::Impl {
  explicit Impl(HttpOptions o) : options(std::move(o)), ioc(std::max(1, options.io_threads)) {}

  HttpOptions options;
  std::vector<Route> routes;
  std::atomic<uint64_t> open{0};  // sessions alive; declared before ioc, which destroys them
  std::atomic<bool> stopped{false};
  net::io_context ioc;
  // Declared after ioc: a queued task's Reply, destroyed with the pool, may still post into ioc.
  std::optional<net::thread_pool> workers;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> retry;
  std::vector<std::thread> threads;
  bool started = false;
  int port = 0;

  mutable std::mutex stats_mu;
  HttpStats stats;

  void accept();
  void count(const std::string& route, int status) {
    std::lock_guard lock(stats_mu);
    ++stats.responses[route][status];
  }
  void count_timeout() {
    std::lock_guard lock(stats_mu);
    ++stats.timeouts;
  }
  // The route for a method and path, with its parameters; or why none fits (404, 405).
  struct Match {
    const Route* route = nullptr;
    std::vector<std::string> params;
    int status = 404;
    std::string message;
  };
  Match match(std::string_view method, std::string_view path) const;
};

HttpServer::Impl::Match HttpServer::Impl::match(std::string_view method,
                                                std::string_view path) const {
  Match m;
  const std::vector<std::string_view> parts = split_path(path);
  std::vector<std::string> allowed;
  for (const Route& r : routes) {
    if (r.segments.size() != parts.size()) continue;
    std::vector<std::string> params;
    bool ok = true;
    for (size_t i = 0; i < parts.size() && ok; ++i) {
      if (r.segments[i] == "{}") {
        auto decoded = percent_decode(parts[i]);
        ok = !parts[i].empty() && decoded.has_value();
        if (ok) params.push_back(std::move(*decoded));
      } else {
        ok = r.segments[i] == parts[i];
      }
    }
    if (!ok) continue;
    if (r.method != method) {
      allowed.push_back(r.method);
      continue;
    }
    m.route = &r;
    m.params = std::move(params);
    return m;
  }
  if (!allowed.empty()) {
    m.status = 405;
    m.message = std::string(method) + " is not allowed on " + std::string(path) + "; use " +
                join(allowed, " or ");
  } else {
    m.message = "no such endpoint: " + std::string(path) + " (docs/serve.md lists them)";
  }
  return m;
}

// One connection: reads a request, answers it, and reads the next while the client keeps the
// connection alive. Every step runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {
    ++server_->open;
  }
  ~Session() { --server_->open; }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // From any thread: answers the current request on the strand.
  void post_response(Response r) {
    if (server_->stopped) return;
    net::post(stream_.get_executor(), [self = shared_from_this(), r = std::move(r)]() mutable {
      self->send(std::move(r));
    });
  }

 private:
  const HttpOptions& options() const { return server_->options; }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header));
    parser_->body_limit(options().max_body);
    stream_.expires_after(requests_ == 0 ? options().header_timeout : options().idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, size_t) {
    if (ec) return fail(ec);
    ++requests_;
    auto& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    const std::string_view target(req.target().data(), req.target().size());
    const size_t q = target.find('?');
    path_ = std::string(target.substr(0, q));
    query_ = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
    const std::string method(req.method_string());
    HttpServer::Impl::Match m = server_->match(method, path_);
    route_ = m.route;
    params_ = std::move(m.params);
    if (!route_) return early(Response::error(m.status, m.message));
    if (route_->access == Access::kToken && !options().token.empty()) {
      const std::string_view auth(req[http::field::authorization].data(),
                                  req[http::field::authorization].size());
      constexpr std::string_view kBearer = "Bearer ";
      if (auth.substr(0, kBearer.size()) != kBearer ||
          !same_secret(auth.substr(kBearer.size()), options().token)) {
        Response r = Response::error(
            401, auth.empty() ? "this endpoint needs \"Authorization: Bearer <token>\""
                              : "the bearer token is wrong");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return early(std::move(r));
      }
    }
    if (parser_->is_done()) return on_body({}, 0);
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
      stream_.expires_after(options().write_timeout);
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->fail(ec);
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(options().body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, size_t) {
    if (ec) return fail(ec);
    stream_.expires_never();  // the handler may take its time; the write sets its own deadline
    auto& req = parser_->get();
    Request request;
    request.method = std::string(req.method_string());
    request.path = path_;
    request.query = query_;
    for (const auto& field : req) {
      const auto name = field.name_string();
      request.headers.emplace_back(lower({name.data(), name.size()}),
                                   std::string(field.value().data(), field.value().size()));
    }
    request.body = std::move(req.body());
    request.params = std::move(params_);
    parser_.reset();
    dispatch(std::move(request));
  }

  void dispatch(Request request);

  // An answer before the body was read: with a body left unread the connection cannot carry
  // another request.
  void early(Response r) {
    unread_body_ = parser_ && !parser_->is_done();
    keep_alive_ = keep_alive_ && !unread_body_;
    send(std::move(r));
  }

  void fail(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return early(Response::error(413, "the request body is larger than the server's limit of " +
                                            std::to_string(options().max_body) +
                                            " bytes; send less, or raise --max-body-mb"));
    }
    if (ec == http::error::header_limit) {
      return early(Response::error(431, "the request headers are larger than " +
                                            std::to_string(options().max_header) + " bytes"));
    }
    if (ec == beast::error::timeout && requests_ > 0 && parser_ && !parser_->got_some()) {
      return;  // an idle kept-alive connection ran out: not a slow client
    }
    if (ec == beast::error::timeout) server_->count_timeout();
    // The stream is closed on timeout; other errors (the client left) need nothing.
  }

  void send(Response r) {
    server_->count(route_ ? route_->name : "unmatched", r.status);
    if (r.parts) return start_parts(std::move(r));
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "iris");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_ && !server_->stopped);
    res->prepare_payload();
    stream_.expires_after(options().write_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (!res->keep_alive()) return self->close();
                        self->read_header();
                      });
  }

  void start_parts(Response r) {
    parts_ = std::move(r.parts);
    auto head =
        std::make_shared<std::string>("HTTP/1.1 " + std::to_string(r.status) +
                                      " OK\r\nServer: iris\r\nContent-Type: " + r.content_type +
                                      "\r\nCache-Control: no-cache, no-store\r\n");
    for (const auto& [name, value] : r.headers) *head += name + ": " + value + "\r\n";
    *head += "Connection: close\r\n\r\n";
    stream_.expires_after(options().write_timeout);
    net::async_write(stream_, net::buffer(*head),
                     [self = shared_from_this(), head](beast::error_code ec, size_t) {
                       if (ec) return;
                       self->next_part();
                     });
  }

  void next_part() {
    stream_.expires_never();
    // The session stays alive while the source holds the callback: it must call it.
    parts_->next([self = shared_from_this()](PartSource::Part part) {
      if (self->server_->stopped) return;
      net::post(self->stream_.get_executor(),
                [self, part = std::move(part)]() mutable { self->write_part(std::move(part)); });
    });
  }

  void write_part(PartSource::Part part) {
    if (!part) return close();
    stream_.expires_after(options().write_timeout);
    net::async_write(stream_, net::buffer(*part),
                     [self = shared_from_this(), part](beast::error_code ec, size_t) {
                       if (ec) return;
                       self->next_part();
                     });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (unread_body_) linger();
  }

  // Reads and drops what the client still sends after an early answer, for a few seconds at
  // most: closing a socket with unread data resets the connection, and the client might lose
  // the answer before it reads it.
  void linger() {
    unread_body_ = false;
    stream_.expires_after(std::chrono::seconds(5));  // for the whole drain
    drain(std::make_shared<std::array<char, 16384>>());
  }
  void drain(std::shared_ptr<std::array<char, 16384>> scratch) {
    stream_.async_read_some(net::buffer(*scratch),
                            [self = shared_from_this(), scratch](beast::error_code ec, size_t) {
                              if (!ec) self->drain(scratch);
                            });
  }

  beast::tcp_stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const Route* route_ = nullptr;
  std::vector<std::string> params_;
  std::string path_, query_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  uint64_t requests_ = 0;
  bool unread_body_ = false;  // an early answer left the body unread
  std::shared_ptr<PartSource> parts_;
};

namespace {

// The Reply of one request: answers it once; a Reply dropped unanswered answers 500.
struct ReplyState {
  explicit ReplyState(std::shared_ptr<Session> s) : session(std::move(s)) {}
  ~ReplyState() {
    if (!sent) session->post_response(Response::error(500, "internal error: no answer was made"));
  }
  void send(Response r) {
    if (sent.exchange(true)) return;
    session->post_response(std::move(r));
  }
  std::shared_ptr<Session> session;
  std::atomic<bool> sent{false};
};

}  // namespace

void Session::dispatch(Request request) {
  auto state = std::make_shared<ReplyState>(shared_from_this());
  Reply reply = [state](Response r) { state->send(std::move(r)); };
  auto run = [handler = &route_->handler, request = std::move(request), reply]() mutable {
    try {
      (*handler)(std::move(request), reply);
    } catch (const std::exception& e) {
      log::error(std::string("http handler failed: ") + e.what());
      reply(Response::error(500, std::string("internal error: ") + e.what()));
    }
  };
  if (route_->run == Run::kInline) {
    run();
  } else {
    net::post(*server_->workers, std::move(run));
  }
}

void HttpServer::Impl::accept() {
  acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || stopped) return;
    if (ec) {
      // Out of descriptors, most likely: try again shortly rather than spin.
      log::warn("http: accept failed: " + ec.message());
      retry->expires_after(std::chrono::milliseconds(100));
      retry->async_wait([this](beast::error_code e) {
        if (!e) accept();
      });
      return;
    }
    if (open >= options.max_connections) {
      {
        std::lock_guard lock(stats_mu);
        ++stats.connections_refused;
      }
      static const std::string kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Content-Length: 59\r\nConnection: close\r\n\r\n"
          "{\"error\":\"too many connections; retry in a moment please\"}";
      beast::error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(net::buffer(kBusy), ignored);
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), this)->start();
    }
    accept();
  });
}

HttpServer::HttpServer(HttpOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string method, std::string pattern, Handler handler, Run run,
                       Access access) {
  Route r;
  r.name = method + " " + pattern;
  r.method = std::move(method);
  for (std::string_view s : split_path(pattern)) r.segments.emplace_back(s);
  r.handler = std::move(handler);
  r.run = run;
  r.access = access;
  impl_->routes.push_back(std::move(r));
}

Status HttpServer::start() {
  Impl& m = *impl_;
  const std::string where = m.options.bind + ":" + std::to_string(m.options.port);
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(m.options.bind, ec);
  if (ec) {
    return Status::error("cannot listen on '" + m.options.bind +
                         "': not an IP address; give one such as 127.0.0.1, 0.0.0.0 or ::1");
  }
  if (m.options.port < 0 || m.options.port > 65535) {
    return Status::error("port " + std::to_string(m.options.port) +
                         " is out of range; give 1 to 65535, or 0 for any free port");
  }
  m.acceptor.emplace(m.ioc);
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(m.options.port));
  if (m.acceptor->open(endpoint.protocol(), ec); !ec) {
    m.acceptor->set_option(net::socket_base::reuse_address(true), ec);
    m.acceptor->bind(endpoint, ec);
  }
  if (!ec) m.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::error("cannot listen on " + where + ": " + ec.message() +
                         "; choose another --port or --bind");
  }
  m.port = m.acceptor->local_endpoint().port();
  m.retry.emplace(m.ioc);
  m.workers.emplace(std::max(1, m.options.worker_threads));
  m.guard.emplace(m.ioc.get_executor());
  m.accept();
  for (int i = 0; i < std::max(1, m.options.io_threads); ++i) {
    m.threads.emplace_back([&m] { m.ioc.run(); });
  }
  m.started = true;
  return Status();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::post(std::function<void()> task) {
  if (impl_->workers) net::post(*impl_->workers, std::move(task));
}

void HttpServer::stop() {
  Impl& m = *impl_;
  if (!m.started || m.stopped.exchange(true)) return;
  m.guard.reset();
  m.ioc.stop();
  for (auto& t : m.threads) t.join();
  beast::error_code ec;
  m.acceptor->close(ec);  // no I/O thread runs: safe here, and the port is free at once
  m.workers->join();
}

HttpStats HttpServer::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  HttpStats s = impl_->stats;
  s.connections_open = impl_->open;
  return s;
}

}  // namespace iris::server
