#include <cmath>
#include <cstdlib>
#include <mutex>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/http/client.hpp"
#include "runway/analysis/judge.hpp"
#include "runway/analysis/prometheus.hpp"
#include "runway/analysis/provider.hpp"
#include "runway/core/duration.hpp"
#include "runway/core/suggest.hpp"

namespace runway::analysis {
namespace {

namespace json = boost::json;

Duration effectiveWindow(const config::MetricSpec& metric, const MeasureContext& context) {
  return context.window.count() > 0 ? context.window : metric.window;
}

double seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

// --------------------------------------------------------------------------------------------
class BuiltinProvider final : public MetricProvider {
 public:
  explicit BuiltinProvider(std::shared_ptr<const TrafficStatistics> stats)
      : stats_(std::move(stats)) {}

  // MetricProvider
  Result<MetricValue> measure(const config::MetricSpec& metric,
                              const MeasureContext& context) override {
    if (!stats_) {
      return fail(ErrorCode::Unavailable, "router statistics are not available");
    }
    const Duration window = effectiveWindow(metric, context);
    const auto snap =
        stats_->snapshot(context.service, context.version, context.now - window, context.now);
    if (!snap) return fail(snap.error());
    return evaluateBuiltinQuery(metric.query, *snap, window);
  }

 private:
  std::shared_ptr<const TrafficStatistics> stats_;
};

// --------------------------------------------------------------------------------------------
class PrometheusMetricProvider final : public MetricProvider {
 public:
  // MetricProvider
  Result<MetricValue> measure(const config::MetricSpec& metric,
                              const MeasureContext& context) override {
    const std::string& text =
        metric.query.empty() ? metric.prometheus.query : metric.query;
    auto query = substituteQuery(text, context, effectiveWindow(metric, context));
    if (!query) return fail(query.error());
    auto result = prometheusQuery(metric.prometheus, *query, context.now);
    if (!result) return fail(result.error());
    return prometheusValue(*result);
  }
};

// --------------------------------------------------------------------------------------------
class WebMetricProvider final : public MetricProvider {
 public:
  // MetricProvider
  Result<MetricValue> measure(const config::MetricSpec& metric,
                              const MeasureContext& context) override {
    auto url = substituteQuery(metric.web.url, context, effectiveWindow(metric, context));
    if (!url) return fail(url.error());
    http::Request request;
    request.url = *url;
    request.headers = metric.web.headers;
    request.timeout = metric.web.timeout;
    auto response = http::get(request);
    if (!response) return fail(response.error());
    if (response->status < 200 || response->status >= 300) {
      return fail(response->status >= 500 ? ErrorCode::Unavailable : ErrorCode::InvalidArgument,
                  fmt::format("GET {}: HTTP {}: {}", *url, response->status,
                              response->body.substr(0, 200)));
    }
    return readJsonPointer(response->body, metric.web.json_pointer);
  }
};

// --------------------------------------------------------------------------------------------
class JudgeMetricProvider final : public MetricProvider {
 public:
  explicit JudgeMetricProvider(std::shared_ptr<const TrafficStatistics> stats)
      : stats_(std::move(stats)) {}

  // MetricProvider
  Result<MetricValue> measure(const config::MetricSpec& metric,
                              const MeasureContext& context) override {
    const config::JudgeProvider& judge = metric.judge;
    if (context.baseline_version.empty()) {
      return fail(ErrorCode::FailedPrecondition,
                  "the judge compares against a baseline, but no baseline version is running");
    }
    if (judge.step.count() <= 0 || judge.lookback < judge.step) {
      return fail(ErrorCode::InvalidArgument, "judge lookback must be at least one step");
    }
    std::vector<std::vector<double>> control;
    std::vector<std::vector<double>> experiment;
    for (const auto& jm : judge.metrics) {
      auto c = samples(judge, jm, context, context.baseline_version);
      if (!c) return fail(c.error());
      auto e = samples(judge, jm, context, context.version);
      if (!e) return fail(e.error());
      control.push_back(std::move(*c));
      experiment.push_back(std::move(*e));
    }
    const Judgement j = runJudge(judge, std::move(control), std::move(experiment));
    MetricValue out;
    out.value = j.score;
    out.message = fmt::format("score {:.2f} ({}): {}", j.score, toString(j.classification),
                              j.reason);
    for (const auto& m : j.metrics) {
      if (m.classification != MetricClass::Pass) {
        out.message += fmt::format("; {} {}", m.name, toString(m.classification));
      }
    }
    return out;
  }

