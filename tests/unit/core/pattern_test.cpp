// Pattern: RE2 with a length cap, for header and cookie match rules (issue 19).

#include "runway/core/pattern.hpp"

#include <gtest/gtest.h>

namespace runway {
namespace {

TEST(PatternTest, MatchesTheWholeValue) {
  auto p = Pattern::compile("beta-[0-9]+");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_TRUE(p->fullMatch("beta-12"));
  EXPECT_FALSE(p->fullMatch("beta-12x"));
  EXPECT_FALSE(p->fullMatch("xbeta-12"));
  EXPECT_EQ(p->text(), "beta-[0-9]+");
  const Pattern copy = *p;  // copies share the compiled program
  EXPECT_TRUE(copy.fullMatch("beta-7"));
}

TEST(PatternTest, RefusesWhatItCannotRunSafely) {
  auto empty = Pattern::compile("");
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::InvalidArgument);
  auto long_one = Pattern::compile(std::string(Pattern::kMaxLength + 1, 'a'));
  ASSERT_FALSE(long_one.has_value());
  EXPECT_NE(long_one.error().message.find("at most 1024"), std::string::npos) << long_one.error().message;
  EXPECT_TRUE(Pattern::compile(std::string(Pattern::kMaxLength, 'a')).has_value());
  auto broken = Pattern::compile("([");
  ASSERT_FALSE(broken.has_value());
  EXPECT_NE(broken.error().message.find("invalid regular expression"), std::string::npos);
  // Backreferences and lookaround need backtracking: RE2 refuses them.
  EXPECT_FALSE(Pattern::compile("(a)\\1").has_value());
  EXPECT_FALSE(Pattern::compile("a(?=b)").has_value());
  // A program too large for the memory budget is refused, not built.
  EXPECT_FALSE(Pattern::compile("((((a{100}){100}){100}){100})").has_value());
}

}  // namespace
}  // namespace runway
