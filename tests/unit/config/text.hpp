#pragma once

// Helpers shared by the config module's tests.

#include <string>
#include <vector>

#include "runway/config/loader.hpp"
#include "test_paths.hpp"

namespace runway::config::test {

// The formatted diagnostics, with file names relative to the source tree.
inline std::vector<std::string> messages(const LoadResult& result) {
  const std::string source_dir = RUNWAY_SOURCE_DIR;
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) {
    auto text = d.format();
    if (text.rfind(source_dir + "/", 0) == 0) text.erase(0, source_dir.size() + 1);
    out.push_back(text);
  }
  return out;
}

// An Environment document around `spec` (its keys indented two spaces). The header takes four
// lines, so the spec's first line is the document's fifth.
inline std::string env(const std::string& spec) {
  return "apiVersion: runway/v1\nkind: Environment\nmetadata: {name: prod}\nspec:\n" + spec;
}

}  // namespace runway::config::test