 private:
  Result<std::vector<double>> samples(const config::JudgeProvider& judge,
                                      const config::JudgeMetric& jm, const MeasureContext& context,
                                      const std::string& version) {
    MeasureContext ctx = context;
    ctx.version = version;
    std::vector<double> out;
    if (!judge.prometheus_address.empty()) {
      config::PrometheusProvider prom;
      prom.address = judge.prometheus_address;
      auto query = substituteQuery(jm.query, ctx, judge.step);
      if (!query) return fail(query.error());
      auto result =
          prometheusQueryRange(prom, *query, context.now - judge.lookback, context.now, judge.step);
      if (!result) return fail(result.error());
      if (result->series.size() > 1) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("judge metric {}: query returned {} series; aggregate it", jm.name,
                                result->series.size()));
      }
      if (!result->series.empty()) {
        for (const auto& s : result->series.front().samples) out.push_back(s.value);
      }
      return out;
    }
    if (!stats_) return fail(ErrorCode::Unavailable, "router statistics are not available");
    const auto steps = judge.lookback / judge.step;
    for (auto k = steps; k > 0; --k) {
      const TimePoint to = context.now - (k - 1) * judge.step;
      const auto snap = stats_->snapshot(ctx.service, version, to - judge.step, to);
      if (!snap) return fail(snap.error());
      auto value = evaluateBuiltinQuery(jm.query, *snap, judge.step);
      if (!value) return fail(value.error());
      out.push_back(value->value.value_or(std::nan("")));
    }
    return out;
  }

  std::shared_ptr<const TrafficStatistics> stats_;
};

}  // namespace

// --------------------------------------------------------------------------------------------

std::optional<double> histogramQuantile(double q, const std::vector<LatencyBucket>& buckets) {
  if (buckets.empty() || buckets.back().count == 0) return std::nullopt;
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  if (!std::isinf(buckets.back().upper_bound) || buckets.size() < 2) return std::nan("");
  const auto total = static_cast<double>(buckets.back().count);
  double rank = q * total;
  std::size_t b = 0;
  while (b < buckets.size() - 1 && static_cast<double>(buckets[b].count) < rank) ++b;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper_bound;
  if (b == 0 && buckets[0].upper_bound <= 0) return buckets[0].upper_bound;
  double start = 0;
  const double end = buckets[b].upper_bound;
  auto count = static_cast<double>(buckets[b].count);
  if (b > 0) {
    start = buckets[b - 1].upper_bound;
    count -= static_cast<double>(buckets[b - 1].count);
    rank -= static_cast<double>(buckets[b - 1].count);
  }
  if (count == 0) return end;
  return start + (end - start) * (rank / count);
}

const std::vector<std::string>& builtinQueryNames() {
  static const std::vector<std::string> kNames{"error_rate",  "latency_p50",  "latency_p95",
                                               "latency_p99", "request_rate", "availability"};
  return kNames;
}

Result<MetricValue> evaluateBuiltinQuery(const std::string& query, const TrafficSnapshot& snap,
                                         Duration window) {
  const auto& names = builtinQueryNames();
  if (std::find(names.begin(), names.end(), query) == names.end()) {
    const auto hint = closestMatch(query, names);
    return fail(ErrorCode::InvalidArgument,
                fmt::format("unknown builtin query '{}'{}", query,
                            hint ? fmt::format(" (did you mean '{}'?)", *hint)
                                 : std::string(" (error_rate, latency_p50, latency_p95, "
                                               "latency_p99, request_rate, availability)")));
  }
  MetricValue out;
  const auto requests = static_cast<double>(snap.requests);
  if (query == "request_rate") {
    if (snap.covered.count() == 0 && snap.requests == 0) {
      out.message = "the router has no data for this range";
      return out;
    }
    const Duration span =
        snap.covered.count() > 0 && snap.covered < window ? snap.covered : window;
    out.value = requests / seconds(span);
    out.message = fmt::format("{} requests in {}", snap.requests, formatDuration(span));
    return out;
  }
  if (snap.requests == 0) {
    out.message = fmt::format("no requests in {}", formatDuration(window));
    return out;
  }
  if (query == "error_rate") {
    out.value = static_cast<double>(snap.responses_by_class[4]) / requests;
    out.message = fmt::format("{} of {} responses 5xx", snap.responses_by_class[4], snap.requests);
  } else if (query == "availability") {
    out.value = 1.0 - static_cast<double>(snap.gateway_errors) / requests;
    out.message =
        fmt::format("{} of {} requests failed at the router", snap.gateway_errors, snap.requests);
  } else {
    const double q = query == "latency_p50" ? 0.5 : query == "latency_p95" ? 0.95 : 0.99;
    if (!snap.latency.empty() || !snap.quantiles) {
      out.value = histogramQuantile(q, snap.latency);
    } else {
      out.value = q == 0.5 ? snap.quantiles->p50 : q == 0.95 ? snap.quantiles->p95
                                                            : snap.quantiles->p99;
    }
    out.message = fmt::format("over {} requests", snap.requests);
    if (!out.value) out.message = "no latency histogram";
  }
  return out;
}

