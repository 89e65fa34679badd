#include "runway/report/delivery.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "seeded_history.hpp"
#include "test_paths.hpp"

namespace runway::report {
namespace {

using controller::testing::Harness;
namespace json = boost::json;

using testing::at;

class DeliveryReportTest : public testing::SeededHistoryTest {
 protected:
  json::value report(const char* env, Grouping by) {
    auto hist = loadHistory(*h_->store);
    EXPECT_TRUE(hist);
    DeliveryOptions o;
    o.environment = env;
    o.since = at("2026-11-02T00:00:00Z");
    o.until = at("2026-11-16T00:00:00Z");
    o.by = by;
    o.now = h_->clock->now();
    auto rep = deliveryReport(hist ? *hist : std::vector<DeploymentHistory>{}, o);
    EXPECT_TRUE(rep) << (rep ? "" : rep.error().message);
    return rep ? *rep : json::value();
  }
};

const json::value& get(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* at_ = &v;
  for (auto key : path) at_ = &at_->at(key);
  return *at_;
}
double num(const json::value& v, std::initializer_list<std::string_view> path) {
  return get(v, path).to_number<double>();
}
std::string text(const json::value& v, std::initializer_list<std::string_view> path) {
  return std::string(get(v, path).as_string());
}

// What the controller recorded, phase by phase (the times every figure below starts from).
TEST_F(DeliveryReportTest, TheSeededHistoryIsTheOneTheFiguresAreComputedFrom) {
  seed();
  ASSERT_EQ(ids_.size(), 9u);
  auto hist = loadHistory(*h_->store);
  ASSERT_TRUE(hist);
  ASSERT_EQ(hist->size(), 9u);
  std::vector<std::string> phases, succeeded;
  for (const auto& x : *hist) {
    phases.push_back(x.phase);
    const auto s = x.entered("Succeeded");
    succeeded.push_back(s ? formatTimestamp(*s) : "-");
  }
  EXPECT_EQ(phases, (std::vector<std::string>{"Succeeded", "Succeeded", "Succeeded", "Succeeded", "RolledBack",
                                              "Succeeded", "Succeeded", "Succeeded", "Succeeded"}));
  // B: ready one tick after the window opened. D, F, G: ready one tick after the start, the
  // analysis passes on the next (two one-second ticks). E: the analysis fails on its first
  // measurement at 12:00:00. H: a fast rollback to v4, which still runs: succeeds at once.
  // I: three ticks after the window opened (readiness, weight, analysis).
  EXPECT_EQ(succeeded, (std::vector<std::string>{
                           "2026-11-02T09:00:00.000Z", "2026-11-02T10:00:01.000Z", "2026-11-03T11:00:00.000Z",
                           "2026-11-03T11:10:02.000Z", "-", "2026-11-04T14:00:02.000Z", "2026-11-09T10:30:02.000Z",
                           "2026-11-09T11:00:00.000Z", "2026-11-11T10:00:03.000Z"}));
  EXPECT_EQ(formatTimestamp(*(*hist)[4].entered("Aborting")), "2026-11-04T12:00:00.000Z");
  EXPECT_EQ((*hist)[4].transitionInto("Aborting")->kind, "analysis.failed");
  EXPECT_TRUE((*hist)[7].rollback);
}

TEST_F(DeliveryReportTest, ProductionByWeekMatchesTheFiguresComputedByHand) {
  seed();
  const auto r = report("production", Grouping::Week);
  ASSERT_TRUE(r.is_object());
  ASSERT_EQ(r.at("periods").as_array().size(), 2u);
  const auto& w1 = r.at("periods").at(0);  // Mon 11-02 .. Mon 11-09: B, D, E, F
  const auto& w2 = r.at("periods").at(1);  // Mon 11-09 .. Mon 11-16: G, H, I
  const auto& all = r.at("total");
  EXPECT_EQ(text(w1, {"from"}), "2026-11-02T00:00:00.000Z");
  EXPECT_EQ(text(w2, {"to"}), "2026-11-16T00:00:00.000Z");

  // Deployment frequency: releases (not rollbacks) that succeeded, per day of the period.
  //   week 1: B, D, F = 3 in 7 days = 0.428571/day >= 1/7 -> high
  //   week 2: G, I    = 2 in 7 days = 0.285714/day -> high   (H is a rollback)
  //   total:  5 in 14 days = 0.357143/day -> high
  EXPECT_EQ(num(w1, {"deploymentFrequency", "deployments"}), 3);
  EXPECT_NEAR(num(w1, {"deploymentFrequency", "perDay"}), 3.0 / 7, 1e-9);
  EXPECT_EQ(text(w1, {"deploymentFrequency", "band"}), "high");
  EXPECT_EQ(num(w2, {"deploymentFrequency", "deployments"}), 2);
  EXPECT_NEAR(num(w2, {"deploymentFrequency", "perDay"}), 2.0 / 7, 1e-9);
  EXPECT_EQ(num(all, {"deploymentFrequency", "deployments"}), 5);
  EXPECT_NEAR(num(all, {"deploymentFrequency", "perDay"}), 5.0 / 14, 1e-9);
  EXPECT_EQ(text(all, {"deploymentFrequency", "band"}), "high");

  // Lead time for changes: success - commit time, or - first deployment of the version anywhere.
  //   B: 10:00:01 - staging v1 at 09:00:00 (no commit time)   =   3601 s
  //   D: 11-03 11:10:02 - 08:00:00                              =  11402 s
  //   F: 11-04 14:00:02 - 13:00:00                              =   3602 s
  //   G: 11-09 10:30:02 - 11-06 10:30:00 (3 days + 2 s)         = 259202 s
  //   I: 11-11 10:00:03 - 11-10 16:00:00 (18 h + 3 s)           =  64803 s
  //   week 1 median of {3601, 3602, 11402} = 3602 s (< 1 day -> elite)
  //   week 2 median of {64803, 259202} = (64803 + 259202) / 2 = 162002.5 s (< 7 days -> high)
  //   total median of the five = 11402 s -> elite
  EXPECT_EQ(num(w1, {"leadTime", "changes"}), 3);
  EXPECT_DOUBLE_EQ(num(w1, {"leadTime", "medianSeconds"}), 3602);
  EXPECT_EQ(text(w1, {"leadTime", "band"}), "elite");
  EXPECT_DOUBLE_EQ(num(w2, {"leadTime", "medianSeconds"}), 162002.5);
  EXPECT_EQ(text(w2, {"leadTime", "band"}), "high");
  EXPECT_DOUBLE_EQ(num(all, {"leadTime", "medianSeconds"}), 11402);
  EXPECT_EQ(text(all, {"leadTime", "band"}), "elite");

  // Change failure rate: failed changes / changes (releases that reached traffic and ended).
  //   week 1: changes B, D, E, F; E rolled back -> 1/4 = 25 % -> high (<= 30 %)
  //   week 2: changes G, I; G was rolled back by H -> 1/2 = 50 % -> low (> 45 %)
  //   total: 2/6 = 33.3 % -> medium (<= 45 %)
  EXPECT_EQ(num(w1, {"changeFailureRate", "changes"}), 4);
  EXPECT_EQ(num(w1, {"changeFailureRate", "failed"}), 1);
  EXPECT_DOUBLE_EQ(num(w1, {"changeFailureRate", "rate"}), 0.25);
  EXPECT_EQ(text(w1, {"changeFailureRate", "band"}), "high");
  EXPECT_DOUBLE_EQ(num(w2, {"changeFailureRate", "rate"}), 0.5);
  EXPECT_EQ(text(w2, {"changeFailureRate", "band"}), "low");
  EXPECT_NEAR(num(all, {"changeFailureRate", "rate"}), 2.0 / 6, 1e-12);
  EXPECT_EQ(text(all, {"changeFailureRate", "band"}), "medium");

  // Time to restore: failure -> next success in the environment.
  //   E: failed 12:00:00 (abort), restored by F at 14:00:02 = 7202 s -> high (< 1 day)
  //   G: failed 11:00:00 (rollback requested), restored by H at 11:00:00 = 0 s -> elite
  //   total median of {0, 7202} = 3601 s -> high (>= 1 hour)
  EXPECT_DOUBLE_EQ(num(w1, {"timeToRestore", "medianSeconds"}), 7202);
  EXPECT_EQ(text(w1, {"timeToRestore", "band"}), "high");
  EXPECT_DOUBLE_EQ(num(w2, {"timeToRestore", "medianSeconds"}), 0);
  EXPECT_EQ(text(w2, {"timeToRestore", "band"}), "elite");
  EXPECT_DOUBLE_EQ(num(all, {"timeToRestore", "medianSeconds"}), 3601);
  EXPECT_EQ(num(all, {"timeToRestore", "restored"}), 2);
  EXPECT_EQ(num(all, {"timeToRestore", "unrestored"}), 0);
  EXPECT_EQ(text(all, {"timeToRestore", "band"}), "high");

  // Success rate: Succeeded / ended (rollback deployments included).
  //   week 1: B, D, F of B, D, E, F = 3/4; week 2: G, H, I = 3/3; total 6/7
  EXPECT_DOUBLE_EQ(num(w1, {"successRate", "rate"}), 0.75);
  EXPECT_DOUBLE_EQ(num(w2, {"successRate", "rate"}), 1.0);
  EXPECT_NEAR(num(all, {"successRate", "rate"}), 6.0 / 7, 1e-12);

  // Rollbacks: E automatic (analysis.failed), H manual (requested).
  EXPECT_EQ(num(w1, {"rollbacks", "automatic"}), 1);
  EXPECT_EQ(num(w1, {"rollbacks", "manual"}), 0);
  EXPECT_EQ(json::serialize(get(w1, {"rollbacks", "reasons"})), R"([{"kind":"analysis.failed","count":1}])");
  EXPECT_EQ(json::serialize(get(all, {"rollbacks", "reasons"})),
            R"([{"kind":"analysis.failed","count":1},{"kind":"requested","count":1}])");
  EXPECT_EQ(num(w2, {"rollbacks", "manual"}), 1);

  // Waiting: approvals B 09:00->09:30 = 1800 s, D 11:00->11:10 = 600 s, I 17:00->17:05 = 300 s;
  // windows B 09:30->10:00 = 1800 s, I 17:05 -> next day 10:00 = 16 h 55 m = 60900 s.
  //   week 1: approvals 2400 s in 2 (median (600 + 1800) / 2 = 1200), window 1800 s in 1
  //   week 2: approvals 300 s in 1, window 60900 s in 1
  //   total: approvals 2700 s in 3 (median 600), windows 62700 s in 2 (median 31350)
  EXPECT_DOUBLE_EQ(num(w1, {"waiting", "approvalSeconds"}), 2400);
  EXPECT_DOUBLE_EQ(num(w1, {"waiting", "approvalMedianSeconds"}), 1200);
  EXPECT_DOUBLE_EQ(num(w1, {"waiting", "windowSeconds"}), 1800);
  EXPECT_DOUBLE_EQ(num(w2, {"waiting", "approvalSeconds"}), 300);
  EXPECT_DOUBLE_EQ(num(w2, {"waiting", "windowSeconds"}), 60900);
  EXPECT_DOUBLE_EQ(num(all, {"waiting", "approvalSeconds"}), 2700);
  EXPECT_EQ(num(all, {"waiting", "approvalWaits"}), 3);
  EXPECT_DOUBLE_EQ(num(all, {"waiting", "approvalMedianSeconds"}), 600);
  EXPECT_DOUBLE_EQ(num(all, {"waiting", "windowSeconds"}), 62700);
  EXPECT_DOUBLE_EQ(num(all, {"waiting", "windowMedianSeconds"}), 31350);

  // Per deployment: the seven production deployments, in the order they were created.
  const auto& list = r.at("deployments").as_array();
  ASSERT_EQ(list.size(), 7u);
  EXPECT_EQ(text(list[0], {"leadTimeFrom"}), "firstDeployment");
  EXPECT_DOUBLE_EQ(num(list[0], {"leadTimeSeconds"}), 3601);
  EXPECT_EQ(text(list[2], {"failure"}), "rolledBack");
  EXPECT_DOUBLE_EQ(num(list[2], {"timeToRestoreSeconds"}), 7202);
  EXPECT_EQ(text(list[4], {"failure"}), "rollbackRequested");
  EXPECT_EQ(text(list[5], {"rollbackReason"}), "checkout errors");
}

// Staging alone: two releases, both succeeded at once, nothing failed, nothing waited.
TEST_F(DeliveryReportTest, StagingOnItsOwn) {
  seed();
  const auto r = report("staging", Grouping::None);
  ASSERT_EQ(r.at("periods").as_array().size(), 1u);
  const auto& all = r.at("total");
  // A: 0 s (v1 was first deployed by A itself); C: 0 s likewise -> median 0 -> elite.
  EXPECT_EQ(num(all, {"deploymentFrequency", "deployments"}), 2);
  EXPECT_DOUBLE_EQ(num(all, {"leadTime", "medianSeconds"}), 0);
  EXPECT_DOUBLE_EQ(num(all, {"changeFailureRate", "rate"}), 0);
  EXPECT_EQ(text(all, {"changeFailureRate", "band"}), "elite");
  EXPECT_TRUE(get(all, {"timeToRestore", "medianSeconds"}).is_null());
  EXPECT_EQ(text(all, {"timeToRestore", "band"}), "none");
}

class FixedIncidents final : public IncidentSource {
 public:
  explicit FixedIncidents(std::vector<IncidentSpan> list) : list_(std::move(list)) {}
  Result<std::vector<IncidentSpan>> incidents() override { return list_; }

