// The objects runway keeps per service version, applied to the real cluster.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cluster.hpp"
#include "runway/kube/rollout.hpp"
#include "runway/kube/workload.hpp"
#include "support/poll.hpp"

namespace runway::kube {
namespace {

namespace json = boost::json;

TEST(KubeWorkloadTest, VersionsRollOutAndTheRouteSplitsBetweenThem) {
  testing::TestNamespace ns("workload");
  auto kube = testing::adminClient();
  VersionWorkload w;
  w.port = 8080;
  w.replicas = 2;
  for (const std::string version : {"v1", "v2"}) {
    const VersionIdentity id{"staging", "api", version, "dep-" + version};
    w.image = "registry.example/api:" + version;
    ASSERT_TRUE(kube->apply(Resource::deployments(), ns.name(), versionObjectName("api", version),
                            versionDeployment(id, w)));
    ASSERT_TRUE(kube->apply(Resource::services(), ns.name(), versionObjectName("api", version),
                            versionService(id, w.port)));
  }
  for (const std::string version : {"v1", "v2"}) {
    RolloutStatus status;
    ASSERT_TRUE(test::pollUntil(
        [&] {
          auto d = kube->get(Resource::deployments(), ns.name(), versionObjectName("api", version));
          if (!d) return false;
          status = deploymentRolloutStatus(*d);
          return status.state == RolloutStatus::State::Complete;
        },
        test::deadlineIn(std::chrono::seconds(60))))
        << status.message;
  }
  // Each version's pods carry the labels, so a selector finds exactly one version's.
  auto pods = kube->list(Resource::pods(), ns.name(),
                         ListOptions{"app.kubernetes.io/name=api,runway.dev/version=v2", "", ""});
  ASSERT_TRUE(pods) << pods.error().message;
  ASSERT_EQ(pods->items.size(), 2U);
  for (const auto& item : pods->items) {
    const auto pod = podInstance(item);
    EXPECT_EQ(pod.version, "v2");
    EXPECT_EQ(pod.phase, "Running") << pod.name;
    EXPECT_TRUE(pod.ready) << pod.name;
    EXPECT_EQ(pod.node, "kwok-node-0") << pod.name;
    EXPECT_EQ(pod.restarts, 0) << pod.name;
  }

  // Applying the same Deployment again changes nothing (no new generation).
  const VersionIdentity v2{"staging", "api", "v2", "dep-v2"};
  auto before = kube->get(Resource::deployments(), ns.name(), "api-v2");
  ASSERT_TRUE(before);
  auto again = kube->apply(Resource::deployments(), ns.name(), "api-v2", versionDeployment(v2, w));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->at("metadata").at("generation"), before->at("metadata").at("generation"));

  // The split: 900/100, then 0/1000.
  const VersionIdentity service{"staging", "api", "", ""};
  auto route = kube->apply(Resource::httpRoutes(), ns.name(), "api",
                           httpRoute("api", "public", service, 8080, {{"v1", 900}, {"v2", 100}}));
  ASSERT_TRUE(route) << route.error().message;
  route = kube->apply(Resource::httpRoutes(), ns.name(), "api",
                      httpRoute("api", "public", service, 8080, {{"v1", 0}, {"v2", 1000}}));
  ASSERT_TRUE(route) << route.error().message;
  auto read_back = kube->get(Resource::httpRoutes(), ns.name(), "api");
  ASSERT_TRUE(read_back) << read_back.error().message;
  EXPECT_EQ(routeWeights(*read_back, "api", {"v1", "v2"}),
            (std::map<std::string, int>{{"v1", 0}, {"v2", 1000}}));
  EXPECT_EQ(route->at("spec").at("rules").at(0).at("backendRefs"),
            json::parse(R"([{"group": "", "kind": "Service", "name": "api-v1", "port": 8080, "weight": 0},
                            {"group": "", "kind": "Service", "name": "api-v2", "port": 8080, "weight": 1000}])"));
}

}  // namespace
}  // namespace runway::kube
