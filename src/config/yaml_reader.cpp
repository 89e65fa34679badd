#include "yaml_reader.hpp"

#include <limits>
#include <regex>

#include <fmt/format.h>

#include "runway/core/duration.hpp"
#include "runway/core/suggest.hpp"
#include "values.hpp"

namespace runway::config::detail {

SourceLocation Reader::locate(const YAML::Mark& mark) const {
  if (mark.line < 0 || mark.column < 0) return SourceLocation{file_, 0, 0};
  if (lines_ > 0 && mark.line >= lines_) return SourceLocation{file_, lines_ + line_offset_, 1};
  return SourceLocation{file_, mark.line + 1 + line_offset_, mark.column + 1};
}

SourceLocation Reader::locate(const YAML::Node& node, const SourceLocation& fallback) const {
  const auto mark = node.Mark();
  if (mark.line < 0 || mark.column < 0) return fallback.line > 0 ? fallback : locate(mark);
  return locate(mark);
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
    case YAML::NodeType::Scalar:
      return fmt::format("\"{}\"", node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
  }
  return "something else";
}

std::optional<std::string> scalarText(Reader& r, const Val& v, std::string_view what) {
  if (!v.node.IsScalar()) {
    r.error(v.location, v.path, fmt::format("expected {}, got {}", what, describe(v.node)));
    return std::nullopt;
  }
  return v.node.Scalar();
}

std::optional<std::string> readString(Reader& r, const Val& v, bool allow_empty) {
  auto text = scalarText(r, v, "a string");
  if (text && text->empty() && !allow_empty) {
    r.error(v.location, v.path, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::int64_t> readInteger(Reader& r, const Val& v, std::int64_t min,
                                        std::int64_t max) {
  const auto text = scalarText(r, v, "an integer");
  if (!text) return std::nullopt;
  const auto value = parseInteger(*text);
  if (!value) {
    r.error(v.location, v.path, fmt::format("expected an integer, got \"{}\"", *text));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    if (max == std::numeric_limits<int>::max()) {
      r.error(v.location, v.path, fmt::format("must be at least {}, got {}", min, *value));
    } else {
      r.error(v.location, v.path,
              fmt::format("must be between {} and {}, got {}", min, max, *value));
    }
    return std::nullopt;
  }
  return value;
}

std::optional<double> readNumber(Reader& r, const Val& v, double min, double max) {
  const auto text = scalarText(r, v, "a number");
  if (!text) return std::nullopt;
  const auto value = parseNumber(*text);
  if (!value) {
    r.error(v.location, v.path, fmt::format("expected a number, got \"{}\"", *text));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    r.error(v.location, v.path, fmt::format("must be between {} and {}, got {}", min, max, *text));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> readBool(Reader& r, const Val& v) {
  const auto text = scalarText(r, v, "true or false");
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  r.error(v.location, v.path, fmt::format("expected true or false, got \"{}\"", *text));
  return std::nullopt;
}

std::optional<Duration> readDuration(Reader& r, const Val& v, Duration minimum) {
  const auto text = scalarText(r, v, "a duration such as 30s or 15m");
  if (!text) return std::nullopt;
  auto value = parseDuration(*text);
  if (!value) {
    r.error(v.location, v.path, value.error().message);
    return std::nullopt;
  }
  if (*value < minimum) {
    r.error(v.location, v.path,
            minimum == Duration{1} ? fmt::format("must be longer than 0s, got {}", *text)
                                   : fmt::format("must be at least {}, got {}",
                                                 formatDuration(minimum), *text));
    return std::nullopt;
  }
  return value.value();
}

std::optional<std::vector<Val>> readList(Reader& r, const Val& v) {
  if (!v.node.IsSequence()) {
    // A single scalar where a list belongs is the common slip ("roles: tech-lead").
    r.error(v.location, v.path,
            v.node.IsScalar()
                ? fmt::format("expected a list, got {} (write [{}])", describe(v.node),
                              v.node.Scalar())
                : fmt::format("expected a list, got {}", describe(v.node)));
    return std::nullopt;
  }
  std::vector<Val> items;
  std::size_t index = 0;
  for (const auto& item : v.node) {
    items.push_back(Val{item, r.locate(item, v.location), fmt::format("{}[{}]", v.path, index)});
    ++index;
  }
  return items;
}

std::optional<std::vector<std::string>> readStringList(Reader& r, const Val& v, bool unique) {
  const auto items = readList(r, v);
  if (!items) return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (const auto& item : *items) {
    auto text = readString(r, item);
    if (!text) {
      ok = false;
      continue;
    }
    if (unique) {
      bool duplicate = false;
      for (const auto& seen : out) duplicate = duplicate || seen == *text;
      if (duplicate) {
        r.error(item.location, item.path, fmt::format("\"{}\" is listed twice", *text));
        ok = false;
        continue;
      }
    }
    out.push_back(std::move(*text));
  }
  if (!ok) return std::nullopt;
  return out;
}

namespace {

std::string jsonQuoted(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out.push_back(ch);
        }
    }
  }
  out += '"';
  return out;
}

// A plain scalar as a JSON literal when YAML's core schema reads it as one.
std::optional<std::string> jsonLiteral(const std::string& text) {
  if (text == "true" || text == "false" || text == "null") return text;
  if (text == "~") return std::string("null");
  static const std::regex number(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
  if (std::regex_match(text, number)) return text;
  return std::nullopt;
}

bool appendJson(Reader& r, const Val& v, std::string& out) {
  const auto& node = v.node;
  if (node.IsNull()) {
    out += "null";
  } else if (node.IsScalar()) {
    const auto literal = node.Tag() == "?" ? jsonLiteral(node.Scalar()) : std::nullopt;
    out += literal ? *literal : jsonQuoted(node.Scalar());
  } else if (node.IsSequence()) {
    out += '[';
    std::size_t i = 0;
    for (const auto& item : node) {
      if (i > 0) out += ',';
      if (!appendJson(r, Val{item, r.locate(item, v.location), fmt::format("{}[{}]", v.path, i)},
                      out)) {
        return false;
      }
      ++i;
    }
    out += ']';
  } else if (node.IsMap()) {
    out += '{';
    bool first = true;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        r.error(r.locate(kv.first, v.location), v.path, "keys must be strings");
        return false;
      }
      if (!first) out += ',';
      first = false;
      out += jsonQuoted(kv.first.Scalar());
      out += ':';
      if (!appendJson(r, Val{kv.second, r.locate(kv.second, v.location),
                             fmt::format("{}.{}", v.path, kv.first.Scalar())},
                      out)) {
        return false;
      }
    }
    out += '}';
  }
  return true;
}

}  // namespace

std::optional<std::string> jsonText(Reader& r, const Val& v) {
  std::string out;
  if (!appendJson(r, v, out)) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> readStringMap(Reader& r, const Val& v) {
  if (!v.node.IsMap()) {
    r.error(v.location, v.path, fmt::format("expected a mapping, got {}", describe(v.node)));
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& kv : v.node) {
    const auto key_location = r.locate(kv.first, v.location);
    if (!kv.first.IsScalar()) {
      r.error(key_location, v.path, "keys must be strings");
      ok = false;
      continue;
    }
    const auto& key = kv.first.Scalar();
    const Val value{kv.second, r.locate(kv.second, key_location),
                    fmt::format("{}.{}", v.path, key)};
    if (out.count(key) != 0) {
      r.error(key_location, value.path, fmt::format("duplicate key \"{}\"", key));
      ok = false;
      continue;
    }
    if (value.node.IsNull()) {
      out.emplace(key, "");
      continue;
    }
    auto text = scalarText(r, value, "a string");
    if (!text) {
      ok = false;
      continue;
    }
    out.emplace(key, std::move(*text));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::string enumMessage(std::string_view text, const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names) {
    if (!list.empty()) list += ", ";
    list += name;
  }
  if (auto suggestion = closestMatch(text, names)) {
    return fmt::format("unknown value \"{}\" (did you mean \"{}\"?; expected one of: {})", text,
                       *suggestion, list);
  }
  return fmt::format("unknown value \"{}\" (expected one of: {})", text, list);
}

Fields::Fields(Reader& r, const Val& v, const std::vector<std::string>& known)
    : r_(&r), self_(v) {
  if (!v.node.IsMap()) {
    r.error(v.location, v.path, fmt::format("expected a mapping, got {}", describe(v.node)));
    return;
  }
  is_map_ = true;
  const auto& names = known;
  for (const auto& kv : v.node) {
    const auto key_location = r.locate(kv.first, v.location);
    if (!kv.first.IsScalar()) {
      r.error(key_location, v.path, "keys must be strings");
      continue;
    }
    const auto& key = kv.first.Scalar();
    const auto key_path = v.path.empty() ? key : fmt::format("{}.{}", v.path, key);
    bool is_known = false;
    for (const auto& name : names) is_known = is_known || name == key;
    if (!is_known) {
      if (auto suggestion = closestMatch(key, names)) {
        r.error(key_location, key_path,
                fmt::format("unknown field \"{}\" (did you mean \"{}\"?)", key, *suggestion));
      } else {
        r.error(key_location, key_path, fmt::format("unknown field \"{}\"", key));
      }
      continue;
    }
    bool duplicate = false;
    for (const auto& entry : entries_) duplicate = duplicate || entry.key == key;
    if (duplicate) {
      r.error(key_location, key_path, fmt::format("duplicate field \"{}\"", key));
      continue;
    }
    entries_.push_back(Entry{key, Val{kv.second, r.locate(kv.second, key_location), key_path}});
  }
}

std::optional<Val> Fields::get(std::string_view key) const {
  for (const auto& entry : entries_) {
    if (entry.key == key) {
      if (entry.value.node.IsNull()) return std::nullopt;
      return entry.value;
    }
  }
  return std::nullopt;
}

std::optional<Val> Fields::require(std::string_view key) const {
  auto v = get(key);
  if (!v && is_map_) r_->error(self_.location, path(key), "required field is missing");
  return v;
}

std::string Fields::path(std::string_view key) const {
  return self_.path.empty() ? std::string(key) : fmt::format("{}.{}", self_.path, key);
}

std::vector<std::string> Fields::keys() const {
  std::vector<std::string> out;
  for (const auto& entry : entries_) out.push_back(entry.key);
  return out;
}

std::optional<Val> Fields::getRaw(std::string_view key) const {
  for (const auto& entry : entries_) {
    if (entry.key == key) return entry.value;
  }
  return std::nullopt;
}

bool Fields::str(std::string_view key, std::string& out, bool required) const {
  const auto v = required ? require(key) : get(key);
  if (!v) return false;
  auto text = readString(*r_, *v);
  if (text) out = std::move(*text);
  return text.has_value();
}

bool Fields::integer(std::string_view key, int& out, int min, int max) const {
  const auto v = get(key);
  if (!v) return false;
  const auto value = readInteger(*r_, *v, min, max);
  if (value) out = static_cast<int>(*value);
  return value.has_value();
}

bool Fields::number(std::string_view key, double& out, double min, double max) const {
  const auto v = get(key);
  if (!v) return false;
  const auto value = readNumber(*r_, *v, min, max);
  if (value) out = *value;
  return value.has_value();
}

bool Fields::number(std::string_view key, std::optional<double>& out, double min,
                    double max) const {
  double value = 0;
  if (!number(key, value, min, max)) return false;
  out = value;
  return true;
}

bool Fields::boolean(std::string_view key, bool& out) const {
  const auto v = get(key);
  if (!v) return false;
  const auto value = readBool(*r_, *v);
  if (value) out = *value;
  return value.has_value();
}

bool Fields::duration(std::string_view key, Duration& out, Duration minimum) const {
  const auto v = get(key);
  if (!v) return false;
  const auto value = readDuration(*r_, *v, minimum);
  if (value) out = *value;
  return value.has_value();
}

bool Fields::duration(std::string_view key, std::optional<Duration>& out, Duration minimum) const {
  Duration value{0};
  if (!duration(key, value, minimum)) return false;
  out = value;
  return true;
}

bool Fields::strings(std::string_view key, std::vector<std::string>& out) const {
  const auto v = get(key);
  if (!v) return false;
  auto value = readStringList(*r_, *v);
  if (value) out = std::move(*value);
  return value.has_value();
}

bool Fields::stringMap(std::string_view key, std::map<std::string, std::string>& out) const {
  const auto v = get(key);
  if (!v) return false;
  auto value = readStringMap(*r_, *v);
  if (value) out = std::move(*value);
  return value.has_value();
}

}  // namespace runway::config::detail
