#include "runway/analysis/analysis.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "runway/config/substitute.hpp"
#include "runway/core/duration.hpp"

namespace runway::analysis {
namespace {

int rank(Phase p) { return static_cast<int>(p); }

std::string formatValue(double v) { return fmt::format("{}", v); }

std::string_view noDataName(config::NoDataPolicy policy) {
  switch (policy) {
    case config::NoDataPolicy::Pass: return "pass";
    case config::NoDataPolicy::Fail: return "fail";
    case config::NoDataPolicy::Inconclusive: return "inconclusive";
    case config::NoDataPolicy::Error: return "error";
  }
  return "inconclusive";
}

}  // namespace

std::string_view toString(Phase phase) {
  switch (phase) {
    case Phase::Pending: return "Pending";
    case Phase::Running: return "Running";
    case Phase::Successful: return "Successful";
    case Phase::Inconclusive: return "Inconclusive";
    case Phase::Error: return "Error";
    case Phase::Failed: return "Failed";
  }
  return "Pending";
}

std::string_view toString(MeasurementOutcome outcome) {
  switch (outcome) {
    case MeasurementOutcome::Successful: return "Successful";
    case MeasurementOutcome::Failed: return "Failed";
    case MeasurementOutcome::Inconclusive: return "Inconclusive";
    case MeasurementOutcome::Error: return "Error";
    case MeasurementOutcome::Breaching: return "Breaching";
  }
  return "Error";
}

bool isComplete(Phase phase) { return rank(phase) >= rank(Phase::Successful); }

bool isWorse(Phase current, Phase candidate) { return rank(candidate) > rank(current); }

// ---------------------------------------------------------------------------------------------
// MetricRun

MetricRun::MetricRun(config::MetricSpec spec, std::optional<Condition> success,
                     std::optional<Condition> failure, TimePoint start)
    : spec_(std::move(spec)),
      success_(std::move(success)),
      failure_(std::move(failure)),
      start_(start) {
  status_.name = spec_.name;
  status_.dry_run = spec_.dry_run;
}

Result<MetricRun> MetricRun::create(config::MetricSpec spec, TimePoint start) {
  std::optional<Condition> success;
  std::optional<Condition> failure;
  if (!spec.success_condition.empty()) {
    auto parsed = parseCondition(spec.success_condition);
    if (!parsed) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("metric {}: successCondition: {}", spec.name, parsed.error().message));
    }
    success = std::move(*parsed);
  }
  if (!spec.failure_condition.empty()) {
    auto parsed = parseCondition(spec.failure_condition);
    if (!parsed) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("metric {}: failureCondition: {}", spec.name, parsed.error().message));
    }
    failure = std::move(*parsed);
  }
  return MetricRun(std::move(spec), std::move(success), std::move(failure), start);
}

int MetricRun::effectiveCount() const {
  if (spec_.count > 0) return spec_.count;
  return spec_.interval.count() == 0 ? 1 : 0;
}

std::optional<TimePoint> MetricRun::nextMeasurementAt() const {
  if (isComplete(status_.phase)) return std::nullopt;
  if (status_.measurements.empty()) return start_ + spec_.initial_delay;
  const Measurement& last = status_.measurements.back();
  if (last.outcome == MeasurementOutcome::Error) {
    Duration retry = kErrorRetryInterval;
    if (spec_.interval.count() > 0 && spec_.interval < retry) retry = spec_.interval;
    return last.time + retry;
  }
  return last.time + spec_.interval;
}

bool MetricRun::isDue(TimePoint now) const {
  const auto next = nextMeasurementAt();
  return next.has_value() && *next <= now;
}

MeasurementOutcome MetricRun::evaluate(double value) const {
  bool success_holds = false;
  bool failure_holds = false;
  if (success_) success_holds = success_->evaluate(value);
  if (failure_) failure_holds = failure_->evaluate(value);
  if (!success_ && !failure_) return MeasurementOutcome::Successful;
  if (success_ && !failure_) failure_holds = !success_holds;
  if (!success_ && failure_) success_holds = !failure_holds;
  if (failure_holds) return MeasurementOutcome::Failed;
  if (!success_holds) return MeasurementOutcome::Inconclusive;
  return MeasurementOutcome::Successful;
}

