// The checks on demand, run locally against what `runway serve` runs (read-only, from the
// runtime's files under DATA/run/; never a second runtime):
//
//   runway health ENV [basic|comprehensive|detailed] [--version V]
//   runway smoke ENV [SUITE] [--version V]
//   runway perf ENV [--duration 30s] [--rate N] [--baseline] [--version V] [--release R]
//   runway backup ENV [--list]
//   runway preflight ENV [basic|comprehensive] [--version V]
//
// Common flags: --config PATH (required unless RUNWAY_CONFIG is set), --data DIR, -o table|json.
// Exit codes: 0 everything passed, 1 something failed, 2 usage or configuration error.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "server_files.hpp"
#include "runway/analysis/provider.hpp"
#include "runway/checks/health.hpp"
#include "runway/checks/hooks.hpp"
#include "runway/checks/perf.hpp"
#include "runway/checks/preflight.hpp"
#include "runway/checks/smoke.hpp"
#include "runway/checks/snapshot.hpp"
#include "runway/config/loader.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/traffic_statistics.hpp"

namespace runway::cli {
namespace {

struct CheckFlags {
  std::string config;
  std::string data = defaultDataDir();
  std::string output = "table";
  std::string environment;
  std::string version;
  std::string router_socket;
};

void addCommonFlags(CLI::App* cmd, CheckFlags& flags) {
  cmd->add_option("ENV", flags.environment, "Environment name")->required();
  cmd->add_option("--config", flags.config,
                  "Configuration file or directory (default: $RUNWAY_CONFIG)");
  cmd->add_option("--data", flags.data, "Data directory of the server")->capture_default_str();
  cmd->add_option("-o,--output", flags.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

// The loaded configuration and the environment, or the exit code after printing why not.
struct Loaded {
  std::shared_ptr<config::Config> config;
  const config::Environment* env = nullptr;
};

std::optional<Loaded> loadFor(const CheckFlags& flags, Context& ctx) {
  std::string path = flags.config;
  if (path.empty()) {
    if (const char* c = std::getenv("RUNWAY_CONFIG"); c != nullptr && *c != '\0') path = c;
  }
  if (path.empty()) {
    fmt::print(stderr, "runway: --config is required (or set RUNWAY_CONFIG)\n");
    ctx.exit_code = kExitUsage;
    return std::nullopt;
  }
  auto result = config::loadConfig(path);
  if (!result.config) {
    for (const auto& d : result.diagnostics) fmt::print(stderr, "{}\n", d.format());
    fmt::print(stderr, "{}: {} error{}\n", path, result.diagnostics.size(),
               result.diagnostics.size() == 1 ? "" : "s");
    ctx.exit_code = kExitUsage;
    return std::nullopt;
  }
  Loaded loaded;
  loaded.config = std::make_shared<config::Config>(std::move(*result.config));
  loaded.env = loaded.config->findEnvironment(flags.environment);
  if (loaded.env == nullptr) {
    std::string names;
    for (const auto& e : loaded.config->environments) names += (names.empty() ? "" : ", ") + e.name;
    fmt::print(stderr, "runway: unknown environment \"{}\" (defined: {})\n", flags.environment,
               names);
    ctx.exit_code = kExitUsage;
    return std::nullopt;
  }
  return loaded;
}

void emit(const checks::Report& report, const CheckFlags& flags, Context& ctx) {
  // Kept for reports; a data directory we cannot write to must not hide the result itself.
  if (auto kept = checks::recordReport(flags.data, flags.environment, report, systemClock()->now());
      !kept) {
    fmt::print(stderr, "runway: the result was not kept: {}\n", kept.error().message);
  }
  if (flags.output == "json") {
    fmt::print("{}\n", report.toJson());
  } else {
    fmt::print("{}", report.toTable());
  }
  ctx.exit_code = report.passed() ? kExitOk : kExitFailed;
}

// "30s", "500ms", "2m", "1h".
std::optional<Duration> parseDurationFlag(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const auto unit = text.substr(used);
  double ms = 0;
  if (unit == "ms") {
    ms = value;
  } else if (unit == "s") {
    ms = value * 1000;
  } else if (unit == "m") {
    ms = value * 60000;
  } else if (unit == "h") {
    ms = value * 3600000;
  } else {
    return std::nullopt;
  }
  if (ms <= 0) return std::nullopt;
  return Duration{static_cast<Duration::rep>(ms)};
}

void addHealth(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<CheckFlags>();
  auto level = std::make_shared<std::string>("basic");
  auto* cmd = app.add_subcommand(
      "health",
      "Health of an environment: basic (every instance's health endpoint), comprehensive (+ "
      "dependencies, error rate and P95 against the thresholds), detailed (+ per-instance "
      "diagnostics)");
  addCommonFlags(cmd, *flags);
  cmd->add_option("LEVEL", *level, "basic, comprehensive or detailed")
      ->check(CLI::IsMember({"basic", "comprehensive", "detailed"}))
      ->capture_default_str();
  cmd->add_option("--version", flags->version, "Check this version (default: what serves)");
  cmd->add_option("--router-socket", flags->router_socket,
                  "The router's admin socket, for error rate and P95 (default: the server's "
                  "in --data when it exists; without one they are reported skipped)");
  cmd->callback([&ctx, flags, level] {
    auto loaded = loadFor(*flags, ctx);
    if (!loaded) return;
    auto snapshot = checks::openRuntimeSnapshot(flags->data);
    std::shared_ptr<const analysis::TrafficStatistics> stats;
    std::string socket = flags->router_socket;
    if (socket.empty()) {
      std::error_code ec;
      if (const auto server = routerSocket(flags->data); std::filesystem::exists(server, ec)) {
        socket = server.string();
      }
    }
    if (!socket.empty()) {
      stats = runtime::routerTrafficStatistics(socket, flags->environment, systemClock());
    }
    checks::HealthRequest request;
    request.config = loaded->config.get();
    request.environment = flags->environment;
    request.version = flags->version;
    request.level = *checks::parseHealthLevel(*level);
    auto report = checks::runHealth(request, *snapshot, stats, *systemClock());
    if (!report) {
      fmt::print(stderr, "runway: {}\n", report.error().message);
      ctx.exit_code = kExitUsage;
      return;
    }
    emit(*report, *flags, ctx);
  });
}

void addSmoke(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<CheckFlags>();
  auto suite = std::make_shared<std::string>("critical");
  auto* cmd = app.add_subcommand(
      "smoke", "Run a smoke suite against a version's instances or through the router");
  addCommonFlags(cmd, *flags);
  cmd->add_option("SUITE", *suite, "Suite name")->capture_default_str();
  cmd->add_option("--version", flags->version,
                  "Send the checks to this version's instances directly (default: through the "
                  "router)");
  cmd->callback([&ctx, flags, suite] {
    auto loaded = loadFor(*flags, ctx);
    if (!loaded) return;
    auto snapshot = checks::openRuntimeSnapshot(flags->data);
    checks::SmokeRequest request;
    request.config = loaded->config.get();
    request.environment = flags->environment;
    request.suite = *suite;
    request.version = flags->version;
    request.data_dir = flags->data;
    auto report = checks::runSmoke(request, *snapshot);
    if (!report) {
      fmt::print(stderr, "runway: {}\n", report.error().message);
      ctx.exit_code = kExitUsage;
      return;
    }
    emit(*report, *flags, ctx);
  });
}

void addPerf(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<CheckFlags>();
  auto duration = std::make_shared<std::string>();
  auto rate = std::make_shared<double>(0);
  auto baseline = std::make_shared<bool>(false);
  auto release = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "perf",
      "Open-model load test; --baseline saves the result as the environment's baseline, "
      "otherwise the run is compared against it with the configured tolerances");
  addCommonFlags(cmd, *flags);
  cmd->add_option("--duration", *duration, "How long, e.g. 30s (default: the config's)");
  cmd->add_option("--rate", *rate, "Requests per second (default: the config's)");
  cmd->add_flag("--baseline", *baseline, "Save this run as the baseline");
  cmd->add_option("--version", flags->version,
                  "Load this version's instances directly (default: through the router)");
  cmd->add_option("--release", *release, "Release label of this run (default: --version)");
  cmd->callback([&ctx, flags, duration, rate, baseline, release] {
    auto loaded = loadFor(*flags, ctx);
    if (!loaded) return;
    auto spec = loaded->env->performance;
    if (!duration->empty()) {
      auto d = parseDurationFlag(*duration);
      if (!d) {
        fmt::print(stderr, "runway: --duration: expected a duration such as 30s, got \"{}\"\n",
                   *duration);
        ctx.exit_code = kExitUsage;
        return;
      }
      spec.duration = *d;
    }
    if (*rate < 0) {
      fmt::print(stderr, "runway: --rate must be positive\n");
      ctx.exit_code = kExitUsage;
      return;
    }
    if (*rate > 0) spec.rate = *rate;
    const auto* app_cfg = loaded->config->applicationFor(*loaded->env);
    const auto service = spec.service.empty() ? app_cfg->services.front().name : spec.service;
    checks::LoadOptions options;
    options.method = spec.method;
    options.rate = spec.rate;
    options.duration = spec.duration;
    options.timeout = spec.timeout;
    if (!flags->version.empty()) {
      auto snapshot = checks::openRuntimeSnapshot(flags->data);
      auto list = snapshot->instances(flags->environment, service);
      if (list) {
        for (const auto& i : *list) {
          if (i.version == flags->version && i.state == runtime::InstanceState::Ready) {
            options.urls.push_back(fmt::format("http://127.0.0.1:{}{}", i.port, spec.path));
          }
        }
      }
      if (options.urls.empty()) {
        fmt::print(stderr, "runway: version {} of service \"{}\" has no ready instance in \"{}\"\n",
                   flags->version, service, flags->environment);
        ctx.exit_code = kExitFailed;
        return;
      }
    } else if (auto it = loaded->env->runtime.local.ports.find(service);
               it != loaded->env->runtime.local.ports.end()) {
      options.urls.push_back(fmt::format("http://127.0.0.1:{}{}", it->second, spec.path));
    } else if (auto l = checks::recordedListener(flags->data, flags->environment, service)) {
      options.urls.push_back(fmt::format("http://127.0.0.1:{}{}", l->port, spec.path));
    } else {
      fmt::print(stderr, "runway: no router listener is known for service \"{}\" in \"{}\"\n",
                 service, flags->environment);
      ctx.exit_code = kExitFailed;
      return;
    }
    auto run = checks::generateLoad(options);
    if (!run) {
      fmt::print(stderr, "runway: {}\n", run.error().message);
      ctx.exit_code = kExitUsage;
      return;
    }
    run->release = release->empty() ? (flags->version.empty() ? "current" : flags->version)
                                    : *release;
    if (auto r = checks::recordRun(flags->data, flags->environment, *run); !r) {
      fmt::print(stderr, "runway: {}\n", r.error().message);
    }
    checks::Report report;
    if (*baseline) {
      report = checks::judgeWithoutBaseline(*run, spec);
      report.items.pop_back();
      if (report.passed()) {
        if (auto saved = checks::saveBaseline(flags->data, flags->environment, *run); !saved) {
          fmt::print(stderr, "runway: cannot save the baseline: {}\n", saved.error().message);
          ctx.exit_code = kExitFailed;
          return;
        }
        report.add({"perf", "baseline", checks::ItemStatus::Passed,
                    fmt::format("saved as the baseline of {} (release {})", flags->environment,
                                run->release),
                    0});
      }
    } else if (auto base = checks::loadBaseline(flags->data, flags->environment)) {
      report = checks::comparePerformance(*run, *base, spec);
    } else {
      report = checks::judgeWithoutBaseline(*run, spec);
    }
    emit(report, *flags, ctx);
  });
}

void addBackup(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<CheckFlags>();
  auto list_only = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "backup", "Run the environment's backup hook now and list the kept backups");
  addCommonFlags(cmd, *flags);
  cmd->add_flag("--list", *list_only, "Only list the kept backups");
  cmd->add_option("--version", flags->version, "Version label passed to the hook");
  cmd->callback([&ctx, flags, list_only] {
    auto loaded = loadFor(*flags, ctx);
    if (!loaded) return;
    const auto& env = *loaded->env;
    checks::Report report;
    report.title = fmt::format("backup {}", env.name);
    if (!*list_only) {
      auto result = checks::runBackup(env, flags->data, flags->version, *systemClock());
      if (!result) {
        fmt::print(stderr, "runway: {}\n", result.error().message);
        ctx.exit_code = kExitUsage;
        return;
      }
      report.add({"backup", result->file,
                  result->run.ok ? checks::ItemStatus::Passed : checks::ItemStatus::Failed,
                  result->run.reason, result->run.duration_ms});
      if (!result->run.ok && !result->run.output.empty()) {
        fmt::print(stderr, "{}", result->run.output);
      }
      for (const auto& removed : result->removed) {
        report.add({"retention", removed, checks::ItemStatus::Passed,
                    fmt::format("removed (keep {})", env.backup->keep), 0});
      }
    }
    for (const auto& kept : checks::listBackups(env, flags->data)) {
      report.add({"kept", kept.path, checks::ItemStatus::Passed,
                  fmt::format("{} bytes", kept.bytes), 0});
    }
    if (*list_only && report.items.empty()) {
      report.add({"kept", checks::backupDirectory(env, flags->data).string(),
                  checks::ItemStatus::Skipped, "no backups kept", 0});
      ctx.exit_code = kExitOk;
      fmt::print("{}", flags->output == "json" ? report.toJson() + "\n" : report.toTable());
      return;
    }
    emit(report, *flags, ctx);
  });
}

void addPreflight(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<CheckFlags>();
  auto level = std::make_shared<std::string>("basic");
  auto* cmd = app.add_subcommand(
      "preflight",
      "Before a deployment: configuration, runtime, artifacts (commands, image tags), secrets, "
      "change window; comprehensive adds capacity, metrics provider, current health and "
      "dependencies");
  addCommonFlags(cmd, *flags);
  cmd->add_option("LEVEL", *level, "basic or comprehensive")
      ->check(CLI::IsMember({"basic", "comprehensive"}))
      ->capture_default_str();
  cmd->add_option("--version", flags->version,
                  "The version about to be deployed (its image tags are looked up)");
  cmd->callback([&ctx, flags, level] {
    auto loaded = loadFor(*flags, ctx);
    if (!loaded) return;
    auto snapshot = checks::openRuntimeSnapshot(flags->data);
    checks::PreflightRequest request;
    request.config = loaded->config.get();
    request.environment = flags->environment;
    request.version = flags->version;
    request.level = *checks::parsePreflightLevel(*level);
    request.data_dir = flags->data;
    auto report = checks::runPreflight(request, *snapshot, *systemClock());
    if (!report) {
      fmt::print(stderr, "runway: {}\n", report.error().message);
      ctx.exit_code = kExitUsage;
      return;
    }
    emit(*report, *flags, ctx);
  });
}

}  // namespace

void addCheckCommands(CLI::App& app, Context& ctx) {
  addPreflight(app, ctx);
  addHealth(app, ctx);
  addSmoke(app, ctx);
  addPerf(app, ctx);
  addBackup(app, ctx);
}

}  // namespace runway::cli
