#pragma once

// Statistics storage. Each worker thread owns a StatsShard and is its only writer; readers
// (admin thread) lock the shard briefly and merge all shards. The lock is per shard, so the
// request path never waits on another worker: it is contended only while a reader merges.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "histogram.hpp"
#include "runway/core/clock.hpp"
#include "runway/router/routing_table.hpp"
#include "runway/router/stats.hpp"

namespace runway::router {

// Stable small ids for (listener, version, instance) series and upstream pools, shared by all
// table generations so statistics continue across table swaps. Thread-safe.
class SeriesRegistry {
 public:
  struct Key {
    std::string listener;
    std::string version;
    std::string instance;  // empty for the version-level series
    auto operator<=>(const Key&) const = default;
  };

  std::uint32_t seriesFor(const Key& key);
  std::uint32_t poolFor(const std::string& pool_key);
  Key key(std::uint32_t series) const;
  std::size_t seriesCount() const;

 private:
  mutable std::mutex mu_;
  std::map<Key, std::uint32_t> ids_;
  std::vector<Key> keys_;
  std::map<std::string, std::uint32_t> pools_;
};

inline constexpr std::int64_t kRingSeconds = 900;  // the longest window: 15 minutes

struct CodeCount {
  std::uint16_t code;
  std::uint64_t count;
};

struct SecondSlot {
  std::int64_t second = -1;
  std::uint64_t requests = 0;
  std::array<std::uint64_t, 6> by_class{};
  std::vector<CodeCount> codes;
  std::uint64_t upstream_errors = 0;
  std::uint64_t router_errors = 0;
  std::uint64_t latency_sum_us = 0;
  std::uint64_t latency_max_us = 0;
  std::unique_ptr<histogram::Counts> hist;  // version series only
};

struct Series {
  bool with_latency = false;
  std::int64_t in_flight = 0;
  std::int64_t open_connections = 0;  // instance series: upstream connections open now
  std::vector<SecondSlot> ring;  // kRingSeconds slots, allocated on first use
  // Since start, for Prometheus.
  std::vector<CodeCount> codes_total;
  std::uint64_t upstream_errors_total = 0;
  std::uint64_t router_errors_total = 0;
  std::uint64_t latency_sum_us_total = 0;
  std::unique_ptr<histogram::WideCounts> hist_total;
  // Upgrade tunnels (WebSocket, ...), version series only: since start, and open now.
  std::uint64_t upgrades_total = 0;
  std::int64_t open_tunnels = 0;
  std::uint64_t tunnel_bytes_to_upstream_total = 0;
  std::uint64_t tunnel_bytes_to_client_total = 0;
};

// What happened to one request, recorded once it is over.
struct RequestOutcome {
  int status = 0;                  // 0 when no response was completed
  std::uint64_t latency_us = 0;
  bool router_generated = false;   // the router produced this status itself
  std::uint32_t upstream_errors = 0;
};

class StatsShard {
 public:
  // Worker thread only.
  void begin(std::uint32_t version_series, std::int64_t instance_series);
  void end(std::uint32_t version_series, std::int64_t instance_series, const RequestOutcome& o,
           std::int64_t now_second);
  // An upstream failure on an instance (for attempts that were retried elsewhere).
  void upstreamError(std::uint32_t instance_series, std::int64_t now_second);

  // An Upgrade answered 101: the connection is a tunnel from now on (worker thread only).
  void tunnelOpened(std::uint32_t version_series);
  void tunnelBytes(std::uint32_t version_series, std::uint64_t to_upstream, std::uint64_t to_client);
  void tunnelClosed(std::uint32_t version_series);
  // An upstream connection to an instance was established / closed (worker thread only).
  void connectionOpened(std::uint32_t instance_series);
  void connectionClosed(std::uint32_t instance_series);

  // Any thread: calls f(series_id, const Series&) under the shard lock.
  template <typename F>
  void forEach(F&& f) const {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < series_.size(); ++i) {
      if (series_[i]) f(static_cast<std::uint32_t>(i), *series_[i]);
    }
  }

 private:
  Series& series(std::uint32_t id, bool with_latency);
  static SecondSlot& slot(Series& s, std::int64_t now_second);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Series>> series_;
};

// Merges shards into a report over the last `window` (clamped to 1 s .. 15 min) ending now.
// Instances are listed with their state in `table` (see TrafficCounts::state); one no longer in
// it is listed while it has requests in the window or anything open.
StatsReport mergeStats(const std::vector<const StatsShard*>& shards, const SeriesRegistry& registry,
                       const RoutingTable& table, TimePoint now, Duration window);

// Prometheus text format 0.0.4 of the totals since start.
std::string prometheusText(const std::vector<const StatsShard*>& shards,
                           const SeriesRegistry& registry, const RoutingTable& table);

}  // namespace runway::router
