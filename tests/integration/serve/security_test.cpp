// Issue 19, hardening: what the real `runway serve` gives the commands it starts (an explicit
// environment, not its own), what it keeps out of events and its log (declared secrets and
// tokens), and the modes of everything it creates under the data directory.

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "serve_fixture.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

// In the server's environment only: no instance or hook may see it.
constexpr const char* kLeak = "leaked-credential-7f3a9c";
// Declared secret of the environments below: passed to their hooks, redacted everywhere.
constexpr const char* kDbPassword = "hunter2-db-secret-91b";

std::string slurpFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string securityConfig(const fs::path& dir) {
  return fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: web
      local:
        command: ["sh", "-c", "env > {0}/instance-$RUNWAY_ENVIRONMENT.env; exec runway-demo-app --port ${{PORT}}"]
      env:
        APP_SETTING: from-config
      health: {{path: /health, period: 100ms}}
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: explicit}}
spec:
  runtime: {{local: {{}}}}
  strategy: rolling
  secrets: [HOOK_DB_PASSWORD]
  hooks:
    preDeploy:
      - {{name: dump, command: ["sh", "-c", "env > {0}/hook.env"], env: {{HOOK_SETTING: from-hook-config}}}}
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: leaky}}
spec:
  runtime: {{local: {{}}}}
  strategy: rolling
  secrets: [HOOK_DB_PASSWORD]
  hooks:
    preDeploy:
      - name: migrate
        onFailure: fail
        command: ["sh", "-c", "echo \"connecting to postgres://app:$HOOK_DB_PASSWORD@db\"; echo \"token $(cat {1}) for postgres://app:$HOOK_DB_PASSWORD@db\"; exit 3"]
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: backed}}
spec:
  runtime: {{local: {{}}}}
  strategy: rolling
  backup:
    beforeDeploy: true
    command: ["sh", "-c", "echo dump > \"$RUNWAY_BACKUP_FILE\""]
)",
                     dir.string(), (dir / "data" / "admin.token").string());
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServeFixture>(dir_.path());
    server_->writeConfig(securityConfig(dir_.path()));
    server_->setEnv({{"RUNWAY_TEST_LEAK", kLeak}, {"HOOK_DB_PASSWORD", kDbPassword}});
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->down(), 0);
    }
  }

  TempDir dir_;
  std::unique_ptr<ServeFixture> server_;
};

TEST_F(SecurityTest, InstancesAndHooksGetAnExplicitEnvironment) {
  std::string error;
  const std::string id = server_->deploy("explicit", "v1", &error);
  ASSERT_FALSE(id.empty()) << error;
  ASSERT_EQ(server_->waitTerminal(id, 60s), "Succeeded");

  const auto instance = slurpFile(dir_.path() / "instance-explicit.env");
  ASSERT_FALSE(instance.empty());
  EXPECT_EQ(instance.find(kLeak), std::string::npos) << instance;
  EXPECT_EQ(instance.find("HOOK_DB_PASSWORD"), std::string::npos) << instance;  // hooks only
  EXPECT_NE(instance.find("APP_SETTING=from-config\n"), std::string::npos) << instance;
  EXPECT_NE(instance.find("RUNWAY_VERSION=v1\n"), std::string::npos) << instance;
  EXPECT_NE(instance.find("PATH="), std::string::npos) << instance;

  const auto hook = slurpFile(dir_.path() / "hook.env");
  ASSERT_FALSE(hook.empty());
  EXPECT_EQ(hook.find(kLeak), std::string::npos) << hook;
  EXPECT_NE(hook.find("HOOK_SETTING=from-hook-config\n"), std::string::npos) << hook;
  EXPECT_NE(hook.find("RUNWAY_HOOK=dump\n"), std::string::npos) << hook;
  EXPECT_NE(hook.find(fmt::format("HOOK_DB_PASSWORD={}\n", kDbPassword)), std::string::npos) << hook;
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    EXPECT_NE(hook.find(fmt::format("HOME={}\n", home)), std::string::npos) << hook;
  }
}

