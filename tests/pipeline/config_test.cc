#include "pipeline/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "pipeline/config_test_support.h"

namespace iris::pipeline {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public VideoConfigTest {};

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n')) + 1;
}

TEST_F(ConfigTest, FullConfigParsesToExactValues) {
  const Result<PipelineSpec> result = parse(R"(defaults:
  loop: true
  timeout: 5
  detect_interval: 2
  detector: {type: motion, thumbnail_width: 160, threshold: 30, learning_rate: 0.5,
             min_area: 0.01, label: mover}
  tracker: {type: sort, max_age: 2.5, min_hits: 2, iou_threshold: 0.5}
streams:
  - name: lobby
    url: VIDEO
    rules:
      - name: entrance
        type: zone
        classes: [person, car]
        anchor: center
        units: normalized
        polygon: [[0, 0], [1, 0], [0.5, 1]]
        min_dwell: 1.5
      - name: door-line
        type: line
        anchor: top_center
        points: [[10, 300], [630, 310]]
        margin: 8
    outputs:
      - type: jsonl
        path: out/lobby/events.jsonl
        snapshots: true
        clips: true
        pre_roll: 3
      - type: mp4
        path: out/lobby/annotated.mp4
  - name: gate_2
    url: rtsp://camera.local/stream1
    loop: false
    realtime: true
    timeout: 0.25
    detect_interval: 1
    detector:
      type: hog
      upscale: 1.5
      hit_threshold: -0.5
      scale_step: 1.1
      stride: 4
      min_confidence: 0.25
      label: pedestrian
    tracker: {type: sort}
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const PipelineSpec& spec = *result;
  EXPECT_EQ(spec.source, "test.yaml");
  ASSERT_EQ(spec.streams.size(), 2u);

  const StreamSpec& lobby = spec.streams[0];
  EXPECT_EQ(lobby.name, "lobby");
  EXPECT_EQ(lobby.url, video_);
  EXPECT_TRUE(lobby.loop);
  EXPECT_FALSE(lobby.realtime);
  EXPECT_DOUBLE_EQ(lobby.timeout, 5);
  EXPECT_EQ(lobby.detect_interval, 2);
  ASSERT_TRUE(std::holds_alternative<detect::MotionSpec>(lobby.detector));
  const auto& motion = std::get<detect::MotionSpec>(lobby.detector);
  EXPECT_EQ(motion.thumbnail_width, 160);
  EXPECT_DOUBLE_EQ(motion.threshold, 30);
  EXPECT_DOUBLE_EQ(motion.learning_rate, 0.5);
  EXPECT_DOUBLE_EQ(motion.min_area, 0.01);
  EXPECT_EQ(motion.label, "mover");
  ASSERT_TRUE(std::holds_alternative<track::SortSpec>(lobby.tracker));
  const auto& lobby_sort = std::get<track::SortSpec>(lobby.tracker);
  EXPECT_DOUBLE_EQ(lobby_sort.max_age, 2.5);
  EXPECT_EQ(lobby_sort.min_hits, 2);
  EXPECT_DOUBLE_EQ(lobby_sort.iou_threshold, 0.5);

  ASSERT_EQ(lobby.rules.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<rules::ZoneSpec>(lobby.rules[0]));
  const auto& zone = std::get<rules::ZoneSpec>(lobby.rules[0]);
  EXPECT_EQ(zone.common.name, "entrance");
  EXPECT_EQ(zone.common.classes, (std::vector<std::string>{"person", "car"}));
  EXPECT_EQ(zone.common.anchor, Anchor::kCenter);
  EXPECT_TRUE(zone.common.normalized);
  EXPECT_EQ(zone.polygon, (std::vector<Point>{{0, 0}, {1, 0}, {0.5, 1}}));
  EXPECT_DOUBLE_EQ(zone.min_dwell, 1.5);
  EXPECT_DOUBLE_EQ(zone.exit_grace, 0.5);  // default
  ASSERT_TRUE(std::holds_alternative<rules::LineSpec>(lobby.rules[1]));
  const auto& line = std::get<rules::LineSpec>(lobby.rules[1]);
  EXPECT_EQ(line.common.name, "door-line");
  EXPECT_TRUE(line.common.classes.empty());
  EXPECT_EQ(line.common.anchor, Anchor::kTopCenter);
  EXPECT_FALSE(line.common.normalized);
  EXPECT_EQ(line.a, (Point{10, 300}));
  EXPECT_EQ(line.b, (Point{630, 310}));
  EXPECT_DOUBLE_EQ(line.margin, 8);

  ASSERT_EQ(lobby.jsonl.size(), 1u);
  EXPECT_EQ(lobby.jsonl[0].path, "out/lobby/events.jsonl");  // relative paths kept as written
  EXPECT_TRUE(lobby.jsonl[0].snapshots);
  EXPECT_TRUE(lobby.jsonl[0].clips);
  EXPECT_DOUBLE_EQ(lobby.jsonl[0].pre_roll, 3);
  EXPECT_DOUBLE_EQ(lobby.jsonl[0].post_roll, 5);  // default
  EXPECT_EQ(lobby.jsonl[0].clip_dir(), "out/lobby/clips");
  ASSERT_EQ(lobby.mp4.size(), 1u);
  EXPECT_EQ(lobby.mp4[0].path, "out/lobby/annotated.mp4");

  const StreamSpec& gate = spec.streams[1];
  EXPECT_EQ(gate.name, "gate_2");
  EXPECT_EQ(gate.url, "rtsp://camera.local/stream1");
  EXPECT_FALSE(gate.loop);
  EXPECT_TRUE(gate.realtime);
  EXPECT_DOUBLE_EQ(gate.timeout, 0.25);
  EXPECT_EQ(gate.detect_interval, 1);
  ASSERT_TRUE(std::holds_alternative<detect::HogSpec>(gate.detector));
  const auto& hog = std::get<detect::HogSpec>(gate.detector);
  EXPECT_DOUBLE_EQ(hog.upscale, 1.5);
  EXPECT_DOUBLE_EQ(hog.hit_threshold, -0.5);
  EXPECT_DOUBLE_EQ(hog.scale_step, 1.1);
  EXPECT_EQ(hog.stride, 4);
  EXPECT_DOUBLE_EQ(hog.min_confidence, 0.25);
  EXPECT_EQ(hog.label, "pedestrian");
  // The stream's tracker replaces the defaults' one as a whole: unset keys take SortSpec's values.
  const auto& gate_sort = std::get<track::SortSpec>(gate.tracker);
  EXPECT_DOUBLE_EQ(gate_sort.max_age, track::SortSpec{}.max_age);
  EXPECT_EQ(gate_sort.min_hits, track::SortSpec{}.min_hits);
  EXPECT_DOUBLE_EQ(gate_sort.iou_threshold, track::SortSpec{}.iou_threshold);
  EXPECT_TRUE(gate.rules.empty());
  EXPECT_TRUE(gate.jsonl.empty());
  EXPECT_TRUE(gate.mp4.empty());
}

TEST_F(ConfigTest, MinimalStreamTakesDocumentedDefaults) {
  const Result<PipelineSpec> result = parse(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const StreamSpec& s = result->streams.at(0);
  const StreamSpec expected;
  EXPECT_EQ(s.loop, expected.loop);
  EXPECT_EQ(s.realtime, expected.realtime);
  EXPECT_DOUBLE_EQ(s.timeout, expected.timeout);
  EXPECT_EQ(s.detect_interval, expected.detect_interval);
  const detect::HogSpec hog_defaults;
  const auto& hog = std::get<detect::HogSpec>(s.detector);
  EXPECT_DOUBLE_EQ(hog.upscale, hog_defaults.upscale);
  EXPECT_DOUBLE_EQ(hog.hit_threshold, hog_defaults.hit_threshold);
  EXPECT_DOUBLE_EQ(hog.scale_step, hog_defaults.scale_step);
  EXPECT_EQ(hog.stride, hog_defaults.stride);
  EXPECT_DOUBLE_EQ(hog.min_confidence, hog_defaults.min_confidence);
  EXPECT_EQ(hog.label, hog_defaults.label);
  ASSERT_TRUE(std::holds_alternative<track::SortSpec>(s.tracker));
  EXPECT_DOUBLE_EQ(std::get<track::SortSpec>(s.tracker).max_age, track::SortSpec{}.max_age);
  EXPECT_EQ(std::get<track::SortSpec>(s.tracker).min_hits, track::SortSpec{}.min_hits);
  EXPECT_TRUE(s.rules.empty());
}

TEST_F(ConfigTest, RuleDefaults) {
  const Result<PipelineSpec> result = parse(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: motion}
    rules:
      - {name: z, type: zone, polygon: [[0, 0], [10, 0], [10, 10]]}
      - {name: l, type: line, points: [[0, 5], [10, 5]]}
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const auto& zone = std::get<rules::ZoneSpec>(result->streams[0].rules.at(0));
  EXPECT_EQ(zone.common.anchor, Anchor::kBottomCenter);
  EXPECT_FALSE(zone.common.normalized);
  EXPECT_TRUE(zone.common.classes.empty());
  EXPECT_DOUBLE_EQ(zone.min_dwell, rules::ZoneSpec{}.min_dwell);
  EXPECT_DOUBLE_EQ(zone.exit_grace, rules::ZoneSpec{}.exit_grace);
  const auto& line = std::get<rules::LineSpec>(result->streams[0].rules.at(1));
  EXPECT_DOUBLE_EQ(line.margin, rules::LineSpec{}.margin);
  const auto& motion = std::get<detect::MotionSpec>(result->streams[0].detector);
  EXPECT_EQ(motion.thumbnail_width, detect::MotionSpec{}.thumbnail_width);
  EXPECT_EQ(motion.label, detect::MotionSpec{}.label);
}

TEST_F(ConfigTest, StreamValueReplacesDefaultsValueWhole) {
  const Result<PipelineSpec> result = parse(R"(defaults:
  detector: {type: motion, threshold: 40, label: thing}
  realtime: true
streams:
  - name: a
    url: VIDEO
  - name: b
    url: VIDEO
    realtime: false
    detector: {type: motion, min_area: 0.05}
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const auto& a = std::get<detect::MotionSpec>(result->streams.at(0).detector);
  EXPECT_DOUBLE_EQ(a.threshold, 40);
  EXPECT_EQ(a.label, "thing");
  EXPECT_TRUE(result->streams[0].realtime);
  const auto& b = std::get<detect::MotionSpec>(result->streams.at(1).detector);
  EXPECT_DOUBLE_EQ(b.min_area, 0.05);
  EXPECT_DOUBLE_EQ(b.threshold, detect::MotionSpec{}.threshold);  // not merged from defaults
  EXPECT_EQ(b.label, detect::MotionSpec{}.label);
  EXPECT_FALSE(result->streams[1].realtime);
}

TEST_F(ConfigTest, UrlsAreNotCheckedOnDisk) {
  const Result<PipelineSpec> result = parse(R"(defaults: {detector: {type: hog}}
streams:
  - {name: a, url: "http://example.com/a.mjpg"}
  - {name: b, url: "https://example.com/b.m3u8"}
  - {name: c, url: "rtsp://user:pw@10.0.0.2:554/h264"}
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->streams.size(), 3u);
}

TEST_F(ConfigTest, DebianSampleFootageIsAValidUrl) {
  const std::string vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
  if (!fs::exists(vtest)) GTEST_SKIP() << vtest << " is not installed";
  const Result<PipelineSpec> result =
      parse("streams: [{name: v, url: " + vtest + ", detector: {type: hog}}]\n");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->streams[0].url, vtest);
}

TEST_F(ConfigTest, UnknownKeySuggestsTheClosestAndListsAllowed) {
  const std::string message = errors(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
    rules:
      - name: a
        type: zone
        polygon: [[0, 0], [10, 0], [10, 10]]
      - name: b
        type: zone
        polygn: [[0, 0], [10, 0], [10, 10]]
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:11:9: streams[0].rules[1].polygn: unknown key 'polygn' "
                       "in streams[0].rules[1] (did you mean 'polygon'?); allowed "
                       "keys: name, type, classes, anchor, units, polygon, min_dwell, "
                       "exit_grace"));
  // The zone without its polygon is reported too.
  EXPECT_TRUE(contains(message,
                       "test.yaml:9:9: streams[0].rules[1].polygon: missing required "
                       "key 'polygon'"));
}

TEST_F(ConfigTest, UnknownKeyWithoutCloseMatchHasNoSuggestion) {
  const std::string message = errors(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
    colour: blue
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:5:5: streams[0].colour: unknown key 'colour' in "
                       "streams[0]; allowed keys: name, url,"));
  EXPECT_FALSE(contains(message, "did you mean"));
}

