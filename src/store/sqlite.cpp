#include "sqlite.hpp"

#include <utility>

namespace runway::store::sqlite {

Error sqliteError(sqlite3* db, int rc, std::string_view what) {
  ErrorCode code = ErrorCode::Internal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = ErrorCode::Unavailable;
      break;
    case SQLITE_CONSTRAINT:
      code = ErrorCode::Conflict;
      break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      code = ErrorCode::FailedPrecondition;
      break;
    default:
      break;
  }
  std::string message(what);
  message += ": ";
  // The connection's message is more specific, but only when it belongs to this error.
  if (db != nullptr && (sqlite3_errcode(db) & 0xff) == (rc & 0xff)) {
    message += sqlite3_errmsg(db);
  } else {
    message += sqlite3_errstr(rc);
  }
  return Error{code, std::move(message)};
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}

Statement& Statement::bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) return fail(sqliteError(db_, bind_rc_, "binding a parameter"));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return fail(sqliteError(db_, rc, "store query failed"));
}

Result<void> Statement::run() {
  auto stepped = step();
  if (!stepped) return fail(stepped.error());
  return {};
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
  const unsigned char* data = sqlite3_column_text(stmt_, column);
  if (data == nullptr) return {};
  int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
}

Result<Connection> Connection::open(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);  // sqlite3_open_v2 allocates a handle even on failure
  if (rc != SQLITE_OK) {
    return fail(sqliteError(db.get(), rc, "cannot open store at " + path));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  return Connection(std::move(db));
}

Result<void> Connection::exec(const char* sql) {
  char* errmsg = nullptr;
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &errmsg);
  if (rc != SQLITE_OK) {
    std::string detail = errmsg != nullptr ? errmsg : sqlite3_errstr(rc);
    sqlite3_free(errmsg);
    Error error = sqliteError(nullptr, rc, "store statement failed");
    error.message = "store statement failed: " + detail;
    return fail(std::move(error));
  }
  return {};
}

Result<Statement> Connection::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return fail(sqliteError(db_.get(), rc, "preparing a store query"));
    it = cache_.emplace(sql, std::move(stmt)).first;
  }
  // Lending a statement that is still stepping would reset it under its first borrower.
  RUNWAY_ASSERT(sqlite3_stmt_busy(it->second.get()) == 0);
  return Statement(db_.get(), it->second.get());
}

Result<Transaction> Transaction::begin(Connection& conn, Mode mode) {
  auto begun = conn.exec(mode == Mode::Write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  if (!begun) return fail(begun.error());
  return Transaction(&conn);
}

Transaction::~Transaction() {
  // A failed statement may already have rolled the transaction back; autocommit tells.
  if (conn_ != nullptr && sqlite3_get_autocommit(conn_->handle()) == 0) {
    (void)conn_->exec("ROLLBACK");
  }
}

Result<void> Transaction::commit() {
  auto committed = conn_->exec("COMMIT");
  if (!committed) return committed;  // the destructor rolls back
  conn_ = nullptr;
  return {};
}

}  // namespace runway::store::sqlite
