#include "spec_snapshot.hpp"

#include <boost/json.hpp>

#include "runway/config/loader.hpp"

namespace runway::controller {

std::shared_ptr<const config::Config> SpecSnapshots::restore(
    const std::shared_ptr<const std::vector<config::SourceFile>>& shared,
    const std::shared_ptr<const config::Config>& live, std::string* error) {
  error->clear();
  if (!shared || shared->empty()) return live;
  const auto& sources = *shared;
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

std::string sourcesToJson(const std::vector<config::SourceFile>& sources) {
  boost::json::array files;
  for (const auto& f : sources) files.push_back(boost::json::object{{"name", f.name}, {"text", f.text}});
  return boost::json::serialize(files);
}

Result<std::vector<config::SourceFile>> sourcesFromJson(std::string_view text) {
  boost::json::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return fail(ErrorCode::InvalidArgument, "a configuration snapshot is not a JSON array");
  std::vector<config::SourceFile> out;
  for (const auto& item : v.get_array()) {
    const auto* o = item.if_object();
    const auto* name = o != nullptr ? o->if_contains("name") : nullptr;
    const auto* file = o != nullptr ? o->if_contains("text") : nullptr;
    if (name == nullptr || file == nullptr || !name->is_string() || !file->is_string()) {
      return fail(ErrorCode::InvalidArgument, "a configuration snapshot's file has no name or text");
    }
    out.push_back(config::SourceFile{std::string(name->get_string()), std::string(file->get_string())});
  }
  return out;
}

}  // namespace runway::controller
