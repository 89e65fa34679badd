// Acceptance (issue 16) through the real `runway serve` against real control planes on
// loopback (the ctest fixtures' two clusters): a canary moves the HTTPRoute's weights 10 -> 50
// -> 100 and retires the old Deployment; a blue-green switches the stable Service's selector in
// one step; a version whose pods never get Ready hits its Deployment's progress deadline and is
// rolled back; runway killed with SIGKILL mid-canary re-adopts on restart and finishes; two
// environments on two clusters deploy independently. Each test runs in namespaces of its own.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "serve_support.hpp"

namespace runway::test::kubernetes {
namespace {

using namespace std::chrono_literals;

TEST_F(KubernetesServeTest, CanaryMovesTheRouteWeightsAndRetiresTheOldDeployment) {
  TestNamespace ns("canary");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "public", kCanary));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  EXPECT_EQ(weights(*admin_, ns.name()), (std::map<std::string, int>{{"v1", 1000}}));

  const auto id = server_->deploy("prod", "v2");
  ASSERT_FALSE(id.empty());
  std::string phase;
  const auto seen = watchUntilTerminal<std::map<std::string, int>>(
      id, [&] { return weights(*admin_, ns.name()); }, phase);
  ASSERT_EQ(phase, "Succeeded");
  // The route went 10 -> 50 -> 100 (per mille in the route: 100, 500, 1000), in that order.
  const std::vector<std::map<std::string, int>> steps{
      {{"v1", 900}, {"v2", 100}}, {{"v1", 500}, {"v2", 500}}, {{"v2", 1000}}};
  std::size_t next = 0;
  for (const auto& w : seen) {
    if (next < steps.size() && w == steps[next]) ++next;
  }
  EXPECT_EQ(next, steps.size()) << "weights seen: " << seen.size();
  EXPECT_EQ(selected(*admin_, ns.name()), "v2");
  // The old version's Deployment and Service go once the scale-down delay has passed.
  EXPECT_TRUE(pollUntil(
      [&] {
        return !exists(*admin_, kube::Resource::deployments(), ns.name(), "web-v1") &&
               !exists(*admin_, kube::Resource::services(), ns.name(), "web-v1");
      },
      deadlineIn(60s)));
  // The API shows the pods like local instances: v2's two, once the garbage collector has
  // removed the pods of v1's deleted Deployment (until then they are shown too, as they run).
  json::value env;
  EXPECT_TRUE(pollUntil(
      [&] {
        env = server_->getJson("/api/v1/environments/prod");
        return env.is_object() &&
               env.at("services").as_array()[0].at("instances").as_array().size() == 2;
      },
      deadlineIn(60s)))
      << json::serialize(env);
  ASSERT_TRUE(env.is_object());
  const auto& svc = env.at("services").as_array()[0].as_object();
  EXPECT_EQ(std::string(svc.at("address").as_string()), "web." + ns.name() + ".svc:8080");
  const auto& instances = svc.at("instances").as_array();
  ASSERT_EQ(instances.size(), 2u);
  for (const auto& i : instances) {
    EXPECT_EQ(i.at("version").as_string(), "v2");
    EXPECT_EQ(i.at("state").as_string(), "Ready");
    EXPECT_FALSE(i.at("node").as_string().empty());
  }
  // The image names the version (${ARTIFACT} is the version without artifacts).
  auto d = admin_->get(kube::Resource::deployments(), ns.name(), "web-v2");
  ASSERT_TRUE(d);
  const auto& container =
      d->at("spec").at("template").at("spec").at("containers").as_array()[0].as_object();
  EXPECT_EQ(container.at("image").as_string(), "registry.example/web:v2");
  // The runway deployment that started the version is named on it.
  EXPECT_EQ(d->at("metadata").at("annotations").at(kube::kDeploymentAnnotation).as_string(), id);

