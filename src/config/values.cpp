#include "values.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace runway::config::detail {
namespace {

bool allDigits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Exactly `width` digits -> value; -1 otherwise.
int fixedDigits(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos + width > text.size()) return -1;
  const auto part = text.substr(pos, width);
  if (!allDigits(part)) return -1;
  int value = 0;
  for (const char c : part) value = value * 10 + (c - '0');
  return value;
}

}  // namespace

std::optional<std::int64_t> parseInteger(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const bool negative = text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (!allDigits(text)) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return negative ? -value : value;
}

std::optional<double> parseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

Result<int> parseClockTime(std::string_view text, bool allow_end_of_day) {
  const auto bad = [&] {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("invalid time \"{}\": write HH:MM on a 24-hour clock, e.g. \"10:00\"{}",
                            text, allow_end_of_day ? " (\"24:00\" = end of day)" : ""));
  };
  if (text.size() != 5 || text[2] != ':') return bad();
  const int hours = fixedDigits(text, 0, 2);
  const int minutes = fixedDigits(text, 3, 2);
  if (hours < 0 || minutes < 0 || minutes > 59) return bad();
  if (hours == 24 && minutes == 0 && allow_end_of_day) return 24 * 60;
  if (hours > 23) return bad();
  return hours * 60 + minutes;
}

Result<int> parseUtcOffset(std::string_view text) {
  if (text == "UTC") return 0;
  const auto bad = [&] {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("unsupported timezone \"{}\": write \"UTC\" or a fixed offset such as "
                            "\"+02:00\" or \"-05:00\" (named zones are not supported)",
                            text));
  };
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') return bad();
  const int hours = fixedDigits(text, 1, 2);
  const int minutes = fixedDigits(text, 4, 2);
  if (hours < 0 || minutes < 0 || minutes > 59 || hours * 60 + minutes > 14 * 60) return bad();
  const int offset = hours * 60 + minutes;
  return text[0] == '-' ? -offset : offset;
}

Result<std::uint64_t> parseByteSize(std::string_view text) {
  const auto bad = [&] {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("invalid size \"{}\": write a number of bytes, optionally with Ki, "
                            "Mi, Gi, Ti (1024) or K, M, G, T (1000), e.g. 64Mi",
                            text));
  };
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return bad();
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc{} || end != text.data() + digits) return bad();
  const auto suffix = text.substr(digits);
  struct Suffix {
    std::string_view name;
    std::uint64_t bytes;
  };
  constexpr Suffix kSuffixes[] = {{"", 1},
                                  {"Ki", 1ull << 10},
                                  {"Mi", 1ull << 20},
                                  {"Gi", 1ull << 30},
                                  {"Ti", 1ull << 40},
                                  {"K", 1'000},
                                  {"M", 1'000'000},
                                  {"G", 1'000'000'000},
                                  {"T", 1'000'000'000'000}};
  for (const auto& s : kSuffixes) {
    if (s.name != suffix) continue;
    if (number > std::numeric_limits<std::uint64_t>::max() / s.bytes) return bad();
    return number * s.bytes;
  }
  return bad();
}

Result<std::int64_t> parseMemoryMiB(std::string_view text) {
  const auto bytes = parseByteSize(text);
  constexpr std::uint64_t kMiB = 1ull << 20;
  if (!bytes || *bytes / kMiB > 1'000'000'000'000ull) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("invalid memory quantity \"{}\": write e.g. 256Mi, 1Gi, 512M or a "
                            "number of bytes",
                            text));
  }
  return static_cast<std::int64_t>((*bytes + kMiB - 1) / kMiB);
}

Result<double> parseCpu(std::string_view text) {
  if (!text.empty() && text.back() == 'm') {
    const auto millis = parseInteger(text.substr(0, text.size() - 1));
    if (millis && *millis >= 0) return static_cast<double>(*millis) / 1000.0;
  } else if (auto value = parseNumber(text)) {
    return *value;
  }
  return fail(ErrorCode::InvalidArgument,
              fmt::format("invalid cpu \"{}\": write cores (0.5, 2) or millicores (500m)", text));
}

Result<IntOrPercent> parseIntOrPercent(std::string_view text) {
  const bool percent = !text.empty() && text.back() == '%';
  const auto number = parseInteger(percent ? text.substr(0, text.size() - 1) : text);
  if (!number) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("expected a count or a percentage such as \"25%\", got \"{}\"", text));
  }
  if (*number < 0 || (percent && *number > 100) || *number > 100000) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("must be {}, got {}",
                            percent ? "between 0% and 100%" : "between 0 and 100000", text));
  }
  return IntOrPercent{static_cast<int>(*number), percent};
}

}  // namespace runway::config::detail
