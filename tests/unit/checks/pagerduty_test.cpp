// The checklist's onCall item (issue 25) against a loopback PagerDuty REST API
// (tests/fakes/fake_pagerduty_api.hpp) that checks every request as PagerDuty documents it:
// someone on call now for the schedule passes; nobody, a bad key, an exhausted rate limit or a
// missing key fail with the reason.

#include "runway/checks/pagerduty.hpp"

#include <cstdlib>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_pagerduty_api.hpp"
#include "runway/checks/checklist.hpp"

namespace runway::checks {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kKey = "u+pdFakeKey";
const std::string kSchedule = "PSCHED1";

TimePoint at(const char* text) { return *parseTimestamp(text); }

class PagerDutyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pd_.start());
    settings_.api_url = pd_.url();
  }
  void TearDown() override { EXPECT_THAT(pd_.violations(), IsEmpty()); }

  ChecklistItem judge(const std::string& key = kKey) {
    PagerDutyClient client(settings_, key, clock_);
    config::OnCallItem item;
    item.schedule = kSchedule;
    return judgeOnCall(item, client, clock_.now());
  }

  testing::FakePagerDutyApi pd_{kKey};
  config::PagerDutySettings settings_;
  FakeClock clock_{at("2026-12-07T12:00:00Z")};
};

TEST_F(PagerDutyTest, SomeoneOnCallNowPasses) {
  pd_.addOnCall({kSchedule, "Earline Greenholt", at("2026-12-07T09:00:00Z"), at("2026-12-08T09:00:00Z")});
  pd_.addOnCall({"POTHER1", "Someone Else", at("2026-12-07T09:00:00Z"), at("2026-12-08T09:00:00Z")});
  const auto item = judge();
  EXPECT_EQ(item.status, ChecklistStatus::Passed) << item.reason;
  EXPECT_EQ(item.reason, "Earline Greenholt on call for PagerDuty schedule PSCHED1 until 2026-12-08T09:00:00.000Z");
  const auto received = pd_.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].query.at("schedule_ids[]"), kSchedule);
  EXPECT_EQ(received[0].query.at("since"), "2026-12-07T12:00:00.000Z");
}

TEST_F(PagerDutyTest, NobodyOnCallFails) {
  pd_.addOnCall({kSchedule, "Earline Greenholt", at("2026-12-06T09:00:00Z"), at("2026-12-07T09:00:00Z")});
  const auto item = judge();
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason, "nobody is on call now for PagerDuty schedule PSCHED1");
}

TEST_F(PagerDutyTest, OnCallsAreReadOverEveryPage) {
  pd_.setPageCap(1);
  pd_.addOnCall({kSchedule, "Ann", at("2026-12-07T11:00:00Z"), at("2026-12-07T12:00:30Z")});
  pd_.addOnCall({kSchedule, "Bo", at("2026-12-07T12:00:30Z"), at("2026-12-07T20:00:00Z")});  // not yet
  pd_.addOnCall({kSchedule, "Cy", at("2026-12-07T06:00:00Z"), at("2026-12-07T18:00:00Z")});
  const auto item = judge();
  EXPECT_EQ(item.status, ChecklistStatus::Passed) << item.reason;
  EXPECT_EQ(item.reason, "Ann, Cy on call for PagerDuty schedule PSCHED1 until 2026-12-07T18:00:00.000Z");
  const auto received = pd_.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[1].query.at("offset"), "1");
  EXPECT_EQ(received[2].query.at("offset"), "2");
}

TEST_F(PagerDutyTest, ABadKeyFailsWithPagerDutysMessage) {
  const auto item = judge("wrong");
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason, "cannot judge: PagerDuty: GET /oncalls: 401 Unauthorized (code 2006)");
}

TEST_F(PagerDutyTest, AnExhaustedRateLimitIsAClearFailure) {
  pd_.addOnCall({kSchedule, "Earline Greenholt", at("2026-12-07T09:00:00Z"), at("2026-12-08T09:00:00Z")});
  pd_.exhaustRateLimit(30);
  const auto item = judge();
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason,
            "cannot judge: PagerDuty: GET /oncalls: PagerDuty rate limit exhausted until 2026-12-07T12:00:30.000Z "
            "(429 Rate Limit Exceeded (code 2020))");
}

TEST_F(PagerDutyTest, NoKeyFailsTheItemInTheWholeChecklist) {
  config::Checklist list;
  list.on_call = config::OnCallItem{kSchedule, {}, {}};
  list.pagerduty.api_url = pd_.url();
  list.pagerduty.token_env = "RUNWAY_TEST_PAGERDUTY_KEY_UNSET";
  ::unsetenv("RUNWAY_TEST_PAGERDUTY_KEY_UNSET");
  ChecklistInput input;
  input.version = "v1.0.0";
  input.now = clock_.now();
  auto report = runChecklist(list, input, clock_);
  ASSERT_EQ(report.items.size(), 1u);
  EXPECT_EQ(report.items[0].name, "onCall");
  EXPECT_EQ(report.items[0].reason,
            "cannot judge: no PagerDuty token: set the variable RUNWAY_TEST_PAGERDUTY_KEY_UNSET or the checklist's "
            "pagerduty.tokenFile");
  ::setenv("RUNWAY_TEST_PAGERDUTY_KEY_UNSET", kKey.c_str(), 1);
  pd_.addOnCall({kSchedule, "Earline Greenholt", at("2026-12-07T09:00:00Z"), at("2026-12-08T09:00:00Z")});
  report = runChecklist(list, input, clock_);
  ::unsetenv("RUNWAY_TEST_PAGERDUTY_KEY_UNSET");
  EXPECT_TRUE(report.passed()) << report.firstFailure();
}

}  // namespace
}  // namespace runway::checks
