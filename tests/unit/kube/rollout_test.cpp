#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "runway/kube/rollout.hpp"

namespace runway::kube {
namespace {

Object parse(std::string_view text) { return boost::json::parse(text).as_object(); }

using State = RolloutStatus::State;

struct Case {
  const char* deployment;
  State state;
  const char* message;
};

TEST(RolloutStatusTest, KubectlRules) {
  const Case cases[] = {
      {R"({"metadata":{"name":"api","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":1,"replicas":3,"updatedReplicas":3,"availableReplicas":3}})",
       State::Progressing, "Waiting for deployment spec update to be observed..."},
      {R"({"metadata":{"name":"api","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"replicas":3,"updatedReplicas":1,
                     "conditions":[{"type":"Available","status":"False"},
                                   {"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]}})",
       State::Failed, R"(deployment "api" exceeded its progress deadline)"},
      {R"({"metadata":{"name":"api","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"replicas":4,"updatedReplicas":1,"availableReplicas":3}})",
       State::Progressing,
       R"(Waiting for deployment "api" rollout to finish: 1 out of 3 new replicas have been updated...)"},
      {R"({"metadata":{"name":"api","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"replicas":4,"updatedReplicas":3,"availableReplicas":3}})",
       State::Progressing,
       R"(Waiting for deployment "api" rollout to finish: 1 old replicas are pending termination...)"},
      {R"({"metadata":{"name":"api","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":2}})",
       State::Progressing,
       R"(Waiting for deployment "api" rollout to finish: 2 of 3 updated replicas are available...)"},
      {R"({"metadata":{"name":"api","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":3,
                     "conditions":[{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}})",
       State::Complete, R"(deployment "api" successfully rolled out)"},
      // Scaled to zero: nothing to wait for (the API omits zero counts).
      {R"({"metadata":{"name":"api","generation":5},"spec":{"replicas":0},
           "status":{"observedGeneration":5}})",
       State::Complete, R"(deployment "api" successfully rolled out)"},
      // A new object with no status yet.
      {R"({"metadata":{"name":"api","generation":1},"spec":{"replicas":2}})", State::Progressing,
       "Waiting for deployment spec update to be observed..."},
  };
  for (const auto& c : cases) {
    const auto status = deploymentRolloutStatus(parse(c.deployment));
    EXPECT_EQ(status.state, c.state) << c.deployment;
    EXPECT_EQ(status.message, c.message) << c.deployment;
  }
}

}  // namespace
}  // namespace runway::kube
