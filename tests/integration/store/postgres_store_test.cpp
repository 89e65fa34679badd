// The Store contract against a real PostgreSQL 15 (one server for the executable, a fresh
// database per test), plus what only a database server shows: restarts between and during
// writes, two stores on one database, logins with a password, tampering behind runway's back,
// schema versions, and the copy of an SQLite store (`runway store migrate`).

#include <atomic>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "runway/store/postgres_store.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/postgres.hpp"
#include "unit/store/store_contract.hpp"

namespace runway::store::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// The executable's server: started by the first test that needs it, stopped after the last.
test::PostgresServer* sharedServer() {
  static std::unique_ptr<test::PostgresServer> server;
  static std::string failure;
  if (!server && failure.empty()) {
    auto started = test::PostgresServer::start();
    if (started) {
      server = std::move(*started);
    } else {
      failure = started.error().message;
    }
  }
  if (!server) ADD_FAILURE() << "cannot start PostgreSQL: " << failure;
  return server.get();
}

// A new empty database on the shared server.
std::optional<std::string> freshDatabase() {
  static std::atomic<int> next{0};
  test::PostgresServer* server = sharedServer();
  if (server == nullptr) return std::nullopt;
  const std::string name = fmt::format("runway_{}_{}", ::getpid(), next++);
  auto made = server->createDatabase(name);
  if (!made) {
    ADD_FAILURE() << made.error().message;
    return std::nullopt;
  }
  return server->url(name);
}

std::unique_ptr<Store> openOrFail(const PostgresOptions& options,
                                  std::optional<AuditKey> key = std::nullopt) {
  auto opened = openPostgresStore(options, std::move(key));
  if (!opened) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  return std::move(*opened);
}

INSTANTIATE_TEST_SUITE_P(
    Postgres, StoreContract,
    ::testing::Values(StoreFactory{"Postgres",
                                   [](const std::string&) -> std::unique_ptr<Store> {
                                     auto url = freshDatabase();
                                     if (!url) return nullptr;
                                     return openOrFail({*url, std::nullopt});
                                   }}),
    storeFactoryName);

AuditKey testKey(char fill) { return auditKeyFromSecret(std::string(32, fill)); }

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = freshDatabase();
    ASSERT_TRUE(url);
    url_ = *url;
    database_ = url_.substr(url_.rfind('/') + 1);
    store_ = openOrFail({url_, std::nullopt});
    ASSERT_NE(store_, nullptr);
  }
  std::string psql(const std::string& sql) {
    auto out = sharedServer()->psql(database_, sql);
    EXPECT_TRUE(out) << out.error().message;
    return out ? *out : "";
  }
  // Whether exactly one session of this database matches `condition` (pg_stat_activity).
  bool waiting(const std::string& condition) {
    return psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND " + condition) == "1\n";
  }
  // Another session (psql) that holds the event chain's head row for 6 s: an append waits
  // behind it. Returns once that session sleeps with the row locked.
  std::optional<test::Subprocess> holdChainHead() {
    test::SubprocessOptions o;
    o.argv = {"psql", "-X", "-q", "-h", "127.0.0.1", "-p", std::to_string(sharedServer()->port()), "-U", "postgres",
              "-d", database_, "-c", "BEGIN; SELECT seq FROM event_chain_head FOR UPDATE; SELECT pg_sleep(6); COMMIT;"};
    o.stdout_to = test::Output::null();
    auto hold = test::Subprocess::start(std::move(o));
    EXPECT_TRUE(hold) << hold.error().message;
    if (!hold) return std::nullopt;
    EXPECT_TRUE(test::pollUntil([&] { return waiting("wait_event = 'PgSleep'"); }, test::deadlineIn(30s)));
    return std::move(*hold);
  }

  std::string url_;
  std::string database_;
  std::unique_ptr<Store> store_;
};

TEST_F(PostgresStoreTest, MigrationsAreRecordedOnceAndReopeningAppliesNothing) {
  EXPECT_EQ(psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"), "1,2,3\n");
  ASSERT_TRUE(store_->putRelease({"shop", "v1", {{"api", "api:v1"}}, at(0)}));
  auto again = openOrFail({url_, std::nullopt});
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(psql("SELECT count(*) FROM schema_migrations"), "3\n");
  EXPECT_EQ(again->getRelease("shop", "v1")->artifacts.at("api"), "api:v1");
}

TEST_F(PostgresStoreTest, SchemaNewerThanTheBinaryIsRefused) {
  psql("INSERT INTO schema_migrations (version) VALUES (99)");
  auto opened = openPostgresStore({url_, std::nullopt});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::FailedPrecondition);
  EXPECT_THAT(opened.error().message, HasSubstr("schema version 99"));
}