TEST_F(ConfigTest, UnknownTopLevelAndDefaultsKeys) {
  const std::string message = errors(R"(defaults:
  url: VIDEO
  detector: {type: hog}
stream:
  - name: cam
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:2:3: defaults.url: unknown key 'url' in defaults; "
                       "allowed keys: loop, realtime, timeout, rtsp_transport, reconnect, "
                       "stall_after, keyframes_only, max_fps, emulate_live, detect_interval, gate, "
                       "detector, secondary, tracker"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:4:1: stream: unknown key 'stream' at the top level "
                       "(did you mean 'streams'?)"));
  EXPECT_TRUE(contains(message, "test.yaml:1:1: streams: missing required key 'streams'"));
}

TEST_F(ConfigTest, KeyOfTheOtherVariantSaysWhy) {
  const std::string message = errors(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog, learning_rate: 0.1}
    rules:
      - name: l
        type: line
        points: [[0, 0], [10, 0]]
        exit_grace: 1
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:4:27: streams[0].detector.learning_rate: key "
                       "'learning_rate' does not apply in streams[0].detector: it is a "
                       "motion detector key and this one has type: hog; allowed keys: "
                       "type, upscale,"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:9:9: streams[0].rules[0].exit_grace: key "
                       "'exit_grace' does not apply in streams[0].rules[0]: it is a zone "
                       "rule key and this one has type: line; allowed keys: name, type, "
                       "classes, anchor, units, points, margin"));
}

