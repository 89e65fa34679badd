#pragma once

// What the `runway serve` tests on Kubernetes share: the application and environment
// documents, and a fixture with the cluster's admin client, a server in a temp dir and the CLI.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cluster.hpp"
#include "integration/serve/serve_fixture.hpp"
#include "runway/kube/rollout.hpp"
#include "runway/kube/workload.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test::kubernetes {


namespace json = boost::json;
using kube::testing::TestNamespace;

// The pods of a version named in `runway.test/refuses` on the node cannot be scheduled, so they
// never get Ready (kwok makes every scheduled pod Ready): how a test makes a bad version.
inline constexpr const char* kRefusedLabel = "runway.test/refuses";
inline constexpr const char* kBadVersion = "v3";

inline std::string application() {
  return R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      kubernetes:
        image: registry.example/web:${ARTIFACT}
        port: 8080
        replicas: 2
        # Long enough for a good version's pods on a loaded machine (at 3 s a good canary was
        # once rolled back in CI), short enough for the bad version's test.
        progressDeadlineSeconds: 12
        env: {MODE: "${ENVIRONMENT}"}
        podTemplatePatch:
          spec:
            affinity:
              nodeAffinity:
                requiredDuringSchedulingIgnoredDuringExecution:
                  nodeSelectorTerms:
                    - matchExpressions:
                        - {key: runway.test/refuses, operator: NotIn, values: ["${VERSION}"]}
)";
}

// An Environment on a cluster; `gateway` "" = traffic by the stable Service (replicas mode).
inline std::string environment(const std::string& name, const std::filesystem::path& kubeconfig,
                        const std::string& ns, const std::string& gateway,
                        const std::string& strategy) {
  return fmt::format(R"(---
apiVersion: runway/v1
kind: Environment
metadata: {{name: {}}}
spec:
  runtime:
    kubernetes:
      kubeconfig: {}
      namespace: {}
{}
{}
  progressDeadline: 1m
)",
                     name, kubeconfig.string(), ns,
                     gateway.empty() ? "" : fmt::format("      gateway: {{name: {}}}", gateway),
                     strategy);
}

inline const std::string kCanary = R"(  strategy: canary
  canary:
    steps:
      - setWeight: 10
      - pause: {duration: 2s}
      - setWeight: 50
      - pause: {duration: 2s}
      - setWeight: 100
    scaleDownDelay: 1s
    abortScaleDownDelay: 1s)";

inline const std::string kBlueGreen = R"(  strategy: blue-green
  blueGreen:
    autoPromotion: true
    verification: 2s
    scaleDownDelay: 2s)";

inline kube::Connection secondCluster() {
  const char* dir = std::getenv("RUNWAY_KUBE_CLUSTER_2");
  EXPECT_NE(dir, nullptr) << "RUNWAY_KUBE_CLUSTER_2 is not set: run through ctest";
  auto c = kube::loadKubeconfig(std::filesystem::path(dir == nullptr ? "" : dir) / "kubeconfig");
  EXPECT_TRUE(c) << (c ? "" : c.error().message);
  return c ? *c : kube::Connection{};
}

inline std::filesystem::path kubeconfigPath(bool second = false) {
  if (second) return std::filesystem::path(std::getenv("RUNWAY_KUBE_CLUSTER_2")) / "kubeconfig";
  return kube::testing::cluster().dir / "kubeconfig";
}

class KubernetesServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = kube::testing::adminClient();
    // Refuse the bad version on every fake node (idempotent; other tests never deploy it).
    auto nodes = admin_->list({"", "v1", "nodes", false}, "");
    ASSERT_TRUE(nodes) << nodes.error().message;
    for (const auto& node : nodes->items) {
      const std::string name(node.at("metadata").at("name").as_string());
      auto labelled = admin_->mergePatch(
          {"", "v1", "nodes", false}, "", name,
          json::object{{"metadata", json::object{{"labels", json::object{{kRefusedLabel, kBadVersion}}}}}});
      ASSERT_TRUE(labelled) << labelled.error().message;
    }
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->down(), 0);
    }
  }

  void start(const std::string& config) {
    server_ = std::make_unique<ServeFixture>(dir_.path());
    server_->writeConfig(config);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message << "\nserve.log:\n" << serveLog();
  }

  std::string serveLog() const {
    std::ifstream in(dir_ / "serve.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string deployAndWait(const std::string& env, const std::string& version) {
    std::string error;
    const std::string id = server_->deploy(env, version, &error);
    EXPECT_FALSE(id.empty()) << error;
    if (id.empty()) return "";
    return server_->waitTerminal(id, std::chrono::seconds(120));
  }

  // The HTTPRoute's weights per version ({} when there is no route).
  static std::map<std::string, int> weights(kube::Client& client, const std::string& ns) {
    auto route = client.get(kube::Resource::httpRoutes(), ns, "web");
    if (!route) return {};
    return kube::routeWeights(*route, "web", {"v1", "v2", "v3"});
  }

  // The stable Service's version selector ("" = none, "?" = no Service).
  static std::string selected(kube::Client& client, const std::string& ns) {
    auto service = client.get(kube::Resource::services(), ns, "web");
    if (!service) return "?";
    const auto& selector = service->at("spec").at("selector").as_object();
    const auto* v = selector.if_contains(kube::kVersionLabel);
    return v != nullptr ? std::string(v->as_string()) : std::string();
  }

  static bool exists(kube::Client& client, const kube::Resource& resource, const std::string& ns,
                     const std::string& name) {
    return client.get(resource, ns, name).has_value();
  }

  // Polls `sample` until the deployment is terminal, collecting each distinct value in order.
  template <typename T>
  std::vector<T> watchUntilTerminal(const std::string& id, const std::function<T()>& sample,
                                    std::string& phase) {
    std::vector<T> seen;
    pollUntil(
        [&] {
          auto now = sample();
          if (seen.empty() || seen.back() != now) seen.push_back(now);
          phase = server_->phase(id);
          return phase == "Succeeded" || phase == "RolledBack" || phase == "Failed";
        },
        deadlineIn(std::chrono::seconds(120)), std::chrono::milliseconds(50));
    return seen;
  }

  struct CliRun {
    int code = -1;
    std::string out;
    std::string err;
  };
  // `runway ARGS --server URL --token TOKEN`.
  CliRun cli(std::vector<std::string> args) {
    SubprocessOptions o;
    o.argv.push_back(binaryPath("runway").string());
    for (auto& a : args) o.argv.push_back(std::move(a));
    o.argv.insert(o.argv.end(), {"--server", server_->url(), "--token", server_->adminToken()});
    o.unset_env = {"RUNWAY_SERVER", "RUNWAY_TOKEN"};
    o.stdout_to = Output::pipe();
    o.stderr_to = Output::pipe();
    CliRun run;
    auto child = Subprocess::start(std::move(o));
    if (!child) return run;
    if (auto captured = child->readToEnd(deadlineIn(std::chrono::seconds(60)))) {
      run.out = captured->out;
      run.err = captured->err;
    }
    if (auto st = child->waitExit(deadlineIn(std::chrono::seconds(10))); st && st->exited) run.code = st->code;
    return run;
  }

  std::unique_ptr<kube::Client> admin_;
  TempDir dir_{"runway-kube-serve"};
  std::unique_ptr<ServeFixture> server_;
};

}  // namespace runway::test::kubernetes
