#include "runway/core/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace runway {
namespace {

TEST(LoggingTest, ParsesFormats) {
  EXPECT_EQ(*parseLogFormat("json"), LogFormat::Json);
  EXPECT_EQ(*parseLogFormat("human"), LogFormat::Human);
  auto bad = parseLogFormat("xml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
}

TEST(LoggingTest, JsonLinesEscapeTheMessage) {
  ASSERT_TRUE(initLogging(LogFormat::Json, "info"));
  ::testing::internal::CaptureStderr();
  spdlog::info("quote \" and\nnewline");
  spdlog::debug("not shown at info");
  const auto out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find(R"("level":"info")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("msg":"quote \" and\nnewline")"), std::string::npos) << out;
  EXPECT_EQ(out.find("not shown"), std::string::npos);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(LoggingTest, RejectsUnknownLevel) {
  auto r = initLogging(LogFormat::Human, "loud");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown log level"), std::string::npos);
}

}  // namespace
}  // namespace runway
