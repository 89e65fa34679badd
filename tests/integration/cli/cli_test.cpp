// Runs the real runway binary the way a user does and checks exit codes and output.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "runway/store/store.hpp"
#include "test_paths.hpp"

namespace runway {
namespace {

namespace fs = std::filesystem;

struct Run {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

Run runway(const std::string& args) {
  const std::string cmd = std::string(RUNWAY_BINARY_DIR) + "/bin/runway " + args + " 2>&1";
  Run run;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) run.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string source(const std::string& rel) { return std::string(RUNWAY_SOURCE_DIR) + "/" + rel; }

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "runway-cli-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CliTest, HelpListsCommandsAndExitsZero) {
  auto r = runway("--help");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("validate"), std::string::npos);
  EXPECT_NE(r.out.find("audit"), std::string::npos);
  EXPECT_NE(r.out.find("version"), std::string::npos);
}

TEST(CliTest, VersionPrintsVersion) {
  auto r = runway("version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("runway ", 0), 0U) << r.out;
}

TEST(CliTest, UnknownCommandExitsTwoWithSuggestion) {
  auto r = runway("valdate examples/runbook");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("unknown command \"valdate\"; did you mean \"validate\"?"), std::string::npos)
      << r.out;
}

TEST(CliTest, UnknownFlagExitsTwoWithSuggestion) {
  auto r = runway("audit verify --dta /tmp");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown flag \"--dta\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("did you mean \"--data\"?"), std::string::npos) << r.out;
}

