// `runway alerts render [--config PATH] [--output FILE]`: the configuration's AlertRules as a
// Prometheus rules file (for rule_files:), without a server.

#include <fstream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "runway/alerts/rules_file.hpp"
#include "runway/config/loader.hpp"

namespace runway::cli {

void addAlertsCommand(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("alerts", "Alert rules for Prometheus and Alertmanager");
  group->require_subcommand(1);
  auto* render = group->add_subcommand(
      "render", "Write the AlertRules of a configuration as a Prometheus rules file (promtool check rules accepts it)");
  struct Opts {
    std::string config = "runway.yaml";
    std::string output;
  };
  auto o = std::make_shared<Opts>();
  render->add_option("--config,-c", o->config, "Configuration file or directory")->capture_default_str();
  render->add_option("--output,-o", o->output, "Write to this file instead of standard output");
  render->callback([&ctx, o] {
    auto loaded = config::loadConfig(o->config);
    if (!loaded.ok()) {
      for (const auto& d : loaded.diagnostics) fmt::print(stderr, "{}\n", d.format());
      ctx.exit_code = kExitUsage;
      return;
    }
    const std::string text = alerts::renderRulesFile(*loaded.config);
    if (o->output.empty()) {
      fmt::print("{}", text);
    } else {
      std::ofstream out(o->output, std::ios::trunc);
      out << text;
      out.close();
      if (!out) {
        fmt::print(stderr, "runway: cannot write {}\n", o->output);
        ctx.exit_code = kExitFailed;
        return;
      }
      fmt::print(stderr, "wrote {} alert rule(s) to {}\n", loaded.config->alert_rules.size(), o->output);
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace runway::cli
