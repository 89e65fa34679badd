#pragma once

// Parsers for the scalar formats of the configuration language. Pure functions; each error
// message says what is expected.

#include <cstdint>
#include <optional>
#include <string_view>

#include "runway/config/model.hpp"
#include "runway/core/error.hpp"

namespace runway::config::detail {

// A decimal integer with an optional leading '-' ("12", "-3"); nullopt otherwise or on overflow.
std::optional<std::int64_t> parseInteger(std::string_view text);

// A finite decimal number ("0.005", "1e-3", "7"); nullopt otherwise.
std::optional<double> parseNumber(std::string_view text);

// "HH:MM" on a 24-hour clock -> minutes after midnight. "24:00" only when allow_end_of_day.
Result<int> parseClockTime(std::string_view text, bool allow_end_of_day);

// "UTC" or a fixed offset "+HH:MM" / "-HH:MM" (up to 14:00) -> minutes east of UTC.
Result<int> parseUtcOffset(std::string_view text);

// A Kubernetes-style memory quantity -> MiB, rounded up: "256Mi", "1Gi", "512M", "1073741824".
Result<std::int64_t> parseMemoryMiB(std::string_view text);
// A number of bytes with an optional suffix: Ki, Mi, Gi, Ti (powers of 1024) or K, M, G, T
// (powers of 1000): "64Mi" -> 67108864, "1500" -> 1500. InvalidArgument otherwise.
Result<std::uint64_t> parseByteSize(std::string_view text);

// CPU cores: a number ("0.5", "2") or millicores ("500m").
Result<double> parseCpu(std::string_view text);

// A count ("1") or a percentage ("25%", 0..100).
Result<IntOrPercent> parseIntOrPercent(std::string_view text);

}  // namespace runway::config::detail