TEST(CliTest, ValidateRunbookSummarisesEverything) {
  auto r = runway("validate " + source("examples/runbook"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("5 services"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 environments"), std::string::npos) << r.out;
  for (const char* name : {"api", "backend", "data-service", "orchestrator", "frontend",
                           "development", "staging", "production"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  }
  EXPECT_NE(r.out.find("setWeight 10%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("setWeight 50%"), std::string::npos);
  EXPECT_NE(r.out.find("setWeight 100%"), std::string::npos);
  EXPECT_NE(r.out.find("pause 15m"), std::string::npos);
  EXPECT_NE(r.out.find("pause 30m"), std::string::npos);
  EXPECT_NE(r.out.find("blue-green"), std::string::npos);
  EXPECT_NE(r.out.find("rolling"), std::string::npos);
}

TEST(CliTest, ValidateReportsEveryMistakeAndExitsTwo) {
  const auto file = source("tests/data/config/many-mistakes.yaml");
  auto r = runway("validate " + file);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  std::size_t located = 0;
  for (std::size_t pos = 0; (pos = r.out.find(file + ":", pos)) != std::string::npos; ++pos) {
    ++located;
  }
  EXPECT_GE(located, 6U) << r.out;
}

TEST(CliTest, ValidateReportsABadConditionWithItsPlace) {
  const auto file = source("tests/data/cli/bad-condition.yaml");
  auto r = runway("validate " + file);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find(file + ":25:7: spec.metrics[0].failureCondition: invalid condition"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("failureCondition"), std::string::npos) << r.out;
}

TEST(CliTest, ValidateMissingPathIsAConfigError) {
  auto r = runway("validate /nonexistent/runway.yaml");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/runway.yaml"), std::string::npos) << r.out;
}

void appendEvents(const std::string& dir, int n) {
  auto store = store::openSqliteStore(dir + "/runway.db");
  ASSERT_TRUE(store) << store.error().message;
  for (int i = 1; i <= n; ++i) {
    store::NewEvent e;
    e.at = fromUnixMillis(1'795'660'500'000 + i * 1000);
    e.actor = "alice";
    e.kind = "deployment.created";
    e.subject = "dep-" + std::to_string(i);
    e.reason = "release " + std::to_string(i);
    ASSERT_TRUE((*store)->appendEvent(e));
  }
}

TEST(CliTest, AuditVerifyIntactChain) {
  TempDir dir;
  appendEvents(dir.path(), 5);
  auto r = runway("audit verify --data " + dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("5 events, chain intact"), std::string::npos) << r.out;
}

TEST(CliTest, AuditVerifyNamesTheTamperedRow) {
  TempDir dir;
  appendEvents(dir.path(), 5);
  // Someone with access to the file edits row 3 behind runway's back.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() + "/runway.db").c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  // Drop every trigger that guards the events table, then rewrite history.
  const char* find_triggers =
      "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='events'";
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, find_triggers, -1, &stmt, nullptr), SQLITE_OK);
  std::vector<std::string> triggers;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    triggers.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  for (const auto& t : triggers) {
    ASSERT_EQ(sqlite3_exec(db, ("DROP TRIGGER " + t).c_str(), nullptr, nullptr, &err), SQLITE_OK);
  }
  ASSERT_EQ(sqlite3_exec(db, "UPDATE events SET reason='nothing to see' WHERE seq=3", nullptr,
                         nullptr, &err),
            SQLITE_OK)
      << (err != nullptr ? err : "");
  sqlite3_close(db);

  auto r = runway("audit verify --data " + dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("event 3 ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first bad record is event 3"), std::string::npos) << r.out;
}

std::string sha256Hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

// Issue 19: the chain's links are HMACs with a key kept outside the database. A store from
// before the key keeps working (its records are verified the old way, and the verifier says
// so); `runway audit verify` names the key it checked with, never the key; and a rewrite by
// someone who can write the database but not read the key is found, although every SHA-256
// link they wrote is consistent.
TEST(CliTest, AuditVerifyNamesItsKeyAndFindsARewriteWithoutIt) {
  TempDir dir;
  const std::string db = dir.path() + "/runway.db";
  appendEvents(dir.path(), 2);  // before the key
  auto key = store::ensureAuditKey(dir.path() + "/audit.key", db);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->since, 3);
  {
    auto store = store::openSqliteStore(db, *key);
    ASSERT_TRUE(store) << store.error().message;
    for (int i = 0; i < 3; ++i) {
      store::NewEvent e;
      e.at = fromUnixMillis(1'795'660'600'000 + i * 1000);
      e.actor = "alice";
      e.kind = "deployment.created";
      e.subject = "dep-keyed-" + std::to_string(i);
      ASSERT_TRUE((*store)->appendEvent(e));
    }
  }
  auto r = runway("audit verify --data " + dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("checking with audit key " + key->id), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5 events, chain intact"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 events from before the audit key"), std::string::npos) << r.out;
  std::string secret_hex;
  for (char c : key->secret) secret_hex += fmt::format("{:02x}", static_cast<unsigned char>(c));
  EXPECT_EQ(r.out.find(secret_hex), std::string::npos);
  EXPECT_EQ(r.out.find(secret_hex.substr(0, 16)), std::string::npos);

  // The intruder rewrites events 4 and 5 with consistent SHA-256 links and the head: what the
  // keyless chain could not tell from the truth.
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(handle, "DROP TRIGGER events_no_update", nullptr, nullptr, nullptr), SQLITE_OK);
  std::string prev;
  {
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(handle, "SELECT hash FROM events WHERE seq = 3", -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    prev = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
  }
  for (int seq = 4; seq <= 5; ++seq) {
    store::NewEvent e;
    e.at = fromUnixMillis(1'795'660'600'000 + (seq - 3) * 1000);
    e.actor = "mallory";
    e.kind = "deployment.created";
    e.subject = "dep-keyed-" + std::to_string(seq - 3);
    const std::string hash = sha256Hex(prev + store::canonicalEvent(seq, e));
    const std::string sql = fmt::format(
        "UPDATE events SET actor = 'mallory', prev_hash = '{}', hash = '{}', key_id = '' WHERE seq = {}", prev, hash, seq);
    ASSERT_EQ(sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(handle);
    prev = hash;
  }
  ASSERT_EQ(sqlite3_exec(handle, fmt::format("UPDATE event_chain_head SET hash = '{}'", prev).c_str(), nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(handle);
  r = runway("audit verify --data " + dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("event 4 ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not linked with the audit key"), std::string::npos) << r.out;
}

TEST(CliTest, AuditVerifyWithoutStoreFails) {
  TempDir dir;
  auto r = runway("audit verify --data " + dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("no store at"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir.path() + "/runway.db"));
}

}  // namespace
}  // namespace runway
