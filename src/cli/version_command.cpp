#include <fmt/format.h>

#include "commands.hpp"

#ifndef RUNWAY_VERSION
#define RUNWAY_VERSION "0.0.0"
#endif

namespace runway::cli {

void addVersionCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("version", "Print the runway version");
  cmd->callback([&ctx] {
    fmt::print("runway {}\n", RUNWAY_VERSION);
    ctx.exit_code = 0;
  });
}

}  // namespace runway::cli
