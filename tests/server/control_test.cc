// The control API of iris serve with real requests: streams listed, added, paused, resumed and
// removed while the others run; rules read and replaced live; every change kept across a restart
// of the server; the latest frame, the annotated MJPEG view, event snapshots and clips by id, and
// the token.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "serve_fixture.h"
#include "video/source.h"

namespace iris::server {
namespace {

class ControlTest : public ServeTest {
 protected:
  void SetUp() override { start_cam(); }
  // A stream body for POST /api/streams.
  json stream_body(const std::string& name) const {
    return {{"name", name},
            {"url", clip_},
            {"loop", true},
            {"realtime", true},
            {"detector", {{"type", "dnn"}, {"model", "squares"}}},
            {"rules",
             {{{"name", "door"}, {"type", "zone"}, {"polygon", {{0, 0}, {80, 0}, {80, 80}}}}}}};
  }
  bool frames_grow(const std::string& name) const {
    const int64_t before = frames(name);
    return eventually([&] { return frames(name) > before; });
  }
  // The stream's frame count stops changing (a paused stream, once its queued frames are done).
  bool frames_hold(const std::string& name) const {
    return eventually([&] {
      const int64_t before = frames(name);
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      return frames(name) == before;
    });
  }
};

TEST_F(ControlTest, ListsStreamsWithStateAndCounts) {
  ASSERT_TRUE(frames_grow("cam"));
  const json s = stream("cam");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["state"], "live");
  EXPECT_EQ(s["width"], 320);
  EXPECT_EQ(s["height"], 240);
  EXPECT_EQ(s["dropped"], 0);
  EXPECT_EQ(s["reconnects"], 0);
  EXPECT_EQ(s["decode_errors"], 0);
  EXPECT_TRUE(s["counters"].contains("events_by_rule"));
  EXPECT_TRUE(eventually([&] { return stream("cam")["fps"].get<double>() > 0; }));
  EXPECT_EQ(get("/api/streams/cam").parsed()["name"], "cam");
  EXPECT_EQ(get("/api/streams/nope").status, 404);
}

TEST_F(ControlTest, AddPauseResumeRemoveWhileTheOthersRun) {
  const HttpAnswer added = post("/api/streams", stream_body("cam2").dump());
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_TRUE(frames_grow("cam2"));

  ASSERT_EQ(post("/api/streams/cam2/pause", "").status, 200);
  EXPECT_EQ(stream("cam2")["state"], "paused");
  EXPECT_TRUE(frames_hold("cam2"));
  EXPECT_TRUE(frames_grow("cam")) << "the other stream kept running";
  ASSERT_EQ(post("/api/streams/cam2/resume", "").status, 200);
  EXPECT_TRUE(frames_grow("cam2"));
  EXPECT_EQ(post("/api/streams/cam2/resume", "").status, 409);  // not paused

  const HttpAnswer removed = del("/api/streams/cam2");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_TRUE(stream("cam2").is_null());
  EXPECT_EQ(get("/api/streams/cam2/rules").status, 404);
  EXPECT_TRUE(frames_grow("cam"));
}

TEST_F(ControlTest, BadChangesAreRefusedWithTheReason) {
  json body = stream_body("cam3");
  body["rules"][0]["polygon"] = {{0, 0}, {1, 1}};
  body["detector"]["model"] = "nope";
  const HttpAnswer bad = post("/api/streams", body.dump());
  EXPECT_EQ(bad.status, 400);
  const std::string error = bad.parsed()["error"];
  EXPECT_TRUE(contains(error, "rules[0].polygon: has 2 point(s)")) << error;
  EXPECT_TRUE(contains(error, "nope")) << error;
  EXPECT_TRUE(contains(error, "request:1:")) << "errors point into the body";

  EXPECT_TRUE(contains(post("/api/streams", "{\"name\": ").parsed()["error"], "not valid JSON"));
  EXPECT_EQ(post("/api/streams", "[1]").status, 400);
  const HttpAnswer twice = post("/api/streams", stream_body("cam").dump());
  EXPECT_EQ(twice.status, 409);
  EXPECT_TRUE(contains(twice.parsed()["error"], "'cam' exists already"));
  // Another stream may not write the file this one writes.
  json clash = stream_body("cam4");
  clash["outputs"] = {{{"type", "jsonl"}, {"path", dir_.file("cam.jsonl")}}};
  const HttpAnswer clashing = post("/api/streams", clash.dump());
  EXPECT_EQ(clashing.status, 400);
  EXPECT_TRUE(contains(clashing.parsed()["error"], "written by stream 'cam'"));

  EXPECT_EQ(del("/api/streams/nope").status, 404);
  EXPECT_EQ(post("/api/streams/nope/pause", "").status, 404);
  EXPECT_TRUE(stream("cam3").is_null());
  EXPECT_EQ(get("/api/streams").parsed()["streams"].size(), 1u);
}

TEST_F(ControlTest, ModelsAloneServeAndStreamsCanBeAddedLater) {
  server_.reset();
  clip_ = square_clip(dir_);
  start(models_yaml());
  EXPECT_TRUE(get("/api/streams").parsed()["streams"].empty());
  EXPECT_EQ(get("/v2/models/squares/ready").status, 200);
  ASSERT_EQ(post("/api/streams", stream_body("later").dump()).status, 201);
  EXPECT_TRUE(frames_grow("later"));
  // The added stream is kept in the state file: it comes back with the restart.
  restart();
  EXPECT_TRUE(frames_grow("later"));
}

TEST_F(ControlTest, RulesAreReadAndReplacedLive) {
  const json rules = get("/api/streams/cam/rules").parsed();
  ASSERT_EQ(rules["rules"].size(), 1u);
  EXPECT_EQ(rules["rules"][0]["name"], "middle");
  EXPECT_EQ(rules["rules"][0]["type"], "line");
  EXPECT_EQ(rules["rules"][0]["points"], json({{160, 0}, {160, 240}}));
  EXPECT_EQ(rules["rules"][0]["margin"], 2);

  const json replacement = {
      {"rules",
       {{{"name", "left"}, {"type", "line"}, {"points", {{100, 0}, {100, 240}}}},
        {{"name", "right"},
         {"type", "zone"},
         {"polygon", {{200, 0}, {320, 0}, {320, 240}, {200, 240}}}}}}};
  const HttpAnswer put_answer = put("/api/streams/cam/rules", replacement.dump());
  ASSERT_EQ(put_answer.status, 200) << put_answer.body;
  EXPECT_EQ(get("/api/streams/cam/rules").parsed()["rules"], replacement["rules"]);
  // The new rules run: the square crosses the new line and enters the new zone.
  EXPECT_TRUE(eventually([&] {
    const json by_rule = stream("cam")["counters"]["events_by_rule"];
    return by_rule.contains("left") && by_rule.contains("right");
  }));
  EXPECT_TRUE(eventually([&] {
    return contains(get("/metrics").body,
                    "iris_line_crossings_total{stream=\"cam\",line=\"left\",direction=\"A->B\","
                    "class=\"square\"}");
  }));

  const HttpAnswer bad = put("/api/streams/cam/rules", R"([{"name": "x", "type": "line"}])");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(contains(bad.parsed()["error"], "points"));
  EXPECT_EQ(put("/api/streams/cam/rules", R"({"rules": 5})").status, 400);
  EXPECT_EQ(put("/api/streams/nope/rules", "[]").status, 404);
  EXPECT_EQ(get("/api/streams/cam/rules").parsed()["rules"], replacement["rules"]);
}

TEST_F(ControlTest, ChangesSurviveARestart) {
  ASSERT_EQ(post("/api/streams", stream_body("cam2").dump()).status, 201);
  ASSERT_EQ(post("/api/streams/cam2/pause", "").status, 200);
  const json rules =
      json::array({{{"name", "top"}, {"type", "line"}, {"points", {{0, 60}, {320, 60}}}}});
  ASSERT_EQ(put("/api/streams/cam/rules", rules.dump()).status, 200);
  EXPECT_EQ(server_->state_path(), config_ + ".state.json");

  restart();
  EXPECT_EQ(stream("cam2")["state"], "paused");
  EXPECT_EQ(frames("cam2"), 0) << "a paused stream reads nothing after a restart";
  EXPECT_EQ(get("/api/streams/cam/rules").parsed()["rules"], rules);
  EXPECT_EQ(get("/api/streams/cam2/rules").parsed()["rules"], stream_body("cam2")["rules"]);
  EXPECT_TRUE(frames_grow("cam"));

  // A stream of the config file removed through the API stays removed; the added one resumes.
  ASSERT_EQ(del("/api/streams/cam").status, 200);
  ASSERT_EQ(post("/api/streams/cam2/resume", "").status, 200);
  restart();
  const json all = get("/api/streams").parsed()["streams"];
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["name"], "cam2");
  EXPECT_TRUE(frames_grow("cam2"));
}

