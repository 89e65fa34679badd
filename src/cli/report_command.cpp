// `runway report delivery` and `runway report deployment ID`: the reports of docs/reports.md,
// fetched from the server as JSON and rendered here with the report module's renderers (the
// server and the CLI print the same figures).

#include <memory>
#include <string>

#include <boost/json.hpp>
#include "runway/http/client.hpp"
#include <fmt/format.h>

#include "client.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "runway/core/error.hpp"
#include "runway/report/delivery.hpp"
#include "runway/report/release.hpp"

namespace runway::cli {
namespace {

namespace json = boost::json;

void addDelivery(CLI::App* report, Context& ctx) {
  auto* cmd = report->add_subcommand(
      "delivery",
      "How the team delivers, per period: the DORA four keys (deployment frequency, lead time for changes, "
      "change failure rate, time to restore) with their performance bands, success rate, rollbacks and "
      "their reasons, time waiting for approvals and change windows (docs/reports.md)");
  cmd->footer("Exit codes: 0 ok; 1 refused; 2 usage; 3 server unreachable or token refused.");
  auto flags = addClientFlags(cmd);
  struct Opts {
    std::string env, since, until, by = "none", output = "table";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--env", o->env, "Only this environment (default: every environment)");
  cmd->add_option("--since", o->since, "Deployments created from this time (RFC 3339 or YYYY-MM-DD; default 30 days "
                                       "before --until)");
  cmd->add_option("--until", o->until, "... up to this time, exclusive (default: now)");
  cmd->add_option("--by", o->by, "One row per week (from Monday 00:00 UTC) or calendar month")
      ->check(CLI::IsMember({"none", "week", "month"}));
  cmd->add_option("-o,--output", o->output,
                  "table, md (Markdown), html (one self-contained page with trend charts) or json (the API's "
                  "document, docs/api.md)")
      ->check(CLI::IsMember({"table", "md", "html", "json"}));
  cmd->callback([&ctx, flags, o] {
    if (!o->env.empty() && !validName(o->env)) {
      fmt::print(stderr, "runway: \"{}\" is not a valid environment name\n", o->env);
      ctx.exit_code = kExitUsage;
      return;
    }
    for (const auto* bound : {&o->since, &o->until}) {
      if (bound->empty()) continue;
      if (auto t = report::parseReportTime(*bound); !t) {
        fmt::print(stderr, "runway: {}: {}\n", bound == &o->since ? "--since" : "--until", t.error().message);
        ctx.exit_code = kExitUsage;
        return;
      }
    }
    auto settings = resolveClient(*flags);
    if (!settings) {
      ctx.exit_code = reportError(settings.error());
      return;
    }
    ApiClient client(*settings);
    std::string path = "/api/v1/reports/delivery?by=" + o->by;
    if (!o->env.empty()) path += "&environment=" + http::urlEncode(o->env);
    if (!o->since.empty()) path += "&since=" + http::urlEncode(o->since);
    if (!o->until.empty()) path += "&until=" + http::urlEncode(o->until);
    auto out = client.get(path);
    if (!out) {
      ctx.exit_code = reportError(out.error());
      return;
    }
    if (o->output == "json") {
      printJson(*out);
    } else if (o->output == "md") {
      fmt::print("{}", report::deliveryMarkdown(*out));
    } else if (o->output == "html") {
      fmt::print("{}", report::deliveryHtml(*out));
    } else {
      fmt::print("{}", report::deliveryTable(*out));
    }
    ctx.exit_code = kExitOk;
  });
}

void addDeployment(CLI::App* report, Context& ctx) {
  auto* cmd = report->add_subcommand(
      "deployment",
      "What one deployment did: its timeline (steps, bakes, approvals, checks, hooks), each analysis metric's "
      "measurements against its condition, and the before/after comparison of each service's traffic with a "
      "verdict against the environment's performance tolerances (docs/reports.md)");
  cmd->footer("Exit codes: 0 ok; 1 refused (e.g. unknown deployment); 2 usage; 3 server unreachable or token refused.");
  auto flags = addClientFlags(cmd);
  struct Opts {
    std::string id, output = "md", file;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ID", o->id, "Deployment id (runway history ENV)")->required();
  cmd->add_option("-o,--output", o->output, "md (Markdown), html (one self-contained page) or json (docs/api.md)")
      ->check(CLI::IsMember({"md", "html", "json"}));
  cmd->callback([&ctx, flags, o] {
    if (!validName(o->id)) {
      fmt::print(stderr, "runway: \"{}\" is not a valid deployment id\n", o->id);
      ctx.exit_code = kExitUsage;
      return;
    }
    auto settings = resolveClient(*flags);
    if (!settings) {
      ctx.exit_code = reportError(settings.error());
      return;
    }
    ApiClient client(*settings);
    auto out = client.get("/api/v1/reports/deployments/" + o->id);
    if (!out) {
      ctx.exit_code = reportError(out.error());
      return;
    }
    if (o->output == "json") {
      printJson(*out);
    } else if (o->output == "html") {
      fmt::print("{}", report::releaseHtml(*out));
    } else {
      fmt::print("{}", report::releaseMarkdown(*out));
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace

void addReportCommand(CLI::App& app, Context& ctx) {
  auto* report = app.add_subcommand("report", "Reports from what the store remembers (docs/reports.md)");
  report->require_subcommand(1);
  addDelivery(report, ctx);
  addDeployment(report, ctx);
}

}  // namespace runway::cli
