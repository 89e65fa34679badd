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

// The same configuration after a reload that renamed the analysis template: a deployment that
// started before it names a template that no longer exists, so its analysis cannot be set up.
std::string renamedTemplate() {
  std::string text = productionFirst();
  text = replaceOnce(text, "metadata:\n  name: error-rate\n", "metadata:\n  name: error-rate-v2\n");
  std::string::size_type at = 0;
  while ((at = text.find("templates: [error-rate]", at)) != std::string::npos) {
    text.replace(at, 23, "templates: [error-rate-v2]");
  }
  return text;
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

  // v1.2.0 fails 30 % of its requests in production. Its analysis cannot be set up once the
  // template it names is gone: that must fail the deployment, never pass it.
  const std::string bad = server.deploy("production", "v1.2.0", &error);
  ASSERT_FALSE(bad.empty()) << error;
  server.writeConfig(renamedTemplate());
  auto reloaded = server.call("POST", "/api/v1/config/reload", "{}");
  ASSERT_TRUE(reloaded);
  ASSERT_EQ(reloaded->status, 200) << reloaded->body;
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
  EXPECT_NE(reason.find("could not be set up"), std::string::npos) << reason;
  EXPECT_NE(reason.find("error-rate"), std::string::npos) << reason;
  auto env = server.getJson("/api/v1/environments/production");
  ASSERT_TRUE(env.is_object());
  EXPECT_EQ(env.at("currentRelease").as_string(), "v1.1.0");

  // Another deployment is active: retrying the rolled-back one would let two deployments drive
  // one environment. Refused with 409, and the active one carries on.
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
