#pragma once

// The flags that choose the store (`--store`, `--store-password-file`), shared by `runway
// serve`, `runway store migrate` and `runway audit verify`, and the store they open.

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "runway/core/error.hpp"
#include "runway/store/postgres_store.hpp"
#include "runway/store/store.hpp"

namespace runway::cli {

struct StoreFlags {
  std::string url;            // "" = the SQLite store DATA/runway.db
  std::string password_file;  // "" = $RUNWAY_STORE_PASSWORD, else libpq's own (~/.pgpass)
};

// Adds the URL option (`url_flag`, "--store" or "--to", described by `url_help`) and
// --store-password-file to `cmd`.
void addStoreFlags(CLI::App* cmd, StoreFlags& flags, const std::string& url_flag,
                   const std::string& url_help);

// The PostgreSQL options the flags give: the URL checked (a postgres:// URL without a
// password), the password read from --store-password-file (its first line), else from
// RUNWAY_STORE_PASSWORD, else none. The password is declared a secret (redact.hpp), so no log
// line can carry it. InvalidArgument for a bad URL or an empty password file, NotFound /
// PermissionDenied for a file that cannot be read.
Result<store::PostgresOptions> postgresOptions(const StoreFlags& flags);

}  // namespace runway::cli
