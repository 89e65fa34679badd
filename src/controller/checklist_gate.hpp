#pragma once

// The pre-deployment checklist as a gate (docs/checklist.md): what a judged checklist or a
// waiver does to a queued deployment's document, and the audit events that record it (pure
// functions), and ChecklistJudge, which runs a checklist on the pool. The reconciler commits
// what these return, then acts (start hooks and Start once it passed).
//
// Strand only.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "deployment_repository.hpp"
#include "runway/controller/controller.hpp"
#include "scheduler.hpp"

namespace runway::controller {

// Runs deployments' checklists off the strand (ChecklistRunner) and hands each run's items back
// on the strand. At most one run per deployment at a time.
class ChecklistJudge {
 public:
  // `runner` may be null: every checklist then fails ("this server has no checklist runner").
  ChecklistJudge(std::shared_ptr<ChecklistRunner> runner, Scheduler& scheduler)
      : runner_(std::move(runner)), scheduler_(scheduler) {}

  bool judging(const std::string& id) const { return judging_.count(id) != 0; }
  // Judges `d`'s checklist against `serving` (what its environment serves, or why that could not
  // be read), its stored evidence and its spec snapshot; `then` runs on the strand with the
  // items. What cannot be judged (no runner, evidence or serving record unreadable) is a failed
  // item. REQUIRES: !judging(d.record.id).
  void judge(const LiveDeployment& d, const Result<std::string>& serving,
             std::function<void(std::vector<ChecklistItemResult>)> then);

 private:
  std::shared_ptr<ChecklistRunner> runner_;
  Scheduler& scheduler_;
  std::set<std::string> judging_;
};

// Whether deployment `d` must pass its environment's checklist (in its spec snapshot) before
// its start hooks and Start: a release (not a rollback) of an environment with a checklist
// whose checklist has not passed yet.
bool needsChecklist(const LiveDeployment& d);

// Whether the checklist holds `d`'s environment: queued, its checklist judging or blocked.
bool checklistHolds(const PersistedDeployment& doc);

// The document with a new run of the checklist committed as Judging, and its event.
PersistedDeployment withChecklistStarted(const PersistedDeployment& doc, const std::string& id, TimePoint now,
                                     std::vector<store::NewEvent>& events);

// The document with the run's `items` recorded: Passed when every failed item is waived,
// Blocked otherwise; its event (checklist.passed or checklist.failed, each item's result in
// the data).
PersistedDeployment withChecklistJudged(const PersistedDeployment& doc, const std::string& id,
                                    std::vector<ChecklistItemResult> items, TimePoint now,
                                    std::vector<store::NewEvent>& events);

// The document with `request`'s waiver recorded (and Passed when no failed item is left
// unwaived), its checklist.waived event (and checklist.passed). Errors: see Controller::waive.
Result<PersistedDeployment> withChecklistWaiver(const LiveDeployment& d, const WaiverRequest& request, TimePoint now,
                                            std::vector<store::NewEvent>& events);

// One line for people: "blocked: codeReview: pull request #4 ...; waivable by security".
std::string checklistSummary(const ChecklistState& state);

}  // namespace runway::controller
