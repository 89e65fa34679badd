// `runway store migrate --from DATA_DIR --to postgres://...`: copies a server's SQLite store
// into an empty PostgreSQL database and verifies the copied audit chain before committing.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "runway/core/error.hpp"
#include "runway/store/audit_key.hpp"
#include "runway/store/postgres_store.hpp"
#include "store_flags.hpp"

namespace runway::cli {

void addStoreCommand(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("store", "Manage the server's store");
  group->require_subcommand(1);
  auto* migrate = group->add_subcommand(
      "migrate",
      "Copy the SQLite store of a data directory into an empty PostgreSQL database in one "
      "transaction (events keep their hashes), verify the copied audit chain with the audit key "
      "and commit only if it is intact. Stop the server first");
  struct Flags {
    std::string from = defaultDataDir();
    StoreFlags to;
    std::string audit_key_file;
  };
  auto flags = std::make_shared<Flags>();
  migrate->add_option("--from", flags->from, "Data directory whose runway.db is copied")
      ->capture_default_str();
  addStoreFlags(migrate, flags->to, "--to",
                "The PostgreSQL database to copy into: postgres://USER@HOST:PORT/DB (no password "
                "in the URL)");
  migrate->get_option("--to")->required();
  migrate->add_option("--audit-key-file", flags->audit_key_file,
                      "The audit key the chain is linked with (default: FROM/audit.key when it exists)");
  migrate->callback([&ctx, flags] {
    namespace fs = std::filesystem;
    auto target = postgresOptions(flags->to);
    if (!target) {
      fmt::print(stderr, "runway: {}\n", target.error().message);
      ctx.exit_code = kExitUsage;
      return;
    }
    const fs::path key_path = flags->audit_key_file.empty() ? fs::path(flags->from) / "audit.key"
                                                            : fs::path(flags->audit_key_file);
    std::optional<store::AuditKey> key;
    if (auto read = store::readAuditKey(key_path)) {
      key = std::move(*read);
    } else if (!flags->audit_key_file.empty() || read.error().code != ErrorCode::NotFound) {
      fmt::print(stderr, "runway: {}\n", read.error().message);
      ctx.exit_code = exitCode(read.error().code);
      return;
    }
    const std::string source = (fs::path(flags->from) / "runway.db").string();
    fmt::print("copying {} into {}{}\n", source, store::redactStoreUrl(target->url),
               key ? fmt::format(" (audit key {})", key->id) : std::string(" (no audit key)"));
    auto copied = store::migrateSqliteToPostgres(source, *target, key);
    if (!copied) {
      fmt::print(stderr, "runway: {}\n", copied.error().message);
      ctx.exit_code = exitCode(copied.error().code);
      return;
    }
    fmt::print("copied {} releases, {} deployments, {} approvals, {} events, {} serving records, "
               "{} tokens, {} notifications\n",
               copied->releases, copied->deployments, copied->approvals, copied->events,
               copied->serving, copied->tokens, copied->notifications);
    fmt::print("{} events, chain intact\n", copied->chain.events);
    fmt::print("start the server with: runway serve --data {} --store {}\n", flags->from,
               store::redactStoreUrl(target->url));
    ctx.exit_code = kExitOk;
  });
}

}  // namespace runway::cli