 private:
  std::vector<IncidentSpan> list_;
};

// An incident attributed to a deployment within a day of its success makes it a failed change,
// restored when the incident is resolved.
TEST_F(DeliveryReportTest, AnAttributedIncidentIsAFailedChangeUntilResolved) {
  seed();
  auto hist = loadHistory(*h_->store);
  ASSERT_TRUE(hist);
  DeliveryOptions o;
  o.environment = "production";
  o.since = at("2026-11-02T00:00:00Z");
  o.until = at("2026-11-09T00:00:00Z");
  o.now = h_->clock->now();
  // D (succeeded 11-03 11:10:02): incident 12:00 -> 12:45 (2700 s). F: an incident two days
  // later is outside the 24 h attribution window and changes nothing.
  o.incidents = std::make_shared<FixedIncidents>(std::vector<IncidentSpan>{
      {ids_[3], at("2026-11-03T12:00:00Z"), at("2026-11-03T12:45:00Z")},
      {ids_[5], at("2026-11-06T14:00:00Z"), std::nullopt}});
  auto r = deliveryReport(*hist, o);
  ASSERT_TRUE(r);
  // Failed changes: D (incident) and E (rolled back) of B, D, E, F -> 2/4 = 50 %.
  // Restores: D 2700 s, E 7202 s -> median (2700 + 7202) / 2 = 4951 s.
  EXPECT_EQ(text(*r, {"incidents"}), "connected");
  EXPECT_DOUBLE_EQ(num(*r, {"total", "changeFailureRate", "rate"}), 0.5);
  EXPECT_DOUBLE_EQ(num(*r, {"total", "timeToRestore", "medianSeconds"}), 4951);
}

TEST_F(DeliveryReportTest, MonthlyPeriodsFollowTheCalendar) {
  seed();
  auto hist = loadHistory(*h_->store);
  ASSERT_TRUE(hist);
  DeliveryOptions o;
  o.since = at("2026-10-15T00:00:00Z");
  o.until = at("2026-12-10T00:00:00Z");
  o.by = Grouping::Month;
  o.now = h_->clock->now();
  auto r = deliveryReport(*hist, o);
  ASSERT_TRUE(r);
  // Oct 15 - Nov 1 (17 days), November (30 days), Dec 1 - Dec 10 (9 days).
  const auto& p = r->at("periods").as_array();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_DOUBLE_EQ(num(p[0], {"days"}), 17);
  EXPECT_DOUBLE_EQ(num(p[1], {"days"}), 30);
  EXPECT_DOUBLE_EQ(num(p[2], {"days"}), 9);
  // Every environment: all nine deployments are in November.
  EXPECT_EQ(num(p[1], {"deployments"}), 9);
  EXPECT_EQ(num(p[0], {"deployments"}), 0);
}

TEST(DeliveryReport, RefusesAnEmptyRangeAndUnknownGrouping) {
  DeliveryOptions o;
  o.since = at("2026-11-02T00:00:00Z");
  o.until = o.since;
  auto r = deliveryReport({}, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(parseGrouping("fortnight"));
  EXPECT_EQ(*parseReportTime("2026-11-02"), at("2026-11-02T00:00:00Z"));
}

TEST(DeliveryReport, BandThresholds) {
  using std::chrono::hours;
  EXPECT_EQ(frequencyBand(1.0), Band::Elite);
  EXPECT_EQ(frequencyBand(0.99), Band::High);
  EXPECT_EQ(frequencyBand(1.0 / 7), Band::High);
  EXPECT_EQ(frequencyBand(1.0 / 8), Band::Medium);
  EXPECT_EQ(frequencyBand(1.0 / 31), Band::Low);
  EXPECT_EQ(leadTimeBand(hours(23)), Band::Elite);
  EXPECT_EQ(leadTimeBand(hours(24)), Band::High);
  EXPECT_EQ(leadTimeBand(hours(24 * 7)), Band::Medium);
  EXPECT_EQ(leadTimeBand(hours(24 * 30)), Band::Low);
  EXPECT_EQ(changeFailureBand(0.15), Band::Elite);
  EXPECT_EQ(changeFailureBand(0.16), Band::High);
  EXPECT_EQ(changeFailureBand(0.31), Band::Medium);
  EXPECT_EQ(changeFailureBand(0.46), Band::Low);
  EXPECT_EQ(restoreBand(std::chrono::minutes(59)), Band::Elite);
  EXPECT_EQ(restoreBand(hours(1)), Band::High);
  EXPECT_EQ(restoreBand(hours(24)), Band::Medium);
  EXPECT_EQ(restoreBand(hours(24 * 7)), Band::Low);
}

// The Markdown rendering of the production report, byte for byte (tests/data/report/): its
// figures are the ones checked above. RUNWAY_UPDATE_GOLDEN=1 rewrites the file.
TEST_F(DeliveryReportTest, MarkdownGolden) {
  seed();
  const auto md = deliveryMarkdown(report("production", Grouping::Week));
  const std::string path = std::string(RUNWAY_SOURCE_DIR) + "/tests/data/report/delivery-production.md";
  if (std::getenv("RUNWAY_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << md;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const std::string golden((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(md, golden);
}

}  // namespace
}  // namespace runway::report
