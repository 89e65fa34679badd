#pragma once

// Typed, located reading of yaml-cpp nodes. Every problem becomes a Diagnostic; nothing throws
// except yaml-cpp itself on malformed trees, which the loader catches.

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "runway/config/loader.hpp"
#include "runway/config/model.hpp"

namespace runway::config::detail {

// Where diagnostics go, and how yaml-cpp marks become 1-based file locations.
class Reader {
 public:
  Reader(std::string file, int line_offset, std::vector<Diagnostic>& out)
      : file_(std::move(file)), line_offset_(line_offset), out_(&out) {}

  // The node's 1-based location, or `fallback` when yaml-cpp has no mark for it.
  SourceLocation locate(const YAML::Node& node, const SourceLocation& fallback = {}) const;
  SourceLocation locate(const YAML::Mark& mark) const;

  void error(SourceLocation location, std::string field, std::string message) {
    out_->push_back(Diagnostic{std::move(location), std::move(field), std::move(message)});
  }
  const std::string& file() const { return file_; }

  // The text read has `lines` lines: yaml-cpp marks a value missing at the very end of its input
  // ("- " as the last line) on the line after it, which is reported on the last line instead.
  // 0 = no limit.
  void limitLines(int lines) { lines_ = lines; }

 private:
  std::string file_;
  int line_offset_;
  int lines_ = 0;
  std::vector<Diagnostic>* out_;
};

// A value in the document: the node, where it is and its dotted path.
struct Val {
  YAML::Node node;
  SourceLocation location;
  std::string path;
};

// "a string", "a list", ... for messages.
std::string describe(const YAML::Node& node);

// The scalar text of `v`, or a diagnostic "expected <what>, got <kind>".
std::optional<std::string> scalarText(Reader& r, const Val& v, std::string_view what);

std::optional<std::string> readString(Reader& r, const Val& v, bool allow_empty = false);
std::optional<std::int64_t> readInteger(Reader& r, const Val& v, std::int64_t min,
                                        std::int64_t max);
std::optional<double> readNumber(Reader& r, const Val& v, double min, double max);
std::optional<bool> readBool(Reader& r, const Val& v);
// A duration; `minimum` is the smallest accepted value (0 or e.g. 1ms for "must be positive").
std::optional<Duration> readDuration(Reader& r, const Val& v, Duration minimum = Duration{0});
// The items of a list (each with its own location and "path[i]"), or a diagnostic.
std::optional<std::vector<Val>> readList(Reader& r, const Val& v);
std::optional<std::vector<std::string>> readStringList(Reader& r, const Val& v,
                                                       bool unique = true);
// The node as JSON text: mappings become objects, sequences arrays; a plain scalar that reads as
// an integer, a number, true/false or null becomes that JSON value, any other scalar (and every
// quoted one) a string. Diagnostics for keys that are not scalars.
std::optional<std::string> jsonText(Reader& r, const Val& v);

// A mapping of string keys to scalar values.
std::optional<std::map<std::string, std::string>> readStringMap(Reader& r, const Val& v);

// One enumerated value: the accepted spellings and their values.
template <typename E>
using EnumValues = std::vector<std::pair<std::string, E>>;

std::string enumMessage(std::string_view text, const std::vector<std::string>& names);

template <typename E>
std::optional<E> readEnum(Reader& r, const Val& v, const EnumValues<E>& values) {
  const auto text = scalarText(r, v, "one of the listed values");
  if (!text) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& [name, value] : values) {
    if (name == *text) return value;
    names.push_back(name);
  }
  r.error(v.location, v.path, enumMessage(*text, names));
  return std::nullopt;
}

// The fields of one mapping. Construction reports a value that is not a mapping, duplicate keys
// and unknown keys (with a "did you mean" suggestion). A null value counts as absent.
class Fields {
 public:
  Fields(Reader& r, const Val& v, const std::vector<std::string>& known);

  bool isMap() const { return is_map_; }
  const Val& self() const { return self_; }
  Reader& reader() const { return *r_; }

  // The value of `key` when present and not null.
  std::optional<Val> get(std::string_view key) const;
  bool has(std::string_view key) const { return get(key).has_value(); }
  // Like get(), and reports "required field is missing" when absent.
  std::optional<Val> require(std::string_view key) const;
  std::string path(std::string_view key) const;
  // Known keys written in the mapping, null values included, in file order.
  std::vector<std::string> keys() const;
  // The value of `key` even when null (e.g. "pause:" meaning "until promoted").
  std::optional<Val> getRaw(std::string_view key) const;

  // Typed setters: assign `out` when the key is present and valid; return whether they did.
  bool str(std::string_view key, std::string& out, bool required = false) const;
  bool integer(std::string_view key, int& out, int min, int max) const;
  bool number(std::string_view key, double& out, double min, double max) const;
  bool number(std::string_view key, std::optional<double>& out, double min, double max) const;
  bool boolean(std::string_view key, bool& out) const;
  bool duration(std::string_view key, Duration& out, Duration minimum = Duration{0}) const;
  bool duration(std::string_view key, std::optional<Duration>& out,
                Duration minimum = Duration{0}) const;
  bool strings(std::string_view key, std::vector<std::string>& out) const;
  bool stringMap(std::string_view key, std::map<std::string, std::string>& out) const;
  template <typename E>
  bool enumeration(std::string_view key, E& out, const EnumValues<E>& values) const {
    const auto v = get(key);
    if (!v) return false;
    const auto e = readEnum(*r_, *v, values);
    if (e) out = *e;
    return e.has_value();
  }

 private:
  struct Entry {
    std::string key;
    Val value;
  };
  Reader* r_;
  Val self_;
  bool is_map_ = false;
  std::vector<Entry> entries_;
};

}  // namespace runway::config::detail
