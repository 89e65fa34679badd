#include "runway/report/history.hpp"

#include <algorithm>
#include <limits>

#include <boost/json.hpp>

#include "runway/controller/controller.hpp"
#include "runway/engine/state.hpp"

namespace runway::report {
namespace {

namespace json = boost::json;

// No store holds this many deployments or events of one deployment; the store's filters want a
// limit.
constexpr int kEverything = std::numeric_limits<int>::max();

std::string member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

Result<DeploymentHistory> fromRecord(store::Store& store, const store::DeploymentRecord& r) {
  DeploymentHistory h;
  h.id = r.id;
  h.environment = r.environment;
  h.application = r.application;
  h.version = r.version;
  h.phase = r.phase;
  h.created_at = r.created_at;
  h.updated_at = r.updated_at;
  auto doc = controller::parsePersisted(r.state_json);
  if (!doc) {
    return fail(ErrorCode::Internal, "deployment " + r.id + ": " + doc.error().message);
  }
  h.rollback = doc->rollback;
  h.requested_by = doc->requested_by;
  h.reason = doc->reason;
  h.abort_reason = doc->state.abort_reason;
  h.commit_time = doc->commit_time;
  auto events = store.listEvents(store::EventFilter{0, r.id, kEverything});
  if (!events) return fail(events.error());
  h.events = std::move(*events);
  for (const auto& e : h.events) {
    json::error_code ec;
    const auto data = json::parse(e.data_json, ec);
    if (ec || !data.is_object()) continue;
    const auto& o = data.get_object();
    Transition t{e.at, member(o, "from"), member(o, "to"), e.kind, e.actor, e.reason};
    if (t.from.empty() || t.to.empty() || t.from == t.to) continue;
    h.transitions.push_back(std::move(t));
  }
  return h;
}

}  // namespace

const Transition* DeploymentHistory::transitionInto(std::string_view which) const {
  for (const auto& t : transitions) {
    if (t.to == which) return &t;
  }
  return nullptr;
}

std::optional<TimePoint> DeploymentHistory::entered(std::string_view which) const {
  if (const auto* t = transitionInto(which)) return t->at;
  return std::nullopt;
}

Duration DeploymentHistory::timeIn(std::string_view which, TimePoint now) const {
  Duration total{0};
  bool inside = false;
  TimePoint since{};
  for (const auto& t : transitions) {
    if (t.to == which && !inside) {
      inside = true;
      since = t.at;
    } else if (t.from == which && inside) {
      total += t.at - since;
      inside = false;
    }
  }
  if (inside && now > since) total += now - since;
  return total;
}

Result<std::vector<DeploymentHistory>> loadHistory(store::Store& store) {
  auto records = store.listDeployments(store::DeploymentFilter{"", "", "", kEverything});
  if (!records) return fail(records.error());
  std::vector<DeploymentHistory> out;
  out.reserve(records->size());
  // Newest first from the store; ties keep insertion order, newest first, so reversing gives
  // the order they were created in.
  for (auto it = records->rbegin(); it != records->rend(); ++it) {
    auto h = fromRecord(store, *it);
    if (!h) return fail(h.error());
    out.push_back(std::move(*h));
  }
  return out;
}

Result<DeploymentHistory> loadDeployment(store::Store& store, const std::string& id) {
  auto record = store.getDeployment(id);
  if (!record) return fail(record.error());
  return fromRecord(store, *record);
}

}  // namespace runway::report