  // `runway scale` and `runway status` on Kubernetes instances.
  const auto scaled = cli({"scale", "prod", "web", "3"});
  EXPECT_EQ(scaled.code, 0) << scaled.out << scaled.err;
  EXPECT_TRUE(pollUntil(
      [&] {
        auto v2 = admin_->get(kube::Resource::deployments(), ns.name(), "web-v2");
        return v2 && v2->at("spec").at("replicas").as_int64() == 3 &&
               v2->at("status").as_object().contains("readyReplicas") &&
               v2->at("status").at("readyReplicas").as_int64() == 3;
      },
      deadlineIn(60s)));
  EXPECT_TRUE(pollUntil([&] { return cli({"status", "prod"}).out.find("v2#2 Ready") != std::string::npos; },
                        deadlineIn(30s)));
  const auto status = cli({"status", "prod"});
  EXPECT_NE(status.out.find("node kwok-node-0"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("web." + ns.name() + ".svc:8080"), std::string::npos) << status.out;
}

// Issue 20 on Kubernetes: an Environment's header routes become HTTPRoute rules matching the
// header (exactly or by regular expression) ahead of the weighted rule, accepted by the real
// kube-apiserver's Gateway API schema, while a canary runs; they end with the promotion.
TEST_F(KubernetesServeTest, HeaderRoutesBecomeHttpRouteMatchesWhileACanaryRuns) {
  TestNamespace ns("routes");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "public", R"(  strategy: canary
  canary:
    steps:
      - setWeight: 10
      - pause: {}
      - setWeight: 100
    scaleDownDelay: 1s
  traffic:
    routes:
      - {header: X-Canary, value: always}
      - {header: X-Beta, match: regex, value: "yes|true"})"));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  const auto id = server_->deploy("prod", "v2");
  ASSERT_FALSE(id.empty());
  json::value rules;
  ASSERT_TRUE(pollUntil(
      [&] {
        auto route = admin_->get(kube::Resource::httpRoutes(), ns.name(), "web");
        if (!route) return false;
        rules = route->at("spec").at("rules");
        return rules.as_array().size() == 3;
      },
      deadlineIn(60s)))
      << json::serialize(rules) << "\n" << serveLog();
  const auto headerRule = [&](std::size_t i) {
    const auto& rule = rules.as_array()[i].as_object();
    const auto& header = rule.at("matches").as_array()[0].at("headers").as_array()[0].as_object();
    const auto& backend = rule.at("backendRefs").as_array()[0].as_object();
    return fmt::format("{} {} {} -> {}", header.at("type").as_string(), header.at("name").as_string(),
                       header.at("value").as_string(), backend.at("name").as_string());
  };
  EXPECT_EQ(headerRule(0), "Exact X-Canary always -> web-v2");
  EXPECT_EQ(headerRule(1), "RegularExpression X-Beta yes|true -> web-v2");
  EXPECT_EQ(weights(*admin_, ns.name()), (std::map<std::string, int>{{"v1", 900}, {"v2", 100}}));

  const auto promoted = cli({"promote", "prod"});
  ASSERT_EQ(promoted.code, 0) << promoted.out << promoted.err;
  EXPECT_EQ(server_->waitTerminal(id, std::chrono::seconds(120)), "Succeeded");
  auto route = admin_->get(kube::Resource::httpRoutes(), ns.name(), "web");
  ASSERT_TRUE(route) << route.error().message;
  EXPECT_EQ(route->at("spec").at("rules").as_array().size(), 1u) << json::serialize(*route);
  EXPECT_EQ(weights(*admin_, ns.name()), (std::map<std::string, int>{{"v2", 1000}}));
}

TEST_F(KubernetesServeTest, BlueGreenSwitchesTheServiceSelectorInOneStep) {
  TestNamespace ns("bluegreen");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "", kBlueGreen));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  ASSERT_EQ(selected(*admin_, ns.name()), "v1");

  const auto id = server_->deploy("prod", "v2");
  ASSERT_FALSE(id.empty());
  std::string phase;
  bool preview_before_switch = false;
  const auto seen = watchUntilTerminal<std::string>(
      id,
      [&] {
        auto s = selected(*admin_, ns.name());
        if (s == "v1" && exists(*admin_, kube::Resource::services(), ns.name(), "web-v2")) {
          preview_before_switch = true;  // the new colour's own Service, before the switch
        }
        return s;
      },
      phase);
  ASSERT_EQ(phase, "Succeeded");
  // v1 straight to v2: never a selector that picks both colours.
  EXPECT_EQ(seen, (std::vector<std::string>{"v1", "v2"}));
  EXPECT_TRUE(preview_before_switch);
  EXPECT_TRUE(pollUntil(
      [&] { return !exists(*admin_, kube::Resource::deployments(), ns.name(), "web-v1"); },
      deadlineIn(60s)));
}

