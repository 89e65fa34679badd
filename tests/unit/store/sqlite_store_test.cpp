// The Store contract for the SQLite implementation, plus what only a file can show: tampering
// with rows behind runway's back, schema versions, WAL mode, file mode, sharing a file.
//
// "Tampering" here means someone with write access to the file: they open it with their own
// SQLite connection, drop the append-only guard triggers and edit rows. The hash chain is what
// must find it.

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <sqlite3.h>

#include "runway/store/evidence.hpp"
#include "unit/store/store_contract.hpp"

namespace runway::store::testing {
namespace {

std::string dbPath(const std::string& dir) { return dir + "/runway.db"; }

INSTANTIATE_TEST_SUITE_P(
    Sqlite, StoreContract,
    ::testing::Values(StoreFactory{"Sqlite",
                                   [](const std::string& dir) -> std::unique_ptr<Store> {
                                     auto opened = openSqliteStore(dbPath(dir));
                                     if (!opened) {
                                       ADD_FAILURE() << opened.error().message;
                                       return nullptr;
                                     }
                                     return std::move(*opened);
                                   }}),
    storeFactoryName);

// A plain SQLite connection to the store's file, as an intruder would open it.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs `sql`; returns "" on success, else SQLite's message.
  std::string exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return "";
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return message;
  }
  // The first column of the first row of `sql` as text ("" when there is none).
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_);
      return value;
    }
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = open(); }

  std::unique_ptr<Store> open() {
    auto opened = openSqliteStore(path_);
    EXPECT_TRUE(opened.has_value()) << opened.error().message;
    return opened ? std::move(*opened) : nullptr;
  }

  std::vector<EventRecord> appendEvents(int n) {
    std::vector<EventRecord> records;
    for (int i = 0; i < n; ++i) {
      auto record = store_->appendEvent(
          event("step.started", "dep-1", 1000 * i, R"({"step":)" + std::to_string(i) + "}"));
      EXPECT_TRUE(record.has_value());
      if (record) records.push_back(*record);
    }
    return records;
  }

  TempDir dir_;
  std::string path_ = dbPath(dir_.path());
  std::unique_ptr<Store> store_;
};

// ---- tampering --------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, GuardTriggersRefuseUpdateAndDelete) {
  appendEvents(2);
  RawDb raw(path_);
  EXPECT_THAT(raw.exec("UPDATE events SET reason = 'x' WHERE seq = 1"),
              ::testing::HasSubstr("append-only"));
  EXPECT_THAT(raw.exec("DELETE FROM events WHERE seq = 1"), ::testing::HasSubstr("append-only"));
  EXPECT_TRUE(store_->verifyChain()->intact());
}

TEST_F(SqliteStoreTest, EditedRowIsReportedWithExpectedAndFoundHash) {
  auto records = appendEvents(5);
  ASSERT_EQ(records.size(), 5u);
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("DROP TRIGGER events_no_update"), "");
    ASSERT_EQ(raw.exec("UPDATE events SET reason = 'nothing to see' WHERE seq = 3"), "");
  }
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value()) << report.error().message;
  ASSERT_FALSE(report->intact());
  const ChainBreak& found = *report->first_break;
  EXPECT_EQ(found.seq, 3);
  EXPECT_EQ(found.at, records[2].at);
  EXPECT_EQ(found.reason, kBreakHashMismatch);
  EXPECT_EQ(found.found_hash, records[2].hash);
  NewEvent edited{records[2].at,      records[2].actor, records[2].kind, records[2].subject,
                  "nothing to see", records[2].data_json};
  EXPECT_EQ(found.expected_hash, testSha256Hex(records[1].hash + canonicalEvent(3, edited)));
  EXPECT_NE(found.expected_hash, found.found_hash);
  EXPECT_EQ(report->events, 3);

  // A reopened store (e.g. `runway audit verify`) finds the same break.
  store_.reset();
  store_ = open();
  ASSERT_NE(store_, nullptr);
  auto again = store_->verifyChain();
  ASSERT_TRUE(again.has_value());
  ASSERT_FALSE(again->intact());
  EXPECT_EQ(again->first_break->seq, 3);
}

