// Hooks and backups: a backup hook running pg_dump against a real PostgreSQL (Debian's, started
// in a temp dir on a loopback port) produces a dump that restores; retention keeps the newest N;
// hook failure policies decide what a deployment does next.

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/checks/hooks.hpp"
#include "runway/config/loader.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::checks::itest {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

Result<test::CapturedOutput> runToEnd(std::vector<std::string> argv) {
  test::SubprocessOptions options;
  options.argv = std::move(argv);
  options.stderr_to = test::Output::pipe();
  auto p = test::Subprocess::start(std::move(options));
  if (!p) return fail(p.error());
  auto out = p->readToEnd(test::deadlineIn(60s));
  if (!out) return fail(out.error());
  auto status = p->waitExit(test::deadlineIn(10s));
  if (!status || !status->exitedWith(0)) {
    return fail(ErrorCode::Internal,
                fmt::format("{} failed: {}{}", p->pid(), out->out, out->err));
  }
  return out;
}

config::Config load(const test::TempDir& dir, const std::string& env_extra) {
  const auto text = fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: api
      local: {{command: [runway-demo-app]}}
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: prod}}
spec:
{})",
                                env_extra);
  auto file = dir.write("runway.yaml", text);
  EXPECT_TRUE(file);
  auto loaded = config::loadConfig(file->string());
  std::string errors;
  for (const auto& d : loaded.diagnostics) errors += d.format() + "\n";
  EXPECT_TRUE(loaded.config) << errors;
  return loaded.config ? *loaded.config : config::Config{};
}

class PostgresBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::chmod(dir_.path().c_str(), 0755);
    auto server = test::PostgresServer::start();
    ASSERT_TRUE(server) << server.error().message;
    pg_ = std::move(*server);
    port_ = pg_->port();
    ASSERT_TRUE(psql("postgres", "CREATE DATABASE shop"));
    ASSERT_TRUE(psql("shop",
                     "CREATE TABLE leads (id int primary key, name text); "
                     "INSERT INTO leads SELECT g, 'lead ' || g FROM generate_series(1, 250) g"));
  }

  Result<std::string> psql(const std::string& db, const std::string& sql) {
    return pg_->psql(db, sql);
  }

  test::TempDir dir_{"runway-pg"};
  std::unique_ptr<test::PostgresServer> pg_;
  int port_ = 0;
};

TEST_F(PostgresBackupTest, PgDumpBackupRestoresAndRetentionKeepsTheNewest) {
  const auto env_yaml = fmt::format(R"(  backup:
    command: [sh, -c, 'pg_dump -h 127.0.0.1 -p {} -U postgres -Fc -f "$RUNWAY_BACKUP_FILE" shop']
    directory: backups
    keep: 2
    timeout: 60s
)",
                                    port_);
  const auto cfg = load(dir_, env_yaml);
  const auto* env = cfg.findEnvironment("prod");
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->backup);
  EXPECT_EQ(backupDirectory(*env, dir_ / "data"), dir_ / "backups");

  FakeClock clock;
  std::vector<std::string> files;
  for (int i = 0; i < 3; ++i) {
    auto result = runBackup(*env, dir_ / "data", "v1", clock);
    ASSERT_TRUE(result) << result.error().message;
    ASSERT_TRUE(result->run.ok) << result->run.reason << "\n" << result->run.output;
    files.push_back(result->file);
    clock.advance(1h);
    if (i == 2) {
      ASSERT_EQ(result->kept.size(), 2U);
      EXPECT_EQ(result->kept[0].path, files[2]);
      EXPECT_EQ(result->kept[1].path, files[1]);
      ASSERT_EQ(result->removed.size(), 1U);
      EXPECT_EQ(result->removed[0], files[0]);
    }
  }
  EXPECT_FALSE(fs::exists(files[0]));

  // Restore the newest dump into a fresh database and read the rows back.
  ASSERT_TRUE(psql("postgres", "CREATE DATABASE restored"));
  ::chmod(files[2].c_str(), 0644);
  ::chmod((dir_ / "backups").c_str(), 0755);
  auto restore = runToEnd({"pg_restore", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U",
                           "postgres", "-d", "restored", files[2]});
  ASSERT_TRUE(restore) << restore.error().message;
  auto count = psql("restored", "SELECT count(*), max(name) FROM leads");
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, "250|lead 99\n");
}

TEST_F(PostgresBackupTest, BackupOfAMissingDatabaseFailsWithPgDumpsMessage) {
  const auto cfg = load(dir_, fmt::format(R"(  backup:
    command: [sh, -c, 'pg_dump -h 127.0.0.1 -p {} -U postgres -Fc -f "$RUNWAY_BACKUP_FILE" nosuchdb']
)",
                                          port_));
  FakeClock clock;
  auto result = runBackup(*cfg.findEnvironment("prod"), dir_ / "data", "v1", clock);
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->run.ok);
  EXPECT_THAT(result->run.reason, HasSubstr("sh exited with status 1"));
  EXPECT_THAT(result->run.output, HasSubstr("database \"nosuchdb\" does not exist"));
  EXPECT_FALSE(fs::exists(result->file));
  EXPECT_TRUE(result->kept.empty());
}

TEST(HookTest, FailurePoliciesRetriesAndCapturedOutput) {
  test::TempDir dir("runway-hooks");
  const auto cfg = load(dir, R"(  hooks:
    preDeploy:
      - {name: announce, command: [sh, -c, 'echo deploying $RUNWAY_VERSION to $RUNWAY_ENVIRONMENT']}
      - {name: flaky, command: [sh, -c, 'echo try >> attempts; exit 1'], retries: 2, retryDelay: 10ms, onFailure: continue}
      - {name: migrate, command: [sh, -c, 'echo migration 42 failed >&2; exit 4'], onFailure: rollback}
      - {name: never, command: ["true"]}
    preRollback:
      - {name: slow, command: [sleep, "5"], timeout: 200ms}
)");
  const auto* env = cfg.findEnvironment("prod");
  ASSERT_NE(env, nullptr);
  auto outcome = runHooks(*env, config::HookPoint::PreDeploy, {"prod", "v7", {}});
  EXPECT_EQ(outcome.decision, HookOutcome::Decision::Rollback);
  ASSERT_EQ(outcome.runs.size(), 3U) << outcome.report.toTable();
  EXPECT_EQ(outcome.runs[0].output, "deploying v7 to prod\n");
  EXPECT_FALSE(outcome.runs[1].ok);
  EXPECT_EQ(outcome.runs[1].attempts, 3);
  auto attempts = test::readFile(dir / "attempts");
  ASSERT_TRUE(attempts);
  EXPECT_EQ(*attempts, "try\ntry\ntry\n");
  EXPECT_EQ(outcome.runs[2].output, "migration 42 failed\n");
  EXPECT_EQ(outcome.report.summary(),
            "hook preDeploy flaky: sh exited with status 1 (attempt 3, onFailure continue); and 1 "
            "more failed");

  auto rollback = runHooks(*env, config::HookPoint::PreRollback, {"prod", "v6", {}});
  EXPECT_EQ(rollback.decision, HookOutcome::Decision::Fail);
  EXPECT_THAT(rollback.report.summary(), HasSubstr("timed out after 200ms"));

  auto none = runHooks(*env, config::HookPoint::PostDeploy, {"prod", "v7", {}});
  EXPECT_EQ(none.decision, HookOutcome::Decision::Continue);
  EXPECT_TRUE(none.runs.empty());
}

}  // namespace
}  // namespace runway::checks::itest