TEST_F(ControlTest, LatestFrameAsJpeg) {
  ASSERT_TRUE(frames_grow("cam"));
  const HttpAnswer a = get("/api/streams/cam/frame.jpg");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.header("Content-Type"), "image/jpeg");
  const cv::Mat img =
      cv::imdecode(std::vector<unsigned char>(a.body.begin(), a.body.end()), cv::IMREAD_COLOR);
  EXPECT_EQ(img.cols, 320);
  EXPECT_EQ(img.rows, 240);
  EXPECT_EQ(get("/api/streams/nope/frame.jpg").status, 404);
}

TEST_F(ControlTest, LiveViewIsAnMjpegStreamOfAnnotatedFrames) {
  std::string content_type;
  std::string data;
  size_t parts = 0;
  auto c = client();
  c->Get(
      "/api/streams/cam/live.mjpg",
      [&](const httplib::Response& r) {
        content_type = r.get_header_value("Content-Type");
        return r.status == 200;
      },
      [&](const char* bytes, size_t n) {
        data.append(bytes, n);
        parts = 0;
        for (size_t at = data.find("--irisframe"); at != std::string::npos;
             at = data.find("--irisframe", at + 1)) {
          ++parts;
        }
        return parts < 5;  // the fifth boundary: four whole parts before it
      });
  EXPECT_EQ(content_type, "multipart/x-mixed-replace; boundary=irisframe");
  ASSERT_GE(parts, 5u);
  // Every whole part is a JPEG of the frame size.
  size_t at = data.find("--irisframe");
  for (int i = 0; i < 4; ++i) {
    const size_t body = data.find("\r\n\r\n", at) + 4;
    const size_t length_at = data.find("Content-Length: ", at) + 16;
    const size_t length = std::stoul(data.substr(length_at, data.find("\r\n", length_at)));
    const std::string jpeg = data.substr(body, length);
    const cv::Mat img =
        cv::imdecode(std::vector<unsigned char>(jpeg.begin(), jpeg.end()), cv::IMREAD_COLOR);
    EXPECT_EQ(img.cols, 320) << "part " << i;
    at = data.find("--irisframe", body + length);
  }
  EXPECT_EQ(get("/api/streams/nope/live.mjpg").status, 404);
}