TEST_F(SqliteStoreTest, RehashedRowIsReportedWhereTheLinkBreaks) {
  auto records = appendEvents(5);
  {
    // A careful intruder also recomputes row 3's hash; row 4 no longer links to it.
    NewEvent edited{records[2].at,    records[2].actor, records[2].kind, records[2].subject,
                    "rewritten",      records[2].data_json};
    std::string rehash = testSha256Hex(records[1].hash + canonicalEvent(3, edited));
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("DROP TRIGGER events_no_update"), "");
    ASSERT_EQ(raw.exec("UPDATE events SET reason = 'rewritten', hash = '" + rehash +
                       "' WHERE seq = 3"),
              "");
  }
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value());
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->seq, 4);
  EXPECT_EQ(report->first_break->reason, kBreakBrokenLink);
  EXPECT_EQ(report->first_break->found_hash, records[2].hash);  // row 4's prev_hash
  EXPECT_NE(report->first_break->expected_hash, records[2].hash);
}

// ---- the audit key ---------------------------------------------------------------------------

AuditKey testKey(char fill, std::optional<std::int64_t> since = 1) {
  return auditKeyFromSecret(std::string(32, fill), since);
}

std::unique_ptr<Store> openKeyed(const std::string& path, std::optional<AuditKey> key) {
  auto opened = openSqliteStore(path, std::move(key));
  EXPECT_TRUE(opened.has_value()) << opened.error().message;
  return opened ? std::move(*opened) : nullptr;
}

// Rewrites every row from `from` on with plain SHA-256 links, as an intruder without the key
// can: `reason` of row `from` becomes "rewritten"; key_id is set to `key_id`.
void rewriteWithoutKey(const std::string& path, std::vector<EventRecord> records, std::int64_t from,
                       const std::string& key_id) {
  RawDb raw(path);
  ASSERT_EQ(raw.exec("DROP TRIGGER events_no_update"), "");
  std::string prev = from == 1 ? kZeroHash : records[static_cast<std::size_t>(from - 2)].hash;
  for (auto& r : records) {
    if (r.seq < from) continue;
    if (r.seq == from) r.reason = "rewritten";
    NewEvent e{r.at, r.actor, r.kind, r.subject, r.reason, r.data_json};
    const std::string hash = testSha256Hex(prev + canonicalEvent(r.seq, e));
    ASSERT_EQ(raw.exec(fmt::format("UPDATE events SET reason = '{}', prev_hash = '{}', hash = '{}', key_id = '{}' "
                                   "WHERE seq = {}",
                                   r.reason, prev, hash, key_id, r.seq)),
              "");
    prev = hash;
  }
  ASSERT_EQ(raw.exec(fmt::format("UPDATE event_chain_head SET hash = '{}'", prev)), "");
}

TEST_F(SqliteStoreTest, KeyedChainIsVerifiedWithItsKeyOnly) {
  store_ = openKeyed(path_, testKey('a'));
  auto records = appendEvents(3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key_id, testKey('a').id);
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->intact());
  EXPECT_EQ(report->events, 3);
  EXPECT_EQ(report->unkeyed, 0);
  EXPECT_EQ(report->key_id, testKey('a').id);

  store_ = openKeyed(path_, testKey('b'));
  auto other = store_->verifyChain();
  ASSERT_FALSE(other->intact());
  EXPECT_EQ(other->first_break->seq, 1);
  EXPECT_EQ(other->first_break->reason, kBreakOtherKey);

  store_ = openKeyed(path_, std::nullopt);
  auto none = store_->verifyChain();
  ASSERT_FALSE(none->intact());
  EXPECT_EQ(none->first_break->reason, kBreakKeyNeeded);
  // Nor can a store without the key append to the keyed chain.
  auto appended = store_->appendEvent(event("late"));
  ASSERT_FALSE(appended.has_value());
  EXPECT_EQ(appended.error().code, ErrorCode::FailedPrecondition);
}

