#pragma once

// Folding the engine's actions into a deployment's persisted document: the runtime intent
// (versions to run, the split per service, pending retirements), the analysis and check runs
// to execute, and the audit events of the transaction. A pure function: the document it
// produces is what recovery executes again after a crash.

#include <string>
#include <vector>

#include "runway/controller/controller.hpp"
#include "runway/engine/actions.hpp"
#include "runway/engine/inputs.hpp"
#include "runway/store/store.hpp"

namespace runway::controller {

// Folds one action of deployment `id` into `doc` and `events`.
void foldAction(PersistedDeployment& doc, const engine::Action& action, const std::string& id,
                std::vector<store::NewEvent>& events);

// Adds the measurement itself to the "analysis.measured" event among `events` (run, metric,
// service, value, outcome in its data): the audit log is the history of every measurement
// (the persisted document keeps only the latest), which the release report charts.
void recordMeasurement(const engine::AnalysisResult& result, std::vector<store::NewEvent>& events);

// Drops the analysis and check runs the engine no longer runs from `doc`.
void dropFinishedRuns(PersistedDeployment& doc);

}  // namespace runway::controller
