// `runway audit verify [--data DIR]`: walks the event log's hash chain.

#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::cli {

void addAuditCommand(CLI::App& app, Context& ctx) {
  auto* audit = app.add_subcommand("audit", "Inspect the audit trail");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify",
      "Check the event log's SHA-256 hash chain; name the first record that does not match "
      "(exit 1) or print \"N events, chain intact\" (exit 0)");
  auto data = std::make_shared<std::string>(defaultDataDir());
  verify->add_option("--data", *data, "Data directory of the server")->capture_default_str();
  verify->callback([&ctx, data] {
    const auto db = std::filesystem::path(*data) / "runway.db";
    std::error_code ec;
    if (!std::filesystem::exists(db, ec)) {
      fmt::print(stderr, "runway: no store at {} (is --data right?)\n", db.string());
      ctx.exit_code = kExitFailed;
      return;
    }
    auto store = store::openSqliteStore(db.string());
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
    ctx.exit_code = kExitOk;
  });
}

}  // namespace runway::cli
