#include "intent.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>

#include "runway/engine/engine.hpp"

namespace runway::controller {
namespace {

namespace json = boost::json;

template <typename T, typename Same>
void upsert(std::vector<T>& items, T item, Same same) {
  for (auto& existing : items) {
    if (same(existing, item)) {
      existing = std::move(item);
      return;
    }
  }
  items.push_back(std::move(item));
}

bool sameService(const engine::SetTraffic& x, const engine::SetTraffic& y) { return x.service == y.service; }

}  // namespace

void foldAction(PersistedDeployment& doc, const engine::Action& action, const std::string& id,
                std::vector<store::NewEvent>& events) {
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, engine::StartVersion>) {
          upsert(doc.starts, a, [](const auto& x, const auto& y) {
            return x.service == y.service && x.version == y.version;
          });
          std::erase_if(doc.retirements, [&](const engine::RetireVersion& r) {
            return r.service == a.service && r.version == a.version;
          });
        } else if constexpr (std::is_same_v<T, engine::SetTraffic>) {
          upsert(doc.traffic, a, sameService);
        } else if constexpr (std::is_same_v<T, engine::SwitchColour>) {
          engine::SetTraffic t;
          t.service = a.service;
          t.weights = {engine::VersionWeight{a.version, 100}};
          upsert(doc.traffic, t, sameService);
        } else if constexpr (std::is_same_v<T, engine::RetireVersion>) {
          std::erase_if(doc.starts, [&](const engine::StartVersion& s) {
            return s.service == a.service && s.version == a.version;
          });
          upsert(doc.retirements, a, [](const auto& x, const auto& y) {
            return x.service == y.service && x.version == y.version;
          });
        } else if constexpr (std::is_same_v<T, engine::StartAnalysis>) {
          doc.analyses.push_back(a);
        } else if constexpr (std::is_same_v<T, engine::StopAnalysis>) {
          std::erase_if(doc.analyses, [&](const engine::StartAnalysis& s) { return s.run == a.run; });
        } else if constexpr (std::is_same_v<T, engine::RunChecks>) {
          doc.checks.push_back(a);
        } else if constexpr (std::is_same_v<T, engine::Audit>) {
          json::object data{{"from", engine::toString(a.from)},
                            {"to", engine::toString(a.to)},
                            {"version", doc.state.version},
                            {"attempt", doc.state.attempt}};
          if (a.kind.rfind("step.", 0) == 0) {
            // The engine's reasons name the step ("step 2: pause until ..."); one input can
            // pass several steps, so the state's index is only the fallback.
            int step = doc.state.step_index;
            if (a.reason.rfind("step ", 0) == 0) {
              const auto end = a.reason.find_first_not_of("0123456789", 5);
              if (end != 5) step = std::stoi(a.reason.substr(5, end - 5));
            }
            data["step"] = step;
          }
          events.push_back(store::NewEvent{a.at, a.actor, a.kind, id, a.reason, json::serialize(data)});
        }
      },
      action);
}

void recordMeasurement(const engine::AnalysisResult& result, std::vector<store::NewEvent>& events) {
  for (auto& e : events) {
    if (e.kind != "analysis.measured") continue;
    json::error_code ec;
    json::value data = json::parse(e.data_json, ec);
    if (ec || !data.is_object()) data = json::object{};
    auto& o = data.as_object();
    o["run"] = result.run;
    o["metric"] = result.metric;
    o["service"] = result.service;
    // Not-a-number (nothing measured) has no JSON form.
    o["value"] = std::isfinite(result.value) ? json::value(result.value) : json::value(nullptr);
    o["outcome"] = engine::toString(result.outcome);
    o["dryRun"] = result.dry_run;
    e.data_json = json::serialize(data);
    return;
  }
}

void dropFinishedRuns(PersistedDeployment& doc) {
  std::erase_if(doc.analyses, [&](const engine::StartAnalysis& a) {
    for (const auto& r : doc.state.runs) {
      if (r.id == a.run) return r.status != engine::RunStatus::Running;
    }
    return true;
  });
  std::erase_if(doc.checks, [&](const engine::RunChecks& c) {
    for (const auto& r : doc.state.checks) {
      if (r.id == c.run) return r.status != engine::CheckStatus::Running;
    }
    return true;
  });
}

}  // namespace runway::controller
