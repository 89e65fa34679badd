#pragma once

#include <string_view>

#include "runway/core/error.hpp"

namespace runway {

enum class LogFormat {
  Human,  // "2026-11-26T10:15:00.250Z info  message" (colour on a terminal)
  Json,   // one JSON object a line: {"time":..., "level":..., "logger":..., "msg":...}
};

// Parses "human"|"text" or "json".
Result<LogFormat> parseLogFormat(std::string_view text);

// Configures the default spdlog logger to write to stderr in the given format and level
// ("trace", "debug", "info", "warn", "error", "off"). Call once, early in main. Every message
// passes through secretRedactor() (redact.hpp) first: declared secrets and tokens never reach
// the log.
Result<void> initLogging(LogFormat format, std::string_view level);

}  // namespace runway
