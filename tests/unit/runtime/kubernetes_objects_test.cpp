// The kubernetes runtime's pure parts: image references, label values, the recorded split.

#include "kubernetes_objects.hpp"

#include <gtest/gtest.h>

namespace runway::runtime::kubernetes_runtime_detail {
namespace {

config::Service imageOnly(const std::string& image) {
  config::Service s;
  s.name = "web";
  s.image = image;
  return s;
}

std::string imageOf(const Result<Object>& d) {
  return std::string(
      d->at("spec").at("template").at("spec").at("containers").as_array()[0].at("image").as_string());
}

TEST(KubernetesObjectsTest, AnImageWithoutATagGetsTheArtifact) {
  EXPECT_EQ(imageOf(deploymentFor("prod", imageOnly("registry:5000/shop/web"), "v1", 1, {}, "")),
            "registry:5000/shop/web:v1");  // the registry's port is not a tag
  EXPECT_EQ(imageOf(deploymentFor("prod", imageOnly("web"), "v1", 1, {{"web", "sha-9"}}, "")),
            "web:sha-9");
  EXPECT_EQ(imageOf(deploymentFor("prod", imageOnly("web:stable"), "v1", 1, {}, "")), "web:stable");
  EXPECT_EQ(imageOf(deploymentFor("prod", imageOnly("web@sha256:abc"), "v1", 1, {}, "")),
            "web@sha256:abc");
  EXPECT_EQ(deploymentFor("prod", imageOnly(""), "v1", 1, {}, "").error().code,
            ErrorCode::InvalidArgument);
}

TEST(KubernetesObjectsTest, VersionsMustBeLabelValues) {
  EXPECT_TRUE(isLabelValue("v1.2.3"));
  EXPECT_TRUE(isLabelValue("sha-0a1b2c"));
  EXPECT_FALSE(isLabelValue(""));
  EXPECT_FALSE(isLabelValue("-v1"));
  EXPECT_FALSE(isLabelValue("v1/2"));
  EXPECT_FALSE(isLabelValue(std::string(64, 'a')));
}

TEST(KubernetesObjectsTest, TheSplitRoundTripsThroughItsAnnotation) {
  TrafficSplit split;
  split.weights = {{"v1", 900}, {"v2", 100}};
  TrafficRoute route;
  route.header = "x-canary";
  route.match = TrafficRoute::Match::Regex;
  route.value = "yes|true";
  route.version = "v2";
  split.routes.push_back(route);
  EXPECT_EQ(parseSplit(splitJson(split)), split);
  EXPECT_EQ(parseSplit(""), TrafficSplit{});
  EXPECT_EQ(parseSplit("not json"), TrafficSplit{});
  EXPECT_EQ(describeSplit(split.weights), "v1=90% v2=10%");
}

TEST(KubernetesObjectsTest, QuantitiesReadAsTheApiWritesThem) {
  EXPECT_EQ(parseQuantity("32"), 32.0);
  EXPECT_EQ(parseQuantity("500m"), 0.5);
  EXPECT_EQ(parseQuantity("1.5"), 1.5);
  EXPECT_EQ(parseQuantity("256Mi"), 256.0 * 1024 * 1024);
  EXPECT_EQ(parseQuantity("1Gi"), 1024.0 * 1024 * 1024);
  EXPECT_EQ(parseQuantity("1k"), 1000.0);
  EXPECT_EQ(parseQuantity("2M"), 2e6);
  EXPECT_EQ(parseQuantity("1e3"), 1000.0);
  EXPECT_EQ(parseQuantity(""), std::nullopt);
  EXPECT_EQ(parseQuantity("lots"), std::nullopt);
  EXPECT_EQ(parseQuantity("5Qi"), std::nullopt);
}

TEST(KubernetesObjectsTest, PodRequestsAndPullSecretsComeFromTheBuiltDeployment) {
  config::Service svc;
  svc.name = "web";
  config::KubernetesWorkload k;
  k.image = "registry.example/web";
  k.resources.cpu = 0.25;
  k.resources.memory_mb = 128;
  k.pod_template_patch = R"({"spec": {"imagePullSecrets": [{"name": "regcred"}]}})";
  svc.kubernetes = k;
  auto d = deploymentFor("prod", svc, "v1", 2, {}, "");
  ASSERT_TRUE(d) << d.error().message;
  const auto r = podRequests(*d);
  EXPECT_DOUBLE_EQ(r.cpu, 0.25);
  EXPECT_DOUBLE_EQ(r.memory, 128.0 * 1024 * 1024);
  EXPECT_EQ(imagePullSecrets(*d), std::vector<std::string>{"regcred"});
}

}  // namespace
}  // namespace runway::runtime::kubernetes_runtime_detail