TEST_F(KubernetesServeTest, AVersionThatNeverGetsReadyHitsTheProgressDeadlineAndIsRolledBack) {
  TestNamespace ns("deadline");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "public", kCanary));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");

  const auto id = server_->deploy("prod", kBadVersion);
  ASSERT_FALSE(id.empty());
  // The Deployment says ProgressDeadlineExceeded after 12 s; runway rolls back on it, long
  // before its own one-minute deadline.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(server_->waitTerminal(id, 120s), "RolledBack");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 50s);
  auto bad = admin_->get(kube::Resource::deployments(), ns.name(), "web-v3");
  // Its rollout failed; unless runway has retired it already, or has scaled it down and the
  // Deployment controller has not yet observed that change (the status then says nothing yet).
  auto observed = [](const kube::Object& d) {
    const auto* generation = d.at("metadata").as_object().if_contains("generation");
    const auto* status = d.if_contains("status");
    const auto* seen = status != nullptr && status->is_object() ? status->as_object().if_contains("observedGeneration")
                                                                : nullptr;
    return generation != nullptr && seen != nullptr && *generation == *seen;
  };
  if (bad && observed(*bad)) {
    EXPECT_EQ(kube::deploymentRolloutStatus(*bad).state, kube::RolloutStatus::State::Failed);
  }
  EXPECT_EQ(weights(*admin_, ns.name()), (std::map<std::string, int>{{"v1", 1000}}));
  EXPECT_EQ(selected(*admin_, ns.name()), "v1");
  EXPECT_TRUE(pollUntil(
      [&] { return !exists(*admin_, kube::Resource::deployments(), ns.name(), "web-v3"); },
      deadlineIn(60s)));
  auto events = server_->getJson("/api/v1/deployments/" + id);
  EXPECT_NE(json::serialize(events).find("instances.failed"), std::string::npos)
      << json::serialize(events);
}

TEST_F(KubernetesServeTest, KilledMidCanaryItReadoptsOnRestartAndFinishes) {
  TestNamespace ns("readopt");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "public", kCanary));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  const auto id = server_->deploy("prod", "v2");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(pollUntil([&] { return weights(*admin_, ns.name()).count("v2") != 0; },
                        deadlineIn(60s), 20ms));
  server_->kill9();
  // Nothing runs in runway now; the cluster keeps serving the split it had.
  EXPECT_EQ(weights(*admin_, ns.name()).at("v2"), 100);

  auto restarted = server_->start();
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_EQ(server_->waitTerminal(id, 120s), "Succeeded");
  EXPECT_EQ(weights(*admin_, ns.name()), (std::map<std::string, int>{{"v2", 1000}}));
  EXPECT_TRUE(pollUntil(
      [&] { return !exists(*admin_, kube::Resource::deployments(), ns.name(), "web-v1"); },
      deadlineIn(60s)));
  // The re-adopted v2 was not started again: its Deployment kept its first generation's pods.
  auto d = admin_->get(kube::Resource::deployments(), ns.name(), "web-v2");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->at("metadata").at("generation").as_int64(), 1);
}

// An EKS-style kubeconfig: the user is an exec plugin whose ExecCredential expires after two
// seconds, for a service account holding only the documented Role. A canary of several seconds
// runs through it: the plugin is run again as each token expires, and nothing needs more than
// the Role.
TEST_F(KubernetesServeTest, AnExecPluginCredentialIsRefreshedWhenItExpires) {
  TestNamespace ns("exec");
  auto token = kube::testing::serviceAccountWithDocumentedRole(*admin_, ns.name());
  ASSERT_TRUE(token) << token.error().message;
  const auto token_file = dir_ / "sa.token";
  const auto count_file = dir_ / "plugin.count";
  std::ofstream(token_file) << *token;
  const auto plugin = dir_ / "get-token.sh";
  std::ofstream(plugin) << fmt::format(R"sh(#!/bin/sh
set -eu
n=$(( $(cat '{0}' 2>/dev/null || echo 0) + 1 ))
echo "$n" > '{0}'
printf '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"%s","expirationTimestamp":"%s"}}}}\n' \
  "$(cat '{1}')" "$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)"
)sh",
                                      count_file.string(), token_file.string());
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  const auto& admin = kube::testing::cluster().admin;
  const auto kubeconfig = dir_ / "exec.kubeconfig";
  std::ofstream(kubeconfig) << fmt::format(R"(apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: {}
    certificate-authority: {}
users:
- name: runway
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {}
      interactiveMode: Never
contexts:
- name: exec
  context: {{cluster: c, user: runway}}
current-context: exec
)",
                                           admin.server, (kube::testing::cluster().dir / "pki" / "ca.crt").string(),
                                           plugin.string());
  const auto began = std::chrono::steady_clock::now();
  start(application() + environment("prod", kubeconfig, ns.name(), "public", kCanary));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  ASSERT_EQ(deployAndWait("prod", "v2"), "Succeeded");  // about six seconds of canary
  EXPECT_EQ(weights(*admin_, ns.name()), (std::map<std::string, int>{{"v2", 1000}}));
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - began).count();
  int runs = 0;
  std::ifstream(count_file) >> runs;
  // Run again once the credential expired (the first run's lasts at most 2 s; the deployments
  // take longer), and cached until then: not once per request (a canary makes hundreds), at most
  // about once a second, since the expiry is given to the second.
  EXPECT_GE(runs, 2) << "the plugin ran " << runs << " time(s) in " << seconds << " s";
  EXPECT_LE(runs, seconds + 2) << "the plugin ran " << runs << " time(s) in " << seconds << " s";
}

