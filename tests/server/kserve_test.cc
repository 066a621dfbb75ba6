// The KServe v2 / Triton HTTP protocol of iris serve, with real requests on a loopback port:
// health, metadata shapes, infer with JSON and binary tensors, the errors of the protocol, /detect,
// and HTTP samples batched in the same ModelServer as a camera's frames.
#include <gtest/gtest.h>

#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "serve_fixture.h"

namespace iris::server {
namespace {

constexpr int kSample = 3 * 64 * 64;  // values of one probe / centroid input

// An infer request for the probe: `batch` samples, sample i all of value values[i].
std::string probe_request(const std::vector<float>& values) {
  json data = json::array();
  for (float v : values) {
    for (int i = 0; i < kSample; ++i) data.push_back(v);
  }
  return json{{"id", "q1"},
              {"inputs",
               {{{"name", "images"},
                 {"shape", {values.size(), 3, 64, 64}},
                 {"datatype", "FP32"},
                 {"data", data}}}}}
      .dump();
}

class KserveTest : public ServeTest {
 protected:
  void SetUp() override { start_cam(); }
};

TEST_F(KserveTest, HealthAndServerMetadata) {
  EXPECT_EQ(get("/v2/health/live").status, 200);
  const HttpAnswer ready = get("/v2/health/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.parsed()["ready"], true);
  const json meta = get("/v2").parsed();
  EXPECT_EQ(meta["name"], "iris");
  EXPECT_EQ(meta["extensions"], json({"binary_tensor_data"}));
  const json index = post("/v2/repository/index", "").parsed();
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index[0]["name"], "probe");
  EXPECT_EQ(index[0]["state"], "READY");
}

TEST_F(KserveTest, ModelMetadataShowsNamesDatatypesAndShapes) {
  const HttpAnswer a = get("/v2/models/probe");
  ASSERT_EQ(a.status, 200) << a.body;
  const json meta = a.parsed();
  EXPECT_EQ(meta["name"], "probe");
  EXPECT_EQ(meta["versions"], json({"1"}));
  ASSERT_EQ(meta["inputs"].size(), 1u);
  EXPECT_EQ(meta["inputs"][0]["name"], "images");
  EXPECT_EQ(meta["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(meta["inputs"][0]["shape"], json({-1, 3, 64, 64}));  // the batch is free
  ASSERT_EQ(meta["outputs"].size(), 1u);
  EXPECT_EQ(meta["outputs"][0]["name"], "output0");
  EXPECT_EQ(meta["outputs"][0]["shape"], json({-1, 1, 6}));
  EXPECT_EQ(get("/v2/models/probe/versions/1").parsed(), meta);
  EXPECT_EQ(get("/v2/models/probe/ready").status, 200);
  EXPECT_EQ(get("/v2/models/probe/versions/1/ready").status, 200);

  const HttpAnswer unknown = get("/v2/models/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(contains(unknown.parsed()["error"], "unknown model 'nope'; this server has: probe"));
  EXPECT_EQ(get("/v2/models/nope/ready").status, 404);
  EXPECT_EQ(get("/v2/models/probe/versions/2").status, 404);
}

// Each answer holds its own sample's brightness: the probe's box starts at x = 60 * mean.
TEST_F(KserveTest, InferWithJsonTensors) {
  const HttpAnswer a = post("/v2/models/probe/infer", probe_request({0.25f, 0.5f, 1.0f}));
  ASSERT_EQ(a.status, 200) << a.body;
  const json r = a.parsed();
  EXPECT_EQ(r["model_name"], "probe");
  EXPECT_EQ(r["id"], "q1");
  ASSERT_EQ(r["outputs"].size(), 1u);
  const json& out = r["outputs"][0];
  EXPECT_EQ(out["name"], "output0");
  EXPECT_EQ(out["datatype"], "FP32");
  EXPECT_EQ(out["shape"], json({3, 1, 6}));
  ASSERT_EQ(out["data"].size(), 18u);
  for (int i = 0; i < 3; ++i) {
    const float mean = std::vector<float>{0.25f, 0.5f, 1.0f}[i];
    EXPECT_NEAR(out["data"][6 * i].get<double>(), 60 * mean, 1e-3) << "sample " << i;
    EXPECT_NEAR(out["data"][6 * i + 4].get<double>(), 0.9, 1e-6);
  }
  // Nested data is the same request.
  json nested = json::parse(probe_request({0.5f}));
  json rows = json::array();
  for (int c = 0; c < 3; ++c) {
    json plane = json::array();
    for (int y = 0; y < 64; ++y) plane.push_back(std::vector<float>(64, 0.5f));
    rows.push_back(plane);
  }
  nested["inputs"][0]["data"] = json::array({rows});
  const HttpAnswer n = post("/v2/models/probe/infer", nested.dump());
  ASSERT_EQ(n.status, 200) << n.body;
  EXPECT_NEAR(n.parsed()["outputs"][0]["data"][0].get<double>(), 30, 1e-3);
}

TEST_F(KserveTest, InferWithBinaryTensors) {
  // Two UINT8 samples in, the output as binary FP32 out.
  std::string raw(2 * kSample, '\0');
  std::memset(raw.data(), 51, kSample);             // mean 51: box at 3060
  std::memset(raw.data() + kSample, 102, kSample);  // mean 102: box at 6120
  const std::string head =
      json{{"inputs",
            {{{"name", "images"},
              {"shape", {2, 3, 64, 64}},
              {"datatype", "UINT8"},
              {"parameters", {{"binary_data_size", raw.size()}}}}}},
           {"outputs", {{{"name", "output0"}, {"parameters", {{"binary_data", true}}}}}}}
          .dump();
  const HttpAnswer a = post("/v2/models/probe/infer", head + raw, "application/octet-stream",
                            {{"Inference-Header-Content-Length", std::to_string(head.size())}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.header("Content-Type"), "application/octet-stream");
  const size_t header = std::stoul(a.header("Inference-Header-Content-Length"));
  const json meta = json::parse(a.body.substr(0, header));
  EXPECT_EQ(meta["outputs"][0]["shape"], json({2, 1, 6}));
  EXPECT_EQ(meta["outputs"][0]["parameters"]["binary_data_size"], 48);
  ASSERT_EQ(a.body.size(), header + 48);
  float values[12];
  std::memcpy(values, a.body.data() + header, sizeof values);
  EXPECT_NEAR(values[0], 60 * 51, 1e-2);
  EXPECT_NEAR(values[6], 60 * 102, 1e-2);
  EXPECT_NEAR(values[10], 0.9, 1e-6);

  // binary_data_output asks for every output as binary.
  json all = json::parse(probe_request({1.0f}));
  all["parameters"] = {{"binary_data_output", true}};
  const HttpAnswer b = post("/v2/models/probe/infer", all.dump());
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(b.header("Inference-Header-Content-Length").empty(), false);
}

TEST_F(KserveTest, ErrorsInTheProtocolsForm) {
  struct Case {
    std::string what, path, body;
    int status;
    std::string message;
  };
  json wrong_name = json::parse(probe_request({0.5f}));
  wrong_name["inputs"][0]["name"] = "pixels";
  json wrong_shape = json::parse(probe_request({0.5f}));
  wrong_shape["inputs"][0]["shape"] = {1, 3, 32, 128};
  json wrong_rank = json::parse(probe_request({0.5f}));
  wrong_rank["inputs"][0]["shape"] = {3, 64, 64};
  json wrong_type = json::parse(probe_request({0.5f}));
  wrong_type["inputs"][0]["datatype"] = "BOOL";
  json bad_output = json::parse(probe_request({0.5f}));
  bad_output["outputs"] = {{{"name", "boxes"}}};
  const std::vector<Case> cases = {
      {"bad JSON", "/v2/models/probe/infer", "{\"inputs\": [", 400, "not valid JSON"},
      {"unknown model", "/v2/models/nope/infer", probe_request({0.5f}), 404, "unknown model"},
      {"unknown input", "/v2/models/probe/infer", wrong_name.dump(), 400,
       "has no input 'pixels'; its input is 'images'"},
      {"wrong shape", "/v2/models/probe/infer", wrong_shape.dump(), 400,
       "has shape [1, 3, 32, 128]; model 'probe' takes [?, 3, 64, 64]"},
      {"wrong rank", "/v2/models/probe/infer", wrong_rank.dump(), 400, "takes [?, 3, 64, 64]"},
      {"wrong datatype", "/v2/models/probe/infer", wrong_type.dump(), 400,
       "datatype BOOL cannot feed"},
      {"unknown output", "/v2/models/probe/infer", bad_output.dump(), 400,
       "has no output 'boxes'; its outputs are 'output0'"},
      {"no such endpoint", "/v2/models/probe/explain", "{}", 404, "no such endpoint"},
  };
  for (const Case& c : cases) {
    const HttpAnswer a = post(c.path, c.body);
    EXPECT_EQ(a.status, c.status) << c.what << ": " << a.body;
    const json e = a.parsed();
    ASSERT_TRUE(e.is_object() && e["error"].is_string()) << c.what << ": " << a.body;
    EXPECT_TRUE(contains(e["error"], c.message)) << c.what;
  }
  const HttpAnswer wrong_method = get("/v2/models/probe/infer");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_TRUE(contains(wrong_method.parsed()["error"], "use POST"));
  const HttpAnswer bad_header =
      post("/v2/models/probe/infer", probe_request({0.5f}), "application/json",
           {{"Inference-Header-Content-Length", "ten"}});
  EXPECT_EQ(bad_header.status, 400);
}

TEST_F(KserveTest, DetectDecodesAPicture) {
  // A 64x64 black picture with a 16x16 white square at (20, 10): the centroid model's box.
  cv::Mat img(64, 64, CV_8UC3, cv::Scalar::all(0));
  cv::rectangle(img, cv::Point(20, 10), cv::Point(35, 25), cv::Scalar::all(255), cv::FILLED);
  std::vector<unsigned char> png;
  cv::imencode(".png", img, png);
  const HttpAnswer a =
      post("/v2/models/squares/detect", std::string(png.begin(), png.end()), "image/png");
  ASSERT_EQ(a.status, 200) << a.body;
  const json r = a.parsed();
  EXPECT_EQ(r["width"], 64);
  EXPECT_EQ(r["height"], 64);
  ASSERT_EQ(r["detections"].size(), 1u) << a.body;
  const json& d = r["detections"][0];
  EXPECT_EQ(d["label"], "square");
  const std::vector<double> box = d["box"];
  EXPECT_NEAR(box[0], 20, 0.5);
  EXPECT_NEAR(box[1], 10, 0.5);
  EXPECT_NEAR(box[2], 36, 0.5);
  EXPECT_NEAR(box[3], 26, 0.5);

  // The same picture as a JPEG: its size read from the frame header, its box nearly the same.
  std::vector<unsigned char> jpeg;
  cv::imencode(".jpg", img, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  const HttpAnswer j =
      post("/v2/models/squares/detect", std::string(jpeg.begin(), jpeg.end()), "image/jpeg");
  ASSERT_EQ(j.status, 200) << j.body;
  ASSERT_EQ(j.parsed()["detections"].size(), 1u) << j.body;
  const std::vector<double> jbox = j.parsed()["detections"][0]["box"];
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(jbox[i], box[i], 1.5) << i;

  const HttpAnswer text = post("/v2/models/squares/detect", "hello", "text/plain");
  EXPECT_EQ(text.status, 415);
  EXPECT_TRUE(contains(text.parsed()["error"], "not a JPEG or PNG"));
  const std::string truncated(png.begin(), png.begin() + 40);
  EXPECT_EQ(post("/v2/models/squares/detect", truncated, "image/png").status, 400);
  // A PNG header that claims 100000 x 100000 pixels is refused before anything is allocated.
  std::string huge(png.begin(), png.end());
  const unsigned char size[8] = {0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0};
  std::memcpy(huge.data() + 16, size, 8);
  const HttpAnswer bomb = post("/v2/models/squares/detect", huge, "image/png");
  EXPECT_EQ(bomb.status, 400);
  EXPECT_TRUE(contains(bomb.parsed()["error"], "over the limit"));
  EXPECT_EQ(post("/v2/models/nope/detect", truncated, "image/png").status, 404);
}

// A body over the limit is refused from its Content-Length, before it is read.
TEST_F(KserveTest, HugeBodyIs413) {
  ServeOptions options;
  options.http.max_body = 1 << 20;
  start_cam(options);
  const HttpAnswer a = post("/v2/models/probe/infer", std::string(2 << 20, ' '));
  EXPECT_EQ(a.status, 413);
  EXPECT_TRUE(contains(a.parsed()["error"], "larger than the server's limit of 1048576 bytes"));
  // The server goes on answering.
  EXPECT_EQ(post("/v2/models/probe/infer", probe_request({0.5f})).status, 200);
}

// A camera frame waits for its batch to fill (max_delay 10 s); an HTTP sample completes it: one
// batch of two.
using KserveBatching = ServeTest;
TEST_F(KserveBatching, HttpSamplesJoinTheCamerasBatches) {
  start(models_yaml("max_batch: 2, max_delay_us: 10000000") + "streams:\n" +
        "  - {name: cam, url: " + square_clip(dir_) +
        ", loop: true, realtime: true, detector: {type: dnn, model: probe}}\n");
  auto probe_stats = [&] {
    for (const auto& m : server_->engine().model_stats()) {
      if (m.name == "probe") return m.stats;
    }
    return infer::ServerStats{};
  };
  ASSERT_TRUE(eventually([&] { return probe_stats().queued == 1; }));
  const HttpAnswer a = post("/v2/models/probe/infer", probe_request({0.5f}));
  ASSERT_NE(a.status, 0) << "no answer";
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(probe_stats().batch_sizes[2], 1) << "the HTTP sample ran with the camera's frame";
}

}  // namespace
}  // namespace iris::server
