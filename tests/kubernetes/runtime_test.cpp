// The kubernetes runtime against the real API server, as a service account holding only the
// documented Role (examples/kubernetes/rbac/runway-role.yaml): pre-flight finds nothing missing, a whole
// canary's worth of runtime calls succeeds, and with one verb taken out of the Role pre-flight
// names exactly that verb.

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cluster.hpp"
#include "runway/config/loader.hpp"
#include "runway/kube/workload.hpp"
#include "runway/runtime/kubernetes_runtime.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"

namespace runway::kube::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::deadlineIn;
using test::pollUntil;

config::Config configFor(const std::string& ns) {
  auto loaded = config::loadConfigText(fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: web
      kubernetes: {{image: registry.example/web, port: 8080, replicas: 2}}
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: prod}}
spec:
  runtime:
    kubernetes: {{namespace: {}, gateway: {{name: public}}}}
)",
                                                   ns),
                                       "rbac.yaml");
  EXPECT_TRUE(loaded.ok());
  return *loaded.config;
}

class KubernetesRuntimeRbacTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = adminClient();
    auto token = serviceAccountWithDocumentedRole(*admin_, ns_.name());
    ASSERT_TRUE(token) << token.error().message;
    Connection as_runway = cluster().admin;
    as_runway.client_certificate_pem.clear();
    as_runway.client_key_pem.clear();
    as_runway.token = *token;
    // RBAC changes reach the authorizer through its informers. The runtime's watches start when
    // it opens, and one refused then retries only after its back-off, by when the pods it would
    // have reported on have come and gone: open it once the service account may list pods.
    auto probe = makeClient(as_runway);
    Result<ObjectList> pods = fail(ErrorCode::Internal, "not tried");
    ASSERT_TRUE(pollUntil(
        [&] {
          pods = probe->list(Resource::pods(), ns_.name());
          return pods.has_value();
        },
        deadlineIn(30s)))
        << pods.error().message;
    config_ = configFor(ns_.name());
    runtime::KubernetesRuntimeOptions options;
    options.connect = [as_runway](const config::Environment&)
        -> Result<std::shared_ptr<Client>> { return std::shared_ptr<Client>(makeClient(as_runway)); };
    auto opened = runtime::KubernetesRuntime::open(config_, std::move(options));
    ASSERT_TRUE(opened) << opened.error().message;
    runtime_ = std::move(*opened);
  }

  int ready(const std::string& version) {
    auto list = runtime_->instances("prod", "web");
    if (!list) return -1;
    int n = 0;
    for (const auto& i : *list) {
      if (i.version == version && i.state == runtime::InstanceState::Ready) ++n;
    }
    return n;
  }

  TestNamespace ns_{"rbac"};
  std::unique_ptr<Client> admin_;
  config::Config config_;
  Recorder events_;  // before runtime_: its watches report into it until runtime_ is gone
  std::unique_ptr<runtime::KubernetesRuntime> runtime_;
};

