#include "runway/checks/health.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "dependencies.hpp"
#include "http.hpp"

namespace runway::checks {
namespace {

using runtime::InstanceState;

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string instanceName(const runtime::InstanceInfo& i) {
  return fmt::format("{}/{}#{}", i.service, i.version, i.index);
}

std::string formatDuration(Duration d) {
  const auto ms = d.count();
  if (ms % 60000 == 0 && ms >= 60000) return fmt::format("{}m", ms / 60000);
  if (ms % 1000 == 0 && ms >= 1000) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

// basic: one item per instance of the versions looked at, one failure per service/version
// without a Ready instance.
void basicHealth(const config::Service& service, const std::string& environment,
                 const std::vector<std::string>& versions,
                 const std::vector<runtime::InstanceInfo>& instances, Report& report) {
  if (versions.empty()) {
    report.add({"health", service.name, ItemStatus::Failed,
                fmt::format("no version of service \"{}\" runs in \"{}\"", service.name,
                            environment),
                0});
    return;
  }
  for (const auto& version : versions) {
    int ready = 0;
    int listed = 0;
    for (const auto& i : instances) {
      if (i.service != service.name || i.version != version) continue;
      ++listed;
      const auto start = std::chrono::steady_clock::now();
      switch (i.state) {
        case InstanceState::Ready: {
          ++ready;
          auto response = http::send(detail::checkRequest(
              "GET", fmt::format("http://127.0.0.1:{}{}", i.port, service.health.path),
              service.health.timeout));
          if (!response) {
            report.add({"health", instanceName(i), ItemStatus::Failed,
                        fmt::format("GET {} on port {}: {}", service.health.path, i.port,
                                    response.error().code == ErrorCode::Timeout
                                        ? fmt::format("no answer within {}",
                                                      formatDuration(service.health.timeout))
                                        : response.error().message),
                        msSince(start)});
          } else if (!detail::isSuccess(response->status)) {
            report.add({"health", instanceName(i), ItemStatus::Failed,
                        fmt::format("GET {} -> {}, expected 2xx", service.health.path,
                                    response->status),
                        msSince(start)});
          } else {
            report.add({"health", instanceName(i), ItemStatus::Passed,
                        fmt::format("GET {} -> {} in {:.0f}ms", service.health.path,
                                    response->status, response->elapsed_ms),
                        msSince(start)});
          }
          break;
        }
        case InstanceState::Starting:
          report.add({"health", instanceName(i), ItemStatus::Skipped,
                      "starting: has not passed a readiness probe yet", 0});
          break;
        case InstanceState::Stopping:
        case InstanceState::Stopped:
          report.add({"health", instanceName(i), ItemStatus::Skipped, "being stopped", 0});
          break;
        case InstanceState::Unhealthy:
        case InstanceState::Restarting:
        case InstanceState::Failed:
          report.add({"health", instanceName(i), ItemStatus::Failed,
                      fmt::format("instance is {}{}", runtime::toString(i.state),
                                  i.last_exit.empty() ? "" : ": " + i.last_exit),
                      0});
          break;
      }
    }
    if (ready == 0) {
      report.add({"health", fmt::format("{}/{}", service.name, version), ItemStatus::Failed,
                  listed == 0 ? fmt::format("version {} has no instances", version)
                              : fmt::format("version {} has no ready instance ({} listed)",
                                            version, listed),
                  0});
    }
  }
}

void thresholdHealth(const config::Environment& env, const config::Service& service,
                     const std::vector<std::string>& versions, const HealthRequest& request,
                     const std::shared_ptr<const analysis::TrafficStatistics>& stats, Clock& clock,
                     Report& report) {
  const auto& t = env.thresholds;
  if (!t.error_rate && !t.latency_p95 && !t.availability) {
    report.add({"metrics", service.name, ItemStatus::Skipped,
                "the environment declares no thresholds (errorRate, latencyP95, availability)",
                0});
    return;
  }
  for (const auto& version : versions) {
    const auto name = fmt::format("{}/{}", service.name, version);
    if (!stats) {
      report.add({"metrics", name, ItemStatus::Skipped,
                  "no router statistics available here (error rate and P95 not checked)", 0});
      continue;
    }
    const auto now = clock.now();
    auto snap = stats->snapshot(service.name, version, now - request.window, now);
    if (!snap) {
      report.add({"metrics", name, ItemStatus::Failed,
                  fmt::format("cannot read router statistics: {}", snap.error().message), 0});
      continue;
    }
    if (snap->requests == 0) {
      report.add({"metrics", name, ItemStatus::Skipped,
                  fmt::format("no requests in the last {}", formatDuration(request.window)), 0});
      continue;
    }
    auto check = [&](const char* query, std::optional<double> limit, bool upper, double scale,
                     const char* unit, const char* label) {
      if (!limit) return;
      auto value = analysis::evaluateBuiltinQuery(query, *snap, request.window);
      if (!value || !value->value) {
        report.add({"metrics", fmt::format("{} {}", name, label), ItemStatus::Skipped,
                    value ? fmt::format("no data: {}", value->message) : value.error().message,
                    0});
        return;
      }
      const double v = *value->value * scale;
      const double l = *limit * scale;
      const bool ok = upper ? v <= l : v >= l;
      report.add({"metrics", fmt::format("{} {}", name, label),
                  ok ? ItemStatus::Passed : ItemStatus::Failed,
                  fmt::format("{} {:.4g}{} {} limit {:.4g}{} ({} requests in {})", label, v, unit,
                              ok ? (upper ? "<=" : ">=") : (upper ? ">" : "<"), l, unit,
                              snap->requests, formatDuration(request.window)),
                  0});
    };
    check("error_rate", t.error_rate, true, 100.0, "%", "error rate");
    if (t.latency_p95) {
      check("latency_p95", std::chrono::duration<double>(*t.latency_p95).count(), true, 1000.0,
            "ms", "P95");
    }
    check("availability", t.availability, false, 100.0, "%", "availability");
  }
}

// The last `max_lines` lines of a file.
std::vector<std::string> tailLines(const std::string& path, int max_lines) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > static_cast<std::size_t>(max_lines) * 2) {
      lines.erase(lines.begin(), lines.end() - max_lines);
    }
  }
  if (lines.size() > static_cast<std::size_t>(max_lines)) {
    lines.erase(lines.begin(), lines.end() - max_lines);
  }
  return lines;
}

