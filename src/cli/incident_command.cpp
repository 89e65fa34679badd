// `runway incident open|ack|update|mitigate|resolve|note|commander|list|show|postmortem`: the
// incident routes of the API (docs/oncall.md).

#include <fstream>
#include <memory>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "client.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace runway::cli {
namespace {

namespace json = boost::json;

int runWithClient(const ClientFlags& flags, const std::function<int(ApiClient&)>& body) {
  auto settings = resolveClient(flags);
  if (!settings) return reportError(settings.error());
  ApiClient client(*settings);
  return body(client);
}

void printIncident(const json::value& v, bool timeline) {
  fmt::print("{}  SEV-{}  {}  {}\n", text(v, "id"), integer(v, "severity"), text(v, "status"), text(v, "title"));
  fmt::print("  environment {}  commander {}  opened {}\n", orDash(text(v, "environment")),
             orDash(text(v, "commander")), text(v, "openedAt"));
  const auto& deployments = member(v, "deployments");
  if (deployments.is_array() && !deployments.get_array().empty()) {
    fmt::print("  deployments {}\n", joinStrings(deployments, ", "));
  }
  if (!timeline) return;
  const auto& t = member(v, "timeline");
  if (!t.is_array()) return;
  fmt::print("\n");
  for (const auto& e : t.get_array()) {
    fmt::print("  {}  {:<12} {:<24} {}\n", text(e, "at"), text(e, "actor"), text(e, "kind"), text(e, "text"));
  }
}

bool validId(const std::string& id) { return validName(id); }

}  // namespace

