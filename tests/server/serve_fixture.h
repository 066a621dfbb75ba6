// What the iris serve tests share: a config over make_models.py's tiny models and a looping clip
// of a white square walking across a black scene, a Server on a loopback ephemeral port, and a
// plain HTTP client (cpp-httplib) for it.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>

#include "infer/test_models.h"
#include "server/server.h"
#include "support/support.h"

namespace iris::server {

using nlohmann::json;
using testing::contains;

// 50 frames at 25 fps, 320x240: a 40 px white square walks from x = 40 to x = 285 on row y = 120,
// crossing the line x = 160 once per loop.
inline std::string square_clip(const testing::TempDir& dir) {
  const std::string path = dir.file("square.mp4");
  const Status s = testing::write_clip(
      path, cv::Mat(240, 320, CV_8UC3, cv::Scalar::all(0)), 25, 50, [](cv::Mat& img, int i) {
        const int x = 40 + 5 * i;
        cv::rectangle(img, cv::Point(x - 20, 100), cv::Point(x + 19, 139), cv::Scalar::all(255),
                      cv::FILLED);
      });
  EXPECT_TRUE(s.ok()) << s.message();
  return path;
}

// `models:` with the probe (answers say how bright each sample was; free batch) and the centroid
// model (finds the white square), batched as `batching` says.
inline std::string models_yaml(const std::string& batching = "max_batch: 8, max_delay_us: 2000") {
  return "models:\n"
         "  - {name: probe, path: " +
         infer::test_model("probe.onnx") + ", decoder: end2end, classes: [a, b, c], " + batching +
         "}\n"
         "  - {name: squares, path: " +
         infer::test_model("centroid.onnx") +
         ", decoder: end2end, classes: [square], pad_value: 0}\n";
}

// A stream of the square clip, paced like a camera, looping; the squares model finds the square,
// and a line in the middle counts it with a snapshot and a clip (1 s either side) per event.
inline std::string square_stream(const std::string& name, const std::string& clip,
                                 const std::string& out_dir) {
  return "  - name: " + name + "\n    url: " + clip +
         "\n    loop: true\n    realtime: true\n"
         "    detector: {type: dnn, model: squares}\n"
         "    tracker: {type: sort, min_hits: 1}\n"
         "    rules:\n"
         "      - {name: middle, type: line, points: [[160, 0], [160, 240]], margin: 2}\n"
         "    outputs:\n"
         "      - {type: jsonl, path: " +
         out_dir + "/" + name +
         ".jsonl, snapshots: true, clips: true, pre_roll: 1, post_roll: 1}\n";
}

// models_yaml() and one stream, "cam", of `clip` (square_stream()'s, events kept under `out_dir`).
inline std::string cam_config(const std::string& clip, const std::string& out_dir) {
  return models_yaml() + "streams:\n" + square_stream("cam", clip, out_dir);
}

using testing::eventually;

struct HttpAnswer {
  int status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
  httplib::Headers headers;
  json parsed() const { return json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class ServeTest : public ::testing::Test {
 protected:
  // Writes `yaml` as the config and starts a Server on it (again, after a restart()).
  void start(const std::string& yaml, ServeOptions options = {}) {
    config_ = dir_.file("serve.yaml");
    std::ofstream(config_) << yaml;
    options.http.port = 0;
    options_ = options;
    start_again();
  }
  void start_again() {
    auto s = Server::start(config_, options_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
  }
  void restart() {
    server_.reset();
    start_again();
  }
  // Starts (or starts anew) a Server on cam_config(), its clip made once per test.
  void start_cam(ServeOptions options = {}) {
    if (clip_.empty()) clip_ = square_clip(dir_);
    server_.reset();
    start(cam_config(clip_, dir_.path()), options);
  }

  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    c->set_read_timeout(20, 0);
    c->set_connection_timeout(5, 0);
    if (!token_.empty()) c->set_bearer_token_auth(token_.c_str());
    return c;
  }
  static HttpAnswer answer(const httplib::Result& r) {
    if (!r) return {};
    return {r->status, r->body, r->headers};
  }
  HttpAnswer get(const std::string& path) const { return answer(client()->Get(path.c_str())); }
  HttpAnswer del(const std::string& path) const { return answer(client()->Delete(path.c_str())); }
  HttpAnswer post(const std::string& path, const std::string& body,
                  const std::string& type = "application/json",
                  const httplib::Headers& headers = {}) const {
    return answer(client()->Post(path.c_str(), headers, body, type.c_str()));
  }
  HttpAnswer put(const std::string& path, const std::string& body) const {
    return answer(client()->Put(path.c_str(), body, "application/json"));
  }

  // The stream's entry in GET /api/streams.
  json stream(const std::string& name) const {
    const json all = get("/api/streams").parsed();
    if (all.is_object() && all.contains("streams")) {
      for (const json& s : all["streams"]) {
        if (s["name"] == name) return s;
      }
    }
    return nullptr;
  }
  int64_t frames(const std::string& name) const {
    const json s = stream(name);
    return s.is_object() ? s["frames"].get<int64_t>() : -1;
  }

  testing::TempDir dir_;
  std::string clip_;  // square_clip(), once start_cam() made it
  std::string config_;
  ServeOptions options_;
  std::string token_;  // sent by client() when set
  std::unique_ptr<Server> server_;
};

}  // namespace iris::server
