#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/error.hpp"

namespace runway::config {

// The names a service's `local.command` and `env` values may use as ${NAME}. ARTIFACT is the
// service's artifact from the deploy request (the version when the request names none).
inline const std::vector<std::string>& substitutionNames() {
  static const std::vector<std::string> names{"PORT", "VERSION", "SERVICE", "ENVIRONMENT",
                                              "ARTIFACT"};
  return names;
}

// Replaces every ${NAME} in `text` with vars.at(NAME); "$$" is a literal "$", and a "$" followed
// by anything else is kept as it is. InvalidArgument for an unterminated "${" or a name that
// `vars` does not hold (a validated configuration only uses substitutionNames()).
Result<std::string> substitute(std::string_view text,
                               const std::map<std::string, std::string>& vars);

// The ${NAME} names used in `text`, in order (duplicates kept); InvalidArgument for an
// unterminated "${" or an empty name.
Result<std::vector<std::string>> referencedNames(std::string_view text);

}  // namespace runway::config
