// The SQLite implementation of Store: one connection for writes, WAL mode, every write one
// BEGIN IMMEDIATE transaction, schema migrations applied on open; lookups and lists read through
// a few read-only connections of their own.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <utility>

#include <boost/json.hpp>

#include "chain.hpp"
#include "reader_pool.hpp"
#include "records.hpp"
#include "runway/store/store.hpp"
#include "sqlite.hpp"

namespace runway::store {
namespace {

using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

struct Migration {
  int version;
  const char* sql;
};

// Append only: never edit a migration that has shipped; add a new one.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE releases (
  application    TEXT NOT NULL,
  version        TEXT NOT NULL,
  artifacts_json TEXT NOT NULL,
  created_at_ms  INTEGER NOT NULL,
  PRIMARY KEY (application, version)
);
CREATE INDEX releases_by_application ON releases (application, created_at_ms);

CREATE TABLE deployments (
  id            TEXT PRIMARY KEY,
  environment   TEXT NOT NULL,
  application   TEXT NOT NULL,
  version       TEXT NOT NULL,
  phase         TEXT NOT NULL,
  state_json    TEXT NOT NULL,
  revision      INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX deployments_by_created ON deployments (created_at_ms);
CREATE INDEX deployments_by_environment ON deployments (environment, created_at_ms);

CREATE TABLE approvals (
  deployment_id TEXT NOT NULL REFERENCES deployments (id),
  actor         TEXT NOT NULL,
  role          TEXT NOT NULL,
  approved      INTEGER NOT NULL,
  comment       TEXT NOT NULL,
  at_ms         INTEGER NOT NULL,
  PRIMARY KEY (deployment_id, actor, role)
);

CREATE TABLE events (
  seq       INTEGER PRIMARY KEY,
  at_ms     INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  kind      TEXT NOT NULL,
  subject   TEXT NOT NULL,
  reason    TEXT NOT NULL,
  data_json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE INDEX events_by_subject ON events (subject, seq);
-- Defence in depth: runway never changes or removes an event. Someone with write access to
-- the file can drop these triggers; the hash chain is what finds such edits.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

-- The last record appended, so that deleting records at the end is found too.
CREATE TABLE event_chain_head (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  seq   INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  hash  TEXT NOT NULL
);

CREATE TABLE leases (
  name          TEXT PRIMARY KEY,
  holder        TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
)sql"},
    {2, R"sql(
-- API bearer tokens. Only a salted SHA-256 of the secret is kept; the secret is shown once.
CREATE TABLE tokens (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  roles_json    TEXT NOT NULL,
  salt          TEXT NOT NULL,
  hash          TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
);
CREATE INDEX tokens_by_created ON tokens (created_at_ms);
)sql"},
    {3, R"sql(
-- What each environment serves, written with the deployment commit that made it serve.
CREATE TABLE serving (
  environment   TEXT PRIMARY KEY,
  version       TEXT NOT NULL,
  deployment_id TEXT NOT NULL,
  colour        TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
)sql"},
    {4, R"sql(
-- The notification outbox: written in the transaction of the state change that caused each
-- message, delivered (at least once) by the notify worker, kept as the delivery record.
CREATE TABLE notifications (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at_ms      INTEGER NOT NULL,
  channel            TEXT NOT NULL,
  event              TEXT NOT NULL,
  subject            TEXT NOT NULL,
  environment        TEXT NOT NULL,
  dedup_key          TEXT NOT NULL,
  message_json       TEXT NOT NULL,
  status             TEXT NOT NULL,
  attempts           INTEGER NOT NULL,
  next_attempt_at_ms INTEGER NOT NULL,
  last_status        INTEGER NOT NULL,
  last_error         TEXT NOT NULL,
  updated_at_ms      INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at_ms, id);
CREATE INDEX notifications_by_subject ON notifications (subject, id);
)sql"},
    {5, R"sql(
-- Token lifetimes: NULL = the token does not expire (tokens made before this migration, the
-- bootstrap admin token).
ALTER TABLE tokens ADD COLUMN expires_at_ms INTEGER;
)sql"},
    {6, R"sql(
-- The audit key a record's hash is an HMAC with ('' = plain SHA-256: written before the store
-- had a key). The key itself never enters the database.
ALTER TABLE events ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
)sql"},
    {7, R"sql(
-- The release evidence of a deploy request (commit, repository, attachments: store/evidence.hpp),
-- written once when the deployment is created. A column of its own rather than part of
-- state_json: the document is rewritten on every commit, the evidence (reports of up to 256 KiB)
-- never is.
ALTER TABLE deployments ADD COLUMN evidence_json TEXT NOT NULL DEFAULT '{}';
)sql"},
    {8, R"sql(
-- The fencing token of a lease: + 1 each time it changes hands (Store::setFence). A released
-- lease keeps its row (holder '') so that its next term is still a new one.
ALTER TABLE leases ADD COLUMN term INTEGER NOT NULL DEFAULT 1;
)sql"},
    {9, R"sql(
-- Configuration snapshots, one row per content (Store::putConfigSnapshot): deployments name
-- theirs by key in state_json instead of carrying the whole configuration in every commit.
CREATE TABLE config_snapshots (
  key  TEXT PRIMARY KEY,
  text TEXT NOT NULL
);
)sql"},
};

constexpr int kLatestSchema = std::size(kMigrations);

constexpr const char* kDeploymentColumns =
    "id, environment, application, version, phase, state_json, revision, created_at_ms, "
    "updated_at_ms, evidence_json";

DeploymentRecord readDeployment(const Statement& row) {
  DeploymentRecord record;
  record.id = row.text(0);
  record.environment = row.text(1);
  record.application = row.text(2);
  record.version = row.text(3);
  record.phase = row.text(4);
  record.state_json = row.text(5);
  record.revision = row.int64(6);
  record.created_at = fromUnixMillis(row.int64(7));
  record.updated_at = fromUnixMillis(row.int64(8));
  record.evidence_json = row.text(9);
  return record;
}

constexpr const char* kEventColumns =
    "seq, at_ms, actor, kind, subject, reason, data_json, prev_hash, hash, key_id";

EventRecord readEvent(const Statement& row) {
  EventRecord record;
  record.seq = row.int64(0);
  record.at = fromUnixMillis(row.int64(1));
  record.actor = row.text(2);
  record.kind = row.text(3);
  record.subject = row.text(4);
  record.reason = row.text(5);
  record.data_json = row.text(6);
  record.prev_hash = row.text(7);
  record.hash = row.text(8);
  record.key_id = row.text(9);
  return record;
}

// revoked_at_ms is NULL while the token is live; the statement selects the NULL test as its own
// column because Statement::int64 cannot tell NULL from 0.
constexpr const char* kTokenColumns =
    "id, name, roles_json, salt, hash, created_by, created_at_ms, revoked_at_ms IS NOT NULL, "
    "COALESCE(revoked_at_ms, 0), expires_at_ms IS NOT NULL, COALESCE(expires_at_ms, 0)";

Result<TokenRecord> readToken(const Statement& row) {
  TokenRecord record;
  record.id = row.text(0);
  record.name = row.text(1);
  auto roles = rolesFromJson(row.text(2));
  if (!roles) return fail(std::move(roles).error());
  record.roles = std::move(*roles);
  record.salt = row.text(3);
  record.hash = row.text(4);
  record.created_by = row.text(5);
  record.created_at = fromUnixMillis(row.int64(6));
  if (row.int64(7) != 0) record.revoked_at = fromUnixMillis(row.int64(8));
  if (row.int64(9) != 0) record.expires_at = fromUnixMillis(row.int64(10));
  return record;
}

Result<void> configure(Connection& conn, const std::string& path);

Result<std::optional<DeploymentRecord>> findDeploymentIn(Connection& conn, const std::string& id) {
  RUNWAY_STORE_TRY_ASSIGN(select, conn.prepare(std::string("SELECT ") + kDeploymentColumns +
                                               " FROM deployments WHERE id = ?1"));
  select.bind(1, id);
  RUNWAY_STORE_TRY_ASSIGN(found, select.step());
  if (!found) return std::optional<DeploymentRecord>();
  return std::optional<DeploymentRecord>(readDeployment(select));
}

Result<std::optional<TokenRecord>> findTokenIn(Connection& conn, const std::string& id) {
  RUNWAY_STORE_TRY_ASSIGN(select, conn.prepare(std::string("SELECT ") + kTokenColumns +
                                               " FROM tokens WHERE id = ?1"));
  select.bind(1, id);
  RUNWAY_STORE_TRY_ASSIGN(found, select.step());
  if (!found) return std::optional<TokenRecord>();
  RUNWAY_STORE_TRY_ASSIGN(record, readToken(select));
  return std::optional<TokenRecord>(std::move(record));
}

// The statement of listDeployments(): only the filters given, so that SQLite can use the index
// on (environment, created_at_ms) for one environment. A condition written `(?1 = '' OR
// environment = ?1)` cannot use an index: it scanned every deployment ever made.
std::string listDeploymentsSql(const DeploymentFilter& filter) {
  std::string where;
  const auto add = [&where](const char* condition) {
    where += where.empty() ? " WHERE " : " AND ";
    where += condition;
  };
  if (!filter.environment.empty()) add("environment = ?1");
  if (!filter.phase.empty()) add("phase = ?2");
  if (!filter.version.empty()) add("version = ?3");
  return std::string("SELECT ") + kDeploymentColumns + " FROM deployments" + where +
         " ORDER BY created_at_ms DESC, rowid DESC LIMIT ?4 OFFSET ?5";
}

constexpr const char* kNotificationColumns =
    "id, created_at_ms, channel, event, subject, environment, dedup_key, message_json, status, "
    "attempts, next_attempt_at_ms, last_status, last_error, updated_at_ms";

NotificationRecord readNotification(const Statement& row) {
  NotificationRecord n;
  n.id = row.int64(0);
  n.created_at = fromUnixMillis(row.int64(1));
  n.channel = row.text(2);
  n.event = row.text(3);
  n.subject = row.text(4);
  n.environment = row.text(5);
  n.dedup_key = row.text(6);
  n.message_json = row.text(7);
  n.status = row.text(8);
  n.attempts = static_cast<int>(row.int64(9));
  n.next_attempt_at = fromUnixMillis(row.int64(10));
  n.last_status = static_cast<int>(row.int64(11));
  n.last_error = row.text(12);
  n.updated_at = fromUnixMillis(row.int64(13));
  return n;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(Connection conn, std::string path, std::optional<AuditKey> key)
      : conn_(std::move(conn)), path_(std::move(path)), key_(std::move(key)) {}

  // Store
  Result<void> putRelease(const Release& release) override;
  Result<Release> getRelease(const std::string& application, const std::string& version) override;
  Result<std::vector<Release>> listReleases(const std::string& application) override;
  Result<DeploymentRecord> createDeployment(const DeploymentRecord& record,
                                            const std::vector<NewEvent>& events) override;
  using Store::updateDeployment;
  Result<DeploymentRecord> updateDeployment(const DeploymentRecord& record,
                                            const std::vector<NewEvent>& events,
                                            const std::vector<ApprovalRecord>& approvals,
                                            const std::optional<ServingRecord>& serving,
                                            const std::vector<NewNotification>& notifications) override;
  Result<std::optional<ServingRecord>> getServing(const std::string& environment) override;
  Result<DeploymentRecord> getDeployment(const std::string& id) override;
  Result<std::vector<DeploymentRecord>> listDeployments(const DeploymentFilter& filter) override;
  Result<void> addApproval(const ApprovalRecord& approval,
                           const std::vector<NewEvent>& events) override;
  Result<std::vector<ApprovalRecord>> listApprovals(const std::string& deployment_id) override;
  Result<EventRecord> appendEvent(const NewEvent& event) override;
  Result<std::vector<EventRecord>> listEvents(const EventFilter& filter) override;
  Result<ChainReport> verifyChain() override;
  Result<bool> acquireLease(const std::string& name, const std::string& holder, Duration ttl,
                            TimePoint now) override;
  Result<void> releaseLease(const std::string& name, const std::string& holder) override;
  Result<std::optional<Lease>> getLease(const std::string& name) override;
  void setFence(std::optional<Fence> fence) override;
  Result<std::string> putConfigSnapshot(const std::string& text) override;
  Result<std::string> getConfigSnapshot(const std::string& key) override;
  Result<void> createToken(const TokenRecord& token, const std::vector<NewEvent>& events) override;
  Result<TokenRecord> getToken(const std::string& id) override;
  Result<std::vector<TokenRecord>> listTokens() override;
  Result<void> revokeToken(const std::string& id, TimePoint at,
                           const std::vector<NewEvent>& events) override;
  Result<void> enqueueNotifications(const std::vector<NewNotification>& notifications,
                                    const std::vector<NewEvent>& events) override;
  Result<std::vector<NotificationRecord>> dueNotifications(TimePoint now, int limit) override;
  Result<NotificationRecord> recordDeliveryAttempt(const DeliveryAttempt& attempt) override;
  Result<std::vector<NotificationRecord>> listNotifications(const NotificationFilter& filter) override;
  Result<std::map<std::string, std::int64_t>> countNotifications() override;

 private:
  // REQUIRES: mutex_ held and a write transaction open.
  Result<void> checkFenceLocked();
  Result<EventRecord> appendLocked(const NewEvent& event);
  Result<void> appendAllLocked(std::span<const NewEvent> events);
  Result<void> insertApprovalLocked(const ApprovalRecord& approval);
  Result<std::optional<DeploymentRecord>> findDeploymentLocked(const std::string& id);
  Result<std::optional<TokenRecord>> findTokenLocked(const std::string& id);
  Result<void> insertNotificationsLocked(const std::vector<NewNotification>& notifications);

  using Readers = ReaderPool<Connection, 3>;
  using ReadLease = Readers::Lease;
  // A read-only connection lent to this call: a free one if there is one, else the next in turn
  // once it is free; opened on first use.
  Result<ReadLease> reader();

  std::mutex mutex_;  // guards conn_
  Connection conn_;
  const std::string path_;
  const std::optional<AuditKey> key_;  // links new events and verifies the chain
  std::optional<Fence> fence_;         // guarded by mutex_
  // verifyChain() reads through its own connection, opened on first use: in WAL mode a long
  // read does not block writers, so walking millions of records does not stall the controller.
  std::mutex verify_mutex_;  // guards verify_conn_
  std::optional<Connection> verify_conn_;
  // Lookups and lists (the API's GETs, the authenticator's token lookups, the report snapshots)
  // read through these: in WAL mode a reader sees every committed transaction and neither waits
  // for the writer nor holds it up, so a GET does not queue behind the controller's commits.
  Readers readers_;
};

Result<SqliteStore::ReadLease> SqliteStore::reader() {
  return readers_.acquire([&]() -> Result<Connection> {
    RUNWAY_STORE_TRY_ASSIGN(opened, Connection::open(path_, /*create=*/false));
    RUNWAY_STORE_TRY(configure(opened, path_));
    RUNWAY_STORE_TRY(opened.exec("PRAGMA query_only = ON"));
    return opened;
  });
}

Result<void> SqliteStore::putRelease(const Release& release) {
  if (release.application.empty() || release.version.empty()) {
    return fail(ErrorCode::InvalidArgument, "a release needs an application and a version");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  {
    RUNWAY_STORE_TRY_ASSIGN(
        select, conn_.prepare(
                    "SELECT artifacts_json FROM releases WHERE application = ?1 AND version = ?2"));
    select.bind(1, release.application).bind(2, release.version);
    RUNWAY_STORE_TRY_ASSIGN(found, select.step());
    if (found) {
      RUNWAY_STORE_TRY_ASSIGN(stored, artifactsFromJson(select.text(0)));
      if (stored == release.artifacts) return {};  // idempotent; the transaction rolls back
      return fail(ErrorCode::Conflict, "release " + release.application + "@" + release.version +
                                           " already exists with different artifacts");
    }
  }
  RUNWAY_STORE_TRY_ASSIGN(insert, conn_.prepare("INSERT INTO releases (application, version, "
                                          "artifacts_json, created_at_ms) VALUES (?1, ?2, ?3, ?4)"));
  insert.bind(1, release.application)
      .bind(2, release.version)
      .bind(3, artifactsToJson(release.artifacts))
      .bind(4, toUnixMillis(release.created_at));
  RUNWAY_STORE_TRY(insert.run());
  return tx.commit();
}

Result<Release> SqliteStore::getRelease(const std::string& application,
                                        const std::string& version) {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare("SELECT artifacts_json, created_at_ms FROM releases "
                                          "WHERE application = ?1 AND version = ?2"));
  select.bind(1, application).bind(2, version);
  RUNWAY_STORE_TRY_ASSIGN(found, select.step());
  if (!found) {
    return fail(ErrorCode::NotFound, "release " + application + "@" + version + " not found");
  }
  RUNWAY_STORE_TRY_ASSIGN(artifacts, artifactsFromJson(select.text(0)));
  return Release{application, version, std::move(artifacts), fromUnixMillis(select.int64(1))};
}

Result<std::vector<Release>> SqliteStore::listReleases(const std::string& application) {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare("SELECT version, artifacts_json, created_at_ms FROM "
                                          "releases WHERE application = ?1 "
                                          "ORDER BY created_at_ms DESC, rowid DESC"));
  select.bind(1, application);
  std::vector<Release> releases;
  while (true) {
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (!row) break;
    RUNWAY_STORE_TRY_ASSIGN(artifacts, artifactsFromJson(select.text(1)));
    releases.push_back(Release{application, select.text(0), std::move(artifacts),
                               fromUnixMillis(select.int64(2))});
  }
  return releases;
}

Result<std::optional<DeploymentRecord>> SqliteStore::findDeploymentLocked(const std::string& id) {
  return findDeploymentIn(conn_, id);
}

Result<DeploymentRecord> SqliteStore::createDeployment(const DeploymentRecord& record,
                                                       const std::vector<NewEvent>& events) {
  if (record.id.empty()) return fail(ErrorCode::InvalidArgument, "deployment id is empty");
  if (!isJson(record.state_json)) {
    return fail(ErrorCode::InvalidArgument,
                "deployment " + record.id + ": state is not valid JSON");
  }
  if (!isJson(record.evidence_json)) {
    return fail(ErrorCode::InvalidArgument,
                "deployment " + record.id + ": release evidence is not valid JSON");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(existing, findDeploymentLocked(record.id));
  if (existing) {
    return fail(ErrorCode::Conflict, "deployment " + record.id + " already exists");
  }
  DeploymentRecord stored = record;
  stored.revision = 1;
  {
    RUNWAY_STORE_TRY_ASSIGN(insert,
                      conn_.prepare(std::string("INSERT INTO deployments (") + kDeploymentColumns +
                                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    insert.bind(1, stored.id)
        .bind(2, stored.environment)
        .bind(3, stored.application)
        .bind(4, stored.version)
        .bind(5, stored.phase)
        .bind(6, stored.state_json)
        .bind(7, stored.revision)
        .bind(8, toUnixMillis(stored.created_at))
        .bind(9, toUnixMillis(stored.updated_at))
        .bind(10, stored.evidence_json);
    RUNWAY_STORE_TRY(insert.run());
  }
  RUNWAY_STORE_TRY(appendAllLocked(events));
  RUNWAY_STORE_TRY(tx.commit());
  return stored;
}

Result<DeploymentRecord> SqliteStore::updateDeployment(const DeploymentRecord& record,
                                                       const std::vector<NewEvent>& events,
                                                       const std::vector<ApprovalRecord>& approvals,
                                                       const std::optional<ServingRecord>& serving,
                                                       const std::vector<NewNotification>& notifications) {
  for (const auto& n : notifications) RUNWAY_STORE_TRY(validateNotification(n));
  if (!isJson(record.state_json)) {
    return fail(ErrorCode::InvalidArgument,
                "deployment " + record.id + ": state is not valid JSON");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(existing, findDeploymentLocked(record.id));
  if (!existing) return fail(ErrorCode::NotFound, "deployment " + record.id + " not found");
  if (existing->revision != record.revision) {
    return fail(ErrorCode::Conflict,
                "deployment " + record.id + " was changed by someone else (stored revision " +
                    std::to_string(existing->revision) + ", yours " +
                    std::to_string(record.revision) + "); reload it and retry");
  }
  DeploymentRecord stored = std::move(*existing);
  stored.phase = record.phase;
  stored.state_json = record.state_json;
  stored.revision = record.revision + 1;
  stored.updated_at = record.updated_at;
  {
    RUNWAY_STORE_TRY_ASSIGN(update, conn_.prepare("UPDATE deployments SET phase = ?1, state_json = ?2, "
                                            "revision = ?3, updated_at_ms = ?4 "
                                            "WHERE id = ?5 AND revision = ?6"));
    update.bind(1, stored.phase)
        .bind(2, stored.state_json)
        .bind(3, stored.revision)
        .bind(4, toUnixMillis(stored.updated_at))
        .bind(5, stored.id)
        .bind(6, record.revision);
    RUNWAY_STORE_TRY(update.run());
  }
  for (const auto& approval : approvals) {
    if (approval.deployment_id != record.id) {
      return fail(ErrorCode::InvalidArgument,
                  "an approval of " + approval.deployment_id + " cannot be recorded with " + record.id);
    }
    RUNWAY_STORE_TRY(insertApprovalLocked(approval));
  }
  if (serving) {
    if (serving->environment != stored.environment) {
      return fail(ErrorCode::InvalidArgument, "deployment " + record.id + " of " +
                                                  stored.environment + " cannot set what " +
                                                  serving->environment + " serves");
    }
    RUNWAY_STORE_TRY_ASSIGN(upsert,
                            conn_.prepare("INSERT INTO serving (environment, version, deployment_id, "
                                          "colour, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
                                          "ON CONFLICT (environment) DO UPDATE SET version = ?2, "
                                          "deployment_id = ?3, colour = ?4, updated_at_ms = ?5"));
    upsert.bind(1, serving->environment)
        .bind(2, serving->version)
        .bind(3, serving->deployment_id)
        .bind(4, serving->colour)
        .bind(5, toUnixMillis(serving->updated_at));
    RUNWAY_STORE_TRY(upsert.run());
  }
  RUNWAY_STORE_TRY(insertNotificationsLocked(notifications));
  RUNWAY_STORE_TRY(appendAllLocked(events));
  RUNWAY_STORE_TRY(tx.commit());
  return stored;
}

Result<std::optional<ServingRecord>> SqliteStore::getServing(const std::string& environment) {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare("SELECT version, deployment_id, colour, updated_at_ms "
                                                "FROM serving WHERE environment = ?1"));
  select.bind(1, environment);
  RUNWAY_STORE_TRY_ASSIGN(row, select.step());
  if (!row) return std::optional<ServingRecord>();
  ServingRecord out;
  out.environment = environment;
  out.version = select.text(0);
  out.deployment_id = select.text(1);
  out.colour = select.text(2);
  out.updated_at = fromUnixMillis(select.int64(3));
  return std::optional<ServingRecord>(std::move(out));
}

Result<DeploymentRecord> SqliteStore::getDeployment(const std::string& id) {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(found, findDeploymentIn(read.conn(), id));
  if (!found) return fail(ErrorCode::NotFound, "deployment " + id + " not found");
  return std::move(*found);
}

Result<std::vector<DeploymentRecord>> SqliteStore::listDeployments(
    const DeploymentFilter& filter) {
  if (filter.limit <= 0 || filter.offset < 0) {
    return fail(ErrorCode::InvalidArgument, "deployment list limit must be positive and offset not negative");
  }
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare(listDeploymentsSql(filter)));
  if (!filter.environment.empty()) select.bind(1, filter.environment);
  if (!filter.phase.empty()) select.bind(2, filter.phase);
  if (!filter.version.empty()) select.bind(3, filter.version);
  select.bind(4, std::int64_t{filter.limit}).bind(5, std::int64_t{filter.offset});
  std::vector<DeploymentRecord> records;
  while (true) {
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (!row) break;
    records.push_back(readDeployment(select));
  }
  return records;
}

// REQUIRES: mutex_ held, inside a write transaction, the deployment exists.
Result<void> SqliteStore::insertApprovalLocked(const ApprovalRecord& approval) {
  {
    RUNWAY_STORE_TRY_ASSIGN(select, conn_.prepare("SELECT approved FROM approvals WHERE "
                                            "deployment_id = ?1 AND actor = ?2 AND role = ?3"));
    select.bind(1, approval.deployment_id).bind(2, approval.actor).bind(3, approval.role);
    RUNWAY_STORE_TRY_ASSIGN(found, select.step());
    if (found) {
      return fail(ErrorCode::Conflict,
                  approval.actor + " already " + (select.int64(0) != 0 ? "approved" : "rejected") +
                      " deployment " + approval.deployment_id + " as " + approval.role);
    }
  }
  {
    RUNWAY_STORE_TRY_ASSIGN(insert,
                      conn_.prepare("INSERT INTO approvals (deployment_id, actor, role, approved, "
                                    "comment, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    insert.bind(1, approval.deployment_id)
        .bind(2, approval.actor)
        .bind(3, approval.role)
        .bind(4, std::int64_t{approval.approved ? 1 : 0})
        .bind(5, approval.comment)
        .bind(6, toUnixMillis(approval.at));
    RUNWAY_STORE_TRY(insert.run());
  }
  return {};
}

Result<void> SqliteStore::addApproval(const ApprovalRecord& approval,
                                      const std::vector<NewEvent>& events) {
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(deployment, findDeploymentLocked(approval.deployment_id));
  if (!deployment) {
    return fail(ErrorCode::NotFound, "deployment " + approval.deployment_id + " not found");
  }
  RUNWAY_STORE_TRY(insertApprovalLocked(approval));
  RUNWAY_STORE_TRY(appendAllLocked(events));
  return tx.commit();
}

Result<std::vector<ApprovalRecord>> SqliteStore::listApprovals(const std::string& deployment_id) {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(read.conn(), Transaction::Mode::Read));
  RUNWAY_STORE_TRY_ASSIGN(deployment, findDeploymentIn(read.conn(), deployment_id));
  if (!deployment) return fail(ErrorCode::NotFound, "deployment " + deployment_id + " not found");
  std::vector<ApprovalRecord> approvals;
  {
    RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare("SELECT actor, role, approved, comment, at_ms FROM "
                                            "approvals WHERE deployment_id = ?1 ORDER BY rowid"));
    select.bind(1, deployment_id);
    while (true) {
      RUNWAY_STORE_TRY_ASSIGN(row, select.step());
      if (!row) break;
      approvals.push_back(ApprovalRecord{deployment_id, select.text(0), select.text(1),
                                         select.int64(2) != 0, select.text(3),
                                         fromUnixMillis(select.int64(4))});
    }
  }
  RUNWAY_STORE_TRY(tx.commit());
  return approvals;
}

Result<EventRecord> SqliteStore::appendLocked(const NewEvent& event) {
  RUNWAY_STORE_TRY(validateEvent(event));
  EventRecord record;
  record.prev_hash = std::string(kGenesisHash);
  {
    RUNWAY_STORE_TRY_ASSIGN(last, conn_.prepare("SELECT seq, hash, key_id FROM events ORDER BY seq DESC LIMIT 1"));
    RUNWAY_STORE_TRY_ASSIGN(found, last.step());
    if (found) {
      record.seq = last.int64(0);
      record.prev_hash = last.text(1);
      if (!key_ && !last.text(2).empty()) {
        return fail(ErrorCode::FailedPrecondition,
                    "the event log of " + path_ + " is linked with audit key " + last.text(2) +
                        "; an event appended without it would break the chain (open the store with its key)");
      }
    }
  }
  record.seq += 1;
  record.at = event.at;
  record.actor = event.actor;
  record.kind = event.kind;
  record.subject = event.subject;
  record.reason = event.reason;
  record.data_json = event.data_json;
  if (key_) {
    record.key_id = key_->id;
    record.hash = keyedEventHash(*key_, record.prev_hash, record.seq, event);
  } else {
    record.hash = eventHash(record.prev_hash, record.seq, event);
  }
  {
    RUNWAY_STORE_TRY_ASSIGN(insert, conn_.prepare(std::string("INSERT INTO events (") + kEventColumns +
                                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    insert.bind(1, record.seq)
        .bind(2, toUnixMillis(record.at))
        .bind(3, record.actor)
        .bind(4, record.kind)
        .bind(5, record.subject)
        .bind(6, record.reason)
        .bind(7, record.data_json)
        .bind(8, record.prev_hash)
        .bind(9, record.hash)
        .bind(10, record.key_id);
    RUNWAY_STORE_TRY(insert.run());
  }
  {
    RUNWAY_STORE_TRY_ASSIGN(head, conn_.prepare(
                                "INSERT INTO event_chain_head (id, seq, at_ms, hash) "
                                "VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET "
                                "seq = excluded.seq, at_ms = excluded.at_ms, hash = excluded.hash"));
    head.bind(1, record.seq).bind(2, toUnixMillis(record.at)).bind(3, record.hash);
    RUNWAY_STORE_TRY(head.run());
  }
  return record;
}

Result<void> SqliteStore::appendAllLocked(std::span<const NewEvent> events) {
  for (const NewEvent& event : events) {
    RUNWAY_STORE_TRY(appendLocked(event));
  }
  return {};
}

Result<EventRecord> SqliteStore::appendEvent(const NewEvent& event) {
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(record, appendLocked(event));
  RUNWAY_STORE_TRY(tx.commit());
  return record;
}

Result<std::vector<EventRecord>> SqliteStore::listEvents(const EventFilter& filter) {
  if (filter.limit <= 0) {
    return fail(ErrorCode::InvalidArgument, "event list limit must be positive");
  }
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  // One subject's records through the index on (subject, seq); `(?2 = '' OR subject = ?2)`
  // cannot use it and read the whole log for each deployment's events.
  RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare(
                                      std::string("SELECT ") + kEventColumns + " FROM events WHERE seq > ?1" +
                                      (filter.subject.empty() ? "" : " AND subject = ?2") +
                                      " ORDER BY seq LIMIT ?3"));
  select.bind(1, filter.after_seq).bind(3, std::int64_t{filter.limit});
  if (!filter.subject.empty()) select.bind(2, filter.subject);
  std::vector<EventRecord> records;
  while (true) {
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (!row) break;
    records.push_back(readEvent(select));
  }
  return records;
}

Result<ChainReport> SqliteStore::verifyChain() {
  std::lock_guard lock(verify_mutex_);
  if (!verify_conn_) {
    RUNWAY_STORE_TRY_ASSIGN(opened, Connection::open(path_, /*create=*/false));
    RUNWAY_STORE_TRY(configure(opened, path_));
    verify_conn_ = std::move(opened);
  }
  Connection& conn = *verify_conn_;
  // One read transaction, so the head and the rows come from the same snapshot.
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn, Transaction::Mode::Read));
  std::int64_t head_seq = 0;
  TimePoint head_at{};
  std::string head_hash(kGenesisHash);
  {
    RUNWAY_STORE_TRY_ASSIGN(head,
                      conn.prepare("SELECT seq, at_ms, hash FROM event_chain_head WHERE id = 1"));
    RUNWAY_STORE_TRY_ASSIGN(found, head.step());
    if (found) {
      head_seq = head.int64(0);
      head_at = fromUnixMillis(head.int64(1));
      head_hash = head.text(2);
    }
  }
  ChainReport report;
  ChainVerifier verifier(key_);
  if (key_) report.key_id = key_->id;
  {
    RUNWAY_STORE_TRY_ASSIGN(select, conn.prepare(std::string("SELECT ") + kEventColumns +
                                            " FROM events ORDER BY seq"));
    while (true) {
      RUNWAY_STORE_TRY_ASSIGN(row, select.step());
      if (!row) break;
      report.first_break = verifier.next(readEvent(select));
      if (report.first_break) break;
    }
  }
  if (!report.first_break) report.first_break = verifier.finish(head_seq, head_at, head_hash);
  report.events = verifier.count();
  report.unkeyed = verifier.unkeyed();
  RUNWAY_STORE_TRY(tx.commit());
  return report;
}

Result<bool> SqliteStore::acquireLease(const std::string& name, const std::string& holder,
                                       Duration ttl, TimePoint now) {
  if (name.empty() || holder.empty()) {
    return fail(ErrorCode::InvalidArgument, "a lease needs a name and a holder");
  }
  if (ttl <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument, "lease " + name + ": ttl must be positive");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  {
    RUNWAY_STORE_TRY_ASSIGN(select,
                      conn_.prepare("SELECT holder, expires_at_ms FROM leases WHERE name = ?1"));
    select.bind(1, name);
    RUNWAY_STORE_TRY_ASSIGN(found, select.step());
    if (found && select.text(0) != holder && select.int64(1) > toUnixMillis(now)) {
      return false;  // another holder's lease is live; nothing to write
    }
  }
  RUNWAY_STORE_TRY_ASSIGN(upsert, conn_.prepare("INSERT INTO leases (name, holder, expires_at_ms, term) "
                                          "VALUES (?1, ?2, ?3, 1) ON CONFLICT (name) DO UPDATE SET "
                                          "term = CASE WHEN holder = excluded.holder THEN term "
                                          "ELSE term + 1 END, holder = excluded.holder, "
                                          "expires_at_ms = excluded.expires_at_ms"));
  upsert.bind(1, name).bind(2, holder).bind(3, toUnixMillis(now + ttl));
  RUNWAY_STORE_TRY(upsert.run());
  RUNWAY_STORE_TRY(tx.commit());
  return true;
}

Result<void> SqliteStore::releaseLease(const std::string& name, const std::string& holder) {
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  {
    RUNWAY_STORE_TRY_ASSIGN(select, conn_.prepare("SELECT holder FROM leases WHERE name = ?1"));
    select.bind(1, name);
    RUNWAY_STORE_TRY_ASSIGN(found, select.step());
    if (!found || select.text(0).empty()) return {};  // free: nothing to release
    if (select.text(0) != holder) {
      return fail(ErrorCode::Conflict,
                  "lease " + name + " is held by " + select.text(0) + ", not " + holder);
    }
  }
  // The row stays (holder '', expired), so that whoever takes the lease next gets a new term.
  RUNWAY_STORE_TRY_ASSIGN(remove, conn_.prepare("UPDATE leases SET holder = '', expires_at_ms = 0 "
                                                "WHERE name = ?1 AND holder = ?2"));
  remove.bind(1, name).bind(2, holder);
  RUNWAY_STORE_TRY(remove.run());
  return tx.commit();
}

Result<std::optional<Lease>> SqliteStore::getLease(const std::string& name) {
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(select, conn_.prepare("SELECT holder, expires_at_ms, term FROM leases "
                                                "WHERE name = ?1 AND holder <> ''"));
  select.bind(1, name);
  RUNWAY_STORE_TRY_ASSIGN(found, select.step());
  if (!found) return std::optional<Lease>();
  return std::optional<Lease>(
      Lease{name, select.text(0), fromUnixMillis(select.int64(1)), select.int64(2)});
}

void SqliteStore::setFence(std::optional<Fence> fence) {
  std::lock_guard lock(mutex_);
  fence_ = std::move(fence);
}

// One writer at a time (BEGIN IMMEDIATE): the lease cannot change between this check and the
// commit.
Result<void> SqliteStore::checkFenceLocked() {
  if (!fence_) return {};
  RUNWAY_STORE_TRY_ASSIGN(select, conn_.prepare("SELECT holder, term FROM leases WHERE name = ?1"));
  select.bind(1, fence_->lease);
  RUNWAY_STORE_TRY_ASSIGN(found, select.step());
  if (found && select.text(0) == fence_->holder && select.int64(1) == fence_->term) return {};
  if (fence_->on_refused) fence_->on_refused();
  return fail(ErrorCode::FailedPrecondition,
              fenceMessage(*fence_, found ? select.text(0) : std::string(), found ? select.int64(1) : 0));
}

Result<std::optional<TokenRecord>> SqliteStore::findTokenLocked(const std::string& id) {
  return findTokenIn(conn_, id);
}

Result<std::string> SqliteStore::putConfigSnapshot(const std::string& text) {
  if (text.empty()) return fail(ErrorCode::InvalidArgument, "a configuration snapshot needs text");
  const std::string key = sha256Hex(text);
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  {
    RUNWAY_STORE_TRY_ASSIGN(
        insert, conn_.prepare("INSERT INTO config_snapshots (key, text) VALUES (?1, ?2) "
                              "ON CONFLICT (key) DO NOTHING"));
    insert.bind(1, key).bind(2, text);
    RUNWAY_STORE_TRY(insert.run());
  }
  RUNWAY_STORE_TRY(tx.commit());
  return key;
}

Result<std::string> SqliteStore::getConfigSnapshot(const std::string& key) {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare("SELECT text FROM config_snapshots WHERE key = ?1"));
  select.bind(1, key);
  RUNWAY_STORE_TRY_ASSIGN(row, select.step());
  if (!row) return fail(ErrorCode::NotFound, "configuration snapshot " + key + " not found");
  return select.text(0);
}

Result<void> SqliteStore::createToken(const TokenRecord& token,
                                      const std::vector<NewEvent>& events) {
  if (token.id.empty() || token.name.empty()) {
    return fail(ErrorCode::InvalidArgument, "a token needs an id and a name");
  }
  if (token.roles.empty()) {
    return fail(ErrorCode::InvalidArgument, "token " + token.id + " has no roles");
  }
  if (token.salt.empty() || token.hash.empty()) {
    return fail(ErrorCode::InvalidArgument, "token " + token.id + " has no salt or hash");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(existing, findTokenLocked(token.id));
  if (existing) return fail(ErrorCode::Conflict, "token " + token.id + " already exists");
  {
    RUNWAY_STORE_TRY_ASSIGN(
        insert, conn_.prepare("INSERT INTO tokens (id, name, roles_json, salt, hash, created_by, "
                              "created_at_ms, revoked_at_ms, expires_at_ms) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8)"));
    insert.bind(1, token.id)
        .bind(2, token.name)
        .bind(3, rolesToJson(token.roles))
        .bind(4, token.salt)
        .bind(5, token.hash)
        .bind(6, token.created_by)
        .bind(7, toUnixMillis(token.created_at));
    // An unbound parameter is NULL: a token without expiry.
    if (token.expires_at) insert.bind(8, toUnixMillis(*token.expires_at));
    RUNWAY_STORE_TRY(insert.run());
  }
  if (token.revoked_at) {
    RUNWAY_STORE_TRY_ASSIGN(revoke,
                            conn_.prepare("UPDATE tokens SET revoked_at_ms = ?2 WHERE id = ?1"));
    revoke.bind(1, token.id).bind(2, toUnixMillis(*token.revoked_at));
    RUNWAY_STORE_TRY(revoke.run());
  }
  RUNWAY_STORE_TRY(appendAllLocked(events));
  return tx.commit();
}

Result<TokenRecord> SqliteStore::getToken(const std::string& id) {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(found, findTokenIn(read.conn(), id));
  if (!found) return fail(ErrorCode::NotFound, "token " + id + " not found");
  return std::move(*found);
}

Result<std::vector<TokenRecord>> SqliteStore::listTokens() {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare(std::string("SELECT ") + kTokenColumns +
                                                " FROM tokens ORDER BY created_at_ms, rowid"));
  std::vector<TokenRecord> tokens;
  while (true) {
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (!row) break;
    RUNWAY_STORE_TRY_ASSIGN(record, readToken(select));
    tokens.push_back(std::move(record));
  }
  return tokens;
}

// ---- notification outbox -------------------------------------------------------------------

// REQUIRES: mutex_ held, inside a write transaction, every notification validated.
Result<void> SqliteStore::insertNotificationsLocked(const std::vector<NewNotification>& notifications) {
  for (const auto& n : notifications) {
    RUNWAY_STORE_TRY_ASSIGN(
        insert, conn_.prepare("INSERT INTO notifications (created_at_ms, channel, event, subject, "
                              "environment, dedup_key, message_json, status, attempts, "
                              "next_attempt_at_ms, last_status, last_error, updated_at_ms) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?1, 0, '', ?1)"));
    insert.bind(1, toUnixMillis(n.at))
        .bind(2, n.channel)
        .bind(3, n.event)
        .bind(4, n.subject)
        .bind(5, n.environment)
        .bind(6, n.dedup_key)
        .bind(7, n.message_json);
    RUNWAY_STORE_TRY(insert.run());
  }
  return {};
}

Result<void> SqliteStore::enqueueNotifications(const std::vector<NewNotification>& notifications,
                                               const std::vector<NewEvent>& events) {
  for (const auto& n : notifications) RUNWAY_STORE_TRY(validateNotification(n));
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY(insertNotificationsLocked(notifications));
  RUNWAY_STORE_TRY(appendAllLocked(events));
  return tx.commit();
}

Result<std::vector<NotificationRecord>> SqliteStore::dueNotifications(TimePoint now, int limit) {
  if (limit <= 0) return fail(ErrorCode::InvalidArgument, "notification limit must be positive");
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select,
                          read.conn().prepare(std::string("SELECT ") + kNotificationColumns +
                                        " FROM notifications WHERE status = 'pending' AND "
                                        "next_attempt_at_ms <= ?1 ORDER BY next_attempt_at_ms, id "
                                        "LIMIT ?2"));
  select.bind(1, toUnixMillis(now)).bind(2, std::int64_t{limit});
  std::vector<NotificationRecord> out;
  while (true) {
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (!row) break;
    out.push_back(readNotification(select));
  }
  return out;
}