struct ProcUsage {
  std::int64_t rss_kib = -1;
  double cpu_seconds = -1;
};

ProcUsage readProcUsage(int pid) {
  ProcUsage usage;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      fields >> usage.rss_kib;
    }
  }
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(text.substr(close + 2));
    std::vector<std::string> f;
    for (std::string s; fields >> s;) f.push_back(s);
    // After the comm field: state is field 3, utime 14, stime 15 (1-based overall).
    if (f.size() > 12) {
      const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      usage.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
    }
  }
  return usage;
}

void detailedHealth(const config::Service& service, const std::vector<std::string>& versions,
                    const std::vector<runtime::InstanceInfo>& instances,
                    const HealthRequest& request, Clock& clock, Report& report) {
  static const std::regex kErrorLine(R"(\b(error|fatal|panic|exception|crash(ed)?)\b)",
                                     std::regex::icase | std::regex::optimize);
  for (const auto& i : instances) {
    if (i.service != service.name ||
        std::find(versions.begin(), versions.end(), i.version) == versions.end()) {
      continue;
    }
    const auto name = instanceName(i);
    if (i.pid == 0) {
      report.add({"diagnostics", name, ItemStatus::Skipped,
                  fmt::format("not running ({}), no process to inspect",
                              runtime::toString(i.state)),
                  0});
      continue;
    }
    const auto usage = readProcUsage(i.pid);
    const auto uptime = std::chrono::duration<double>(clock.now() - i.started_at).count();
    std::string cpu = "cpu n/a";
    if (usage.cpu_seconds >= 0 && uptime > 0) {
      cpu = fmt::format("cpu {:.1f}s ({:.1f}% avg)", usage.cpu_seconds,
                        100.0 * usage.cpu_seconds / uptime);
    }
    const double rss_mib = usage.rss_kib >= 0 ? static_cast<double>(usage.rss_kib) / 1024.0 : -1;
    std::string reason = fmt::format("pid {} up {:.0f}s, {} restart{}, rss {}, {}", i.pid, uptime,
                                     i.restarts, i.restarts == 1 ? "" : "s",
                                     rss_mib >= 0 ? fmt::format("{:.1f}MiB", rss_mib) : "n/a",
                                     cpu);
    ItemStatus status = ItemStatus::Passed;
    if (service.resources.memory_mb > 0 && rss_mib > static_cast<double>(service.resources.memory_mb)) {
      status = ItemStatus::Failed;
      reason += fmt::format(": memory above the declared {}Mi", service.resources.memory_mb);
    }
    report.add({"diagnostics", name, status, reason, 0});

    std::vector<std::string> errors;
    for (const auto& line : tailLines(i.log_path, request.log_lines)) {
      if (std::regex_search(line, kErrorLine)) errors.push_back(line);
    }
    if (errors.empty()) {
      report.add({"log", name, ItemStatus::Passed,
                  fmt::format("no error lines in the last {} lines of {}", request.log_lines,
                              i.log_path),
                  0});
    } else {
      // Error lines are information, not a verdict: the health verdict is the probe's.
      std::string last = errors.back();
      if (last.size() > 160) last = last.substr(0, 160) + "...";
      report.add({"log", name, ItemStatus::Passed,
                  fmt::format("{} error line{} in the last {} lines; last: {}", errors.size(),
                              errors.size() == 1 ? "" : "s", request.log_lines, last),
                  0});
    }
  }
}

}  // namespace

