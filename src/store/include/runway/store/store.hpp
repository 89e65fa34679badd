#pragma once

// The store: everything runway must remember across restarts. One interface, two
// implementations (SQLite now, PostgreSQL later) that pass the same contract test suite
// (tests/unit/store/store_contract.hpp).
//
// Every write is one transaction: it happens whole or not at all. The event log is
// append-only and hash-chained: each record carries HMAC-SHA256 with the audit key
// (audit_key.hpp) over (previous hash || key id || canonical record), or, for records written
// before the store had a key, SHA-256(previous hash || canonical record); a row changed behind
// runway's back is found by verifyChain().

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/audit_key.hpp"

namespace runway::store {

struct Release {
  std::string application;
  std::string version;                           // "v1.2.3" or a git SHA
  std::map<std::string, std::string> artifacts;  // service -> artifact ref (image:tag, path)
  TimePoint created_at;
};

struct DeploymentRecord {
  std::string id;
  std::string environment;
  std::string application;
  std::string version;     // the release being deployed
  std::string phase;       // engine phase name, denormalised for filtering
  std::string state_json;  // the engine's state document (including pending intents)
  std::int64_t revision = 0;  // compare-and-swap counter; 1 after create
  TimePoint created_at;
  TimePoint updated_at;
  // The release evidence of the request (store/evidence.hpp's toJson): written by
  // createDeployment, kept as it is by updateDeployment.
  std::string evidence_json = "{}";
};

// What an environment serves: the version that last took all of its traffic and the deployment
// that made it so (a promotion, a rollback, a fast rollback). Written in the transaction of the
// deployment commit that made the version serve, so it is never ahead of or behind that state.
struct ServingRecord {
  std::string environment;
  std::string version;
  std::string deployment_id;
  std::string colour;  // blue-green: "blue" or "green"; "" for other strategies
  TimePoint updated_at;
};

struct DeploymentFilter {
  std::string environment;  // "" = any
  std::string phase;        // "" = any
  std::string version;      // "" = any
  int limit = 100;          // newest first
  int offset = 0;           // skips this many of the newest (the next page: offset + limit)
};

struct ApprovalRecord {
  std::string deployment_id;
  std::string actor;  // identity of the token that approved
  std::string role;
  bool approved = true;  // false = rejection
  std::string comment;
  TimePoint at;
};

// An event to append. `at` is set by the caller (injected clock).
struct NewEvent {
  TimePoint at;
  std::string actor;    // "alice", "controller", "system"
  std::string kind;     // "deployment.created", "step.started", ...
  std::string subject;  // deployment id, environment, or "" for global events
  std::string reason;
  std::string data_json = "{}";  // before/after or details
};

struct EventRecord {
  std::int64_t seq = 0;  // 1, 2, 3, ... in append order
  TimePoint at;
  std::string actor;
  std::string kind;
  std::string subject;
  std::string reason;
  std::string data_json;
  std::string prev_hash;  // hex; 64 zeros for the first record
  // hex HMAC-SHA256(audit key, prev_hash || key_id || canonical(record)); for a record without
  // key_id, SHA-256(prev_hash || canonical(record))
  std::string hash;
  std::string key_id;  // auditKeyId() of the key its hash is made with; "" = no key (before one)
};

struct EventFilter {
  std::int64_t after_seq = 0;  // only records with seq > after_seq
  std::string subject;         // "" = any
  int limit = 1000;            // oldest first
};

// The reasons verifyChain() gives for a break (ChainBreak::reason).
// The record's hash is not SHA-256(prev_hash || canonical record): the row was edited.
inline constexpr std::string_view kBreakHashMismatch = "hash mismatch";
// The record's prev_hash is not the previous record's hash: a record was replaced or re-hashed.
inline constexpr std::string_view kBreakBrokenLink = "prev_hash does not link";
// The record's seq is not the previous seq + 1: records were deleted (or inserted).
inline constexpr std::string_view kBreakSequenceGap = "sequence gap";
// The log ends before the last record ever appended: records were deleted at the end.
inline constexpr std::string_view kBreakTruncated = "log truncated";
// The last record is not the one the store recorded as the chain head.
inline constexpr std::string_view kBreakHeadMismatch = "chain head mismatch";
// A record linked without a key where the audit key must have been used: after a record linked
// with the key, or at or after the key's `since`. Someone without the key rewrote it.
inline constexpr std::string_view kBreakNotKeyed = "not linked with the audit key";
// A record linked with another key than the one verified with.
inline constexpr std::string_view kBreakOtherKey = "linked with another audit key";
// A record linked with an audit key, and verification was given none.
inline constexpr std::string_view kBreakKeyNeeded = "linked with an audit key, none given";

// The first record of the log that does not match the chain.
//   hash mismatch:           expected_hash = recomputed hash, found_hash = the row's hash
//   prev_hash does not link: expected_hash = previous record's hash, found_hash = row's prev_hash
//   sequence gap:            seq/at = the record found, expected_seq = the seq that should have
//                            come; expected/found hash as for "prev_hash does not link"
//   log truncated:           seq/at = the last record appended (now missing), expected_hash =
//                            its hash, found_hash = the hash of the last record present
//   chain head mismatch:     seq/at = the last record present, expected_hash = the recorded
//                            head hash, found_hash = that record's hash
struct ChainBreak {
  std::int64_t seq = 0;
  TimePoint at;
  std::string expected_hash;  // what the chain says this record's hash must be
  std::string found_hash;     // what the row holds
  std::string reason;         // one of the kBreak* strings above
  std::int64_t expected_seq = 0;  // the seq the chain expected at this position
};

// Tampering means someone with write access to the store's file or database changed rows
// behind runway's back. Records linked with the audit key cannot be rewritten without it;
// records from before the key (a store older than its key) are chained by SHA-256 alone, which
// finds single edits, deletions and truncation but not someone who rewrites every record from
// the edit onwards.
struct ChainReport {
  std::int64_t events = 0;  // records checked (up to and including the first break)
  std::optional<ChainBreak> first_break;
  std::string key_id;       // the key verified with; "" = none
  std::int64_t unkeyed = 0;  // of `events`, those from before the key (SHA-256 only)
  bool intact() const { return !first_break.has_value(); }
};

// An API bearer token as stored: never the secret itself, only a salted hash of it.
struct TokenRecord {
  std::string id;                  // public id: 16 lowercase hex chars, unique
  std::string name;                // identity, e.g. "alice" (not unique: one may hold several)
  std::vector<std::string> roles;  // e.g. {"deployer", "tech-lead"}
  std::string salt;                // hex, 16 random bytes
  std::string hash;                // hex SHA-256(salt bytes || secret bytes)
  std::string created_by;          // name of the creator ("bootstrap" for the first admin token)
  TimePoint created_at;
  std::optional<TimePoint> revoked_at;
  std::optional<TimePoint> expires_at;  // nullopt = does not expire
};

// A message in the notification outbox: one message for one channel, written in the
// transaction of the state change that caused it and delivered afterwards by the notify worker.
struct NewNotification {
  TimePoint at;
  std::string channel;       // the NotificationChannel's name
  std::string event;         // "deployment.rolled_back", "incident.opened", ...
  std::string subject;       // the deployment (or incident) it is about
  std::string environment;
  std::string dedup_key;     // stable per deployment or incident: what a receiver dedupes on
  std::string message_json;  // the message; rendered for the channel when it is delivered
};

inline constexpr std::string_view kNotificationPending = "pending";
inline constexpr std::string_view kNotificationDelivered = "delivered";
inline constexpr std::string_view kNotificationFailed = "failed";

struct NotificationRecord {
  std::int64_t id = 0;  // 1, 2, 3, ... in enqueue order
  TimePoint created_at;
  std::string channel;
  std::string event;
  std::string subject;
  std::string environment;
  std::string dedup_key;
  std::string message_json;
  std::string status;  // one of kNotification*
  int attempts = 0;
  TimePoint next_attempt_at;  // pending: when the worker tries (again)
  int last_status = 0;        // HTTP status of the last attempt; 0 = none (network error)
  std::string last_error;     // why the last attempt did not deliver ("" once delivered)
  TimePoint updated_at;
};

struct NotificationFilter {
  std::string status;   // "" = any
  std::string subject;  // "" = any
  int limit = 100;      // newest first
};

// The result of one delivery attempt of notification `id`.
struct DeliveryAttempt {
  std::int64_t id = 0;
  std::string status;  // kNotificationPending (retry at next_attempt_at), Delivered or Failed
  TimePoint next_attempt_at;
  int last_status = 0;
  std::string last_error;
  TimePoint at;
};

struct Lease {
  std::string name;
  std::string holder;
  TimePoint expires_at;
  // 1 for the first holder, + 1 each time the lease changes hands (a renewal keeps it): the
  // fencing token of whoever holds it (Fence).
  std::int64_t term = 0;
};

// The lease a server writes under: `holder` holding lease `lease` at `term` (Lease::term).
struct Fence {
  std::string lease;
  std::string holder;
  std::int64_t term = 0;
  // Called (on the writing thread, inside the store's lock: it must not call the store) each
  // time a write is refused because the lease changed hands: the server steps down at once
  // rather than at its next renewal. May be empty.
  std::function<void()> on_refused{};
};

class Store {
 public:
  virtual ~Store() = default;