TEST_F(PostgresStoreTest, ServersStartingTogetherMigrateOnce) {
  auto url = freshDatabase();
  ASSERT_TRUE(url);
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (openPostgresStore({*url, std::nullopt})) ++opened;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), 4);
  auto out = sharedServer()->psql(url->substr(url->rfind('/') + 1),
                                  "SELECT count(*) FROM schema_migrations");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "3\n");
}

TEST_F(PostgresStoreTest, GuardTriggerRefusesUpdateAndTheChainFindsAnEditBehindItsBack) {
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(store_->appendEvent(event("e" + std::to_string(i))));
  auto refused = sharedServer()->psql(database_, "UPDATE events SET reason = 'x' WHERE seq = 2");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("append-only"));
  psql("ALTER TABLE events DISABLE TRIGGER events_append_only; "
       "UPDATE events SET reason = 'edited' WHERE seq = 2");
  auto report = store_->verifyChain();
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->seq, 2);
  EXPECT_EQ(report->first_break->reason, kBreakHashMismatch);
  psql("DELETE FROM events WHERE seq = 4");
  psql("UPDATE events SET reason = 'test' WHERE seq = 2");
  report = store_->verifyChain();
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->first_break->reason, kBreakTruncated);
}

TEST_F(PostgresStoreTest, KeyedChainNeedsItsKey) {
  store_ = openOrFail({url_, std::nullopt}, testKey('a'));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->appendEvent(event("keyed")));
  auto report = store_->verifyChain();
  ASSERT_TRUE(report->intact());
  EXPECT_EQ(report->events, 3);
  EXPECT_EQ(report->key_id, testKey('a').id);
  auto other = openOrFail({url_, std::nullopt}, testKey('b'));
  EXPECT_EQ(other->verifyChain()->first_break->reason, kBreakOtherKey);
  auto none = openOrFail({url_, std::nullopt});
  auto appended = none->appendEvent(event("late"));
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, ErrorCode::FailedPrecondition);
}

TEST_F(PostgresStoreTest, TwoStoresOnOneDatabaseKeepOneChainAndOneRevision) {
  auto other = openOrFail({url_, std::nullopt});
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  std::vector<std::thread> writers;
  for (Store* s : {store_.get(), other.get()}) {
    writers.emplace_back([s] {
      for (int i = 0; i < 50; ++i) EXPECT_TRUE(s->appendEvent(event("tick")));
    });
  }
  for (auto& w : writers) w.join();
  auto report = other->verifyChain();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->intact());
  EXPECT_EQ(report->events, 101);
  // Both read revision 1; one commit wins, the other is a Conflict and writes nothing.
  DeploymentRecord a = *store_->getDeployment("dep-1");
  DeploymentRecord b = *other->getDeployment("dep-1");
  a.phase = "Progressing";
  b.phase = "Aborted";
  ASSERT_TRUE(store_->updateDeployment(a, {event("a")}));
  auto lost = other->updateDeployment(b, {event("b")});
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ErrorCode::Conflict);
  EXPECT_EQ(other->getDeployment("dep-1")->phase, "Progressing");
  EXPECT_EQ(other->verifyChain()->events, 102);
}