TEST_F(ControlTest, SnapshotsByEventIdAndNothingElse) {
  // The square crosses the line once a loop; its event names its snapshot.
  std::string id;
  ASSERT_TRUE(eventually([&] {
    for (const std::string& line : testing::read_lines(dir_.file("cam.jsonl"))) {
      const json e = json::parse(line, nullptr, false);  // the last line may be half written
      if (e.is_object() && e.contains("snapshot")) id = e["id"];
    }
    return !id.empty();
  }));
  const HttpAnswer a = get("/api/events/" + id + "/snapshot.jpg");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.header("Content-Type"), "image/jpeg");
  EXPECT_EQ(a.body, testing::read_file(dir_.file("snapshots/" + id + ".jpg")));

  for (const std::string& bad :
       {std::string("..%2F..%2Fetc%2Fpasswd"), std::string("%2Fetc%2Fpasswd"),
        std::string("..%2Fcam.jsonl"), std::string(26, '.'), "0" + id.substr(1, 24) + "I"}) {
    const HttpAnswer b = get("/api/events/" + bad + "/snapshot.jpg");
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_TRUE(contains(b.body, "is not an event id")) << bad;
  }
  EXPECT_EQ(get("/api/events/../../etc/passwd/snapshot.jpg").status, 404);
  EXPECT_EQ(get("/api/events/01ARZ3NDEKTSV4RRFFQ69G5FAV/snapshot.jpg").status, 404);
}

