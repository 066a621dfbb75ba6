// A real Prometheus (Debian's package) scrapes iris serve's /metrics every second; its query API
// must then return the stream's frame counter and fps series, and a model's histograms.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve_fixture.h"
#include "support/brokers.h"

namespace iris::server {
namespace {

// The prometheus program, killed with the test (or with the test process, should it crash).
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& config, const std::string& data, int port,
                    const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      const std::string config_arg = "--config.file=" + config;
      const std::string data_arg = "--storage.tsdb.path=" + data;
      const std::string listen_arg = "--web.listen-address=127.0.0.1:" + std::to_string(port);
      ::execlp("prometheus", "prometheus", config_arg.c_str(), data_arg.c_str(), listen_arg.c_str(),
               "--log.level=warn", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

// The result list of an instant query, or null while Prometheus cannot answer yet.
json query(int port, const std::string& promql) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  auto r = c.Get(("/api/v1/query?query=" + httplib::detail::encode_query_param(promql)).c_str());
  if (!r || r->status != 200) return nullptr;
  const json body = json::parse(r->body, nullptr, false);
  if (!body.is_object() || body.value("status", "") != "success") return nullptr;
  return body["data"]["result"];
}

using Prometheus = ServeTest;
TEST_F(Prometheus, ScrapesPerStreamFpsAndModelHistograms) {
  ASSERT_EQ(std::system("command -v prometheus > /dev/null"), 0)
      << "prometheus is not installed; scripts/deps.sh installs it";
  start_cam();

  // Prometheus takes its port as an argument.
  const int port = testing::free_port();
  std::ofstream(dir_.file("prometheus.yml"))
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
         "scrape_configs:\n  - job_name: iris\n    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << server_->port() << "']\n";
  PrometheusProcess prometheus(dir_.file("prometheus.yml"), dir_.file("data"), port,
                               dir_.file("prometheus.log"));

  json fps;
  const bool scraped = eventually(
      [&] {
        fps = query(port, "iris_stream_fps{stream=\"cam\"}");
        return fps.is_array() && !fps.empty() &&
               std::stod(fps[0]["value"][1].get<std::string>()) > 0;
      },
      60);
  ASSERT_TRUE(scraped) << "no fps series; prometheus said:\n"
                       << testing::read_file(dir_.file("prometheus.log"));
  EXPECT_EQ(fps[0]["metric"]["job"], "iris");
  // The frame counter grows between scrapes: rate() sees it.
  EXPECT_TRUE(eventually(
      [&] {
        const json rate = query(port, "rate(iris_stream_frames_total{stream=\"cam\"}[5s])");
        return rate.is_array() && !rate.empty() &&
               std::stod(rate[0]["value"][1].get<std::string>()) > 0;
      },
      30));
  const json buckets = query(port, "iris_model_inference_seconds_bucket{model=\"squares\"}");
  ASSERT_TRUE(buckets.is_array());
  EXPECT_GT(buckets.size(), 10u);
  const json up = query(port, "up{job=\"iris\"}");
  ASSERT_TRUE(up.is_array() && !up.empty());
  EXPECT_EQ(up[0]["value"][1], "1");
}

}  // namespace
}  // namespace iris::server