  // Releases. putRelease is idempotent for an identical release (same artifacts; the first
  // created_at is kept); Conflict when the same application/version exists with different
  // artifacts; InvalidArgument for an empty application or version. getRelease: NotFound.
  virtual Result<void> putRelease(const Release& release) = 0;
  virtual Result<Release> getRelease(const std::string& application,
                                     const std::string& version) = 0;
  // Newest first.
  virtual Result<std::vector<Release>> listReleases(const std::string& application) = 0;

  // Deployments. createDeployment stores `record` with revision 1 and appends `events` in the
  // same transaction; Conflict if the id exists; InvalidArgument for an empty id or a state_json
  // that is not JSON (also for updateDeployment).
  virtual Result<DeploymentRecord> createDeployment(const DeploymentRecord& record,
                                                    const std::vector<NewEvent>& events) = 0;
  // Replaces phase and state of deployment `record.id` if its stored revision equals
  // `record.revision`, bumps the revision and appends `events`, all in one transaction.
  // Conflict (nothing written) when the revision is stale; NotFound for an unknown id.
  // `approvals` are recorded in the same transaction (addApproval's rules: Conflict, and nothing
  // written, for a second decision by one actor for one role), so that a decision and the state
  // it produced are stored together or not at all. `serving`, when set, replaces the serving
  // record of its environment in the same transaction (InvalidArgument, nothing written, when
  // its environment is not the deployment's). `notifications` join the outbox in the same
  // transaction (enqueueNotifications' rules), so a state change and the messages it causes
  // are stored together or not at all.
  virtual Result<DeploymentRecord> updateDeployment(const DeploymentRecord& record,
                                                    const std::vector<NewEvent>& events,
                                                    const std::vector<ApprovalRecord>& approvals,
                                                    const std::optional<ServingRecord>& serving,
                                                    const std::vector<NewNotification>& notifications) = 0;
  Result<DeploymentRecord> updateDeployment(const DeploymentRecord& record,
                                            const std::vector<NewEvent>& events,
                                            const std::vector<ApprovalRecord>& approvals,
                                            const std::optional<ServingRecord>& serving) {
    return updateDeployment(record, events, approvals, serving, {});
  }
  Result<DeploymentRecord> updateDeployment(const DeploymentRecord& record,
                                            const std::vector<NewEvent>& events,
                                            const std::vector<ApprovalRecord>& approvals) {
    return updateDeployment(record, events, approvals, std::nullopt, {});
  }
  Result<DeploymentRecord> updateDeployment(const DeploymentRecord& record,
                                            const std::vector<NewEvent>& events) {
    return updateDeployment(record, events, {}, std::nullopt, {});
  }
  // The serving record of an environment; nullopt when no commit has written one (nothing was
  // ever promoted there, or the store predates serving records).
  virtual Result<std::optional<ServingRecord>> getServing(const std::string& environment) = 0;
  virtual Result<DeploymentRecord> getDeployment(const std::string& id) = 0;
  // Newest created first (ties in insertion order, newest first); InvalidArgument for limit <= 0
  // or offset < 0.
  virtual Result<std::vector<DeploymentRecord>> listDeployments(const DeploymentFilter& filter) = 0;

