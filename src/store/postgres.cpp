#include "postgres.hpp"

#include <charconv>
#include <cstring>

namespace runway::store::pg {
namespace {

// libpq's messages end with a newline; messages here are one line.
std::string trimmed(const char* message) {
  std::string out = message != nullptr ? message : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return out;
}

ErrorCode codeForState(std::string_view state) {
  if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03") {
    return ErrorCode::Unavailable;  // connection lost, server shutting down or starting
  }
  if (state == "23505" || state == "40001" || state == "40P01") return ErrorCode::Conflict;
  if (state.starts_with("22")) return ErrorCode::InvalidArgument;
  return ErrorCode::Internal;
}

}  // namespace

std::string Rows::text(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  return std::string(value, static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::int64_t Rows::int64(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  std::int64_t out = 0;
  std::from_chars(value, value + std::strlen(value), out);
  return out;
}

std::string Rows::command() const { return PQcmdStatus(result_.get()); }

std::int64_t Rows::affected() const {
  const char* count = PQcmdTuples(result_.get());
  std::int64_t out = 0;
  std::from_chars(count, count + std::strlen(count), out);
  return out;
}

Result<Connection> Connection::open(const ConnectOptions& options) {
  // Keywords before "dbname" are defaults the URL may override; "password" comes after it, so
  // the password given separately is the one used.
  // TCP keepalives and tcp_user_timeout: a connection whose peer vanished without a reset (a
  // network partition) fails within about 30 s instead of hanging a call forever.
  std::vector<const char*> keys = {"connect_timeout", "application_name", "keepalives",
                                   "keepalives_idle", "keepalives_interval", "keepalives_count",
                                   "tcp_user_timeout", "dbname"};
  std::vector<const char*> values = {"5", "runway", "1", "10", "5", "3", "30000",
                                     options.url.c_str()};
  if (options.read_only) {
    // Before "dbname": settings given in the URL's own options come after and win.
    keys.insert(keys.end() - 1, "options");
    values.insert(values.end() - 1, "-c default_transaction_read_only=on");
  }
  if (options.password) {
    keys.push_back("password");
    values.push_back(options.password->c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  std::unique_ptr<PGconn, ConnCloser> conn(
      PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (!conn) return fail(ErrorCode::Unavailable, "cannot connect to " + options.redacted_url + ": out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return fail(ErrorCode::Unavailable, "cannot connect to the store at " + options.redacted_url +
                                            ": " + trimmed(PQerrorMessage(conn.get())));
  }
  // Notices (e.g. "relation already exists, skipping") would go to stderr.
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  return Connection(std::move(conn), options);
}

Result<void> Connection::reconnect() {
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    return fail(ErrorCode::Unavailable, "cannot reach the store at " + options_.redacted_url +
                                            ": " + trimmed(PQerrorMessage(conn_.get())));
  }
  return {};
}

Result<Rows> Connection::check(PGresult* raw, std::string_view sql) {
  Rows rows(raw);
  ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  if (raw == nullptr || broken()) {
    return fail(ErrorCode::Unavailable, "lost the connection to the store at " +
                                            options_.redacted_url + ": " +
                                            trimmed(PQerrorMessage(conn_.get())));
  }
  const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  std::string_view code = state != nullptr ? state : "";
  std::string first_words(sql.substr(0, sql.find_first_of(" (")));
  return fail(codeForState(code), "store " + options_.redacted_url + ": " + first_words +
                                      " failed (" + std::string(code) + "): " +
                                      trimmed(PQresultErrorMessage(raw)));
}

Result<Rows> Connection::exec(std::string_view sql, std::initializer_list<Param> params) {
  return exec(sql, std::vector<Param>(params));
}

Result<Rows> Connection::exec(std::string_view sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p.value ? p.value->c_str() : nullptr);
  std::string text(sql);
  PGresult* raw = PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()),
                               nullptr, values.data(), nullptr, nullptr, 0);
  return check(raw, sql);
}

Result<Rows> Connection::read(std::string_view sql, const std::vector<Param>& params) {
  if (broken()) {
    if (auto again = reconnect(); !again) return fail(std::move(again).error());
  }
  auto rows = exec(sql, params);
  if (!rows && rows.error().code == ErrorCode::Unavailable && broken()) {
    if (auto again = reconnect(); !again) return fail(std::move(again).error());
    rows = exec(sql, params);
  }
  return rows;
}

Result<void> Connection::script(const std::string& sql) {
  auto rows = check(PQexec(conn_.get(), sql.c_str()), sql);
  if (!rows) return fail(std::move(rows).error());
  return {};
}

Result<Transaction> Transaction::begin(Connection& conn, Mode mode) {
  const char* sql = mode == Mode::Write  ? "BEGIN"
                    : mode == Mode::Read ? "BEGIN READ ONLY"
                                         : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  if (conn.broken()) {
    if (auto again = conn.reconnect(); !again) return fail(std::move(again).error());
  }
  auto begun = conn.exec(sql);
  if (!begun && begun.error().code == ErrorCode::Unavailable) {
    // The server went away since the last call (a restart, a dropped connection). BEGIN is
    // the first thing sent, so trying once more on a new connection repeats nothing.
    if (auto again = conn.reconnect(); !again) return fail(std::move(again).error());
    begun = conn.exec(sql);
  }
  if (!begun) return fail(std::move(begun).error());
  return Transaction(&conn);
}

Transaction::~Transaction() {
  if (conn_ != nullptr && !conn_->broken()) (void)conn_->exec("ROLLBACK");
}

Result<void> Transaction::commit() {
  Connection* conn = conn_;
  conn_ = nullptr;
  auto done = conn->exec("COMMIT");
  if (!done) {
    if (done.error().code == ErrorCode::Unavailable) {
      return fail(ErrorCode::Unavailable,
                  done.error().message +
                      " (during COMMIT: the write may or may not have been stored; read it back)");
    }
    return fail(std::move(done).error());
  }
  // A transaction in which a statement failed ends in ROLLBACK even when asked to COMMIT.
  if (done->command() != "COMMIT") {
    return fail(ErrorCode::Internal, "store " + conn->where() + ": the transaction was rolled back");
  }
  return {};
}

}  // namespace runway::store::pg
