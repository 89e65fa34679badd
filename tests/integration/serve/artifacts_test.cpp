// Acceptance (issue 14, lead 9): the artifacts of a deploy request reach the runtime. The real
// `runway serve` starts the demo app with `--version-label ${ARTIFACT}`, so the instance that
// answers through the router reports the artifact it was started from, and a later release
// without artifacts runs its version.

#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "serve_fixture.hpp"
#include "support/http.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kArtifactsConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["runway-demo-app", "--port", "${PORT}", "--version-label", "${ARTIFACT}"]}
      instances: 1
      health: {path: /health, period: 100ms, failureThreshold: 3}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: dev}
spec:
  application: shop
  runtime: {local: {}}
  strategy: rolling
  rolling: {maxSurge: 1, maxUnavailable: 0}
  progressDeadline: 1m
)";

class ArtifactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(binaryPath("runway-demo-app")));
    server_ = std::make_unique<ServeFixture>(dir_.path());
    server_->writeConfig(kArtifactsConfig);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->down(), 0);
    }
  }

  // Deploys `body` and returns the deployment's end phase.
  std::string deployAndWait(const std::string& body) {
    auto r = server_->call("POST", "/api/v1/deployments", body);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    if (!r) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    if (r->status != 201) return "";
    const std::string id(json::parse(r->body).at("deployment").as_string());
    return server_->waitTerminal(id, 60s);
  }

  // The version label of the instance that answers through the router.
  std::string answeringLabel() {
    auto got = httpGet("http://" + server_->serviceAddress("dev", "web") + "/");
    EXPECT_TRUE(got) << (got ? "" : got.error().message);
    if (!got) return "";
    EXPECT_EQ(got->status, 200) << got->body;
    return std::string(json::parse(got->body).at("version").as_string());
  }

  TempDir dir_;
  std::unique_ptr<ServeFixture> server_;
};

TEST_F(ArtifactsTest, TheRequestsArtifactIsWhatTheInstanceRuns) {
  ASSERT_EQ(deployAndWait(R"({"environment":"dev","version":"v1",)"
                          R"("artifacts":{"web":"registry.example/shop/web:v1-3f2a9c"}})"),
            "Succeeded");
  EXPECT_EQ(answeringLabel(), "registry.example/shop/web:v1-3f2a9c");

  // Without artifacts, ${ARTIFACT} is the version (docs/configuration.md), never the previous
  // release's artifact.
  ASSERT_EQ(deployAndWait(R"({"environment":"dev","version":"v2"})"), "Succeeded");
  EXPECT_EQ(answeringLabel(), "v2");
}

}  // namespace
}  // namespace runway::test