TEST_F(SecurityTest, DeclaredSecretsAndTokensAreRedactedFromEventsAndTheLog) {
  std::string error;
  const std::string id = server_->deploy("leaky", "v1", &error);
  ASSERT_FALSE(id.empty()) << error;
  ASSERT_EQ(server_->waitTerminal(id, 30s), "Failed");
  const std::string token = server_->adminToken();
  ASSERT_FALSE(token.empty());

  auto d = server_->getJson("/api/v1/deployments/" + id);
  ASSERT_TRUE(d.is_object());
  std::string output;
  for (const auto& e : d.at("events").as_array()) {
    if (e.at("kind").as_string() == "hooks.failed") {
      output = std::string(e.at("data").at("runs").as_array().at(0).at("output").as_string());
    }
  }
  EXPECT_NE(output.find("connecting to postgres://app:[redacted]@db"), std::string::npos) << output;
  EXPECT_NE(output.find("token [redacted]"), std::string::npos) << output;
  const auto all = json::serialize(d);
  EXPECT_EQ(all.find(kDbPassword), std::string::npos) << all;
  EXPECT_EQ(all.find(token), std::string::npos) << all;

  // The server's log names the failed hook with its last line, redacted.
  const auto log = dir_.path() / "serve.log";
  EXPECT_TRUE(pollUntil([&] { return slurpFile(log).find("hook migrate failed") != std::string::npos; },
                        deadlineIn(10s)))
      << slurpFile(log);
  const auto text = slurpFile(log);
  EXPECT_NE(text.find("token [redacted] for postgres://app:[redacted]@db"), std::string::npos) << text;
  EXPECT_EQ(text.find(kDbPassword), std::string::npos) << text;
  EXPECT_EQ(text.find(token), std::string::npos) << text;
}

// Every directory under DATA is 0700, every file and socket 0600, from the start: the server,
// the router it starts and the commands they run create them under umask 077.
TEST_F(SecurityTest, EverythingUnderTheDataDirectoryIsPrivate) {
  std::string error;
  const std::string id = server_->deploy("backed", "v1", &error);
  ASSERT_FALSE(id.empty()) << error;
  ASSERT_EQ(server_->waitTerminal(id, 60s), "Succeeded");

  std::vector<std::string> wrong;
  std::set<std::string> kinds;
  const auto check = [&](const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return;  // a temporary file renamed meanwhile
    const auto mode = st.st_mode & 07777;
    std::string kind = S_ISDIR(st.st_mode) ? "dir" : S_ISSOCK(st.st_mode) ? "socket" : S_ISREG(st.st_mode) ? "file" : "other";
    kinds.insert(kind + ":" + p.filename().string());
    const unsigned expected = S_ISDIR(st.st_mode) ? 0700 : 0600;
    if (kind == "other" || mode != expected) wrong.push_back(fmt::format("{} {} {:o}", kind, p.string(), mode));
  };
  check(server_->data());
  std::error_code ec;
  for (fs::recursive_directory_iterator it(server_->data(), ec), end; !ec && it != end; it.increment(ec)) {
    check(it->path());
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(wrong.empty()) << fmt::format("{}", fmt::join(wrong, "\n"));
  // What the walk must have seen for it to mean anything.
  const auto seen = [&](std::string_view prefix, std::string_view suffix) {
    return std::any_of(kinds.begin(), kinds.end(),
                       [&](const std::string& k) { return k.starts_with(prefix) && k.ends_with(suffix); });
  };
  EXPECT_TRUE(seen("file:runway.db", "-wal"));
  EXPECT_TRUE(seen("file:admin.token", ""));
  EXPECT_TRUE(seen("file:audit.key", ""));
  EXPECT_TRUE(seen("socket:admin.sock", ""));
  EXPECT_TRUE(seen("file:router.log", ""));
  EXPECT_TRUE(seen("file:v1-", ".log"));  // the instance's log
  EXPECT_TRUE(seen("file:v1-", ".pid"));
  EXPECT_TRUE(seen("file:backed-", ".dump"));  // written by the backup hook
  EXPECT_TRUE(seen("dir:backups", ""));
}

}  // namespace
}  // namespace runway::test
