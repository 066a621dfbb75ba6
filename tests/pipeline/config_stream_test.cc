// One stream, or one stream's rules, read on their own (the bodies of iris serve's control API):
// JSON or YAML, with the config's defaults and models, the config's checks and its messages.
#include <gtest/gtest.h>

#include "pipeline/config_test_support.h"

namespace iris::pipeline {
namespace {

class ConfigStreamTest : public VideoConfigTest {
 protected:
  PipelineSpec pipeline() const {
    auto p = parse(
        "defaults: {detector: {type: motion, min_area: 0.01}, max_fps: 5}\n"
        "streams:\n"
        "  - {name: lobby, url: VIDEO, outputs: [{type: jsonl, path: " +
        dir_.file("lobby.jsonl") + "}]}\n");
    EXPECT_TRUE(p.ok()) << p.status().message();
    return p.ok() ? *p : PipelineSpec{};
  }
};

TEST_F(ConfigStreamTest, AStreamFromJsonInheritsTheDefaults) {
  const std::string body = with_video(
      R"({"name": "door", "url": "VIDEO", "loop": true,
          "rules": [{"name": "in", "type": "line", "points": [[0, 10], [100, 10]]}]})");
  auto s = parse_stream(body, "request", pipeline());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->name, "door");
  EXPECT_TRUE(s->loop);
  EXPECT_EQ(s->max_fps, 5);  // from defaults
  ASSERT_TRUE(std::holds_alternative<detect::MotionSpec>(s->detector));
  EXPECT_EQ(std::get<detect::MotionSpec>(s->detector).min_area, 0.01);
  ASSERT_EQ(s->rules.size(), 1u);
  EXPECT_EQ(rules::common_of(s->rules[0]).name, "in");
}

TEST_F(ConfigStreamTest, ProblemsAreLocatedInTheBody) {
  const std::string body = with_video(
      "{\"name\": \"door\",\n \"url\": \"VIDEO\",\n \"max_fps\": \"5\",\n \"colour\": 1}");
  auto s = parse_stream(body, "request", pipeline());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.status().message(), "request:3:13: max_fps: expected a number"));
  EXPECT_TRUE(contains(s.status().message(), "request:4:2: colour: unknown key"));
  EXPECT_TRUE(contains(parse_stream("{\"name\": ", "request", pipeline()).status().message(),
                       "request:1:"));
  EXPECT_TRUE(
      contains(parse_stream("", "request", pipeline()).status().message(), "the stream is empty"));
}

TEST_F(ConfigStreamTest, ANewStreamMayNotWriteARunningStreamsFiles) {
  const std::string body = with_video(R"({"name": "door", "url": "VIDEO", "outputs":
      [{"type": "jsonl", "path": ")" + dir_.file("lobby.jsonl") +
                                      R"("}]})");
  auto s = parse_stream(body, "request", pipeline());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.status().message(), "is also written by stream 'lobby'"));
  // Reading the same video as another stream is fine.
  EXPECT_TRUE(
      parse_stream(with_video(R"({"name": "door", "url": "VIDEO"})"), "r", pipeline()).ok());
}

TEST_F(ConfigStreamTest, RulesAsAListOrUnderRules) {
  const StreamSpec stream = pipeline().streams.at(0);
  auto list = parse_rules(R"([{"name": "a", "type": "zone", "polygon": [[0,0],[9,0],[9,9]]}])",
                          "request", stream);
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE(std::holds_alternative<rules::ZoneSpec>((*list)[0]));
  auto wrapped = parse_rules(R"({"rules": []})", "request", stream);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().message();
  EXPECT_TRUE(wrapped->empty());

  auto bad = parse_rules(R"({"rules": [{"name": "a", "type": "line", "points": [[0, 0]]},
                                      {"name": "a", "type": "zone", "polygon": [[0,0],[9,0],[9,9]]}],
                            "extra": 1})",
                         "request", stream);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(), "rules[0].points: has 1 point(s)"));
  EXPECT_TRUE(contains(bad.status().message(), "duplicate rule name 'a'"));
  EXPECT_TRUE(contains(bad.status().message(), "extra: unknown key"));
  EXPECT_TRUE(contains(parse_rules(R"({"other": []})", "request", stream).status().message(),
                       "missing required key 'rules'"));
}

}  // namespace
}  // namespace iris::pipeline
