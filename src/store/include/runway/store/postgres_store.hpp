#pragma once

// The PostgreSQL implementation of Store (store.hpp), for several `runway serve` sharing one
// database, and the copy of an SQLite store into one (`runway store migrate`).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runway/core/error.hpp"
#include "runway/store/audit_key.hpp"
#include "runway/store/store.hpp"

namespace runway::store {

// Where the database is and the password to log in with. The URL is libpq's
// (postgres://USER@HOST:PORT/DB?sslmode=...); it must not carry a password: the password comes
// separately (a file or an environment variable), so that it never appears in a process list,
// a log line or an error message.
struct PostgresOptions {
  std::string url;
  std::optional<std::string> password;
};

// True for "postgres://..." and "postgresql://...".
bool isPostgresUrl(std::string_view url);

// `url` with any password (user:PASSWORD@ or ?password=) replaced by "[redacted]": what every
// message and log line says instead of the URL.
std::string redactStoreUrl(std::string_view url);

// InvalidArgument when `url` is not a postgres:// URL or carries a password.
Result<void> checkPostgresUrl(std::string_view url);

// Connects and applies pending schema migrations in one transaction (under an advisory lock,
// so servers starting together migrate once). Unavailable when the server cannot be reached or
// refuses the login; FailedPrecondition when the database's schema is newer than this binary.
//
// The returned Store is thread-safe: writes are serialised on its one write connection; lookups
// and lists go through three read-only connections of their own (opened on first use), one
// statement each, so a read never waits for a write in progress. Every write is one
// transaction. A call that finds its connection lost (the server restarted, the network
// dropped it) reconnects first; a write whose transaction cannot be committed returns an error
// (Unavailable), never success; when the connection drops during COMMIT itself the error says
// that the outcome is unknown. The audit key works as for openSqliteStore.
Result<std::unique_ptr<Store>> openPostgresStore(const PostgresOptions& options,
                                                 std::optional<AuditKey> audit_key = std::nullopt);

// What migrateSqliteToPostgres copied.
struct StoreCopyReport {
  std::int64_t releases = 0;
  std::int64_t deployments = 0;
  std::int64_t approvals = 0;
  std::int64_t events = 0;
  std::int64_t serving = 0;
  std::int64_t tokens = 0;
  std::int64_t notifications = 0;
  ChainReport chain;  // the target's chain, verified inside the copy's transaction
};

// Copies the SQLite store at `sqlite_path` into the PostgreSQL database of `target` (schema
// migrated first) in one transaction, rows as they are (events keep their seq, hashes and key
// ids), then verifies the copied chain with `audit_key` before committing. Leases are not
// copied (they belong to running servers). FailedPrecondition, and nothing written, when the
// target already holds runway data, when the source's chain does not verify, or when the
// copy's does not.
Result<StoreCopyReport> migrateSqliteToPostgres(const std::string& sqlite_path,
                                                const PostgresOptions& target,
                                                std::optional<AuditKey> audit_key);

}  // namespace runway::store
