// The kubernetes runtime's configuration: an Environment's runtime.kubernetes (cluster,
// namespace, traffic) and a Service's kubernetes block (the workload), valid and invalid.

#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "text.hpp"
#include "test_paths.hpp"

namespace runway::config {
namespace {

using ::testing::ElementsAre;
using test::messages;

const std::string kKubeApp = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: api
      env: {LOG: info}
      health: {path: /health}
      kubernetes:
        image: registry.example/api:${ARTIFACT}
        port: 9090
        env: {MODE: "${ENVIRONMENT}"}
        resources: {cpu: 250m, memory: 128Mi}
        readinessProbe: {path: /ready}
        replicas: 2
        progressDeadlineSeconds: 30
        podTemplatePatch:
          spec:
            nodeSelector: {disk: "ssd", zone: a}
            terminationGracePeriodSeconds: 5
          metadata: {annotations: {"x/y": "1"}}
)";

TEST(KubernetesConfigTest, ReadsTheRuntimeAndTheWorkload) {
  const auto result = loadConfigText(kKubeApp + R"(---
apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec:
  runtime:
    kubernetes:
      kubeconfig: clusters/prod.kubeconfig
      context: prod
      namespace: shop-prod
      gateway: {name: public, namespace: gateways}
)",
                                     "/etc/runway/t.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& env = result.config->environments.at(0);
  ASSERT_EQ(env.runtime.kind, RuntimeSpec::Kind::Kubernetes);
  const auto& k = env.runtime.kubernetes;
  EXPECT_EQ(k.kubeconfig, "clusters/prod.kubeconfig");
  EXPECT_EQ(k.kubeconfig_base_dir, "/etc/runway");
  EXPECT_EQ(k.context, "prod");
  EXPECT_EQ(k.namespace_name, "shop-prod");
  EXPECT_EQ(k.traffic, KubernetesRuntime::Traffic::HttpRoute);  // a gateway implies httproute
  EXPECT_EQ(k.gateway, "public");
  EXPECT_EQ(k.gateway_namespace, "gateways");

  const auto& svc = result.config->applications.at(0).services.at(0);
  ASSERT_TRUE(svc.kubernetes.has_value());
  const auto& w = *svc.kubernetes;
  EXPECT_EQ(w.image, "registry.example/api:${ARTIFACT}");
  EXPECT_EQ(w.port, 9090);
  EXPECT_EQ(w.env.at("MODE"), "${ENVIRONMENT}");
  EXPECT_DOUBLE_EQ(w.resources.cpu, 0.25);
  EXPECT_EQ(w.resources.memory_mb, 128);
  EXPECT_EQ(w.readiness_path, "/ready");
  EXPECT_TRUE(w.readiness_probe);
  EXPECT_EQ(w.replicas, 2);
  EXPECT_EQ(svc.instances, 2);  // replicas is the instance count on Kubernetes
  EXPECT_EQ(w.progress_deadline_seconds, 30);
  // Quoted scalars stay strings, plain numbers become numbers.
  EXPECT_EQ(w.pod_template_patch,
            R"({"spec":{"nodeSelector":{"disk":"ssd","zone":"a"},"terminationGracePeriodSeconds":5},)"
            R"("metadata":{"annotations":{"x/y":"1"}}})");
}

TEST(KubernetesConfigTest, DefaultsToInClusterReplicasAndTheEnvironmentsNamespace) {
  const auto result = loadConfigText(kKubeApp + R"(---
apiVersion: runway/v1
kind: Environment
metadata: {name: staging}
spec:
  runtime: {kubernetes: {}}
)",
                                     "t.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& k = result.config->environments.at(0).runtime.kubernetes;
  EXPECT_EQ(k.kubeconfig, "");  // in-cluster
  EXPECT_EQ(k.namespace_name, "staging");
  EXPECT_EQ(k.traffic, KubernetesRuntime::Traffic::Replicas);
}

TEST(KubernetesConfigTest, NamesFileLineColumnAndFieldOfEachMistake) {
  const auto result = loadConfigText(R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: api
      kubernetes:
        image: "registry.example/api:${PORT}"
        port: 0
        readinessProbe: sometimes
        replicas: -1
        podTemplatePatch: [a]
        imagePullPolicy: Always
    - name: web
      kubernetes: {port: 80}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: prod}
spec:
  runtime:
    kubernetes: {namespace: Prod_1, traffic: httproute}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: dev}
spec:
  runtime:
    kubernetes: {traffic: replicas, gateway: {name: gw}}
)",
                                     "t.yaml");
  EXPECT_THAT(
      messages(result),
      ElementsAre(
          "t.yaml:8:16: spec.services[0].kubernetes.image: an image cannot use ${PORT}",
          "t.yaml:9:15: spec.services[0].kubernetes.port: must be between 1 and 65535, got 0",
          "t.yaml:10:25: spec.services[0].kubernetes.readinessProbe: expected {path: /...} or "
          "none, got \"sometimes\"",
          "t.yaml:11:19: spec.services[0].kubernetes.replicas: must be between 0 and 1000, got -1",
          "t.yaml:12:27: spec.services[0].kubernetes.podTemplatePatch: expected a mapping "
          "(fields of the pod template, e.g. spec: {nodeSelector: ...}), got a list",
          "t.yaml:13:9: spec.services[0].kubernetes.imagePullPolicy: unknown field "
          "\"imagePullPolicy\"",
          "t.yaml:15:19: spec.services[1].kubernetes.image: required field is missing",
          "t.yaml:22:29: spec.runtime.kubernetes.namespace: invalid namespace \"Prod_1\": a DNS "
          "label (lower-case letters, digits and '-', at most 63 characters, starting and ending "
          "with a letter or digit)",
          "t.yaml:22:46: spec.runtime.kubernetes.traffic: traffic \"httproute\" needs gateway: "
          "{name: GATEWAY} (the Gateway the HTTPRoutes attach to)",
          "t.yaml:29:27: spec.runtime.kubernetes.traffic: traffic \"replicas\" does not use the "
          "gateway; remove gateway or use \"httproute\""));
}

