#include "core/text.h"

#include <gtest/gtest.h>

#include <map>
#include <ranges>
#include <set>
#include <string>
#include <vector>

namespace iris {
namespace {

TEST(Text, JoinPutsTheSeparatorBetweenItems) {
  EXPECT_EQ(join(std::vector<std::string>{"a", "b", "c"}), "a, b, c");
  EXPECT_EQ(join(std::set<std::string>{"person", "bicycle"}, ","), "bicycle,person");
  EXPECT_EQ(join(std::vector<const char*>{"only"}), "only");
  EXPECT_EQ(join(std::vector<std::string>{}), "");
  // An empty first item still gets its separator.
  EXPECT_EQ(join(std::vector<std::string>{"", "b"}), ", b");
}

TEST(Text, JoinWritesEachItemAsAsked) {
  const std::map<std::string, int> counts = {{"b", 2}, {"a", 1}};
  EXPECT_EQ(join(std::views::keys(counts)), "a, b");
  EXPECT_EQ(
      join(counts, "; ", [](const auto& kv) { return kv.first + " " + std::to_string(kv.second); }),
      "a 1; b 2");
}

TEST(Text, ParseSizeTakesWholeWidthAndHeight) {
  int w = 0, h = 0;
  ASSERT_TRUE(parse_size("640x480", &w, &h));
  EXPECT_EQ(w, 640);
  EXPECT_EQ(h, 480);
  // Any int: the caller checks the range.
  ASSERT_TRUE(parse_size("0x-2", &w, &h));
  EXPECT_EQ(w, 0);
  EXPECT_EQ(h, -2);
}

TEST(Text, ParseSizeRefusesAnythingElse) {
  for (const char* bad : {"", "640", "x480", "640x", "640X480", "640x480x2", " 640x480", "64.5x48",
                          "640x480 ", "3000000000x1", "+640x480"}) {
    int w = 7, h = 9;
    EXPECT_FALSE(parse_size(bad, &w, &h)) << bad;
    EXPECT_EQ(w, 7) << bad;  // untouched
    EXPECT_EQ(h, 9) << bad;
  }
}

}  // namespace
}  // namespace iris
