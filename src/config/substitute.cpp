#include "runway/config/substitute.hpp"

#include <fmt/format.h>

namespace runway::config {
namespace {

// Walks `text`, calling on_text for literal runs and on_name for each ${NAME}.
template <typename OnText, typename OnName>
Result<void> scan(std::string_view text, OnText on_text, OnName on_name) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto dollar = text.find('$', pos);
    if (dollar == std::string_view::npos || dollar + 1 >= text.size()) {
      on_text(text.substr(pos));
      break;
    }
    on_text(text.substr(pos, dollar - pos));
    const char next = text[dollar + 1];
    if (next == '$') {
      on_text("$");
      pos = dollar + 2;
    } else if (next == '{') {
      const auto close = text.find('}', dollar + 2);
      if (close == std::string_view::npos) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format(
                        "unterminated \"${{\" in \"{}\" (write ${{NAME}}, or $$ for a literal $)",
                        text));
      }
      const auto name = text.substr(dollar + 2, close - dollar - 2);
      if (name.empty()) {
        return fail(ErrorCode::InvalidArgument, fmt::format("empty \"${{}}\" in \"{}\"", text));
      }
      if (auto r = on_name(name); !r) return r;
      pos = close + 1;
    } else {
      on_text(text.substr(dollar, 1));
      pos = dollar + 1;
    }
  }
  return {};
}

}  // namespace

Result<std::string> substitute(std::string_view text,
                               const std::map<std::string, std::string>& vars) {
  std::string out;
  auto r = scan(
      text, [&](std::string_view part) { out.append(part); },
      [&](std::string_view name) -> Result<void> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end()) {
          return fail(ErrorCode::InvalidArgument,
                      fmt::format("unknown substitution \"${{{}}}\"", name));
        }
        out += it->second;
        return {};
      });
  if (!r) return fail(r.error());
  return out;
}

Result<std::vector<std::string>> referencedNames(std::string_view text) {
  std::vector<std::string> names;
  auto r = scan(
      text, [](std::string_view) {},
      [&](std::string_view name) -> Result<void> {
        names.emplace_back(name);
        return {};
      });
  if (!r) return fail(r.error());
  return names;
}

}  // namespace runway::config
