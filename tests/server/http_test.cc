// The HTTP transport under iris serve, on raw sockets and a plain client: routing, deadlines for
// slow clients, the connection limit, 100-continue, handlers that fail, and handlers that wait
// without holding up the others.
#include "server/http.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "raw_client.h"
#include "support/support.h"

namespace iris::server {
namespace {

using nlohmann::json;
using testing::contains;

// The answer came, with that status and a JSON error that contains `text`.
void expect_error(const httplib::Result& r, int status, const std::string& text) {
  SCOPED_TRACE(text);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, status);
  EXPECT_TRUE(contains(json::parse(r->body)["error"], text));
}

class HttpTest : public ::testing::Test {
 protected:
  void start(HttpOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<HttpServer>(options);
    server_->route(
        "GET", "/hello/{}",
        [](Request req, Reply reply) {
          reply(Response::json(json{{"name", req.params[0]}, {"query", req.query}}.dump()));
        },
        Run::kInline);
    server_->route("POST", "/echo", [](Request req, Reply reply) {
      Response r;
      r.content_type = "text/plain";
      r.body = req.body;
      reply(std::move(r));
    });
    server_->route("GET", "/silent", [](Request, Reply) {});
    server_->route("GET", "/throws",
                   [](Request, Reply) -> void { throw std::runtime_error("boom"); });
    server_->route("GET", "/wait", [this](Request, Reply reply) {
      released_.get_future().wait();
      reply(Response::json("{}"));
    });
    ASSERT_TRUE(server_->start().ok());
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    return c;
  }
  int port() const { return server_->port(); }

  std::promise<void> released_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpTest, RoutesMatchSegmentsAndAnswerJsonErrors) {
  start();
  auto c = client();
  auto r = c.Get("/hello/a%20b?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["name"], "a b");
  EXPECT_EQ(json::parse(r->body)["query"], "x=1");
  expect_error(c.Get("/hello/a/b"), 404, "no such endpoint: /hello/a/b");
  expect_error(c.Post("/hello/a", "x", "text/plain"), 405, "use GET");
  r = c.Get("/hello/%zz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = c.Post("/echo", "some body", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "some body");
}

TEST_F(HttpTest, AHandlerThatFailsOrForgetsStillAnswers) {
  start();
  auto c = client();
  expect_error(c.Get("/silent"), 500, "no answer was made");
  expect_error(c.Get("/throws"), 500, "boom");
}

// One worker thread, held by /wait: the inline route still answers, and only then is /wait let go.
TEST_F(HttpTest, AWaitingHandlerDoesNotHoldUpTheOthers) {
  HttpOptions options;
  options.worker_threads = 1;
  start(options);
  auto waiting = std::async(std::launch::async, [this] { return client().Get("/wait"); });
  auto r = client().Get("/hello/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  released_.set_value();
  auto w = waiting.get();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 200);
}

TEST_F(HttpTest, KeepAliveCarriesSeveralRequests) {
  start();
  RawClient raw(port());
  ASSERT_TRUE(raw.connected());
  for (int i = 0; i < 3; ++i) {
    raw.send("GET /hello/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string answer = raw.read_until("}");
    EXPECT_TRUE(contains(answer, "HTTP/1.1 200")) << i;
    EXPECT_TRUE(contains(answer, "\"name\":\"" + std::to_string(i) + "\"")) << i;
  }
}

TEST_F(HttpTest, SlowHeadersAndBodiesAreCutOffAtTheirDeadlines) {
  HttpOptions options;
  options.header_timeout = std::chrono::milliseconds(300);
  options.body_timeout = std::chrono::milliseconds(300);
  start(options);
  RawClient slow_header(port());
  slow_header.send("GET /hello/x HTTP/1.1\r\nHost: x\r\n");  // never ends its header
  RawClient slow_body(port());
  slow_body.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part");
  bool closed = false;
  EXPECT_EQ(slow_header.read_all(&closed), "");
  EXPECT_TRUE(closed) << "the server closed the connection";
  closed = false;
  EXPECT_EQ(slow_body.read_all(&closed), "");
  EXPECT_TRUE(closed);
  // Counted when the server's read gives up, which may be just after the client saw the close.
  for (int i = 0; i < 100 && server_->stats().timeouts < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(server_->stats().timeouts, 2u);
  auto r = client().Get("/hello/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpTest, ConnectionsOverTheLimitGet503) {
  HttpOptions options;
  options.max_connections = 2;
  start(options);
  RawClient a(port()), b(port());
  a.send("GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n");  // both are open sessions once answered
  b.send("GET /hello/b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(contains(a.read_until("}"), "200"));
  EXPECT_TRUE(contains(b.read_until("}"), "200"));
  RawClient c(port());
  bool closed = false;
  const std::string answer = c.read_all(&closed);
  EXPECT_TRUE(contains(answer, "HTTP/1.1 503"));
  EXPECT_TRUE(contains(answer, "too many connections"));
  EXPECT_EQ(server_->stats().connections_refused, 1u);
}

TEST_F(HttpTest, ExpectContinueAndOversizedBodies) {
  HttpOptions options;
  options.max_body = 1000;
  start(options);
  RawClient raw(port());
  raw.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_TRUE(contains(raw.read_until("\r\n\r\n"), "HTTP/1.1 100 Continue"));
  raw.send("hello");
  EXPECT_TRUE(contains(raw.read_until("hello"), "200 OK"));

  // Refused from the header alone; the client still gets the answer after sending its body.
  RawClient big(port());
  big.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  big.send(std::string(5000, 'x'));
  bool closed = false;
  const std::string answer = big.read_all(&closed);
  EXPECT_TRUE(contains(answer, "HTTP/1.1 413"));
  EXPECT_TRUE(contains(answer, "larger than the server's limit of 1000 bytes"));
}

TEST(HttpServerStart, BadAddressesAreErrors) {
  HttpServer a(HttpOptions{.bind = "localhost:80"});
  const Status s = a.start();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "not an IP address"));
  HttpServer first(HttpOptions{.port = 0});
  ASSERT_TRUE(first.start().ok());
  HttpServer second(HttpOptions{.port = first.port()});
  const Status busy = second.start();
  ASSERT_FALSE(busy.ok());
  EXPECT_TRUE(contains(busy.message(), "choose another --port"));
}

}  // namespace
}  // namespace iris::server
