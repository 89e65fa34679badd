#include "runway/kube/rollout.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::kube {
namespace {

namespace json = boost::json;

const json::object* objectAt(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

// An integer field; `fallback` when it is absent (the API omits zero counts).
std::int64_t intAt(const json::object* o, std::string_view key, std::int64_t fallback = 0) {
  if (o == nullptr) return fallback;
  const auto* v = o->if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return fallback;
}

std::string stringAt(const json::object* o, std::string_view key) {
  if (o == nullptr) return {};
  const auto* v = o->if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string{};
}

}  // namespace

RolloutStatus deploymentRolloutStatus(const Object& deployment) {
  using State = RolloutStatus::State;
  const auto* metadata = objectAt(deployment, "metadata");
  const auto* spec = objectAt(deployment, "spec");
  const auto* status = objectAt(deployment, "status");
  const auto name = stringAt(metadata, "name");

  if (intAt(metadata, "generation") > intAt(status, "observedGeneration")) {
    return {State::Progressing, "Waiting for deployment spec update to be observed..."};
  }
  if (status != nullptr) {
    if (const auto* conditions = status->if_contains("conditions"); conditions && conditions->is_array()) {
      for (const auto& c : conditions->get_array()) {
        const auto* condition = c.if_object();
        if (condition != nullptr && stringAt(condition, "type") == "Progressing" &&
            stringAt(condition, "reason") == "ProgressDeadlineExceeded") {
          return {State::Failed, fmt::format("deployment \"{}\" exceeded its progress deadline", name)};
        }
      }
    }
  }
  const auto replicas = intAt(spec, "replicas", 1);  // the API's default
  const auto updated = intAt(status, "updatedReplicas");
  const auto total = intAt(status, "replicas");
  const auto available = intAt(status, "availableReplicas");
  if (updated < replicas) {
    return {State::Progressing,
            fmt::format("Waiting for deployment \"{}\" rollout to finish: {} out of {} new replicas "
                        "have been updated...",
                        name, updated, replicas)};
  }
  if (total > updated) {
    return {State::Progressing,
            fmt::format("Waiting for deployment \"{}\" rollout to finish: {} old replicas are "
                        "pending termination...",
                        name, total - updated)};
  }
  if (available < updated) {
    return {State::Progressing,
            fmt::format("Waiting for deployment \"{}\" rollout to finish: {} of {} updated replicas "
                        "are available...",
                        name, available, updated)};
  }
  return {State::Complete, fmt::format("deployment \"{}\" successfully rolled out", name)};
}

}  // namespace runway::kube
