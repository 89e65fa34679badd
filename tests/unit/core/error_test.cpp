#include "runway/core/error.hpp"

#include <set>

#include <gtest/gtest.h>

namespace runway {
namespace {

constexpr ErrorCode kAll[] = {
    ErrorCode::InvalidArgument, ErrorCode::Unauthenticated, ErrorCode::PermissionDenied,
    ErrorCode::NotFound,        ErrorCode::Conflict,        ErrorCode::FailedPrecondition,
    ErrorCode::PayloadTooLarge, ErrorCode::Internal,        ErrorCode::Unavailable,
    ErrorCode::Timeout};

TEST(ErrorCodeTest, HttpStatusIsOneToOne) {
  std::set<int> statuses;
  for (auto code : kAll) {
    EXPECT_TRUE(statuses.insert(httpStatus(code)).second) << codeName(code);
    EXPECT_EQ(codeFromHttpStatus(httpStatus(code)), code);
  }
}

TEST(ErrorCodeTest, NamesRoundTrip) {
  std::set<std::string_view> names;
  for (auto code : kAll) {
    EXPECT_TRUE(names.insert(codeName(code)).second);
    EXPECT_EQ(codeFromName(codeName(code)), code);
  }
  EXPECT_EQ(codeFromName("nonsense"), ErrorCode::Internal);
}

TEST(ErrorCodeTest, ExitCodesFollowTheDesign) {
  EXPECT_EQ(exitCode(ErrorCode::InvalidArgument), 2);
  EXPECT_EQ(exitCode(ErrorCode::Unavailable), 3);
  EXPECT_EQ(exitCode(ErrorCode::Unauthenticated), 3);
  EXPECT_EQ(exitCode(ErrorCode::NotFound), 1);
  EXPECT_EQ(exitCode(ErrorCode::Conflict), 1);
  EXPECT_EQ(httpStatus(ErrorCode::NotFound), 404);
  EXPECT_EQ(httpStatus(ErrorCode::Conflict), 409);
  EXPECT_EQ(codeName(ErrorCode::PermissionDenied), "permission_denied");
}

TEST(ResultTest, CarriesValueOrError) {
  Result<int> good = 5;
  Result<int> bad = fail(ErrorCode::NotFound, "no such environment \"prod\"");
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 5);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::NotFound);
  EXPECT_EQ(bad.error().message, "no such environment \"prod\"");
}

}  // namespace
}  // namespace runway