Result<NotificationRecord> SqliteStore::recordDeliveryAttempt(const DeliveryAttempt& attempt) {
  if (attempt.status != kNotificationPending && attempt.status != kNotificationDelivered &&
      attempt.status != kNotificationFailed) {
    return fail(ErrorCode::InvalidArgument, "unknown notification status \"" + attempt.status + "\"");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  std::optional<NotificationRecord> found;
  {
    RUNWAY_STORE_TRY_ASSIGN(select, conn_.prepare(std::string("SELECT ") + kNotificationColumns +
                                                  " FROM notifications WHERE id = ?1"));
    select.bind(1, attempt.id);
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (row) found = readNotification(select);
  }
  if (!found) return fail(ErrorCode::NotFound, "notification " + std::to_string(attempt.id) + " not found");
  if (found->status != kNotificationPending) {
    return fail(ErrorCode::Conflict, "notification " + std::to_string(attempt.id) + " is already " +
                                         found->status);
  }
  found->status = attempt.status;
  found->attempts += 1;
  found->next_attempt_at = attempt.next_attempt_at;
  found->last_status = attempt.last_status;
  found->last_error = attempt.last_error;
  found->updated_at = attempt.at;
  {
    RUNWAY_STORE_TRY_ASSIGN(update,
                            conn_.prepare("UPDATE notifications SET status = ?2, attempts = ?3, "
                                          "next_attempt_at_ms = ?4, last_status = ?5, "
                                          "last_error = ?6, updated_at_ms = ?7 WHERE id = ?1"));
    update.bind(1, found->id)
        .bind(2, found->status)
        .bind(3, std::int64_t{found->attempts})
        .bind(4, toUnixMillis(found->next_attempt_at))
        .bind(5, std::int64_t{found->last_status})
        .bind(6, found->last_error)
        .bind(7, toUnixMillis(found->updated_at));
    RUNWAY_STORE_TRY(update.run());
  }
  RUNWAY_STORE_TRY(tx.commit());
  return std::move(*found);
}

Result<std::vector<NotificationRecord>> SqliteStore::listNotifications(const NotificationFilter& filter) {
  if (filter.limit <= 0) return fail(ErrorCode::InvalidArgument, "notification limit must be positive");
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select,
                          read.conn().prepare(std::string("SELECT ") + kNotificationColumns +
                                        " FROM notifications WHERE (?1 = '' OR status = ?1) AND "
                                        "(?2 = '' OR subject = ?2) ORDER BY id DESC LIMIT ?3"));
  select.bind(1, filter.status).bind(2, filter.subject).bind(3, std::int64_t{filter.limit});
  std::vector<NotificationRecord> out;
  while (true) {
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (!row) break;
    out.push_back(readNotification(select));
  }
  return out;
}

