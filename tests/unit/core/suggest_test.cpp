#include "runway/core/suggest.hpp"

#include <gtest/gtest.h>

namespace runway {
namespace {

TEST(SuggestTest, EditDistance) {
  EXPECT_EQ(editDistance("", ""), 0U);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3U);
  EXPECT_EQ(editDistance("setWieght", "setWeight"), 1U);
  EXPECT_EQ(editDistance("pasue", "pause"), 1U);
}

TEST(SuggestTest, FindsPlausibleTypos) {
  const std::vector<std::string> fields{"setWeight", "pause", "analysis", "approval"};
  EXPECT_EQ(closestMatch("setWieght", fields), "setWeight");
  EXPECT_EQ(closestMatch("pasue", fields), "pause");
  EXPECT_EQ(closestMatch("anal", fields), "analysis");
  EXPECT_EQ(closestMatch("zebra", fields), std::nullopt);
  const std::vector<std::string> commands{"deploy", "status", "validate", "version"};
  EXPECT_EQ(closestMatch("deplyo", commands), "deploy");
  EXPECT_EQ(closestMatch("valdate", commands), "validate");
}

}  // namespace
}  // namespace runway
