#include "stats_store.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace runway::router {

std::uint32_t SeriesRegistry::seriesFor(const Key& key) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = ids_.try_emplace(key, static_cast<std::uint32_t>(keys_.size()));
  if (inserted) keys_.push_back(key);
  return it->second;
}

std::uint32_t SeriesRegistry::poolFor(const std::string& pool_key) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = pools_.try_emplace(pool_key, static_cast<std::uint32_t>(pools_.size()));
  return it->second;
}

SeriesRegistry::Key SeriesRegistry::key(std::uint32_t series) const {
  std::lock_guard lock(mu_);
  return keys_.at(series);
}

std::size_t SeriesRegistry::seriesCount() const {
  std::lock_guard lock(mu_);
  return keys_.size();
}

namespace {

void addCode(std::vector<CodeCount>& codes, int status, std::uint64_t n) {
  const auto code = static_cast<std::uint16_t>(status);
  for (auto& c : codes) {
    if (c.code == code) {
      c.count += n;
      return;
    }
  }
  codes.push_back(CodeCount{code, n});
}

std::size_t statusClass(int status) {
  if (status < 100 || status > 599) return 0;
  return static_cast<std::size_t>(status / 100);
}

}  // namespace

Series& StatsShard::series(std::uint32_t id, bool with_latency) {
  if (id >= series_.size()) series_.resize(id + 1);
  auto& s = series_[id];
  if (!s) {
    s = std::make_unique<Series>();
    s->with_latency = with_latency;
    if (with_latency) s->hist_total = std::make_unique<histogram::WideCounts>();
    if (with_latency) s->hist_total->fill(0);
  }
  return *s;
}

SecondSlot& StatsShard::slot(Series& s, std::int64_t now_second) {
  if (s.ring.empty()) s.ring.resize(static_cast<std::size_t>(kRingSeconds));
  auto& slot = s.ring[static_cast<std::size_t>(now_second % kRingSeconds)];
  if (slot.second != now_second) {
    slot.second = now_second;
    slot.requests = 0;
    slot.by_class.fill(0);
    slot.codes.clear();
    slot.upstream_errors = 0;
    slot.router_errors = 0;
    slot.latency_sum_us = 0;
    slot.latency_max_us = 0;
    if (s.with_latency) {
      if (!slot.hist) slot.hist = std::make_unique<histogram::Counts>();
      slot.hist->fill(0);
    }
  }
  return slot;
}

void StatsShard::begin(std::uint32_t version_series, std::int64_t instance_series) {
  std::lock_guard lock(mu_);
  series(version_series, true).in_flight++;
  if (instance_series >= 0) series(static_cast<std::uint32_t>(instance_series), false).in_flight++;
}

void StatsShard::end(std::uint32_t version_series, std::int64_t instance_series,
                     const RequestOutcome& o, std::int64_t now_second) {
  std::lock_guard lock(mu_);
  auto record = [&](Series& s) {
    s.in_flight--;
    auto& sl = slot(s, now_second);
    sl.requests++;
    sl.by_class[statusClass(o.status)]++;
    addCode(sl.codes, o.status, 1);
    addCode(s.codes_total, o.status, 1);
    if (o.router_generated) {
      sl.router_errors++;
      s.router_errors_total++;
    }
    sl.upstream_errors += o.upstream_errors;
    s.upstream_errors_total += o.upstream_errors;
    if (s.with_latency) {
      sl.latency_sum_us += o.latency_us;
      sl.latency_max_us = std::max(sl.latency_max_us, o.latency_us);
      (*sl.hist)[histogram::bucketOf(o.latency_us)]++;
      (*s.hist_total)[histogram::bucketOf(o.latency_us)]++;
      s.latency_sum_us_total += o.latency_us;
    }
  };
  record(series(version_series, true));
  if (instance_series >= 0) record(series(static_cast<std::uint32_t>(instance_series), false));
}

void StatsShard::tunnelOpened(std::uint32_t version_series) {
  std::lock_guard lock(mu_);
  auto& s = series(version_series, true);
  s.upgrades_total++;
  s.open_tunnels++;
}

