// `runway store migrate`: an SQLite store copied into PostgreSQL in one transaction, rows as
// they are, committed only when the copied audit chain verifies.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "postgres.hpp"
#include "postgres_schema.hpp"
#include "records.hpp"
#include "runway/store/postgres_store.hpp"
#include "sqlite.hpp"

namespace runway::store {
namespace postgres_impl {
namespace {

using pg::Param;
using Tx = pg::Transaction;

// Copies one table from SQLite to PostgreSQL, row by row in rowid order (so the `ord` columns
// keep SQLite's insertion order). `select` names the SQLite columns; `insert` takes them as
// $1..$n; a column listed in `nullable` is selected as (col IS NOT NULL, COALESCE(col, 0)) by
// the caller and becomes NULL here when the first is 0.
Result<std::int64_t> copyTable(sqlite::Connection& from, pg::Connection& to,
                               const std::string& select, const std::string& insert, int columns,
                               const std::vector<int>& nullable_pairs) {
  RUNWAY_STORE_TRY_ASSIGN(rows, from.prepare(select));
  std::int64_t copied = 0;
  while (true) {
    RUNWAY_STORE_TRY_ASSIGN(row, rows.step());
    if (!row) break;
    std::vector<Param> params;
    for (int c = 0; c < columns; ++c) {
      if (std::find(nullable_pairs.begin(), nullable_pairs.end(), c) != nullable_pairs.end()) {
        params.emplace_back(rows.int64(c) != 0 ? Param(rows.int64(c + 1)) : Param(std::nullopt));
        ++c;
        continue;
      }
      params.emplace_back(rows.text(c));
    }
    RUNWAY_STORE_TRY(to.exec(insert, params));
    ++copied;
  }
  return copied;
}

Result<StoreCopyReport> copyInto(sqlite::Connection& from, pg::Connection& to,
                                 const std::optional<AuditKey>& key) {
  StoreCopyReport report;
  RUNWAY_STORE_TRY_ASSIGN(tx, Tx::begin(to, Tx::Mode::Write));
  // Nobody else writes while the copy runs: the head row is the append lock.
  RUNWAY_STORE_TRY(to.exec("SELECT seq FROM event_chain_head WHERE id = 1 FOR UPDATE"));
  RUNWAY_STORE_TRY_ASSIGN(
      present, to.exec("SELECT (SELECT count(*) FROM releases) + (SELECT count(*) FROM deployments)"
                       " + (SELECT count(*) FROM events) + (SELECT count(*) FROM tokens)"
                       " + (SELECT count(*) FROM notifications) + (SELECT count(*) FROM serving)"));
  if (present.int64(0, 0) != 0) {
    return fail(ErrorCode::FailedPrecondition,
                "the database at " + to.where() +
                    " already holds runway data; migrate into an empty database");
  }
  RUNWAY_STORE_TRY_ASSIGN(releases, copyTable(from, to,
      "SELECT application, version, artifacts_json, created_at_ms FROM releases ORDER BY rowid",
      "INSERT INTO releases (application, version, artifacts_json, created_at_ms) "
      "VALUES ($1, $2, $3, $4)", 4, {}));
  report.releases = releases;
  RUNWAY_STORE_TRY_ASSIGN(deployments, copyTable(from, to,
      std::string("SELECT ") + kPgDeploymentColumns + " FROM deployments ORDER BY rowid",
      std::string("INSERT INTO deployments (") + kPgDeploymentColumns +
          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10, {}));
  report.deployments = deployments;
  RUNWAY_STORE_TRY_ASSIGN(approvals, copyTable(from, to,
      "SELECT deployment_id, actor, role, approved, comment, at_ms FROM approvals ORDER BY rowid",
      "INSERT INTO approvals (deployment_id, actor, role, approved, comment, at_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6)", 6, {}));
  report.approvals = approvals;
  RUNWAY_STORE_TRY_ASSIGN(events, copyTable(from, to,
      std::string("SELECT ") + kPgEventColumns + " FROM events ORDER BY seq",
      std::string("INSERT INTO events (") + kPgEventColumns +
          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10, {}));
  report.events = events;
  {
    RUNWAY_STORE_TRY_ASSIGN(head, from.prepare("SELECT seq, at_ms, hash FROM event_chain_head WHERE id = 1"));
    RUNWAY_STORE_TRY_ASSIGN(found, head.step());
    if (found) {
      RUNWAY_STORE_TRY(to.exec("UPDATE event_chain_head SET seq = $1, at_ms = $2, hash = $3 WHERE id = 1",
                               {head.int64(0), head.int64(1), head.text(2)}));
    }
  }
  RUNWAY_STORE_TRY(copyTable(from, to, "SELECT key, text FROM config_snapshots ORDER BY rowid",
                             "INSERT INTO config_snapshots (key, text) VALUES ($1, $2)", 2, {}));
  RUNWAY_STORE_TRY_ASSIGN(serving, copyTable(from, to,
      "SELECT environment, version, deployment_id, colour, updated_at_ms FROM serving ORDER BY rowid",
      "INSERT INTO serving (environment, version, deployment_id, colour, updated_at_ms) "
      "VALUES ($1, $2, $3, $4, $5)", 5, {}));
  report.serving = serving;
  RUNWAY_STORE_TRY_ASSIGN(tokens, copyTable(from, to,
      "SELECT id, name, roles_json, salt, hash, created_by, created_at_ms, "
      "revoked_at_ms IS NOT NULL, COALESCE(revoked_at_ms, 0), expires_at_ms IS NOT NULL, "
      "COALESCE(expires_at_ms, 0) FROM tokens ORDER BY rowid",
      "INSERT INTO tokens (id, name, roles_json, salt, hash, created_by, created_at_ms, "
      "revoked_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", 11, {7, 9}));
  report.tokens = tokens;
  RUNWAY_STORE_TRY_ASSIGN(notifications, copyTable(from, to,
      std::string("SELECT ") + kPgNotificationColumns + " FROM notifications ORDER BY id",
      std::string("INSERT INTO notifications (") + kPgNotificationColumns +
          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)", 14, {}));
  report.notifications = notifications;
  RUNWAY_STORE_TRY(to.exec("SELECT setval(pg_get_serial_sequence('notifications', 'id'), "
                           "GREATEST(MAX(id), 1), MAX(id) IS NOT NULL) FROM notifications"));
  RUNWAY_STORE_TRY_ASSIGN(chain, verifyChainIn(to, key));
  if (!chain.intact()) {
    return fail(ErrorCode::FailedPrecondition,
                "the copied audit chain does not verify at record " +
                    std::to_string(chain.first_break->seq) + " (" + chain.first_break->reason +
                    "); nothing was written to " + to.where());
  }
  report.chain = std::move(chain);
  RUNWAY_STORE_TRY(tx.commit());
  return report;
}

}  // namespace
}  // namespace postgres_impl

Result<StoreCopyReport> migrateSqliteToPostgres(const std::string& sqlite_path,
                                                const PostgresOptions& target,
                                                std::optional<AuditKey> audit_key) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(sqlite_path, ec)) {
    return fail(ErrorCode::NotFound, "no SQLite store at " + sqlite_path);
  }
  // Opening brings the source's schema up to date (as any runway does on open) and lets its
  // own chain be verified first: a broken chain is not copied.
  {
    RUNWAY_STORE_TRY_ASSIGN(source, openSqliteStore(sqlite_path, audit_key));
    RUNWAY_STORE_TRY_ASSIGN(chain, source->verifyChain());
    if (!chain.intact()) {
      return fail(ErrorCode::FailedPrecondition,
                  "the audit chain of " + sqlite_path + " does not verify at record " +
                      std::to_string(chain.first_break->seq) + " (" + chain.first_break->reason +
                      "); run `runway audit verify` and resolve it before migrating");
    }
  }
  RUNWAY_STORE_TRY_ASSIGN(from, sqlite::Connection::open(sqlite_path, /*create=*/false));
  RUNWAY_STORE_TRY_ASSIGN(connect, postgres_impl::connectOptions(target));
  RUNWAY_STORE_TRY_ASSIGN(to, pg::Connection::open(connect));
  RUNWAY_STORE_TRY(postgres_impl::migratePg(to));
  return postgres_impl::copyInto(from, to, audit_key);
}

}  // namespace runway::store