TEST_F(KubernetesRuntimeRbacTest, TheDocumentedRoleIsEnoughForAWholeCanary) {
  // RBAC changes reach the authorizer through its informers: poll.
  Result<runtime::KubernetesPreflight> pre = fail(ErrorCode::Internal, "not run");
  ASSERT_TRUE(pollUntil(
      [&] {
        pre = runtime_->preflight("prod");
        return pre && pre->problems.empty();
      },
      deadlineIn(30s)))
      << (pre ? fmt::format("{}", fmt::join(pre->problems, "; ")) : pre.error().message);
  EXPECT_EQ(pre->permissions.size(), runtime::kubernetesRequiredPermissions(true).size());
  // The Role may not read the Gateway (another namespace's object, often): said, not a problem.
  EXPECT_EQ(pre->unchecked,
            (std::vector<std::string>{fmt::format(
                "may not read Gateways in namespace {}: whether Gateway public exists is not checked",
                ns_.name())}));

  auto& events = events_;
  runtime_->setEventHandler([&events](const runtime::RuntimeEvent& e) {
    events.add(fmt::format("{} {}", runtime::toString(e.kind), e.version));
  });
  const auto& env = config_.environments.at(0);
  const auto& web = config_.applications.at(0).services.at(0);
  ASSERT_TRUE(runtime_->startVersion(env, web, "v1", 2));
  ASSERT_TRUE(pollUntil([&] { return ready("v1") == 2; }, deadlineIn(60s)));
  ASSERT_TRUE(runtime_->setTraffic("prod", "web", {{{"v1", 1000}}, {}, ""}));
  ASSERT_TRUE(runtime_->startVersion(env, web, "v2", 2));
  ASSERT_TRUE(pollUntil([&] { return ready("v2") == 2; }, deadlineIn(60s)));
  ASSERT_TRUE(runtime_->setTraffic("prod", "web", {{{"v1", 900}, {"v2", 100}}, {}, ""}));
  // v1 still takes traffic: retiring it is refused.
  EXPECT_EQ(runtime_->retireVersion("prod", "web", "v1", 1s).error().code,
            ErrorCode::FailedPrecondition);
  ASSERT_TRUE(runtime_->setTraffic("prod", "web", {{{"v2", 1000}}, {}, ""}));
  auto split = runtime_->traffic("prod", "web");
  ASSERT_TRUE(split) << split.error().message;
  EXPECT_EQ(split->weights, (std::map<std::string, int>{{"v2", 1000}}));
  // An HPA on v2's Deployment: scaling moves its bounds too, or it would scale back.
  ASSERT_TRUE(admin_->create(
      Resource::horizontalPodAutoscalers(), ns_.name(),
      json::object{{"apiVersion", "autoscaling/v2"},
                   {"kind", "HorizontalPodAutoscaler"},
                   {"metadata", json::object{{"name", "web-v2"}}},
                   {"spec", json::object{{"scaleTargetRef", json::object{{"apiVersion", "apps/v1"},
                                                                         {"kind", "Deployment"},
                                                                         {"name", "web-v2"}}},
                                         {"minReplicas", 1},
                                         {"maxReplicas", 2}}}}));
  ASSERT_TRUE(runtime_->scale("prod", "web", "v2", 3));
  auto hpa = admin_->get(Resource::horizontalPodAutoscalers(), ns_.name(), "web-v2");
  ASSERT_TRUE(hpa);
  EXPECT_EQ(hpa->at("spec").at("minReplicas").as_int64(), 3);
  EXPECT_EQ(hpa->at("spec").at("maxReplicas").as_int64(), 3);
  // The HPA controller works from its informers' copy of the HPA: until that copy has the new
  // bounds it may scale back once, and then follows them. What must hold is where it settles.
  Result<runtime::VersionStatus> status = fail(ErrorCode::Internal, "not read");
  EXPECT_TRUE(pollUntil(
      [&] {
        status = runtime_->versionStatus("prod", "web", "v2");
        return ready("v2") == 3 && status && status->desired == 3;
      },
      deadlineIn(90s)))
      << (status ? fmt::format("desired {}", status->desired) : status.error().message);
  ASSERT_TRUE(runtime_->retainOnly("prod", {{"web", "v2"}}, 1s));  // retires v1
  EXPECT_TRUE(pollUntil([&] { return ready("v1") == 0 && !runtime_->versionStatus("prod", "web", "v1"); },
                        deadlineIn(60s)));
  EXPECT_EQ(runtime_->statistics("prod", "web", 1s).error().code, ErrorCode::Unavailable);
  // What the watches reported on the way.
  EXPECT_TRUE(pollUntil(
      [&] { return events.contains("VersionRetired v1") && events.contains("InstanceStopped v1"); },
      deadlineIn(30s)));
  for (const auto* expected : {"InstanceStarted v1", "InstanceReady v1", "VersionReady v1",
                               "VersionReady v2"}) {
    EXPECT_TRUE(events.contains(expected)) << expected;
  }
  ASSERT_TRUE(runtime_->stopAll(1s));
  EXPECT_FALSE(admin_->get(Resource::deployments(), ns_.name(), "web-v2"));
  EXPECT_FALSE(admin_->get(Resource::httpRoutes(), ns_.name(), "web"));
}

TEST_F(KubernetesRuntimeRbacTest, PreflightNamesTheOneMissingVerb) {
  auto role = documentedRole(ns_.name());
  for (auto& rule : role["rules"].as_array()) {
    auto& r = rule.as_object();
    if (r["resources"].as_array()[0].as_string() != "deployments") continue;
    auto& verbs = r["verbs"].as_array();
    verbs.erase(std::find(verbs.begin(), verbs.end(), json::value("delete")));
  }
  ASSERT_TRUE(admin_->apply(Resource::roles(), ns_.name(), "runway", role));
  Result<runtime::KubernetesPreflight> pre = fail(ErrorCode::Internal, "not run");
  const std::vector<std::string> expected{
      fmt::format("may not delete deployments.apps in namespace {}", ns_.name())};
  EXPECT_TRUE(pollUntil(
      [&] {
        pre = runtime_->preflight("prod");
        return pre && pre->problems == expected;
      },
      deadlineIn(30s)))
      << (pre ? fmt::format("{}", fmt::join(pre->problems, "; ")) : pre.error().message);
}

TEST(KubernetesRuntimeTest, AMissingNamespaceIsAPreflightProblem) {
  auto config = configFor("rw-does-not-exist");
  runtime::KubernetesRuntimeOptions options;
  options.connect = [](const config::Environment&) -> Result<std::shared_ptr<Client>> {
    return std::shared_ptr<Client>(adminClient());
  };
  auto opened = runtime::KubernetesRuntime::open(config, std::move(options));
  ASSERT_TRUE(opened) << opened.error().message;
  auto pre = (*opened)->preflight("prod");
  ASSERT_TRUE(pre) << pre.error().message;
  EXPECT_FALSE(pre->namespace_exists);
  EXPECT_EQ(pre->problems,
            (std::vector<std::string>{"namespace rw-does-not-exist does not exist"}));
  EXPECT_EQ((*opened)->preflight("staging").error().code, ErrorCode::InvalidArgument);
}

