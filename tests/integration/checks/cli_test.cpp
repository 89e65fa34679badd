// The check commands as a person runs them: `runway health|smoke|perf|backup ENV --config PATH
// --data DIR` against instances that a runtime (standing in for `runway serve`) runs from the
// same data directory. Asserts the reported reason and the exit code (0 passed, 1 failed,
// 2 usage or configuration error).

#include <signal.h>
#include <sys/wait.h>

#include <iostream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "support/process.hpp"

namespace runway::checks::itest {
namespace {

using ::testing::HasSubstr;

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ChecksFixture {
 public:
  CliRun runway(std::vector<std::string> args, bool with_config = true) {
    test::SubprocessOptions options;
    options.argv = {test::binaryPath("runway").string()};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    if (with_config) {
      options.argv.insert(options.argv.end(), {"--config", (dir_ / "runway.yaml").string(),
                                               "--data", data_dir().string()});
    }
    options.stderr_to = test::Output::pipe();
    options.unset_env = {"RUNWAY_CONFIG"};
    auto p = test::Subprocess::start(std::move(options));
    EXPECT_TRUE(p) << p.error().message;
    CliRun run;
    auto out = p->readToEnd(test::deadlineIn(60s));
    EXPECT_TRUE(out);
    auto status = p->waitExit(test::deadlineIn(10s));
    EXPECT_TRUE(status && status->exited);
    run.code = status ? status->code : -1;
    run.out = out ? out->out : "";
    run.err = out ? out->err : "";
    return run;
  }
};

TEST_F(CliTest, HealthPassesAndFailsWithReasonAndExitCode) {
  loadConfig();
  start("v1", {});
  start("v2", {{"FAIL_HEALTH", "1"}}, 1, false, false);
  auto ok = runway({"health", "staging"});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("passed   health   api/v1#0 GET /health -> 200"));
  auto bad = runway({"health", "staging", "basic", "--version", "v2"});
  EXPECT_EQ(bad.code, 1) << bad.out << bad.err;
  EXPECT_THAT(bad.out, HasSubstr("FAILED: health api/v2: version v2 has no ready instance"));
  std::cout << bad.out;  // docs/checks.md shows this output
  auto kept = test::readFile(data_dir() / "checks" / "results.jsonl");
  ASSERT_TRUE(kept);
  EXPECT_THAT(*kept, HasSubstr(R"("environment":"staging","report":{"title":"health basic staging v2","passed":false)"));
  auto json = runway({"health", "staging", "detailed", "-o", "json"});
  EXPECT_EQ(json.code, 0) << json.out;
  EXPECT_THAT(json.out, HasSubstr("\"passed\":true"));
  EXPECT_THAT(json.out, HasSubstr("\"category\":\"diagnostics\""));
}

TEST_F(CliTest, ComprehensiveHealthJudgesErrorRateAndP95FromTheRouter) {
  loadConfig();
  start("v1", {{"ERROR_RATE", "1"}});
  const auto url = fmt::format("http://127.0.0.1:{}/api/leads", router_port_);
  for (int i = 0; i < 20; ++i) {
    auto r = test::httpGet(url);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 500);
  }
  auto bad = runway({"health", "staging", "comprehensive", "--router-socket", socket_});
  EXPECT_EQ(bad.code, 1) << bad.out << bad.err;
  EXPECT_THAT(bad.out, HasSubstr("error rate 100% > limit 5% (20 requests in 1m)"));
  // Without statistics the same items are skipped with the reason, never passed.
  auto blind = runway({"health", "staging", "comprehensive"});
  EXPECT_THAT(blind.out, HasSubstr("no router statistics available here"));
}

TEST_F(CliTest, ComprehensiveHealthPassesAHealthyVersion) {
  loadConfig();
  start("v1", {});
  for (int i = 0; i < 20; ++i) {
    auto r = test::httpGet(fmt::format("http://127.0.0.1:{}/api/leads", router_port_));
    ASSERT_TRUE(r && r->status == 200);
  }
  auto ok = runway({"health", "staging", "comprehensive", "--router-socket", socket_});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("error rate 0% <= limit 5% (20 requests in 1m)"));
  EXPECT_THAT(ok.out, HasSubstr("P95 "));
}

