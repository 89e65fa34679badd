// Acceptance (issue 7; a deep data directory: issue 13): `runway quickstart` runs to its
// summary — v1.1.0 in production, v1.2.0 rolled back there by itself — and `runway down` leaves
// no process behind.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

bool alive(int pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

CapturedOutput run(const std::vector<std::string>& argv, std::chrono::seconds limit, int* code) {
  SubprocessOptions o;
  o.argv = argv;
  o.cwd = RUNWAY_SOURCE_DIR;
  o.stderr_to = Output::pipe();
  auto p = Subprocess::start(std::move(o));
  EXPECT_TRUE(p);
  auto out = p->readToEnd(deadlineIn(limit));
  EXPECT_TRUE(out) << (out ? "" : out.error().message);
  auto status = p->waitExit(deadlineIn(10s));
  *code = status && status->exited ? status->code : -1;
  return out ? *out : CapturedOutput{};
}

// The data directory is 200 characters deep (issue 13): the router's admin socket inside it is
// longer than sun_path's 108 bytes, as in a CI workspace or a long home directory.
TEST(QuickstartTest, CanaryPromotedBadReleaseRolledBackAndDownLeavesNothing) {
  TempDir dir;
  std::filesystem::path deep = dir.path();
  while (200 - (deep / "data").string().size() > 100) deep /= std::string(50, 'd');
  deep /= std::string(200 - (deep / "data").string().size() - 1, 'e');
  const auto data = deep / "data";
  ASSERT_EQ(data.string().size(), 200u);
  std::filesystem::create_directories(deep);
  const std::string runway = binaryPath("runway").string();
  int code = -1;
  auto out = run({runway, "quickstart", "--data", data.string(), "--listen", "127.0.0.1:0"}, 300s, &code);
  EXPECT_EQ(code, 0) << out.out << out.err;
  const std::string& text = out.out;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(production\s+v1\.1\.0\s+Succeeded)"))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(production\s+v1\.2\.0\s+RolledBack)"))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(now serving:[\s\S]*production\s+v1\.1\.0)"))) << text;
  EXPECT_NE(text.find("was rolled back in production by itself"), std::string::npos) << text;

  // What runs now: the server, the router and every instance.
  std::set<int> pids;
  {
    std::ifstream f(data / "server.json");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto v = json::parse(s);
    pids.insert(static_cast<int>(v.at("pid").as_int64()));
    const std::string url(v.at("url").as_string());
    std::ifstream t(data / "admin.token");
    std::string token;
    t >> token;
    auto r = httpRequest(url + "/api/v1/environments", "GET", "", {{"Authorization", "Bearer " + token}});
    ASSERT_TRUE(r);
    auto envs = json::parse(r->body);
    for (const auto& e : envs.at("environments").as_array()) {
      for (const auto& svc : e.at("services").as_array()) {
        // Ready ones: the rolled-back release's instances may still be listed while they stop.
        for (const auto& i : svc.at("instances").as_array()) {
          if (i.at("state") == "Ready") pids.insert(static_cast<int>(i.at("pid").as_int64()));
        }
      }
    }
    std::ifstream rp(data / "router" / "router.pid");
    std::string r2((std::istreambuf_iterator<char>(rp)), std::istreambuf_iterator<char>());
    pids.insert(static_cast<int>(json::parse(r2).at("pid").as_int64()));
  }
  EXPECT_GE(pids.size(), 2u + 9u);  // server, router, 3 services x 3 environments at least
  for (int pid : pids) EXPECT_TRUE(alive(pid)) << pid;

  auto down = run({runway, "down", "--data", data.string(), "--grace", "1"}, 60s, &code);
  EXPECT_EQ(code, 0) << down.out << down.err;
  for (int pid : pids) EXPECT_FALSE(alive(pid)) << "pid " << pid << " survived runway down";
}

}  // namespace
}  // namespace runway::test