  // Approvals; Conflict if this actor already decided for this role on this deployment;
  // NotFound for an unknown deployment. listApprovals returns them in the order they were added.
  virtual Result<void> addApproval(const ApprovalRecord& approval,
                                   const std::vector<NewEvent>& events) = 0;
  virtual Result<std::vector<ApprovalRecord>> listApprovals(const std::string& deployment_id) = 0;

  // The event log. Every write that takes `events` appends them in the same transaction.
  // InvalidArgument (and nothing written) for an event with an empty kind or a data_json that
  // is not JSON. listEvents: InvalidArgument for limit <= 0.
  virtual Result<EventRecord> appendEvent(const NewEvent& event) = 0;
  virtual Result<std::vector<EventRecord>> listEvents(const EventFilter& filter) = 0;
  // Walks every record in seq order in constant memory and reports the first that does not
  // match the chain (see ChainBreak), or the number of records when the chain is intact.
  virtual Result<ChainReport> verifyChain() = 0;

  // Leases (leader election, one controller per data directory). Acquire succeeds when the
  // lease is free, expired at `now` (expires_at <= now), or already held by `holder` (then it is
  // renewed to now + ttl); it returns false when another holder's lease is still live.
  // InvalidArgument for an empty name or holder or a ttl <= 0. releaseLease is a no-op for a
  // free lease and Conflict when another holder has it. getLease returns the stored lease even
  // when it has expired (compare expires_at with now), nullopt once released. A released lease
  // taken again gets a new term.
  virtual Result<bool> acquireLease(const std::string& name, const std::string& holder,
                                    Duration ttl, TimePoint now) = 0;
  virtual Result<void> releaseLease(const std::string& name, const std::string& holder) = 0;
  virtual Result<std::optional<Lease>> getLease(const std::string& name) = 0;

