#include <gtest/gtest.h>

#include <memory>

#include "runway/kube/credentials.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::kube {
namespace {

// FakeClock's default start is 2023-11-14T22:13:20Z.
constexpr const char* kOneMinuteLater = "2023-11-14T22:14:20Z";

class ExecPluginTest : public ::testing::Test {
 protected:
  ExecPlugin plugin(std::vector<std::pair<std::string, std::string>> extra = {}) const {
    ExecPlugin p;
    p.api_version = "client.authentication.k8s.io/v1";
    p.command = std::string(RUNWAY_SOURCE_DIR) + "/tests/data/kube/exec-credential.sh";
    p.env = {{"COUNT_FILE", (dir_ / "count").string()}, {"INFO_FILE", (dir_ / "info").string()}};
    p.env.insert(p.env.end(), extra.begin(), extra.end());
    p.interactive_mode = "IfAvailable";
    return p;
  }
  int runs() const {
    auto text = test::readFile(dir_ / "count");
    return text ? std::stoi(*text) : 0;
  }
  std::unique_ptr<CredentialSource> source(const ExecPlugin& p) {
    Connection c;
    c.server = "https://127.0.0.1:1";
    c.certificate_authority_pem = "CA PEM";
    c.exec = p;
    return makeCredentialSource(c, clock_);
  }

  test::TempDir dir_{"exec-plugin"};
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
};

TEST_F(ExecPluginTest, CachedUntilExpirationTimestamp) {
  auto credentials = source(plugin({{"EXPIRY", kOneMinuteLater}}));
  auto first = credentials->current();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->token, "tok-1");
  EXPECT_EQ(runs(), 1);

  clock_->advance(std::chrono::seconds(59));
  auto cached = credentials->current();
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->token, "tok-1");
  EXPECT_EQ(runs(), 1);

  clock_->advance(std::chrono::seconds(1));  // at expirationTimestamp: expired
  auto renewed = credentials->current();
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->token, "tok-2");
  EXPECT_EQ(runs(), 2);

  // The plugin was told it cannot be interactive.
  auto info = test::readFile(dir_ / "info");
  ASSERT_TRUE(info);
  EXPECT_NE(info->find(R"("kind":"ExecCredential")"), std::string::npos) << *info;
  EXPECT_NE(info->find(R"("interactive":false)"), std::string::npos) << *info;
}

TEST_F(ExecPluginTest, ClusterInfoOnlyWhenAskedFor) {
  ASSERT_TRUE(source(plugin())->current());
  auto info = test::readFile(dir_ / "info");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->find("cluster"), std::string::npos) << *info;

  auto p = plugin();
  p.provide_cluster_info = true;
  ASSERT_TRUE(source(p)->current());
  info = test::readFile(dir_ / "info");
  ASSERT_TRUE(info);
  // base64 of "CA PEM" is Q0EgUEVN.
  EXPECT_NE(info->find(R"("cluster":{"server":"https://127.0.0.1:1","certificate-authority-data":"Q0EgUEVN"})"),
            std::string::npos)
      << *info;
}

TEST_F(ExecPluginTest, WithoutExpiryCachedUntilRejected) {
  auto credentials = source(plugin());
  ASSERT_EQ(credentials->current()->token, "tok-1");
  clock_->advance(std::chrono::hours(24));
  ASSERT_EQ(credentials->current()->token, "tok-1");
  EXPECT_EQ(runs(), 1);
  // A stale rejection (of a credential already replaced) does not throw the new one away.
  EXPECT_TRUE(credentials->invalidate(Credential{"tok-0", {}, {}}));
  ASSERT_EQ(credentials->current()->token, "tok-1");
  EXPECT_TRUE(credentials->invalidate(Credential{"tok-1", {}, {}}));
  ASSERT_EQ(credentials->current()->token, "tok-2");
  EXPECT_EQ(runs(), 2);
}

TEST_F(ExecPluginTest, PluginFailureCarriesItsStderr) {
  auto credentials = source(plugin({{"FAIL", "no SSO session; run aws sso login"}}));
  auto c = credentials->current();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::Unavailable);
  EXPECT_NE(c.error().message.find("exit code 3"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("run aws sso login"), std::string::npos) << c.error().message;
}

TEST_F(ExecPluginTest, MissingProgramIsNotFound) {
  auto p = plugin();
  p.command = (dir_ / "no-such-plugin").string();
  auto c = source(p)->current();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::NotFound);
}

TEST_F(ExecPluginTest, GarbageOutputIsRefusedWithoutQuotingIt) {
  ASSERT_TRUE(dir_.write("bad.sh", "#!/bin/sh\necho 'secret-looking-output'\n"));
  std::filesystem::permissions(dir_ / "bad.sh", std::filesystem::perms::owner_all);
  auto p = plugin();
  p.command = (dir_ / "bad.sh").string();
  auto c = source(p)->current();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(c.error().message.find("secret-looking-output"), std::string::npos);
}

TEST_F(ExecPluginTest, BadExpirationTimestampIsRefused) {
  auto c = source(plugin({{"EXPIRY", "tomorrow"}}))->current();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(c.error().message.find("expirationTimestamp"), std::string::npos) << c.error().message;
}

TEST(TokenFileTest, ReadAgainAfterAMinuteOrARejection) {
  test::TempDir dir("token-file");
  ASSERT_TRUE(dir.write("token", "first\n"));
  auto clock = std::make_shared<FakeClock>();
  Connection c;
  c.token_file = dir / "token";
  auto credentials = makeCredentialSource(c, clock);
  ASSERT_EQ(credentials->current()->token, "first");
  ASSERT_TRUE(dir.write("token", "second"));
  clock->advance(std::chrono::seconds(59));
  EXPECT_EQ(credentials->current()->token, "first");
  clock->advance(std::chrono::seconds(1));
  EXPECT_EQ(credentials->current()->token, "second");
  ASSERT_TRUE(dir.write("token", "third"));
  EXPECT_TRUE(credentials->invalidate(Credential{"second", {}, {}}));
  EXPECT_EQ(credentials->current()->token, "third");

  std::filesystem::remove(dir / "token");
  EXPECT_TRUE(credentials->invalidate(Credential{"third", {}, {}}));
  auto gone = credentials->current();
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::Unauthenticated);
}

TEST(StaticCredentialTest, CannotBeRefreshed) {
  Connection c;
  c.token = "t";
  auto credentials = makeCredentialSource(c, std::make_shared<FakeClock>());
  EXPECT_EQ(credentials->current()->token, "t");
  EXPECT_FALSE(credentials->invalidate(Credential{"t", {}, {}}));
}

}  // namespace
}  // namespace runway::kube
