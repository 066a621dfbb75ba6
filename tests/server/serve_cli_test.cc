// `iris serve` as a user runs it: it prints the port it took, answers on it, and drains and exits
// 0 on SIGTERM; bad arguments and configs exit non-zero with the reason.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "serve_fixture.h"

namespace iris::server {
namespace {

TEST(ServeCli, ServesUntilSigterm) {
  testing::TempDir dir;
  const std::string config = dir.file("serve.yaml");
  std::ofstream(config) << cam_config(square_clip(dir), dir.path());
  const pid_t pid = testing::spawn_iris({"serve", config, "--port", "0", "--token", "t0ken"},
                                        dir.file("out"), dir.file("err"));
  int port = 0;
  ASSERT_TRUE(eventually([&] {
    std::smatch m;
    const std::string out = testing::read_file(dir.file("out"));
    if (std::regex_search(out, m, std::regex("listening on http://127.0.0.1:(\\d+)"))) {
      port = std::stoi(m[1]);
    }
    return port > 0;
  })) << testing::read_file(dir.file("err"));
  httplib::Client c("127.0.0.1", port);
  auto ready = c.Get("/v2/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(c.Get("/api/streams")->status, 401);
  c.set_bearer_token_auth("t0ken");
  EXPECT_EQ(c.Get("/api/streams")->status, 200);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(testing::wait_child(pid, 30), 0) << testing::read_file(dir.file("err"));
}

TEST(ServeCli, BadArgumentsAndConfigsFail) {
  testing::TempDir dir;
  EXPECT_EQ(testing::wait_child(testing::spawn_iris({"serve"}, dir.file("a")), 10), 2);
  EXPECT_EQ(testing::wait_child(
                testing::spawn_iris({"serve", "x.yaml", "--port", "70000"}, dir.file("b")), 10),
            2);
  EXPECT_TRUE(contains(testing::read_file(dir.file("b")), "--port needs a number from 0 to 65535"));
  EXPECT_EQ(testing::wait_child(
                testing::spawn_iris({"serve", dir.file("missing.yaml")}, dir.file("c")), 10),
            1);
  EXPECT_TRUE(contains(testing::read_file(dir.file("c")), "cannot read config file"));
  const std::string config = dir.file("serve.yaml");
  std::ofstream(config) << cam_config(square_clip(dir), dir.path());
  EXPECT_EQ(testing::wait_child(
                testing::spawn_iris({"serve", config, "--bind", "example.org"}, dir.file("d")), 30),
            1);
  EXPECT_TRUE(contains(testing::read_file(dir.file("d")), "not an IP address"));
}

}  // namespace
}  // namespace iris::server