void MetricRun::record(TimePoint now, const Result<MetricValue>& answer) {
  if (isComplete(status_.phase)) return;
  Measurement m;
  m.time = now;
  if (!answer) {
    m.outcome = MeasurementOutcome::Error;
    m.message = answer.error().message;
  } else if (!answer->value) {
    const std::string why = answer->message.empty() ? "no data" : answer->message;
    m.message = fmt::format("{} (noData: {})", why, noDataName(spec_.no_data));
    switch (spec_.no_data) {
      case config::NoDataPolicy::Pass: m.outcome = MeasurementOutcome::Successful; break;
      case config::NoDataPolicy::Fail: m.outcome = MeasurementOutcome::Failed; break;
      case config::NoDataPolicy::Inconclusive: m.outcome = MeasurementOutcome::Inconclusive; break;
      case config::NoDataPolicy::Error: m.outcome = MeasurementOutcome::Error; break;
    }
  } else {
    const double v = *answer->value;
    m.value = v;
    m.outcome = evaluate(v);
    const std::string shown = formatValue(v);
    switch (m.outcome) {
      case MeasurementOutcome::Failed:
        m.message = failure_ && failure_->evaluate(v)
                        ? fmt::format("{}: failureCondition '{}' holds", shown, failure_->text())
                        : fmt::format("{}: successCondition '{}' does not hold", shown,
                                      success_->text());
        break;
      case MeasurementOutcome::Inconclusive:
        m.message = fmt::format("{}: neither condition holds", shown);
        break;
      default:
        m.message = success_ ? fmt::format("{}: successCondition '{}' holds", shown,
                                           success_->text())
                    : failure_ ? fmt::format("{}: failureCondition '{}' does not hold", shown,
                                             failure_->text())
                               : shown;
        break;
    }
    if (!answer->message.empty()) m.message += fmt::format(" ({})", answer->message);
  }

  // `for`: a failing measurement counts only once failures have lasted that long. Errors
  // neither extend nor interrupt the streak: nothing was observed.
  if (m.outcome == MeasurementOutcome::Failed && spec_.for_duration.count() > 0) {
    if (!breaching_since_) breaching_since_ = now;
    const Duration held = now - *breaching_since_;
    if (held < spec_.for_duration) {
      m.outcome = MeasurementOutcome::Breaching;
      m.message += fmt::format("; held {} of {}", formatDuration(held),
                               formatDuration(spec_.for_duration));
    } else {
      m.message += fmt::format("; held for {}", formatDuration(held));
    }
  } else if (m.outcome == MeasurementOutcome::Successful ||
             m.outcome == MeasurementOutcome::Inconclusive) {
    breaching_since_.reset();
  }

  switch (m.outcome) {
    case MeasurementOutcome::Successful: ++status_.successful; break;
    case MeasurementOutcome::Failed: ++status_.failed; break;
    case MeasurementOutcome::Inconclusive: ++status_.inconclusive; break;
    case MeasurementOutcome::Breaching: ++status_.breaching; break;
    case MeasurementOutcome::Error: ++status_.errors; break;
  }
  if (m.outcome == MeasurementOutcome::Error) {
    ++status_.consecutive_errors;
  } else {
    ++status_.count;
    status_.consecutive_errors = 0;
  }
  status_.measurements.push_back(std::move(m));
  assess();
}

void MetricRun::assess() {
  const std::string last =
      status_.measurements.empty() ? std::string() : status_.measurements.back().message;
  if (spec_.failure_limit >= 0 && status_.failed > spec_.failure_limit) {
    status_.phase = Phase::Failed;
    status_.message = fmt::format("{} failed measurement(s), more than failureLimit {}; last: {}",
                                  status_.failed, spec_.failure_limit, last);
    return;
  }
  if (spec_.inconclusive_limit >= 0 && status_.inconclusive > spec_.inconclusive_limit) {
    status_.phase = Phase::Inconclusive;
    status_.message =
        fmt::format("{} inconclusive measurement(s), more than inconclusiveLimit {}; last: {}",
                    status_.inconclusive, spec_.inconclusive_limit, last);
    return;
  }
  if (spec_.consecutive_error_limit >= 0 &&
      status_.consecutive_errors > spec_.consecutive_error_limit) {
    status_.phase = Phase::Error;
    status_.message =
        fmt::format("{} consecutive errors, more than consecutiveErrorLimit {}; last: {}",
                    status_.consecutive_errors, spec_.consecutive_error_limit, last);
    return;
  }
  const int count = effectiveCount();
  if (count > 0 && status_.count >= count) {
    status_.phase = Phase::Successful;
    status_.message = fmt::format("{} measurement(s) taken, within limits", status_.count);
    return;
  }
  status_.phase = status_.measurements.empty() ? Phase::Pending : Phase::Running;
  status_.message = last;
}

void MetricRun::terminate(TimePoint /*now*/, std::string_view reason) {
  if (isComplete(status_.phase)) return;
  status_.phase = Phase::Successful;
  status_.message = fmt::format("terminated: {}", reason);
}

// ---------------------------------------------------------------------------------------------
// buildMetrics