Result<MetricValue> readJsonPointer(std::string_view body, std::string_view pointer) {
  json::error_code ec;
  const json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("response is not JSON ({}): {}", ec.message(), body.substr(0, 200)));
  }
  const json::value* found = doc.find_pointer(json::string_view(pointer.data(), pointer.size()), ec);
  if (found == nullptr) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("JSON pointer '{}' matches nothing in the response", pointer));
  }
  MetricValue out;
  out.message = fmt::format("{} = {}", pointer.empty() ? "/" : pointer, json::serialize(*found));
  if (found->is_null()) return out;
  if (found->is_number()) {
    out.value = found->to_number<double>(ec);
    return out;
  }
  if (const auto* s = found->if_string()) {
    const std::string text(s->c_str());
    if (text == "NaN") {
      out.value = std::nan("");
      return out;
    }
    if (text == "+Inf" || text == "Inf") {
      out.value = HUGE_VAL;
      return out;
    }
    if (text == "-Inf") {
      out.value = -HUGE_VAL;
      return out;
    }
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) {
      out.value = d;
      return out;
    }
  }
  if (found->is_bool()) {
    out.value = found->as_bool() ? 1.0 : 0.0;
    return out;
  }
  return fail(ErrorCode::InvalidArgument,
              fmt::format("JSON pointer '{}' is {}, not a number", pointer, json::serialize(*found)));
}

Result<std::string> substituteQuery(const std::string& text, const MeasureContext& context,
                                    Duration window) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "${") != 0) {
      out.push_back(text[i++]);
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("unterminated '${{' at offset {} in '{}'", i, text));
    }
    const std::string name = text.substr(i + 2, close - i - 2);
    if (name == "service") {
      out += context.service;
    } else if (name == "version") {
      out += context.version;
    } else if (name == "baseline") {
      out += context.baseline_version;
    } else if (name == "environment") {
      out += context.environment;
    } else if (name == "window") {
      out += formatDuration(window);
    } else if (auto it = context.args.find(name); it != context.args.end()) {
      out += it->second;
    } else {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("unknown placeholder ${{{}}} (known: service, version, baseline, "
                              "environment, window and the template's args)",
                              name));
    }
    i = close + 1;
  }
  return out;
}

std::unique_ptr<MetricProvider> makeBuiltinProvider(std::shared_ptr<const TrafficStatistics> stats) {
  return std::make_unique<BuiltinProvider>(std::move(stats));
}

std::unique_ptr<MetricProvider> makePrometheusProvider() {
  return std::make_unique<PrometheusMetricProvider>();
}

std::unique_ptr<MetricProvider> makeWebProvider() { return std::make_unique<WebMetricProvider>(); }

std::unique_ptr<MetricProvider> makeJudgeProvider(std::shared_ptr<const TrafficStatistics> stats) {
  return std::make_unique<JudgeMetricProvider>(std::move(stats));
}

namespace {

class EnvironmentScopedProvider final : public MetricProvider {
 public:
  EnvironmentScopedProvider(StatisticsOf statistics_of, std::shared_ptr<MetricProvider> others)
      : statistics_of_(std::move(statistics_of)), others_(std::move(others)) {}

  // MetricProvider
  Result<MetricValue> measure(const config::MetricSpec& metric, const MeasureContext& context) override {
    if (metric.provider != config::MetricSpec::Provider::Builtin &&
        metric.provider != config::MetricSpec::Provider::Judge) {
      return others_->measure(metric, context);
    }
    std::shared_ptr<ProviderSet> providers;
    {
      std::lock_guard lock(mu_);
      auto& slot = by_environment_[context.environment];
      if (!slot) {
        auto stats = statistics_of_(context.environment);
        slot = std::make_shared<ProviderSet>();
        slot->set(config::MetricSpec::Provider::Builtin, makeBuiltinProvider(stats));
        slot->set(config::MetricSpec::Provider::Judge, makeJudgeProvider(stats));
      }
      providers = slot;
    }
    return providers->measure(metric, context);
  }

 private:
  StatisticsOf statistics_of_;
  std::shared_ptr<MetricProvider> others_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ProviderSet>> by_environment_;
};

}  // namespace

std::shared_ptr<MetricProvider> environmentScopedProvider(StatisticsOf statistics_of,
                                                          std::shared_ptr<MetricProvider> others) {
  return std::make_shared<EnvironmentScopedProvider>(std::move(statistics_of), std::move(others));
}

ProviderSet ProviderSet::standard(std::shared_ptr<const TrafficStatistics> stats) {
  ProviderSet set;
  set.set(config::MetricSpec::Provider::Builtin, makeBuiltinProvider(stats));
  set.set(config::MetricSpec::Provider::Prometheus, makePrometheusProvider());
  set.set(config::MetricSpec::Provider::Web, makeWebProvider());
  set.set(config::MetricSpec::Provider::Judge, makeJudgeProvider(stats));
  return set;
}

void ProviderSet::set(config::MetricSpec::Provider kind, std::shared_ptr<MetricProvider> provider) {
  providers_[kind] = std::move(provider);
}

Result<MetricValue> ProviderSet::measure(const config::MetricSpec& metric,
                                         const MeasureContext& context) {
  const auto it = providers_.find(metric.provider);
  if (it == providers_.end() || !it->second) {
    return fail(ErrorCode::Unavailable,
                fmt::format("metric {}: no provider of this kind is configured", metric.name));
  }
  return it->second->measure(metric, context);
}

}  // namespace runway::analysis
