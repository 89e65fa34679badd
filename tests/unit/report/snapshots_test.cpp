// TrafficSnapshots over the real controller in simulated time: the window before a deployment
// is read when it is first seen (without the new version's own traffic), the window after once
// it has passed after the end, a window missed by more than the slack is not recorded, and the
// release report judges what was recorded.

#include "runway/report/snapshots.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "runway/report/release.hpp"
#include "seeded_history.hpp"

namespace runway::report {
namespace {

namespace json = boost::json;
using testing::at;

runtime::VersionStatistics stats(const std::string& version, std::uint64_t requests, std::uint64_t errors,
                                 double p95) {
  runtime::VersionStatistics v;
  v.version = version;
  v.requests = requests;
  v.responses_2xx = requests - errors;
  v.responses_5xx = errors;
  v.latency_p50_ms = p95 / 2;
  v.latency_p95_ms = p95;
  v.latency_p99_ms = p95 * 1.2;
  return v;
}

class SnapshotsTest : public testing::SeededHistoryTest {
 protected:
  void SetUp() override {
    SeededHistoryTest::SetUp();
    cfg_ = [] {
      auto loaded = config::loadConfigText(testing::kConfig, "/tmp/runway-report-test/runway.yaml");
      return std::make_shared<const config::Config>(std::move(*loaded.config));
    }();
    snapshots_ = std::make_unique<TrafficSnapshots>(
        SnapshotOptions{h_->store, h_->runtime, h_->clock, [this] { return cfg_; }, std::chrono::seconds(60)});
    // The router: v1 answers in 10 ms; v2 in 80 ms; v3 like v1. Asked for the last 60 s.
    h_->runtime->on_statistics = [this](std::string_view, std::string_view, Duration window)
        -> Result<std::vector<runtime::VersionStatistics>> {
      windows_.push_back(window);
      return std::vector<runtime::VersionStatistics>{stats("v1", 600, 0, 10), stats("v2", 600, 0, 80),
                                                     stats("v3", 600, 0, 10)};
    };
  }
  std::vector<json::object> snapshotsOf(const std::string& id) {
    std::vector<json::object> out;
    auto events = h_->store->listEvents(store::EventFilter{0, id, 1000});
    EXPECT_TRUE(events);
    for (const auto& e : *events) {
      if (e.kind == kTrafficSnapshotKind) out.push_back(json::parse(e.data_json).as_object());
    }
    return out;
  }
  json::value comparison(const std::string& id) {
    auto r = releaseReport(*h_->store, id, cfg_.get(), h_->clock->now());
    EXPECT_TRUE(r);
    return r ? r->at("comparison") : json::value();
  }

  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<TrafficSnapshots> snapshots_;
  std::vector<Duration> windows_;
};

TEST_F(SnapshotsTest, BeforeWhenSeenAfterOnceTheWindowHasPassed) {
  const auto v2 = deploy("2026-11-02T09:00:00Z", "staging", "v2");
  ASSERT_EQ(h_->phaseOf(v2), "Succeeded");  // ended at 09:00:00
  ASSERT_TRUE(snapshots_->tick());
  auto s = snapshotsOf(v2);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].at("when"), "before");
  EXPECT_EQ(s[0].at("windowMs"), 60000);
  EXPECT_EQ(s[0].at("from"), "2026-11-02T08:59:00.000Z");
  // Before: v1 and v3 only (v2's own first requests are left out): 1200 requests over 60 s.
  const auto& web = s[0].at("services").at(0);
  EXPECT_EQ(web.at("requests"), 1200);
  EXPECT_DOUBLE_EQ(web.at("throughput").to_number<double>(), 20.0);
  EXPECT_DOUBLE_EQ(web.at("p95Ms").to_number<double>(), 10.0);
  EXPECT_EQ(comparison(v2).at("verdict"), "pending");

  h_->clock->set(at("2026-11-02T09:00:59Z"));
  ASSERT_TRUE(snapshots_->tick());
  EXPECT_EQ(snapshotsOf(v2).size(), 1u);  // the window after has not passed
  h_->clock->set(at("2026-11-02T09:01:00Z"));
  ASSERT_TRUE(snapshots_->tick());
  s = snapshotsOf(v2);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].at("when"), "after");
  EXPECT_EQ(s[1].at("from"), "2026-11-02T09:00:00.000Z");
  // After: every version, request-weighted: P95 (10 + 80 + 10) / 3.
  EXPECT_NEAR(s[1].at("services").at(0).at("p95Ms").to_number<double>(), 100.0 / 3, 1e-9);
  ASSERT_TRUE(snapshots_->tick());
  EXPECT_EQ(snapshotsOf(v2).size(), 2u);  // each once

  // P95 10 ms -> 33.3 ms: more than 10 % and more than the 5 ms of noise -> failed.
  const auto c = comparison(v2);
  EXPECT_EQ(c.at("verdict"), "failed") << json::serialize(c);
  EXPECT_NEAR(c.at("services").at(0).at("delta").at("p95Ms").to_number<double>(), 100.0 / 3 - 10, 1e-9);
  for (const auto& w : windows_) EXPECT_EQ(w, std::chrono::seconds(60));
}

TEST_F(SnapshotsTest, AWindowMissedByMoreThanTheSlackIsNotRecorded) {
  const auto v2 = deploy("2026-11-02T09:00:00Z", "staging", "v2");
  // First seen 10 s after it was created: too late for the window before.
  h_->clock->set(at("2026-11-02T09:00:10Z"));
  ASSERT_TRUE(snapshots_->tick());
  EXPECT_TRUE(snapshotsOf(v2).empty());
  EXPECT_EQ(comparison(v2).at("verdict"), "unavailable");

  const auto v3 = deploy("2026-11-02T10:00:00Z", "staging", "v3");
  ASSERT_TRUE(snapshots_->tick());
  ASSERT_EQ(snapshotsOf(v3).size(), 1u);
  // Next seen 2 minutes after it ended: the window after was missed.
  h_->clock->set(at("2026-11-02T10:02:00Z"));
  ASSERT_TRUE(snapshots_->tick());
  EXPECT_EQ(snapshotsOf(v3).size(), 1u);
  EXPECT_EQ(comparison(v3).at("verdict"), "unavailable");
}

}  // namespace
}  // namespace runway::report