Result<std::map<std::string, std::int64_t>> SqliteStore::countNotifications() {
  RUNWAY_STORE_TRY_ASSIGN(read, reader());
  RUNWAY_STORE_TRY_ASSIGN(select, read.conn().prepare("SELECT status, COUNT(*) FROM notifications GROUP BY status"));
  std::map<std::string, std::int64_t> out;
  while (true) {
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (!row) break;
    out[select.text(0)] = select.int64(1);
  }
  return out;
}

Result<void> SqliteStore::revokeToken(const std::string& id, TimePoint at,
                                      const std::vector<NewEvent>& events) {
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn_, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(existing, findTokenLocked(id));
  if (!existing) return fail(ErrorCode::NotFound, "token " + id + " not found");
  if (!existing->revoked_at) {
    RUNWAY_STORE_TRY_ASSIGN(
        revoke, conn_.prepare("UPDATE tokens SET revoked_at_ms = ?2 "
                              "WHERE id = ?1 AND revoked_at_ms IS NULL"));
    revoke.bind(1, id).bind(2, toUnixMillis(at));
    RUNWAY_STORE_TRY(revoke.run());
  }
  RUNWAY_STORE_TRY(appendAllLocked(events));
  return tx.commit();
}

// Creates the file with mode 0600 before SQLite sees it (SQLite would use 0644 less umask), so
// it is never readable by others, not even briefly. The -wal and -shm files SQLite creates take
// the database file's mode.
Result<void> createPrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return {};
    return fail(ErrorCode::Unavailable,
                "cannot create store file " + path + ": " + std::strerror(errno));
  }
  ::close(fd);
  return {};
}

