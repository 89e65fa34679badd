#pragma once

// Regular expressions on values the outside world controls (header and cookie match rules on
// the router's request path): RE2, which matches in time linear in the input and never
// recurses, so a hostile 16 KiB header cannot make a match slow. The syntax is RE2's
// (https://github.com/google/re2/wiki/Syntax): no backreferences, no lookaround.

#include <memory>
#include <string>
#include <string_view>

#include "runway/core/error.hpp"

namespace re2 {
class RE2;
}

namespace runway {

class Pattern {
 public:
  // Longest pattern accepted, in bytes.
  static constexpr std::size_t kMaxLength = 1024;

  // InvalidArgument: empty, longer than kMaxLength, not valid RE2 syntax (the message says
  // why), or too large once compiled.
  static Result<Pattern> compile(std::string_view text);

  // True when the whole of `value` matches.
  bool fullMatch(std::string_view value) const;
  const std::string& text() const { return text_; }

 private:
  Pattern(std::string text, std::shared_ptr<const re2::RE2> re)
      : text_(std::move(text)), re_(std::move(re)) {}
  std::string text_;
  std::shared_ptr<const re2::RE2> re_;  // immutable after compile: shared across copies and threads
};

}  // namespace runway
