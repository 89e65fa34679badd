// kube-apiserver restarted under `runway serve` in the middle of a canary: the runtime's watches
// relist, failed calls are retried by the controller, and the canary finishes. Alone (RUN_SERIAL):
// the restart would disturb every other test on the cluster.

#include <map>
#include <string>

#include "serve_support.hpp"

namespace runway::test::kubernetes {
namespace {

using namespace std::chrono_literals;

TEST_F(KubernetesServeTest, TheApiServerRestartedMidCanaryAndTheCanaryFinishes) {
  TestNamespace ns("apirestart");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "public", kCanary));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  const auto id = server_->deploy("prod", "v2");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(pollUntil([&] { return weights(*admin_, ns.name()).count("v2") != 0; },
                        deadlineIn(60s), 20ms));
  auto restarted = kube::testing::restartComponents("kube-apiserver");
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_EQ(server_->waitTerminal(id, 120s), "Succeeded");
  admin_ = kube::testing::adminClient();
  EXPECT_EQ(weights(*admin_, ns.name()), (std::map<std::string, int>{{"v2", 1000}}));
  EXPECT_TRUE(pollUntil(
      [&] { return !exists(*admin_, kube::Resource::deployments(), ns.name(), "web-v1"); },
      deadlineIn(60s)));
  // After the restart the runtime's view follows the cluster: v1's pods go from it as they go
  // from the cluster, v2's stay.
  std::string last;
  EXPECT_TRUE(pollUntil(
      [&] {
        auto env = server_->getJson("/api/v1/environments/prod");
        if (!env.is_object()) return false;
        const auto& instances = env.at("services").as_array()[0].at("instances").as_array();
        last = json::serialize(instances);
        if (instances.size() != 2) return false;
        for (const auto& i : instances) {
          if (i.at("version").as_string() != "v2" || i.at("state").as_string() != "Ready") return false;
        }
        return true;
      },
      deadlineIn(60s)))
      << last;
}

}  // namespace
}  // namespace runway::test::kubernetes