TEST_F(SqliteStoreTest, RewriteBySomeoneWithoutTheKeyIsFound) {
  store_ = openKeyed(path_, testKey('a'));
  auto records = appendEvents(5);
  ASSERT_EQ(records.size(), 5u);
  // Re-hashed from row 3 on with SHA-256, keeping the key's id: row 3's hash is not its HMAC.
  rewriteWithoutKey(path_, records, 3, testKey('a').id);
  auto report = store_->verifyChain();
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->seq, 3);
  EXPECT_EQ(report->first_break->reason, kBreakHashMismatch);
}

TEST_F(SqliteStoreTest, DowngradeToUnkeyedLinksIsFound) {
  store_ = openKeyed(path_, testKey('a'));
  auto records = appendEvents(5);
  ASSERT_EQ(records.size(), 5u);
  // From row 3 on as if written before the key: after a keyed row, that cannot be.
  rewriteWithoutKey(path_, records, 3, "");
  auto report = store_->verifyChain();
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->seq, 3);
  EXPECT_EQ(report->first_break->reason, kBreakNotKeyed);
}

TEST_F(SqliteStoreTest, WholeLogDowngradeIsFoundWhenTheKeyFileSaysSince) {
  store_ = openKeyed(path_, testKey('a', 1));
  auto records = appendEvents(3);
  ASSERT_EQ(records.size(), 3u);
  rewriteWithoutKey(path_, records, 1, "");
  auto report = store_->verifyChain();
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->seq, 1);
  EXPECT_EQ(report->first_break->reason, kBreakNotKeyed);
  // A key file without "since" cannot tell: every record is reported as verified without it.
  store_ = openKeyed(path_, testKey('a', std::nullopt));
  auto unknown = store_->verifyChain();
  EXPECT_TRUE(unknown->intact());
  EXPECT_EQ(unknown->unkeyed, 3);
}

// Migration: a store from before the key keeps its records, verified the old way, and the
// records after the key is introduced are linked with it.
TEST_F(SqliteStoreTest, RecordsFromBeforeTheKeyAreVerifiedTheOldWay) {
  auto before = appendEvents(2);
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(before[1].key_id, "");
  store_ = openKeyed(path_, testKey('a', 3));
  auto after = appendEvents(2);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].seq, 3);
  EXPECT_EQ(after[0].key_id, testKey('a').id);
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->intact()) << report->first_break->reason;
  EXPECT_EQ(report->events, 4);
  EXPECT_EQ(report->unkeyed, 2);
}

TEST(AuditKeyFileTest, CreatedOnceWithMode0600AndReadBack) {
  TempDir dir;
  const std::filesystem::path base(dir.path());
  const auto file = base / "audit.key";
  const auto db = dbPath(dir.path());
  {
    auto store = openSqliteStore(db);
    ASSERT_TRUE(store.has_value());
    ASSERT_TRUE((*store)->appendEvent(event("one")).has_value());
  }
  auto made = ensureAuditKey(file, db);
  ASSERT_TRUE(made.has_value()) << made.error().message;
  EXPECT_EQ(made->since, 2);  // the store already had one event
  EXPECT_EQ(made->secret.size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = ensureAuditKey(file, db);  // read, not replaced
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->secret, made->secret);
  EXPECT_EQ(again->id, made->id);
  EXPECT_EQ(again->since, 2);
  // The id names the key without giving it away.
  EXPECT_EQ(made->id.size(), 17u);
  EXPECT_EQ(made->id.find(testSha256Hex(made->secret).substr(0, 16)), std::string::npos);

  std::ofstream(base / "bad.key") << "not a key\n";
  auto bad = readAuditKey(base / "bad.key");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(bad.error().message.find("not a key\n"), std::string::npos);
  EXPECT_EQ(readAuditKey(base / "missing.key").error().code, ErrorCode::NotFound);
}

