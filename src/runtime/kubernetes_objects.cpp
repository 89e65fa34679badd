#include "kubernetes_objects.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "runway/config/substitute.hpp"
#include "runway/kube/workload.hpp"

namespace runway::runtime::kubernetes_runtime_detail {


const json::object* objectField(const json::object* o, std::string_view key) {
  if (o == nullptr) return nullptr;
  const auto* v = o->if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

std::string stringField(const json::object* o, std::string_view key) {
  if (o == nullptr) return {};
  const auto* v = o->if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string{};
}

std::int64_t intField(const json::object* o, std::string_view key, std::int64_t fallback) {
  if (o == nullptr) return fallback;
  const auto* v = o->if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return fallback;
}

const json::object* metadataOf(const Object& o) { return objectField(&o, "metadata"); }
std::string objectName(const Object& o) { return stringField(metadataOf(o), "name"); }
std::string labelOf(const Object& o, std::string_view label) {
  return stringField(objectField(metadataOf(o), "labels"), label);
}
std::string annotationOf(const Object& o, std::string_view annotation) {
  return stringField(objectField(metadataOf(o), "annotations"), annotation);
}
bool beingDeleted(const Object& o) {
  const auto* md = metadataOf(o);
  return md != nullptr && md->contains("deletionTimestamp");
}

// RFC 7386: objects merge member by member, null removes, anything else replaces.
void mergePatchInto(json::value& target, const json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object{};
  auto& t = target.as_object();
  for (const auto& [key, value] : patch.as_object()) {
    if (value.is_null()) {
      t.erase(key);
    } else {
      mergePatchInto(t[key], value);
    }
  }
}

// Substitutes ${NAME} in every string value (not in keys) of a JSON document.
Result<void> substituteStrings(json::value& v, const std::map<std::string, std::string>& vars) {
  if (v.is_string()) {
    auto text = config::substitute(v.get_string(), vars);
    if (!text) return fail(text.error());
    v = *text;
  } else if (v.is_array()) {
    for (auto& item : v.get_array()) {
      if (auto r = substituteStrings(item, vars); !r) return r;
    }
  } else if (v.is_object()) {
    for (auto& member : v.get_object()) {
      if (auto r = substituteStrings(member.value(), vars); !r) return r;
    }
  }
  return {};
}

// A Kubernetes label value: at most 63 characters of [A-Za-z0-9._-], starting and ending with
// a letter or digit. Versions become label values.
bool isLabelValue(std::string_view v) {
  if (v.empty() || v.size() > 63) return false;
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// An image reference names a tag or a digest when its last path component has a ':' or it has
// an '@'.
bool hasTagOrDigest(std::string_view image) {
  if (image.find('@') != std::string_view::npos) return true;
  const auto slash = image.rfind('/');
  const auto last = slash == std::string_view::npos ? image : image.substr(slash + 1);
  return last.find(':') != std::string_view::npos;
}

std::string artifactEnvName(std::string_view service) {
  std::string out = "RUNWAY_ARTIFACT_";
  for (const char c : service) {
    if (c == '-') {
      out.push_back('_');
    } else if (c >= 'a' && c <= 'z') {
      out.push_back(static_cast<char>(c - 'a' + 'A'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string splitJson(const TrafficSplit& split) {
  json::object weights;
  for (const auto& [version, weight] : split.weights) weights[version] = weight;
  json::array routes;
  for (const auto& r : split.routes) {
    routes.push_back(json::object{
        {"header", r.header},
        {"cookie", r.cookie},
        {"match", r.match == TrafficRoute::Match::Exact    ? "exact"
                  : r.match == TrafficRoute::Match::Prefix ? "prefix"
                                                           : "regex"},
        {"value", r.value},
        {"version", r.version}});
  }
  return json::serialize(json::object{{"weights", std::move(weights)}, {"routes", std::move(routes)}});
}

TrafficSplit parseSplit(const std::string& text) {
  TrafficSplit split;
  if (text.empty()) return split;
  boost::system::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return split;
  const auto& o = v.as_object();
  if (const auto* w = objectField(&o, "weights")) {
    for (const auto& [version, weight] : *w) {
      if (weight.is_int64()) split.weights[std::string(version)] = static_cast<int>(weight.get_int64());
    }
  }
  if (const auto* routes = o.if_contains("routes"); routes != nullptr && routes->is_array()) {
    for (const auto& item : routes->as_array()) {
      const auto* r = item.if_object();
      if (r == nullptr) continue;
      TrafficRoute route;
      route.header = stringField(r, "header");
      route.cookie = stringField(r, "cookie");
      const auto match = stringField(r, "match");
      route.match = match == "prefix"  ? TrafficRoute::Match::Prefix
                    : match == "regex" ? TrafficRoute::Match::Regex
                                       : TrafficRoute::Match::Exact;
      route.value = stringField(r, "value");
      route.version = stringField(r, "version");
      split.routes.push_back(std::move(route));
    }
  }
  return split;
}

std::string describeSplit(const std::map<std::string, int>& weights) {
  std::string out;
  for (const auto& [version, weight] : weights) {
    out += fmt::format("{}{}={:g}%", out.empty() ? "" : " ", version, weight / 10.0);
  }
  return out;
}

int containerPort(const config::Service& svc) {
  if (svc.kubernetes) return svc.kubernetes->port;
  return svc.port > 0 ? svc.port : 8080;
}


std::string lastExit(const json::object* status) {
  const auto* containers = status != nullptr ? status->if_contains("containerStatuses") : nullptr;
  if (containers == nullptr || !containers->is_array()) return {};
  for (const auto& item : containers->as_array()) {
    const auto* terminated = objectField(objectField(item.if_object(), "lastState"), "terminated");
    if (terminated == nullptr) continue;
    return fmt::format("exited with status {} ({})", intField(terminated, "exitCode"),
                       stringField(terminated, "reason"));
  }
  return {};
}


std::optional<double> parseQuantity(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::size_t i = 0;
  if (text[i] == '+' || text[i] == '-') ++i;
  const auto digits_start = i;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == digits_start) return std::nullopt;
  double number = 0;
  try {
    number = std::stod(std::string(text.substr(0, i)));
  } catch (...) {
    return std::nullopt;
  }
  const auto suffix = text.substr(i);
  static const std::pair<std::string_view, double> kSuffixes[] = {
      {"", 1},         {"m", 1e-3},     {"k", 1e3},      {"M", 1e6},      {"G", 1e9},
      {"T", 1e12},     {"P", 1e15},     {"E", 1e18},     {"Ki", 1024.0},  {"Mi", 1048576.0},
      {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0},
      {"Ei", 1152921504606846976.0}};
  for (const auto& [name, factor] : kSuffixes) {
    if (suffix == name) return number * factor;
  }
  if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {  // 1e3
    int exponent = 0;
    const auto e = suffix.substr(1);
    const auto [end, ec] = std::from_chars(e.data(), e.data() + e.size(), exponent);
    if (ec == std::errc() && end == e.data() + e.size()) return number * std::pow(10.0, exponent);
  }
  return std::nullopt;
}

namespace {
const json::object* podSpecOf(const Object& deployment) {
  return objectField(objectField(objectField(&deployment, "spec"), "template"), "spec");
}
}  // namespace

PodRequests podRequests(const Object& deployment) {
  PodRequests out;
  const auto* spec = podSpecOf(deployment);
  const auto* containers = spec != nullptr ? spec->if_contains("containers") : nullptr;
  if (containers == nullptr || !containers->is_array()) return out;
  for (const auto& c : containers->as_array()) {
    const auto* requests = objectField(objectField(c.if_object(), "resources"), "requests");
    if (requests == nullptr) continue;
    out.cpu += parseQuantity(stringField(requests, "cpu")).value_or(0);
    out.memory += parseQuantity(stringField(requests, "memory")).value_or(0);
  }
  return out;
}

std::vector<std::string> imagePullSecrets(const Object& deployment) {
  std::vector<std::string> out;
  const auto* spec = podSpecOf(deployment);
  const auto* secrets = spec != nullptr ? spec->if_contains("imagePullSecrets") : nullptr;
  if (secrets == nullptr || !secrets->is_array()) return out;
  for (const auto& s : secrets->as_array()) {
    if (auto name = stringField(s.if_object(), "name"); !name.empty()) out.push_back(std::move(name));
  }
  return out;
}

// The versions a split names (weights above 0 and routes).
std::vector<std::string> splitVersions(const TrafficSplit& split) {
  std::vector<std::string> out;
  for (const auto& [version, weight] : split.weights) {
    if (weight > 0) out.push_back(version);
  }
  for (const auto& r : split.routes) {
    if (std::find(out.begin(), out.end(), r.version) == out.end()) out.push_back(r.version);
  }
  return out;
}


Result<void> validateSplit(std::string_view environment, bool http_route, const TrafficSplit& split) {
  int sum = 0;
  for (const auto& [version, weight] : split.weights) {
    if (weight < 0 || weight > 1000) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("weight {} of {} is outside 0..1000", weight, version));
    }
    sum += weight;
  }
  if (!split.weights.empty() && sum != 1000) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("weights sum to {} per mille, not 1000", sum));
  }
  if (!split.sticky_cookie.empty()) {
    return fail(ErrorCode::InvalidArgument,
                "sticky sessions need runway's router: the kubernetes runtime has none");
  }
  for (const auto& r : split.routes) {
    if (r.header.empty() == r.cookie.empty()) {
      return fail(ErrorCode::InvalidArgument,
                  "a route needs exactly one of header and cookie");
    }
    if (!http_route) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("environment {} has no gateway (traffic: replicas): header and "
                              "cookie routes need traffic: httproute",
                              environment));
    }
    if (!r.cookie.empty()) {
      return fail(ErrorCode::InvalidArgument,
                  "a Gateway API HTTPRoute matches headers, not cookies: route by a header");
    }
    if (r.match == TrafficRoute::Match::Prefix) {
      return fail(ErrorCode::InvalidArgument,
                  "a Gateway API HTTPRoute matches headers exactly or by regular expression, "
                  "not by prefix");
    }
  }
  return {};
}


Object routeFor(std::string_view environment, const std::string& gateway,
               const std::string& gateway_ns, std::string_view service, int port,
               const TrafficSplit& split) {
  const kube::VersionIdentity id{std::string(environment), std::string(service), "", ""};
  auto route = kube::httpRoute(std::string(service), gateway, id, port, split.weights);
  auto& spec = route["spec"].as_object();
  if (!gateway_ns.empty()) {
    spec["parentRefs"].as_array()[0].as_object()["namespace"] = gateway_ns;
  }
  // Header routes first: a request matching one goes to its version whatever the weights.
  json::array rules;
  for (const auto& r : split.routes) {
    rules.push_back(json::object{
        {"matches",
         json::array{json::object{
             {"path", json::object{{"type", "PathPrefix"}, {"value", "/"}}},
             {"headers", json::array{json::object{
                             {"type", r.match == TrafficRoute::Match::Exact ? "Exact"
                                                                            : "RegularExpression"},
                             {"name", r.header},
                             {"value", r.value}}}}}}},
        {"backendRefs", json::array{json::object{
                            {"name", kube::versionObjectName(service, r.version)},
                            {"port", port},
                            {"weight", 1}}}}});
  }
  for (auto& rule : spec["rules"].as_array()) rules.push_back(std::move(rule));
  spec["rules"] = std::move(rules);
  return route;
}


Result<Object> deploymentFor(std::string_view environment, const config::Service& service,
                             std::string_view version, int instances,
                             const std::map<std::string, std::string>& artifacts,
                             std::string_view deployment_id) {
  config::KubernetesWorkload k;
  if (service.kubernetes) {
    k = *service.kubernetes;
  } else {
    k.image = service.image;
    if (service.port > 0) k.port = service.port;
  }
  if (k.image.empty()) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("service {} has no kubernetes.image", service.name));
  }
  const auto own = artifacts.find(service.name);
  const std::string artifact = own != artifacts.end() ? own->second : std::string(version);
  const std::map<std::string, std::string> vars{{"PORT", std::to_string(k.port)},
                                                {"VERSION", std::string(version)},
                                                {"SERVICE", service.name},
                                                {"ENVIRONMENT", std::string(environment)},
                                                {"ARTIFACT", artifact}};
  auto image = config::substitute(k.image, vars);
  if (!image) return fail(image.error());
  if (k.image.find("${") == std::string::npos && !hasTagOrDigest(*image)) {
    *image += ":" + artifact;
  }
  kube::VersionWorkload w;
  w.image = *image;
  w.port = k.port;
  w.replicas = instances;
  const std::map<std::string, std::string>* envs[] = {&service.env, &k.env};
  for (const auto* env : envs) {
    for (const auto& [name, value] : *env) {
      auto text = config::substitute(value, vars);
      if (!text) return fail(text.error());
      w.env[name] = *text;
    }
  }
  for (const auto& [svc, ref] : artifacts) w.env[artifactEnvName(svc)] = ref;
  w.env["RUNWAY_ARTIFACT"] = artifact;
  w.readiness_path =
      !k.readiness_probe ? "" : (k.readiness_path.empty() ? service.health.path : k.readiness_path);
  w.cpu = k.resources.cpu > 0 ? k.resources.cpu : service.resources.cpu;
  w.memory_mb = k.resources.memory_mb > 0 ? k.resources.memory_mb : service.resources.memory_mb;
  w.progress_deadline_seconds = k.progress_deadline_seconds;
  const kube::VersionIdentity id{std::string(environment), service.name, std::string(version),
                                 std::string(deployment_id)};
  auto deployment = kube::versionDeployment(id, w);
  if (!k.pod_template_patch.empty()) {
    boost::system::error_code ec;
    auto patch = json::parse(k.pod_template_patch, ec);
    if (ec) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("service {}: podTemplatePatch is not JSON: {}", service.name,
                              ec.message()));
    }
    if (auto r = substituteStrings(patch, vars); !r) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("service {}: podTemplatePatch: {}", service.name,
                              r.error().message));
    }
    mergePatchInto(deployment["spec"].as_object()["template"], patch);
    // The selector's labels must stay on the pods, whatever the patch said.
    auto& template_md = deployment["spec"].as_object()["template"].as_object()["metadata"];
    if (!template_md.is_object()) template_md = json::object{};
    auto& labels = template_md.as_object()["labels"];
    if (!labels.is_object()) labels = json::object{};
    for (const auto& [key, value] : kube::versionSelector(id)) labels.as_object()[key] = value;
    labels.as_object()[kube::kManagedByLabel] = "runway";
  }
  return deployment;
}


}  // namespace runway::runtime::kubernetes_runtime_detail