std::string_view toString(HealthLevel level) {
  switch (level) {
    case HealthLevel::Basic:
      return "basic";
    case HealthLevel::Comprehensive:
      return "comprehensive";
    case HealthLevel::Detailed:
      return "detailed";
  }
  return "basic";
}

Result<HealthLevel> parseHealthLevel(std::string_view text) {
  if (text == "basic") return HealthLevel::Basic;
  if (text == "comprehensive") return HealthLevel::Comprehensive;
  if (text == "detailed") return HealthLevel::Detailed;
  return fail(ErrorCode::InvalidArgument,
              fmt::format("unknown health level \"{}\" (use basic, comprehensive or detailed)",
                          text));
}

std::vector<std::string> servingVersions(runtime::Runtime& runtime, std::string_view environment,
                                         std::string_view service) {
  std::vector<std::string> versions;
  if (auto split = runtime.traffic(environment, service); split && !split->weights.empty()) {
    for (const auto& [version, weight] : split->weights) {
      if (weight > 0) versions.push_back(version);
    }
    if (!versions.empty()) return versions;
  }
  if (auto list = runtime.instances(environment, service)) {
    std::set<std::string> seen;
    for (const auto& i : *list) {
      if (seen.insert(i.version).second) versions.push_back(i.version);
    }
  }
  return versions;
}

Result<Report> runHealth(const HealthRequest& request, runtime::Runtime& runtime,
                         std::shared_ptr<const analysis::TrafficStatistics> stats, Clock& clock) {
  const auto* env = request.config->findEnvironment(request.environment);
  if (env == nullptr) {
    return fail(ErrorCode::NotFound, fmt::format("unknown environment \"{}\"", request.environment));
  }
  const auto* app = request.config->applicationFor(*env);
  if (app == nullptr) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("environment \"{}\" has no application", request.environment));
  }
  Report report;
  report.title = fmt::format("health {} {}{}", toString(request.level), request.environment,
                             request.version.empty() ? "" : " " + request.version);
  auto instances = runtime.instances(request.environment);
  if (!instances) {
    report.add({"runtime", request.environment, ItemStatus::Failed,
                fmt::format("cannot list instances: {}", instances.error().message), 0});
    return report;
  }
  for (const auto& service : app->services) {
    std::vector<std::string> versions;
    if (!request.version.empty()) {
      versions.push_back(request.version);
    } else {
      versions = servingVersions(runtime, request.environment, service.name);
    }
    basicHealth(service, request.environment, versions, *instances, report);
    if (request.level != HealthLevel::Basic) {
      thresholdHealth(*env, service, versions, request, stats, clock, report);
    }
    if (request.level == HealthLevel::Detailed) {
      detailedHealth(service, versions, *instances, request, clock, report);
    }
  }
  if (request.level != HealthLevel::Basic) report.append(checkDependencies(*env));
  return report;
}

}  // namespace runway::checks