TEST_F(ConfigTest, ClipLengthsNeedClipsAndAreBounded) {
  const std::string base =
      "streams:\n  - name: a\n    url: VIDEO\n    detector: {type: motion}\n    outputs:\n"
      "      - {type: jsonl, path: out/a.jsonl, ";
  std::string e = errors(base + "post_roll: 2}\n");
  EXPECT_TRUE(contains(e, "test.yaml:6:")) << e;
  EXPECT_TRUE(contains(e, "post_roll is the length of event clips; add clips: true")) << e;
  e = errors(base + "clips: true, pre_roll: 61}\n");
  EXPECT_TRUE(contains(e, "pre_roll")) << e;
  EXPECT_TRUE(contains(e, "in [0, 60]")) << e;
  EXPECT_TRUE(contains(errors(base + "clips: true, post_roll: -1}\n"), "post_roll"));
  EXPECT_TRUE(parse(base + "clips: true, pre_roll: 0, post_roll: 60}\n").ok());
}

TEST_F(ConfigTest, DuplicateKeyReportsBothLines) {
  const std::string message = errors(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
    timeout: 5
    loop: true
    timeout: 7
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:7:5: streams[0].timeout: duplicate key 'timeout' "
                       "(first given at test.yaml:5:5); give each key once"));
}

