#include "checklist_gate.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::controller {
namespace {

namespace json = boost::json;

constexpr std::string_view kRunwayActor = "runway";

std::string listed(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& r : items) out += (out.empty() ? "" : std::string(separator)) + r;
  return out;
}

json::array itemsJson(const ChecklistState& c) {
  json::array items;
  for (const auto& i : c.items) {
    const auto* w = c.waiverFor(i.name);
    json::object o{{"name", i.name},
                   {"status", i.passed ? "passed" : w != nullptr ? "waived" : "failed"},
                   {"reason", i.reason}};
    if (w != nullptr && !i.passed) o["waivedBy"] = w->actor;
    items.push_back(std::move(o));
  }
  return items;
}

}  // namespace

void ChecklistJudge::judge(const LiveDeployment& d, const Result<std::string>& serving,
                           std::function<void(std::vector<ChecklistItemResult>)> then) {
  const std::string id = d.record.id;
  const std::string environment = d.record.environment;
  auto evidence = store::parseEvidence(d.record.evidence_json);
  std::vector<ChecklistItemResult> unjudged;
  if (!serving) unjudged.push_back({"checklist", false, "cannot read what " + environment + " serves: " + serving.error().message});
  if (!evidence) unjudged.push_back({"checklist", false, "cannot read the release evidence: " + evidence.error().message});
  if (!runner_) unjudged.push_back({"checklist", false, "this server has no checklist runner"});
  judging_.insert(id);
  if (!unjudged.empty()) {
    scheduler_.post([this, id, unjudged, then = std::move(then)] {
      judging_.erase(id);
      then(unjudged);
    });
    return;
  }
  scheduler_.offload([this, id, cfg = d.config, runner = runner_, environment, version = d.record.version,
                      current = *serving, evidence = *evidence, then = std::move(then)]() -> std::function<void()> {
    auto items = runner->judge(*cfg, environment, version, current, evidence);
    return [this, id, items = std::move(items), then]() mutable {
      judging_.erase(id);
      then(std::move(items));
    };
  });
}

bool needsChecklist(const LiveDeployment& d) {
  if (d.doc.rollback || !d.config) return false;
  if (d.doc.checklist && d.doc.checklist->status == ChecklistState::Status::Passed) return false;
  const auto* env = d.config->findEnvironment(d.record.environment);
  return env != nullptr && !env->checklist.empty();
}

bool checklistHolds(const PersistedDeployment& doc) {
  return doc.queued && doc.checklist && doc.checklist->status != ChecklistState::Status::Passed;
}

PersistedDeployment withChecklistStarted(const PersistedDeployment& doc, const std::string& id, TimePoint now,
                                     std::vector<store::NewEvent>& events) {
  PersistedDeployment next = doc;
  ChecklistState c = doc.checklist.value_or(ChecklistState{});
  c.status = ChecklistState::Status::Judging;
  c.runs += 1;
  next.checklist = std::move(c);
  events.push_back(store::NewEvent{now, std::string(kRunwayActor), "checklist.started", id,
                                   fmt::format("pre-deployment checklist judged (run {})", next.checklist->runs),
                                   json::serialize(json::object{{"run", next.checklist->runs}})});
  return next;
}

PersistedDeployment withChecklistJudged(const PersistedDeployment& doc, const std::string& id,
                                    std::vector<ChecklistItemResult> items, TimePoint now,
                                    std::vector<store::NewEvent>& events) {
  PersistedDeployment next = doc;
  ChecklistState c = doc.checklist.value_or(ChecklistState{});
  c.items = std::move(items);
  c.judged_at = now;
  const auto failures = c.unwaivedFailures();
  c.status = failures.empty() ? ChecklistState::Status::Passed : ChecklistState::Status::Blocked;
  const std::string message = checklistSummary(c);
  json::object data{{"run", c.runs}, {"items", itemsJson(c)}};
  next.checklist = std::move(c);
  events.push_back(store::NewEvent{now, std::string(kRunwayActor), failures.empty() ? "checklist.passed" : "checklist.failed",
                                   id, message, json::serialize(data)});
  return next;
}

