#include "runway/core/utf8.hpp"

#include <string>

#include <gtest/gtest.h>

namespace runway {
namespace {

TEST(Utf8, SequenceLengthsFollowRfc3629) {
  EXPECT_EQ(utf8SequenceLength("a"), 1u);
  EXPECT_EQ(utf8SequenceLength("\xc3\xa9"), 2u);          // é
  EXPECT_EQ(utf8SequenceLength("\xe2\x82\xac"), 3u);      // €
  EXPECT_EQ(utf8SequenceLength("\xf0\x9f\x9a\x80"), 4u);  // rocket
  EXPECT_EQ(utf8SequenceLength("\x80"), 0u);              // stray continuation
  EXPECT_EQ(utf8SequenceLength("\xc0\xaf"), 0u);          // overlong
  EXPECT_EQ(utf8SequenceLength("\xed\xa0\x80"), 0u);      // surrogate
  EXPECT_EQ(utf8SequenceLength("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(utf8SequenceLength("\xe2\x82"), 0u);          // cut short
  EXPECT_TRUE(isValidUtf8("déjà vu €"));
  EXPECT_FALSE(isValidUtf8("ok \xff"));
}

// A hook's output is kept as its last 4 KiB; the cut must not split a character.
TEST(Utf8, TailStartsOnACharacterBoundary) {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "\xc3\xa9";  // 6000 bytes of é
  for (std::size_t max : {4096u, 4095u, 7u, 1u}) {
    const auto tail = utf8Tail(text, max);
    EXPECT_LE(tail.size(), max);
    EXPECT_GE(tail.size() + 1, max) << max;
    EXPECT_TRUE(isValidUtf8(tail)) << max;
  }
  std::string rockets;
  for (int i = 0; i < 10; ++i) rockets += "\xf0\x9f\x9a\x80";
  EXPECT_EQ(utf8Tail(rockets, 6), "\xf0\x9f\x9a\x80");
  EXPECT_EQ(utf8Tail("short", 4096), "short");
}

TEST(Utf8, InvalidBytesAreEscapedNotDropped) {
  EXPECT_EQ(escapeInvalidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(escapeInvalidUtf8("a\xff" "b\xc3"), "a\\xffb\\xc3");
  EXPECT_EQ(escapeInvalidUtf8("\x80\x80ok"), "\\x80\\x80ok");
  EXPECT_TRUE(isValidUtf8(escapeInvalidUtf8("\xfe\xed\xa0\x80 \xf0\x9f")));
}

}  // namespace
}  // namespace runway