TEST_F(ConfigTest, WrongTypes) {
  const std::string message = errors(R"(streams:
  - name: cam
    url: VIDEO
    timeout: abc
    loop: yes
    realtime: "false"
    detect_interval: 2.5
    detector: {type: motion, thumbnail_width: "64"}
    rules:
      - name: z
        type: zone
        classes: person
        polygon: 5
      - name: l
        type: line
        points: [[0, 0], [1, 2, 3]]
      - name: m
        type: line
        points: [[0, 0], [x, 1]]
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:4:14: streams[0].timeout: expected a number, got "
                       "'abc'; write e.g. 10 or 0.5"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:5:11: streams[0].loop: expected a boolean, got 'yes'; "
                       "write true or false"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:6:15: streams[0].realtime: expected a boolean, got "
                       "the quoted string 'false'; remove the quotes"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:7:22: streams[0].detect_interval: expected a whole "
                       "number, got '2.5'"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:8:47: streams[0].detector.thumbnail_width: expected "
                       "a whole number, got the quoted string '64'; remove the quotes"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:12:18: streams[0].rules[0].classes: expected a list, "
                       "got 'person'; write e.g. classes: [person, car]"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:13:18: streams[0].rules[0].polygon: expected a list "
                       "of [x, y] points, got '5'; write e.g. polygon: [[0, 0], "
                       "[100, 0], [100, 100]]"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:16:26: streams[0].rules[1].points[1]: expected a "
                       "point [x, y], got a list of 3 values; write two numbers, e.g. "
                       "[120, 40]"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:19:27: streams[0].rules[2].points[1][0]: expected a "
                       "number, got 'x'"));
}

TEST_F(ConfigTest, EmptyValuePointsAtItsKey) {
  const std::string message = errors(R"(streams:
  - name: cam
    url: VIDEO
    detector:
    tracker: {type: sort}
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:4:5: streams[0].detector: expected a map of key: "
                       "value pairs, got nothing"));
}

TEST_F(ConfigTest, MissingRequiredKeys) {
  const std::string message = errors(R"(streams:
  - loop: true
    rules:
      - type: zone
      - name: l
        type: line
      - name: t
    outputs:
      - type: jsonl
      - path: out/x.jsonl
    tracker: {max_age: 2}
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:2:5: streams[0].name: missing required key 'name'; "
                       "give the stream a unique name"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:2:5: streams[0].url: missing required key 'url'; give "
                       "a path to a video file or an http://, https:// or rtsp:// URL"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:2:5: streams[0].detector: missing required key "
                       "'detector'; add e.g. detector: {type: hog} here or under "
                       "defaults:"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:4:9: streams[0].rules[0].name: missing required key "
                       "'name'"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:4:9: streams[0].rules[0].polygon: missing required "
                       "key 'polygon'; a zone needs at least 3 [x, y] points"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:5:9: streams[0].rules[1].points: missing required key "
                       "'points'; a line needs its 2 endpoints"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:7:9: streams[0].rules[2].type: missing required key "
                       "'type'; choose one of: zone, line"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:9:9: streams[0].outputs[0].path: missing required key "
                       "'path'; give the file to write, e.g. path: out/events.jsonl"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:10:9: streams[0].outputs[1].type: missing required "
                       "key 'type'; choose one of: jsonl, mp4"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:11:14: streams[0].tracker.type: missing required key "
                       "'type'; choose one of: sort, bytetrack"));
}

TEST_F(ConfigTest, DetectorInDefaultsSatisfiesEveryStream) {
  EXPECT_TRUE(parse("defaults: {detector: {type: hog}}\nstreams: [{name: a, url: VIDEO}]\n").ok());
}

TEST_F(ConfigTest, AServerMayHaveModelsAndNoStreams) {
  const std::string models = "models:\n  - {name: m, path: " + video_ + ", decoder: yolov8}\n";
  const auto spec = parse_config(models, "serve.yaml", Needs::kStreamsOrModels);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_TRUE(spec->streams.empty());
  ASSERT_EQ(spec->models.size(), 1u);
  EXPECT_TRUE(parse_config(models + "streams: []\n", "serve.yaml", Needs::kStreamsOrModels).ok());
  // iris run has nothing to run.
  EXPECT_TRUE(contains(errors(models), "missing required key 'streams'"));
  // Nothing at all to serve.
  const auto nothing =
      parse_config("events: {log: out/log}\n", "serve.yaml", Needs::kStreamsOrModels);
  ASSERT_FALSE(nothing.ok());
  EXPECT_TRUE(contains(nothing.status().message(), "or models: to serve"));
  EXPECT_TRUE(contains(parse_config("", "s.yaml", Needs::kStreamsOrModels).status().message(),
                       "it needs a streams: list or models: to serve"));
}

TEST_F(ConfigTest, EmptyOrMissingStreams) {
  EXPECT_TRUE(contains(errors("streams: []\n"),
                       "test.yaml:1:10: streams: the list is empty; add at least one stream"));
  EXPECT_TRUE(contains(errors("defaults: {loop: true}\n"),
                       "test.yaml:1:1: streams: missing required key 'streams'; add a streams: "
                       "list"));
  EXPECT_TRUE(contains(errors(""),
                       "test.yaml:1:1: the config is empty; it needs a streams: "
                       "list"));
  EXPECT_TRUE(contains(errors("# only a comment\n"), "the config is empty"));
  EXPECT_TRUE(contains(errors("- a\n- b\n"),
                       "test.yaml:1:1: expected a map of key: value pairs, got a list"));
  EXPECT_TRUE(contains(errors("streams: {name: a}\n"),
                       "test.yaml:1:10: streams: expected a list, got a map"));
}

