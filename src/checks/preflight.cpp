#include "runway/checks/preflight.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "command.hpp"
#include "dependencies.hpp"
#include "http.hpp"
#include "runway/checks/health.hpp"
#include "runway/checks/registry.hpp"
#include "runway/core/spawn.hpp"
#include "runway/engine/spec.hpp"

namespace runway::checks {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> defaultExtraPath() {
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return {self.parent_path()};
}

void configItem(const PreflightRequest& request, Report& report) {
  report.add({"config", "valid", ItemStatus::Passed,
              fmt::format("{} file{} loaded without errors", request.config->files.size(),
                          request.config->files.size() == 1 ? "" : "s"),
              0});
}

void runtimeItem(const config::Environment& env, const PreflightRequest& request,
                 runtime::Runtime& runtime, Report& report) {
  if (env.runtime.kind == config::RuntimeSpec::Kind::Simulated) {
    report.add({"runtime", "simulated", ItemStatus::Passed,
                "the simulated runtime runs no processes: nothing on this machine to check", 0});
    return;
  }
  if (env.runtime.kind != config::RuntimeSpec::Kind::Local) {
    report.add({"runtime", "kubernetes", ItemStatus::Skipped,
                "the kubernetes runtime is not available in this build; nothing was checked", 0});
    return;
  }
  std::error_code ec;
  const auto run = request.data_dir / "run";
  if (!fs::is_directory(request.data_dir, ec)) {
    report.add({"runtime", "local", ItemStatus::Failed,
                fmt::format("data directory {} does not exist (is --data right? has runway serve "
                            "run here?)",
                            request.data_dir.string()),
                0});
    return;
  }
  if (::access(request.data_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    report.add({"runtime", "local", ItemStatus::Failed,
                fmt::format("data directory {} is not writable", request.data_dir.string()), 0});
    return;
  }
  auto list = runtime.instances(request.environment);
  if (!list) {
    report.add({"runtime", "local", ItemStatus::Failed,
                fmt::format("cannot read instances: {}", list.error().message), 0});
    return;
  }
  report.add({"runtime", "local", ItemStatus::Passed,
              fmt::format("data directory {} usable; {} instance{} recorded in \"{}\"",
                          request.data_dir.string(), list->size(), list->size() == 1 ? "" : "s",
                          request.environment),
              0});
}

void artifactItems(const config::Environment& env, const config::Application& app,
                   const PreflightRequest& request, Report& report) {
  const auto extra = request.extra_path.empty() ? defaultExtraPath() : request.extra_path;
  for (const auto& svc : app.services) {
    if (env.runtime.kind == config::RuntimeSpec::Kind::Local && svc.local &&
        !svc.local->command.empty()) {
      const auto& name = svc.local->command.front();
      fs::path working = svc.local->base_dir;
      if (!svc.local->working_dir.empty()) working /= svc.local->working_dir;
      auto found = findExecutable(name, working, searchPath(extra));
      if (found) {
        report.add({"artifact", fmt::format("{} command", svc.name), ItemStatus::Passed,
                    fmt::format("{} is executable", found->string()), 0});
      } else {
        report.add({"artifact", fmt::format("{} command", svc.name), ItemStatus::Failed,
                    found.error().message, 0});
      }
    }
    if (svc.image.empty()) continue;
    const auto item_name = fmt::format("{} image", svc.name);
    if (request.version.empty()) {
      report.add({"artifact", item_name, ItemStatus::Skipped,
                  fmt::format("no version given, so no tag of {} to look up", svc.image), 0});
      continue;
    }
    auto ref = parseImageReference(svc.image, request.version);
    if (!ref) {
      report.add({"artifact", item_name, ItemStatus::Failed, ref.error().message, 0});
      continue;
    }
    const auto shown = fmt::format("{}:{}", svc.image, request.version);
    auto check = checkManifest(*ref, env.preflight.registry);
    if (!check) {
      report.add({"artifact", item_name, ItemStatus::Failed,
                  fmt::format("{}: registry unreachable: {}", shown, check.error().message), 0});
    } else if (!check->exists) {
      report.add({"artifact", item_name, ItemStatus::Failed,
                  fmt::format("{} not found: {}", shown, check->detail), 0});
    } else {
      report.add({"artifact", item_name, ItemStatus::Passed,
                  fmt::format("{} exists ({})", shown, check->detail), 0});
    }
  }
}

void secretItems(const config::Environment& env, Report& report) {
  if (env.preflight.env.empty() && env.preflight.files.empty()) {
    report.add({"secrets", env.name, ItemStatus::Skipped,
                "the environment lists no required variables or secret files (preflight.env, "
                "preflight.files)",
                0});
    return;
  }
  for (const auto& name : env.preflight.env) {
    const char* value = std::getenv(name.c_str());
    const bool ok = value != nullptr && *value != '\0';
    // Never the value: only whether it is there.
    report.add({"secrets", name, ok ? ItemStatus::Passed : ItemStatus::Failed,
                ok ? "set" : (value == nullptr ? "not set" : "set but empty"), 0});
  }
  for (const auto& file : env.preflight.files) {
    std::error_code ec;
    const bool exists = fs::is_regular_file(file, ec);
    const bool readable = exists && ::access(file.c_str(), R_OK) == 0;
    report.add({"secrets", file, readable ? ItemStatus::Passed : ItemStatus::Failed,
                readable ? "readable" : (exists ? "not readable" : "does not exist"), 0});
  }
}

void windowItem(const config::Environment& env, const config::Application& app,
                const config::Config& cfg, Clock& clock, Report& report) {
  if (env.windows.empty() && env.freezes.empty()) {
    report.add({"window", env.name, ItemStatus::Passed,
                "no change windows or freezes: always open", 0});
    return;
  }
  auto spec = engine::buildSpec(env, app, cfg.templates);
  if (!spec) {
    report.add({"window", env.name, ItemStatus::Failed, spec.error().message, 0});
    return;
  }
  const auto now = clock.now();
  if (engine::windowOpen(*spec, now)) {
    report.add({"window", env.name, ItemStatus::Passed,
                fmt::format("inside a change window at {}", formatTimestamp(now)), 0});
    return;
  }
  auto next = engine::nextWindowOpening(*spec, now);
  report.add({"window", env.name, ItemStatus::Failed,
              next ? fmt::format("outside every change window (or in a freeze) at {}; next "
                                 "opening {}",
                                 formatTimestamp(now), formatTimestamp(*next))
                   : fmt::format("outside every change window at {}; no opening within 400 days",
                                 formatTimestamp(now)),
              0});
}

std::int64_t memAvailableMiB() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream fields(line.substr(13));
      std::int64_t kib = -1;
      fields >> kib;
      return kib < 0 ? -1 : kib / 1024;
    }
  }
  return -1;
}

