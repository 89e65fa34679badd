#include "status_watch.hpp"

#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "output.hpp"
#include "runway/core/duration.hpp"

namespace runway::cli {

namespace json = boost::json;

namespace {

// "2026-11-26T10:15:00.250Z" (the server's formatTimestamp) as a time point.
std::optional<TimePoint> parseTimestamp(const std::string& s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &year, &month, &day, &hour, &minute, &second,
                  &millis) != 7) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t secs = ::timegm(&tm);
  return fromUnixMillis(static_cast<std::int64_t>(secs) * 1000 + millis);
}

// Whole seconds, never negative: "1m5s".
std::string seconds(Duration d) {
  if (d.count() < 0) d = Duration{0};
  return formatDuration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

// How long until the deadline `key` (deadlines.pauseUntil, ...), if the deployment has one.
std::optional<Duration> untilDeadline(const json::value& d, const char* key, TimePoint now) {
  const auto at = parseTimestamp(text(member(d, "deadlines"), key));
  if (!at) return std::nullopt;
  return *at - now;
}

std::string stepDetail(const json::value& s) {
  const std::string kind = text(s, "kind");
  if (!member(s, "weight").is_null()) return fmt::format("{}%", integer(s, "weight"));
  if (member(s, "durationMs").is_number()) return formatDuration(Duration{integer(s, "durationMs")});
  if (kind == "pause") return "until promoted";
  if (member(s, "templates").is_array()) return joinStrings(member(s, "templates"));
  if (member(s, "roles").is_array()) return joinStrings(member(s, "roles"));
  return "";
}

// "step 2/6 pause 10s", "" for strategies without steps.
std::string currentStep(const json::value& d) {
  const auto& steps = member(d, "steps");
  if (!steps.is_array() || steps.get_array().empty()) return "";
  const auto n = steps.get_array().size();
  const auto i = static_cast<std::size_t>(integer(d, "stepIndex"));
  if (i >= n) return fmt::format("steps {}/{} done", n, n);
  const auto& s = steps.get_array()[i];
  return fmt::format("step {}/{} {} {}", i + 1, n, text(s, "kind"), stepDetail(s));
}

// "0.003", "-" when the metric has no measurement yet.
std::string latestValue(const json::value& m) {
  const auto& latest = member(m, "latest");
  const auto& v = member(latest, "value");
  if (v.is_double()) return fmt::format("{:.4g}", v.get_double());
  if (v.is_int64()) return fmt::format("{}", v.get_int64());
  if (v.is_uint64()) return fmt::format("{}", v.get_uint64());
  return "-";
}

std::string conditionText(const json::value& m) {
  std::string out;
  if (auto f = text(m, "failureCondition"); !f.empty()) out = "fails when " + f;
  if (auto s = text(m, "successCondition"); !s.empty()) {
    out += (out.empty() ? "" : ", ") + std::string("succeeds when ") + s;
  }
  return out;
}

// The bake of the current step: "baking 4s of 10s, 6s left", "verification 3s left".
std::string bakeText(const json::value& d, TimePoint now) {
  std::string out;
  if (auto left = untilDeadline(d, "pauseUntil", now)) {
    const auto& steps = member(d, "steps");
    const auto i = static_cast<std::size_t>(integer(d, "stepIndex"));
    std::optional<Duration> total;
    if (steps.is_array() && i < steps.get_array().size() &&
        member(steps.get_array()[i], "durationMs").is_number()) {
      total = Duration{integer(steps.get_array()[i], "durationMs")};
    }
    if (total) {
      out = fmt::format("baking {} of {}, {} left", seconds(*total - *left), formatDuration(*total), seconds(*left));
    } else {
      out = fmt::format("paused, {} left", seconds(*left));
    }
  }
  if (auto left = untilDeadline(d, "verificationUntil", now)) {
    out += (out.empty() ? "" : "; ") + fmt::format("verification {} left", seconds(*left));
  }
  if (auto left = untilDeadline(d, "autoPromoteAt", now)) {
    out += (out.empty() ? "" : "; ") + fmt::format("auto-promotion in {}", seconds(*left));
  }
  if (auto left = untilDeadline(d, "approvalDeadline", now)) {
    out += (out.empty() ? "" : "; ") + fmt::format("approval deadline in {}", seconds(*left));
  }
  return out;
}

// The screen block of one environment and its active deployment (`d` null when none).
std::string environmentView(const json::value& e, const json::value& d, TimePoint now) {
  std::string out;
  const auto put = std::back_inserter(out);
  fmt::format_to(put, "{}  current release {}  ({})\n", text(e, "name"), orDash(text(e, "currentRelease")),
                 text(e, "strategy"));
  if (!d.is_object()) {
    fmt::format_to(put, "  no active deployment\n");
    return out;
  }
  std::string running;
  if (auto created = parseTimestamp(text(d, "createdAt"))) running = ", running " + seconds(now - *created);
  fmt::format_to(put, "  deployment {} {} (from {}): {}{}{}\n", text(d, "id"), text(d, "version"),
                 orDash(text(d, "stableVersion")), text(d, "phase"),
                 text(d, "pauseReason").empty() ? "" : " (" + text(d, "pauseReason") + ")", running);
  if (auto w = weightsText(d); !w.empty()) fmt::format_to(put, "  weights of {}: {}\n", text(d, "version"), w);
  if (auto b = bakeText(d, now); !b.empty()) fmt::format_to(put, "  bake: {}\n", b);
  const auto& steps = member(d, "steps");
  if (steps.is_array() && !steps.get_array().empty()) {
    fmt::format_to(put, "  steps:\n");
    for (const auto& s : steps.get_array()) {
      const std::string status = text(s, "status");
      fmt::format_to(put, "  {} {:>2}. {:<10} {:<16} {}\n", status == "running" ? ">" : " ", integer(s, "index") + 1,
                     text(s, "kind"), stepDetail(s), status);
    }
  }
  const auto& runs = member(d, "analysis");
  if (runs.is_array()) {
    for (const auto& r : runs.get_array()) {
      const auto step = integer(r, "step");
      fmt::format_to(put, "  analysis {} ({}{}): {}\n", text(r, "run"), text(r, "kind"),
                     step >= 0 ? fmt::format(", from step {}", step + 1) : "", text(r, "status"));
      const auto& metrics = member(r, "metrics");
      if (!metrics.is_array()) continue;
      for (const auto& m : metrics.get_array()) {
        const auto cond = conditionText(m);
        const auto outcome = text(member(m, "latest"), "outcome");
        fmt::format_to(put, "    {} {}{}{}  measurements {} ok {} failed {} inconclusive {}\n", metricLabel(m),
                       latestValue(m), outcome.empty() ? "" : " " + outcome,
                       cond.empty() ? "" : " (" + cond + ")", integer(m, "measurements"), integer(m, "successful"),
                       integer(m, "failed"), integer(m, "inconclusive"));
      }
    }
  }
  fmt::format_to(put, "  pending approvals: {}\n", orDash(joinStrings(member(d, "pendingApprovals"), ", ")));
  if (auto a = text(d, "abortReason"); !a.empty()) fmt::format_to(put, "  result: {}\n", a);
  return out;
}

// What a plain line is printed for when it changes (no clock-driven values in it).
std::string changeKey(const json::value& e, const json::value& d) {
  std::string key = text(e, "currentRelease");
  if (!d.is_object()) return key;
  key += fmt::format("|{}|{}|{}|{}|{}|{}|{}", text(d, "id"), text(d, "phase"), text(d, "pauseReason"),
                     currentStep(d), weightsText(d), joinStrings(member(d, "pendingApprovals")),
                     text(d, "abortReason"));
  const auto& runs = member(d, "analysis");
  if (runs.is_array()) {
    for (const auto& r : runs.get_array()) {
      key += "|" + text(r, "run") + "=" + text(r, "status");
      const auto& metrics = member(r, "metrics");
      if (!metrics.is_array()) continue;
      for (const auto& m : metrics.get_array()) {
        key += "," + metricLabel(m) + "=" + text(member(m, "latest"), "outcome");
      }
    }
  }
  return key;
}

std::string plainLine(const json::value& e, const json::value& d, TimePoint now) {
  std::string line = fmt::format("{}  {}", formatTimestamp(now), text(e, "name"));
  if (!d.is_object()) return line + fmt::format("  current release {}  no active deployment",
                                                orDash(text(e, "currentRelease")));
  line += fmt::format("  {} {} {}", text(d, "id"), text(d, "version"), text(d, "phase"));
  if (auto p = text(d, "pauseReason"); !p.empty()) line += " (" + p + ")";
  if (auto s = currentStep(d); !s.empty()) line += "  " + s;
  if (auto w = weightsText(d); !w.empty()) line += "  weights " + w;
  const auto& runs = member(d, "analysis");
  if (runs.is_array()) {
    for (const auto& r : runs.get_array()) {
      const auto& metrics = member(r, "metrics");
      if (!metrics.is_array()) continue;
      for (const auto& m : metrics.get_array()) {
        const auto cond = conditionText(m);
        line += fmt::format("  {} {} {}{}", metricLabel(m), latestValue(m),
                            orDash(text(member(m, "latest"), "outcome")), cond.empty() ? "" : " (" + cond + ")");
      }
    }
  }
  if (auto a = joinStrings(member(d, "pendingApprovals"), ", "); !a.empty()) line += "  awaiting approval by " + a;
  if (auto a = text(d, "abortReason"); !a.empty()) line += "  result: " + a;
  return line;
}

}  // namespace

