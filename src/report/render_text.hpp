#pragma once

// What both report renderers need to read their JSON documents and write Markdown and HTML text.

#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace runway::report::render {

// A member of an object; null when `v` is not an object or has no such member.
inline const boost::json::value& field(const boost::json::value& v, std::string_view key) {
  static const boost::json::value null;
  if (!v.is_object()) return null;
  const auto* m = v.get_object().if_contains(key);
  return m != nullptr ? *m : null;
}

// A string as it is, null as "-", anything else as JSON.
inline std::string text(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "-";
  return boost::json::serialize(v);
}

inline double number(const boost::json::value& v) {
  return v.is_number() ? v.to_number<double>() : 0.0;
}

// A Markdown table cell: a '|' would end it, a newline the row.
inline std::string markdownCell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

inline std::string escapeHtml(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace runway::report::render
