#include "runway/runtime/records.hpp"

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace runway::runtime {
namespace {

InstanceRecord sampleInstance() {
  InstanceRecord r;
  r.environment = "staging";
  r.service = "api";
  r.version = "v1.2.3";
  r.index = 2;
  r.process = ProcessIdentity{4242, 4242, 123456789};
  r.port = 39001;
  r.command = {"/usr/bin/app", "--port", "39001", "quote\"d"};
  r.started_at = fromUnixMillis(1'795'660'500'250);
  r.restarts = 3;
  r.ready = true;
  return r;
}

TEST(InstanceRecordTest, RoundTrips) {
  const auto r = sampleInstance();
  auto back = parseInstanceRecord(toJson(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, r);
}

TEST(InstanceRecordTest, RejectsMissingAndMalformedFields) {
  auto no_pid = parseInstanceRecord(R"({"environment":"e","service":"s","version":"v"})");
  ASSERT_FALSE(no_pid);
  EXPECT_EQ(no_pid.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(no_pid.error().message.find("'index'"), std::string::npos);
  EXPECT_FALSE(parseInstanceRecord("{not json"));
  EXPECT_FALSE(parseInstanceRecord("[1,2]"));
  auto r = sampleInstance();
  r.process.pid = 0;
  EXPECT_FALSE(parseInstanceRecord(toJson(r)));
}

TEST(VersionRecordTest, RoundTrips) {
  VersionRecord r;
  r.environment = "production";
  r.service = "web";
  r.version = "abc123";
  r.desired = 3;
  r.retiring = true;
  r.command = {"runway-demo-app", "--port", "${PORT}"};
  r.env = {{"MODE", "${ENVIRONMENT}"}, {"X", "1"}};
  r.working_dir = "/srv/web";
  r.health.path = "/ready";
  r.health.initial_delay = Duration{250};
  r.health.period = Duration{2000};
  r.health.timeout = Duration{500};
  r.health.failure_threshold = 5;
  auto back = parseVersionRecord(toJson(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(*back == r);
  r.command.clear();
  EXPECT_FALSE(parseVersionRecord(toJson(r)));
}

TEST(TrafficRecordTest, RoundTrips) {
  TrafficRecord r;
  r.environment = "production";
  r.service = "web";
  r.listen_address = "127.0.0.1";
  r.listen_port = 8080;
  r.split.weights = {{"v1", 900}, {"v2", 100}};
  r.split.routes = {TrafficRoute{"x-canary", "", TrafficRoute::Match::Exact, "1", "v2"},
                    TrafficRoute{"", "beta", TrafficRoute::Match::Regex, "^y.*", "v2"}};
  r.split.sticky_cookie = "runway-version";
  r.split.sticky_max_age = Duration{120'000};
  r.limits = ListenerLimits{Duration{1'000}, Duration{2'000}, Duration{3'000}, 4096};
  auto back = parseTrafficRecord(toJson(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, r);
  EXPECT_FALSE(back->tls.has_value());
  r.tls = ListenerTlsFiles{"/etc/runway/tls/web.pem", "/etc/runway/tls/web.key"};
  back = parseTrafficRecord(toJson(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, r);
}

// A record written before sticky sessions had a max age reads with the default hour.
TEST(TrafficRecordTest, ReadsARecordWithoutMaxAge) {
  auto back = parseTrafficRecord(
      R"({"environment":"production","service":"web","listen_address":"127.0.0.1",)"
      R"("listen_port":8080,"weights":{"v1":1000},"routes":[],"sticky_cookie":"rv"})");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->split.sticky_cookie, "rv");
  EXPECT_EQ(back->split.sticky_max_age, Duration{3'600'000});
  // ... and, written before listeners had limits, with the router's defaults.
  EXPECT_EQ(back->limits, ListenerLimits{});
}

TEST(FilesTest, WriteAtomicallyThenRead) {
  test::TempDir dir;
  const auto path = dir / "run/a/b/x.pid";
  ASSERT_TRUE(writeFileAtomically(path, "one"));
  ASSERT_TRUE(writeFileAtomically(path, "two"));
  auto text = readWholeFile(path);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "two");
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(readWholeFile(dir / "missing").error().code, ErrorCode::NotFound);
}

}  // namespace
}  // namespace runway::runtime
