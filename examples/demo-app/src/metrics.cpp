#include "metrics.hpp"

#include <chrono>
#include <iterator>

#include <fmt/format.h>

namespace runway::demo {
namespace {

double unixNowSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

RequestMetrics::RequestMetrics(std::string service, std::string version)
    : service_(std::move(service)),
      version_(std::move(version)),
      start_time_seconds_(unixNowSeconds()) {}

void RequestMetrics::observe(std::string_view method, std::string_view route, unsigned status,
                             double seconds) {
  std::size_t bucket = 0;
  while (bucket < kDurationBuckets.size() && seconds > kDurationBuckets[bucket]) ++bucket;
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(method), std::string(route), status}];
  auto it = durations_.find(route);
  if (it == durations_.end()) it = durations_.emplace(std::string(route), Histogram{}).first;
  Histogram& histogram = it->second;
  if (bucket < kDurationBuckets.size()) ++histogram.buckets[bucket];
  ++histogram.count;
  histogram.sum += seconds;
}

std::string RequestMetrics::render() const {
  std::string out;
  auto sink = std::back_inserter(out);
  {
    std::lock_guard lock(mutex_);
    fmt::format_to(sink,
                   "# HELP http_requests_total Requests answered, by method, route and status.\n"
                   "# TYPE http_requests_total counter\n");
    for (const auto& [key, count] : requests_) {
      const auto& [method, route, status] = key;
      fmt::format_to(sink, "http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
                     escapeLabelValue(method), escapeLabelValue(route), status, count);
    }
    fmt::format_to(sink,
                   "# HELP http_request_duration_seconds Time from reading a request to starting "
                   "to write its response, by route.\n"
                   "# TYPE http_request_duration_seconds histogram\n");
    for (const auto& [route, histogram] : durations_) {
      const std::string label = escapeLabelValue(route);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
        cumulative += histogram.buckets[i];
        fmt::format_to(sink, "http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                       label, kDurationBuckets[i], cumulative);
      }
      fmt::format_to(sink, "http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                     label, histogram.count);
      fmt::format_to(sink, "http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", label,
                     histogram.sum);
      fmt::format_to(sink, "http_request_duration_seconds_count{{route=\"{}\"}} {}\n", label,
                     histogram.count);
    }
  }
  fmt::format_to(sink,
                 "# HELP http_requests_in_flight Requests being handled, this scrape included.\n"
                 "# TYPE http_requests_in_flight gauge\n"
                 "http_requests_in_flight {}\n",
                 in_flight_.load(std::memory_order_relaxed));
  fmt::format_to(sink,
                 "# HELP demo_app_build_info Service and version of this instance; always 1.\n"
                 "# TYPE demo_app_build_info gauge\n"
                 "demo_app_build_info{{service=\"{}\",version=\"{}\"}} 1\n",
                 escapeLabelValue(service_), escapeLabelValue(version_));
  fmt::format_to(sink,
                 "# HELP process_start_time_seconds Start time of the process since the Unix "
                 "epoch in seconds.\n"
                 "# TYPE process_start_time_seconds gauge\n"
                 "process_start_time_seconds {:.3f}\n",
                 start_time_seconds_);
  return out;
}

}  // namespace runway::demo