TEST_F(SqliteStoreTest, DeletedRowIsASequenceGap) {
  auto records = appendEvents(5);
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("DROP TRIGGER events_no_delete"), "");
    ASSERT_EQ(raw.exec("DELETE FROM events WHERE seq = 3"), "");
  }
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value());
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->reason, kBreakSequenceGap);
  EXPECT_EQ(report->first_break->seq, 4);
  EXPECT_EQ(report->first_break->expected_seq, 3);
  EXPECT_EQ(report->first_break->at, records[3].at);
  EXPECT_EQ(report->first_break->expected_hash, records[1].hash);
  EXPECT_EQ(report->first_break->found_hash, records[2].hash);
}

TEST_F(SqliteStoreTest, DeletedLastRowsAreATruncation) {
  auto records = appendEvents(5);
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("DROP TRIGGER events_no_delete"), "");
    ASSERT_EQ(raw.exec("DELETE FROM events WHERE seq >= 4"), "");
  }
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value());
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->reason, kBreakTruncated);
  EXPECT_EQ(report->first_break->seq, 5);
  EXPECT_EQ(report->first_break->at, records[4].at);
  EXPECT_EQ(report->first_break->expected_hash, records[4].hash);
  EXPECT_EQ(report->first_break->found_hash, records[2].hash);
  EXPECT_EQ(report->events, 3);
}

TEST_F(SqliteStoreTest, RowAppendedBehindTheStoresBackIsAHeadMismatch) {
  auto records = appendEvents(2);
  {
    NewEvent forged = event("forged", "dep-1", 5000);
    std::string hash = testSha256Hex(records[1].hash + canonicalEvent(3, forged));
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("INSERT INTO events (seq, at_ms, actor, kind, subject, reason, data_json, prev_hash, "
                       "hash) VALUES (3, " +
                       std::to_string(toUnixMillis(forged.at)) +
                       ", 'alice', 'forged', 'dep-1', 'test', '{}', '" + records[1].hash +
                       "', '" + hash + "')"),
              "");
  }
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value());
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->reason, kBreakHeadMismatch);
  EXPECT_EQ(report->first_break->seq, 3);
  EXPECT_EQ(report->first_break->expected_hash, records[1].hash);
}

// ---- all or nothing ---------------------------------------------------------------------------

class FailingEventInsertTest : public SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->createDeployment(deployment("dep-0"), {event("created", "dep-0")}));
    RawDb raw(path_);
    // Makes the database itself refuse one event insert, after earlier rows were written.
    ASSERT_EQ(raw.exec("CREATE TRIGGER fail_boom BEFORE INSERT ON events WHEN NEW.kind = 'boom' "
                       "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"),
              "");
  }
  void expectUnchanged() {
    auto events = store_->listEvents({});
    ASSERT_TRUE(events.has_value());
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ((*events)[0].kind, "created");
    EXPECT_TRUE(store_->verifyChain()->intact());
  }
};

TEST_F(FailingEventInsertTest, CreateDeploymentLeavesNothing) {
  auto created =
      store_->createDeployment(deployment("dep-1"), {event("ok", "dep-1"), event("boom", "dep-1")});
  ASSERT_FALSE(created.has_value());
  EXPECT_THAT(created.error().message, ::testing::HasSubstr("injected failure"));
  EXPECT_EQ(store_->getDeployment("dep-1").error().code, ErrorCode::NotFound);
  expectUnchanged();
  // The store keeps working after the rollback.
  EXPECT_TRUE(store_->createDeployment(deployment("dep-1"), {event("ok", "dep-1")}).has_value());
}

TEST_F(FailingEventInsertTest, UpdateDeploymentLeavesNothing) {
  DeploymentRecord change = *store_->getDeployment("dep-0");
  change.phase = "Progressing";
  auto updated = store_->updateDeployment(change, {event("ok"), event("boom")});
  ASSERT_FALSE(updated.has_value());
  auto got = store_->getDeployment("dep-0");
  EXPECT_EQ(got->revision, 1);
  EXPECT_EQ(got->phase, "Pending");
  expectUnchanged();
}