// Pre-flight with the application: the image pull secrets its pod templates name, what its
// pods request against the Ready nodes' allocatable capacity (kwok's node: 32 CPU, 256Gi), and
// the Gateway its HTTPRoutes attach to. Each missing piece is a problem naming it; once they are
// there, none is left.
TEST(KubernetesPreflightTest, PullSecretsCapacityAndTheGatewayAreChecked) {
  TestNamespace ns("capacity");
  const auto configWith = [&](int web_cpu, bool big) {
    auto loaded = config::loadConfigText(
        fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: web
      kubernetes:
        image: registry.example/web
        replicas: 2
        resources: {{cpu: "{}", memory: 1Gi}}
        podTemplatePatch: {{spec: {{imagePullSecrets: [{{name: regcred}}]}}}}
{}---
apiVersion: runway/v1
kind: Environment
metadata: {{name: prod}}
spec:
  runtime:
    kubernetes: {{namespace: {}, gateway: {{name: public}}}}
)",
                    web_cpu,
                    big ? "    - name: big\n      kubernetes: {image: registry.example/big, resources: "
                          "{cpu: \"40\"}}\n"
                        : "",
                    ns.name()),
        "capacity.yaml");
    EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].format());
    return *loaded.config;
  };
  const auto config = configWith(20, true);
  runtime::KubernetesRuntimeOptions options;
  options.connect = [](const config::Environment&) -> Result<std::shared_ptr<Client>> {
    return std::shared_ptr<Client>(adminClient());
  };
  auto opened = runtime::KubernetesRuntime::open(config, options);
  ASSERT_TRUE(opened) << opened.error().message;
  auto pre = (*opened)->preflight("prod", &config.applications.at(0));
  ASSERT_TRUE(pre) << pre.error().message;
  const auto problems = fmt::format("{}", fmt::join(pre->problems, "\n"));
  for (const auto& expected : {
           fmt::format("Gateway public does not exist in namespace {}: the HTTPRoutes would attach "
                       "to nothing",
                       ns.name()),
           fmt::format("image pull secret regcred (in the pod template of web) does not exist in "
                       "namespace {}",
                       ns.name()),
           std::string("a pod of big requests 40 CPU, more than any Ready node has allocatable"),
           std::string("the services request 80 CPU (web 2 x 20, big 1 x 40), more than the")}) {
    EXPECT_NE(problems.find(expected), std::string::npos) << expected << "\nin:\n" << problems;
  }
  EXPECT_EQ(pre->problems.size(), 4u) << problems;
  EXPECT_TRUE(pre->unchecked.empty());

  // The secret and the Gateway made, and requests that fit: nothing left.
  auto admin = adminClient();
  ASSERT_TRUE(admin->create(Resource::secrets(), ns.name(),
                            json::object{{"apiVersion", "v1"},
                                         {"kind", "Secret"},
                                         {"metadata", json::object{{"name", "regcred"}}},
                                         {"stringData", json::object{{"a", "b"}}}}));
  ASSERT_TRUE(admin->create(
      Resource::gateways(), ns.name(),
      json::object{{"apiVersion", "gateway.networking.k8s.io/v1"},
                   {"kind", "Gateway"},
                   {"metadata", json::object{{"name", "public"}}},
                   {"spec", json::object{{"gatewayClassName", "example"},
                                         {"listeners", json::array{json::object{
                                                           {"name", "http"},
                                                           {"port", 80},
                                                           {"protocol", "HTTP"}}}}}}}));
  const auto fits = configWith(10, false);
  pre = (*opened)->preflight("prod", &fits.applications.at(0));
  ASSERT_TRUE(pre) << pre.error().message;
  EXPECT_TRUE(pre->problems.empty()) << fmt::format("{}", fmt::join(pre->problems, "; "));
}

// An API server that cannot be reached is an error of pre-flight, not a pass.
TEST(KubernetesPreflightTest, AnUnreachableApiServerIsAnError) {
  auto config = configFor("rw-unreachable");
  auto port = test::freeLoopbackPort();
  ASSERT_TRUE(port) << port.error().message;
  Connection unreachable = cluster().admin;
  unreachable.server = fmt::format("https://127.0.0.1:{}", *port);
  runtime::KubernetesRuntimeOptions options;
  options.connect = [unreachable](const config::Environment&) -> Result<std::shared_ptr<Client>> {
    ClientOptions fast;
    fast.max_attempts = 2;
    return std::shared_ptr<Client>(makeClient(unreachable, fast));
  };
  auto opened = runtime::KubernetesRuntime::open(config, std::move(options));
  ASSERT_TRUE(opened) << opened.error().message;
  auto pre = (*opened)->preflight("prod", &config.applications.at(0));
  ASSERT_FALSE(pre);
  EXPECT_EQ(pre.error().code, ErrorCode::Unavailable);
  EXPECT_NE(pre.error().message.find(unreachable.server), std::string::npos) << pre.error().message;
}

}  // namespace
}  // namespace runway::kube::testing