// Fencing across two servers: the old leader's store, paused past its lease, has its write
// refused once another store took the lease; the new leader's write goes through.
TEST_F(PostgresStoreTest, AStaleLeadersWriteIsRefusedAfterAnotherStoreTookTheLease) {
  auto other = openOrFail({url_, std::nullopt});
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(*store_->acquireLease("controller", "server-1", std::chrono::seconds(10), at(0)));
  store_->setFence(Fence{"controller", "server-1", (*store_->getLease("controller"))->term});
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  DeploymentRecord change = *store_->getDeployment("dep-1");

  ASSERT_TRUE(*other->acquireLease("controller", "server-2", std::chrono::seconds(10), at(11'000)));
  other->setFence(Fence{"controller", "server-2", (*other->getLease("controller"))->term});
  change.phase = "Aborted";
  auto stale = store_->updateDeployment(change, {event("aborted", "dep-1")});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::FailedPrecondition);
  EXPECT_THAT(stale.error().message, HasSubstr("held by server-2 at term 2"));
  change.phase = "Progressing";
  ASSERT_TRUE(other->updateDeployment(change, {event("progressing", "dep-1")}));
  EXPECT_EQ(store_->getDeployment("dep-1")->phase, "Progressing");
  EXPECT_EQ(other->verifyChain()->events, 2);
}

// The leader's renewal never waits for its own fenced writes. A write of the leader's in flight
// (here stalled behind the chain head, which another session holds) has its lease row locked for
// the fence; a renewal queued behind it let the lease lapse while the leader waited, silently,
// and another server took over (issue 18's three-server trials: a leader "froze" 12-19 s, then
// its next write was refused). A takeover by another holder still waits for that write, so the
// write is never visible after the new term began.
TEST_F(PostgresStoreTest, TheHoldersRenewalDoesNotWaitForItsFencedWriteInFlight) {
  auto leader = openOrFail({url_, std::nullopt});  // the leader's main store; store_ holds its lease
  auto other = openOrFail({url_, std::nullopt});   // another server's lease connection
  ASSERT_NE(leader, nullptr);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(*store_->acquireLease("controller", "server-1", std::chrono::seconds(2), at(0)));
  const auto term = (*store_->getLease("controller"))->term;
  leader->setFence(Fence{"controller", "server-1", term});
  ASSERT_TRUE(leader->appendEvent(event("first")));
  // Another session holds the chain head for a while: the leader's next append waits behind it.
  auto hold = holdChainHead();
  ASSERT_TRUE(hold);
  Result<EventRecord> appended = fail(ErrorCode::Internal, "not yet");
  std::thread write([&] { appended = leader->appendEvent(event("second")); });
  // (EXPECT, not ASSERT, while a thread of the test runs: it is joined below either way.)
  EXPECT_TRUE(test::pollUntil([&] { return waiting("wait_event_type = 'Lock' AND query LIKE '%event_chain_head%'"); },
                              test::deadlineIn(30s)));
  // The renewal goes through at once (it waited for the hold's 6 s before).
  const auto asked = std::chrono::steady_clock::now();
  auto renewed = store_->acquireLease("controller", "server-1", std::chrono::seconds(2), at(1'000));
  const auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_TRUE(renewed && *renewed) << (renewed ? "" : renewed.error().message);
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_TRUE(waiting("wait_event_type = 'Lock' AND query LIKE '%event_chain_head%'"))
      << "the write was still to be in flight while the lease was renewed";
  // Once the lease has expired, another server's takeover waits for the write in flight.
  Result<bool> taken = false;
  std::thread takeover([&] { taken = other->acquireLease("controller", "server-2", std::chrono::seconds(2), at(4'000)); });
  EXPECT_TRUE(test::pollUntil([&] { return waiting("wait_event_type = 'Lock' AND query LIKE '%INSERT INTO leases%'"); },
                              test::deadlineIn(30s)));
  write.join();
  takeover.join();
  ASSERT_TRUE(appended) << appended.error().message;  // committed at the old term, before the takeover
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_TRUE(*taken);
  EXPECT_EQ((*other->getLease("controller"))->term, term + 1);
  (void)hold->waitExit(test::deadlineIn(30s));
  // The old term's next write is refused.
  auto stale = leader->appendEvent(event("third"));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::FailedPrecondition);
  EXPECT_EQ(other->verifyChain()->events, 2);
}

// Reads go through connections of their own: a lookup or a list answers while a write of the
// same store waits (here for a row another session holds), instead of queueing behind it.
TEST_F(PostgresStoreTest, AReadDoesNotWaitForAWriteInProgress) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  ASSERT_TRUE(store_->createToken(token("0123456789abcdef"), {}));
  auto hold = holdChainHead();
  ASSERT_TRUE(hold);
  Result<EventRecord> appended = fail(ErrorCode::Internal, "not yet");
  std::thread write([&] { appended = store_->appendEvent(event("second")); });
  // (EXPECT, not ASSERT, while a thread of the test runs: it is joined below either way.)
  EXPECT_TRUE(test::pollUntil([&] { return waiting("wait_event_type = 'Lock' AND query LIKE '%event_chain_head%'"); },
                              test::deadlineIn(30s)));
  const auto asked = std::chrono::steady_clock::now();
  auto found = store_->getDeployment("dep-1");
  auto listed = store_->listDeployments({});
  auto events = store_->listEvents({});
  auto approvals = store_->listApprovals("dep-1");
  auto tok = store_->getToken("0123456789abcdef");
  const auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_TRUE(waiting("wait_event_type = 'Lock' AND query LIKE '%event_chain_head%'"))
      << "the write was to be still waiting while the reads ran";
  write.join();
  (void)hold->waitExit(test::deadlineIn(30s));
  EXPECT_LT(took, std::chrono::seconds(2)) << "the reads waited for the write";
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->revision, 1);
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->size(), 1u);
  ASSERT_TRUE(events) << events.error().message;
  EXPECT_EQ(events->size(), 1u);  // the append in flight is not visible before it commits
  ASSERT_TRUE(approvals) << approvals.error().message;
  EXPECT_TRUE(approvals->empty());
  ASSERT_TRUE(tok) << tok.error().message;
  EXPECT_EQ(tok->name, "alice");
  ASSERT_TRUE(appended) << appended.error().message;
  EXPECT_EQ(appended->seq, 2);
}

// Point 5 of issue 18: a database restart between two writes, and a write during the outage.
TEST(PostgresRestart, AWriteDuringTheOutageErrorsAndTheNextCallAfterItReconnects) {
  auto server = test::PostgresServer::start({"runway-pg-restart", std::nullopt});
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_TRUE((*server)->createDatabase("restart"));
  auto store = openOrFail({(*server)->url("restart"), std::nullopt});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  ASSERT_TRUE(store->getDeployment("dep-1"));  // a read connection, opened before the restart

  ASSERT_TRUE((*server)->restart()) << "see " << (*server)->logFile();
  // The connections the store held died with the old server; this read and write still succeed.
  DeploymentRecord change = *store->getDeployment("dep-1");
  change.phase = "Progressing";
  auto after_restart = store->updateDeployment(change, {event("progressing", "dep-1")});
  ASSERT_TRUE(after_restart) << after_restart.error().message;
  EXPECT_EQ(after_restart->revision, 2);

  ASSERT_TRUE((*server)->stop());
  change = *after_restart;
  change.phase = "Succeeded";
  auto during = store->updateDeployment(change, {event("succeeded", "dep-1")});
  ASSERT_FALSE(during) << "a write with the database down reported success";
  EXPECT_EQ(during.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(during.error().message, HasSubstr("127.0.0.1"));
  auto read_during = store->getDeployment("dep-1");
  ASSERT_FALSE(read_during);
  EXPECT_EQ(read_during.error().code, ErrorCode::Unavailable);

  ASSERT_TRUE((*server)->restart()) << "see " << (*server)->logFile();
  auto stored = store->getDeployment("dep-1");
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->revision, 2);  // the failed write left nothing
  EXPECT_EQ(stored->phase, "Progressing");
  auto retried = store->updateDeployment(change, {event("succeeded", "dep-1")});
  ASSERT_TRUE(retried) << retried.error().message;
  auto report = store->verifyChain();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->intact());
  EXPECT_EQ(report->events, 3);
}

// The connection lost during COMMIT itself: the outcome is unknown to the store, which says so
// (Unavailable, "may or may not have been stored") instead of reporting either; the next call
// reconnects and reads what is there. A deferred trigger holds the COMMIT long enough for the
// test to terminate that backend (as a failover or a killed server would).
TEST(PostgresRestart, TheConnectionLostDuringCommitIsAnUnknownOutcomeNeverASuccess) {
  auto server = test::PostgresServer::start({"runway-pg-commit", std::nullopt});
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_TRUE((*server)->createDatabase("commit"));
  auto store = openOrFail({(*server)->url("commit"), std::nullopt});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  ASSERT_TRUE((*server)->psql("commit",
                              "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$; "
                              "CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON deployments "
                              "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"));

  DeploymentRecord change = *store->getDeployment("dep-1");
  change.phase = "Progressing";
  std::optional<Result<DeploymentRecord>> outcome;
  std::thread writer([&] { outcome = store->updateDeployment(change, {event("progressing", "dep-1")}); });
  std::string pid;
  const bool in_commit = test::pollUntil(
      [&] {
        auto out = (*server)->psql("commit",
                                   "SELECT pid FROM pg_stat_activity WHERE query = 'COMMIT' AND "
                                   "state = 'active' AND pid <> pg_backend_pid()");
        if (!out || out->empty()) return false;
        pid = out->substr(0, out->find('\n'));
        return true;
      },
      test::deadlineIn(std::chrono::seconds(30)));
  if (in_commit) {
    EXPECT_TRUE((*server)->psql("commit", "SELECT pg_terminate_backend(" + pid + ")"));
  }
  writer.join();
  ASSERT_TRUE(in_commit) << "the write never reached its COMMIT";
  ASSERT_TRUE(outcome.has_value());
  ASSERT_FALSE(*outcome) << "a write whose COMMIT lost its connection reported success";
  EXPECT_EQ(outcome->error().code, ErrorCode::Unavailable);
  EXPECT_THAT(outcome->error().message, HasSubstr("may or may not have been stored"));

  ASSERT_TRUE((*server)->psql("commit", "DROP TRIGGER slow_commit ON deployments"));
  // Here the server aborted the transaction: read back, the revision is the old one, and the
  // same write, retried on a new connection, is committed once.
  auto stored = store->getDeployment("dep-1");
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->revision, 1);
  EXPECT_EQ(stored->phase, "Pending");
  auto retried = store->updateDeployment(change, {event("progressing", "dep-1")});
  ASSERT_TRUE(retried) << retried.error().message;
  EXPECT_EQ(retried->revision, 2);
  auto report = store->verifyChain();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->intact());
  EXPECT_EQ(report->events, 2);
}

TEST(PostgresLogin, PasswordComesSeparatelyAndNeverAppearsInAMessage) {
  const std::string password = "s3cret-Pa55word";
  auto server = test::PostgresServer::start({"runway-pg-login", password});
  ASSERT_TRUE(server) << server.error().message;
  const std::string url = (*server)->url("postgres");
  auto opened = openPostgresStore({url, password});
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE((*opened)->putRelease({"shop", "v1", {}, at(0)}));

  auto wrong = openPostgresStore({url, std::string("not-the-password")});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(wrong.error().message, HasSubstr("password authentication failed"));
  EXPECT_THAT(wrong.error().message, Not(HasSubstr("not-the-password")));

  const std::string in_url = fmt::format("postgres://postgres:{}@127.0.0.1:{}/postgres",
                                         password, (*server)->port());
  auto refused = openPostgresStore({in_url, std::nullopt});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(refused.error().message, Not(HasSubstr(password)));
  EXPECT_THAT(refused.error().message, HasSubstr("[redacted]"));
}

TEST(PostgresUrl, RedactionCoversUserInfoAndQueryPasswords) {
  EXPECT_EQ(redactStoreUrl("postgres://u:pw@db:5432/runway"), "postgres://u:[redacted]@db:5432/runway");
  EXPECT_EQ(redactStoreUrl("postgresql://db/runway?sslmode=require&password=pw&x=1"),
            "postgresql://db/runway?sslmode=require&password=[redacted]&x=1");
  EXPECT_EQ(redactStoreUrl("postgres://u@db/runway"), "postgres://u@db/runway");
  EXPECT_TRUE(checkPostgresUrl("postgres://u@db/runway"));
  EXPECT_EQ(checkPostgresUrl("mysql://db/x").error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(checkPostgresUrl("postgres://db/x?password=pw").error().code, ErrorCode::InvalidArgument);
}

TEST(PostgresUnreachable, IsUnavailableAndNamesWhereItTried) {
  auto server = test::PostgresServer::start({"runway-pg-gone", std::nullopt});
  ASSERT_TRUE(server) << server.error().message;
  const std::string url = (*server)->url("postgres");
  ASSERT_TRUE((*server)->stop());
  auto opened = openPostgresStore({url, std::nullopt});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(opened.error().message, HasSubstr(url));
}

// ---- runway store migrate ----------------------------------------------------------------

class StoreMigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto source = openSqliteStore(sqlitePath(), testKey('k'));
    ASSERT_TRUE(source) << source.error().message;
    Store& s = **source;
    ASSERT_TRUE(s.putRelease({"shop", "v1", {{"api", "api:v1"}}, at(0)}));
    ASSERT_TRUE(s.putRelease({"shop", "v2", {{"api", "api:v2"}}, at(0)}));
    ASSERT_TRUE(s.createDeployment(deployment("dep-1", "prod", "v1", 1), {event("created", "dep-1")}));
    DeploymentRecord d = deployment("dep-2", "prod", "v2", 1);
    d.evidence_json = R"({"commit":"abc"})";
    ASSERT_TRUE(s.createDeployment(d, {event("created", "dep-2")}));
    DeploymentRecord change = *s.getDeployment("dep-2");
    change.phase = "Succeeded";
    NewNotification n{at(3), "slack", "deployment.succeeded", "dep-2", "prod", "dep-2", "{}"};
    ASSERT_TRUE(s.updateDeployment(change, {event("succeeded", "dep-2")},
                                   {{"dep-2", "bob", "tech-lead", true, "ok", at(2)}},
                                   ServingRecord{"prod", "v2", "dep-2", "", at(3)}, {n}));
    TokenRecord revoked = token("t1", "alice", 0);
    ASSERT_TRUE(s.createToken(revoked, {}));
    ASSERT_TRUE(s.revokeToken("t1", at(9), {event("token.revoked")}));
    TokenRecord expiring = token("t2", "bob", 1);
    expiring.expires_at = at(100'000);
    ASSERT_TRUE(s.createToken(expiring, {}));
    ASSERT_TRUE(s.acquireLease("leader", "a", std::chrono::seconds(5), at(0)));
  }
  std::string sqlitePath() const { return dir_.path() + "/runway.db"; }

  TempDir dir_;
};

TEST_F(StoreMigrateTest, CopiesEverythingAndTheChainVerifiesWithTheKey) {
  auto url = freshDatabase();
  ASSERT_TRUE(url);
  auto copied = migrateSqliteToPostgres(sqlitePath(), {*url, std::nullopt}, testKey('k'));
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->releases, 2);
  EXPECT_EQ(copied->deployments, 2);
  EXPECT_EQ(copied->approvals, 1);
  EXPECT_EQ(copied->events, 4);
  EXPECT_EQ(copied->serving, 1);
  EXPECT_EQ(copied->tokens, 2);
  EXPECT_EQ(copied->notifications, 1);
  EXPECT_TRUE(copied->chain.intact());
  EXPECT_EQ(copied->chain.events, 4);

  auto source = *openSqliteStore(sqlitePath(), testKey('k'));
  auto target = openOrFail({*url, std::nullopt}, testKey('k'));
  ASSERT_NE(target, nullptr);
  auto ids = [](Store& s) {
    std::vector<std::string> out;
    auto listed = s.listDeployments({});
    for (const auto& d : *listed) out.push_back(d.id + "@" + std::to_string(d.revision) + d.evidence_json);
    return out;
  };
  EXPECT_EQ(ids(*target), ids(*source));
  EXPECT_EQ(target->listReleases("shop")->size(), 2u);
  EXPECT_EQ((*target->getServing("prod"))->deployment_id, "dep-2");
  EXPECT_EQ(target->listApprovals("dep-2")->at(0).actor, "bob");
  auto tokens = *target->listTokens();
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].revoked_at, at(9));
  EXPECT_FALSE(tokens[0].expires_at.has_value());
  EXPECT_EQ(tokens[1].expires_at, at(100'000));
  EXPECT_FALSE(tokens[1].revoked_at.has_value());
  auto source_events = *source->listEvents({});
  auto target_events = *target->listEvents({});
  ASSERT_EQ(target_events.size(), source_events.size());
  for (std::size_t i = 0; i < source_events.size(); ++i) {
    EXPECT_EQ(target_events[i].hash, source_events[i].hash);
    EXPECT_EQ(target_events[i].key_id, testKey('k').id);
  }
  EXPECT_EQ(target->listNotifications({})->at(0).channel, "slack");
  // Leases belong to running servers: not copied.
  EXPECT_FALSE(target->getLease("leader")->has_value());
  // New writes continue the copied chain and the outbox's ids.
  ASSERT_TRUE(target->enqueueNotifications({{at(5), "slack", "x", "dep-2", "prod", "k", "{}"}},
                                           {event("after")}));
  EXPECT_EQ(target->listNotifications({})->at(0).id, 2);
  EXPECT_TRUE(target->verifyChain()->intact());
  EXPECT_EQ(target->verifyChain()->events, 5);

  // A second copy into the same database is refused and changes nothing.
  auto again = migrateSqliteToPostgres(sqlitePath(), {*url, std::nullopt}, testKey('k'));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::FailedPrecondition);
  EXPECT_THAT(again.error().message, HasSubstr("already holds runway data"));
  EXPECT_EQ(target->verifyChain()->events, 5);
}

TEST_F(StoreMigrateTest, WithoutTheKeyNothingIsCopied) {
  auto url = freshDatabase();
  ASSERT_TRUE(url);
  auto copied = migrateSqliteToPostgres(sqlitePath(), {*url, std::nullopt}, std::nullopt);
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code, ErrorCode::FailedPrecondition);
  auto target = openOrFail({*url, std::nullopt});
  EXPECT_TRUE(target->listDeployments({})->empty());
  EXPECT_EQ(target->verifyChain()->events, 0);
}

}  // namespace
}  // namespace runway::store::testing
