#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "runway/core/error.hpp"

namespace runway {

// What to log about a loop's pass that runs again and again (the notification outbox, incident
// reminders, report snapshots) and can fail the same way many times in a row, e.g. while the
// store is unreachable: the first failure, a failure with a new message, the same one again at
// most once per `quiet` (with how many passes failed), and the first success after failures.
// Not thread-safe: one per loop, used by that loop's thread.
class RepeatedFailure {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RepeatedFailure(std::chrono::seconds quiet = std::chrono::seconds(60)) : quiet_(quiet) {}

  // The line to log for this failed pass, or nullopt to stay quiet.
  std::optional<std::string> failed(const Error& error, Clock::time_point now);
  // After failed passes, the line saying the loop works again; otherwise nullopt.
  std::optional<std::string> succeeded();

 private:
  std::chrono::seconds quiet_;
  int failures_ = 0;
  std::string last_message_;
  Clock::time_point last_logged_{};
};

}  // namespace runway
