// HTTP server: the transport under `iris serve`'s routes, on Boost.Beast (asio). A few I/O
// threads multiplex every connection with non-blocking reads and writes, so slow clients and
// endless MJPEG viewers cost a socket and a buffer each, never a thread: the API stays responsive
// under them (docs/serve.md says why this library). Every connection has limits: header size,
// body size (413), a deadline for its header and one for its body (408), a write deadline, and a
// cap on open connections (503).
//
// Routes are registered before start(). A handler gets the request and a Reply to call exactly
// once, from any thread; a Reply dropped without a call answers 500. Handlers marked kInline run
// on an I/O thread and must be quick and never block; the others run on the server's worker
// pool, where they may block (opening a camera, decoding a picture). Nothing here touches the
// filesystem.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace iris::server {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target without its query, as sent
  std::string query;   // after '?', as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  std::vector<std::string> params;  // the route's {} segments, percent-decoded

  // The first header of that (lower-case) name; empty when absent.
  std::string_view header(std::string_view name) const;
};

// An endless body written part by part (an MJPEG stream): the server calls next() once the
// previous part is written, and the source calls `deliver` once, from any thread, with the next
// part, or with null to end the response. A part is shared, not copied: one encoded frame goes to
// every viewer. A slow client is asked less often, so it gets fewer parts; nothing queues up for
// it.
class PartSource {
 public:
  using Part = std::shared_ptr<const std::string>;
  virtual ~PartSource() = default;
  virtual void next(std::function<void(Part)> deliver) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for an endless response: `body` is ignored, the connection closes at its end.
  std::shared_ptr<PartSource> parts;

  // {"error": message} with that status: the KServe protocol's error form, used everywhere.
  static Response error(int status, std::string_view message);
  static Response json(std::string body, int status = 200);
};

using Reply = std::function<void(Response)>;
using Handler = std::function<void(Request, Reply)>;

enum class Run { kWorker, kInline };
enum class Access { kToken, kPublic };  // kPublic: no token needed (health checks)

struct HttpOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: an ephemeral port (see HttpServer::port())
  // Required as "Authorization: Bearer <token>" on every kToken route; empty: no token.
  std::string token;
  uint64_t max_body = 64ull << 20;                   // bytes; larger bodies get 413
  size_t max_header = 16 << 10;                      // bytes of request line and headers
  std::chrono::milliseconds header_timeout{10'000};  // from the first byte of a request
  std::chrono::milliseconds body_timeout{60'000};    // from the end of its header
  std::chrono::milliseconds write_timeout{30'000};   // per response, or per part of a stream
  std::chrono::milliseconds idle_timeout{60'000};    // a kept-alive connection between requests
  size_t max_connections = 1024;                     // more are answered 503 and closed
  int io_threads = 2;
  int worker_threads = 4;
};

// Counts of what the server answered, for /metrics.
struct HttpStats {
  uint64_t connections_open = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t timeouts = 0;             // connections closed for a header or body deadline
  // "GET /v2/models/{}/infer" -> status -> count; requests that matched no route are under
  // "unmatched".
  std::map<std::string, std::map<int, uint64_t>> responses;
};

class HttpServer {
 public:
  explicit HttpServer(HttpOptions options);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `pattern`: a path whose "{}" segments match any one non-empty segment, e.g.
  // "/v2/models/{}/infer". Before start() only.
  void route(std::string method, std::string pattern, Handler handler, Run run = Run::kWorker,
             Access access = Access::kToken);

  // Binds and listens; errors name the address and the fix. Returns once connections are
  // accepted.
  Status start();
  int port() const;  // the bound port (the ephemeral one when options.port is 0)
  // Runs `task` on the worker pool: for handlers whose answer is finished elsewhere (a model's
  // thread) and should not hold that thread while it is written out.
  void post(std::function<void()> task);
  // Closes the listener, stops the I/O threads and waits for running handlers. Replies made
  // afterwards are dropped. Idempotent.
  void stop();

  HttpStats stats() const;

 private:
  struct Impl;
  friend class Session;  // a connection, in http.cc
  std::unique_ptr<Impl> impl_;
};

}  // namespace iris::server
