#include "runway/analysis/validate.hpp"

#include <algorithm>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "runway/analysis/condition.hpp"
#include "runway/analysis/prometheus.hpp"
#include "runway/analysis/provider.hpp"
#include "runway/core/duration.hpp"
#include "runway/core/suggest.hpp"

namespace runway::analysis {
namespace {

using config::MetricSpec;

bool isHttpUrl(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

const config::SourceLocation& pick(const config::SourceLocation& specific,
                                   const config::SourceLocation& fallback) {
  return specific.line > 0 ? specific : fallback;
}

// Placeholders in `text`: names, or an error message for a malformed one.
std::vector<std::string> placeholders(const std::string& text, std::string* error) {
  std::vector<std::string> names;
  std::size_t i = 0;
  while ((i = text.find("${", i)) != std::string::npos) {
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      *error = fmt::format("unterminated '${{' at offset {}", i);
      return names;
    }
    const std::string name = text.substr(i + 2, close - i - 2);
    const bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
    });
    if (!valid) {
      *error = fmt::format("placeholder '${{{}}}' is not a name", name);
      return names;
    }
    names.push_back(name);
    i = close + 1;
  }
  return names;
}

MeasureContext checkContext(const std::string& text, Duration window) {
  MeasureContext ctx;
  ctx.service = ctx.version = ctx.baseline_version = ctx.environment = "runway-check";
  ctx.window = window;
  std::string ignored;
  for (const auto& name : placeholders(text, &ignored)) ctx.args.emplace(name, "runway-check");
  return ctx;
}

class TemplateValidator {
 public:
  std::vector<config::Diagnostic> run(const config::Config& cfg) {
    for (std::size_t t = 0; t < cfg.templates.size(); ++t) {
      const auto& tmpl = cfg.templates[t];
      if (tmpl.metrics.empty()) {
        add(tmpl.location, "spec.metrics", fmt::format("template {} has no metrics", tmpl.name));
      }
      std::set<std::string> names;
      for (std::size_t m = 0; m < tmpl.metrics.size(); ++m) {
        const MetricSpec& metric = tmpl.metrics[m];
        const std::string base = fmt::format("spec.metrics[{}]", m);
        if (metric.name.empty()) add(metric.location, base + ".name", "metric has no name");
        if (!names.insert(metric.name).second) {
          add(metric.location, base + ".name",
              fmt::format("metric name '{}' is used twice in template {}", metric.name, tmpl.name));
        }
        checkMetric(metric, base);
      }
    }
    return std::move(out_);
  }

 private:
  void add(const config::SourceLocation& at, std::string field, std::string message) {
    out_.push_back(config::Diagnostic{at, std::move(field), std::move(message)});
  }

  void checkCondition(const MetricSpec& metric, const std::string& field, const std::string& text) {
    if (text.empty()) return;
    // ${threshold} is filled in per use from an AnalysisRef's `thresholds`; check the rest with a
    // number of the same width in its place so columns stay right.
    std::string checked = text;
    constexpr std::string_view kThreshold = "${threshold}";
    for (std::size_t at = 0; (at = checked.find(kThreshold, at)) != std::string::npos;) {
      checked.replace(at, kThreshold.size(), std::string(kThreshold.size(), '0'));
    }
    auto parsed = parseCondition(checked);
    if (!parsed) {
      add(metric.location, field,
          fmt::format("invalid condition '{}': {}", text, parsed.error().message));
    }
  }

  void checkPlaceholders(const config::SourceLocation& at, const std::string& field,
                         const std::string& text) {
    std::string error;
    placeholders(text, &error);
    if (!error.empty()) add(at, field, error);
  }

