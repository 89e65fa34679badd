#include "runway/checks/api_token.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace runway::checks {
namespace {

std::string trimmed(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<std::string> readApiToken(const std::string& file, const std::string& env_var, std::string_view service,
                                 std::string_view settings) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return fail(ErrorCode::NotFound, fmt::format("cannot read the {} token file {}", service, file));
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string token = trimmed(buffer.str());
    if (token.empty()) return fail(ErrorCode::NotFound, fmt::format("the {} token file {} is empty", service, file));
    return token;
  }
  if (!env_var.empty()) {
    if (const char* v = std::getenv(env_var.c_str()); v != nullptr && *v != '\0') return trimmed(v);
  }
  return fail(ErrorCode::NotFound, fmt::format("no {} token: set the variable {} or the checklist's {}.tokenFile", service,
                                               env_var.empty() ? "(none configured)" : env_var, settings));
}

}  // namespace runway::checks