  // Configuration snapshots: the configuration a deployment was requested under (its source
  // files, as the caller serialises them), stored once per content under its key, the SHA-256
  // of `text` in hex, which putConfigSnapshot returns; the deployments of one configuration
  // share one copy instead of each writing the whole configuration with every commit.
  // putConfigSnapshot is idempotent (the same text again: its key, nothing written);
  // InvalidArgument for an empty text. getConfigSnapshot: NotFound for an unknown key.
  virtual Result<std::string> putConfigSnapshot(const std::string& text) = 0;
  virtual Result<std::string> getConfigSnapshot(const std::string& key) = 0;

  // Fencing. With a fence set, every write through this Store (all but the lease calls) first
  // checks, inside its own transaction, that `fence.holder` still holds lease `fence.lease` at
  // `fence.term`; when it does not (the lease changed hands: another server took over while
  // this one was paused or cut off), the write is refused with FailedPrecondition and nothing
  // of it is written. The check holds the lease row until the write commits, so a takeover
  // lands either before the write (refused) or after it (the write was the old term's).
  // nullopt (the default): writes are not fenced. Thread-safe.
  virtual void setFence(std::optional<Fence> fence) = 0;

  // API tokens. createToken stores `token` (roles in the given order) and appends `events` in
  // the same transaction; Conflict if the id exists; InvalidArgument for an empty id, name, salt
  // or hash, or no roles. Nothing is written on failure.
  virtual Result<void> createToken(const TokenRecord& token,
                                   const std::vector<NewEvent>& events) = 0;
  // NotFound for an unknown id.
  virtual Result<TokenRecord> getToken(const std::string& id) = 0;
  // Oldest created first (ties in insertion order), revoked ones included.
  virtual Result<std::vector<TokenRecord>> listTokens() = 0;
  // Sets revoked_at to `at` and appends `events` in one transaction. Idempotent: revoking a
  // revoked token keeps the first time, still appends `events` and returns ok. NotFound (nothing
  // written) for an unknown id.
  virtual Result<void> revokeToken(const std::string& id, TimePoint at,
                                   const std::vector<NewEvent>& events) = 0;

  // The notification outbox. enqueueNotifications adds `notifications` (pending, due at their
  // `at`) and appends `events`, in one transaction; InvalidArgument (nothing written) for an
  // empty channel, event or dedup key or a message_json that is not JSON.
  virtual Result<void> enqueueNotifications(const std::vector<NewNotification>& notifications,
                                            const std::vector<NewEvent>& events) = 0;
  // Pending notifications due at `now` (next_attempt_at <= now), the earliest due first (then
  // by id), at most `limit`. InvalidArgument for limit <= 0.
  virtual Result<std::vector<NotificationRecord>> dueNotifications(TimePoint now, int limit) = 0;
  // Records one attempt: attempts + 1, the status, the response. NotFound for an unknown id;
  // Conflict (nothing written) when the notification is no longer pending: delivered and
  // failed are final. InvalidArgument for a status that is not one of kNotification*.
  virtual Result<NotificationRecord> recordDeliveryAttempt(const DeliveryAttempt& attempt) = 0;
  // Newest first. InvalidArgument for limit <= 0.
  virtual Result<std::vector<NotificationRecord>> listNotifications(const NotificationFilter& filter) = 0;
  // How many notifications are in each status (statuses with none are absent).
  virtual Result<std::map<std::string, std::int64_t>> countNotifications() = 0;
};

// Opens (creating if needed, mode 0600) the SQLite store at `path` in WAL mode and applies
// pending schema migrations in one transaction. Unavailable when the file cannot be opened (e.g.
// its directory does not exist); FailedPrecondition when the file is not a SQLite database or its
// schema is newer than this binary knows. The returned Store is thread-safe (calls are
// serialised on its one connection); several Stores, in one process or several, may share a file.
//
// With `audit_key`, new events are linked with it (HMAC-SHA256) and verifyChain() checks with
// it; without, new events get plain SHA-256 links, and appending to a log whose last record is
// linked with a key fails with FailedPrecondition (the link would break the chain).
Result<std::unique_ptr<Store>> openSqliteStore(const std::string& path,
                                               std::optional<AuditKey> audit_key = std::nullopt);

// The canonical byte form of an event that its hash covers (stable across implementations):
// the compact JSON array [seq, at_unix_ms, actor, kind, subject, reason, data_json] with every
// string a JSON string (data_json embedded as a string, byte for byte), as Boost.JSON serialises
// it. A record's hash is lowercase hex SHA-256 over its prev_hash (64 lowercase hex characters,
// all '0' for the first record) followed by canonicalEvent(seq, event).
std::string canonicalEvent(std::int64_t seq, const NewEvent& event);

}  // namespace runway::store
