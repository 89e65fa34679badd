#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "runway/kube/workload.hpp"

namespace runway::kube {
namespace {

namespace json = boost::json;

TEST(WorkloadTest, VersionObjectNamesAreDnsLabels) {
  EXPECT_EQ(versionObjectName("api", "v1.2.3"), "api-v1-2-3");
  EXPECT_EQ(versionObjectName("API", "V2_rc+1"), "api-v2-rc-1");
  const auto long_a = versionObjectName("checkout", std::string(80, 'a') + "1");
  const auto long_b = versionObjectName("checkout", std::string(80, 'a') + "2");
  EXPECT_EQ(long_a.size(), 63U);
  EXPECT_NE(long_a, long_b);  // cut, but told apart by the hash
  EXPECT_EQ(versionObjectName("api", "v1-"), "api-v1");
}

TEST(WorkloadTest, DeploymentCarriesTheLabelsAndTheContainer) {
  VersionWorkload w;
  w.image = "registry.example/api:v2";
  w.port = 9090;
  w.replicas = 3;
  w.env = {{"MODE", "canary"}};
  w.cpu = 0.25;
  w.memory_mb = 256;
  const auto d = versionDeployment({"production", "api", "v2", "dep-01"}, w);
  const auto expected = json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "api-v2",
                 "labels": {"app.kubernetes.io/name": "api", "runway.dev/version": "v2",
                            "runway.dev/environment": "production", "app.kubernetes.io/managed-by": "runway"},
                 "annotations": {"runway.dev/deployment": "dep-01"}},
    "spec": {"replicas": 3, "progressDeadlineSeconds": 600,
             "selector": {"matchLabels": {"app.kubernetes.io/name": "api", "runway.dev/version": "v2",
                                          "runway.dev/environment": "production"}},
             "template": {"metadata": {"labels": {"app.kubernetes.io/name": "api", "runway.dev/version": "v2",
                                                  "runway.dev/environment": "production",
                                                  "app.kubernetes.io/managed-by": "runway"}},
                          "spec": {"containers": [{"name": "api", "image": "registry.example/api:v2",
                                                   "ports": [{"name": "http", "containerPort": 9090, "protocol": "TCP"}],
                                                   "env": [{"name": "MODE", "value": "canary"}],
                                                   "readinessProbe": {"httpGet": {"path": "/health", "port": 9090},
                                                                      "periodSeconds": 1},
                                                   "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}}}})");
  EXPECT_EQ(json::value(d), expected) << json::serialize(d);
}

TEST(WorkloadTest, HttpRouteWeightsPerVersionService) {
  const auto route = httpRoute("api", "public", {"production", "api", "", ""}, 8080,
                               {{"v1", 900}, {"v2", 100}});
  const auto& refs = route.at("spec").at("rules").at(0).at("backendRefs");
  EXPECT_EQ(refs, json::parse(R"([{"name": "api-v1", "port": 8080, "weight": 900},
                                  {"name": "api-v2", "port": 8080, "weight": 100}])"));
  EXPECT_EQ(route.at("spec").at("parentRefs"), json::parse(R"([{"name": "public"}])"));
}

TEST(WorkloadTest, PodInstanceFromStatus) {
  const auto pod = json::parse(R"({
    "metadata": {"name": "api-v2-7d9f-abcde", "labels": {"runway.dev/version": "v2"}},
    "spec": {"nodeName": "node-1"},
    "status": {"phase": "Running",
               "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
               "containerStatuses": [{"restartCount": 2}, {"restartCount": 1}]}})").as_object();
  const auto p = podInstance(pod);
  EXPECT_EQ(p.name, "api-v2-7d9f-abcde");
  EXPECT_EQ(p.version, "v2");
  EXPECT_EQ(p.phase, "Running");
  EXPECT_FALSE(p.ready);
  EXPECT_EQ(p.restarts, 3);
  EXPECT_EQ(p.node, "node-1");
  const auto pending = podInstance(json::parse(R"({"metadata": {"name": "x"}, "status": {"phase": "Pending"}})").as_object());
  EXPECT_EQ(pending.phase, "Pending");
  EXPECT_TRUE(pending.node.empty());
  EXPECT_FALSE(pending.ready);
}

TEST(WorkloadTest, RouteWeightsReadBack) {
  const auto route = httpRoute("api", "public", {"production", "api", "", ""}, 8080,
                               {{"v1", 900}, {"v2", 100}});
  EXPECT_EQ(routeWeights(route, "api", {"v1", "v2", "v3"}),
            (std::map<std::string, int>{{"v1", 900}, {"v2", 100}}));
  EXPECT_EQ(routeWeights(route, "api", {"v2"}), (std::map<std::string, int>{{"v2", 100}}));
  auto defaulted = json::parse(R"({"spec": {"rules": [{"backendRefs": [{"name": "api-v1"}]}]}})").as_object();
  EXPECT_EQ(routeWeights(defaulted, "api", {"v1"}), (std::map<std::string, int>{{"v1", 1}}));
}

}  // namespace
}  // namespace runway::kube
