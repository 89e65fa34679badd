// `runway audit verify [--data DIR] [--store postgres://...]`: walks the event log's hash chain.

#include <filesystem>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/postgres_store.hpp"
#include "runway/store/store.hpp"
#include "store_flags.hpp"

namespace runway::cli {

void addAuditCommand(CLI::App& app, Context& ctx) {
  auto* audit = app.add_subcommand("audit", "Inspect the audit trail");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify",
      "Check the event log's chain (HMAC-SHA256 with the audit key, SHA-256 for records from "
      "before it); say which key it checked with, name the first record that does not match "
      "(exit 1) or print \"N events, chain intact\" (exit 0)");
  auto data = std::make_shared<std::string>(defaultDataDir());
  auto key_file = std::make_shared<std::string>();
  verify->add_option("--data", *data, "Data directory of the server")->capture_default_str();
  verify->add_option("--audit-key-file", *key_file,
                     "The audit key the chain is linked with (default: DATA/audit.key when it exists)");
  auto store_flags = std::make_shared<StoreFlags>();
  addStoreFlags(verify, *store_flags, "--store",
                "Verify the PostgreSQL store of a server started with --store (postgres://...) "
                "instead of DATA/runway.db");
  verify->callback([&ctx, data, key_file, store_flags] {
    const auto db = std::filesystem::path(*data) / "runway.db";
    std::optional<store::PostgresOptions> pg;
    if (!store_flags->url.empty()) {
      auto options = postgresOptions(*store_flags);
      if (!options) {
        fmt::print(stderr, "runway: {}\n", options.error().message);
        ctx.exit_code = kExitUsage;
        return;
      }
      pg = std::move(*options);
    }
    std::error_code ec;
    if (!pg && !std::filesystem::exists(db, ec)) {
      fmt::print(stderr, "runway: no store at {} (is --data right?)\n", db.string());
      ctx.exit_code = kExitFailed;
      return;
    }
    // The key: the one named, else the server's own when it has one. Without a key, records
    // linked with one are reported as such.
    std::optional<store::AuditKey> key;
    const std::filesystem::path key_path =
        key_file->empty() ? std::filesystem::path(*data) / "audit.key" : std::filesystem::path(*key_file);
    if (auto read = store::readAuditKey(key_path)) {
      key = std::move(*read);
    } else if (!key_file->empty() || read.error().code != ErrorCode::NotFound) {
      fmt::print(stderr, "runway: {}\n", read.error().message);
      ctx.exit_code = exitCode(read.error().code);
      return;
    }
    if (key) {
      fmt::print("checking with audit key {} ({})\n", key->id, key->file);
    } else {
      fmt::print("checking without an audit key ({} does not exist)\n", key_path.string());
    }
    auto store = pg ? store::openPostgresStore(*pg, key) : store::openSqliteStore(db.string(), key);
    if (!store) {
      fmt::print(stderr, "runway: {}\n", store.error().message);
      ctx.exit_code = exitCode(store.error().code);
      return;
    }
    auto report = (*store)->verifyChain();
    if (!report) {
      fmt::print(stderr, "runway: {}\n", report.error().message);
      ctx.exit_code = exitCode(report.error().code);
      return;
    }
    if (const auto& b = report->first_break) {
      fmt::print("event {} ({}): {}: expected hash {}, found {}\n", b->seq, formatTimestamp(b->at),
                 b->reason, b->expected_hash, b->found_hash);
      fmt::print("chain broken: {} event{} checked, first bad record is event {}\n",
                 report->events, report->events == 1 ? "" : "s", b->seq);
      ctx.exit_code = kExitFailed;
      return;
    }
    fmt::print("{} event{}, chain intact\n", report->events, report->events == 1 ? "" : "s");
    if (report->unkeyed > 0) {
      fmt::print("{} event{} from before the audit key verified by SHA-256 alone (written before the store had a "
                 "key: whoever could write the database could have rewritten them)\n",
                 report->unkeyed, report->unkeyed == 1 ? "" : "s");
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace runway::cli