void StatsShard::tunnelBytes(std::uint32_t version_series, std::uint64_t to_upstream,
                             std::uint64_t to_client) {
  std::lock_guard lock(mu_);
  auto& s = series(version_series, true);
  s.tunnel_bytes_to_upstream_total += to_upstream;
  s.tunnel_bytes_to_client_total += to_client;
}

void StatsShard::tunnelClosed(std::uint32_t version_series) {
  std::lock_guard lock(mu_);
  series(version_series, true).open_tunnels--;
}

void StatsShard::connectionOpened(std::uint32_t instance_series) {
  std::lock_guard lock(mu_);
  series(instance_series, false).open_connections++;
}

void StatsShard::connectionClosed(std::uint32_t instance_series) {
  std::lock_guard lock(mu_);
  series(instance_series, false).open_connections--;
}

void StatsShard::upstreamError(std::uint32_t instance_series, std::int64_t now_second) {
  std::lock_guard lock(mu_);
  auto& s = series(instance_series, false);
  slot(s, now_second).upstream_errors++;
  s.upstream_errors_total++;
}

namespace {

struct Accumulator {
  TrafficCounts counts;
  std::uint64_t latency_sum_us = 0;
  std::uint64_t latency_max_us = 0;
  std::unique_ptr<histogram::WideCounts> hist;
  bool active = false;
};

// "listener\0instance" -> the instance's state in the table.
std::map<std::pair<std::string, std::string>, InstanceState> instanceStates(
    const RoutingTable& table) {
  std::map<std::pair<std::string, std::string>, InstanceState> out;
  for (const auto& l : table.listeners) {
    for (const auto& v : l.versions) {
      for (const auto& in : v.instances) out[{l.name(), in.id}] = in.state;
    }
  }
  return out;
}

std::string stateOf(const std::map<std::pair<std::string, std::string>, InstanceState>& states,
                    const SeriesRegistry::Key& key, std::int64_t in_flight,
                    std::int64_t open_connections) {
  auto it = states.find({key.listener, key.instance});
  if (it != states.end()) return std::string(toString(it->second));
  return in_flight != 0 || open_connections != 0 ? "draining" : "removed";
}

}  // namespace

StatsReport mergeStats(const std::vector<const StatsShard*>& shards, const SeriesRegistry& registry,
                       const RoutingTable& table, TimePoint now, Duration window) {
  const auto states = instanceStates(table);
  window = std::clamp(window, Duration{1000}, Duration{kRingSeconds * 1000});
  const std::int64_t now_second = toUnixMillis(now) / 1000;
  const std::int64_t first_second = now_second - window.count() / 1000 + 1;
  std::map<std::uint32_t, Accumulator> acc;
  for (const auto* shard : shards) {
    shard->forEach([&](std::uint32_t id, const Series& s) {
      auto& a = acc[id];
      a.counts.in_flight += s.in_flight;
      a.counts.open_connections += s.open_connections;
      a.active = a.active || s.in_flight != 0 || s.open_connections != 0;
      for (const auto& sl : s.ring) {
        if (sl.second < first_second || sl.second > now_second) continue;
        a.active = true;
        a.counts.requests += sl.requests;
        for (std::size_t i = 0; i < sl.by_class.size(); ++i) a.counts.by_class[i] += sl.by_class[i];
        for (const auto& c : sl.codes) a.counts.by_code[c.code] += c.count;
        a.counts.upstream_errors += sl.upstream_errors;
        a.counts.router_errors += sl.router_errors;
        a.latency_sum_us += sl.latency_sum_us;
        a.latency_max_us = std::max(a.latency_max_us, sl.latency_max_us);
        if (sl.hist) {
          if (!a.hist) {
            a.hist = std::make_unique<histogram::WideCounts>();
            a.hist->fill(0);
          }
          for (std::size_t i = 0; i < histogram::kBuckets; ++i) (*a.hist)[i] += (*sl.hist)[i];
        }
      }
    });
  }
  StatsReport report;
  report.window = window;
  report.at = now;
  std::map<std::pair<std::string, std::string>, VersionStats> versions;
  for (auto& [id, a] : acc) {
    if (!a.active) continue;
    const auto key = registry.key(id);
    auto& v = versions[{key.listener, key.version}];
    v.listener = key.listener;
    v.version = key.version;
    if (key.instance.empty()) {
      v.total = a.counts;
      if (a.hist && a.counts.requests > 0) {
        std::uint64_t total = 0;
        for (auto n : *a.hist) total += n;
        auto& l = v.total.latency;
        l.p50_ms = histogram::quantile(*a.hist, total, 0.50) / 1000.0;
        l.p95_ms = histogram::quantile(*a.hist, total, 0.95) / 1000.0;
        l.p99_ms = histogram::quantile(*a.hist, total, 0.99) / 1000.0;
        l.mean_ms = static_cast<double>(a.latency_sum_us) / static_cast<double>(total) / 1000.0;
        l.max_ms = static_cast<double>(a.latency_max_us) / 1000.0;
      }
    } else {
      a.counts.state = stateOf(states, key, a.counts.in_flight, a.counts.open_connections);
      v.instances[key.instance] = a.counts;
    }
  }
  for (auto& [k, v] : versions) report.versions.push_back(std::move(v));
  return report;
}

