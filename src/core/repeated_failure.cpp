#include "runway/core/repeated_failure.hpp"

#include <fmt/format.h>

namespace runway {

std::optional<std::string> RepeatedFailure::failed(const Error& error, Clock::time_point now) {
  ++failures_;
  if (failures_ > 1 && error.message == last_message_ && now - last_logged_ < quiet_) {
    return std::nullopt;
  }
  const bool again = failures_ > 1 && error.message == last_message_;
  last_message_ = error.message;
  last_logged_ = now;
  if (!again) return error.message;
  return fmt::format("{} ({} failed passes in a row)", error.message, failures_);
}

std::optional<std::string> RepeatedFailure::succeeded() {
  if (failures_ == 0) return std::nullopt;
  const int failed = failures_;
  failures_ = 0;
  last_message_.clear();
  return fmt::format("works again after {} failed pass{}", failed, failed == 1 ? "" : "es");
}

}  // namespace runway
