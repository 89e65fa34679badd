#include "runway/core/clock.hpp"

#include <chrono>
#include <cstdint>
#include <ctime>

#include <fmt/format.h>

#include "runway/core/error.hpp"

namespace runway {
namespace {

// Exactly `width` digits -> value; -1 otherwise.
int fixedDigits(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos + width > text.size()) return -1;
  int value = 0;
  for (const char c : text.substr(pos, width)) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

class SystemClock final : public Clock {
 public:
  // Clock
  TimePoint now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

}  // namespace

std::shared_ptr<Clock> systemClock() {
  static const auto clock = std::make_shared<SystemClock>();
  return clock;
}

FakeClock::FakeClock(TimePoint start) : now_ms_(start.time_since_epoch().count()) {}

TimePoint FakeClock::now() const { return TimePoint{Duration{now_ms_.load()}}; }

void FakeClock::advance(Duration by) {
  RUNWAY_ASSERT(by.count() >= 0);
  now_ms_.fetch_add(by.count());
}

void FakeClock::set(TimePoint to) {
  RUNWAY_ASSERT(to >= now());
  now_ms_.store(to.time_since_epoch().count());
}

std::string formatTimestamp(TimePoint t) {
  const auto ms = t.time_since_epoch().count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  auto frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

Result<TimePoint> parseTimestamp(std::string_view text) {
  const auto bad = [&] {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("invalid time \"{}\": write an RFC 3339 time with a zone, e.g. "
                            "\"2026-12-20T00:00:00Z\" or \"2026-12-20T08:00:00+02:00\"",
                            text));
  };
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' ||
      text[16] != ':') {
    return bad();
  }
  const int year = fixedDigits(text, 0, 4);
  const int month = fixedDigits(text, 5, 2);
  const int day = fixedDigits(text, 8, 2);
  const int hour = fixedDigits(text, 11, 2);
  const int minute = fixedDigits(text, 14, 2);
  const int second = fixedDigits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 60) {
    return bad();
  }
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return bad();
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const auto start = pos;
    std::int64_t scale = 100;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      millis += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad();
  }
  int offset_minutes = 0;
  const auto zone = text.substr(pos);
  if (zone == "Z" || zone == "z") {
    offset_minutes = 0;
  } else {
    // +HH:MM or -HH:MM, at most 14 hours
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') return bad();
    const int hours = fixedDigits(zone, 1, 2);
    const int minutes = fixedDigits(zone, 4, 2);
    if (hours < 0 || minutes < 0 || minutes > 59 || hours * 60 + minutes > 14 * 60) return bad();
    offset_minutes = zone[0] == '-' ? -(hours * 60 + minutes) : hours * 60 + minutes;
  }
  const auto days = std::chrono::sys_days{date};
  const auto local = std::chrono::time_point_cast<Duration>(days) + std::chrono::hours(hour) +
                     std::chrono::minutes(minute) + std::chrono::seconds(second) +
                     Duration(millis);
  return TimePoint{local.time_since_epoch()} - std::chrono::minutes(offset_minutes);
}

}  // namespace runway
