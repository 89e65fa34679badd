#include "runway/checks/smoke.hpp"

#include <chrono>
#include <cmath>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "http.hpp"
#include "runway/checks/snapshot.hpp"

namespace runway::checks {
namespace {

std::string formatMs(Duration d) { return fmt::format("{}ms", d.count()); }

// Whether the JSON value equals the expectation written as YAML scalar text.
bool jsonEquals(const boost::json::value& value, const std::string& expected, std::string& seen) {
  seen = boost::json::serialize(value);
  if (value.is_string()) return std::string(value.as_string()) == expected;
  if (value.is_bool()) return expected == (value.as_bool() ? "true" : "false");
  if (value.is_null()) return expected == "null" || expected == "~" || expected.empty();
  if (value.is_number()) {
    try {
      std::size_t used = 0;
      const double want = std::stod(expected, &used);
      if (used != expected.size()) return false;
      return std::fabs(value.to_number<double>() - want) <= 1e-9 * std::max(1.0, std::fabs(want));
    } catch (const std::exception&) {
      return false;
    }
  }
  // Objects and arrays compare by their serialized form.
  return seen == expected;
}

}  // namespace

CheckItem runSmokeCheck(const config::SmokeCheck& check, const std::string& base_url,
                        const std::string& item_name) {
  CheckItem item{"smoke", item_name, ItemStatus::Failed, "", 0};
  auto request = detail::checkRequest(check.method, base_url + check.path, check.timeout);
  request.body = check.body;
  for (const auto& [name, value] : check.headers) request.headers[name] = value;
  const auto start = std::chrono::steady_clock::now();
  auto response = http::send(request);
  item.duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const auto what = fmt::format("{} {}", check.method, check.path);
  if (!response) {
    item.reason = response.error().code == ErrorCode::Timeout
                      ? fmt::format("{}: no answer within {}", what, formatMs(check.timeout))
                      : fmt::format("{}: {}", what, response.error().message);
    return item;
  }
  if (response->status != check.expect_status) {
    item.reason = fmt::format("{} -> {}, expected {}", what, response->status, check.expect_status);
    return item;
  }
  if (check.max_latency && response->elapsed_ms > static_cast<double>(check.max_latency->count())) {
    item.reason = fmt::format("{} -> {} in {:.0f}ms, slower than the {} limit", what,
                              response->status, response->elapsed_ms, formatMs(*check.max_latency));
    return item;
  }
  if (!check.body_contains.empty() &&
      response->body.find(check.body_contains) == std::string::npos) {
    item.reason = fmt::format("{} -> {}, body does not contain \"{}\"", what, response->status,
                              check.body_contains);
    return item;
  }
  if (!check.json_equals.empty()) {
    boost::system::error_code ec;
    const auto doc = boost::json::parse(response->body, ec);
    if (ec) {
      item.reason = fmt::format("{} -> {}, body is not JSON: {}", what, response->status,
                                ec.message());
      return item;
    }
    for (const auto& [pointer, expected] : check.json_equals) {
      boost::system::error_code pec;
      const auto* found = doc.find_pointer(pointer, pec);
      if (found == nullptr) {
        item.reason = fmt::format("{} -> {}, JSON has nothing at {}", what, response->status,
                                  pointer);
        return item;
      }
      std::string seen;
      if (!jsonEquals(*found, expected, seen)) {
        item.reason = fmt::format("{} -> {}, JSON {} is {}, expected {}", what,
                                  response->status, pointer, seen, expected);
        return item;
      }
    }
  }
  item.status = ItemStatus::Passed;
  item.reason = fmt::format("{} -> {} in {:.0f}ms", what, response->status, response->elapsed_ms);
  return item;
}

Result<Report> runSmoke(const SmokeRequest& request, runtime::Runtime& runtime) {
  const auto* env = request.config->findEnvironment(request.environment);
  if (env == nullptr) {
    return fail(ErrorCode::NotFound, fmt::format("unknown environment \"{}\"", request.environment));
  }
  const auto* app = request.config->applicationFor(*env);
  if (app == nullptr) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("environment \"{}\" has no application", request.environment));
  }
  const auto* suite = app->findSuite(request.suite);
  if (suite == nullptr) {
    std::string defined;
    for (const auto& s : app->smoke) defined += (defined.empty() ? "" : ", ") + s.name;
    return fail(ErrorCode::NotFound,
                fmt::format("unknown smoke suite \"{}\" of application \"{}\" ({})",
                            request.suite, app->name,
                            defined.empty() ? std::string("it defines none")
                                            : "defined: " + defined));
  }
  Report report;
  report.title = fmt::format("smoke {} {} {}", suite->name, request.environment,
                             request.version.empty() ? "(through the router)" : request.version);
  std::vector<runtime::InstanceInfo> instances;
  if (!request.version.empty()) {
    auto list = runtime.instances(request.environment);
    if (!list) {
      report.add({"smoke", suite->name, ItemStatus::Failed,
                  fmt::format("cannot list instances: {}", list.error().message), 0});
      return report;
    }
    instances = std::move(*list);
  }
  for (const auto& check : suite->checks) {
    const auto& service = check.service.empty() ? app->services.front().name : check.service;
    const auto name = fmt::format("{}/{}", suite->name, check.name);
    if (request.version.empty()) {
      std::string base = request.base_url;
      if (base.empty()) {
        if (auto it = env->runtime.local.ports.find(service); it != env->runtime.local.ports.end()) {
          base = fmt::format("http://127.0.0.1:{}", it->second);
        } else if (auto listener = recordedListener(request.data_dir, request.environment, service)) {
          const auto host = listener->address == "0.0.0.0" || listener->address.empty()
                                ? std::string("127.0.0.1")
                                : listener->address;
          base = fmt::format("http://{}:{}", host, listener->port);
        }
      }
      if (base.empty()) {
        report.add({"smoke", name, ItemStatus::Failed,
                    fmt::format("no router listener is known for service \"{}\" in \"{}\" (no port "
                                "in the config and none recorded by the runtime)",
                                service, request.environment),
                    0});
        continue;
      }
      report.add(runSmokeCheck(check, base, name));
      continue;
    }
    int ready = 0;
    for (const auto& i : instances) {
      if (i.service != service || i.version != request.version ||
          i.state != runtime::InstanceState::Ready) {
        continue;
      }
      ++ready;
      report.add(runSmokeCheck(check, fmt::format("http://127.0.0.1:{}", i.port),
                               fmt::format("{} {}#{}", name, i.version, i.index)));
    }
    if (ready == 0) {
      report.add({"smoke", name, ItemStatus::Failed,
                  fmt::format("version {} of service \"{}\" has no ready instance",
                              request.version, service),
                  0});
    }
  }
  return report;
}

}  // namespace runway::checks
