#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/core/duration.hpp"
#include "runway/rehearse/rehearsal.hpp"

namespace runway::rehearse {
namespace {

namespace json = boost::json;

std::string where(const config::SourceLocation& l) {
  if (l.file.empty()) return {};
  return fmt::format("{}:{}:{}", l.file, l.line, l.column);
}

std::string outcome(const RehearsalReport& r) {
  if (r.bad) {
    if (r.passed) {
      return fmt::format("PASSED: the plan caught the bad build: rolled back in {}{}",
                         r.rolled_back_in,
                         r.rolled_back_at_weight >= 0
                             ? fmt::format(" at {} % of its traffic", r.rolled_back_at_weight)
                             : std::string());
    }
    if (!r.reached.empty() && r.rolled_back_in.empty() && r.stops.empty()) {
      return fmt::format("FAILED: the bad build reached {} and was never rolled back", r.reached);
    }
    return "FAILED: the plan stopped before it could catch the bad build";
  }
  if (r.passed) return fmt::format("PASSED: {} reached {}", r.version, r.reached);
  return fmt::format("FAILED: {} did not reach {}", r.version,
                     r.path.empty() ? std::string("?") : r.path.back());
}

}  // namespace

std::string formatOffset(Duration at) {
  if (at <= Duration{0}) return "T+0";
  auto ms = at.count();
  std::string out = "T+";
  const auto part = [&](std::int64_t unit, const char* name) {
    if (ms >= unit) {
      out += fmt::format("{}{}", ms / unit, name);
      ms %= unit;
    }
  };
  part(86'400'000, "d");
  part(3'600'000, "h");
  part(60'000, "m");
  part(1'000, "s");
  if (ms > 0) out += fmt::format("{}ms", ms);
  return out;
}

std::string renderText(const RehearsalReport& r) {
  std::string out;
  std::string path;
  for (const auto& e : r.path) path += (path.empty() ? "" : " -> ") + e;
  fmt::format_to(std::back_inserter(out),
                 "Rehearsal of {} {} ({}; every environment serves {} first)\n", r.application,
                 r.version, r.bad ? "a bad build: " + r.fault : std::string("a good build"),
                 r.baseline);
  fmt::format_to(std::back_inserter(out), "path: {}\nT+0 = {} (simulated)\n\n", path,
                 formatTimestamp(r.start));
  std::size_t env_width = 11;
  for (const auto& e : r.timeline) env_width = std::max(env_width, e.environment.size());
  for (const auto& e : r.timeline) {
    fmt::format_to(std::back_inserter(out), "{:<14} {:<{}} {:<24} {}\n", formatOffset(e.at),
                   e.environment, env_width, e.kind, e.text);
  }
  fmt::format_to(std::back_inserter(out), "\ntotal simulated time: {}\n",
                 formatDuration(r.elapsed));
  if (!r.stops.empty()) {
    fmt::format_to(std::back_inserter(out), "\nwhere the plan stops:\n");
    for (const auto& s : r.stops) {
      const auto at = where(s.location);
      fmt::format_to(std::back_inserter(out), "  {}{}{} at {} in {}: {}\n", at,
                     at.empty() ? "" : ": ", s.kind, formatOffset(s.at), s.environment, s.message);
    }
  }
  if (!r.rolled_back_in.empty()) {
    fmt::format_to(std::back_inserter(out), "\nrolled back in {}{}: {}\n", r.rolled_back_in,
                   r.rolled_back_at_weight >= 0 ? fmt::format(" at {} %", r.rolled_back_at_weight)
                                                : std::string(),
                   r.rollback_reason);
  }
  fmt::format_to(std::back_inserter(out), "\n{}\n", outcome(r));
  return out;
}

std::string renderJson(const RehearsalReport& r) {
  json::array timeline;
  for (const auto& e : r.timeline) {
    timeline.push_back(json::object{{"at", formatOffset(e.at)},
                                    {"atMs", e.at.count()},
                                    {"environment", e.environment},
                                    {"kind", e.kind},
                                    {"text", e.text}});
  }
  json::array stops;
  for (const auto& s : r.stops) {
    stops.push_back(json::object{{"kind", s.kind},
                                 {"environment", s.environment},
                                 {"at", formatOffset(s.at)},
                                 {"message", s.message},
                                 {"location", where(s.location)}});
  }
  json::array path;
  for (const auto& e : r.path) path.push_back(json::value(e));
  json::object o{{"application", r.application},
                 {"version", r.version},
                 {"baseline", r.baseline},
                 {"bad", r.bad},
                 {"fault", r.fault},
                 {"start", formatTimestamp(r.start)},
                 {"elapsed", formatDuration(r.elapsed)},
                 {"elapsedMs", r.elapsed.count()},
                 {"path", std::move(path)},
                 {"reached", r.reached},
                 {"rolledBackIn", r.rolled_back_in},
                 {"rolledBackAtWeight", r.rolled_back_at_weight},
                 {"rollbackReason", r.rollback_reason},
                 {"passed", r.passed},
                 {"outcome", outcome(r)},
                 {"timeline", std::move(timeline)},
                 {"stops", std::move(stops)}};
  return json::serialize(o) + "\n";
}

}  // namespace runway::rehearse