TEST_F(FailingEventInsertTest, AddApprovalLeavesNothing) {
  auto added = store_->addApproval({"dep-0", "bob", "tech-lead", true, "", at(1)},
                                   {event("ok"), event("boom")});
  ASSERT_FALSE(added.has_value());
  EXPECT_TRUE(store_->listApprovals("dep-0")->empty());
  expectUnchanged();
}

TEST_F(FailingEventInsertTest, AppendEventLeavesNothing) {
  auto appended = store_->appendEvent(event("boom"));
  ASSERT_FALSE(appended.has_value());
  expectUnchanged();
}

// ---- the file ---------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, ReopenKeepsEverything) {
  ASSERT_TRUE(store_->putRelease({"shop", "v1", {{"api", "api:v1"}}, at(0)}).has_value());
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  ASSERT_TRUE(store_->addApproval({"dep-1", "bob", "tech-lead", true, "", at(1)}, {}));
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{1000}, at(0)));
  store_.reset();

  store_ = open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->getRelease("shop", "v1")->artifacts.at("api"), "api:v1");
  EXPECT_EQ(store_->getDeployment("dep-1")->revision, 1);
  EXPECT_EQ(store_->listApprovals("dep-1")->size(), 1u);
  EXPECT_EQ((*store_->getLease("controller"))->holder, "node-a");
  auto next = store_->appendEvent(event("later"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->seq, 2);
  auto report = store_->verifyChain();
  EXPECT_TRUE(report->intact());
  EXPECT_EQ(report->events, 2);
}

TEST_F(SqliteStoreTest, FileIsInWalModeWithMigrationsRecorded) {
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.scalar("SELECT group_concat(version) FROM "
                       "(SELECT version FROM schema_migrations ORDER BY version)"),
            "1,2,3,4,5,6,7,8,9");
}

// A store written by the release before tokens (schema 1) gains the tokens table on open and
// keeps its data.
TEST_F(SqliteStoreTest, SchemaOneStoreIsMigratedToTokensKeepingItsData) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("DROP TABLE tokens; DROP TABLE serving; DROP TABLE notifications; "
                       "ALTER TABLE events DROP COLUMN key_id; ALTER TABLE deployments DROP COLUMN evidence_json; "
                       "ALTER TABLE leases DROP COLUMN term; DROP TABLE config_snapshots; DELETE FROM schema_migrations WHERE version >= 2"),
              "");
  }
  store_ = open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->getDeployment("dep-1")->revision, 1);
  ASSERT_TRUE(store_->createToken(token("aaaaaaaaaaaaaaaa"), {event("token.created")}));
  EXPECT_EQ(store_->getToken("aaaaaaaaaaaaaaaa")->name, "alice");
  EXPECT_TRUE(store_->verifyChain()->intact());
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM schema_migrations"), "9");
}

// A store written before serving records (schema 2) gains the serving table on open, empty: what
// serves there is read the old way until the next promotion writes it.
TEST_F(SqliteStoreTest, SchemaTwoStoreGainsAnEmptyServingTable) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("DROP TABLE serving; DROP TABLE notifications; "
                       "ALTER TABLE tokens DROP COLUMN expires_at_ms; ALTER TABLE events DROP COLUMN key_id; "
                       "ALTER TABLE deployments DROP COLUMN evidence_json; "
                       "ALTER TABLE leases DROP COLUMN term; DROP TABLE config_snapshots; DELETE FROM schema_migrations WHERE version >= 3"),
              "");
  }
  store_ = open();
  ASSERT_NE(store_, nullptr);
  EXPECT_FALSE(store_->getServing("staging")->has_value());
  DeploymentRecord change = *store_->getDeployment("dep-1");
  change.phase = "Succeeded";
  ASSERT_TRUE(store_->updateDeployment(change, {}, {}, ServingRecord{"staging", "v1.0.0", "dep-1", "", at(1)}));
  EXPECT_EQ((*store_->getServing("staging"))->version, "v1.0.0");
}

