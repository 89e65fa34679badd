#pragma once

// UTF-8 helpers for text that comes from outside (hook and command output) and must be kept in
// JSON, which only holds valid UTF-8.

#include <cstddef>
#include <string>
#include <string_view>

namespace runway {

// The byte length of the valid UTF-8 sequence at the start of `text` (1 to 4), or 0 when it does
// not start with one (a stray continuation byte, an overlong form, a surrogate, a code point
// above U+10FFFF, or a sequence cut short).
std::size_t utf8SequenceLength(std::string_view text);

// True when the whole of `text` is valid UTF-8.
bool isValidUtf8(std::string_view text);

// The last at most `max_bytes` bytes of `text`, moved forward past continuation bytes so that it
// starts on a character boundary: cutting valid UTF-8 never leaves half a character.
std::string_view utf8Tail(std::string_view text, std::size_t max_bytes);

// `text` with every byte that is not part of a valid UTF-8 sequence written as the four
// characters "\xNN" (hex, lowercase): the result is valid UTF-8 and no byte is lost or replaced
// silently. Valid text comes back unchanged.
std::string escapeInvalidUtf8(std::string_view text);

}  // namespace runway
