// `runway down`: stops everything a data directory runs — the server, every instance, the
// router — and checks that no process is left.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "commands.hpp"
#include "runway/router/admin_client.hpp"
#include "runway/runtime/local_runtime.hpp"
#include "runway/runtime/router_backend.hpp"
#include "server_files.hpp"

namespace runway::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// When the router is already gone there is nothing to route: stopping instances must not wait
// for it.
class NoTraffic final : public runtime::TrafficBackend {
 public:
  Result<void> setTable(const runtime::TrafficTable&) override { return {}; }
  Result<std::vector<runtime::VersionStatistics>> statistics(std::string_view, std::string_view,
                                                             Duration) override {
    return std::vector<runtime::VersionStatistics>{};
  }
  Result<std::int64_t> inFlight(std::string_view, std::string_view, int) override { return 0; }
};

bool alive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

bool zombieOrGone(int pid) {
  auto st = runtime::readProcStat(pid);
  return !st || st->state == 'Z';
}

// Waits until `done` or the deadline.
template <typename F>
bool waitFor(F done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

int down(const fs::path& data, int grace_seconds) {
  if (!fs::exists(data)) {
    fmt::print("nothing runs: {} does not exist\n", data.string());
    return kExitOk;
  }
  int failures = 0;
  // 1. The server: SIGTERM, then wait for its lock to go.
  if (auto server = readServerFile(data); server && alive(server->pid) && dataDirLocked(data)) {
    ::kill(server->pid, SIGTERM);
    if (!waitFor([&] { return !dataDirLocked(data); }, std::chrono::seconds(30))) {
      ::kill(server->pid, SIGKILL);
      waitFor([&] { return !dataDirLocked(data); }, 5s);
    }
    fmt::print("stopped the server (pid {})\n", server->pid);
  } else if (dataDirLocked(data)) {
    fmt::print(stderr, "runway: a server holds {} but left no server.json; stop it first\n", data.string());
    return kExitFailed;
  }
  // 2. The instances: adopt them and stop them gracefully.
  runtime::LocalRuntimeOptions ro;
  ro.data_dir = data;
  ro.clock = systemClock();
  {
    router::AdminClient probe(routerSocket(data).string(), Duration{1000});
    if (probe.table()) {
      ro.traffic = runtime::routerTrafficBackend(routerSocket(data).string(), Duration{2000});
    } else {
      ro.traffic = std::make_shared<NoTraffic>();
    }
  }
  ro.kill_timeout = Duration{5000};
  if (fs::exists(data / "run")) {
    auto rt = runtime::LocalRuntime::open(std::move(ro));
    if (!rt) {
      fmt::print(stderr, "runway: runtime: {}\n", rt.error().message);
      failures++;
    } else {
      std::size_t n = 0;  // what the pid files describe
      for (const auto& e : fs::recursive_directory_iterator(data / "run")) {
        if (e.path().extension() == ".pid") n++;
      }
      if (auto r = (*rt)->stopAll(Duration{grace_seconds * 1000}); !r) {
        fmt::print(stderr, "runway: {}\n", r.error().message);
        failures++;
      } else {
        fmt::print("stopped {} instance{}\n", n, n == 1 ? "" : "s");
      }
    }
  }
  // 3. The router.
  if (auto pid = readRouterPid(data)) {
    auto st = runtime::readProcStat(pid->pid);
    if (st && st->start_ticks == pid->start_ticks && st->state != 'Z') {
      ::kill(pid->pid, SIGTERM);
      if (!waitFor([&] { return zombieOrGone(pid->pid); }, 10s)) {
        ::kill(pid->pid, SIGKILL);
        waitFor([&] { return zombieOrGone(pid->pid); }, 5s);
      }
      fmt::print("stopped the router (pid {})\n", pid->pid);
    }
    std::error_code ec;
    fs::remove(data / "router" / "router.pid", ec);
  }
  if (failures > 0) return kExitFailed;
  fmt::print("runway is down ({})\n", data.string());
  return kExitOk;
}

}  // namespace

void addDownCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "down", "Stop everything runway runs from a data directory: the server, the instances, the router");
  auto data = std::make_shared<std::string>(defaultDataDir());
  auto grace = std::make_shared<int>(10);
  cmd->add_option("--data", *data, "Data directory of the server")->capture_default_str();
  cmd->add_option("--grace", *grace, "Seconds instances get to drain before SIGTERM")
      ->capture_default_str()
      ->check(CLI::Range(0, 600));
  cmd->callback([&ctx, data, grace] { ctx.exit_code = down(fs::absolute(*data), *grace); });
}

}  // namespace runway::cli
