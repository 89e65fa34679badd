#pragma once

// The cluster the `kubernetes` tests run against: the one the ctest fixture started with
// scripts/kube-cluster.sh, found through $RUNWAY_KUBE_CLUSTER (its directory).

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <vector>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "runway/kube/client.hpp"

namespace runway::kube::testing {

struct TestCluster {
  std::filesystem::path dir;
  Connection admin;  // DIR/kubeconfig: client certificate in system:masters
};

// The fixture's cluster. Aborts the test program with an explanation when $RUNWAY_KUBE_CLUSTER
// is unset or its kubeconfig unreadable: these tests never skip.
const TestCluster& cluster();

// A client as the cluster admin.
std::unique_ptr<Client> adminClient();

// A namespace of its own for a test ("rw-<prefix>-<random>"), deleted when it goes.
class TestNamespace {
 public:
  explicit TestNamespace(std::string_view prefix);
  ~TestNamespace();
  TestNamespace(const TestNamespace&) = delete;
  TestNamespace& operator=(const TestNamespace&) = delete;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Creates ServiceAccount `name` in `ns` and returns a 10-minute token for it (TokenRequest).
Result<std::string> serviceAccountToken(Client& admin, const std::string& ns,
                                        const std::string& name);

// The Role of examples/kubernetes/rbac/runway-role.yaml (what runway documents it needs), for
// namespace `ns`.
boost::json::object documentedRole(const std::string& ns);

// ServiceAccount "runway" in `ns` bound to documentedRole(ns) only; returns a 10-minute token.
Result<std::string> serviceAccountWithDocumentedRole(Client& admin, const std::string& ns);

// The username the API server sees for `client` (a SelfSubjectReview).
Result<std::string> whoAmI(Client& client);

// Restarts components of the fixture's cluster (scripts/kube-cluster.sh restart) and waits
// until it is ready again.
Result<void> restartComponents(const std::string& components);

inline boost::json::object configMap(const std::string& name, const std::string& value) {
  namespace json = boost::json;
  return json::object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", name}}},
                      {"data", json::object{{"value", value}}}};
}

// Collects events on a thread of its own.
class Recorder {
 public:
  void add(std::string entry) {
    std::lock_guard lock(mutex_);
    entries_.push_back(std::move(entry));
  }
  std::vector<std::string> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  bool contains(const std::string& entry) const {
    auto e = entries();
    return std::find(e.begin(), e.end(), entry) != e.end();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> entries_;
};

inline std::string_view typeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::Added: return "ADDED";
    case WatchEvent::Type::Modified: return "MODIFIED";
    case WatchEvent::Type::Deleted: return "DELETED";
    case WatchEvent::Type::Bookmark: return "BOOKMARK";
  }
  return "?";
}

}  // namespace runway::kube::testing