// A store written before token lifetimes (schema 4): its tokens do not expire after the
// migration, and new tokens keep their expiry.
TEST_F(SqliteStoreTest, SchemaFourStoreKeepsItsTokensWithoutExpiry) {
  ASSERT_TRUE(store_->createToken(token("aaaaaaaaaaaaaaaa"), {event("token.created")}));
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("ALTER TABLE tokens DROP COLUMN expires_at_ms; ALTER TABLE events DROP COLUMN key_id; "
                       "ALTER TABLE deployments DROP COLUMN evidence_json; "
                       "ALTER TABLE leases DROP COLUMN term; DROP TABLE config_snapshots; DELETE FROM schema_migrations WHERE version >= 5"),
              "");
  }
  store_ = open();
  ASSERT_NE(store_, nullptr);
  auto old = store_->getToken("aaaaaaaaaaaaaaaa");
  ASSERT_TRUE(old.has_value());
  EXPECT_FALSE(old->expires_at.has_value());
  TokenRecord expiring = token("bbbbbbbbbbbbbbbb");
  expiring.expires_at = at(3600);
  ASSERT_TRUE(store_->createToken(expiring, {event("token.created")}));
  EXPECT_EQ(store_->getToken("bbbbbbbbbbbbbbbb")->expires_at, at(3600));
  EXPECT_EQ(store_->listTokens()->at(1).expires_at, at(3600));
  EXPECT_FALSE(store_->listTokens()->at(0).expires_at.has_value());
}

// A store written before the notification outbox (schema 3) gains an empty outbox on open.
TEST_F(SqliteStoreTest, SchemaThreeStoreGainsAnEmptyOutbox) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("DROP TABLE notifications; ALTER TABLE tokens DROP COLUMN expires_at_ms; "
                       "ALTER TABLE events DROP COLUMN key_id; ALTER TABLE deployments DROP COLUMN evidence_json; "
                       "ALTER TABLE leases DROP COLUMN term; DROP TABLE config_snapshots; DELETE FROM schema_migrations WHERE version >= 4"),
              "");
  }
  store_ = open();
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(store_->listNotifications({})->empty());
  DeploymentRecord change = *store_->getDeployment("dep-1");
  change.phase = "Failed";
  ASSERT_TRUE(store_->updateDeployment(change, {}, {}, std::nullopt,
                                       {NewNotification{at(1), "slack", "deployment.failed", "dep-1",
                                                        "staging", "runway/dep-1", "{}"}}));
  EXPECT_EQ(store_->listNotifications({})->size(), 1u);
}

// A store written before release evidence (schema 4) gains the column on open: its deployments
// have none ("{}"), new ones keep theirs, and a commit leaves it as created.
TEST_F(SqliteStoreTest, SchemaFourStoreGainsEmptyEvidenceAndNewDeploymentsKeepTheirs) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("ALTER TABLE deployments DROP COLUMN evidence_json; "
                       "ALTER TABLE tokens DROP COLUMN expires_at_ms; ALTER TABLE events DROP COLUMN key_id; "
                       "ALTER TABLE leases DROP COLUMN term; DROP TABLE config_snapshots; DELETE FROM schema_migrations WHERE version >= 5"),
              "");
  }
  store_ = open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->getDeployment("dep-1")->evidence_json, "{}");

  ReleaseEvidence evidence;
  evidence.commit = "0123456789abcdef0123456789abcdef01234567";
  evidence.repository = "acme/shop";
  evidence.attachments.push_back(Attachment{"tests", "junit.xml", "<testsuite tests=\"1\"/>"});
  DeploymentRecord with = deployment("dep-2");
  with.evidence_json = toJson(evidence);
  ASSERT_TRUE(store_->createDeployment(with, {event("created", "dep-2")}));
  DeploymentRecord change = *store_->getDeployment("dep-2");
  change.phase = "Succeeded";
  change.evidence_json = "{}";  // a commit never replaces the evidence
  ASSERT_TRUE(store_->updateDeployment(change, {}));
  auto stored = store_->getDeployment("dep-2");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->phase, "Succeeded");
  EXPECT_EQ(parseEvidence(stored->evidence_json), evidence);
  auto listed = store_->listDeployments({});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ(listed->front().evidence_json, stored->evidence_json);

  DeploymentRecord bad = deployment("dep-3");
  bad.evidence_json = "{not json";
  auto refused = store_->createDeployment(bad, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(store_->getDeployment("dep-3"));
}

