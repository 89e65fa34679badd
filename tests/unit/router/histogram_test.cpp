#include "histogram.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "stats_store.hpp"

namespace runway::router {
namespace {

TEST(Histogram, BucketsAreContiguousAndNarrow) {
  for (std::size_t i = 0; i + 1 < histogram::kBuckets; ++i) {
    ASSERT_EQ(histogram::bucketHigh(i), histogram::bucketLow(i + 1)) << i;
    const double width = static_cast<double>(histogram::bucketHigh(i) - histogram::bucketLow(i));
    if (histogram::bucketLow(i) >= 64) {
      EXPECT_LE(width / static_cast<double>(histogram::bucketLow(i)), 1.0 / 32 + 1e-9) << i;
    }
  }
  for (std::uint64_t v : {0ull, 1ull, 63ull, 64ull, 65ull, 1000ull, 123456ull, 99999999ull}) {
    const auto b = histogram::bucketOf(v);
    EXPECT_LE(histogram::bucketLow(b), v);
    EXPECT_LT(v, histogram::bucketHigh(b));
  }
  EXPECT_EQ(histogram::bucketOf(~0ull), histogram::kBuckets - 1);
}

TEST(Histogram, QuantilesWithinFivePercent) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(2000.0), 0.8);  // µs, median 2 ms
  std::vector<std::uint64_t> values;
  histogram::WideCounts counts{};
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<std::uint64_t>(latency(rng));
    values.push_back(v);
    counts[histogram::bucketOf(v)]++;
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.95, 0.99}) {
    const double exact = static_cast<double>(values[static_cast<std::size_t>(q * 200'000) - 1]);
    const double estimate = histogram::quantile(counts, values.size(), q);
    EXPECT_NEAR(estimate, exact, exact * 0.05) << "q=" << q;
  }
  EXPECT_EQ(histogram::quantile(counts, 0, 0.5), 0.0);
}

TEST(StatsStore, SlidingWindowsAndPerThreadMerge) {
  SeriesRegistry registry;
  const auto v = registry.seriesFor({"api.prod", "v2", ""});
  const auto i0 = registry.seriesFor({"api.prod", "v2", "v2-0"});
  StatsShard a;
  StatsShard b;
  const std::int64_t t0 = 1'700'000'000;
  // 100 requests 5 minutes ago on shard a, 10 (one 503) now on shard b.
  for (int k = 0; k < 100; ++k) {
    a.begin(v, i0);
    a.end(v, i0, RequestOutcome{200, 1000, false, 0}, t0 - 300);
  }
  for (int k = 0; k < 9; ++k) {
    b.begin(v, i0);
    b.end(v, i0, RequestOutcome{200, 50'000, false, 0}, t0);
  }
  b.begin(v, -1);
  b.end(v, -1, RequestOutcome{503, 10, true, 0}, t0);
  b.begin(v, i0);  // still in flight
  b.upstreamError(i0, t0);
  const std::vector<const StatsShard*> shards{&a, &b};
  const auto now = fromUnixMillis(t0 * 1000 + 500);
  RoutingTable table;  // v2-0 is not in it: removed while a request is in flight
  auto last_minute = mergeStats(shards, registry, table, now, Duration{60'000});
  const auto* s = last_minute.find("api.prod", "v2");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->total.requests, 10u);
  EXPECT_EQ(s->total.by_code.at(200), 9u);
  EXPECT_EQ(s->total.by_class[5], 1u);
  EXPECT_EQ(s->total.router_errors, 1u);
  EXPECT_EQ(s->total.in_flight, 1);
  EXPECT_NEAR(s->total.latency.p50_ms, 50.0, 2.5);
  EXPECT_EQ(s->instances.at("v2-0").requests, 9u);
  EXPECT_EQ(s->instances.at("v2-0").upstream_errors, 1u);
  EXPECT_EQ(s->instances.at("v2-0").state, "draining");
  EXPECT_EQ(s->instances.at("v2-0").open_connections, 0);
  auto ten_minutes = mergeStats(shards, registry, table, now, Duration{600'000});
  s = ten_minutes.find("api.prod", "v2");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->total.requests, 110u);
  EXPECT_NEAR(s->total.latency.p50_ms, 1.0, 0.05);
  // Older than the ring: gone, and the slot is reused.
  a.begin(v, i0);
  a.end(v, i0, RequestOutcome{200, 1000, false, 0}, t0 - 300 + kRingSeconds);
  auto later = mergeStats(shards, registry, table, fromUnixMillis((t0 + 600) * 1000),
                          Duration{900'000});
  EXPECT_EQ(later.find("api.prod", "v2")->total.by_code.at(200), 10u);
}

TEST(StatsStore, PrometheusTextHasEveryFamily) {
  SeriesRegistry registry;
  const auto v = registry.seriesFor({"api.prod", "v\"1", ""});
  const auto i = registry.seriesFor({"api.prod", "v\"1", "a"});
  StatsShard s;
  s.begin(v, i);
  s.end(v, i, RequestOutcome{200, 3000, false, 0}, 100);
  s.connectionOpened(i);
  s.connectionOpened(i);
  s.connectionClosed(i);
  RoutingTable table;
  table.revision = 9;
  Listener l;
  l.service = "api";
  l.environment = "prod";
  l.versions.push_back(Version{"v\"1", 1000, {Instance{"a", "127.0.0.1", 9000, InstanceState::Draining}}});
  table.listeners.push_back(l);
  const auto text = prometheusText({&s}, registry, table);
  EXPECT_NE(text.find("runway_router_requests_total{listener=\"api.prod\",version=\"v\\\"1\",code=\"200\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("runway_router_request_duration_seconds_bucket{listener=\"api.prod\",version=\"v\\\"1\",le=\"0.0025\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("le=\"0.005\"} 1"), std::string::npos);
  EXPECT_NE(text.find("runway_router_table_revision 9"), std::string::npos);
  EXPECT_NE(text.find("runway_router_instance_requests_total{listener=\"api.prod\",version=\"v\\\"1\",instance=\"a\",code=\"200\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("runway_router_instance_open_connections{listener=\"api.prod\",version=\"v\\\"1\",instance=\"a\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("runway_router_instance_draining{listener=\"api.prod\",version=\"v\\\"1\",instance=\"a\"} 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace runway::router