// The broken targets of the acceptance list through the CLI: each exits 1 naming the reason.
TEST_F(CliTest, DownSlowAndMissingDependencyExitOneWithTheReason) {
  auto closed = test::freeLoopbackPort();
  ASSERT_TRUE(closed);
  loadConfig(fmt::format("  dependencies:\n    - {{name: database, tcp: \"127.0.0.1:{}\"}}\n",
                         *closed));
  start("v1", {{"LATENCY_MS", "400"}});

  // slow: the `fast` suite allows 150ms.
  auto slow = runway({"smoke", "staging", "fast", "--version", "v1"});
  EXPECT_EQ(slow.code, 1) << slow.out;
  EXPECT_THAT(slow.out, HasSubstr("slower than the 150ms limit"));

  // missing dependency: comprehensive health names it; basic does not look.
  auto dependency = runway({"health", "staging", "comprehensive"});
  EXPECT_EQ(dependency.code, 1) << dependency.out;
  EXPECT_THAT(dependency.out,
              HasSubstr(fmt::format("tcp 127.0.0.1:{}: Connection refused", *closed)));
  EXPECT_EQ(runway({"health", "staging", "basic"}).code, 0);

  // down: the server (here: its runtime) is gone and the instance killed.
  auto list = runtime_->instances("staging", "api");
  ASSERT_TRUE(list && list->size() == 1);
  const int pid = list->front().pid;
  runtime_.reset();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(test::pollUntil([&] { return ::waitpid(pid, nullptr, WNOHANG) == pid; },
                              test::deadlineIn(5s)));
  auto down = runway({"health", "staging", "basic", "--version", "v1"});
  EXPECT_EQ(down.code, 1) << down.out;
  EXPECT_THAT(down.out, HasSubstr("instance is Restarting: process is not running"));
  auto smoke_down = runway({"smoke", "staging", "critical", "--version", "v1"});
  EXPECT_EQ(smoke_down.code, 1);
  EXPECT_THAT(smoke_down.out, HasSubstr("version v1 of service \"api\" has no ready instance"));
}

TEST_F(CliTest, SmokeSuitesThroughTheCli) {
  loadConfig();
  start("v1", {});
  auto ok = runway({"smoke", "staging", "critical", "--version", "v1"});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  auto wrong = runway({"smoke", "staging", "missing-page", "--version", "v1"});
  EXPECT_EQ(wrong.code, 1);
  EXPECT_THAT(wrong.out, HasSubstr("GET /no-such-page -> 404, expected 200"));
  auto unknown = runway({"smoke", "staging", "critcal"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown smoke suite \"critcal\""));
}

TEST_F(CliTest, UsageAndConfigurationErrorsExitTwo) {
  loadConfig();
  auto no_config = runway({"health", "staging"}, false);
  EXPECT_EQ(no_config.code, 2);
  EXPECT_THAT(no_config.err, HasSubstr("--config is required (or set RUNWAY_CONFIG)"));
  auto unknown_env = runway({"health", "prod"});
  EXPECT_EQ(unknown_env.code, 2);
  EXPECT_THAT(unknown_env.err, HasSubstr("unknown environment \"prod\" (defined: staging)"));
  ASSERT_TRUE(dir_.write("broken.yaml", shopConfig(router_port_, "  dependencies:\n    - {name: db, tcp: nohost}\n")));
  auto broken = runway({"health", "staging", "--config", (dir_ / "broken.yaml").string()}, false);
  EXPECT_EQ(broken.code, 2);
  EXPECT_THAT(broken.err, HasSubstr("broken.yaml:"));
  EXPECT_THAT(broken.err, HasSubstr("spec.dependencies[0].tcp: expected host:port"));
}

TEST_F(CliTest, PerfBaselineThenSlowVersionFails) {
  loadConfig();
  start("v1", {});
  // 400 ms: on a loaded CI machine the normal version's own P95 has been seen at 178 ms.
  start("v2", {{"LATENCY_MS", "400"}}, 1, false);
  auto base = runway({"perf", "staging", "--version", "v1", "--duration", "2s", "--rate", "30",
                      "--baseline"});
  EXPECT_EQ(base.code, 0) << base.out << base.err;
  EXPECT_THAT(base.out, HasSubstr("saved as the baseline of staging (release v1)"));
  auto slow = runway({"perf", "staging", "--version", "v2", "--duration", "2s", "--rate", "30"});
  EXPECT_EQ(slow.code, 1) << slow.out << slow.err;
  EXPECT_THAT(slow.out, HasSubstr("FAILED: perf P95: P95 "));
  std::cout << slow.out;  // docs/checks.md shows this output
  auto bad = runway({"perf", "staging", "--duration", "soon"});
  EXPECT_EQ(bad.code, 2);
}

TEST_F(CliTest, BackupRunsTheHookAndListsKeptBackups) {
  loadConfig(R"(  backup:
    command: [sh, -c, 'echo "dump of $RUNWAY_ENVIRONMENT" > "$RUNWAY_BACKUP_FILE"']
    keep: 1
)");
  auto first = runway({"backup", "staging"});
  EXPECT_EQ(first.code, 0) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("sh exited with status 0"));
  auto second = runway({"backup", "staging"});
  EXPECT_EQ(second.code, 0) << second.out << second.err;
  EXPECT_THAT(second.out, HasSubstr("removed (keep 1)"));
  auto listed = runway({"backup", "staging", "--list"});
  EXPECT_EQ(listed.code, 0);
  EXPECT_THAT(listed.out, HasSubstr("16 bytes"));  // "dump of staging\n"
  EXPECT_THAT(listed.out, HasSubstr("passed (1 check)"));
}

TEST_F(CliTest, PreflightPassesAndFailsOnAMissingSecret) {
  loadConfig();
  auto ok = runway({"preflight", "staging", "comprehensive"});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("runway-demo-app is executable"));
  loadConfig("  preflight:\n    env: [RUNWAY_TEST_UNSET_TOKEN]\n");
  auto bad = runway({"preflight", "staging"});
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_THAT(bad.out, HasSubstr("FAILED: secrets RUNWAY_TEST_UNSET_TOKEN: not set"));
}

}  // namespace
}  // namespace runway::checks::itest
