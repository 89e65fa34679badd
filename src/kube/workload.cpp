#include "runway/kube/workload.hpp"

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::kube {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxName = 63;  // a DNS-1123 label (Service names must be one)

json::object labels(const VersionIdentity& id) {
  return json::object{{kNameLabel, id.service},
                      {kVersionLabel, id.version},
                      {kEnvironmentLabel, id.environment},
                      {kManagedByLabel, "runway"}};
}

json::object metadata(const VersionIdentity& id, const std::string& name) {
  json::object m{{"name", name}, {"labels", labels(id)}};
  if (!id.deployment_id.empty()) {
    m["annotations"] = json::object{{kDeploymentAnnotation, id.deployment_id}};
  }
  return m;
}

std::string shortHash(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return fmt::format("{:02x}{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2], digest[3]);
}

}  // namespace

std::string versionObjectName(std::string_view service, std::string_view version) {
  const auto whole = fmt::format("{}-{}", service, version);
  std::string name;
  for (const char ch : whole) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 'A' && c <= 'Z') {
      name.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      name.push_back(ch);
    } else {
      name.push_back('-');
    }
  }
  if (name.size() > kMaxName) name = name.substr(0, kMaxName - 9) + "-" + shortHash(whole);
  // A label starts and ends with an alphanumeric character.
  while (!name.empty() && name.back() == '-') name.pop_back();
  while (!name.empty() && name.front() == '-') name.erase(0, 1);
  return name;
}

Object versionSelector(const VersionIdentity& id) {
  return json::object{{kNameLabel, id.service}, {kVersionLabel, id.version}, {kEnvironmentLabel, id.environment}};
}

Object versionDeployment(const VersionIdentity& id, const VersionWorkload& w) {
  json::array env;
  for (const auto& [name, value] : w.env) env.push_back(json::object{{"name", name}, {"value", value}});
  json::object container{{"name", id.service},
                         {"image", w.image},
                         {"ports", json::array{json::object{{"name", "http"},
                                                            {"containerPort", w.port},
                                                            {"protocol", "TCP"}}}}};
  if (!env.empty()) container["env"] = std::move(env);
  if (!w.readiness_path.empty()) {
    container["readinessProbe"] = json::object{
        {"httpGet", json::object{{"path", w.readiness_path}, {"port", w.port}}},
        {"periodSeconds", 1}};
  }
  json::object requests;
  if (w.cpu > 0) requests["cpu"] = fmt::format("{}m", static_cast<long>(w.cpu * 1000 + 0.5));
  if (w.memory_mb > 0) requests["memory"] = fmt::format("{}Mi", w.memory_mb);
  if (!requests.empty()) container["resources"] = json::object{{"requests", std::move(requests)}};

  const auto name = versionObjectName(id.service, id.version);
  return json::object{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", metadata(id, name)},
      {"spec", json::object{{"replicas", w.replicas},
                            {"progressDeadlineSeconds", w.progress_deadline_seconds},
                            {"selector", json::object{{"matchLabels", versionSelector(id)}}},
                            {"template", json::object{{"metadata", json::object{{"labels", labels(id)}}},
                                                      {"spec", json::object{{"containers", json::array{container}}}}}}}}};
}

Object versionService(const VersionIdentity& id, int port) {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", metadata(id, versionObjectName(id.service, id.version))},
      {"spec", json::object{{"selector", versionSelector(id)},
                            {"ports", json::array{json::object{{"name", "http"},
                                                               {"port", port},
                                                               {"targetPort", port},
                                                               {"protocol", "TCP"}}}}}}};
}

