#include "runway/cli/cli.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <exception>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "runway/core/error.hpp"
#include "runway/core/logging.hpp"
#include "runway/core/suggest.hpp"

namespace runway::cli {
namespace {

std::vector<std::string> subcommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

std::vector<std::string> optionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
  }
  // Global options are valid after a subcommand too.
  if (app.get_parent() != nullptr) {
    for (auto& n : optionNames(*app.get_parent())) names.push_back(n);
  }
  return names;
}

// The deepest subcommand that was selected on the command line.
const CLI::App* selected(const CLI::App& app) {
  for (const auto* sub : app.get_subcommands()) return selected(*sub);
  return &app;
}

// "runway audit verify" for the audit/verify subcommand.
std::string commandPath(const CLI::App& app) {
  if (app.get_parent() == nullptr) return "runway";
  return commandPath(*app.get_parent()) + " " + app.get_name();
}

// Turns CLI11's "arguments were not expected" into "unknown command/flag ... did you mean".
int reportUsageError(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* where = selected(app);
  std::string message = e.what();
  if (const auto* extras = dynamic_cast<const CLI::ExtrasError*>(&e); extras != nullptr) {
    // CLI11 reports "The following argument(s) were not expected: a b" (in any order); a flag
    // is the more useful thing to name, so look for one first.
    const auto colon = message.find(':');
    std::vector<std::string> words;
    std::string rest = colon == std::string::npos ? message : message.substr(colon + 1);
    for (std::size_t pos = 0; pos < rest.size();) {
      const auto start = rest.find_first_not_of(' ', pos);
      if (start == std::string::npos) break;
      const auto end = rest.find(' ', start);
      words.push_back(rest.substr(start, end == std::string::npos ? std::string::npos : end - start));
      pos = end == std::string::npos ? rest.size() : end;
    }
    std::string first = words.empty() ? std::string() : words.front();
    for (const auto& w : words) {
      if (w.rfind("-", 0) == 0) {
        first = w;
        break;
      }
    }
    if (first.rfind("-", 0) == 0) {
      const auto flag = first.substr(0, first.find('='));
      message = fmt::format("unknown flag \"{}\" for \"{}\"", flag, commandPath(*where));
      if (auto s = closestMatch(flag, optionNames(*where))) {
        message += fmt::format("; did you mean \"{}\"?", *s);
      }
    } else if (!where->get_subcommands({}).empty()) {
      message = fmt::format("unknown command \"{}\"", first);
      if (auto s = closestMatch(first, subcommandNames(*where))) {
        message += fmt::format("; did you mean \"{}\"?", *s);
      }
    } else {
      message = fmt::format("unexpected argument \"{}\" for \"{}\"", first, commandPath(*where));
    }
  }
  fmt::print(stderr, "runway: {}\nRun '{} --help' for usage.\n", message, commandPath(*where));
  return kExitUsage;
}

}  // namespace

std::string defaultDataDir() {
  if (const char* d = std::getenv("RUNWAY_DATA_DIR"); d != nullptr && *d != '\0') return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x != nullptr && *x != '\0') {
    return std::string(x) + "/runway";
  }
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    return std::string(h) + "/.local/share/runway";
  }
  return ".runway";
}

int run(int argc, char** argv) {
  // The commands that create files or sockets under the data directory (the store and its
  // -wal/-shm, tokens, logs, pid and run files, the router's socket and table, backups, check
  // results) do it under umask 077: 0600 files, 0700 directories from the start, never a
  // window in which one is readable by others. What they start (the router, instances, hooks)
  // inherits it. Commands that write files the user names (alerts render -o, a postmortem) keep
  // the user's umask.
  static const std::set<std::string> kDataDirCommands{"serve", "router", "quickstart", "down",
                                                      "audit",  "backup", "health",     "smoke",
                                                      "preflight", "perf"};
  if (argc > 1 && kDataDirCommands.count(argv[1]) != 0) ::umask(077);
  Context ctx;
  ctx.argv0 = argc > 0 ? argv[0] : "runway";
  CLI::App app{
      "runway: release operations from one binary. Ships an application through development, "
      "staging and production with rolling, blue-green and canary strategies, judges every step "
      "against live metrics and rolls back by itself.",
      "runway"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.add_option("--log-format", ctx.log_format, "Log line format: human or json")
      ->check(CLI::IsMember({"human", "json"}));
  app.add_option("--log-level", ctx.log_level, "trace, debug, info, warn, error or off");

  addVersionCommand(app, ctx);
  addValidateCommand(app, ctx);
  addRehearseCommand(app, ctx);
  addAuditCommand(app, ctx);
  addStoreCommand(app, ctx);
  addNotificationsCommand(app, ctx);
  addAlertsCommand(app, ctx);
  addIncidentCommand(app, ctx);
  addRouterCommand(app, ctx);
  addCheckCommands(app, ctx);
  addServeCommand(app, ctx);
  addDownCommand(app, ctx);
  addTokenCommand(app, ctx);
  addVerbCommands(app, ctx);
  addQuickstartCommand(app, ctx);
  addLogsCommand(app, ctx);
  addCompletionCommand(app, ctx);
  addManCommand(app, ctx);
  addReportCommand(app, ctx);

  app.parse_complete_callback([&ctx] {
    auto format = parseLogFormat(ctx.log_format);
    if (format) {
      auto r = initLogging(*format, ctx.log_level);
      if (!r) throw CLI::ValidationError("--log-level", r.error().message);
    }
  });

  try {
    // Check the command name ourselves: CLI11 would only say "not expected".
    if (argc > 1 && argv[1][0] != '-') {
      const std::string name = argv[1];
      const auto names = subcommandNames(app);
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        std::string message = fmt::format("unknown command \"{}\"", name);
        if (auto s = closestMatch(name, names)) message += fmt::format("; did you mean \"{}\"?", *s);
        fmt::print(stderr, "runway: {}\nRun 'runway --help' for usage.\n", message);
        return kExitUsage;
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return reportUsageError(app, e);
  } catch (const std::exception& e) {
    fmt::print(stderr, "runway: internal error: {}\n", e.what());
    return kExitFailed;
  }
  return ctx.exit_code;
}

}  // namespace runway::cli