TEST_F(ConfigTest, DuplicateStreamAndRuleNames) {
  const std::string message = errors(R"(defaults: {detector: {type: hog}}
streams:
  - name: cam
    url: VIDEO
    rules:
      - {name: door, type: line, points: [[0, 0], [10, 0]]}
      - {name: door, type: line, points: [[0, 0], [0, 0]]}
  - name: cam
    url: VIDEO
    rules:
      - {name: door, type: line, points: [[0, 0], [10, 0]]}
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:7:16: streams[0].rules[1].name: duplicate rule name "
                       "'door' (first given at test.yaml:6:16); rule names must be "
                       "unique within a stream"));
  // The invalid duplicate is still reported for its own problem.
  EXPECT_TRUE(contains(message, "streams[0].rules[1].points: both endpoints are [0, 0]"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:8:11: streams[1].name: duplicate stream name 'cam' "
                       "(first given at test.yaml:3:11); stream names must be unique"));
  // The same rule name in another stream is fine.
  EXPECT_FALSE(contains(message, "streams[1].rules[0]"));
}

TEST_F(ConfigTest, StreamNameCharacters) {
  EXPECT_TRUE(contains(errors("streams: [{name: front door, url: VIDEO, detector: {type: hog}}]\n"),
                       "test.yaml:1:18: streams[0].name: 'front door' may only have letters, "
                       "digits, '_' and '-'"));
  EXPECT_TRUE(contains(errors("streams: [{name: 'cam/1', url: VIDEO, detector: {type: hog}}]\n"),
                       "streams[0].name: 'cam/1' may only have letters"));
  EXPECT_TRUE(contains(errors("streams: [{name: '', url: VIDEO, detector: {type: hog}}]\n"),
                       "streams[0].name: the value is empty; give a non-empty string"));
}

TEST_F(ConfigTest, PolygonChecks) {
  const std::string message = errors(R"(defaults: {detector: {type: hog}}
streams:
  - name: cam
    url: VIDEO
    rules:
      - name: two
        type: zone
        polygon: [[0, 0], [10, 0]]
      - name: repeat
        type: zone
        polygon: [[0, 0], [10, 0], [10, 0], [10, 10]]
      - name: closed
        type: zone
        polygon: [[0, 0], [10, 0], [10, 10], [0, 0]]
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:8:18: streams[0].rules[0].polygon: has 2 point(s); a "
                       "zone needs at least 3, e.g. polygon: [[0, 0], [100, 0], "
                       "[100, 100]]"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:11:36: streams[0].rules[1].polygon[2]: point 2 "
                       "repeats point 1 [10, 0]; remove one of them"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:14:46: streams[0].rules[2].polygon[3]: the last point "
                       "repeats the first; the polygon closes itself, drop the last "
                       "point"));
}

TEST_F(ConfigTest, LineChecks) {
  const std::string message = errors(R"(defaults: {detector: {type: hog}}
streams:
  - name: cam
    url: VIDEO
    rules:
      - name: same
        type: line
        points: [[5, 5], [5, 5]]
      - name: three
        type: line
        points: [[0, 0], [1, 1], [2, 2]]
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:8:17: streams[0].rules[0].points: both endpoints are "
                       "[5, 5]; a line needs two different points"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:11:17: streams[0].rules[1].points: has 3 point(s); a "
                       "line needs exactly 2 endpoints"));
}

TEST_F(ConfigTest, NormalizedCoordinatesMustBeFractions) {
  const std::string message = errors(R"(defaults: {detector: {type: hog}}
streams:
  - name: cam
    url: VIDEO
    rules:
      - name: z
        type: zone
        units: normalized
        polygon: [[0, 0], [1.2, 0], [1, 1]]
      - name: l
        type: line
        units: normalized
        points: [[0, -0.1], [1, 0.5]]
      - name: p
        type: line
        units: pixels
        points: [[0, -10], [640, 0.5]]
      - name: u
        type: line
        units: percent
        points: [[0, 0], [1, 1]]
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:9:27: streams[0].rules[0].polygon[1]: [1.2, 0] is "
                       "outside [0, 1] but units is normalized; give fractions of the "
                       "frame size, or set units: pixels"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:13:18: streams[0].rules[1].points[0]: [0, -0.1] is "
                       "outside [0, 1]"));
  EXPECT_FALSE(contains(message, "streams[0].rules[2]"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:20:16: streams[0].rules[3].units: unknown units "
                       "'percent'; choose one of: pixels, normalized"));
}