void addIncidentCommand(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("incident", "Open, follow and close incidents (docs/oncall.md)");
  group->require_subcommand(1);

  {
    auto* cmd = group->add_subcommand("open", "Open an incident");
    auto flags = addClientFlags(cmd);
    auto output = addOutputFlag(cmd);
    struct Opts {
      std::string title, environment, deployment, reason;
      int severity = 2;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("TITLE", o->title, "What is wrong, in one line")->required();
    cmd->add_option("--severity,-s", o->severity, "Severity level (1 = most severe)")->check(CLI::Range(1, 9));
    cmd->add_option("--env", o->environment, "The environment affected");
    cmd->add_option("--deployment", o->deployment, "A deployment involved");
    cmd->add_option("--reason", o->reason, "What is known so far");
    cmd->callback([&ctx, flags, output, o] {
      ctx.exit_code = runWithClient(*flags, [&](ApiClient& client) {
        json::object body{{"title", o->title}, {"severity", o->severity}};
        if (!o->environment.empty()) body["environment"] = o->environment;
        if (!o->deployment.empty()) body["deployment"] = o->deployment;
        if (!o->reason.empty()) body["reason"] = o->reason;
        auto out = client.post("/api/v1/incidents", body);
        if (!out) return reportError(out.error());
        if (!printStructured(*output, *out)) printIncident(*out, false);
        return kExitOk;
      });
    });
  }

  const std::pair<const char*, const char*> verbs[] = {
      {"ack", "acknowledge"}, {"update", "update"}, {"mitigate", "mitigate"},
      {"resolve", "resolve"}, {"note", "note"}};
  for (const auto& [name, route] : verbs) {
    const std::string verb = name;
    const std::string path = route;
    auto* cmd = group->add_subcommand(name, fmt::format("{} an incident", path == "note" ? "Add a note to" : path));
    auto flags = addClientFlags(cmd);
    auto output = addOutputFlag(cmd);
    auto id = std::make_shared<std::string>();
    auto message = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Incident id")->required();
    auto* m = cmd->add_option("MESSAGE", *message, "The update, note or resolution");
    if (verb == "update" || verb == "note") m->required();
    cmd->callback([&ctx, flags, output, id, message, path] {
      if (!validId(*id)) {
        fmt::print(stderr, "runway: \"{}\" is not a valid incident id\n", *id);
        ctx.exit_code = kExitUsage;
        return;
      }
      ctx.exit_code = runWithClient(*flags, [&](ApiClient& client) {
        json::object body;
        if (!message->empty()) body["message"] = *message;
        auto out = client.post(fmt::format("/api/v1/incidents/{}/{}", *id, path), body);
        if (!out) return reportError(out.error());
        if (!printStructured(*output, *out)) printIncident(*out, false);
        return kExitOk;
      });
    });
  }

  {
    auto* cmd = group->add_subcommand("commander", "Name an incident's commander");
    auto flags = addClientFlags(cmd);
    auto id = std::make_shared<std::string>();
    auto who = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Incident id")->required();
    cmd->add_option("NAME", *who, "Who commands")->required();
    cmd->callback([&ctx, flags, id, who] {
      if (!validId(*id)) {
        fmt::print(stderr, "runway: \"{}\" is not a valid incident id\n", *id);
        ctx.exit_code = kExitUsage;
        return;
      }
      ctx.exit_code = runWithClient(*flags, [&](ApiClient& client) {
        auto out = client.post(fmt::format("/api/v1/incidents/{}/commander", *id), json::object{{"commander", *who}});
        if (!out) return reportError(out.error());
        printIncident(*out, false);
        return kExitOk;
      });
    });
  }

  {
    auto* cmd = group->add_subcommand("list", "List unresolved incidents, newest first");
    auto flags = addClientFlags(cmd);
    auto output = addOutputFlag(cmd);
    auto all = std::make_shared<bool>(false);
    cmd->add_flag("--all", *all, "Resolved ones too");
    cmd->callback([&ctx, flags, output, all] {
      ctx.exit_code = runWithClient(*flags, [&](ApiClient& client) {
        auto out = client.get(std::string("/api/v1/incidents") + (*all ? "?all=true" : ""));
        if (!out) return reportError(out.error());
        if (printStructured(*output, *out)) return kExitOk;
        fmt::print("{:<24} {:<6} {:<13} {:<12} {:<12} {}\n", "ID", "SEV", "STATUS", "ENVIRONMENT", "COMMANDER", "TITLE");
        const auto& items = member(*out, "incidents");
        if (items.is_array()) {
          for (const auto& i : items.get_array()) {
            fmt::print("{:<24} {:<6} {:<13} {:<12} {:<12} {}\n", text(i, "id"), fmt::format("SEV-{}", integer(i, "severity")),
                       text(i, "status"), orDash(text(i, "environment")), orDash(text(i, "commander")), text(i, "title"));
          }
          if (items.get_array().empty()) fmt::print(stderr, "no {}incidents\n", *all ? "" : "open ");
        }
        return kExitOk;
      });
    });
  }

  {
    auto* cmd = group->add_subcommand("show", "An incident and its timeline");
    auto flags = addClientFlags(cmd);
    auto output = addOutputFlag(cmd);
    auto id = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Incident id")->required();
    cmd->callback([&ctx, flags, output, id] {
      if (!validId(*id)) {
        fmt::print(stderr, "runway: \"{}\" is not a valid incident id\n", *id);
        ctx.exit_code = kExitUsage;
        return;
      }
      ctx.exit_code = runWithClient(*flags, [&](ApiClient& client) {
        auto out = client.get("/api/v1/incidents/" + *id);
        if (!out) return reportError(out.error());
        if (!printStructured(*output, *out)) printIncident(*out, true);
        return kExitOk;
      });
    });
  }

  {
    auto* cmd = group->add_subcommand("postmortem", "Write the Markdown postmortem draft of an incident");
    auto flags = addClientFlags(cmd);
    auto id = std::make_shared<std::string>();
    auto file = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Incident id")->required();
    cmd->add_option("--output,-o", *file, "Write to this file instead of standard output");
    cmd->callback([&ctx, flags, id, file] {
      if (!validId(*id)) {
        fmt::print(stderr, "runway: \"{}\" is not a valid incident id\n", *id);
        ctx.exit_code = kExitUsage;
        return;
      }
      ctx.exit_code = runWithClient(*flags, [&](ApiClient& client) {
        // Asked for JSON (as the client does), the route wraps the Markdown: {"markdown": "..."}.
        auto out = client.get("/api/v1/incidents/" + *id + "/postmortem");
        if (!out) return reportError(out.error());
        const std::string markdown = text(*out, "markdown");
        if (file->empty()) {
          fmt::print("{}", markdown);
          return kExitOk;
        }
        std::ofstream f(*file, std::ios::trunc);
        f << markdown;
        f.close();
        if (!f) {
          fmt::print(stderr, "runway: cannot write {}\n", *file);
          return kExitFailed;
        }
        return kExitOk;
      });
    });
  }
}

}  // namespace runway::cli
