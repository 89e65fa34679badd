// `runway rehearse PATH [--version V] [--bad ERROR_RATE|LATENCY] [--speed N]`: the whole
// release plan of a configuration in simulated time (rehearse/rehearsal.hpp). Exit 0 when a good
// build reaches the last environment (or a bad one is rolled back by the plan), 1 otherwise,
// 2 for a configuration with errors or a bad flag.

#include <chrono>
#include <string>
#include <vector>

#include "commands.hpp"
#include <fmt/format.h>

#include "runway/analysis/validate.hpp"
#include "runway/config/loader.hpp"
#include "runway/core/duration.hpp"
#include "runway/core/error.hpp"
#include "runway/core/logging.hpp"
#include "runway/rehearse/rehearsal.hpp"

namespace runway::cli {
namespace {

struct RehearseFlags {
  std::string path = "runway.yaml";
  std::string version = "v2";
  std::string baseline = "v1";
  std::string bad;
  std::vector<std::string> bad_in;
  std::vector<std::string> roles;
  double speed = 0;
  std::string start;
  int seed = 1;
  std::string output = "text";
};

// "0.05" is an error rate; "2s" or "800ms" a P95 latency.
Result<runtime::SimulatedFault> parseFault(const std::string& text) {
  runtime::SimulatedFault fault;
  if (auto latency = parseDuration(text); latency && latency->count() > 0) {
    fault.latency_p95 = *latency;
    return fault;
  }
  try {
    std::size_t used = 0;
    const double rate = std::stod(text, &used);
    if (used == text.size() && rate >= 0 && rate <= 1) {
      fault.error_rate = rate;
      return fault;
    }
  } catch (...) {
  }
  return fail(ErrorCode::InvalidArgument,
              "--bad takes an error rate from 0 to 1 (0.05 = 5 % of responses fail) or a P95 "
              "latency (2s, 800ms)");
}

int rehearseCommand(const RehearseFlags& flags) {
  auto loaded = config::loadConfig(flags.path);
  if (loaded.ok()) loaded.diagnostics = analysis::validateTemplates(*loaded.config);
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) fmt::print(stderr, "{}\n", d.format());
    fmt::print(stderr, "{}: {} error{}; nothing rehearsed\n", flags.path, loaded.diagnostics.size(),
               loaded.diagnostics.size() == 1 ? "" : "s");
    return kExitUsage;
  }
  rehearse::RehearsalOptions o;
  o.config = std::make_shared<const config::Config>(std::move(*loaded.config));
  o.version = flags.version;
  o.baseline = flags.baseline;
  o.speed = flags.speed;
  o.model.seed = static_cast<std::uint64_t>(flags.seed);
  if (!flags.roles.empty()) o.held_roles = flags.roles;
  if (!flags.bad.empty()) {
    auto fault = parseFault(flags.bad);
    if (!fault) {
      fmt::print(stderr, "runway: {}\n", fault.error().message);
      return kExitUsage;
    }
    o.fault = *fault;
    for (const auto& env : flags.bad_in) {
      if (o.config->findEnvironment(env) == nullptr) {
        fmt::print(stderr, "runway: --bad-in: no environment named \"{}\" in {}\n", env,
                   flags.path);
        return kExitUsage;
      }
    }
    o.fault->environments = flags.bad_in;
  }
  if (flags.start.empty()) {
    o.start = std::chrono::floor<std::chrono::seconds>(systemClock()->now());
  } else {
    auto start = parseTimestamp(flags.start);
    if (!start) {
      fmt::print(stderr, "runway: --start: {}\n", start.error().message);
      return kExitUsage;
    }
    o.start = *start;
  }
  const auto began = std::chrono::steady_clock::now();
  auto report = rehearse::rehearse(o);
  if (!report) {
    fmt::print(stderr, "runway: {}\n", report.error().message);
    return exitCode(report.error().code);
  }
  fmt::print(
      "{}", flags.output == "json" ? rehearse::renderJson(*report) : rehearse::renderText(*report));
  const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - began;
  fmt::print(stderr, "rehearsed {} of simulated time in {:.1f} s of wall time\n",
             formatDuration(report->elapsed), wall.count());
  return report->passed ? kExitOk : kExitFailed;
}

}  // namespace

void addRehearseCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "rehearse",
      "Play the whole release plan in simulated time, before it touches anything: every "
      "environment on "
      "the simulated runtime, approvals given by the configured roles, windows, bakes, "
      "verification and "
      "post-deploy watch honoured; print the timeline and every place the plan would stop (exit 0 "
      "when "
      "the good build reaches the last environment or the bad one is rolled back, 1 otherwise)");
  auto flags = std::make_shared<RehearseFlags>();
  cmd->add_option("path", flags->path, "Configuration file or directory")->capture_default_str();
  cmd->add_option("--version", flags->version, "The version to release")->capture_default_str();
  cmd->add_option("--baseline", flags->baseline, "The version every environment serves before it")
      ->capture_default_str();
  cmd->add_option(
      "--bad", flags->bad,
      "Make it a bad build: an error rate (0.05 = 5 % of responses fail) or a P95 latency (2s)");
  cmd->add_option(
      "--bad-in", flags->bad_in,
      "Where the build is bad (repeatable); default: the last environment of the promotion path, "
      "a bug only production's traffic finds");
  cmd->add_option("--roles", flags->roles,
                  "The approver roles someone holds (repeatable, or comma-separated); an approval "
                  "waiting for another stops the plan. Default: every role the configuration names")
      ->delimiter(',');
  cmd->add_option(
         "--speed", flags->speed,
         "Run the simulated clock N times faster than real time instead of jumping to the next "
         "thing due")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--start", flags->start,
                  "Simulated time of T+0 (RFC 3339, e.g. 2026-12-07T09:00:00Z); default: now");
  cmd->add_option("--seed", flags->seed, "Seed of the simulated traffic model")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--output", flags->output, "text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&ctx, flags] {
    // The controller's own log lines would repeat the timeline (its warnings too: a rollback, an
    // incident): errors only, unless asked for more.
    const std::string level = ctx.log_level == "info" ? "error" : ctx.log_level;
    if (auto r = initLogging(ctx.log_format == "json" ? LogFormat::Json : LogFormat::Human, level);
        !r) {
      fmt::print(stderr, "runway: {}\n", r.error().message);
    }
    ctx.exit_code = rehearseCommand(*flags);
  });
}

}  // namespace runway::cli