  void checkMetric(const MetricSpec& metric, const std::string& base) {
    checkCondition(metric, base + ".successCondition", metric.success_condition);
    checkCondition(metric, base + ".failureCondition", metric.failure_condition);
    if (metric.count < 0) add(metric.location, base + ".count", "count must be 0 or more");
    if (metric.count > 1 && metric.interval.count() == 0) {
      add(metric.location, base + ".interval",
          fmt::format("count {} needs an interval between measurements", metric.count));
    }
    if (metric.failure_limit < -1) {
      add(metric.location, base + ".failureLimit", "failureLimit must be -1 (off) or more");
    }
    if (metric.inconclusive_limit < -1) {
      add(metric.location, base + ".inconclusiveLimit",
          "inconclusiveLimit must be -1 (off) or more");
    }
    if (metric.consecutive_error_limit < -1) {
      add(metric.location, base + ".consecutiveErrorLimit",
          "consecutiveErrorLimit must be -1 (off) or more");
    }
    if (metric.interval.count() < 0 || metric.initial_delay.count() < 0 ||
        metric.for_duration.count() < 0 || metric.window.count() < 0) {
      add(metric.location, base, "durations must not be negative");
    }
    if (metric.for_duration.count() > 0) {
      if (metric.failure_condition.empty() && metric.success_condition.empty() &&
          metric.no_data != config::NoDataPolicy::Fail) {
        add(metric.location, base + ".for", "'for' needs a failureCondition or successCondition");
      }
      const int count = metric.count > 0 ? metric.count : (metric.interval.count() == 0 ? 1 : 0);
      if (count > 0 && metric.interval * (count - 1) < metric.for_duration) {
        add(metric.location, base + ".for",
            fmt::format("for {} is longer than the {} measurement(s) span ({}): the metric can "
                        "never fail",
                        formatDuration(metric.for_duration), count,
                        formatDuration(metric.interval * (count - 1))));
      }
    }
    switch (metric.provider) {
      case MetricSpec::Provider::Builtin: checkBuiltin(metric, base); break;
      case MetricSpec::Provider::Prometheus: checkPrometheus(metric, base); break;
      case MetricSpec::Provider::Web: checkWeb(metric, base); break;
      case MetricSpec::Provider::Judge: checkJudge(metric, base); break;
    }
  }

  void checkBuiltinName(const config::SourceLocation& at, const std::string& field,
                        const std::string& query) {
    const auto& names = builtinQueryNames();
    if (std::find(names.begin(), names.end(), query) != names.end()) return;
    const auto hint = closestMatch(query, names);
    add(at, field,
        query.empty()
            ? std::string("builtin metrics need a query: error_rate, latency_p50, latency_p95, "
                          "latency_p99, request_rate or availability")
            : fmt::format("unknown builtin query '{}'{}", query,
                          hint ? fmt::format(" (did you mean '{}'?)", *hint)
                               : std::string(" (known: error_rate, latency_p50, latency_p95, "
                                             "latency_p99, request_rate, availability)")));
  }

  void checkBuiltin(const MetricSpec& metric, const std::string& base) {
    checkBuiltinName(metric.location, base + ".query", metric.query);
    if (metric.window.count() <= 0) {
      add(metric.location, base + ".window", "builtin metrics need a window greater than 0");
    }
  }

  void checkPrometheus(const MetricSpec& metric, const std::string& base) {
    const auto& at = pick(metric.prometheus.location, metric.location);
    if (metric.prometheus.address.empty()) {
      add(at, base + ".prometheus.address", "prometheus metrics need an address (http://host:9090)");
    } else if (!isHttpUrl(metric.prometheus.address)) {
      add(at, base + ".prometheus.address",
          fmt::format("address '{}' must start with http:// or https://",
                      metric.prometheus.address));
    }
    const std::string& query =
        metric.query.empty() ? metric.prometheus.query : metric.query;
    if (query.empty()) add(at, base + ".query", "prometheus metrics need a PromQL query");
    checkPlaceholders(at, base + ".query", query);
    if (metric.prometheus.timeout.count() <= 0) {
      add(at, base + ".prometheus.timeout", "timeout must be greater than 0");
    }
    if (!metric.prometheus.basic_password_env.empty() && metric.prometheus.basic_user.empty()) {
      add(at, base + ".prometheus.basicAuth", "a basic-auth password needs a user");
    }
  }

  void checkWeb(const MetricSpec& metric, const std::string& base) {
    const auto& at = pick(metric.web.location, metric.location);
    if (metric.web.url.empty()) {
      add(at, base + ".web.url", "web metrics need a url");
    } else if (!isHttpUrl(metric.web.url)) {
      add(at, base + ".web.url",
          fmt::format("url '{}' must start with http:// or https://", metric.web.url));
    }
    checkPlaceholders(at, base + ".web.url", metric.web.url);
    if (!metric.web.json_pointer.empty() && metric.web.json_pointer.front() != '/') {
      add(at, base + ".web.jsonPointer",
          fmt::format("JSON pointer '{}' must start with '/' (RFC 6901), e.g. /data/value",
                      metric.web.json_pointer));
    }
    if (metric.web.timeout.count() <= 0) add(at, base + ".web.timeout", "timeout must be greater than 0");
  }