TEST_F(ConfigTest, ValuesOutOfRange) {
  struct Case {
    std::string yaml_line;  // placed under a stream
    std::string expected;
  };
  const Case cases[] = {
      {"timeout: 0", "streams[0].timeout: 0 is out of range; it must be in (0, 86400]"},
      {"detect_interval: 0", "streams[0].detect_interval: 0 is out of range; it must be >= 1"},
      {"detector: {type: hog, upscale: 0}", "detector.upscale: 0 is out of range; it must be > 0"},
      {"detector: {type: hog, scale_step: 1}", "scale_step: 1 is out of range; it must be > 1"},
      {"detector: {type: hog, stride: 0}", "stride: 0 is out of range; it must be >= 1"},
      {"detector: {type: hog, min_confidence: 1.01}",
       "min_confidence: 1.01 is out of range; it must be in [0, 1]"},
      {"detector: {type: motion, thumbnail_width: 15}",
       "thumbnail_width: 15 is out of range; it must be >= 16"},
      {"detector: {type: motion, threshold: 256}",
       "threshold: 256 is out of range; it must be in [0, 255]"},
      {"detector: {type: motion, learning_rate: 0}",
       "learning_rate: 0 is out of range; it must be in (0, 1]"},
      {"detector: {type: motion, min_area: 1}",
       "min_area: 1 is out of range; it must be in [0, 1)"},
      {"tracker: {type: sort, max_age: -1}", "max_age: -1 is out of range; it must be > 0"},
      {"tracker: {type: sort, min_hits: 0}", "min_hits: 0 is out of range; it must be >= 1"},
      {"tracker: {type: sort, iou_threshold: 0}",
       "iou_threshold: 0 is out of range; it must be in (0, 1]"},
      {"detect_interval: 99999999999", "99999999999 is out of range; it must be >= 1"},
      {"timeout: .inf", "streams[0].timeout: expected a number, got '.inf'"},
      {"rules: [{name: z, type: zone, polygon: [[0, 0], [1, 0], [1, 1]], min_dwell: -1}]",
       "rules[0].min_dwell: -1 is out of range; it must be >= 0"},
      {"rules: [{name: z, type: zone, polygon: [[0, 0], [1, 0], [1, 1]], exit_grace: -0.5}]",
       "rules[0].exit_grace: -0.5 is out of range; it must be >= 0"},
      {"rules: [{name: l, type: line, points: [[0, 0], [1, 0]], margin: -2}]",
       "rules[0].margin: -2 is out of range; it must be >= 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml_line);
    const std::string message = errors(
        "defaults: {detector: {type: hog}}\nstreams:\n"
        "  - name: cam\n    url: VIDEO\n    " +
        c.yaml_line + "\n");
    EXPECT_TRUE(contains(message, "test.yaml:5:"));
    EXPECT_TRUE(contains(message, c.expected));
  }
}

TEST_F(ConfigTest, BoundaryValuesAreAccepted) {
  const Result<PipelineSpec> result = parse(R"(streams:
  - name: cam
    url: VIDEO
    timeout: 0.001
    detector: {type: motion, thumbnail_width: 16, threshold: 255, learning_rate: 1, min_area: 0}
    tracker: {type: sort, iou_threshold: 1, min_hits: 1}
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
}

TEST_F(ConfigTest, MissingOrDirectoryVideoFile) {
  const std::string message = errors(R"(defaults: {detector: {type: hog}}
streams:
  - name: a
    url: /no/such/file.avi
  - name: b
    url: missing/clip.mp4
  - name: c
    url: /usr
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:4:10: streams[0].url: file '/no/such/file.avi' does "
                       "not exist; give a path to a video file or an http://, https:// "
                       "or rtsp:// URL"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:6:10: streams[1].url: file 'missing/clip.mp4' does "
                       "not exist (relative to the working directory " +
                           fs::current_path().string() + ")"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:8:10: streams[2].url: '/usr' is a directory; give a "
                       "path to a video file"));
}

TEST_F(ConfigTest, UnreadableVideoFile) {
  ASSERT_EQ(chmod(video_.c_str(), 0), 0);
  if (access(video_.c_str(), R_OK) == 0) {
    GTEST_SKIP() << "running with privileges that read any file; cannot test an unreadable one";
  }
  EXPECT_TRUE(contains(errors("streams: [{name: a, url: VIDEO, detector: {type: hog}}]\n"),
                       "test.yaml:1:26: streams[0].url: file '" + video_ +
                           "' is not readable (Permission denied); check its permissions"));
}

TEST_F(ConfigTest, UnknownTypesListTheKnownOnes) {
  const std::string message = errors(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: yolo}
    tracker: {type: deepsort}
    rules:
      - {name: r, type: wander}
    outputs:
      - {type: mqtt}
  - name: cam2
    url: VIDEO
    detector: {type: Motion}
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:4:22: streams[0].detector.type: unknown detector type "
                       "'yolo'; choose one of: hog, motion"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:5:21: streams[0].tracker.type: unknown tracker type "
                       "'deepsort'; choose one of: sort, bytetrack"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:7:25: streams[0].rules[0].type: unknown rule type "
                       "'wander'; choose one of: zone, line, loiter, crowd"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:9:16: streams[0].outputs[0].type: unknown output type "
                       "'mqtt'; choose one of: jsonl, mp4"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:12:22: streams[1].detector.type: unknown detector "
                       "type 'Motion' (did you mean 'motion'?)"));
}

TEST_F(ConfigTest, UnknownAnchor) {
  EXPECT_TRUE(contains(errors(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
    rules:
      - {name: r, type: line, points: [[0, 0], [1, 0]], anchor: bottom_centre}
)"),
                       "test.yaml:6:65: streams[0].rules[0].anchor: unknown anchor "
                       "'bottom_centre' (did you mean 'bottom_center'?); choose one of: "
                       "bottom_center, center, top_center"));
}

TEST_F(ConfigTest, OutputPaths) {
  const std::string message = errors(R"(defaults: {detector: {type: hog}}
streams:
  - name: a
    url: VIDEO
    outputs:
      - {type: jsonl, path: out/events.jsonl}
      - {type: mp4, path: out/annotated.avi}
  - name: b
    url: VIDEO
    outputs:
      - {type: jsonl, path: ./out/../out/events.jsonl}
      - {type: mp4, path: ''}
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:7:27: streams[0].outputs[1].path: "
                       "'out/annotated.avi' does not end in .mp4; an mp4 output writes "
                       "an MP4 file, e.g. path: out/annotated.mp4"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:11:29: streams[1].outputs[0].path: "
                       "'./out/../out/events.jsonl' is also written by "
                       "streams[0].outputs[0].path (test.yaml:6:29); give each output "
                       "its own file"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:12:27: streams[1].outputs[1].path: the value is "
                       "empty"));
}

