#pragma once

// Spec snapshots: the configuration a deployment was requested under, kept with it as the files
// that were read (PersistedDeployment::spec_sources) and loaded again from them after a restart,
// so that a reload reaches only deployments requested after it.

#include <memory>
#include <string>
#include <vector>

#include "runway/config/model.hpp"

namespace runway::controller {

class SpecSnapshots {
 public:
  // The configuration `sources` load into: `live` itself when it was read from the same files,
  // otherwise one loaded from the text and shared by every deployment with the same sources.
  // `live` when `sources` is empty (a document written before snapshots, or a configuration
  // built in code). When the snapshot no longer loads (a newer runway refuses what an older one
  // accepted), `*error` says why and `live` is returned only so that the deployment can be
  // stopped and rolled back: the caller must not let it go on under a spec it was not requested
  // with. Strand only.
  std::shared_ptr<const config::Config> restore(
      const std::shared_ptr<const std::vector<config::SourceFile>>& sources,
      const std::shared_ptr<const config::Config>& live, std::string* error);

 private:
  struct Entry {
    std::vector<config::SourceFile> sources;
    std::weak_ptr<const config::Config> config;
  };
  std::vector<Entry> cache_;
};

// The text a snapshot is stored as (store::Store::putConfigSnapshot): a JSON array of
// {"name", "text"}, the files in order; and back. InvalidArgument for text that is not one.
std::string sourcesToJson(const std::vector<config::SourceFile>& sources);
Result<std::vector<config::SourceFile>> sourcesFromJson(std::string_view text);

}  // namespace runway::controller
