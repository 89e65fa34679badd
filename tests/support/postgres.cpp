#include "support/postgres.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>

#include "support/net.hpp"
#include "support/poll.hpp"
#include "test_paths.hpp"

namespace runway::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path kPgBin = "/usr/lib/postgresql/15/bin";
constexpr unsigned kNobody = 65534;

// PostgreSQL refuses to run as root: as root, run it (and its tools) as "nobody". setpriv
// execs the program (runuser would fork and stand between the test and the server's signals).
std::vector<std::string> asServerUser(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  return argv;
}

Result<std::string> runToEnd(std::vector<std::string> argv,
                             std::vector<std::pair<std::string, std::string>> env = {}) {
  SubprocessOptions options;
  options.argv = std::move(argv);
  options.env = std::move(env);
  options.stderr_to = Output::pipe();
  const std::string program = options.argv.front();
  auto p = Subprocess::start(std::move(options));
  if (!p) return fail(p.error());
  auto out = p->readToEnd(deadlineIn(60s));
  if (!out) return fail(out.error());
  auto status = p->waitExit(deadlineIn(10s));
  if (!status) return fail(status.error());
  if (!status->exitedWith(0)) {
    return fail(ErrorCode::Internal,
                program + " failed (" + status->describe() + "): " + out->out + out->err);
  }
  return out->out;
}

// The initdb of a trust-auth cluster, made once per build tree (initdb takes seconds; ctest runs
// each test in its own process) under a lock, and copied for each server. It lives in the
// system's temporary directory, not in the build tree: as root the server runs as "nobody",
// which must reach the cluster, and a clone is often in a directory only its owner may enter
// (CI clones into `mktemp -d`, mode 0700).
Result<fs::path> templateCluster() {
  const fs::path dir = fs::temp_directory_path() /
                       ("runway-postgres-template-" + std::to_string(::geteuid()) + "-" +
                        std::to_string(std::hash<std::string>{}(binaryDir())));
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0755);
  const int lock = ::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
    if (lock >= 0) ::close(lock);
    return fail(ErrorCode::Internal, "cannot lock " + (dir / "lock").string());
  }
  Result<fs::path> result = dir / "pgdata";
  if (!fs::exists(dir / "ready")) {
    fs::remove_all(dir / "pgdata", ec);
    fs::create_directories(dir / "pgdata");
    if (::geteuid() == 0 && ::chown((dir / "pgdata").c_str(), kNobody, kNobody) != 0) {
      result = fail(ErrorCode::Internal, "cannot give " + (dir / "pgdata").string() + " to nobody");
    } else if (auto init = runToEnd(asServerUser({(kPgBin / "initdb").string(), "-D",
                                                  (dir / "pgdata").string(), "-U", "postgres",
                                                  "-E", "UTF8", "--no-sync", "-A", "trust"}));
               !init) {
      result = fail(ErrorCode::Internal, "initdb: " + init.error().message);
    } else {
      std::ofstream(dir / "ready") << "initdb done\n";
    }
  }
  ::close(lock);  // releases the lock
  return result;
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::start(Options options) {
  if (!fs::exists(kPgBin / "initdb")) {
    return fail(ErrorCode::FailedPrecondition,
                "PostgreSQL 15 is not installed (" + (kPgBin / "initdb").string() +
                    " is missing): run scripts/install-deps.sh (package postgresql)");
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(std::move(options)));
  ::chmod(server->dir_.path().c_str(), 0755);
  server->pgdata_ = server->dir_ / "pgdata";
  if (!server->options_.password) {
    auto cluster = templateCluster();
    if (!cluster) return fail(cluster.error());
    auto copied = runToEnd({"cp", "-a", cluster->string(), server->pgdata_.string()});
    if (!copied) return fail(ErrorCode::Internal, "copying the template cluster: " + copied.error().message);
  } else {
    fs::create_directories(server->pgdata_);
    auto pwfile = server->dir_.write("pwfile", *server->options_.password + "\n");
    if (!pwfile) return fail(pwfile.error());
    ::chmod(pwfile->c_str(), 0644);
    if (::geteuid() == 0 && ::chown(server->pgdata_.c_str(), kNobody, kNobody) != 0) {
      return fail(ErrorCode::Internal, "cannot give " + server->pgdata_.string() + " to nobody");
    }
    auto init = runToEnd(asServerUser({(kPgBin / "initdb").string(), "-D",
                                       server->pgdata_.string(), "-U", "postgres", "-E", "UTF8",
                                       "--no-sync", "--pwfile", pwfile->string(),
                                       "--auth-local=trust", "--auth-host=scram-sha-256"}));
    if (!init) return fail(ErrorCode::Internal, "initdb: " + init.error().message);
    fs::remove(server->dir_ / "pwfile");
  }
  auto port = freeLoopbackPort();
  if (!port) return fail(port.error());
  server->port_ = *port;
  auto launched = server->launch();
  if (!launched) return fail(launched.error());
  return server;
}