TEST_F(ControlTest, ClipsByEventIdOnceRecorded) {
  std::string id;
  ASSERT_TRUE(eventually([&] {
    for (const std::string& line : testing::read_lines(dir_.file("cam.jsonl"))) {
      const json e = json::parse(line, nullptr, false);
      if (e.is_object() && e.contains("clip")) {
        id = e["id"];
        EXPECT_EQ(e["clip"], dir_.file("clips/" + id + ".mp4"));
      }
    }
    return !id.empty();
  }));
  // Recorded up to a second of stream time after the event, then served.
  HttpAnswer a;
  ASSERT_TRUE(eventually([&] {
    a = get("/api/events/" + id + "/clip.mp4");
    return a.status != 503;
  }));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.header("Content-Type"), "video/mp4");
  EXPECT_EQ(a.body, testing::read_file(dir_.file("clips/" + id + ".mp4")));
  EXPECT_EQ(a.body.substr(4, 4), "ftyp");
  const std::string copy = dir_.file("copy.mp4");
  std::ofstream(copy, std::ios::binary) << a.body;
  auto clip = video::Source::open({.url = copy});
  ASSERT_TRUE(clip.ok()) << clip.status().message();
  int frames = 0;
  while (true) {
    auto f = (*clip)->read();
    ASSERT_TRUE(f.ok()) << f.status().message();
    if (!f->has_value()) break;
    ++frames;
  }
  EXPECT_GE(frames, 40);  // 1 s either side of the event at least, at the clip's 25 fps
  // Counted in the stream's stats and in /metrics.
  const json clips = get("/api/streams").parsed()["streams"][0]["clips"];
  EXPECT_GE(clips["written"].get<int>(), 1) << clips.dump();
  EXPECT_EQ(clips["failed"], 0) << clips.dump();
  EXPECT_GT(clips["buffered_bytes"].get<int>(), 0) << clips.dump();
  const std::string metrics = get("/metrics").body;
  EXPECT_TRUE(contains(metrics, "iris_event_clips_total{stream=\"cam\",result=\"written\"} "));
  EXPECT_TRUE(contains(metrics, "iris_clip_buffer_bytes{stream=\"cam\"} "));

  // One still being recorded says so, and when to ask again.
  const std::string pending = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
  std::ofstream(dir_.file("clips/" + pending + ".mp4.part"));
  const HttpAnswer b = get("/api/events/" + pending + "/clip.mp4");
  EXPECT_EQ(b.status, 503);
  EXPECT_EQ(b.header("Retry-After"), "2");
  EXPECT_TRUE(contains(b.body, "still being recorded")) << b.body;
  EXPECT_EQ(get("/api/events/01ARZ3NDEKTSV4RRFFQ69G5FAW/clip.mp4").status, 404);
  EXPECT_EQ(get("/api/events/nope/clip.mp4").status, 400);
}

TEST_F(ControlTest, TokenGuardsAllButHealth) {
  ServeOptions options;
  options.http.token = "s3cret";
  start_cam(options);
  for (const char* path : {"/api/streams", "/metrics", "/v2", "/v2/models/probe"}) {
    const HttpAnswer a = get(path);
    EXPECT_EQ(a.status, 401) << path;
    EXPECT_EQ(a.header("WWW-Authenticate"), "Bearer") << path;
    EXPECT_TRUE(contains(a.parsed()["error"], "Authorization: Bearer")) << path;
  }
  EXPECT_EQ(post("/api/streams", stream_body("cam2").dump()).status, 401);
  EXPECT_EQ(get("/v2/health/live").status, 200);
  EXPECT_EQ(get("/v2/health/ready").status, 200);
  token_ = "wrong";
  EXPECT_EQ(get("/api/streams").status, 401);
  token_ = "s3cret";
  EXPECT_EQ(get("/api/streams").status, 200);
  EXPECT_EQ(get("/metrics").status, 200);
  EXPECT_TRUE(stream("cam2").is_null()) << "the request without a token changed nothing";
}

}  // namespace
}  // namespace iris::server
