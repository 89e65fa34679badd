#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace runway::demo {

// Upper bounds (seconds) of the http_request_duration_seconds buckets; +Inf is implicit.
inline constexpr std::array<double, 12> kDurationBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                         0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

// The service's request metrics, rendered in the Prometheus text exposition format 0.0.4.
// Thread-safe: every method may be called from any I/O thread.
class RequestMetrics {
 public:
  RequestMetrics(std::string service, std::string version);

  // Records one answered request. `method` is the HTTP method (unknown ones are recorded as
  // "OTHER" by the caller), `route` one of the fixed route names, so label sets stay bounded.
  void observe(std::string_view method, std::string_view route, unsigned status, double seconds);

  // Requests being handled right now (including a /metrics request that is rendering).
  void requestStarted() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void requestFinished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  // The exposition text: http_requests_total, http_request_duration_seconds,
  // http_requests_in_flight, demo_app_build_info and process_start_time_seconds.
  std::string render() const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kDurationBuckets.size()> buckets{};  // non-cumulative counts
    std::uint64_t count = 0;
    double sum = 0;
  };

  const std::string service_;
  const std::string version_;
  const double start_time_seconds_;
  std::atomic<std::int64_t> in_flight_{0};
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, unsigned>, std::uint64_t> requests_;  // guarded
  std::map<std::string, Histogram, std::less<>> durations_;                           // guarded
};

// Escapes a label value for the text format: backslash, double quote and newline.
std::string escapeLabelValue(std::string_view value);

}  // namespace runway::demo
