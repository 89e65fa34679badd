#pragma once

// What the PostgreSQL store and the copy of an SQLite store into it share (private to the store
// module): the column lists, the schema migrations and the chain walk.

#include <optional>

#include "postgres.hpp"
#include "runway/store/audit_key.hpp"
#include "runway/store/postgres_store.hpp"
#include "runway/store/store.hpp"

namespace runway::store::postgres_impl {

inline constexpr const char* kPgDeploymentColumns =
    "id, environment, application, version, phase, state_json, revision, created_at_ms, "
    "updated_at_ms, evidence_json";
inline constexpr const char* kPgEventColumns =
    "seq, at_ms, actor, kind, subject, reason, data_json, prev_hash, hash, key_id";
inline constexpr const char* kPgNotificationColumns =
    "id, created_at_ms, channel, event, subject, environment, dedup_key, message_json, status, "
    "attempts, next_attempt_at_ms, last_status, last_error, updated_at_ms";

// Applies pending schema migrations in one transaction under an advisory lock. FailedPrecondition
// when the database's schema is newer than this binary.
Result<void> migratePg(pg::Connection& conn);

// Walks the chain in `conn`'s current transaction (REQUIRES: one is open; a snapshot for a
// consistent head) in pages, in constant memory.
Result<ChainReport> verifyChainIn(pg::Connection& conn, const std::optional<AuditKey>& key);

// The URL checked (checkPostgresUrl) and its redacted form for messages.
Result<pg::ConnectOptions> connectOptions(const PostgresOptions& options);

}  // namespace runway::store::postgres_impl
