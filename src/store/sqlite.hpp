#pragma once

// Thin RAII wrappers over the SQLite C API, private to the store module.
// Not thread-safe: the owner serialises access to a Connection.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <sqlite3.h>

#include "runway/core/error.hpp"

namespace runway::store::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// An Error for SQLite result code `rc` with the connection's message. Busy, locked, I/O and
// cannot-open map to Unavailable, constraint failures to Conflict, not-a-database and corrupt
// to FailedPrecondition, everything else to Internal.
Error sqliteError(sqlite3* db, int rc, std::string_view what);

// A prepared statement borrowed from a Connection's cache. Reset and unbound when it goes out of
// scope, so it can be borrowed again. Bind errors are kept and reported by the next step().
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;

  // Parameters are 1-based. Text is copied (SQLITE_TRANSIENT).
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);

  // Advances: true when a row is available, false when the statement is done.
  Result<bool> step();
  // Steps a statement that returns no rows.
  Result<void> run();

  // Columns are 0-based; valid after step() returned true.
  std::int64_t int64(int column) const;
  std::string text(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

class Connection {
 public:
  // Opens (creating when `create`) the database file at `path`.
  static Result<Connection> open(const std::string& path, bool create);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection() = default;

  // Runs one or more SQL statements that take no parameters.
  Result<void> exec(const char* sql);
  // Prepares `sql` once per connection and lends it out.
  // REQUIRES: the previous Statement for the same sql is gone.
  Result<Statement> prepare(const std::string& sql);

  sqlite3* handle() const { return db_.get(); }

 private:
  explicit Connection(DbPtr db) : db_(std::move(db)) {}

  DbPtr db_;
  // Declared after db_ so the statements are finalised before the connection closes.
  std::unordered_map<std::string, StmtPtr> cache_;
};

// BEGIN IMMEDIATE (takes the write lock up front, so a write transaction never fails halfway
// with SQLITE_BUSY) or BEGIN DEFERRED (a read snapshot). Rolls back on destruction unless
// committed.
class Transaction {
 public:
  enum class Mode { Read, Write };
  static Result<Transaction> begin(Connection& conn, Mode mode);

  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<void> commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
};

}  // namespace runway::store::sqlite