Result<void> configure(Connection& conn, const std::string& path) {
  // busy_timeout first: switching to WAL and migrating may wait for another process.
  RUNWAY_STORE_TRY(conn.exec("PRAGMA busy_timeout = 5000"));
  RUNWAY_STORE_TRY(conn.exec("PRAGMA foreign_keys = ON"));
  RUNWAY_STORE_TRY_ASSIGN(mode, conn.prepare("PRAGMA journal_mode = WAL"));
  RUNWAY_STORE_TRY_ASSIGN(row, mode.step());
  if (!row || mode.text(0) != "wal") {
    return fail(ErrorCode::Unavailable,
                "cannot switch store " + path + " to WAL mode (journal mode is " +
                    (row ? mode.text(0) : std::string("unknown")) + ")");
  }
  // FULL: a committed audit record survives power loss, not only a crash of runway.
  RUNWAY_STORE_TRY(conn.exec("PRAGMA synchronous = FULL"));
  return {};
}

Result<void> migrate(Connection& conn, const std::string& path) {
  RUNWAY_STORE_TRY_ASSIGN(tx, Transaction::begin(conn, Transaction::Mode::Write));
  RUNWAY_STORE_TRY(conn.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"));
  std::int64_t current = 0;
  {
    RUNWAY_STORE_TRY_ASSIGN(select,
                      conn.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    RUNWAY_STORE_TRY_ASSIGN(row, select.step());
    if (row) current = select.int64(0);
  }
  if (current > kLatestSchema) {
    return fail(ErrorCode::FailedPrecondition,
                "store " + path + " has schema version " + std::to_string(current) +
                    ", newer than this runway supports (" + std::to_string(kLatestSchema) +
                    "); upgrade runway to open it");
  }
  for (const Migration& migration : kMigrations) {
    if (migration.version <= current) continue;
    auto applied = conn.exec(migration.sql);
    if (!applied) {
      return fail(applied.error().code, "store " + path + ": schema migration " +
                                            std::to_string(migration.version) +
                                            " failed: " + applied.error().message);
    }
    RUNWAY_STORE_TRY_ASSIGN(record, conn.prepare("INSERT INTO schema_migrations (version) VALUES (?1)"));
    record.bind(1, std::int64_t{migration.version});
    RUNWAY_STORE_TRY(record.run());
  }
  return tx.commit();
}

}  // namespace

Result<std::unique_ptr<Store>> openSqliteStore(const std::string& path, std::optional<AuditKey> audit_key) {
  namespace fs = std::filesystem;
  fs::path file(path);
  fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return fail(ErrorCode::Unavailable,
                "cannot open store at " + path + ": directory " + dir.string() + " does not exist");
  }
  RUNWAY_STORE_TRY(createPrivateFile(path));
  RUNWAY_STORE_TRY_ASSIGN(conn, Connection::open(path, /*create=*/false));
  auto configured = configure(conn, path);
  if (!configured) {
    Error error = configured.error();
    if (error.code == ErrorCode::FailedPrecondition) {
      error.message = path + " is not a runway store: " + error.message;
    }
    return fail(std::move(error));
  }
  RUNWAY_STORE_TRY(migrate(conn, path));
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(conn), path, std::move(audit_key)));
}

}  // namespace runway::store
