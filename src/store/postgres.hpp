#pragma once

// Thin RAII wrappers over libpq, private to the store module. Parameters and results travel as
// text. Not thread-safe: the owner serialises access to a Connection.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libpq-fe.h>

#include "runway/core/error.hpp"

namespace runway::store::pg {

struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};

// A statement parameter in text form; nullopt is SQL NULL.
struct Param {
  std::optional<std::string> value;
  Param(std::string_view text) : value(std::string(text)) {}  // NOLINT: implicit by design
  Param(const std::string& text) : value(text) {}             // NOLINT
  Param(const char* text) : value(std::string(text)) {}       // NOLINT
  Param(std::int64_t number) : value(std::to_string(number)) {}  // NOLINT
  Param(std::nullopt_t) {}                                    // NOLINT
};

// The rows of a statement (or the count it affected).
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result) {}
  int size() const { return PQntuples(result_.get()); }
  bool null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  std::int64_t int64(int row, int column) const;
  // The command tag: "COMMIT", "ROLLBACK", "INSERT 0 1", ...
  std::string command() const;
  // Rows an INSERT/UPDATE/DELETE touched.
  std::int64_t affected() const;

 private:
  std::unique_ptr<PGresult, ResultClearer> result_;
};

// Where and as whom to connect. `password` overrides one in the URL (there is none: runway
// refuses URLs that carry one) and is never part of a message.
struct ConnectOptions {
  std::string url;
  std::optional<std::string> password;
  std::string redacted_url;  // what messages say instead of `url`
  // A session whose transactions are read-only (default_transaction_read_only, set at login so
  // that it survives reconnect()): the store's read connections.
  bool read_only = false;
};

class Connection {
 public:
  // Unavailable when the server cannot be reached or refuses the login (the message names
  // the redacted URL and libpq's reason).
  static Result<Connection> open(const ConnectOptions& options);

  // Runs one statement with $1.. parameters. Errors: Unavailable when the connection is lost
  // (class 08, server shutting down), Conflict for a unique or serialisation violation,
  // InvalidArgument for data the server refuses (class 22), Internal otherwise.
  Result<Rows> exec(std::string_view sql, std::initializer_list<Param> params = {});
  Result<Rows> exec(std::string_view sql, const std::vector<Param>& params);
  // Runs one read statement on its own, outside any transaction block (its own transaction:
  // one round trip). A read repeats nothing, so when the connection is found lost (before, or by
  // the statement itself) it reconnects and runs the statement once more. Errors: exec()'s.
  Result<Rows> read(std::string_view sql, const std::vector<Param>& params);
  // Runs several statements without parameters (migrations).
  Result<void> script(const std::string& sql);
  // True when the connection is known to be lost; reconnect() then tries again.
  bool broken() const { return PQstatus(conn_.get()) != CONNECTION_OK; }
  Result<void> reconnect();
  const std::string& where() const { return options_.redacted_url; }

 private:
  Connection(std::unique_ptr<PGconn, ConnCloser> conn, ConnectOptions options)
      : conn_(std::move(conn)), options_(std::move(options)) {}
  Result<Rows> check(PGresult* result, std::string_view sql);

  std::unique_ptr<PGconn, ConnCloser> conn_;
  ConnectOptions options_;
};

// One transaction on a Connection; rolled back on destruction unless committed.
class Transaction {
 public:
  enum class Mode { Write, Read, Snapshot };
  // BEGIN. When BEGIN fails because the connection was lost (the server restarted since the
  // last call), nothing of the caller's work has been sent yet: it reconnects once and begins
  // again, so a store recovers on its next call after the database is back.
  static Result<Transaction> begin(Connection& conn, Mode mode);
  ~Transaction();
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // COMMIT. When the connection is lost during COMMIT the outcome is unknown: Unavailable,
  // saying so (never a success).
  Result<void> commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
};

}  // namespace runway::store::pg