TEST(ReleaseEvidence, ValidatesEachFieldAndRoundTrips) {
  ReleaseEvidence e;
  EXPECT_TRUE(validateEvidence(e));
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(parseEvidence("{}"), e);
  e.commit = "abc1234";
  e.repository = "acme-corp/shop.web";
  e.attachments = {Attachment{"vulnerabilities", "trivy.json", "{}"},
                   Attachment{"changelog", "CHANGES.md", "## v1.2.0\n- faster quotes"}};
  EXPECT_TRUE(validateEvidence(e));
  EXPECT_EQ(parseEvidence(toJson(e)), e);
  ASSERT_NE(e.attachment("changelog"), nullptr);
  EXPECT_EQ(e.attachment("tests"), nullptr);

  const auto reason = [](ReleaseEvidence x) {
    auto r = validateEvidence(x);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error().message;
  };
  ReleaseEvidence x = e;
  x.commit = "ABC1234";
  EXPECT_THAT(reason(x), ::testing::HasSubstr("commit: \"ABC1234\" is not a commit SHA"));
  x = e;
  x.commit = "abc12";
  EXPECT_THAT(reason(x), ::testing::HasSubstr("commit:"));
  x = e;
  x.repository = "shop";
  EXPECT_THAT(reason(x), ::testing::HasSubstr("repository: \"shop\" is not OWNER/NAME"));
  x.repository = "acme/../etc";
  EXPECT_THAT(reason(x), ::testing::HasSubstr("repository:"));
  x = e;
  x.attachments.push_back(Attachment{"sbom", "sbom.json", "{}"});
  EXPECT_THAT(reason(x), ::testing::HasSubstr("attachments.sbom: unknown attachment kind"));
  x = e;
  x.attachments.push_back(Attachment{"vulnerabilities", "grype.json", "{}"});
  EXPECT_THAT(reason(x), ::testing::HasSubstr("attachments.vulnerabilities: attached twice"));
  x = e;
  x.attachments[0].content.clear();
  EXPECT_THAT(reason(x), ::testing::HasSubstr("attachments.vulnerabilities: trivy.json is empty"));
  x = e;
  x.attachments[0].content.assign(kMaxAttachmentBytes + 1, 'a');
  EXPECT_THAT(reason(x), ::testing::HasSubstr("more than the 262144 bytes"));
  x = e;
  x.attachments[0].content = "\xff\xfe";
  EXPECT_THAT(reason(x), ::testing::HasSubstr("trivy.json is not UTF-8 text"));

  EXPECT_FALSE(parseEvidence("[]"));
  EXPECT_FALSE(parseEvidence(R"({"commit": 7})"));
  EXPECT_FALSE(parseEvidence(R"({"attachments": [{"kind": 1}]})"));
}

// Only the salted hash reaches the file.
TEST_F(SqliteStoreTest, TokenRowHoldsTheHashAndNullUntilRevoked) {
  TokenRecord record = token("aaaaaaaaaaaaaaaa");
  ASSERT_TRUE(store_->createToken(record, {}));
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT hash FROM tokens"), record.hash);
  EXPECT_EQ(raw.scalar("SELECT revoked_at_ms IS NULL FROM tokens"), "1");
  ASSERT_TRUE(store_->revokeToken(record.id, fromUnixMillis(0), {}));
  // Revoked at the epoch is still revoked: NULL, not 0, means live.
  EXPECT_EQ(raw.scalar("SELECT revoked_at_ms FROM tokens"), "0");
  auto got = store_->getToken(record.id);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->revoked_at.has_value());
  EXPECT_EQ(*got->revoked_at, fromUnixMillis(0));
}

