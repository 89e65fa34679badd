// `runway validate [PATH]`: loads and validates a configuration without a server.

#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "runway/analysis/validate.hpp"
#include "runway/config/loader.hpp"
#include "runway/config/summary.hpp"
#include "runway/core/error.hpp"

namespace runway::cli {
void addValidateCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "validate",
      "Check a configuration (file or directory) without a server; print every error as "
      "file:line:column: field: message (exit 2), or a summary (exit 0)");
  auto path = std::make_shared<std::string>("runway.yaml");
  cmd->add_option("path", *path, "Configuration file or directory")->capture_default_str();
  auto check_queries = std::make_shared<bool>(false);
  cmd->add_flag("--check-queries", *check_queries,
                "Also send each Prometheus query once and report those that fail (exit 1)");
  cmd->callback([&ctx, path, check_queries] {
    auto result = config::loadConfig(*path);
    if (result.ok()) {
      // Conditions and provider settings are the analysis module's language; it checks them.
      result.diagnostics = analysis::validateTemplates(*result.config);
    }
    if (!result.ok()) {
      for (const auto& d : result.diagnostics) fmt::print(stderr, "{}\n", d.format());
      fmt::print(stderr, "{}: {} error{}\n", *path, result.diagnostics.size(),
                 result.diagnostics.size() == 1 ? "" : "s");
      ctx.exit_code = kExitUsage;
      return;
    }
    const auto& cfg = *result.config;
    if (*check_queries) {
      const auto checks = analysis::checkQueries(cfg);
      std::size_t failed = 0;
      for (const auto& q : checks) {
        if (q.ok) continue;
        ++failed;
        config::Diagnostic d{q.location, q.template_name + "/" + q.metric,
                             fmt::format("query failed at {}: {}", q.address, q.message)};
        fmt::print(stderr, "{}\n", d.format());
      }
      fmt::print("{} Prometheus quer{} sent, {} failed\n", checks.size(),
                 checks.size() == 1 ? "y" : "ies", failed);
      if (failed > 0) {
        ctx.exit_code = kExitFailed;
        return;
      }
    }
    fmt::print("{}: valid ({} file{})\n", *path, cfg.files.size(), cfg.files.size() == 1 ? "" : "s");
    fmt::print(
        "checked: YAML syntax, field names and types, value ranges, durations, references "
        "(applications, services, environments, analysis templates), promotesFrom cycles, "
        "duplicate names, analysis conditions and provider settings\n\n{}",
        config::summarize(cfg));
    ctx.exit_code = kExitOk;
  });
}

}  // namespace runway::cli
