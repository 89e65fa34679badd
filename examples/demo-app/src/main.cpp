// runway-demo-app: the sample HTTP service the quickstart and the tests deploy (README.md).

#include <csignal>
#include <cstdio>
#include <exception>
#include <span>

#include <fmt/format.h>

#include "knobs.hpp"
#include "server.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int runDemoApp(std::span<const char* const> args) {
  auto invocation = runway::demo::parseInvocation(args, runway::demo::processEnvironment());
  if (!invocation) {
    fmt::print(stderr, "runway-demo-app: {}\n", invocation.error());
    return kExitUsage;
  }
  if (invocation->help) {
    fmt::print("{}", runway::demo::usage());
    return kExitOk;
  }
  auto server = runway::demo::makeServer(invocation->knobs);
  if (!server) {
    fmt::print(stderr, "runway-demo-app: {}\n", server.error());
    return kExitFailed;
  }
  // The one line on stdout: a parent that asked for port 0 learns the port from it.
  fmt::print("listening on {}\n", (*server)->endpoint());
  std::fflush(stdout);
  const auto& knobs = invocation->knobs;
  fmt::print(stderr,
             "runway-demo-app: service={} version={} error_rate={} latency_ms={} "
             "fail_health={} crash_after={}\n",
             knobs.service, knobs.version, knobs.error_rate, knobs.latency.count(),
             knobs.fail_health, knobs.crash_after);
  (*server)->run();
  fmt::print(stderr, "runway-demo-app: stopped\n");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // A parent that closed our stdout must not kill us with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return runDemoApp(std::span<const char* const>(argv + 1, static_cast<std::size_t>(argc - 1)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runway-demo-app: fatal: %s\n", e.what());
    return kExitFailed;
  }
}
