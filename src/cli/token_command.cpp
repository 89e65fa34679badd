// `runway token create|list|revoke`: API tokens (admin only). The secret is shown once.

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "client.hpp"
#include "commands.hpp"

namespace runway::cli {

namespace json = boost::json;

namespace {

std::string joined(const json::value& roles) {
  std::string out;
  if (!roles.is_array()) return out;
  for (const auto& r : roles.get_array()) {
    if (r.is_string()) out += (out.empty() ? "" : ",") + std::string(r.get_string());
  }
  return out;
}

std::string field(const json::value& v, const char* key) {
  if (!v.is_object() || !v.as_object().contains(key)) return "";
  const auto& f = v.at(key);
  if (f.is_string()) return std::string(f.get_string());
  if (f.is_null()) return "";
  return json::serialize(f);
}

}  // namespace

void addTokenCommand(CLI::App& app, Context& ctx) {
  auto* token = app.add_subcommand("token", "Create, list and revoke API tokens (admin)");
  token->require_subcommand(1);

  auto* create = token->add_subcommand("create", "Create a token; prints it once");
  auto cflags = addClientFlags(create);
  auto name = std::make_shared<std::string>();
  auto roles = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>("table");
  auto ttl = std::make_shared<std::string>();
  create->add_option("--name", *name, "Who holds it (recorded on approvals and events)")->required();
  create->add_option("--ttl", *ttl,
                     "Lifetime, e.g. 24h or 30d (1m to 3650d); after it the token is refused with "
                     "\"token expired\". Without it the token lasts until revoked");
  create->add_option("--role", *roles, "A role: viewer, deployer, admin or an approver role (repeatable)")->required();
  create->add_option("-o,--output", *output, "table or json")->check(CLI::IsMember({"table", "json"}));
  create->callback([&ctx, cflags, name, roles, output, ttl] {
    auto settings = resolveClient(*cflags);
    if (!settings) {
      ctx.exit_code = reportError(settings.error());
      return;
    }
    ApiClient client(*settings);
    json::array r;
    for (const auto& role : *roles) r.emplace_back(role);
    json::object request{{"name", *name}, {"roles", std::move(r)}};
    if (!ttl->empty()) request["ttl"] = *ttl;
    auto out = client.post("/api/v1/tokens", request);
    if (!out) {
      ctx.exit_code = reportError(out.error());
      return;
    }
    if (*output == "json") {
      fmt::print("{}\n", json::serialize(*out));
    } else {
      const std::string expires = field(*out, "expiresAt");
      fmt::print("token {} for {} ({}){}:\n{}\n", field(*out, "id"), field(*out, "name"), joined(out->at("roles")),
                 expires.empty() ? "" : ", expires " + expires, field(*out, "token"));
      fmt::print(stderr, "Store it now: runway keeps only a salted hash and cannot show it again.\n");
    }
    ctx.exit_code = kExitOk;
  });

  auto* list = token->add_subcommand("list", "List tokens (never their secrets)");
  auto lflags = addClientFlags(list);
  auto loutput = std::make_shared<std::string>("table");
  list->add_option("-o,--output", *loutput, "table or json")->check(CLI::IsMember({"table", "json"}));
  list->callback([&ctx, lflags, loutput] {
    auto settings = resolveClient(*lflags);
    if (!settings) {
      ctx.exit_code = reportError(settings.error());
      return;
    }
    ApiClient client(*settings);
    auto out = client.get("/api/v1/tokens");
    if (!out) {
      ctx.exit_code = reportError(out.error());
      return;
    }
    if (*loutput == "json") {
      fmt::print("{}\n", json::serialize(*out));
    } else {
      fmt::print("{:<18} {:<16} {:<28} {:<26} {:<26} {}\n", "ID", "NAME", "ROLES", "CREATED", "EXPIRES", "REVOKED");
      for (const auto& t : out->at("tokens").as_array()) {
        fmt::print("{:<18} {:<16} {:<28} {:<26} {:<26} {}\n", field(t, "id"), field(t, "name"), joined(t.at("roles")),
                   field(t, "createdAt"), field(t, "expiresAt").empty() ? "-" : field(t, "expiresAt"),
                   field(t, "revokedAt").empty() ? "-" : field(t, "revokedAt"));
      }
    }
    ctx.exit_code = kExitOk;
  });

  auto* revoke = token->add_subcommand("revoke", "Revoke a token by id; it stops working at once");
  auto rflags = addClientFlags(revoke);
  auto id = std::make_shared<std::string>();
  revoke->add_option("id", *id, "Token id (from `runway token list`)")->required();
  revoke->callback([&ctx, rflags, id] {
    auto settings = resolveClient(*rflags);
    if (!settings) {
      ctx.exit_code = reportError(settings.error());
      return;
    }
    ApiClient client(*settings);
    auto out = client.del("/api/v1/tokens/" + *id);
    if (!out) {
      ctx.exit_code = reportError(out.error());
      return;
    }
    fmt::print("revoked token {} ({})\n", *id, field(*out, "name"));
    ctx.exit_code = kExitOk;
  });
}

}  // namespace runway::cli