namespace {

std::string escapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

struct Totals {
  std::map<int, std::uint64_t> codes;
  std::uint64_t upstream_errors = 0;
  std::uint64_t router_errors = 0;
  std::int64_t in_flight = 0;
  std::int64_t open_connections = 0;
  std::uint64_t latency_sum_us = 0;
  std::unique_ptr<histogram::WideCounts> hist;
  std::uint64_t upgrades = 0;
  std::int64_t open_tunnels = 0;
  std::uint64_t tunnel_to_upstream = 0;
  std::uint64_t tunnel_to_client = 0;
};

}  // namespace

std::string prometheusText(const std::vector<const StatsShard*>& shards,
                           const SeriesRegistry& registry, const RoutingTable& table) {
  const auto states = instanceStates(table);
  std::map<std::uint32_t, Totals> totals;
  for (const auto* shard : shards) {
    shard->forEach([&](std::uint32_t id, const Series& s) {
      auto& t = totals[id];
      for (const auto& c : s.codes_total) t.codes[c.code] += c.count;
      t.upstream_errors += s.upstream_errors_total;
      t.router_errors += s.router_errors_total;
      t.in_flight += s.in_flight;
      t.open_connections += s.open_connections;
      t.latency_sum_us += s.latency_sum_us_total;
      t.upgrades += s.upgrades_total;
      t.open_tunnels += s.open_tunnels;
      t.tunnel_to_upstream += s.tunnel_bytes_to_upstream_total;
      t.tunnel_to_client += s.tunnel_bytes_to_client_total;
      if (s.hist_total) {
        if (!t.hist) {
          t.hist = std::make_unique<histogram::WideCounts>();
          t.hist->fill(0);
        }
        for (std::size_t i = 0; i < histogram::kBuckets; ++i) (*t.hist)[i] += (*s.hist_total)[i];
      }
    });
  }
  struct Labeled {
    std::string labels;  // listener="..",version=".."[,instance=".."]
    bool instance;
    const Totals* totals;
    std::string state;  // instances: see TrafficCounts::state
  };
  std::vector<Labeled> rows;
  for (const auto& [id, t] : totals) {
    const auto key = registry.key(id);
    std::string labels = fmt::format("listener=\"{}\",version=\"{}\"", escapeLabel(key.listener),
                                     escapeLabel(key.version));
    if (!key.instance.empty()) labels += fmt::format(",instance=\"{}\"", escapeLabel(key.instance));
    rows.push_back(Labeled{std::move(labels), !key.instance.empty(), &t,
                           key.instance.empty()
                               ? std::string()
                               : stateOf(states, key, t.in_flight, t.open_connections)});
  }
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  family("runway_router_requests_total", "counter",
         "Requests finished by the router per listener and version, by status code (0 = no "
         "response).");
  for (const auto& r : rows) {
    if (r.instance) continue;
    for (const auto& [code, n] : r.totals->codes) {
      out += fmt::format("runway_router_requests_total{{{},code=\"{}\"}} {}\n", r.labels, code, n);
    }
  }
  family("runway_router_instance_requests_total", "counter",
         "Requests finished per upstream instance, by status code.");
  for (const auto& r : rows) {
    if (!r.instance) continue;
    for (const auto& [code, n] : r.totals->codes) {
      out += fmt::format("runway_router_instance_requests_total{{{},code=\"{}\"}} {}\n", r.labels,
                         code, n);
    }
  }
  family("runway_router_upstream_errors_total", "counter",
         "Failed attempts to talk to an upstream instance (connect, write or read).");
  for (const auto& r : rows) {
    if (!r.instance) continue;
    out += fmt::format("runway_router_upstream_errors_total{{{}}} {}\n", r.labels,
                       r.totals->upstream_errors);
  }
  family("runway_router_generated_errors_total", "counter",
         "502, 503 and 504 responses produced by the router itself.");
  for (const auto& r : rows) {
    if (r.instance) continue;
    out += fmt::format("runway_router_generated_errors_total{{{}}} {}\n", r.labels,
                       r.totals->router_errors);
  }
  family("runway_router_in_flight_requests", "gauge", "Requests being proxied now.");
  for (const auto& r : rows) {
    out += fmt::format("runway_router_in_flight_requests{{{}}} {}\n", r.labels, r.totals->in_flight);
  }
  family("runway_router_instance_open_connections", "gauge",
         "Upstream connections open to an instance now (in use, pooled or tunnels).");
  for (const auto& r : rows) {
    if (!r.instance) continue;
    out += fmt::format("runway_router_instance_open_connections{{{}}} {}\n", r.labels,
                       r.totals->open_connections);
  }
  family("runway_router_instance_draining", "gauge",
         "1 while an instance drains: marked draining, or removed from the table with requests or "
         "connections left; 0 otherwise.");
  for (const auto& r : rows) {
    if (!r.instance || r.state == "removed") continue;
    out += fmt::format("runway_router_instance_draining{{{}}} {}\n", r.labels,
                       r.state == "draining" ? 1 : 0);
  }
  family("runway_router_request_duration_seconds", "histogram",
         "Time from a request's header to the end of its response.");
  static constexpr double kLe[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  for (const auto& r : rows) {
    if (r.instance || !r.totals->hist) continue;
    const auto& h = *r.totals->hist;
    std::uint64_t count = 0;
    for (auto n : h) count += n;
    std::size_t i = 0;
    std::uint64_t cumulative = 0;
    for (double le : kLe) {
      const auto limit_us = static_cast<std::uint64_t>(std::llround(le * 1e6));
      while (i < histogram::kBuckets && histogram::bucketHigh(i) - 1 <= limit_us) cumulative += h[i++];
      out += fmt::format("runway_router_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n",
                         r.labels, le, cumulative);
    }
    out += fmt::format("runway_router_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n",
                       r.labels, count);
    out += fmt::format("runway_router_request_duration_seconds_sum{{{}}} {}\n", r.labels,
                       static_cast<double>(r.totals->latency_sum_us) / 1e6);
    out += fmt::format("runway_router_request_duration_seconds_count{{{}}} {}\n", r.labels, count);
  }
  family("runway_router_upgraded_connections_total", "counter",
         "Upgrade requests (WebSocket, ...) the upstream accepted with 101: tunnels opened.");
  for (const auto& r : rows) {
    if (r.instance) continue;
    out += fmt::format("runway_router_upgraded_connections_total{{{}}} {}\n", r.labels,
                       r.totals->upgrades);
  }
  family("runway_router_open_tunnels", "gauge", "Upgrade tunnels open now.");
  for (const auto& r : rows) {
    if (r.instance) continue;
    out += fmt::format("runway_router_open_tunnels{{{}}} {}\n", r.labels, r.totals->open_tunnels);
  }
  family("runway_router_tunnel_bytes_total", "counter",
         "Bytes relayed through upgrade tunnels, by direction.");
  for (const auto& r : rows) {
    if (r.instance) continue;
    out += fmt::format("runway_router_tunnel_bytes_total{{{},direction=\"to_upstream\"}} {}\n",
                       r.labels, r.totals->tunnel_to_upstream);
    out += fmt::format("runway_router_tunnel_bytes_total{{{},direction=\"to_client\"}} {}\n",
                       r.labels, r.totals->tunnel_to_client);
  }
  family("runway_router_table_revision", "gauge", "Revision of the routing table being served.");
  out += fmt::format("runway_router_table_revision {}\n", table.revision);
  return out;
}

}  // namespace runway::router