TEST_F(ConfigTest, CollectsEveryProblemInFileOrder) {
  const std::string message = errors(R"(defaults:
  timeout: -1
streams:
  - name: cam
    url: VIDEO
    detector: {type: hog, stride: 0}
    loop: maybe
    rules:
      - {name: z, type: zone, polygon: [[0, 0]]}
)");
  EXPECT_EQ(count_lines(message), 4) << message;
  const size_t timeout = message.find("test.yaml:2:");
  const size_t stride = message.find("test.yaml:6:");
  const size_t loop = message.find("test.yaml:7:");
  const size_t polygon = message.find("test.yaml:9:");
  EXPECT_LT(timeout, stride);
  EXPECT_LT(stride, loop);
  EXPECT_LT(loop, polygon);
  EXPECT_NE(polygon, std::string::npos);
}

TEST_F(ConfigTest, MergeKeysAreRefusedWithAPointer) {
  EXPECT_TRUE(contains(errors(R"(streams:
  - &base {name: a, url: VIDEO, detector: {type: hog}}
  - <<: *base
    name: b
)"),
                       "test.yaml:3:5: streams[1].<<: YAML merge keys ('<<') are not supported "
                       "in streams[1]; put shared settings under defaults: instead"));
}

TEST_F(ConfigTest, SyntaxErrorHasItsPosition) {
  const std::string text = errors("streams: [\n  {name: a\n");
  EXPECT_TRUE(contains(text, "test.yaml:"));
  EXPECT_TRUE(contains(text, "YAML syntax error: "));
  EXPECT_TRUE(contains(text, "; fix the YAML here"));
  EXPECT_TRUE(contains(errors("streams:\n  - name: a\n   url: b: c\n"), "test.yaml:3:"));
}

TEST_F(ConfigTest, SecondDocumentIsAnError) {
  EXPECT_TRUE(
      contains(errors("streams: [{name: a, url: VIDEO, detector: {type: hog}}]\n---\nx: 1\n"),
               "test.yaml:3:1: a second YAML document starts here"));
}

TEST_F(ConfigTest, OddInputNeverThrows) {
  const std::string inputs[] = {
      "? [a, b]\n: c\nstreams: []\n",
      "streams: [[1, 2]]\n",
      "streams:\n  - {name: a, url: VIDEO, detector: [hog]}\n",
      "streams: !!binary aGVsbG8=\n",
      std::string("streams: \"\xff\xfe\"\n"),
      "\t- x\n",
      "streams: *nothing\n",
      "streams:\n  - name: a\n    url: VIDEO\n    detector: {type: hog}\n    rules: [[]]\n",
      "streams:\n  - name: a\n    url: VIDEO\n    detector: {type: hog}\n    outputs: [null]\n",
      std::string(200, '[') + "\n",
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input);
    Result<PipelineSpec> result = Status::error("not run");
    EXPECT_NO_THROW(result = parse(input));
    EXPECT_FALSE(result.ok());
  }
}

TEST_F(ConfigTest, LoadConfigReadsTheFileAndNamesIt) {
  const std::string path = dir_.file("pipeline.yaml");
  std::ofstream(path) << with_video("streams:\n  - name: a\n    url: VIDEO\n    loop: 3\n");
  const Result<PipelineSpec> bad = load_config(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(), path + ":4:11: streams[0].loop:"));

  std::ofstream(path) << with_video("streams: [{name: a, url: VIDEO, detector: {type: hog}}]\n");
  const Result<PipelineSpec> good = load_config(path);
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(good->source, path);
}

TEST_F(ConfigTest, LoadConfigSyntaxErrorHasFileLineColumn) {
  const std::string path = dir_.file("broken.yaml");
  std::ofstream(path) << "streams:\n  - name: a\n    url: [x\n";
  const Result<PipelineSpec> result = load_config(path);
  ASSERT_FALSE(result.ok());
  const std::string text = result.status().message();
  EXPECT_TRUE(contains(text, path + ":4:1: YAML syntax error: "));
  EXPECT_TRUE(contains(text, "fix the YAML here"));
}

TEST_F(ConfigTest, LoadConfigUnreadableFileNamesThePath) {
  const std::string missing = dir_.file("nope.yaml");
  const Result<PipelineSpec> result = load_config(missing);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "cannot read config file '" + missing +
                                           "': No such file or directory; check the path and its "
                                           "permissions");
  const Result<PipelineSpec> dir = load_config(dir_.path());
  ASSERT_FALSE(dir.ok());
  EXPECT_TRUE(contains(dir.status().message(),
                       "cannot read config file '" + dir_.path() + "': it is a directory"));
}

}  // namespace
}  // namespace iris::pipeline

