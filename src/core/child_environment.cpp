#include "runway/core/child_environment.hpp"

#include <cstdlib>

namespace runway {

const std::vector<std::string>& inheritedVariableNames() {
  static const std::vector<std::string> kNames{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"};
  return kNames;
}

std::map<std::string, std::string> baseChildEnvironment() {
  std::map<std::string, std::string> env;
  for (const auto& name : inheritedVariableNames()) {
    if (const char* value = std::getenv(name.c_str()); value != nullptr) env[name] = value;
  }
  return env;
}

}  // namespace runway