// Idle and total jiffies of all CPUs (the "cpu" line of /proc/stat); nullopt when unreadable.
std::optional<std::pair<double, double>> cpuTimes() {
  std::ifstream in("/proc/stat");
  std::string label;
  in >> label;
  if (label != "cpu") return std::nullopt;
  double total = 0;
  double idle = 0;
  for (int i = 0; i < 8; ++i) {
    double v = 0;
    if (!(in >> v)) break;
    total += v;
    if (i == 3 || i == 4) idle += v;  // idle, iowait
  }
  if (total <= 0) return std::nullopt;
  return std::make_pair(idle, total);
}

// Cores idle over a short sample: online cores x idle share of /proc/stat's time in 250ms.
std::optional<double> freeCpus() {
  const auto before = cpuTimes();
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const auto after = cpuTimes();
  if (!before || !after || after->second <= before->second) return std::nullopt;
  const double idle_share = (after->first - before->first) / (after->second - before->second);
  return static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN)) * idle_share;
}

void capacityItems(const config::Application& app, Report& report) {
  double cpu = 0;
  std::int64_t memory = 0;
  for (const auto& svc : app.services) {
    cpu += svc.resources.cpu * svc.instances;
    memory += svc.resources.memory_mb * svc.instances;
  }
  if (memory == 0) {
    report.add({"capacity", "memory", ItemStatus::Skipped,
                "no service declares resources.memory", 0});
  } else if (const auto available = memAvailableMiB(); available < 0) {
    report.add({"capacity", "memory", ItemStatus::Skipped, "cannot read /proc/meminfo", 0});
  } else {
    const bool ok = available >= memory;
    report.add({"capacity", "memory", ok ? ItemStatus::Passed : ItemStatus::Failed,
                fmt::format("{} MiB available, one more version needs {} MiB", available, memory),
                0});
  }
  if (cpu == 0) {
    report.add({"capacity", "cpu", ItemStatus::Skipped, "no service declares resources.cpu", 0});
  } else {
    const auto free = freeCpus();
    if (!free) {
      report.add({"capacity", "cpu", ItemStatus::Skipped, "cannot read /proc/stat", 0});
    } else {
      const bool ok = *free >= cpu;
      report.add({"capacity", "cpu", ok ? ItemStatus::Passed : ItemStatus::Failed,
                  fmt::format("{:.2f} cores idle (sampled over 250ms), one more version needs "
                              "{:.2f}",
                              *free, cpu),
                  0});
    }
  }
}