int watchStatus(ApiClient& client, const WatchOptions& options) {
  InterruptGuard guard;
  const auto clock = systemClock();
  const std::size_t width = terminalWidth();
  std::optional<ScreenRedraw> screen;
  if (width > 0) screen.emplace(width);
  std::map<std::string, std::string> last_keys;  // environment -> change key
  std::map<std::string, std::string> tracked;    // deployment id -> its phase (--until-done)
  std::map<std::string, std::string> tracked_env;
  const std::string path = options.env.empty() ? "/api/v1/environments" : "/api/v1/environments/" + options.env;
  bool final_look = false;  // --until-done: the end was seen after this round's view; show it once more
  for (;;) {
    auto out = client.get(path);
    if (!out) return reportError(out.error());
    std::vector<json::value> envs;
    if (options.env.empty()) {
      const auto& list = member(*out, "environments");
      if (list.is_array()) envs.assign(list.get_array().begin(), list.get_array().end());
    } else {
      envs.push_back(*out);
    }
    const TimePoint now = clock->now();
    std::string view = fmt::format("{}  runway status {}--watch, every {}; Ctrl-C to stop\n", clockTime(),
                                   options.env.empty() ? "" : options.env + " ", formatDuration(options.interval));
    for (const auto& e : envs) {
      json::value d = nullptr;
      const auto& active = member(e, "activeDeployment");
      if (active.is_object()) {
        auto doc = client.get("/api/v1/deployments/" + text(active, "id"));
        if (!doc) return reportError(doc.error());
        d = std::move(*doc);
        if (options.until_done) {
          tracked[text(d, "id")] = text(d, "phase");
          tracked_env[text(d, "id")] = text(e, "name");
        }
      }
      if (screen) {
        view += "\n" + environmentView(e, d, now);
      } else if (auto key = changeKey(e, d), name = text(e, "name");
                 last_keys.count(name) == 0 || last_keys[name] != key) {
        last_keys[name] = key;
        fmt::print("{}\n", plainLine(e, d, now));
        std::fflush(stdout);
      }
    }
    if (screen) screen->draw(view);

    if (options.until_done && !tracked.empty()) {
      // A deployment that left the active slot ended between two polls: ask for its last phase.
      bool all_ended = true;
      bool ended_after_view = false;
      for (auto& [id, phase] : tracked) {
        if (isEnded(phase)) continue;
        auto doc = client.get("/api/v1/deployments/" + id);
        if (!doc) return reportError(doc.error());
        phase = text(*doc, "phase");
        if (isEnded(phase)) {
          ended_after_view = true;
        } else {
          all_ended = false;
        }
      }
      // Ended between this round's view and now: one more round at once shows the state it
      // ended in (the release now current) before the watch exits.
      if (all_ended && ended_after_view && !final_look) {
        final_look = true;
        continue;
      }
      if (all_ended) {
        int code = kExitOk;
        for (const auto& [id, phase] : tracked) {
          if (phase == "Succeeded") {
            fmt::print(stderr, "deployment {} in {} succeeded\n", id, tracked_env[id]);
          } else {
            fmt::print(stderr, "runway: deployment {} in {} ended {}\n", id, tracked_env[id], phase);
            code = kExitFailed;
          }
        }
        return code;
      }
    }
    if (!sleepUnlessInterrupted(options.interval)) return kExitOk;
  }
}

}  // namespace runway::cli
