#include "cluster.hpp"

#include <cstdlib>
#include <iostream>
#include <random>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include "test_paths.hpp"

namespace runway::kube::testing {
namespace {

namespace json = boost::json;

[[noreturn]] void abortWith(const std::string& message) {
  std::cerr << "kubernetes tests: " << message << "\n";
  std::abort();
}

TestCluster load() {
  const char* dir = std::getenv("RUNWAY_KUBE_CLUSTER");
  if (dir == nullptr || *dir == '\0') {
    abortWith(
        "RUNWAY_KUBE_CLUSTER is not set. Run these tests through ctest (its fixture starts a "
        "cluster), or start one with scripts/kube-cluster.sh up DIR and set "
        "RUNWAY_KUBE_CLUSTER=DIR");
  }
  TestCluster c;
  c.dir = dir;
  auto admin = loadKubeconfig(c.dir / "kubeconfig");
  if (!admin) abortWith(admin.error().message);
  c.admin = std::move(*admin);
  return c;
}

}  // namespace

const TestCluster& cluster() {
  static const TestCluster c = load();
  return c;
}

std::unique_ptr<Client> adminClient() { return makeClient(cluster().admin); }

TestNamespace::TestNamespace(std::string_view prefix) {
  std::random_device random;
  name_ = fmt::format("rw-{}-{:06x}", prefix, random() & 0xffffff);
  auto created = adminClient()->create(
      Resource::namespaces(), "",
      json::object{{"apiVersion", "v1"},
                   {"kind", "Namespace"},
                   {"metadata", json::object{{"name", name_}}}});
  if (!created) abortWith("cannot create namespace " + name_ + ": " + created.error().message);
}

TestNamespace::~TestNamespace() {
  // Deletion finishes in the background (the namespace controller empties it).
  (void)adminClient()->remove(Resource::namespaces(), "", name_);
}

Result<std::string> serviceAccountToken(Client& admin, const std::string& ns,
                                        const std::string& name) {
  auto account = admin.create(Resource::serviceAccounts(), ns,
                              json::object{{"apiVersion", "v1"},
                                           {"kind", "ServiceAccount"},
                                           {"metadata", json::object{{"name", name}}}});
  if (!account && account.error().code != ErrorCode::Conflict) return fail(account.error());
  auto request = admin.call(
      "POST", resourcePath(Resource::serviceAccounts(), ns, name) + "/token",
      json::object{{"apiVersion", "authentication.k8s.io/v1"},
                   {"kind", "TokenRequest"},
                   {"spec", json::object{{"expirationSeconds", 600}}}});
  if (!request) return fail(request.error());
  return std::string(request->at("status").at("token").as_string());
}

// The Role of examples/kubernetes/rbac/runway-role.yaml, for namespace `ns`.
json::object documentedRole(const std::string& ns) {
  const auto docs = YAML::LoadAllFromFile(std::string(RUNWAY_SOURCE_DIR) + "/examples/kubernetes/rbac/runway-role.yaml");
  for (const auto& doc : docs) {
    if (doc["kind"].as<std::string>() != "Role") continue;
    json::array rules;
    for (const auto& rule : doc["rules"]) {
      json::object r;
      for (const auto* key : {"apiGroups", "resources", "verbs"}) {
        json::array values;
        for (const auto& v : rule[key]) values.push_back(json::string(v.as<std::string>()));
        r[key] = std::move(values);
      }
      rules.push_back(std::move(r));
    }
    return json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                        {"kind", "Role"},
                        {"metadata", json::object{{"name", "runway"}, {"namespace", ns}}},
                        {"rules", std::move(rules)}};
  }
  abortWith("examples/kubernetes/rbac/runway-role.yaml has no Role");
}

Result<std::string> serviceAccountWithDocumentedRole(Client& admin, const std::string& ns) {
  auto token = serviceAccountToken(admin, ns, "runway");
  if (!token) return token;
  if (auto role = admin.apply(Resource::roles(), ns, "runway", documentedRole(ns)); !role) {
    return fail(role.error());
  }
  auto binding = admin.apply(
      Resource::roleBindings(), ns, "runway",
      json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                   {"kind", "RoleBinding"},
                   {"metadata", json::object{{"name", "runway"}}},
                   {"roleRef", json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                            {"kind", "Role"},
                                            {"name", "runway"}}},
                   {"subjects", json::array{json::object{
                                    {"kind", "ServiceAccount"}, {"name", "runway"}, {"namespace", ns}}}}});
  if (!binding) return fail(binding.error());
  return token;
}

Result<void> restartComponents(const std::string& components) {
  const auto command = fmt::format("{}/scripts/kube-cluster.sh restart '{}' {} >>'{}' 2>&1",
                                   RUNWAY_SOURCE_DIR, cluster().dir.string(), components,
                                   (cluster().dir / "logs" / "restarts.log").string());
  const int status = std::system(command.c_str());
  if (status != 0) {
    return fail(ErrorCode::Internal, fmt::format("`{}` failed (status {})", command, status));
  }
  return {};
}

Result<std::string> whoAmI(Client& client) {
  auto review = client.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                            json::object{{"apiVersion", "authentication.k8s.io/v1"},
                                         {"kind", "SelfSubjectReview"}});
  if (!review) return fail(review.error());
  return std::string(review->at("status").at("userInfo").at("username").as_string());
}

}  // namespace runway::kube::testing
