#include "runway/core/pattern.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

namespace runway {

Result<Pattern> Pattern::compile(std::string_view text) {
  if (text.empty()) return fail(ErrorCode::InvalidArgument, "the pattern is empty");
  if (text.size() > kMaxLength) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("the pattern is {} bytes long; at most {} are accepted", text.size(), kMaxLength));
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(1 << 20);  // a compiled program larger than this is refused, not built
  auto re = std::make_shared<const RE2>(re2::StringPiece(text.data(), text.size()), options);
  if (!re->ok()) {
    return fail(ErrorCode::InvalidArgument, fmt::format("invalid regular expression: {}", re->error()));
  }
  return Pattern(std::string(text), std::move(re));
}

bool Pattern::fullMatch(std::string_view value) const {
  return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re_);
}

}  // namespace runway
