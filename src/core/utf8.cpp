#include "runway/core/utf8.hpp"

#include <fmt/format.h>

namespace runway {
namespace {

bool isContinuation(unsigned char c) { return (c & 0xC0U) == 0x80U; }

}  // namespace

std::size_t utf8SequenceLength(std::string_view text) {
  if (text.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(text[0]);
  if (b0 < 0x80U) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;  // the allowed range of the second byte (RFC 3629 table)
  unsigned char high = 0xBF;
  if (b0 >= 0xC2U && b0 <= 0xDFU) {
    length = 2;
  } else if (b0 >= 0xE0U && b0 <= 0xEFU) {
    length = 3;
    if (b0 == 0xE0U) low = 0xA0;   // no overlong forms
    if (b0 == 0xEDU) high = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0U && b0 <= 0xF4U) {
    length = 4;
    if (b0 == 0xF0U) low = 0x90;   // no overlong forms
    if (b0 == 0xF4U) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  const auto b1 = static_cast<unsigned char>(text[1]);
  if (b1 < low || b1 > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (!isContinuation(static_cast<unsigned char>(text[i]))) return 0;
  }
  return length;
}

bool isValidUtf8(std::string_view text) {
  while (!text.empty()) {
    const std::size_t n = utf8SequenceLength(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::string_view utf8Tail(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::string_view tail = text.substr(text.size() - max_bytes);
  // A character is at most 4 bytes: at most 3 continuation bytes belong to one cut in two.
  for (int i = 0; i < 3 && !tail.empty() && isContinuation(static_cast<unsigned char>(tail[0]));
       ++i) {
    tail.remove_prefix(1);
  }
  return tail;
}

std::string escapeInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::size_t n = utf8SequenceLength(text);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[0]));
      text.remove_prefix(1);
      continue;
    }
    out.append(text.substr(0, n));
    text.remove_prefix(n);
  }
  return out;
}

}  // namespace runway
