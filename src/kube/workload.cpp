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

}  // namespace runway::kube
