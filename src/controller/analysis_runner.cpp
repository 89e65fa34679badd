#include "analysis_runner.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace runway::controller {
namespace {

// The engine's per-measurement outcome for an analysis measurement.
std::optional<engine::Outcome> engineOutcome(analysis::MeasurementOutcome o) {
  switch (o) {
    case analysis::MeasurementOutcome::Successful: return engine::Outcome::Successful;
    case analysis::MeasurementOutcome::Failed: return engine::Outcome::Failed;
    case analysis::MeasurementOutcome::Inconclusive: return engine::Outcome::Inconclusive;
    case analysis::MeasurementOutcome::Error: return engine::Outcome::Error;
    case analysis::MeasurementOutcome::Breaching: return std::nullopt;
  }
  return std::nullopt;
}

// The engine's form of the analysis module's verdict on one metric of one service.
engine::RunStatus engineVerdict(analysis::Phase p) {
  switch (p) {
    case analysis::Phase::Pending:
    case analysis::Phase::Running: return engine::RunStatus::Running;
    case analysis::Phase::Successful: return engine::RunStatus::Successful;
    case analysis::Phase::Inconclusive: return engine::RunStatus::Inconclusive;
    case analysis::Phase::Error: return engine::RunStatus::Error;
    case analysis::Phase::Failed: return engine::RunStatus::Failed;
  }
  return engine::RunStatus::Error;
}

}  // namespace

AnalysisRunner::AnalysisRunner(std::shared_ptr<analysis::MetricProvider> provider,
                               std::shared_ptr<Clock> clock, Scheduler& scheduler,
                               MetricsRecorder& metrics, Report report)
    : provider_(std::move(provider)),
      clock_(std::move(clock)),
      scheduler_(scheduler),
      metrics_(metrics),
      report_(std::move(report)) {}

std::optional<engine::AnalysisResult> AnalysisRunner::start(const LiveDeployment& d,
                                                            const engine::StartAnalysis& a) {
  const auto& cfg = *d.config;
  const auto* env = cfg.findEnvironment(d.record.environment);
  const auto* app = env != nullptr ? cfg.applicationFor(*env) : nullptr;
  // Templates, the per-use interval and the per-use thresholds, resolved once for the run.
  auto metrics = analysis::buildMetrics(cfg, a.templates, a.interval, a.thresholds);
  const TimePoint now = clock_->now();
  RunExec exec;
  exec.spec = a;
  std::vector<std::string> services;
  if (auto named = a.args.find("service"); named != a.args.end()) {
    services.push_back(named->second);
  } else if (app != nullptr) {
    for (const auto& s : app->services) services.push_back(s.name);
  }
  std::string error = metrics ? std::string() : metrics.error().message;
  if (error.empty()) {
    for (const auto& service : services) {
      analysis::MeasureContext ctx;
      ctx.service = service;
      ctx.version = a.version;
      ctx.baseline_version = a.baseline;
      ctx.environment = d.record.environment;
      ctx.args = a.args;
      auto run = analysis::AnalysisRun::create(fmt::format("{}-{}", a.run, service), *metrics, ctx, now);
      if (!run) {
        error = run.error().message;
        break;
      }
      exec.services.push_back(ServiceRun{service, std::move(*run), {}});
    }
  }
  if (!error.empty() || exec.services.empty()) {
    if (error.empty()) error = "the application has no services to analyse";
    // Nothing can be measured, so nothing can be judged: the run's verdict is Error, which
    // fails the step (never a pass).
    spdlog::error("deployment {}: analysis run {}: {}", d.record.id, a.run, error);
    engine::AnalysisResult result;
    result.run = a.run;
    result.metric = "analysis";
    result.outcome = engine::Outcome::Error;
    result.verdict = engine::RunStatus::Error;
    result.reason = "analysis could not be set up: " + error;
    result.run_complete = true;
    return result;
  }
  auto& runs = runs_[d.record.id];
  if (auto old = runs.find(a.run); old != runs.end()) unschedule(d.record.id, a.run, old->second);
  auto& placed = runs.insert_or_assign(a.run, std::move(exec)).first->second;
  for (std::size_t si = 0; si < placed.services.size(); ++si) {
    schedule(RunKey{d.record.id, a.run, si}, placed.services[si]);
  }
  return std::nullopt;
}

