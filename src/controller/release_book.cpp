#include "release_book.hpp"

#include <algorithm>

#include "deployment_repository.hpp"
#include "runway/engine/engine.hpp"

namespace runway::controller {
namespace {

store::DeploymentFilter succeededIn(const std::string& environment, int limit) {
  store::DeploymentFilter filter;
  filter.environment = environment;
  filter.phase = "Succeeded";
  filter.limit = limit;
  return filter;
}

}  // namespace

Result<Serving> ReleaseBook::current(const std::string& environment) {
  auto serving = store_.getServing(environment);
  if (!serving) return fail(serving.error());
  if (*serving) {
    Serving out;
    out.version = (*serving)->version;
    out.colour = (*serving)->colour == "green" ? engine::Colour::Green : engine::Colour::Blue;
    return out;
  }
  // A store from before serving records: the newest Succeeded deployment is the best guess
  // there is, and the next promotion writes the record.
  auto list = store_.listDeployments(succeededIn(environment, 1));
  if (!list) return fail(list.error());
  Serving out;
  if (list->empty()) return out;
  out.version = list->front().version;
  if (auto doc = parsePersisted(list->front().state_json)) out.colour = doc->state.active_colour;
  return out;
}

Result<std::vector<std::string>> ReleaseBook::successfulReleases(const std::string& environment) {
  auto list = store_.listDeployments(succeededIn(environment, 200));
  if (!list) return fail(list.error());
  std::vector<std::string> versions;
  for (const auto& r : *list) {
    if (std::find(versions.begin(), versions.end(), r.version) == versions.end()) {
      versions.push_back(r.version);
    }
  }
  return versions;
}

std::optional<store::ServingRecord> ReleaseBook::servingAfter(
    const engine::DeploymentState& after, const std::vector<engine::Phase>& entered,
    TimePoint now) {
  std::optional<store::ServingRecord> out;
  for (const auto phase : entered) {
    std::string version;
    if (phase == engine::Phase::Succeeded) {
      version = after.version;
    } else if (phase == engine::Phase::RolledBack) {
      version = after.stable_version;  // "" when a first release rolled back: nothing serves
    } else {
      continue;
    }
    out = store::ServingRecord{after.environment, version, after.id,
                               std::string(engine::toString(after.active_colour)), now};
  }
  return out;
}

KeepList ReleaseBook::keepList(const std::string& environment,
                               const DeploymentRepository& deployments,
                               const config::Config& config) {
  KeepList keep;
  const auto add = [&](const std::string& s, const std::string& v) {
    if (v.empty()) return;
    auto p = std::make_pair(s, v);
    if (std::find(keep.begin(), keep.end(), p) == keep.end()) keep.push_back(std::move(p));
  };
  auto current = this->current(environment);
  if (current && !current->version.empty()) {
    if (const auto* env = config.findEnvironment(environment)) {
      if (const auto* app = config.applicationFor(*env)) {
        for (const auto& s : app->services) add(s.name, current->version);
      }
    }
  }
  for (const auto& [id, d] : deployments.all()) {
    if (d.record.environment != environment || d.doc.queued) continue;
    if (onlyHooksLeft(d.doc) && !trafficHeld(d.doc)) continue;
    for (const auto& s : d.doc.starts) add(s.service, s.version);
    for (const auto& r : d.doc.retirements) add(r.service, r.version);
    for (const auto& t : d.doc.traffic) {
      for (const auto& w : t.weights) add(t.service, w.version);
    }
  }
  return keep;
}

}  // namespace runway::controller