  void checkJudge(const MetricSpec& metric, const std::string& base) {
    const auto& judge = metric.judge;
    const auto& at = pick(judge.location, metric.location);
    if (judge.metrics.empty()) add(at, base + ".judge.metrics", "the judge needs metrics to compare");
    if (!judge.prometheus_address.empty() && !isHttpUrl(judge.prometheus_address)) {
      add(at, base + ".judge.prometheus",
          fmt::format("address '{}' must start with http:// or https://", judge.prometheus_address));
    }
    double weights = 0;
    for (const auto& [group, weight] : judge.group_weights) {
      if (weight < 0) {
        add(at, base + ".judge.groupWeights",
            fmt::format("weight of group {} must not be negative", group));
      }
      weights += weight;
    }
    if (weights > 100) {
      add(at, base + ".judge.groupWeights",
          fmt::format("group weights add up to {}, more than 100", weights));
    }
    if (judge.marginal_score > judge.pass_score || judge.pass_score > 100 ||
        judge.marginal_score < 0) {
      add(at, base + ".judge.thresholds",
          fmt::format("thresholds need 0 <= marginal ({}) <= pass ({}) <= 100",
                      judge.marginal_score, judge.pass_score));
    }
    if (judge.step.count() <= 0 || judge.lookback < judge.step) {
      add(at, base + ".judge.lookback", "lookback must be at least one step, and step above 0");
    } else if (judge.lookback / judge.step < 3) {
      add(at, base + ".judge.lookback",
          fmt::format("lookback {} / step {} gives fewer than 3 samples per side",
                      formatDuration(judge.lookback), formatDuration(judge.step)));
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < judge.metrics.size(); ++i) {
      const auto& jm = judge.metrics[i];
      const std::string field = fmt::format("{}.judge.metrics[{}]", base, i);
      const auto& jat = pick(jm.location, at);
      if (jm.name.empty()) add(jat, field + ".name", "judge metric has no name");
      if (!names.insert(jm.name).second) {
        add(jat, field + ".name", fmt::format("judge metric name '{}' is used twice", jm.name));
      }
      if (judge.prometheus_address.empty()) {
        checkBuiltinName(jat, field + ".query", jm.query);
      } else if (jm.query.empty()) {
        add(jat, field + ".query", "judge metrics need a PromQL query");
      } else {
        checkPlaceholders(jat, field + ".query", jm.query);
      }
      if (jm.outlier_factor <= 0) add(jat, field + ".outlierFactor", "outlierFactor must be > 0");
    }
  }

  std::vector<config::Diagnostic> out_;
};

QueryCheck sendCheck(const std::string& tmpl, const std::string& metric,
                     const config::PrometheusProvider& provider, const std::string& text,
                     Duration window, const config::SourceLocation& at) {
  QueryCheck check;
  check.template_name = tmpl;
  check.metric = metric;
  check.address = provider.address;
  check.location = at;
  auto query = substituteQuery(text, checkContext(text, window), window);
  if (!query) {
    check.query = text;
    check.message = query.error().message;
    return check;
  }
  check.query = *query;
  auto result = prometheusQuery(provider, *query, TimePoint{});
  if (!result) {
    check.message = result.error().message;
    return check;
  }
  check.ok = true;
  return check;
}

}  // namespace

std::vector<config::Diagnostic> validateTemplates(const config::Config& config) {
  return TemplateValidator().run(config);
}

std::vector<QueryCheck> checkQueries(const config::Config& config) {
  std::vector<QueryCheck> checks;
  for (const auto& tmpl : config.templates) {
    for (const auto& metric : tmpl.metrics) {
      if (metric.provider == MetricSpec::Provider::Prometheus) {
        const std::string& text =
            metric.query.empty() ? metric.prometheus.query : metric.query;
        checks.push_back(sendCheck(tmpl.name, metric.name, metric.prometheus, text, metric.window,
                                   pick(metric.prometheus.location, metric.location)));
      } else if (metric.provider == MetricSpec::Provider::Judge &&
                 !metric.judge.prometheus_address.empty()) {
        config::PrometheusProvider provider;
        provider.address = metric.judge.prometheus_address;
        for (const auto& jm : metric.judge.metrics) {
          checks.push_back(sendCheck(tmpl.name, fmt::format("{}/{}", metric.name, jm.name),
                                     provider, jm.query, metric.judge.step,
                                     pick(jm.location, metric.location)));
        }
      }
    }
  }
  return checks;
}

}  // namespace runway::analysis