void AnalysisRunner::schedule(const RunKey& key, const ServiceRun& sr) {
  std::optional<TimePoint> next;
  const auto& metrics = sr.run.metrics();
  for (std::size_t mi = 0; mi < metrics.size(); ++mi) {
    if (sr.in_flight.count(mi) != 0) continue;  // rescheduled when its answer is recorded
    const auto at = metrics[mi].nextMeasurementAt();
    if (at && (!next || *at < *next)) next = at;
  }
  due_.set(key, next);
}

void AnalysisRunner::unschedule(const std::string& id, std::uint32_t run_id, const RunExec& exec) {
  for (std::size_t si = 0; si < exec.services.size(); ++si) due_.erase(RunKey{id, run_id, si});
}

void AnalysisRunner::stop(const std::string& id, std::uint32_t run) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  if (auto r = it->second.find(run); r != it->second.end()) {
    unschedule(id, run, r->second);
    it->second.erase(r);
  }
}

void AnalysisRunner::forget(const std::string& id) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  for (const auto& [run_id, exec] : it->second) unschedule(id, run_id, exec);
  runs_.erase(it);
}

void AnalysisRunner::measureDue() {
  const TimePoint now = clock_->now();
  for (const auto& key : due_.due(now)) {
    const auto& [id, run_id, si] = key;
    RunExec* exec = nullptr;
    if (auto dit = runs_.find(id); dit != runs_.end()) {
      if (auto rit = dit->second.find(run_id); rit != dit->second.end()) exec = &rit->second;
    }
    if (exec == nullptr || si >= exec->services.size()) {
      due_.erase(key);
      continue;
    }
    auto& sr = exec->services[si];
    for (std::size_t mi : sr.run.dueMetrics(now)) {
      if (sr.in_flight.count(mi) != 0) continue;
      sr.in_flight.insert(mi);
      config::MetricSpec metric = sr.run.metrics()[mi].spec();
      analysis::MeasureContext ctx = sr.run.context();
      ctx.now = now;
      scheduler_.offload([this, provider = provider_, id = id, run_id = run_id, si = si, mi,
                          metric = std::move(metric), ctx = std::move(ctx)]() -> std::function<void()> {
        auto answer = provider->measure(metric, ctx);
        return [this, id, run_id, si, mi, answer = std::move(answer)] {
          record(id, run_id, si, mi, answer);
        };
      });
    }
    schedule(key, sr);
  }
}

std::optional<TimePoint> AnalysisRunner::nextWakeup() const { return due_.earliest(); }

void AnalysisRunner::record(const std::string& id, std::uint32_t run_id, std::size_t si,
                            std::size_t mi, const Result<analysis::MetricValue>& answer) {
  auto dit = runs_.find(id);
  if (dit == runs_.end()) return;
  auto rit = dit->second.find(run_id);
  if (rit == dit->second.end() || si >= rit->second.services.size()) return;
  RunExec& exec = rit->second;
  ServiceRun& sr = exec.services[si];
  sr.in_flight.erase(mi);
  const auto& status = sr.run.metrics()[mi].status();
  const std::size_t before = status.measurements.size();
  sr.run.record(mi, clock_->now(), answer);
  schedule(RunKey{id, run_id, si}, sr);
  const auto& after = sr.run.metrics()[mi].status();
  if (after.measurements.size() == before) return;  // the metric was already complete
  const analysis::Measurement& m = after.measurements.back();
  metrics_.countOutcome(std::string(analysis::toString(m.outcome)));
  auto outcome = engineOutcome(m.outcome);
  if (!outcome) return;  // breaching, not yet for its `for` duration
  // Complete when every metric of every service has its final verdict.
  bool complete = true;
  for (const auto& s : exec.services) {
    if (!analysis::isComplete(s.run.phase()) || !s.in_flight.empty()) complete = false;
  }
  engine::AnalysisResult result;
  result.run = run_id;
  result.service = sr.service;
  result.metric = after.name;
  result.outcome = *outcome;
  result.value = m.value.value_or(0);
  result.verdict = engineVerdict(after.phase);
  result.reason = after.message;
  result.dry_run = after.dry_run;
  const auto& spec = sr.run.metrics()[mi].spec();
  result.open_ended = spec.count == 0 && spec.interval.count() > 0;
  result.run_complete = complete;
  report_(id, result);
}

}  // namespace runway::controller