Result<void> PostgresServer::launch() {
  SubprocessOptions options;
  // fsync off: the tests' data is thrown away; it only makes them slower on a shared machine.
  options.argv = asServerUser({(kPgBin / "postgres").string(), "-D", pgdata_.string(), "-k",
                               pgdata_.string(), "-h", "127.0.0.1", "-p", std::to_string(port_),
                               "-c", "fsync=off", "-c", "full_page_writes=off"});
  options.stdout_to = Output::file(logFile());
  options.stderr_to = Output::file(logFile());
  auto server = Subprocess::start(std::move(options));
  if (!server) return fail(server.error());
  server_.emplace(std::move(*server));
  bool ready = pollUntil(
      [&] {
        if (server_->tryWait()) return true;  // exited: stop polling, reported below
        return runToEnd({(kPgBin / "pg_isready").string(), "-q", "-h", "127.0.0.1", "-p",
                         std::to_string(port_)})
            .has_value();
      },
      deadlineIn(60s), 50ms);
  if (auto exited = server_->tryWait()) {
    server_.reset();
    return fail(ErrorCode::Unavailable, "postgres exited (" + exited->describe() +
                                            "); see " + logFile().string());
  }
  if (!ready) {
    return fail(ErrorCode::Timeout, "postgres did not accept connections on 127.0.0.1:" +
                                        std::to_string(port_) + " within 60 s; see " +
                                        logFile().string());
  }
  return {};
}

PostgresServer::~PostgresServer() { (void)stop(); }

std::string PostgresServer::url(std::string_view database) const {
  return "postgres://postgres@127.0.0.1:" + std::to_string(port_) + "/" + std::string(database);
}

Result<std::string> PostgresServer::psql(std::string_view database, std::string_view sql) const {
  std::vector<std::pair<std::string, std::string>> env;
  if (options_.password) env.emplace_back("PGPASSWORD", *options_.password);
  return runToEnd({"psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                   "-p", std::to_string(port_), "-U", "postgres", "-d", std::string(database),
                   "-c", std::string(sql)},
                  std::move(env));
}

Result<void> PostgresServer::createDatabase(std::string_view name) const {
  auto made = psql("postgres", "CREATE DATABASE \"" + std::string(name) + "\"");
  if (!made) return fail(made.error());
  return {};
}

Result<void> PostgresServer::stop() {
  if (!server_) return {};
  if (!server_->tryWait()) {
    (void)server_->signal(SIGINT);  // fast shutdown: roll back open transactions, exit
    auto status = server_->waitExit(deadlineIn(30s));
    if (!status) {
      server_.reset();  // SIGKILLs the process group
      return fail(ErrorCode::Timeout, "postgres did not stop within 30 s");
    }
  }
  server_.reset();
  return {};
}

Result<void> PostgresServer::restart() {
  if (auto stopped = stop(); !stopped) return stopped;
  return launch();
}

}  // namespace runway::test
