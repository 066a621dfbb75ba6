// iris serve under a hostile load: 100 slow clients dribbling request bodies and 20 MJPEG viewers
// hold connections open, while the health and stream APIs must still answer and the camera must
// keep running. Asserts that answers arrive and frames keep coming, not how fast.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "raw_client.h"
#include "serve_fixture.h"

namespace iris::server {
namespace {

constexpr int kSlowClients = 100;
constexpr int kViewers = 20;

using ServeLoad = ServeTest;
TEST_F(ServeLoad, SlowClientsAndViewersDoNotStarveTheApiOrTheCamera) {
  start_cam();
  const int port = server_->port();
  auto frames = [&] {
    for (const auto& s : server_->engine().stats()) return s.counters.frames;
    return int64_t{-1};
  };
  ASSERT_TRUE(eventually([&] { return frames() > 0; }));

  // Slow clients: a request header, then one byte of a 100 kB body every 100 ms.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < kSlowClients; ++i) {
    slow.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(slow.back()->connected());
    slow.back()->send("POST /api/streams HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{");
  }
  std::vector<std::unique_ptr<RawClient>> viewers;
  for (int i = 0; i < kViewers; ++i) {
    viewers.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(viewers.back()->connected());
    viewers.back()->send("GET /api/streams/cam/live.mjpg HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  std::atomic<bool> stop{false};
  std::thread dribbler([&] {
    while (!stop) {
      for (auto& c : slow) c->send(" ");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // Viewers read everything that comes; each counts the JPEG parts it got.
  std::vector<std::string> seen(kViewers);
  std::vector<std::atomic<int>> parts(kViewers);
  std::thread watcher([&] {
    std::vector<pollfd> fds;
    for (auto& v : viewers) fds.push_back({v->fd(), POLLIN, 0});
    char buf[65536];
    while (!stop) {
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) continue;
        seen[i].append(buf, static_cast<size_t>(n));
        // Count boundaries as they arrive, keeping only a tail that might hold a split one.
        for (size_t at; (at = seen[i].find("--irisframe")) != std::string::npos;) {
          ++parts[i];
          seen[i].erase(0, at + 11);
        }
        if (seen[i].size() > 64) seen[i].erase(0, seen[i].size() - 64);
      }
    }
  });

  // Meanwhile the API answers, again and again, and the camera runs on.
  const int64_t frames_before = frames();
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_read_timeout(20, 0);
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    auto ready = client->Get("/v2/health/ready");
    ASSERT_TRUE(ready) << "request " << i << ": " << httplib::to_string(ready.error());
    EXPECT_EQ(ready->status, 200);
    auto streams = client->Get("/api/streams");
    ASSERT_TRUE(streams);
    ASSERT_EQ(streams->status, 200);
    EXPECT_EQ(json::parse(streams->body)["streams"][0]["state"], "live");
    ++answered;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(answered, 20);
  EXPECT_TRUE(eventually([&] { return frames() > frames_before + 10; }))
      << "the camera stalled under the load";
  EXPECT_TRUE(eventually([&] {
    for (int i = 0; i < kViewers; ++i) {
      if (parts[i] < 3) return false;
    }
    return true;
  })) << "a viewer got fewer than 3 frames";
  // Every slow client and viewer was connected at once.
  const std::string metrics = client->Get("/metrics")->body;
  const std::string gauge = "\niris_http_connections ";
  const size_t at = metrics.find(gauge);
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stod(metrics.substr(at + gauge.size())), kSlowClients + kViewers);
  stop = true;
  dribbler.join();
  watcher.join();
}

}  // namespace
}  // namespace iris::server
