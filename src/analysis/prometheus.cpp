#include "runway/analysis/prometheus.hpp"

#include <cmath>
#include <cstdlib>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/http/client.hpp"

namespace runway::analysis {
namespace {

namespace json = boost::json;

Result<double> parseSampleValue(const json::value& v) {
  const json::string* s = v.if_string();
  if (s == nullptr) return fail(ErrorCode::Internal, "sample value is not a string");
  const std::string text(s->c_str());
  if (text == "NaN") return std::nan("");
  if (text == "+Inf" || text == "Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) {
    return fail(ErrorCode::Internal, fmt::format("sample value '{}' is not a number", text));
  }
  return d;
}

Result<PromSample> parseSample(const json::value& v) {
  const json::array* pair = v.if_array();
  if (pair == nullptr || pair->size() != 2) {
    return fail(ErrorCode::Internal, "sample is not a [time, value] pair");
  }
  PromSample s;
  if (const auto* d = (*pair)[0].if_double()) {
    s.time = *d;
  } else if (const auto* i = (*pair)[0].if_int64()) {
    s.time = static_cast<double>(*i);
  } else {
    return fail(ErrorCode::Internal, "sample time is not a number");
  }
  auto value = parseSampleValue((*pair)[1]);
  if (!value) return fail(value.error());
  s.value = *value;
  return s;
}

ErrorCode codeForErrorType(std::string_view type, long status) {
  if (type == "bad_data" || type == "execution") return ErrorCode::InvalidArgument;
  if (type == "timeout") return ErrorCode::Timeout;
  if (type == "unavailable" || status == 503) return ErrorCode::Unavailable;
  if (type == "not_found") return ErrorCode::NotFound;
  return ErrorCode::Internal;
}

std::string labelsText(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ", ";
    out += fmt::format("{}=\"{}\"", k, v);
  }
  return out + "}";
}

std::string unixSeconds(TimePoint t) {
  const auto ms = toUnixMillis(t);
  return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

Result<PromResult> get(const config::PrometheusProvider& provider, const std::string& url) {
  http::Request request;
  request.url = url;
  request.timeout = provider.timeout;
  request.insecure_skip_verify = provider.insecure_skip_verify;
  if (!provider.bearer_token_env.empty()) {
    const char* token = std::getenv(provider.bearer_token_env.c_str());
    if (token == nullptr || *token == '\0') {
      return fail(ErrorCode::Unauthenticated,
                  fmt::format("environment variable {} (bearerTokenEnv) is not set",
                              provider.bearer_token_env));
    }
    request.bearer_token = token;
  }
  if (!provider.basic_user.empty()) {
    request.basic_user = provider.basic_user;
    if (!provider.basic_password_env.empty()) {
      const char* password = std::getenv(provider.basic_password_env.c_str());
      if (password == nullptr) {
        return fail(ErrorCode::Unauthenticated,
                    fmt::format("environment variable {} (basicPasswordEnv) is not set",
                                provider.basic_password_env));
      }
      request.basic_password = password;
    }
  }
  auto response = http::get(request);
  if (!response) {
    return fail(response.error().code,
                fmt::format("prometheus at {}: {}", provider.address, response.error().message));
  }
  return parsePrometheusResponse(response->body, response->status);
}

std::string trimmedAddress(const std::string& address) {
  std::string out = address;
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

Result<PromResult> parsePrometheusResponse(std::string_view body, long http_status) {
  json::error_code ec;
  const json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  const json::object* root = ec ? nullptr : doc.if_object();
  const json::value* status = root != nullptr ? root->if_contains("status") : nullptr;
  if (status == nullptr || !status->is_string()) {
    std::string excerpt(body.substr(0, 200));
    return fail(http_status == 503 ? ErrorCode::Unavailable
                : http_status >= 500 ? ErrorCode::Unavailable
                                     : ErrorCode::Internal,
                fmt::format("HTTP {}: not a Prometheus API response: {}", http_status, excerpt));
  }
  if (status->as_string() != "success") {
    std::string type = "unknown";
    std::string message;
    if (const auto* t = root->if_contains("errorType"); t != nullptr && t->is_string()) {
      type = t->as_string().c_str();
    }
    if (const auto* e = root->if_contains("error"); e != nullptr && e->is_string()) {
      message = e->as_string().c_str();
    }
    return fail(codeForErrorType(type, http_status), fmt::format("{}: {}", type, message));
  }
  PromResult out;
  if (const auto* w = root->if_contains("warnings"); w != nullptr && w->is_array()) {
    for (const auto& item : w->as_array()) {
      if (item.is_string()) out.warnings.emplace_back(item.as_string().c_str());
    }
  }
  const json::value* data = root->if_contains("data");
  const json::object* data_obj = data != nullptr ? data->if_object() : nullptr;
  const json::value* type = data_obj != nullptr ? data_obj->if_contains("resultType") : nullptr;
  const json::value* result = data_obj != nullptr ? data_obj->if_contains("result") : nullptr;
  if (type == nullptr || !type->is_string() || result == nullptr) {
    return fail(ErrorCode::Internal, "Prometheus response has no data.resultType/result");
  }
  out.type = type->as_string().c_str();
  const auto bad = [&](const std::string& why) {
    return fail(ErrorCode::Internal, fmt::format("malformed {} result: {}", out.type, why));
  };
  if (out.type == "scalar" || out.type == "string") {
    const json::array* pair = result->if_array();
    if (pair == nullptr || pair->size() != 2) return bad("not a [time, value] pair");
    if (out.type == "string") {
      if (!(*pair)[1].is_string()) return bad("value is not a string");
      out.string_value = (*pair)[1].as_string().c_str();
      return out;
    }
    auto sample = parseSample(*result);
    if (!sample) return bad(sample.error().message);
    out.scalar = *sample;
    return out;
  }
  if (out.type != "vector" && out.type != "matrix") return bad("unknown result type");
  const json::array* items = result->if_array();
  if (items == nullptr) return bad("result is not a list");
  for (const auto& item : *items) {
    const json::object* obj = item.if_object();
    if (obj == nullptr) return bad("series is not an object");
    PromSeries series;
    if (const auto* m = obj->if_contains("metric"); m != nullptr && m->is_object()) {
      for (const auto& [k, v] : m->as_object()) {
        if (v.is_string()) series.labels.emplace(std::string(k), v.as_string().c_str());
      }
    }
    if (out.type == "vector") {
      const json::value* value = obj->if_contains("value");
      if (value == nullptr) {
        if (obj->contains("histogram")) return bad("native histograms are not supported");
        return bad("vector element has no value");
      }
      auto sample = parseSample(*value);
      if (!sample) return bad(sample.error().message);
      series.samples.push_back(*sample);
    } else {
      if (const auto* values = obj->if_contains("values"); values != nullptr) {
        const json::array* list = values->if_array();
        if (list == nullptr) return bad("values is not a list");
        for (const auto& v : *list) {
          auto sample = parseSample(v);
          if (!sample) return bad(sample.error().message);
          series.samples.push_back(*sample);
        }
      }
    }
    out.series.push_back(std::move(series));
  }
  return out;
}

Result<MetricValue> prometheusValue(const PromResult& result) {
  MetricValue out;
  if (result.type == "scalar") {
    if (!result.scalar) return fail(ErrorCode::Internal, "scalar result without a value");
    out.value = result.scalar->value;
    out.message = "scalar";
    return out;
  }
  if (result.type == "string") {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("query returned a string (\"{}\"), not a number", result.string_value));
  }
  if (result.series.empty()) {
    out.message = fmt::format("empty {}", result.type);
    return out;
  }
  if (result.series.size() > 1) {
    std::string shown;
    for (std::size_t i = 0; i < result.series.size() && i < 3; ++i) {
      if (!shown.empty()) shown += ", ";
      shown += labelsText(result.series[i].labels);
    }
    if (result.series.size() > 3) shown += ", ...";
    return fail(ErrorCode::InvalidArgument,
                fmt::format("query returned {} series ({}); a metric needs one value: aggregate "
                            "it, e.g. sum(...) or max(...)",
                            result.series.size(), shown));
  }
  const PromSeries& s = result.series.front();
  if (s.samples.empty()) {
    out.message = fmt::format("{} series without samples", result.type);
    return out;
  }
  out.value = s.samples.back().value;
  out.message = result.type == "matrix"
                    ? fmt::format("last of {} samples of {}", s.samples.size(), labelsText(s.labels))
                    : labelsText(s.labels);
  if (!result.warnings.empty()) out.message += fmt::format("; warning: {}", result.warnings.front());
  return out;
}

Result<PromResult> prometheusQuery(const config::PrometheusProvider& provider,
                                   const std::string& query, TimePoint at) {
  std::string url = fmt::format("{}/api/v1/query?query={}", trimmedAddress(provider.address),
                                http::urlEncode(query));
  if (at != TimePoint{}) url += fmt::format("&time={}", unixSeconds(at));
  return get(provider, url);
}

Result<PromResult> prometheusQueryRange(const config::PrometheusProvider& provider,
                                        const std::string& query, TimePoint start, TimePoint end,
                                        Duration step) {
  const double step_seconds = static_cast<double>(step.count()) / 1000.0;
  const std::string url = fmt::format(
      "{}/api/v1/query_range?query={}&start={}&end={}&step={}", trimmedAddress(provider.address),
      http::urlEncode(query), unixSeconds(start), unixSeconds(end), step_seconds);
  return get(provider, url);
}

}  // namespace runway::analysis
