#include "support/poll.hpp"

#include <algorithm>
#include <thread>

namespace runway::test {

bool pollUntil(const std::function<bool()>& predicate, Deadline deadline,
               std::chrono::milliseconds max_interval) {
  std::chrono::steady_clock::duration interval = std::chrono::milliseconds(1);
  for (;;) {
    if (predicate()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    // Back-off between polls; the condition, not this pause, decides correctness.
    std::this_thread::sleep_for(std::min(interval, deadline - now));
    interval = std::min<std::chrono::steady_clock::duration>(interval * 2, max_interval);
  }
}

}  // namespace runway::test
