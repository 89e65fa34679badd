#pragma once

#include <string>
#include <string_view>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway {

// Parses a duration written as one or more <positive integer><unit> parts, units
// ms, s, m, h, d, largest first and each at most once: "30s", "15m", "1h30m", "2d", "250ms".
// Rejects a bare number ("15"), a sign ("-5m"), an unknown unit ("1x"), an empty string,
// repeated or out-of-order units ("5m1h") and values that overflow.
Result<Duration> parseDuration(std::string_view text);

// Prints a duration in the form parseDuration() reads: "1h30m", "2d", "0s", "1s500ms".
// REQUIRES: d >= 0.
std::string formatDuration(Duration d);

}  // namespace runway
