// An exec-plugin kubeconfig against the real API server: the plugin's token is used, cached
// until its expirationTimestamp, fetched again once it has expired, and again after a 401.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "cluster.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::kube {
namespace {

using testing::adminClient;
using testing::cluster;
using testing::TestNamespace;

TEST(KubeExecPluginTest, KubeconfigTokenRefreshedWhenItExpires) {
  TestNamespace ns("exec");
  auto admin = adminClient();
  auto alpha = testing::serviceAccountToken(*admin, ns.name(), "alpha");
  ASSERT_TRUE(alpha) << alpha.error().message;
  auto beta = testing::serviceAccountToken(*admin, ns.name(), "beta");
  ASSERT_TRUE(beta) << beta.error().message;

  test::TempDir dir("exec-kubeconfig");
  ASSERT_TRUE(dir.write("token", *alpha));
  ASSERT_TRUE(dir.write("ca.crt", cluster().admin.certificate_authority_pem));
  // The clock runway reads is a FakeClock started at the real time, so that the API server
  // (real time) accepts the tokens while the test decides when the credential expires.
  auto clock = std::make_shared<FakeClock>(systemClock()->now());
  ASSERT_TRUE(dir.write("expiry", formatTimestamp(clock->now() + std::chrono::minutes(1))));
  auto kubeconfig = dir.write("kubeconfig", fmt::format(R"(apiVersion: v1
kind: Config
current-context: exec
clusters:
- name: local
  cluster: {{server: "{}", certificate-authority: ca.crt}}
users:
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {}/tests/data/kube/exec-credential.sh
      interactiveMode: Never
      env:
      - {{name: TOKEN_FILE, value: "{}"}}
      - {{name: COUNT_FILE, value: "{}"}}
      - {{name: EXPIRY_FILE, value: "{}"}}
contexts:
- name: exec
  context: {{cluster: local, user: plugin, namespace: {}}}
)",
                                                     cluster().admin.server, RUNWAY_SOURCE_DIR,
                                                     (dir / "token").string(),
                                                     (dir / "count").string(),
                                                     (dir / "expiry").string(), ns.name()));
  ASSERT_TRUE(kubeconfig);
  auto connection = loadKubeconfig(*kubeconfig);
  ASSERT_TRUE(connection) << connection.error().message;
  ClientOptions options;
  options.clock = clock;
  auto client = makeClient(*connection, options);
  const auto runs = [&] { return std::stoi(test::readFile(dir / "count").value()); };
  const auto account = [&](std::string_view name) {
    return fmt::format("system:serviceaccount:{}:{}", ns.name(), name);
  };

  auto me = testing::whoAmI(*client);
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(*me, account("alpha"));
  EXPECT_EQ(runs(), 1);

  // The plugin would now print beta's token, but the cached one has not expired.
  ASSERT_TRUE(dir.write("token", *beta));
  clock->advance(std::chrono::seconds(59));
  me = testing::whoAmI(*client);
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(*me, account("alpha"));
  EXPECT_EQ(runs(), 1);

  // Expired: the plugin runs again.
  clock->advance(std::chrono::seconds(1));
  me = testing::whoAmI(*client);
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(*me, account("beta"));
  EXPECT_EQ(runs(), 2);

  // The API server refuses what the plugin now prints (401): runway runs the plugin once more,
  // then reports Unauthenticated; it does not loop.
  ASSERT_TRUE(dir.write("token", "not-a-token"));
  ASSERT_TRUE(dir.write("expiry", formatTimestamp(clock->now() + std::chrono::hours(2))));
  clock->advance(std::chrono::minutes(1));
  auto refused = testing::whoAmI(*client);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::Unauthenticated) << refused.error().message;
  EXPECT_EQ(refused.error().message.find("not-a-token"), std::string::npos);
  EXPECT_EQ(runs(), 4);

  // The refused credential is cached (it expires in two hours): the next request sends it,
  // gets 401, throws it away and runs the plugin, which now prints a good token.
  ASSERT_TRUE(dir.write("token", *alpha));
  for (int i = 0; i < 2; ++i) {  // the second time from the cache
    me = testing::whoAmI(*client);
    ASSERT_TRUE(me) << me.error().message;
    EXPECT_EQ(*me, account("alpha"));
    EXPECT_EQ(runs(), 5);
  }
}

}  // namespace
}  // namespace runway::kube
