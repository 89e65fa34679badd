#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runway/core/error.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {

// A real PostgreSQL 15 (Debian's postgresql-15, /usr/lib/postgresql/15/bin) started by a test:
// initdb in a temp dir, `postgres` on a free loopback port, superuser "postgres". As root it
// runs as "nobody" (PostgreSQL refuses root), through setpriv, which execs, so signals reach
// the server itself. Stopped (fast shutdown) and removed on destruction.
class PostgresServer {
 public:
  struct Options {
    std::string prefix = "runway-pg";
    // When set, TCP logins need this password (scram-sha-256); otherwise trust.
    std::optional<std::string> password;
  };

  // Fails, never skips, when PostgreSQL is missing or does not start: the message says what
  // to install or where the server's log is.
  static Result<std::unique_ptr<PostgresServer>> start(Options options);
  static Result<std::unique_ptr<PostgresServer>> start() { return start(Options{}); }
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // postgres://postgres@127.0.0.1:PORT/DATABASE (never with the password).
  std::string url(std::string_view database) const;
  // Runs `sql` with psql against `database`; the output (unaligned, tuples only).
  Result<std::string> psql(std::string_view database, std::string_view sql) const;
  Result<void> createDatabase(std::string_view name) const;

  // Fast shutdown (SIGINT) and wait for the server to exit.
  Result<void> stop();
  // Starts it again on the same data directory and port, and waits until it accepts logins.
  Result<void> restart();
  bool running() const { return server_.has_value(); }
  std::filesystem::path logFile() const { return dir_ / "postgres.log"; }

 private:
  PostgresServer(Options options) : options_(std::move(options)), dir_(options_.prefix) {}
  Result<void> launch();

  Options options_;
  TempDir dir_;
  std::filesystem::path pgdata_;
  int port_ = 0;
  std::optional<Subprocess> server_;
};

}  // namespace runway::test
