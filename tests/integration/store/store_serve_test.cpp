// `runway serve --store postgres://...` and `runway store migrate` end to end: a server's SQLite
// store copied into a password-protected PostgreSQL, the server started again on it, and the
// audit chain verified there; the password never in a log line.

#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/serve/serve_fixture.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["no-such-program-is-ever-started"]}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: sim}
spec:
  runtime: {simulated: {readyAfter: 100ms}}
  strategy: canary
  canary:
    steps:
      - setWeight: 50
      - setWeight: 100
  progressDeadline: 1m
)";

constexpr const char* kPassword = "pg-Secret-4711";

struct CliRun {
  int code = -1;
  std::string out;
};

CliRun runway(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
  SubprocessOptions o;
  o.argv = {binaryPath("runway").string()};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stderr_to = Output::pipe();
  o.env = std::move(env);
  auto p = Subprocess::start(std::move(o));
  if (!p) return {};
  auto out = p->readToEnd(deadlineIn(120s));
  auto status = p->waitExit(deadlineIn(10s));
  CliRun run;
  if (out) run.out = out->out + out->err;
  if (status && status->exited) run.code = status->code;
  return run;
}

std::string fileText(const std::filesystem::path& path) {
  auto text = readFile(path);
  return text ? *text : "";
}

TEST(StoreServeTest, MigrateThenServeOnPostgresKeepsTheHistoryAndTheChain) {
  auto pg = PostgresServer::start({"runway-pg-serve", std::string(kPassword)});
  ASSERT_TRUE(pg) << pg.error().message;
  TempDir dir("runway-store-serve");
  auto pwfile = dir.write("pg.password", std::string(kPassword) + "\n");
  ASSERT_TRUE(pwfile);
  const std::string url = (*pg)->url("postgres");

  ServeFixture server(dir.path());
  server.writeConfig(kConfig);
  ASSERT_TRUE(server.start());
  std::string error;
  const std::string v1 = server.deploy("sim", "v1", &error);
  ASSERT_FALSE(v1.empty()) << error;
  ASSERT_EQ(server.waitTerminal(v1, 60s), "Succeeded") << fileText(dir.path() / "serve.log");
  ASSERT_TRUE(server.terminate());

  // A URL with the password in it is refused, and the refusal does not repeat it.
  const std::string in_url =
      fmt::format("postgres://postgres:{}@127.0.0.1:{}/postgres", kPassword, (*pg)->port());
  CliRun refused = runway({"store", "migrate", "--from", server.data().string(), "--to", in_url});
  EXPECT_EQ(refused.code, 2) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("carries a password"));
  EXPECT_THAT(refused.out, Not(HasSubstr(kPassword)));

  CliRun migrated = runway({"store", "migrate", "--from", server.data().string(), "--to", url,
                         "--store-password-file", pwfile->string()});
  ASSERT_EQ(migrated.code, 0) << migrated.out;
  EXPECT_THAT(migrated.out, HasSubstr("chain intact"));
  EXPECT_THAT(migrated.out, HasSubstr("releases, 1 deployments"));

  CliRun again = runway({"store", "migrate", "--from", server.data().string(), "--to", url},
                     {{"RUNWAY_STORE_PASSWORD", kPassword}});
  EXPECT_EQ(again.code, 1) << again.out;
  EXPECT_THAT(again.out, HasSubstr("already holds runway data"));

  // The server again, on PostgreSQL, with the password from the environment this time.
  server.extra_args = {"--store", url};
  server.setEnv({{"RUNWAY_STORE_PASSWORD", kPassword}});
  ASSERT_TRUE(server.start()) << fileText(dir.path() / "serve.log");
  EXPECT_EQ(server.phase(v1), "Succeeded");
  const std::string v2 = server.deploy("sim", "v2", &error);
  ASSERT_FALSE(v2.empty()) << error;
  ASSERT_EQ(server.waitTerminal(v2, 60s), "Succeeded")
      << fileText(dir.path() / "serve.log") << "\ndeployment: "
      << boost::json::serialize(server.getJson("/api/v1/deployments/" + v2));
  auto env = server.getJson("/api/v1/environments/sim");
  ASSERT_TRUE(env.is_object());
  EXPECT_EQ(env.at("currentRelease").as_string(), "v2");
  ASSERT_TRUE(server.terminate());

  const std::string log = fileText(dir.path() / "serve.log");
  EXPECT_THAT(log, HasSubstr("store: PostgreSQL " + url));
  EXPECT_THAT(log, Not(HasSubstr(kPassword)));

  CliRun verified = runway({"audit", "verify", "--data", server.data().string(), "--store", url,
                         "--store-password-file", pwfile->string()});
  EXPECT_EQ(verified.code, 0) << verified.out;
  EXPECT_THAT(verified.out, HasSubstr("chain intact"));
}

TEST(StoreServeTest, ServeOnAnUnreachableDatabaseFailsAndSaysWhere) {
  auto pg = PostgresServer::start({"runway-pg-down", std::nullopt});
  ASSERT_TRUE(pg) << pg.error().message;
  const std::string url = (*pg)->url("postgres");
  ASSERT_TRUE((*pg)->stop());
  TempDir dir("runway-store-down");
  std::ofstream(dir.path() / "runway.yaml") << kConfig;
  CliRun run = runway({"serve", "--config", (dir.path() / "runway.yaml").string(), "--data",
                    (dir.path() / "data").string(), "--listen", "127.0.0.1:0", "--store", url});
  EXPECT_EQ(run.code, 3) << run.out;
  EXPECT_THAT(run.out, HasSubstr("cannot connect to the store at " + url));
}

}  // namespace
}  // namespace runway::test
