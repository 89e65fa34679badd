// Issue 14 end to end with the real `runway serve` on examples/quickstart: a production canary
// whose analysis cannot run never reaches 100 % (it rolls back with the reason), and `retry` of
// the rolled-back deployment while another deployment is active in the environment is refused
// with 409 Conflict.

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "serve_fixture.hpp"
#include "support/http.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string quickstart() {
  std::ifstream in(std::string(RUNWAY_SOURCE_DIR) + "/examples/quickstart/runway.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces the one occurrence of `from` in `text`; fails the test when there is none.
std::string replaceOnce(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "the quickstart no longer contains: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The quickstart with production deployable directly (no promotion from staging, to keep the
// test short) and its background analysis starting at the 50 % step, ten seconds after 10 %.
std::string productionFirst() {
  std::string text = replaceOnce(quickstart(), "  promotesFrom: staging\n", "");
  return replaceOnce(text, "      templates: [error-rate]\n      startingStep: 0\n",
                     "      templates: [error-rate]\n      startingStep: 2\n");
}

// The same configuration with the error-rate metric read from a Prometheus that does not
// answer: every measurement is an error, so the analysis cannot judge anything (and, with no
// error budget, says so at its first measurement). (Before spec
// snapshots this test renamed the template under a running deployment; a reload no longer
// reaches a deployment requested before it, issue 14 lead 7.)
std::string unmeasurable() {
  return replaceOnce(productionFirst(), "      provider: builtin\n      query: error_rate\n      window: 10s\n",
                     "      provider: prometheus\n"
                     "      query: \"sum(rate(http_requests_total{code=~'5..'}[1m]))\"\n"
                     "      prometheus:\n        address: http://127.0.0.1:9\n        timeout: 1s\n"
                     "      consecutiveErrorLimit: 0\n");
}

void reload(ServeFixture& server, const std::string& config) {
  server.writeConfig(config);
  auto reloaded = server.call("POST", "/api/v1/config/reload", "{}");
  ASSERT_TRUE(reloaded);
  ASSERT_EQ(reloaded->status, 200) << reloaded->body;
}

TEST(VerdictTest, AnalysisThatCannotRunNeverPromotesAndRetryWhileBusyIsAConflict) {
  TempDir dir;
  ServeFixture server(dir.path());
  server.writeConfig(productionFirst());
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;

  std::string error;
  const std::string good = server.deploy("production", "v1.1.0", &error);
  ASSERT_FALSE(good.empty()) << error;
  // Users of every service, as the quickstart's synthetic users: analysis needs traffic (the
  // background analysis starts at the 50 % step, after the first bake).
  std::vector<std::unique_ptr<LoadGenerator>> users;
  for (const char* service : {"api", "backend", "frontend"}) {
    std::string address;
    ASSERT_TRUE(pollUntil([&] { return !(address = server.serviceAddress("production", service)).empty(); },
                          deadlineIn(30s)))
        << service;
    users.push_back(std::make_unique<LoadGenerator>("http://" + address + "/"));
  }
  ASSERT_EQ(server.waitTerminal(good, 90s), "Succeeded");

  // v1.2.0 fails 30 % of its requests in production, and its analysis cannot measure: that
  // must fail the deployment, never pass it.
  reload(server, unmeasurable());
  const std::string bad = server.deploy("production", "v1.2.0", &error);
  ASSERT_FALSE(bad.empty()) << error;
  std::int64_t max_weight = 0;
  std::string phase;
  pollUntil(
      [&] {
        auto d = server.getJson("/api/v1/deployments/" + bad);
        if (!d.is_object()) return false;
        max_weight = std::max(max_weight, d.at("canaryWeight").to_number<std::int64_t>());
        phase = std::string(d.at("phase").as_string());
        return phase == "Succeeded" || phase == "RolledBack" || phase == "Failed";
      },
      deadlineIn(90s));
  EXPECT_EQ(phase, "RolledBack");
  EXPECT_LT(max_weight, 100);
  auto d = server.getJson("/api/v1/deployments/" + bad);
  ASSERT_TRUE(d.is_object());
  const std::string reason(d.at("abortReason").as_string());
  EXPECT_NE(reason.find("errored"), std::string::npos) << reason;
  EXPECT_NE(reason.find("error-rate"), std::string::npos) << reason;
  auto env = server.getJson("/api/v1/environments/production");
  ASSERT_TRUE(env.is_object());
  EXPECT_EQ(env.at("currentRelease").as_string(), "v1.1.0");

  // Another deployment is active: retrying the rolled-back one would let two deployments drive
  // one environment. Refused with 409, and the active one carries on.
  reload(server, productionFirst());
  const std::string next = server.deploy("production", "v1.1.1", &error);
  ASSERT_FALSE(next.empty()) << error;
  ASSERT_TRUE(pollUntil([&] { return server.phase(next) == "Progressing"; }, deadlineIn(30s)));
  auto retry = server.call("POST", "/api/v1/deployments/" + bad + "/retry", "{}");
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 409) << retry->body;
  EXPECT_NE(retry->body.find(next), std::string::npos) << retry->body;
  EXPECT_EQ(server.phase(bad), "RolledBack");
  EXPECT_EQ(server.waitTerminal(next, 90s), "Succeeded");
  for (auto& u : users) u->stop();
  EXPECT_EQ(server.down(), 0);
}

}  // namespace
}  // namespace runway::test