Object httpRoute(const std::string& route_name, const std::string& gateway,
                 const VersionIdentity& service, int port, const std::map<std::string, int>& weights) {
  RUNWAY_ASSERT(!weights.empty());
  json::array backends;
  for (const auto& [version, per_mille] : weights) {
    backends.push_back(json::object{{"name", versionObjectName(service.service, version)},
                                    {"port", port},
                                    {"weight", per_mille}});
  }
  return json::object{
      {"apiVersion", "gateway.networking.k8s.io/v1"},
      {"kind", "HTTPRoute"},
      {"metadata", json::object{{"name", route_name},
                                {"labels", json::object{{kNameLabel, service.service},
                                                        {kEnvironmentLabel, service.environment},
                                                        {kManagedByLabel, "runway"}}}}},
      {"spec", json::object{{"parentRefs", json::array{json::object{{"name", gateway}}}},
                            {"rules", json::array{json::object{
                                          {"matches", json::array{json::object{
                                                          {"path", json::object{{"type", "PathPrefix"}, {"value", "/"}}}}}},
                                          {"backendRefs", std::move(backends)}}}}}}};
}

PodInstance podInstance(const Object& pod) {
  PodInstance p;
  const auto* metadata = pod.if_contains("metadata");
  if (metadata != nullptr && metadata->is_object()) {
    const auto& md = metadata->get_object();
    if (const auto* name = md.if_contains("name"); name && name->is_string()) p.name = name->get_string();
    if (const auto* labels = md.if_contains("labels"); labels && labels->is_object()) {
      if (const auto* v = labels->get_object().if_contains(kVersionLabel); v && v->is_string()) {
        p.version = v->get_string();
      }
    }
  }
  if (const auto* spec = pod.if_contains("spec"); spec && spec->is_object()) {
    if (const auto* node = spec->get_object().if_contains("nodeName"); node && node->is_string()) {
      p.node = node->get_string();
    }
  }
  const auto* status_value = pod.if_contains("status");
  if (status_value == nullptr || !status_value->is_object()) return p;
  const auto& status = status_value->get_object();
  if (const auto* phase = status.if_contains("phase"); phase && phase->is_string()) p.phase = phase->get_string();
  if (const auto* conditions = status.if_contains("conditions"); conditions && conditions->is_array()) {
    for (const auto& c : conditions->get_array()) {
      const auto* o = c.if_object();
      if (o == nullptr) continue;
      const auto* type = o->if_contains("type");
      const auto* value = o->if_contains("status");
      if (type && type->is_string() && type->get_string() == "Ready" && value && value->is_string()) {
        p.ready = value->get_string() == "True";
      }
    }
  }
  if (const auto* containers = status.if_contains("containerStatuses"); containers && containers->is_array()) {
    for (const auto& c : containers->get_array()) {
      const auto* o = c.if_object();
      if (o == nullptr) continue;
      if (const auto* n = o->if_contains("restartCount"); n && n->is_int64()) {
        p.restarts += static_cast<int>(n->get_int64());
      }
    }
  }
  return p;
}

std::map<std::string, int> routeWeights(const Object& route, std::string_view service,
                                        const std::vector<std::string>& candidates) {
  std::map<std::string, std::string> by_name;  // object name -> version
  for (const auto& version : candidates) by_name[versionObjectName(service, version)] = version;
  std::map<std::string, int> weights;
  const auto* spec = route.if_contains("spec");
  if (spec == nullptr || !spec->is_object()) return weights;
  const auto* rules = spec->get_object().if_contains("rules");
  if (rules == nullptr || !rules->is_array()) return weights;
  for (const auto& rule : rules->get_array()) {
    const auto* refs = rule.is_object() ? rule.get_object().if_contains("backendRefs") : nullptr;
    if (refs == nullptr || !refs->is_array()) continue;
    for (const auto& ref : refs->get_array()) {
      const auto* o = ref.if_object();
      if (o == nullptr) continue;
      const auto* name = o->if_contains("name");
      if (name == nullptr || !name->is_string()) continue;
      const auto it = by_name.find(std::string(name->get_string()));
      if (it == by_name.end()) continue;
      const auto* weight = o->if_contains("weight");
      // The API's default weight is 1.
      weights[it->second] = weight && weight->is_int64() ? static_cast<int>(weight->get_int64()) : 1;
    }
  }
  return weights;
}

}  // namespace runway::kube
