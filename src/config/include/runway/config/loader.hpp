#pragma once

#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/error.hpp"

namespace runway::config {

// One problem found while loading: where it is and what is wrong.
struct Diagnostic {
  SourceLocation location;
  std::string field;    // dotted path, e.g. "spec.canary.steps[2].setWeight"
  std::string message;  // e.g. "unknown field \"setWieght\" (did you mean \"setWeight\"?)"

  // "file:line:column: field: message"
  std::string format() const;
};

// What loading produced: a Config when there are no diagnostics, and every diagnostic
// otherwise (all of them, in file order, from one pass).
struct LoadResult {
  std::optional<Config> config;
  std::vector<Diagnostic> diagnostics;

  bool ok() const { return config.has_value() && diagnostics.empty(); }
};

// Loads and validates `path`: a YAML file with one or more documents, or a directory whose
// *.yaml / *.yml files (not recursive, sorted by name) are read as one configuration.
// A path that cannot be read is a diagnostic too (with line 0).
LoadResult loadConfig(const std::string& path);

// The same for text already in memory; `file_name` is used in locations.
LoadResult loadConfigText(const std::string& text, const std::string& file_name);

// The same for several files, in order (a Config's `sources`): loads it again as it was read.
LoadResult loadConfigSources(const std::vector<SourceFile>& sources);

}  // namespace runway::config