Result<std::vector<config::MetricSpec>> buildMetrics(
    const config::Config& config, const std::vector<std::string>& templates, Duration interval,
    const std::map<std::string, std::string>& thresholds) {
  std::vector<config::MetricSpec> metrics;
  std::map<std::string, std::string> defined_by;  // metric name -> template
  for (const auto& name : templates) {
    const auto* t = config.findTemplate(name);
    if (t == nullptr) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("analysis template \"{}\" is not configured", name));
    }
    for (auto m : t->metrics) {
      if (auto [it, fresh] = defined_by.emplace(m.name, name); !fresh) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("metric name \"{}\" is defined by template \"{}\" and by \"{}\"; "
                                "one analysis measures each metric name once",
                                m.name, it->second, name));
      }
      if (interval > Duration{0}) m.interval = interval;
      std::map<std::string, std::string> vars;
      if (auto th = thresholds.find(m.name); th != thresholds.end()) vars["threshold"] = th->second;
      for (auto* condition : {&m.success_condition, &m.failure_condition}) {
        auto substituted = config::substitute(*condition, vars);
        if (!substituted) {
          return fail(ErrorCode::InvalidArgument,
                      fmt::format("metric \"{}\" of template \"{}\": {}{}", m.name, name,
                                  substituted.error().message,
                                  vars.empty() ? " (no threshold is given for it)" : ""));
        }
        *condition = std::move(*substituted);
      }
      metrics.push_back(std::move(m));
    }
  }
  return metrics;
}

// ---------------------------------------------------------------------------------------------
// AnalysisRun

Result<AnalysisRun> AnalysisRun::create(std::string name, std::vector<config::MetricSpec> metrics,
                                        MeasureContext context, TimePoint start) {
  std::vector<MetricRun> runs;
  std::set<std::string> names;
  for (auto& spec : metrics) {
    if (!names.insert(spec.name).second) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("analysis {}: metric name '{}' is used twice", name, spec.name));
    }
    auto run = MetricRun::create(std::move(spec), start);
    if (!run) return fail(run.error());
    runs.push_back(std::move(*run));
  }
  return AnalysisRun(std::move(name), std::move(runs), std::move(context));
}

Phase AnalysisRun::phase() const {
  bool all_complete = true;
  bool any_started = false;
  Phase worst = Phase::Successful;
  for (const auto& m : metrics_) {
    const Phase p = m.status().phase;
    if (p != Phase::Pending) any_started = true;
    if (!isComplete(p)) {
      all_complete = false;
      continue;
    }
    if (!m.spec().dry_run && isWorse(worst, p)) worst = p;
  }
  if (all_complete) return worst;
  return any_started ? Phase::Running : Phase::Pending;
}

std::string AnalysisRun::message() const {
  const Phase p = phase();
  for (const auto& m : metrics_) {
    if (!m.spec().dry_run && m.status().phase == p && p != Phase::Successful) {
      return fmt::format("{}: {}", m.status().name, m.status().message);
    }
  }
  return std::string(toString(p));
}

std::vector<std::size_t> AnalysisRun::dueMetrics(TimePoint now) const {
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < metrics_.size(); ++i) {
    if (metrics_[i].isDue(now)) due.push_back(i);
  }
  return due;
}

void AnalysisRun::record(std::size_t metric, TimePoint now, const Result<MetricValue>& answer) {
  RUNWAY_ASSERT(metric < metrics_.size());
  metrics_[metric].record(now, answer);
  terminateIfDecided(now);
}

void AnalysisRun::tick(TimePoint now, MetricProvider& provider) {
  MeasureContext context = context_;
  context.now = now;
  for (const std::size_t i : dueMetrics(now)) {
    // An earlier metric in this tick may have decided the run.
    if (!metrics_[i].isDue(now)) continue;
    record(i, now, provider.measure(metrics_[i].spec(), context));
  }
}

std::optional<TimePoint> AnalysisRun::nextWakeup() const {
  std::optional<TimePoint> next;
  for (const auto& m : metrics_) {
    const auto at = m.nextMeasurementAt();
    if (at && (!next || *at < *next)) next = at;
  }
  return next;
}

void AnalysisRun::terminate(TimePoint now, std::string_view reason) {
  for (auto& m : metrics_) m.terminate(now, reason);
}

void AnalysisRun::terminateIfDecided(TimePoint now) {
  for (const auto& m : metrics_) {
    const Phase p = m.status().phase;
    if (m.spec().dry_run) continue;
    if (p == Phase::Failed || p == Phase::Error || p == Phase::Inconclusive) {
      terminate(now, fmt::format("metric {} is {}", m.status().name, toString(p)));
      return;
    }
  }
}

}  // namespace runway::analysis
