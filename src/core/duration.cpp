#include "runway/core/duration.hpp"

#include <array>
#include <cctype>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace runway {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t ms;
};

// Largest first; parseDuration() requires parts in this order.
constexpr std::array<Unit, 5> kUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("invalid duration \"{}\": {} (write e.g. 30s, 15m, 1h30m, 2d)", text, why));
  };
  if (text.empty()) return bad("empty");
  std::int64_t total = 0;
  std::size_t pos = 0;
  std::size_t next_unit = 0;  // index into kUnits that the next part may use, at least
  while (pos < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (text[pos] == '-' || text[pos] == '+') return bad("a duration has no sign");
      return bad("expected a number");
    }
    std::int64_t value = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      const auto digit = text[pos] - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) return bad("too large");
      value = value * 10 + digit;
      ++pos;
    }
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      return bad("fractions are not allowed (write 1h30m, not 1.5h)");
    }
    const auto unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    const auto unit_text = text.substr(unit_start, pos - unit_start);
    if (unit_text.empty()) return bad("missing unit (ms, s, m, h or d)");
    std::size_t index = kUnits.size();
    for (std::size_t i = 0; i < kUnits.size(); ++i) {
      if (kUnits[i].name == unit_text) index = i;
    }
    if (index == kUnits.size()) return bad(fmt::format("unknown unit \"{}\"", unit_text));
    if (index < next_unit) return bad("units must go from largest to smallest, each once");
    next_unit = index + 1;
    if (value > std::numeric_limits<std::int64_t>::max() / kUnits[index].ms) return bad("too large");
    const auto part = value * kUnits[index].ms;
    if (total > std::numeric_limits<std::int64_t>::max() - part) return bad("too large");
    total += part;
  }
  return Duration{total};
}

std::string formatDuration(Duration d) {
  auto ms = d.count();
  if (ms <= 0) return "0s";
  std::string out;
  for (const auto& unit : kUnits) {
    if (ms >= unit.ms) {
      out += fmt::format("{}{}", ms / unit.ms, unit.name);
      ms %= unit.ms;
    }
  }
  return out;
}

}  // namespace runway