void metricsItem(const config::Environment& env, Report& report) {
  if (env.preflight.metrics.empty()) {
    report.add({"metrics", env.name, ItemStatus::Skipped,
                "no metrics provider named (preflight.metrics); builtin router statistics need "
                "no check",
                0});
    return;
  }
  auto response = http::send(detail::checkRequest(
      "GET", env.preflight.metrics + "/api/v1/query?query=vector(1)", std::chrono::seconds(5)));
  if (!response) {
    report.add({"metrics", env.preflight.metrics, ItemStatus::Failed, response.error().message, 0});
  } else if (!detail::isSuccess(response->status) ||
             response->body.find("\"success\"") == std::string::npos) {
    report.add({"metrics", env.preflight.metrics, ItemStatus::Failed,
                fmt::format("query vector(1) -> {}", response->status), 0});
  } else {
    report.add({"metrics", env.preflight.metrics, ItemStatus::Passed,
                "answers a Prometheus query", 0});
  }
}

}  // namespace

Result<PreflightLevel> parsePreflightLevel(std::string_view text) {
  if (text == "basic") return PreflightLevel::Basic;
  if (text == "comprehensive") return PreflightLevel::Comprehensive;
  return fail(ErrorCode::InvalidArgument,
              fmt::format("unknown pre-flight level \"{}\" (use basic or comprehensive)", text));
}

Result<Report> runPreflight(const PreflightRequest& request, runtime::Runtime& runtime,
                            Clock& clock) {
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
  report.title = fmt::format("preflight {} {}{}",
                             request.level == PreflightLevel::Basic ? "basic" : "comprehensive",
                             request.environment,
                             request.version.empty() ? "" : " " + request.version);
  configItem(request, report);
  runtimeItem(*env, request, runtime, report);
  artifactItems(*env, *app, request, report);
  secretItems(*env, report);
  windowItem(*env, *app, *request.config, clock, report);
  if (request.level == PreflightLevel::Comprehensive) {
    capacityItems(*app, report);
    metricsItem(*env, report);
    // Current health: whatever serves now. Nothing serving yet (a first deployment) is not a
    // pre-flight failure.
    bool serving = false;
    for (const auto& svc : app->services) {
      if (!servingVersions(runtime, request.environment, svc.name).empty()) serving = true;
    }
    if (serving) {
      HealthRequest health;
      health.config = request.config;
      health.environment = request.environment;
      health.level = HealthLevel::Basic;
      if (auto h = runHealth(health, runtime, nullptr, clock)) report.append(*h);
    } else {
      report.add({"health", request.environment, ItemStatus::Skipped,
                  "nothing runs in the environment yet (first deployment)", 0});
    }
    report.append(checkDependencies(*env));
  }
  return report;
}

}  // namespace runway::checks