// Pre-flight of a Kubernetes environment asks the cluster what runway's identity may do: with a
// Role that lacks one verb, the deployment stops in pre-flight, naming that verb, before
// anything is created.
TEST_F(KubernetesServeTest, PreflightStopsADeploymentTheRoleDoesNotAllow) {
  TestNamespace ns("preflight");
  auto token = kube::testing::serviceAccountWithDocumentedRole(*admin_, ns.name());
  ASSERT_TRUE(token) << token.error().message;
  auto role = kube::testing::documentedRole(ns.name());
  for (auto& rule : role["rules"].as_array()) {
    auto& r = rule.as_object();
    if (r["resources"].as_array()[0].as_string() != "services") continue;
    auto& verbs = r["verbs"].as_array();
    verbs.erase(std::find(verbs.begin(), verbs.end(), json::value("patch")));
  }
  ASSERT_TRUE(admin_->apply(kube::Resource::roles(), ns.name(), "runway", role));
  const auto kubeconfig = dir_ / "token.kubeconfig";
  std::ofstream(kubeconfig) << fmt::format(R"(apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: {}, certificate-authority: {}}}
users:
- name: runway
  user: {{token: {}}}
contexts:
- name: t
  context: {{cluster: c, user: runway}}
current-context: t
)",
                                           kube::testing::cluster().admin.server,
                                           (kube::testing::cluster().dir / "pki" / "ca.crt").string(),
                                           *token);
  start(application() + environment("prod", kubeconfig, ns.name(), "public", kCanary) +
        "  preflight: {beforeDeploy: basic}\n");
  const auto id = server_->deploy("prod", "v1");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(server_->waitTerminal(id, 60s), "Failed");
  const auto deployment = json::serialize(server_->getJson("/api/v1/deployments/" + id));
  EXPECT_NE(deployment.find("may not patch services in namespace " + ns.name()), std::string::npos)
      << deployment;
  EXPECT_FALSE(exists(*admin_, kube::Resource::deployments(), ns.name(), "web-v1"));
}

TEST_F(KubernetesServeTest, TwoEnvironmentsOnTwoClustersDeployIndependently) {
  const auto second = secondCluster();
  ASSERT_FALSE(second.server.empty());
  ASSERT_NE(second.server, kube::testing::cluster().admin.server);
  auto admin2 = kube::makeClient(second);
  TestNamespace staging_ns("staging");
  // The second cluster's namespace: made here (TestNamespace works on the first cluster only).
  const std::string production_ns = "rw-production-" + staging_ns.name().substr(11);
  ASSERT_TRUE(admin2->create(kube::Resource::namespaces(), "",
                             json::object{{"apiVersion", "v1"},
                                          {"kind", "Namespace"},
                                          {"metadata", json::object{{"name", production_ns}}}}));
  start(application() +
        environment("staging", kubeconfigPath(), staging_ns.name(), "public", kCanary) +
        environment("production", kubeconfigPath(true), production_ns, "", kBlueGreen));

  ASSERT_EQ(deployAndWait("staging", "v1"), "Succeeded");
  ASSERT_EQ(deployAndWait("production", "v1"), "Succeeded");
  ASSERT_EQ(deployAndWait("staging", "v2"), "Succeeded");
  // Staging moved on; production (another cluster) still runs v1 only.
  EXPECT_EQ(weights(*admin_, staging_ns.name()), (std::map<std::string, int>{{"v2", 1000}}));
  EXPECT_EQ(selected(*admin2, production_ns), "v1");
  EXPECT_TRUE(exists(*admin2, kube::Resource::deployments(), production_ns, "web-v1"));
  EXPECT_FALSE(exists(*admin2, kube::Resource::deployments(), production_ns, "web-v2"));
  // Each cluster holds only its own environment's objects.
  EXPECT_FALSE(exists(*admin_, kube::Resource::services(), production_ns, "web"));
  EXPECT_FALSE(exists(*admin2, kube::Resource::deployments(), staging_ns.name(), "web-v2"));
  auto pods = admin2->list(kube::Resource::pods(), production_ns);
  ASSERT_TRUE(pods);
  for (const auto& pod : pods->items) {
    EXPECT_EQ(pod.at("metadata").at("labels").at(kube::kEnvironmentLabel).as_string(),
              "production");
  }
  (void)admin2->remove(kube::Resource::namespaces(), "", production_ns);
}

}  // namespace
}  // namespace runway::test::kubernetes
