#include "store_flags.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "runway/core/redact.hpp"

namespace runway::cli {

void addStoreFlags(CLI::App* cmd, StoreFlags& flags, const std::string& url_flag,
                   const std::string& url_help) {
  cmd->add_option(url_flag, flags.url, url_help);
  cmd->add_option("--store-password-file", flags.password_file,
                  "File whose first line is the PostgreSQL password (default: the "
                  "RUNWAY_STORE_PASSWORD environment variable, else libpq's ~/.pgpass)");
}

Result<store::PostgresOptions> postgresOptions(const StoreFlags& flags) {
  if (auto checked = store::checkPostgresUrl(flags.url); !checked) {
    return fail(checked.error().code, checked.error().message);
  }
  store::PostgresOptions options{flags.url, std::nullopt};
  if (!flags.password_file.empty()) {
    std::ifstream in(flags.password_file);
    if (!in) {
      const bool denied = errno == EACCES;
      return fail(denied ? ErrorCode::PermissionDenied : ErrorCode::NotFound,
                  "--store-password-file: cannot read " + flags.password_file + ": " +
                      std::strerror(errno));
    }
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      return fail(ErrorCode::InvalidArgument,
                  "--store-password-file: " + flags.password_file + " is empty");
    }
    options.password = std::move(line);
  } else if (const char* env = std::getenv("RUNWAY_STORE_PASSWORD");  // NOLINT(concurrency-mt-unsafe)
             env != nullptr && *env != '\0') {
    options.password = std::string(env);
  }
  if (options.password) secretRedactor().addValue(*options.password);
  return options;
}

}  // namespace runway::cli
