// kubectl's rollout-status rules against Deployments the real controllers drive.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cluster.hpp"
#include "runway/kube/rollout.hpp"
#include "support/poll.hpp"

namespace runway::kube {
namespace {

namespace json = boost::json;

// `node_selector` "" = any node (the kwok node); otherwise one no node has, so pods stay
// Pending and the rollout cannot progress.
json::object rolloutDeployment(const std::string& name, const std::string& node_selector, int deadline) {
  const json::object labels{{"app.kubernetes.io/name", name}};
  json::object pod_spec{{"containers", json::array{json::object{{"name", "app"}, {"image", "registry.example/app:v1"}}}}};
  if (!node_selector.empty()) pod_spec["nodeSelector"] = json::object{{"runway.dev/test", node_selector}};
  return json::object{{"apiVersion", "apps/v1"},
                      {"kind", "Deployment"},
                      {"metadata", json::object{{"name", name}}},
                      {"spec", json::object{{"replicas", 2},
                                            {"progressDeadlineSeconds", deadline},
                                            {"selector", json::object{{"matchLabels", labels}}},
                                            {"template", json::object{{"metadata", json::object{{"labels", labels}}},
                                                                      {"spec", pod_spec}}}}}};
}

RolloutStatus::State waitForEnd(Client& kube, const std::string& ns, const std::string& name,
                                RolloutStatus& last) {
  test::pollUntil(
      [&] {
        auto d = kube.get(Resource::deployments(), ns, name);
        if (!d) return false;
        last = deploymentRolloutStatus(*d);
        return last.state != RolloutStatus::State::Progressing;
      },
      test::deadlineIn(std::chrono::seconds(60)), std::chrono::milliseconds(200));
  return last.state;
}

TEST(KubeRolloutTest, CompleteWhenPodsAreReadyFailedAtTheProgressDeadline) {
  testing::TestNamespace ns("rollout");
  auto kube = testing::adminClient();
  ASSERT_TRUE(kube->create(Resource::deployments(), ns.name(), rolloutDeployment("good", "", 600)));
  ASSERT_TRUE(kube->create(Resource::deployments(), ns.name(), rolloutDeployment("stuck", "nowhere", 2)));

  RolloutStatus good;
  EXPECT_EQ(waitForEnd(*kube, ns.name(), "good", good), RolloutStatus::State::Complete) << good.message;
  EXPECT_EQ(good.message, R"(deployment "good" successfully rolled out)");

  RolloutStatus stuck;
  EXPECT_EQ(waitForEnd(*kube, ns.name(), "stuck", stuck), RolloutStatus::State::Failed) << stuck.message;
  EXPECT_EQ(stuck.message, R"(deployment "stuck" exceeded its progress deadline)");
}

}  // namespace
}  // namespace runway::kube
