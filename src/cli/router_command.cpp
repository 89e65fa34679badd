// `runway router`: the embedded data plane as its own process (ARCHITECTURE.md, "The data plane
// outlives the control plane"). Serves its persisted table at once, then whatever the
// controller puts on the admin socket, until SIGTERM or SIGINT.

#include <csignal>
#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "runway/core/duration.hpp"
#include "runway/core/error.hpp"
#include "runway/router/router.hpp"

namespace runway::cli {

void addRouterCommand(CLI::App& app, Context& ctx) {
  struct Options {
    std::string admin_socket;
    std::string state_dir;
    unsigned threads = 0;
    std::string grace = "10s";
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "router",
      "Run the embedded L7 traffic router: driven over its admin socket (put table, stats, "
      "drain), it keeps serving its last routing table when whatever drives it goes away");
  cmd->add_option("--admin-socket", opts->admin_socket, "Unix socket for the admin API")
      ->required();
  cmd->add_option("--state-dir", opts->state_dir,
                  "Directory for the persisted routing table (table.json)")
      ->required();
  cmd->add_option("--threads", opts->threads, "Worker threads (default: one per core)");
  cmd->add_option("--grace", opts->grace,
                  "On SIGTERM, how long in-flight requests may take to finish (e.g. 10s)");
  cmd->callback([opts, &ctx] {
    auto grace = parseDuration(opts->grace);
    if (!grace) {
      fmt::print(stderr, "runway router: --grace: {}\n", grace.error().message);
      ctx.exit_code = kExitUsage;
      return;
    }
    // Install the handlers before any thread starts.
    boost::asio::io_context signals_ctx{1};
    boost::asio::signal_set signals(signals_ctx, SIGTERM, SIGINT);
    boost::asio::signal_set reload(signals_ctx, SIGHUP);
    std::signal(SIGPIPE, SIG_IGN);
    router::RouterOptions options;
    options.admin_socket = opts->admin_socket;
    options.state_dir = opts->state_dir;
    options.threads = opts->threads;
    auto r = router::Router::start(options);
    if (!r) {
      fmt::print(stderr, "runway router: {}\n", r.error().message);
      ctx.exit_code = exitCode(r.error().code);
      return;
    }
    auto& router = **r;
    spdlog::info("router: admin socket {}, state in {}", opts->admin_socket, opts->state_dir);
    int received = 0;
    // SIGHUP: load the TLS listeners' certificates and keys again, and keep serving.
    std::function<void(const boost::system::error_code&, int)> on_hup =
        [&](const boost::system::error_code& ec, int) {
          if (ec) return;
          spdlog::info("router: SIGHUP: loading the TLS certificates again");
          router.reloadTls();
          reload.async_wait(on_hup);
        };
    reload.async_wait(on_hup);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (!ec) received = signo;
      reload.cancel();
    });
    signals_ctx.run();
    spdlog::info("router: signal {} received; finishing in-flight requests", received);
    router.stopAccepting();
    const auto deadline = std::chrono::steady_clock::now() + *grace;
    while (router.activeRequests() > 0 && std::chrono::steady_clock::now() < deadline) {
      // Shutdown only: waiting for other threads' requests to finish, nothing to poll on.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r->reset();
    ctx.exit_code = kExitOk;
  });
}

}  // namespace runway::cli
