#include "runway/checks/report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace runway::checks {
namespace {

using ::testing::HasSubstr;

TEST(ReportTest, EmptyOrAllSkippedNeverPasses) {
  Report report;
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.summary(), "nothing was checked");
  report.add({"metrics", "api/v1", ItemStatus::Skipped, "no router statistics", 0});
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.summary(), "nothing passed (1 skipped)");
}

TEST(ReportTest, OneFailureFailsAndIsNamedFirst) {
  Report report;
  report.add({"health", "api/v1#0", ItemStatus::Passed, "GET /health -> 200", 0});
  report.add({"smoke", "critical/leads", ItemStatus::Failed, "GET /api/leads -> 500, expected 200", 0});
  report.add({"smoke", "critical/home", ItemStatus::Failed, "GET / -> 500, expected 200", 0});
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.firstFailure()->name, "critical/leads");
  EXPECT_EQ(report.summary(),
            "smoke critical/leads: GET /api/leads -> 500, expected 200; and 1 more failed");
}

TEST(ReportTest, PassWithSkipsSaysSo) {
  Report report;
  report.add({"health", "a", ItemStatus::Passed, "ok", 0});
  report.add({"metrics", "a", ItemStatus::Skipped, "no data", 0});
  EXPECT_TRUE(report.passed());
  EXPECT_EQ(report.summary(), "passed (1 check), 1 skipped");
}

TEST(ReportTest, JsonAndTableCarryEveryItem) {
  Report report;
  report.title = "health basic prod";
  report.add({"health", "api/v1#0", ItemStatus::Passed, "GET /health -> 200 \"ok\"", 1.5});
  report.add({"health", "api/v1#1", ItemStatus::Failed, "instance is Failed", 0});
  const auto json = report.toJson();
  EXPECT_THAT(json, HasSubstr(R"("title":"health basic prod")"));
  EXPECT_THAT(json, HasSubstr(R"("passed":false)"));
  EXPECT_THAT(json, HasSubstr(R"("reason":"GET /health -> 200 \"ok\"")"));
  EXPECT_THAT(json, HasSubstr(R"("status":"failed")"));
  const auto table = report.toTable();
  EXPECT_THAT(table, HasSubstr("STATUS   CATEGORY NAME     REASON"));
  EXPECT_THAT(table, HasSubstr("failed   health   api/v1#1 instance is Failed"));
  EXPECT_THAT(table, HasSubstr("FAILED: health api/v1#1: instance is Failed"));
}

}  // namespace
}  // namespace runway::checks
