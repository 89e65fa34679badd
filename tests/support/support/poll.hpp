#pragma once

#include <chrono>
#include <functional>

namespace runway::test {

// Tests wait on the real steady clock for real processes; every wait has a deadline.
using Deadline = std::chrono::steady_clock::time_point;

// The deadline `timeout` from now.
inline Deadline deadlineIn(std::chrono::steady_clock::duration timeout) {
  return std::chrono::steady_clock::now() + timeout;
}

// Calls `predicate` until it returns true or `deadline` passes; true when it did. Polls with a
// short back-off (1 ms doubling up to `max_interval`), so a fast condition is seen fast; the
// predicate is evaluated once more at the deadline, so a condition that holds then is not
// missed.
bool pollUntil(const std::function<bool()>& predicate, Deadline deadline,
               std::chrono::milliseconds max_interval = std::chrono::milliseconds(20));

}  // namespace runway::test