TEST_F(SqliteStoreTest, ForeignKeysAreEnforced) {
  // addApproval checks the deployment itself; the schema backs it up.
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {}));
  RawDb raw(path_);
  ASSERT_EQ(raw.exec("PRAGMA foreign_keys = ON"), "");
  EXPECT_THAT(raw.exec("INSERT INTO approvals VALUES ('dep-x', 'bob', 'r', 1, '', 0)"),
              ::testing::HasSubstr("FOREIGN KEY"));
}

TEST_F(SqliteStoreTest, FileIsPrivateToItsOwner) {
  ASSERT_TRUE(store_->appendEvent(event("k")).has_value());  // the -wal file exists now
  for (const std::string& file : {path_, path_ + "-wal"}) {
    struct stat info {};
    ASSERT_EQ(::stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

TEST_F(SqliteStoreTest, SchemaNewerThanTheBinaryIsRefused) {
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.exec("INSERT INTO schema_migrations (version) VALUES (99)"), "");
  }
  auto opened = openSqliteStore(path_);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::FailedPrecondition);
  EXPECT_THAT(opened.error().message, ::testing::HasSubstr("schema version 99"));
  EXPECT_THAT(opened.error().message, ::testing::HasSubstr("upgrade runway"));
  EXPECT_THAT(opened.error().message, ::testing::HasSubstr(path_));
}

TEST(SqliteStoreOpen, MissingDirectoryIsUnavailableAndNamesThePath) {
  TempDir dir;
  std::string path = dir.path() + "/no/such/dir/runway.db";
  auto opened = openSqliteStore(path);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(opened.error().message, ::testing::HasSubstr(path));
}

TEST(SqliteStoreOpen, FileThatIsNotADatabaseIsRefused) {
  TempDir dir;
  std::string path = dir.path() + "/runway.db";
  std::ofstream(path) << "these are not the pages you are looking for, "
                         "and this text is long enough to fill a header\n";
  auto opened = openSqliteStore(path);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::FailedPrecondition);
  EXPECT_THAT(opened.error().message, ::testing::HasSubstr(path));
}

TEST_F(SqliteStoreTest, SecondStoreOnTheSameFileSeesCommittedWrites) {
  auto second = open();
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  auto seen = second->getDeployment("dep-1");
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->revision, 1);

  // Compare-and-swap across the two: the second writer with the old revision loses.
  DeploymentRecord a = *seen;
  a.phase = "Progressing";
  ASSERT_TRUE(second->updateDeployment(a, {event("a", "dep-1")}).has_value());
  DeploymentRecord b = *seen;
  b.phase = "Aborting";
  auto stale = store_->updateDeployment(b, {event("b", "dep-1")});
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::Conflict);

  // A lease held through one handle is seen as held through the other.
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{1000}, at(0)));
  EXPECT_FALSE(*second->acquireLease("controller", "node-b", Duration{1000}, at(500)));
}

TEST_F(SqliteStoreTest, ConcurrentWritersThroughTwoStoresKeepOneChain) {
  auto second = open();
  ASSERT_NE(second, nullptr);
  constexpr int kPerWriter = 100;
  auto write = [](Store* store, const std::string& actor, std::vector<std::int64_t>* seqs) {
    for (int i = 0; i < kPerWriter; ++i) {
      NewEvent e = event("tick", actor, i);
      e.actor = actor;
      auto record = store->appendEvent(e);
      if (record) seqs->push_back(record->seq);
    }
  };
  std::vector<std::int64_t> a_seqs;
  std::vector<std::int64_t> b_seqs;
  std::thread a(write, store_.get(), "a", &a_seqs);
  std::thread b(write, second.get(), "b", &b_seqs);
  a.join();
  b.join();
  EXPECT_EQ(a_seqs.size(), static_cast<std::size_t>(kPerWriter));
  EXPECT_EQ(b_seqs.size(), static_cast<std::size_t>(kPerWriter));
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->intact());
  EXPECT_EQ(report->events, 2 * kPerWriter);
}

}  // namespace
}  // namespace runway::store::testing
