#include "runway/core/logging.hpp"

#include <memory>
#include <string>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "runway/core/clock.hpp"
#include "runway/core/redact.hpp"

namespace runway {
namespace {

// Writes each record as one JSON object; the message is escaped by Boost.JSON so that
// quotes, newlines and control characters in it cannot break the line.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto time = formatTimestamp(std::chrono::time_point_cast<Duration>(msg.time));
    const auto level = spdlog::level::to_string_view(msg.level);
    const boost::json::string text(msg.payload.data(), msg.payload.size());
    const boost::json::string logger(msg.logger_name.data(), msg.logger_name.size());
    const auto line = fmt::format(R"({{"time":"{}","level":"{}","logger":{},"msg":{}}})",
                                  time, std::string_view(level.data(), level.size()),
                                  boost::json::serialize(logger), boost::json::serialize(text));
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

// Formats with `inner` a copy of each record whose message has the secrets redacted
// (redact.hpp): no log line of runway's carries a declared secret or a token.
class RedactingFormatter final : public spdlog::formatter {
 public:
  explicit RedactingFormatter(std::unique_ptr<spdlog::formatter> inner) : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string text =
        secretRedactor().redact(std::string_view(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg redacted = msg;
    redacted.payload = spdlog::string_view_t(text.data(), text.size());
    inner_->format(redacted, dest);
    // The colour range (the level) is before the message, so it is where the inner put it.
    msg.color_range_start = redacted.color_range_start;
    msg.color_range_end = redacted.color_range_end;
  }
  std::unique_ptr<formatter> clone() const override {
    return std::make_unique<RedactingFormatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

}  // namespace

Result<LogFormat> parseLogFormat(std::string_view text) {
  if (text == "human" || text == "text") return LogFormat::Human;
  if (text == "json") return LogFormat::Json;
  return fail(ErrorCode::InvalidArgument,
              fmt::format("unknown log format \"{}\" (use human or json)", text));
}

Result<void> initLogging(LogFormat format, std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("unknown log level \"{}\" (trace, debug, info, warn, error, off)", level));
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("runway", sink);
  if (format == LogFormat::Json) {
    sink->set_color_mode(spdlog::color_mode::never);
    logger->set_formatter(std::make_unique<RedactingFormatter>(std::make_unique<JsonFormatter>()));
  } else {
    logger->set_formatter(std::make_unique<RedactingFormatter>(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc)));
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace runway
