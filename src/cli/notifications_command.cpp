// `runway notifications list [--failed] [--status S] [--deployment ID] [--limit N]`: the
// notification outbox as the server sees it (GET /api/v1/notifications), newest first.

#include <memory>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "client.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace runway::cli {

void addNotificationsCommand(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("notifications", "Inspect the notification outbox");
  group->require_subcommand(1);
  auto* list = group->add_subcommand(
      "list", "List notifications, newest first: channel, event, status, attempts and the last error");
  auto flags = addClientFlags(list);
  auto output = addOutputFlag(list);
  struct Opts {
    bool failed = false;
    std::string status;
    std::string deployment;
    int limit = 50;
  };
  auto o = std::make_shared<Opts>();
  list->add_flag("--failed", o->failed, "Only notifications that failed for good (same as --status failed)");
  list->add_option("--status", o->status, "pending, delivered or failed")
      ->check(CLI::IsMember({"pending", "delivered", "failed"}));
  list->add_option("--deployment", o->deployment, "Only those about this deployment");
  list->add_option("--limit", o->limit, "How many (1-1000, default 50)")->check(CLI::Range(1, 1000));
  list->callback([&ctx, flags, output, o] {
    if (o->failed && !o->status.empty() && o->status != "failed") {
      fmt::print(stderr, "runway: --failed and --status {} contradict each other\n", o->status);
      ctx.exit_code = kExitUsage;
      return;
    }
    if (!o->deployment.empty() && !validName(o->deployment)) {
      fmt::print(stderr, "runway: \"{}\" is not a valid deployment id\n", o->deployment);
      ctx.exit_code = kExitUsage;
      return;
    }
    auto settings = resolveClient(*flags);
    if (!settings) {
      ctx.exit_code = reportError(settings.error());
      return;
    }
    ApiClient client(*settings);
    std::string path = fmt::format("/api/v1/notifications?limit={}", o->limit);
    const std::string status = o->failed ? "failed" : o->status;
    if (!status.empty()) path += "&status=" + status;
    if (!o->deployment.empty()) path += "&deployment=" + o->deployment;
    auto out = client.get(path);
    if (!out) {
      ctx.exit_code = reportError(out.error());
      return;
    }
    ctx.exit_code = kExitOk;
    if (printStructured(*output, *out)) return;
    fmt::print("{:<6} {:<14} {:<24} {:<10} {:<8} {:<24} {}\n", "ID", "CHANNEL", "EVENT", "STATUS", "TRIES",
               "DEPLOYMENT", "LAST ERROR");
    const auto& items = member(*out, "notifications");
    if (!items.is_array()) return;
    for (const auto& n : items.get_array()) {
      fmt::print("{:<6} {:<14} {:<24} {:<10} {:<8} {:<24} {}\n", integer(n, "id"), text(n, "channel"),
                 text(n, "event"), text(n, "status"), integer(n, "attempts"), orDash(text(n, "deployment")),
                 orDash(text(n, "lastError")));
    }
    if (items.get_array().empty()) fmt::print(stderr, "no notifications{}\n", status.empty() ? "" : " " + status);
  });
}

}  // namespace runway::cli
