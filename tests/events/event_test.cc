#include "events/event.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "events/sink.h"
#include "support/support.h"

namespace iris::events {
namespace {

Event sample() {
  Event e;
  e.id = new_event_id(1700000000.25);
  e.type = "line_cross";
  e.rule = "door \"main\"";
  e.stream = "lobby";
  e.media_time = 1.4;
  e.frame = 14;
  e.wall_time = 1700000000.25;
  e.track_id = 7;
  e.label = "person";
  e.confidence = 0.91234;
  e.box = {10.04, 20, 30.55, 40};
  e.direction = "A->B";
  e.count = 3;
  return e;
}

TEST(Event, JsonLineFollowsTheSchema) {
  const auto j = nlohmann::json::parse(to_json_line(sample()));
  EXPECT_EQ(j["schema"], "iris.event.v1");
  EXPECT_EQ(j["type"], "line_cross");
  EXPECT_EQ(j["rule"], "door \"main\"");  // escaped and read back
  EXPECT_EQ(j["media_time"], 1.4);
  EXPECT_EQ(j["frame"], 14);
  EXPECT_EQ(j["wall_time"], "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(j["track_id"], 7);
  EXPECT_EQ(j["class"], "person");
  EXPECT_DOUBLE_EQ(j["confidence"].get<double>(), 0.9123);
  EXPECT_EQ(j["box"], nlohmann::json({10, 20, 30.6, 40}));
  EXPECT_EQ(j["direction"], "A->B");
  EXPECT_EQ(j["count"], 3);
  EXPECT_FALSE(j.contains("duration"));
  EXPECT_FALSE(j.contains("snapshot"));
}

TEST(Event, AttributesAndEmbeddingAreListsInOrder) {
  Event e = sample();
  e.attributes = {{"color", "red", 0.91234f}, {"color", "blue", 0.05f}};
  e.embedding = {0.6f, -0.8f};
  const std::string line = to_json_line(e);
  EXPECT_NE(line.find(R"("box":[10,20,30.6,40],)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("attributes":[{"model":"color","label":"red","score":0.9123},)"
                      R"({"model":"color","label":"blue","score":0.05}],"embedding":[0.6,-0.8]})"),
            std::string::npos)
      << line;
}

TEST(Event, InvalidUtf8IsReplacedNotFatal) {
  Event e = sample();
  e.label = "p\xe9rson";  // Latin-1, not UTF-8
  const auto j = nlohmann::json::parse(to_json_line(e));
  EXPECT_EQ(j["class"], "p\xef\xbf\xbdrson");  // U+FFFD in place of the bad byte
}

TEST(Event, IdsAreUniqueAndSortByTime) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(new_event_id(1700000000.0));
  EXPECT_EQ(ids.size(), 10000u);
  EXPECT_LT(new_event_id(1700000000.0), new_event_id(1700000001.0));
  EXPECT_EQ(new_event_id(1.0).size(), 26u);
}

TEST(JsonlSink, AppendsOneLinePerEventAndCreatesTheDirectory) {
  testing::TempDir dir;
  const std::string path = dir.file("a/b/events.jsonl");
  {
    auto sink = JsonlSink::open(path);
    ASSERT_TRUE(sink.ok()) << sink.status().message();
    ASSERT_TRUE((*sink)->deliver(to_json_line(sample())).ok());
    // Flushed per event: readable before close.
    EXPECT_EQ(testing::read_lines(path).size(), 1u);
    ASSERT_TRUE((*sink)->deliver(to_json_line(sample())).ok());
    ASSERT_TRUE((*sink)->close().ok());
    EXPECT_FALSE((*sink)->deliver(to_json_line(sample())).ok());
  }
  EXPECT_EQ(testing::read_lines(path).size(), 2u);
}

TEST(JsonlSink, UnwritablePathIsAClearError) {
  auto sink = JsonlSink::open("/proc/iris-no/events.jsonl");
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("/proc/iris-no"), std::string::npos);
}

}  // namespace
}  // namespace iris::events
