#pragma once

// Each runway subcommand lives in its own file and is registered here. A command's callback
// stores the process exit code in `Context::exit_code`.

#include <string>

#include <CLI/CLI.hpp>

namespace runway::cli {

struct Context {
  int exit_code = 0;
  std::string log_format = "human";
  std::string log_level = "info";
  std::string argv0;  // path the binary was started with
};

void addVersionCommand(CLI::App& app, Context& ctx);
void addValidateCommand(CLI::App& app, Context& ctx);
// rehearse (rehearse_command.cpp)
void addRehearseCommand(CLI::App& app, Context& ctx);
void addAuditCommand(CLI::App& app, Context& ctx);
// store migrate (store_command.cpp)
void addStoreCommand(CLI::App& app, Context& ctx);
void addRouterCommand(CLI::App& app, Context& ctx);
// preflight, health, smoke, perf, backup (checks_command.cpp)
void addCheckCommands(CLI::App& app, Context& ctx);
void addServeCommand(CLI::App& app, Context& ctx);
void addDownCommand(CLI::App& app, Context& ctx);
void addTokenCommand(CLI::App& app, Context& ctx);
void addQuickstartCommand(CLI::App& app, Context& ctx);
// deploy, status, history, rollback, promote, abort, retry, pause, resume, approve, reject
void addVerbCommands(CLI::App& app, Context& ctx);
void addLogsCommand(CLI::App& app, Context& ctx);
void addCompletionCommand(CLI::App& app, Context& ctx);
// man: the runway(1) page generated from the command tree (man_command.cpp)
void addManCommand(CLI::App& app, Context& ctx);
// report delivery, report deployment (report_command.cpp)
void addReportCommand(CLI::App& app, Context& ctx);
// notifications list (notifications_command.cpp)
void addNotificationsCommand(CLI::App& app, Context& ctx);
// alerts render (alerts_command.cpp)
void addAlertsCommand(CLI::App& app, Context& ctx);
// incident open|ack|update|mitigate|resolve|note|commander|list|show|postmortem (incident_command.cpp)
void addIncidentCommand(CLI::App& app, Context& ctx);

// The default data directory: $RUNWAY_DATA_DIR, else $XDG_DATA_HOME/runway, else
// ~/.local/share/runway.
std::string defaultDataDir();

}  // namespace runway::cli