// runway is not in a Kubernetes environment's request path: an analysis there that measures the
// router's statistics (provider builtin, the default) is refused where the environment names
// the template; a prometheus one beside it is fine.
TEST(KubernetesConfigTest, ABuiltinMetricIsRefusedOnKubernetes) {
  const auto result = loadConfigText(kKubeApp + R"(---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: errors}
spec:
  metrics:
    - {name: error-rate, query: error_rate, failureCondition: "result > 0.01"}
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata: {name: prom}
spec:
  metrics:
    - name: p95
      provider: prometheus
      query: up
      failureCondition: "result < 1"
      prometheus: {address: "http://127.0.0.1:9090"}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: prod}
spec:
  runtime:
    kubernetes: {namespace: shop}
  strategy: canary
  canary:
    steps:
      - setWeight: 10
      - analysis: {templates: [prom, errors]}
      - setWeight: 100
)",
                                     "t.yaml");
  EXPECT_THAT(messages(result),
              ElementsAre("t.yaml:51:38: spec.canary.steps[1].analysis.templates[1]: template "
                          "\"errors\" measures metric \"error-rate\" with provider builtin (the "
                          "runway router's statistics), which environment prod on the kubernetes "
                          "runtime does not have: runway is not in its request path; measure it "
                          "with provider: prometheus"));
}

TEST(KubernetesConfigTest, ReplicasAndADifferentInstanceCountConflict) {
  const auto result = loadConfigText(R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: api
      instances: 3
      kubernetes: {image: api, replicas: 2}
)",
                                     "t.yaml");
  EXPECT_THAT(messages(result),
              ElementsAre("t.yaml:8:19: spec.services[0].kubernetes.replicas: 2 differs from "
                          "instances (3): set one of them"));
}

// examples/kubernetes: the runbook's five services, three environments, each on its own cluster.
TEST(KubernetesConfigTest, TheExampleIsValid) {
  const auto result = loadConfig(std::string(RUNWAY_SOURCE_DIR) + "/examples/kubernetes");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& app = result.config->applications.at(0);
  ASSERT_EQ(app.services.size(), 5u);
  for (const auto& svc : app.services) EXPECT_TRUE(svc.kubernetes.has_value()) << svc.name;
  std::set<std::string> kubeconfigs;
  for (const auto& env : result.config->environments) {
    EXPECT_EQ(env.runtime.kind, RuntimeSpec::Kind::Kubernetes) << env.name;
    kubeconfigs.insert(env.runtime.kubernetes.kubeconfig);
  }
  EXPECT_EQ(kubeconfigs.size(), 3u);
  EXPECT_EQ(result.config->findEnvironment("production")->runtime.kubernetes.traffic,
            KubernetesRuntime::Traffic::HttpRoute);
}

}  // namespace
}  // namespace runway::config