Result<PersistedDeployment> withChecklistWaiver(const LiveDeployment& d, const WaiverRequest& request, TimePoint now,
                                            std::vector<store::NewEvent>& events) {
  const std::string& id = d.record.id;
  if (request.comment.empty()) {
    return fail(ErrorCode::InvalidArgument, "a waiver needs a comment: say why " + request.item + " may be waived");
  }
  if (!checklistHolds(d.doc) || d.doc.checklist->status != ChecklistState::Status::Blocked) {
    return fail(ErrorCode::FailedPrecondition,
                fmt::format("deployment {} is not blocked by its checklist ({}); there is nothing to waive", id,
                            d.doc.checklist ? std::string(toString(d.doc.checklist->status)) : "no checklist"));
  }
  const ChecklistState& c = *d.doc.checklist;
  const auto* env = d.config ? d.config->findEnvironment(d.record.environment) : nullptr;
  const std::vector<std::string>* roles = env != nullptr ? env->checklist.waivableBy(request.item) : nullptr;
  const auto item = std::find_if(c.items.begin(), c.items.end(),
                                 [&](const ChecklistItemResult& i) { return i.name == request.item; });
  if (roles == nullptr || item == c.items.end()) {
    std::vector<std::string> names;
    for (const auto& i : c.items) names.push_back(i.name);
    return fail(ErrorCode::InvalidArgument, fmt::format("the checklist of {} has no item \"{}\" (its items: {})",
                                                        d.record.environment, request.item, listed(names)));
  }
  if (item->passed) {
    return fail(ErrorCode::FailedPrecondition, fmt::format("{} passed for deployment {}; there is nothing to waive", request.item, id));
  }
  if (const auto* w = c.waiverFor(request.item)) {
    return fail(ErrorCode::FailedPrecondition,
                fmt::format("{} of deployment {} is waived already (by {})", request.item, id, w->actor));
  }
  if (roles->empty()) {
    return fail(ErrorCode::PermissionDenied,
                fmt::format("{} of {} may not be waived: its checklist names no waivableBy role", request.item,
                            d.record.environment));
  }
  const auto held = std::find_if(roles->begin(), roles->end(), [&](const std::string& r) {
    return std::find(request.actor.roles.begin(), request.actor.roles.end(), r) != request.actor.roles.end();
  });
  if (held == roles->end()) {
    return fail(ErrorCode::PermissionDenied,
                fmt::format("{} of {} may be waived by {}; {} holds none of these roles", request.item,
                            d.record.environment, listed(*roles), request.actor.name));
  }
  PersistedDeployment next = d.doc;
  ChecklistState& nc = *next.checklist;
  nc.waivers.push_back(ChecklistState::Waiver{request.item, request.actor.name, *held, request.comment, now});
  const bool passed = nc.unwaivedFailures().empty();
  if (passed) nc.status = ChecklistState::Status::Passed;
  json::object data{{"item", request.item},
                    {"role", *held},
                    {"comment", request.comment},
                    {"failure", item->reason}};
  events.push_back(store::NewEvent{now, request.actor.name, "checklist.waived", id,
                                   fmt::format("{} waived by {} ({}): {}", request.item, request.actor.name, *held,
                                               request.comment),
                                   json::serialize(data)});
  if (passed) {
    events.push_back(store::NewEvent{now, std::string(kRunwayActor), "checklist.passed", id, checklistSummary(nc),
                                     json::serialize(json::object{{"run", nc.runs}, {"items", itemsJson(nc)}})});
  }
  return next;
}

std::string checklistSummary(const ChecklistState& c) {
  std::vector<std::string> failed, waived;
  std::size_t passed = 0;
  for (const auto& i : c.items) {
    if (i.passed) {
      ++passed;
    } else if (const auto* w = c.waiverFor(i.name)) {
      waived.push_back(fmt::format("{} (by {})", i.name, w->actor));
    } else {
      failed.push_back(i.name + ": " + i.reason);
    }
  }
  switch (c.status) {
    case ChecklistState::Status::Judging: return "checklist being judged";
    case ChecklistState::Status::Blocked:
      return fmt::format("checklist blocks the deployment: {}", listed(failed, "; "));
    case ChecklistState::Status::Passed: break;
  }
  std::string out = fmt::format("checklist passed: {} of {} items passed", passed, c.items.size());
  if (!waived.empty()) out += ", waived: " + listed(waived);
  return out;
}

}  // namespace runway::controller
