#include "runway/rehearse/simulated_gates.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace runway::rehearse {

controller::CheckOutcome SimulatedChecks::run(const config::Config& config,
                                              const std::string& environment,
                                              const engine::RunChecks& checks) {
  (void)config;
  std::vector<std::string> what;
  if (checks.kind == engine::CheckKind::PreFlight) {
    what.push_back("pre-flight" +
                   (checks.checks.health.empty() ? std::string() : " " + checks.checks.health));
  } else {
    if (!checks.checks.health.empty()) what.push_back("health " + checks.checks.health);
    if (!checks.checks.smoke.empty()) what.push_back("smoke suite " + checks.checks.smoke);
  }
  auto instances = runtime_->instances(environment);
  if (!instances) return {false, "cannot list instances: " + instances.error().message};
  int total = 0;
  std::vector<std::string> not_ready;
  for (const auto& i : *instances) {
    if (!checks.version.empty() && i.version != checks.version) continue;
    ++total;
    if (i.state != runtime::InstanceState::Ready) {
      not_ready.push_back(
          fmt::format("{}/{}#{} {}", i.service, i.version, i.index, runtime::toString(i.state)));
    }
  }
  const std::string checked =
      what.empty() ? std::string("checks") : fmt::format("{}", fmt::join(what, ", "));
  if (total == 0 && checks.kind != engine::CheckKind::PreFlight) {
    return {false, fmt::format("{}: version {} has no instances", checked, checks.version)};
  }
  if (!not_ready.empty()) {
    return {false, fmt::format("{}: not ready: {}", checked, fmt::join(not_ready, ", "))};
  }
  return {true, fmt::format("{}: simulated, {} instance{} ready (no request sent)", checked, total,
                            total == 1 ? "" : "s")};
}

namespace {

controller::HookResult rehearsed(const std::vector<std::string>& names, std::string_view what) {
  controller::HookResult out;
  if (names.empty()) return out;
  out.ran = true;
  out.summary = fmt::format("{} not run (simulated): {}", what, fmt::join(names, ", "));
  out.runs_json = "[]";
  return out;
}

}  // namespace

controller::HookResult RehearsedHooks::run(const config::Config& config,
                                           const std::string& environment, config::HookPoint point,
                                           const std::string& version) {
  (void)version;
  const auto* env = config.findEnvironment(environment);
  if (env == nullptr) return {};
  std::vector<std::string> names;
  for (const auto& hook : env->hooks.at(point)) names.push_back(hook.name);
  return rehearsed(names, fmt::format("{} hooks", config::toString(point)));
}

controller::HookResult RehearsedHooks::backupBeforeDeploy(const config::Config& config,
                                                          const std::string& environment,
                                                          const std::string& version) {
  (void)version;
  const auto* env = config.findEnvironment(environment);
  if (env == nullptr || !env->backup || !env->backup->before_deploy) return {};
  return rehearsed({"backup"}, "backup");
}

namespace {

// What an item needs when the release is deployed for real.
std::string neededFor(std::string_view item) {
  if (item == "codeReview") return "the commit's pull request approved on GitHub";
  if (item == "ciChecks") return "the commit's check runs and statuses green on GitHub";
  if (item == "vulnerabilities") return "an attached vulnerability report (--attach vulnerabilities=...)";
  if (item == "tests") return "an attached JUnit report (--attach tests=...)";
  if (item == "semver") return "a semantic version newer than the current release";
  if (item == "backupVerified") return "a recent backup whose restore test passed";
  if (item == "onCall") return "someone on call in the PagerDuty schedule";
  if (item == "notified") return "a delivered stakeholder notification";
  return "its evidence";
}

}  // namespace

std::vector<controller::ChecklistItemResult> RehearsedChecklist::judge(
    const config::Config& config, const std::string& environment, const std::string&,
    const std::string&, const store::ReleaseEvidence&) {
  std::vector<controller::ChecklistItemResult> items;
  const auto* env = config.findEnvironment(environment);
  if (env == nullptr) return items;
  for (const auto& name : config::Checklist::itemNames()) {
    const auto* waivers = env->checklist.waivableBy(name);
    if (waivers == nullptr) continue;
    std::string reason = fmt::format("rehearsed, not judged: needs {}", neededFor(name));
    if (!waivers->empty()) reason += fmt::format(" (waivable by {})", fmt::join(*waivers, ", "));
    items.push_back({name, true, std::move(reason)});
  }
  return items;
}

}  // namespace runway::rehearse