namespace iris::pipeline {
namespace {

class ConfigFilesTest : public ConfigTest {};

TEST_F(ConfigFilesTest, NoOutputMayOverwriteAnInputVideo) {
  // Both orders: the output before the stream that reads it, and after.
  const std::string message = errors(R"(defaults: {detector: {type: hog}}
streams:
  - name: a
    url: VIDEO
    outputs:
      - {type: jsonl, path: VIDEO}
  - name: b
    url: VIDEO
)");
  EXPECT_TRUE(contains(message, "streams[0].outputs[0].path: '" + video_ +
                                    "' is also the input video of streams[0].url"));
  const std::string later = errors(
      "defaults: {detector: {type: hog}}\nstreams:\n"
      "  - {name: a, url: VIDEO, outputs: [{type: mp4, path: " +
      dir_.path() +
      "/b.mp4}]}\n"
      "  - {name: b, url: " +
      dir_.path() + "/b.mp4}\n");
  EXPECT_TRUE(contains(later, "an output must not overwrite an input video"));
  // Several streams reading one file is fine.
  EXPECT_TRUE(parse("defaults: {detector: {type: hog}}\nstreams:\n"
                    "  - {name: a, url: VIDEO}\n  - {name: b, url: VIDEO}\n")
                  .ok());
}

TEST_F(ConfigFilesTest, AFifoIsRefusedWithoutBlocking) {
  const std::string fifo = dir_.file("cam.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_TRUE(contains(errors("streams: [{name: a, url: " + fifo + ", detector: {type: hog}}]\n"),
                       "is not a regular file"));
}

TEST_F(ConfigFilesTest, TimeoutAndCoordinatesHaveSaneLimits) {
  const std::string message = errors(R"(streams:
  - name: a
    url: VIDEO
    timeout: 1e10
    detector: {type: hog}
    rules:
      - {name: z, type: zone, polygon: [[0, 0], [3e9, 0], [0, 3e9]]}
)");
  EXPECT_TRUE(contains(
      message,
      "test.yaml:4:14: streams[0].timeout: 1e10 is out of range; it must be in (0, 86400]"));
  EXPECT_TRUE(contains(message, "streams[0].rules[0].polygon[1][0]"));
}

}  // namespace
}  // namespace iris::pipeline

namespace iris::pipeline {
namespace {

class LiveConfigTest : public VideoConfigTest {};

TEST_F(LiveConfigTest, CameraAndGateKeysParseToExactValues) {
  auto spec = parse(R"(
defaults:
  reconnect: {initial_delay: 0.25, max_delay: 8, multiplier: 3, jitter: 0.1, max_attempts: 5}
streams:
  - name: cam
    url: rtsp://10.0.0.7/stream1
    rtsp_transport: udp
    stall_after: 1.5
    keyframes_only: true
    max_fps: 2.5
    detector: {type: hog}
    gate: {threshold: 30, min_area: 0.01, hold: 2, refresh: 0, region: true, padding: 0.5}
  - name: file
    url: VIDEO
    emulate_live: true
    detector: {type: motion}
)");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const StreamSpec& cam = spec->streams[0];
  EXPECT_EQ(cam.rtsp_transport, "udp");
  EXPECT_EQ(cam.reconnect.initial_delay, 0.25);
  EXPECT_EQ(cam.reconnect.max_delay, 8);
  EXPECT_EQ(cam.reconnect.multiplier, 3);
  EXPECT_EQ(cam.reconnect.jitter, 0.1);
  EXPECT_EQ(cam.reconnect.max_attempts, 5);
  EXPECT_EQ(cam.stall_after, 1.5);
  EXPECT_TRUE(cam.keyframes_only);
  EXPECT_EQ(cam.max_fps, 2.5);
  EXPECT_FALSE(cam.emulate_live);
  ASSERT_TRUE(cam.gate.has_value());
  EXPECT_EQ(cam.gate->motion.threshold, 30);
  EXPECT_EQ(cam.gate->motion.min_area, 0.01);
  EXPECT_EQ(cam.gate->motion.thumbnail_width, detect::MotionSpec{}.thumbnail_width);
  EXPECT_EQ(cam.gate->hold, 2);
  EXPECT_EQ(cam.gate->refresh, 0);
  EXPECT_TRUE(cam.gate->region);
  EXPECT_EQ(cam.gate->padding, 0.5);
  const StreamSpec& file = spec->streams[1];
  EXPECT_TRUE(file.emulate_live);
  EXPECT_EQ(file.rtsp_transport, "tcp");
  EXPECT_EQ(file.reconnect.max_attempts, 5) << "inherited from defaults";
  EXPECT_FALSE(file.gate.has_value());
}

TEST_F(LiveConfigTest, CameraAndGateMistakesNameTheKeyAndTheFix) {
  const std::string base = R"(
streams:
  - name: cam
    url: rtsp://10.0.0.7/stream1
    detector: {type: hog}
)";
  EXPECT_TRUE(contains(errors(base + "    rtsp_transport: http\n"),
                       "test.yaml:6:21: streams[0].rtsp_transport: unknown rtsp_transport 'http'"));
  EXPECT_TRUE(contains(errors(base + "    reconnect: {initial_delay: 5, max_delay: 1}\n"),
                       "initial_delay: 5 is above max_delay 1; initial_delay must be at most "
                       "max_delay"));
  EXPECT_TRUE(contains(errors(base + "    reconnect: {multiplier: 0.5}\n"), "multiplier"));
  EXPECT_TRUE(
      contains(errors(base + "    gate: {hold: 1, treshold: 3}\n"), "did you mean 'threshold'?"));
  EXPECT_TRUE(contains(errors(base + "    emulate_live: true\n"),
                       "streams[0].emulate_live: emulate_live plays a file as a camera; "
                       "'rtsp://10.0.0.7/stream1' is already a URL"));
  EXPECT_TRUE(contains(errors(R"(
streams:
  - name: cam
    url: rtsp://10.0.0.7/stream1
    detector: {type: motion}
    gate: {hold: 1}
)"),
                       "streams[0].gate: the detector is already the motion detector"));
}

}  // namespace
}  // namespace iris::pipeline
