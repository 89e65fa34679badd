// The PostgreSQL implementation of Store: one connection for writes and three read-only ones
// for lookups and lists (each reconnected when lost), every write one transaction, row locks
// where SQLite relies on its single writer, schema migrations applied on open under an advisory
// lock.

#include <array>
#include <atomic>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <span>
#include <utility>

#include "chain.hpp"
#include "postgres.hpp"
#include "postgres_schema.hpp"
#include "reader_pool.hpp"
#include "records.hpp"
#include "runway/core/redact.hpp"
#include "runway/store/postgres_store.hpp"
#include "runway/store/store.hpp"

namespace runway::store {
namespace postgres_impl {
namespace {

using pg::Param;
using pg::Rows;
using Tx = pg::Transaction;

struct PgMigration {
  int version;
  const char* sql;
};

// Append only: never edit a migration that has shipped; add a new one. The schema is
// SQLite's (sqlite_store.cpp) at its version 7, with `ord` columns where SQLite's rowid orders
// ties, and a `term` on leases (bumped whenever the lease changes hands: the fencing token).
constexpr PgMigration kPgMigrations[] = {
    {1, R"sql(
CREATE TABLE releases (
  ord            BIGSERIAL NOT NULL,
  application    TEXT NOT NULL,
  version        TEXT NOT NULL,
  artifacts_json TEXT NOT NULL,
  created_at_ms  BIGINT NOT NULL,
  PRIMARY KEY (application, version)
);
CREATE INDEX releases_by_application ON releases (application, created_at_ms);

CREATE TABLE deployments (
  ord           BIGSERIAL NOT NULL,
  id            TEXT PRIMARY KEY,
  environment   TEXT NOT NULL,
  application   TEXT NOT NULL,
  version       TEXT NOT NULL,
  phase         TEXT NOT NULL,
  state_json    TEXT NOT NULL,
  revision      BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  evidence_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX deployments_by_created ON deployments (created_at_ms);
CREATE INDEX deployments_by_environment ON deployments (environment, created_at_ms);

CREATE TABLE approvals (
  ord           BIGSERIAL NOT NULL,
  deployment_id TEXT NOT NULL REFERENCES deployments (id),
  actor         TEXT NOT NULL,
  role          TEXT NOT NULL,
  approved      INTEGER NOT NULL,
  comment       TEXT NOT NULL,
  at_ms         BIGINT NOT NULL,
  PRIMARY KEY (deployment_id, actor, role)
);

CREATE TABLE events (
  seq       BIGINT PRIMARY KEY,
  at_ms     BIGINT NOT NULL,
  actor     TEXT NOT NULL,
  kind      TEXT NOT NULL,
  subject   TEXT NOT NULL,
  reason    TEXT NOT NULL,
  data_json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL,
  key_id    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_subject ON events (subject, seq);
-- Defence in depth: runway never changes or removes an event. Someone with the rights to drop
-- this trigger can; the hash chain is what finds such edits.
CREATE FUNCTION runway_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'the event log is append-only'; END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION runway_events_append_only();

-- The last record appended (seq 0 and the genesis hash for an empty log). Appends lock this row,
-- so servers sharing the database append one at a time and the chain stays one chain.
CREATE TABLE event_chain_head (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  seq   BIGINT NOT NULL,
  at_ms BIGINT NOT NULL,
  hash  TEXT NOT NULL
);
INSERT INTO event_chain_head (id, seq, at_ms, hash)
  VALUES (1, 0, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE leases (
  name          TEXT PRIMARY KEY,
  holder        TEXT NOT NULL,
  term          BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL
);

CREATE TABLE tokens (
  ord           BIGSERIAL NOT NULL,
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  roles_json    TEXT NOT NULL,
  salt          TEXT NOT NULL,
  hash          TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  revoked_at_ms BIGINT,
  expires_at_ms BIGINT
);
CREATE INDEX tokens_by_created ON tokens (created_at_ms);

CREATE TABLE serving (
  environment   TEXT PRIMARY KEY,
  version       TEXT NOT NULL,
  deployment_id TEXT NOT NULL,
  colour        TEXT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);

CREATE TABLE notifications (
  id                 BIGSERIAL PRIMARY KEY,
  created_at_ms      BIGINT NOT NULL,
  channel            TEXT NOT NULL,
  event              TEXT NOT NULL,
  subject            TEXT NOT NULL,
  environment        TEXT NOT NULL,
  dedup_key          TEXT NOT NULL,
  message_json       TEXT NOT NULL,
  status             TEXT NOT NULL,
  attempts           INTEGER NOT NULL,
  next_attempt_at_ms BIGINT NOT NULL,
  last_status        INTEGER NOT NULL,
  last_error         TEXT NOT NULL,
  updated_at_ms      BIGINT NOT NULL
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at_ms, id);
CREATE INDEX notifications_by_subject ON notifications (subject, id);
)sql"},
    {2, R"sql(
-- Configuration snapshots, one row per content (SQLite's migration 9).
CREATE TABLE config_snapshots (
  ord  BIGSERIAL NOT NULL,
  key  TEXT PRIMARY KEY,
  text TEXT NOT NULL
);
)sql"},
    {3, R"sql(
-- Makes a lease's holder and term key columns (name alone is already unique): a fenced write
-- holds its lease row FOR KEY SHARE, which a takeover (a new holder and term) waits for and the
-- holder's renewal (the expiry only) does not.
CREATE UNIQUE INDEX leases_holder_term ON leases (name, holder, term);
)sql"},
};

constexpr int kPgLatestSchema = static_cast<int>(std::size(kPgMigrations));
// pg_advisory_xact_lock key of schema migrations ("runway" in ASCII).
constexpr const char* kMigrationLock = "125848690057593";

DeploymentRecord deploymentAt(const Rows& rows, int r) {
  DeploymentRecord record;
  record.id = rows.text(r, 0);
  record.environment = rows.text(r, 1);
  record.application = rows.text(r, 2);
  record.version = rows.text(r, 3);
  record.phase = rows.text(r, 4);
  record.state_json = rows.text(r, 5);
  record.revision = rows.int64(r, 6);
  record.created_at = fromUnixMillis(rows.int64(r, 7));
  record.updated_at = fromUnixMillis(rows.int64(r, 8));
  record.evidence_json = rows.text(r, 9);
  return record;
}


EventRecord eventAt(const Rows& rows, int r) {
  EventRecord record;
  record.seq = rows.int64(r, 0);
  record.at = fromUnixMillis(rows.int64(r, 1));
  record.actor = rows.text(r, 2);
  record.kind = rows.text(r, 3);
  record.subject = rows.text(r, 4);
  record.reason = rows.text(r, 5);
  record.data_json = rows.text(r, 6);
  record.prev_hash = rows.text(r, 7);
  record.hash = rows.text(r, 8);
  record.key_id = rows.text(r, 9);
  return record;
}

constexpr const char* kPgTokenColumns =
    "id, name, roles_json, salt, hash, created_by, created_at_ms, revoked_at_ms, expires_at_ms";

Result<TokenRecord> tokenAt(const Rows& rows, int r) {
  TokenRecord record;
  record.id = rows.text(r, 0);
  record.name = rows.text(r, 1);
  auto roles = rolesFromJson(rows.text(r, 2));
  if (!roles) return fail(std::move(roles).error());
  record.roles = std::move(*roles);
  record.salt = rows.text(r, 3);
  record.hash = rows.text(r, 4);
  record.created_by = rows.text(r, 5);
  record.created_at = fromUnixMillis(rows.int64(r, 6));
  if (!rows.null(r, 7)) record.revoked_at = fromUnixMillis(rows.int64(r, 7));
  if (!rows.null(r, 8)) record.expires_at = fromUnixMillis(rows.int64(r, 8));
  return record;
}


NotificationRecord notificationAt(const Rows& rows, int r) {
  NotificationRecord n;
  n.id = rows.int64(r, 0);
  n.created_at = fromUnixMillis(rows.int64(r, 1));
  n.channel = rows.text(r, 2);
  n.event = rows.text(r, 3);
  n.subject = rows.text(r, 4);
  n.environment = rows.text(r, 5);
  n.dedup_key = rows.text(r, 6);
  n.message_json = rows.text(r, 7);
  n.status = rows.text(r, 8);
  n.attempts = static_cast<int>(rows.int64(r, 9));
  n.next_attempt_at = fromUnixMillis(rows.int64(r, 10));
  n.last_status = static_cast<int>(rows.int64(r, 11));
  n.last_error = rows.text(r, 12);
  n.updated_at = fromUnixMillis(rows.int64(r, 13));
  return n;
}

std::int64_t ms(TimePoint t) { return toUnixMillis(t); }

}  // namespace

// Applies pending migrations in one transaction under the migration lock.
Result<void> migratePg(pg::Connection& conn) {
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn, Tx::Mode::Write));
  RUNWAY_STORE_TRY(conn.exec(std::string("SELECT pg_advisory_xact_lock(") + kMigrationLock + ")"));
  RUNWAY_STORE_TRY(conn.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"));
  RUNWAY_STORE_TRY_ASSIGN(current_rows,
                          conn.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  const std::int64_t current = current_rows.int64(0, 0);
  if (current > kPgLatestSchema) {
    return fail(ErrorCode::FailedPrecondition,
                "store " + conn.where() + " has schema version " + std::to_string(current) +
                    ", newer than this runway supports (" + std::to_string(kPgLatestSchema) +
                    "); upgrade runway to open it");
  }
  for (const PgMigration& migration : kPgMigrations) {
    if (migration.version <= current) continue;
    auto applied = conn.script(migration.sql);
    if (!applied) {
      return fail(applied.error().code, "store " + conn.where() + ": schema migration " +
                                            std::to_string(migration.version) +
                                            " failed: " + applied.error().message);
    }
    RUNWAY_STORE_TRY(conn.exec("INSERT INTO schema_migrations (version) VALUES ($1)",
                               {std::int64_t{migration.version}}));
  }
  return tx.commit();
}

// Walks the chain in `conn`'s current transaction (a snapshot) in pages, in constant memory.
Result<ChainReport> verifyChainIn(pg::Connection& conn, const std::optional<AuditKey>& key) {
  RUNWAY_STORE_TRY_ASSIGN(head, conn.exec("SELECT seq, at_ms, hash FROM event_chain_head WHERE id = 1"));
  std::int64_t head_seq = 0;
  TimePoint head_at{};
  std::string head_hash(kGenesisHash);
  if (head.size() == 1) {
    head_seq = head.int64(0, 0);
    head_at = fromUnixMillis(head.int64(0, 1));
    head_hash = head.text(0, 2);
  }
  ChainReport report;
  ChainVerifier verifier(key);
  if (key) report.key_id = key->id;
  RUNWAY_STORE_TRY(conn.exec(std::string("DECLARE runway_chain NO SCROLL CURSOR FOR SELECT ") +
                             kPgEventColumns + " FROM events ORDER BY seq"));
  while (!report.first_break) {
    RUNWAY_STORE_TRY_ASSIGN(page, conn.exec("FETCH 1000 FROM runway_chain"));
    if (page.size() == 0) break;
    for (int r = 0; r < page.size() && !report.first_break; ++r) {
      report.first_break = verifier.next(eventAt(page, r));
    }
  }
  RUNWAY_STORE_TRY(conn.exec("CLOSE runway_chain"));
  if (!report.first_break) report.first_break = verifier.finish(head_seq, head_at, head_hash);
  report.events = verifier.count();
  report.unkeyed = verifier.unkeyed();
  return report;
}

namespace {

class PostgresStore final : public Store {
 public:
  PostgresStore(pg::Connection conn, pg::ConnectOptions options, std::optional<AuditKey> key)
      : conn_(std::move(conn)), options_(std::move(options)), key_(std::move(key)) {}

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
  Result<std::optional<DeploymentRecord>> findDeploymentLocked(const std::string& id, bool lock);
  Result<std::optional<TokenRecord>> findTokenLocked(const std::string& id, bool lock);
  Result<void> insertNotificationsLocked(const std::vector<NewNotification>& notifications);

  // Runs one read statement on a read connection (pg::Connection::read: its own transaction,
  // one round trip; reconnects when the connection was lost): a free reader if there is one,
  // else the next in turn once it is free; each opened on first use.
  Result<Rows> read(std::string_view sql, std::initializer_list<Param> params = {});

  std::mutex mutex_;  // guards conn_
  pg::Connection conn_;
  const pg::ConnectOptions options_;
  const std::optional<AuditKey> key_;
  std::optional<Fence> fence_;  // guarded by mutex_
  // verifyChain() reads through its own connection, opened on first use, so walking a long log
  // does not hold up the controller's writes.
  std::mutex verify_mutex_;
  std::optional<pg::Connection> verify_conn_;
  // Lookups and lists (the API's GETs, the authenticator's token lookups, the controller's
  // serving records, the outbox worker's due messages) read through these, never through conn_:
  // a GET does not queue behind the controller's commits, which hold mutex_ for their round
  // trips and the server's fsync. Each statement sees what was committed when it began (READ
  // COMMITTED), as a read through conn_ did.
  ReaderPool<pg::Connection, 3> readers_;
};

Result<Rows> PostgresStore::read(std::string_view sql, std::initializer_list<Param> params) {
  RUNWAY_STORE_TRY_ASSIGN(lease, readers_.acquire([&]() -> Result<pg::Connection> {
    pg::ConnectOptions options = options_;
    options.read_only = true;
    return pg::Connection::open(options);
  }));
  return lease.conn().read(sql, std::vector<Param>(params));
}

Result<void> PostgresStore::putRelease(const Release& release) {
  if (release.application.empty() || release.version.empty()) {
    return fail(ErrorCode::InvalidArgument, "a release needs an application and a version");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  // ON CONFLICT DO NOTHING: a release put by another server at the same moment is compared, not
  // a unique violation.
  RUNWAY_STORE_TRY(conn_.exec("INSERT INTO releases (application, version, artifacts_json, "
                              "created_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                              {release.application, release.version,
                               artifactsToJson(release.artifacts), ms(release.created_at)}));
  RUNWAY_STORE_TRY_ASSIGN(stored, conn_.exec("SELECT artifacts_json FROM releases WHERE "
                                             "application = $1 AND version = $2",
                                             {release.application, release.version}));
  RUNWAY_STORE_TRY_ASSIGN(artifacts, artifactsFromJson(stored.text(0, 0)));
  if (artifacts != release.artifacts) {
    return fail(ErrorCode::Conflict, "release " + release.application + "@" + release.version +
                                         " already exists with different artifacts");
  }
  return tx.commit();
}

Result<Release> PostgresStore::getRelease(const std::string& application,
                                          const std::string& version) {
  RUNWAY_STORE_TRY_ASSIGN(rows, read("SELECT artifacts_json, created_at_ms FROM releases "
                                           "WHERE application = $1 AND version = $2",
                                           {application, version}));
  if (rows.size() == 0) {
    return fail(ErrorCode::NotFound, "release " + application + "@" + version + " not found");
  }
  RUNWAY_STORE_TRY_ASSIGN(artifacts, artifactsFromJson(rows.text(0, 0)));
  return Release{application, version, std::move(artifacts), fromUnixMillis(rows.int64(0, 1))};
}

Result<std::vector<Release>> PostgresStore::listReleases(const std::string& application) {
  RUNWAY_STORE_TRY_ASSIGN(rows, read("SELECT version, artifacts_json, created_at_ms FROM "
                                           "releases WHERE application = $1 "
                                           "ORDER BY created_at_ms DESC, ord DESC",
                                           {application}));
  std::vector<Release> releases;
  for (int r = 0; r < rows.size(); ++r) {
    RUNWAY_STORE_TRY_ASSIGN(artifacts, artifactsFromJson(rows.text(r, 1)));
    releases.push_back(Release{application, rows.text(r, 0), std::move(artifacts),
                               fromUnixMillis(rows.int64(r, 2))});
  }
  return releases;
}

Result<std::optional<DeploymentRecord>> PostgresStore::findDeploymentLocked(const std::string& id,
                                                                            bool lock) {
  RUNWAY_STORE_TRY_ASSIGN(rows, conn_.exec(std::string("SELECT ") + kPgDeploymentColumns +
                                               " FROM deployments WHERE id = $1" +
                                               (lock ? " FOR UPDATE" : ""),
                                           {id}));
  if (rows.size() == 0) return std::optional<DeploymentRecord>();
  return std::optional<DeploymentRecord>(deploymentAt(rows, 0));
}

Result<DeploymentRecord> PostgresStore::createDeployment(const DeploymentRecord& record,
                                                         const std::vector<NewEvent>& events) {
  if (record.id.empty()) return fail(ErrorCode::InvalidArgument, "deployment id is empty");
  if (!isJson(record.state_json)) {
    return fail(ErrorCode::InvalidArgument, "deployment " + record.id + ": state is not valid JSON");
  }
  if (!isJson(record.evidence_json)) {
    return fail(ErrorCode::InvalidArgument,
                "deployment " + record.id + ": release evidence is not valid JSON");
  }
  for (const NewEvent& e : events) RUNWAY_STORE_TRY(validateEvent(e));
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  DeploymentRecord stored = record;
  stored.revision = 1;
  RUNWAY_STORE_TRY_ASSIGN(
      inserted, conn_.exec(std::string("INSERT INTO deployments (") + kPgDeploymentColumns +
                               ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                               "ON CONFLICT (id) DO NOTHING",
                           {stored.id, stored.environment, stored.application, stored.version,
                            stored.phase, stored.state_json, stored.revision,
                            ms(stored.created_at), ms(stored.updated_at), stored.evidence_json}));
  if (inserted.affected() == 0) {
    return fail(ErrorCode::Conflict, "deployment " + record.id + " already exists");
  }
  RUNWAY_STORE_TRY(appendAllLocked(events));
  RUNWAY_STORE_TRY(tx.commit());
  return stored;
}

Result<DeploymentRecord> PostgresStore::updateDeployment(
    const DeploymentRecord& record, const std::vector<NewEvent>& events,
    const std::vector<ApprovalRecord>& approvals, const std::optional<ServingRecord>& serving,
    const std::vector<NewNotification>& notifications) {
  for (const auto& n : notifications) RUNWAY_STORE_TRY(validateNotification(n));
  if (!isJson(record.state_json)) {
    return fail(ErrorCode::InvalidArgument, "deployment " + record.id + ": state is not valid JSON");
  }
  for (const NewEvent& e : events) RUNWAY_STORE_TRY(validateEvent(e));
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  // FOR UPDATE: a second server's commit of the same deployment waits here, then sees the new
  // revision and gets Conflict.
  RUNWAY_STORE_TRY_ASSIGN(existing, findDeploymentLocked(record.id, /*lock=*/true));
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
  RUNWAY_STORE_TRY(conn_.exec("UPDATE deployments SET phase = $1, state_json = $2, revision = $3, "
                              "updated_at_ms = $4 WHERE id = $5 AND revision = $6",
                              {stored.phase, stored.state_json, stored.revision,
                               ms(stored.updated_at), stored.id, record.revision}));
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
    RUNWAY_STORE_TRY(conn_.exec(
        "INSERT INTO serving (environment, version, deployment_id, colour, updated_at_ms) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (environment) DO UPDATE SET "
        "version = excluded.version, deployment_id = excluded.deployment_id, "
        "colour = excluded.colour, updated_at_ms = excluded.updated_at_ms",
        {serving->environment, serving->version, serving->deployment_id, serving->colour,
         ms(serving->updated_at)}));
  }
  RUNWAY_STORE_TRY(insertNotificationsLocked(notifications));
  RUNWAY_STORE_TRY(appendAllLocked(events));
  RUNWAY_STORE_TRY(tx.commit());
  return stored;
}

Result<std::optional<ServingRecord>> PostgresStore::getServing(const std::string& environment) {
  RUNWAY_STORE_TRY_ASSIGN(rows, read("SELECT version, deployment_id, colour, updated_at_ms "
                                           "FROM serving WHERE environment = $1",
                                           {environment}));
  if (rows.size() == 0) return std::optional<ServingRecord>();
  ServingRecord out;
  out.environment = environment;
  out.version = rows.text(0, 0);
  out.deployment_id = rows.text(0, 1);
  out.colour = rows.text(0, 2);
  out.updated_at = fromUnixMillis(rows.int64(0, 3));
  return std::optional<ServingRecord>(std::move(out));
}

Result<DeploymentRecord> PostgresStore::getDeployment(const std::string& id) {
  RUNWAY_STORE_TRY_ASSIGN(rows, read(std::string("SELECT ") + kPgDeploymentColumns +
                                         " FROM deployments WHERE id = $1",
                                     {id}));
  if (rows.size() == 0) return fail(ErrorCode::NotFound, "deployment " + id + " not found");
  return deploymentAt(rows, 0);
}

Result<std::vector<DeploymentRecord>> PostgresStore::listDeployments(const DeploymentFilter& filter) {
  if (filter.limit <= 0 || filter.offset < 0) {
    return fail(ErrorCode::InvalidArgument, "deployment list limit must be positive and offset not negative");
  }
  RUNWAY_STORE_TRY_ASSIGN(
      rows, read(std::string("SELECT ") + kPgDeploymentColumns +
                           " FROM deployments WHERE ($1 = '' OR environment = $1) "
                           "AND ($2 = '' OR phase = $2) AND ($3 = '' OR version = $3) "
                           "ORDER BY created_at_ms DESC, ord DESC LIMIT $4 OFFSET $5",
                       {filter.environment, filter.phase, filter.version,
                        std::int64_t{filter.limit}, std::int64_t{filter.offset}}));
  std::vector<DeploymentRecord> records;
  for (int r = 0; r < rows.size(); ++r) records.push_back(deploymentAt(rows, r));
  return records;
}

// REQUIRES: mutex_ held, inside a write transaction, the deployment exists.
Result<void> PostgresStore::insertApprovalLocked(const ApprovalRecord& approval) {
  RUNWAY_STORE_TRY_ASSIGN(
      inserted, conn_.exec("INSERT INTO approvals (deployment_id, actor, role, approved, comment, "
                           "at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                           {approval.deployment_id, approval.actor, approval.role,
                            std::int64_t{approval.approved ? 1 : 0}, approval.comment,
                            ms(approval.at)}));
  if (inserted.affected() == 1) return {};
  RUNWAY_STORE_TRY_ASSIGN(found, conn_.exec("SELECT approved FROM approvals WHERE "
                                            "deployment_id = $1 AND actor = $2 AND role = $3",
                                            {approval.deployment_id, approval.actor, approval.role}));
  const bool approved = found.size() == 1 && found.int64(0, 0) != 0;
  return fail(ErrorCode::Conflict, approval.actor + " already " +
                                       (approved ? "approved" : "rejected") + " deployment " +
                                       approval.deployment_id + " as " + approval.role);
}

Result<void> PostgresStore::addApproval(const ApprovalRecord& approval,
                                        const std::vector<NewEvent>& events) {
  for (const NewEvent& e : events) RUNWAY_STORE_TRY(validateEvent(e));
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(deployment, findDeploymentLocked(approval.deployment_id, /*lock=*/false));
  if (!deployment) {
    return fail(ErrorCode::NotFound, "deployment " + approval.deployment_id + " not found");
  }
  RUNWAY_STORE_TRY(insertApprovalLocked(approval));
  RUNWAY_STORE_TRY(appendAllLocked(events));
  return tx.commit();
}

Result<std::vector<ApprovalRecord>> PostgresStore::listApprovals(const std::string& deployment_id) {
  // One statement: the deployment (so that an unknown one is NotFound) and its approvals, a row
  // with NULLs when it has none.
  RUNWAY_STORE_TRY_ASSIGN(rows, read("SELECT a.actor, a.role, a.approved, a.comment, a.at_ms FROM "
                                     "deployments d LEFT JOIN approvals a ON a.deployment_id = d.id "
                                     "WHERE d.id = $1 ORDER BY a.ord",
                                     {deployment_id}));
  if (rows.size() == 0) return fail(ErrorCode::NotFound, "deployment " + deployment_id + " not found");
  std::vector<ApprovalRecord> approvals;
  for (int r = 0; r < rows.size(); ++r) {
    if (rows.null(r, 0)) continue;
    approvals.push_back(ApprovalRecord{deployment_id, rows.text(r, 0), rows.text(r, 1),
                                       rows.int64(r, 2) != 0, rows.text(r, 3),
                                       fromUnixMillis(rows.int64(r, 4))});
  }
  return approvals;
}

Result<EventRecord> PostgresStore::appendLocked(const NewEvent& event) {
  RUNWAY_STORE_TRY(validateEvent(event));
  // Locking the head serialises appends across every server on the database.
  RUNWAY_STORE_TRY_ASSIGN(
      head, conn_.exec("SELECT h.seq, h.hash, COALESCE(e.key_id, '') FROM event_chain_head h "
                       "LEFT JOIN events e ON e.seq = h.seq WHERE h.id = 1 FOR UPDATE OF h"));
  if (head.size() != 1) {
    return fail(ErrorCode::FailedPrecondition,
                "the event log of " + conn_.where() + " has no chain head row (it was deleted)");
  }
  EventRecord record;
  record.seq = head.int64(0, 0) + 1;
  record.prev_hash = head.text(0, 1);
  if (!key_ && !head.text(0, 2).empty()) {
    return fail(ErrorCode::FailedPrecondition,
                "the event log of " + conn_.where() + " is linked with audit key " +
                    head.text(0, 2) +
                    "; an event appended without it would break the chain (open the store with its key)");
  }
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
  RUNWAY_STORE_TRY(conn_.exec(std::string("INSERT INTO events (") + kPgEventColumns +
                                  ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                              {record.seq, ms(record.at), record.actor, record.kind,
                               record.subject, record.reason, record.data_json, record.prev_hash,
                               record.hash, record.key_id}));
  RUNWAY_STORE_TRY(conn_.exec("UPDATE event_chain_head SET seq = $1, at_ms = $2, hash = $3 "
                              "WHERE id = 1",
                              {record.seq, ms(record.at), record.hash}));
  return record;
}

Result<void> PostgresStore::appendAllLocked(std::span<const NewEvent> events) {
  for (const NewEvent& event : events) RUNWAY_STORE_TRY(appendLocked(event));
  return {};
}

Result<EventRecord> PostgresStore::appendEvent(const NewEvent& event) {
  RUNWAY_STORE_TRY(validateEvent(event));
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(record, appendLocked(event));
  RUNWAY_STORE_TRY(tx.commit());
  return record;
}

Result<std::vector<EventRecord>> PostgresStore::listEvents(const EventFilter& filter) {
  if (filter.limit <= 0) return fail(ErrorCode::InvalidArgument, "event list limit must be positive");
  RUNWAY_STORE_TRY_ASSIGN(rows, read(std::string("SELECT ") + kPgEventColumns +
                                               " FROM events WHERE seq > $1 AND "
                                               "($2 = '' OR subject = $2) ORDER BY seq LIMIT $3",
                                           {filter.after_seq, filter.subject,
                                            std::int64_t{filter.limit}}));
  std::vector<EventRecord> records;
  records.reserve(static_cast<std::size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) records.push_back(eventAt(rows, r));
  return records;
}

Result<ChainReport> PostgresStore::verifyChain() {
  std::lock_guard lock(verify_mutex_);
  if (!verify_conn_) {
    RUNWAY_STORE_TRY_ASSIGN(opened, pg::Connection::open(options_));
    verify_conn_.emplace(std::move(opened));
  }
  // One snapshot, so the head and the rows agree.
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(*verify_conn_, Tx::Mode::Snapshot));
  RUNWAY_STORE_TRY_ASSIGN(report, verifyChainIn(*verify_conn_, key_));
  RUNWAY_STORE_TRY(tx.commit());
  return report;
}

Result<bool> PostgresStore::acquireLease(const std::string& name, const std::string& holder,
                                         Duration ttl, TimePoint now) {
  if (name.empty() || holder.empty()) {
    return fail(ErrorCode::InvalidArgument, "a lease needs a name and a holder");
  }
  if (ttl <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument, "lease " + name + ": ttl must be positive");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  // Our own lease: the expiry only. Holder and term stay as they are, so this never waits for
  // the holder's fenced writes in flight (they hold the row FOR KEY SHARE: checkFenceLocked).
  // A renewal that queued behind them would let the lease lapse while the leader waited.
  RUNWAY_STORE_TRY_ASSIGN(renewed, conn_.exec("UPDATE leases SET expires_at_ms = $3 WHERE name = $1 AND holder = $2 "
                                              "RETURNING term",
                                              {name, holder, ms(now + ttl)}));
  if (renewed.size() == 1) {
    RUNWAY_STORE_TRY(tx.commit());
    return true;
  }
  // Another holder's live lease: left alone, without locking its row (followers ask often).
  RUNWAY_STORE_TRY_ASSIGN(live, conn_.exec("SELECT 1 FROM leases WHERE name = $1 AND holder <> '' AND "
                                           "expires_at_ms > $2",
                                           {name, ms(now)}));
  if (live.size() == 1) {
    RUNWAY_STORE_TRY(tx.commit());
    return false;
  }
  // Free or expired: take it, a new term. Changing holder and term waits for the previous
  // holder's fenced writes in flight, so none of them is visible after the new term began; a
  // server that took it meanwhile makes the condition false (no row returned).
  RUNWAY_STORE_TRY_ASSIGN(
      taken, conn_.exec("INSERT INTO leases (name, holder, term, expires_at_ms) "
                        "VALUES ($1, $2, 1, $3) ON CONFLICT (name) DO UPDATE SET "
                        "holder = excluded.holder, expires_at_ms = excluded.expires_at_ms, "
                        "term = leases.term + 1 "
                        "WHERE leases.holder = '' OR leases.expires_at_ms <= $4 "
                        "RETURNING term",
                        {name, holder, ms(now + ttl), ms(now)}));
  RUNWAY_STORE_TRY(tx.commit());
  return taken.size() == 1;
}

Result<void> PostgresStore::releaseLease(const std::string& name, const std::string& holder) {
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY_ASSIGN(rows, conn_.exec("SELECT holder FROM leases WHERE name = $1 FOR UPDATE",
                                           {name}));
  if (rows.size() == 0 || rows.text(0, 0).empty()) return tx.commit();  // free
  if (rows.text(0, 0) != holder) {
    return fail(ErrorCode::Conflict,
                "lease " + name + " is held by " + rows.text(0, 0) + ", not " + holder);
  }
  // The row stays with its term expired, so the next holder's term is still a new one.
  RUNWAY_STORE_TRY(conn_.exec("UPDATE leases SET holder = '', expires_at_ms = 0 WHERE name = $1",
                              {name}));
  return tx.commit();
}

Result<std::optional<Lease>> PostgresStore::getLease(const std::string& name) {
  RUNWAY_STORE_TRY_ASSIGN(rows, read("SELECT holder, expires_at_ms, term FROM leases WHERE "
                                           "name = $1 AND holder <> ''",
                                           {name}));
  if (rows.size() == 0) return std::optional<Lease>();
  return std::optional<Lease>(
      Lease{name, rows.text(0, 0), fromUnixMillis(rows.int64(0, 1)), rows.int64(0, 2)});
}

void PostgresStore::setFence(std::optional<Fence> fence) {
  std::lock_guard lock(mutex_);
  fence_ = std::move(fence);
}

// FOR KEY SHARE holds the lease row until this transaction ends: a takeover, which changes the
// row's key columns holder and term (migration 3), waits for the write to commit, so the write is
// never visible after the new term began; the holder's renewal, which changes only the expiry,
// does not wait (FOR SHARE would make it: the leader's lease would lapse behind its own writes).
Result<void> PostgresStore::checkFenceLocked() {
  if (!fence_) return {};
  RUNWAY_STORE_TRY_ASSIGN(rows, conn_.exec("SELECT holder, term FROM leases WHERE name = $1 FOR KEY SHARE",
                                           {fence_->lease}));
  if (rows.size() == 1 && rows.text(0, 0) == fence_->holder && rows.int64(0, 1) == fence_->term) {
    return {};
  }
  if (fence_->on_refused) fence_->on_refused();
  return fail(ErrorCode::FailedPrecondition,
              fenceMessage(*fence_, rows.size() == 1 ? rows.text(0, 0) : std::string(),
                           rows.size() == 1 ? rows.int64(0, 1) : 0));
}

Result<std::optional<TokenRecord>> PostgresStore::findTokenLocked(const std::string& id, bool lock) {
  RUNWAY_STORE_TRY_ASSIGN(rows, conn_.exec(std::string("SELECT ") + kPgTokenColumns +
                                               " FROM tokens WHERE id = $1" +
                                               (lock ? " FOR UPDATE" : ""),
                                           {id}));
  if (rows.size() == 0) return std::optional<TokenRecord>();
  RUNWAY_STORE_TRY_ASSIGN(record, tokenAt(rows, 0));
  return std::optional<TokenRecord>(std::move(record));
}

Result<std::string> PostgresStore::putConfigSnapshot(const std::string& text) {
  if (text.empty()) return fail(ErrorCode::InvalidArgument, "a configuration snapshot needs text");
  const std::string key = sha256Hex(text);
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY(conn_.exec("INSERT INTO config_snapshots (key, text) VALUES ($1, $2) "
                              "ON CONFLICT (key) DO NOTHING",
                              {key, text}));
  RUNWAY_STORE_TRY(tx.commit());
  return key;
}

Result<std::string> PostgresStore::getConfigSnapshot(const std::string& key) {
  RUNWAY_STORE_TRY_ASSIGN(rows, read("SELECT text FROM config_snapshots WHERE key = $1", {key}));
  if (rows.size() == 0) return fail(ErrorCode::NotFound, "configuration snapshot " + key + " not found");
  return rows.text(0, 0);
}

Result<void> PostgresStore::createToken(const TokenRecord& token,
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
  for (const NewEvent& e : events) RUNWAY_STORE_TRY(validateEvent(e));
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(
      inserted,
      conn_.exec("INSERT INTO tokens (id, name, roles_json, salt, hash, created_by, created_at_ms, "
                 "revoked_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                 "ON CONFLICT (id) DO NOTHING",
                 {token.id, token.name, rolesToJson(token.roles), token.salt, token.hash,
                  token.created_by, ms(token.created_at),
                  token.revoked_at ? Param(ms(*token.revoked_at)) : Param(std::nullopt),
                  token.expires_at ? Param(ms(*token.expires_at)) : Param(std::nullopt)}));
  if (inserted.affected() == 0) return fail(ErrorCode::Conflict, "token " + token.id + " already exists");
  RUNWAY_STORE_TRY(appendAllLocked(events));
  return tx.commit();
}

Result<TokenRecord> PostgresStore::getToken(const std::string& id) {
  RUNWAY_STORE_TRY_ASSIGN(rows, read(std::string("SELECT ") + kPgTokenColumns + " FROM tokens WHERE id = $1", {id}));
  if (rows.size() == 0) return fail(ErrorCode::NotFound, "token " + id + " not found");
  return tokenAt(rows, 0);
}

Result<std::vector<TokenRecord>> PostgresStore::listTokens() {
  RUNWAY_STORE_TRY_ASSIGN(rows, read(std::string("SELECT ") + kPgTokenColumns +
                                           " FROM tokens ORDER BY created_at_ms, ord"));
  std::vector<TokenRecord> tokens;
  for (int r = 0; r < rows.size(); ++r) {
    RUNWAY_STORE_TRY_ASSIGN(record, tokenAt(rows, r));
    tokens.push_back(std::move(record));
  }
  return tokens;
}

Result<void> PostgresStore::revokeToken(const std::string& id, TimePoint at,
                                        const std::vector<NewEvent>& events) {
  for (const NewEvent& e : events) RUNWAY_STORE_TRY(validateEvent(e));
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(existing, findTokenLocked(id, /*lock=*/true));
  if (!existing) return fail(ErrorCode::NotFound, "token " + id + " not found");
  if (!existing->revoked_at) {
    RUNWAY_STORE_TRY(conn_.exec("UPDATE tokens SET revoked_at_ms = $2 WHERE id = $1 AND "
                                "revoked_at_ms IS NULL",
                                {id, ms(at)}));
  }
  RUNWAY_STORE_TRY(appendAllLocked(events));
  return tx.commit();
}

// REQUIRES: mutex_ held, inside a write transaction, every notification validated.
Result<void> PostgresStore::insertNotificationsLocked(const std::vector<NewNotification>& notifications) {
  for (const auto& n : notifications) {
    RUNWAY_STORE_TRY(conn_.exec(
        "INSERT INTO notifications (created_at_ms, channel, event, subject, environment, "
        "dedup_key, message_json, status, attempts, next_attempt_at_ms, last_status, last_error, "
        "updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $1, 0, '', $1)",
        {ms(n.at), n.channel, n.event, n.subject, n.environment, n.dedup_key, n.message_json}));
  }
  return {};
}

Result<void> PostgresStore::enqueueNotifications(const std::vector<NewNotification>& notifications,
                                                 const std::vector<NewEvent>& events) {
  for (const auto& n : notifications) RUNWAY_STORE_TRY(validateNotification(n));
  for (const NewEvent& e : events) RUNWAY_STORE_TRY(validateEvent(e));
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY(insertNotificationsLocked(notifications));
  RUNWAY_STORE_TRY(appendAllLocked(events));
  return tx.commit();
}

Result<std::vector<NotificationRecord>> PostgresStore::dueNotifications(TimePoint now, int limit) {
  if (limit <= 0) return fail(ErrorCode::InvalidArgument, "notification limit must be positive");
  RUNWAY_STORE_TRY_ASSIGN(rows, read(std::string("SELECT ") + kPgNotificationColumns +
                                               " FROM notifications WHERE status = 'pending' AND "
                                               "next_attempt_at_ms <= $1 "
                                               "ORDER BY next_attempt_at_ms, id LIMIT $2",
                                           {ms(now), std::int64_t{limit}}));
  std::vector<NotificationRecord> out;
  for (int r = 0; r < rows.size(); ++r) out.push_back(notificationAt(rows, r));
  return out;
}

Result<NotificationRecord> PostgresStore::recordDeliveryAttempt(const DeliveryAttempt& attempt) {
  if (attempt.status != kNotificationPending && attempt.status != kNotificationDelivered &&
      attempt.status != kNotificationFailed) {
    return fail(ErrorCode::InvalidArgument, "unknown notification status \"" + attempt.status + "\"");
  }
  std::lock_guard lock(mutex_);
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(conn_, Tx::Mode::Write));
  RUNWAY_STORE_TRY(checkFenceLocked());
  RUNWAY_STORE_TRY_ASSIGN(rows, conn_.exec(std::string("SELECT ") + kPgNotificationColumns +
                                               " FROM notifications WHERE id = $1 FOR UPDATE",
                                           {attempt.id}));
  if (rows.size() == 0) {
    return fail(ErrorCode::NotFound, "notification " + std::to_string(attempt.id) + " not found");
  }
  NotificationRecord found = notificationAt(rows, 0);
  if (found.status != kNotificationPending) {
    return fail(ErrorCode::Conflict,
                "notification " + std::to_string(attempt.id) + " is already " + found.status);
  }
  found.status = attempt.status;
  found.attempts += 1;
  found.next_attempt_at = attempt.next_attempt_at;
  found.last_status = attempt.last_status;
  found.last_error = attempt.last_error;
  found.updated_at = attempt.at;
  RUNWAY_STORE_TRY(conn_.exec("UPDATE notifications SET status = $2, attempts = $3, "
                              "next_attempt_at_ms = $4, last_status = $5, last_error = $6, "
                              "updated_at_ms = $7 WHERE id = $1",
                              {found.id, found.status, std::int64_t{found.attempts},
                               ms(found.next_attempt_at), std::int64_t{found.last_status},
                               found.last_error, ms(found.updated_at)}));
  RUNWAY_STORE_TRY(tx.commit());
  return found;
}

Result<std::vector<NotificationRecord>> PostgresStore::listNotifications(const NotificationFilter& filter) {
  if (filter.limit <= 0) return fail(ErrorCode::InvalidArgument, "notification limit must be positive");
  RUNWAY_STORE_TRY_ASSIGN(rows, read(std::string("SELECT ") + kPgNotificationColumns +
                                               " FROM notifications WHERE ($1 = '' OR status = $1) "
                                               "AND ($2 = '' OR subject = $2) ORDER BY id DESC LIMIT $3",
                                           {filter.status, filter.subject,
                                            std::int64_t{filter.limit}}));
  std::vector<NotificationRecord> out;
  for (int r = 0; r < rows.size(); ++r) out.push_back(notificationAt(rows, r));
  return out;
}

Result<std::map<std::string, std::int64_t>> PostgresStore::countNotifications() {
  RUNWAY_STORE_TRY_ASSIGN(rows, read("SELECT status, COUNT(*) FROM notifications GROUP BY status"));
  std::map<std::string, std::int64_t> out;
  for (int r = 0; r < rows.size(); ++r) out[rows.text(r, 0)] = rows.int64(r, 1);
  return out;
}


}  // namespace

Result<pg::ConnectOptions> connectOptions(const PostgresOptions& options) {
  RUNWAY_STORE_TRY(checkPostgresUrl(options.url));
  return pg::ConnectOptions{options.url, options.password, redactStoreUrl(options.url)};
}

}  // namespace postgres_impl

bool isPostgresUrl(std::string_view url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

std::string redactStoreUrl(std::string_view url) {
  std::string out(url);
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t authority = scheme + 3;
    const std::size_t end = out.find_first_of("/?#", authority);
    const std::size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at >= authority) {
      const std::size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, kRedacted);
      }
    }
  }
  // ?password=... or &password=... in the query
  for (std::size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    if (pos == 0 || (out[pos - 1] != '?' && out[pos - 1] != '&')) continue;
    const std::size_t value = pos + std::string_view("password=").size();
    const std::size_t stop = out.find('&', value);
    out.replace(value, (stop == std::string::npos ? out.size() : stop) - value, kRedacted);
  }
  return out;
}

Result<void> checkPostgresUrl(std::string_view url) {
  if (!isPostgresUrl(url)) {
    return fail(ErrorCode::InvalidArgument,
                "store URL " + redactStoreUrl(url) + " is not a postgres:// URL");
  }
  if (redactStoreUrl(url) != url) {
    return fail(ErrorCode::InvalidArgument,
                "store URL " + redactStoreUrl(url) +
                    " carries a password; give it in a file (--store-password-file) or the "
                    "RUNWAY_STORE_PASSWORD environment variable instead, so that it never shows "
                    "in a process list or a log");
  }
  return {};
}

Result<std::unique_ptr<Store>> openPostgresStore(const PostgresOptions& options,
                                                 std::optional<AuditKey> audit_key) {
  RUNWAY_STORE_TRY_ASSIGN(connect, postgres_impl::connectOptions(options));
  RUNWAY_STORE_TRY_ASSIGN(conn, pg::Connection::open(connect));
  RUNWAY_STORE_TRY(postgres_impl::migratePg(conn));
  return std::unique_ptr<Store>(std::make_unique<postgres_impl::PostgresStore>(
      std::move(conn), std::move(connect), std::move(audit_key)));
}

}  // namespace runway::store
