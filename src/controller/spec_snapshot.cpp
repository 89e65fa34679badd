#include "spec_snapshot.hpp"

#include "runway/config/loader.hpp"

namespace runway::controller {

std::shared_ptr<const config::Config> SpecSnapshots::restore(
    const std::vector<config::SourceFile>& sources,
    const std::shared_ptr<const config::Config>& live, std::string* error) {
  error->clear();
  if (sources.empty()) return live;
  if (live && live->sources == sources) return live;
  std::erase_if(cache_, [](const Entry& e) { return e.config.expired(); });
  for (const auto& e : cache_) {
    if (e.sources == sources) return e.config.lock();
  }
  auto loaded = config::loadConfigSources(sources);
  if (!loaded.ok()) {
    *error = "its configuration snapshot no longer loads: " +
             (loaded.diagnostics.empty() ? std::string("no configuration")
                                         : loaded.diagnostics.front().format());
    return live;
  }
  auto config = std::make_shared<const config::Config>(std::move(*loaded.config));
  cache_.push_back(Entry{sources, config});
  return config;
}

}  // namespace runway::controller
