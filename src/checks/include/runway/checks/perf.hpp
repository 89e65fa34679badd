#pragma once

// The performance check (the runbook's performance-test.sh ENV baseline): a built-in open-model
// load generator and the comparison of a run against the environment's saved baseline.
//
// Open model: request i is due at start + i / rate whatever happened to earlier requests, and
// its latency is measured from when it was due, not from when a connection was free to send it
// (the correction for coordinated omission): a server that stalls shows the stall in every
// request that queued behind it.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runway/checks/report.hpp"
#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::checks {

struct LoadOptions {
  std::vector<std::string> urls;  // round-robin targets (instances or the router); not empty
  std::string method = "GET";
  double rate = 20;               // requests per second
  Duration duration{std::chrono::seconds(10)};
  Duration timeout{std::chrono::seconds(5)};
  int max_connections = 64;       // concurrent requests at most (one connection each)
};

struct LoadResult {
  std::uint64_t requests = 0;   // sent
  std::uint64_t ok = 0;         // 2xx
  std::uint64_t failed = 0;     // other status, connection error or timeout
  double elapsed_s = 0;
  double throughput = 0;        // ok responses per second
  double error_rate = 0;        // failed / requests
  double p50_ms = 0;            // latency from when the request was due
  double p95_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double rate = 0;              // the offered rate
  std::string target;           // what was loaded (for reports)
  std::string release;          // which release this measures
  std::int64_t at_unix_ms = 0;  // when the run ended
};

// Runs the load (blocking, real time). Errors: InvalidArgument (no URL, rate or duration <= 0).
Result<LoadResult> generateLoad(const LoadOptions& options);

// The comparison of `run` against `baseline` under the environment's tolerances: P95 and P99
// at most `p95_tolerance` / `p99_tolerance` worse (and more than `latency_noise`, so that
// millisecond jitter of a fast service is not a regression), throughput at most
// `throughput_tolerance` lower, error rate at most `max_error_rate`.
Report comparePerformance(const LoadResult& run, const LoadResult& baseline,
                          const config::PerformanceSpec& spec);
// A run without a baseline: only the error-rate limit is checked; the latency items are Skipped.
Report judgeWithoutBaseline(const LoadResult& run, const config::PerformanceSpec& spec);

// Baselines and run history as JSON files under DATA/checks/perf/ENV/:
//   baseline.json         the current baseline (what later runs compare against)
//   baseline-REL.json     the baseline saved for release REL
//   runs.jsonl            every run, one JSON object per line
Result<void> saveBaseline(const std::filesystem::path& data_dir, const std::string& environment,
                          const LoadResult& result);
// NotFound when none was saved.
Result<LoadResult> loadBaseline(const std::filesystem::path& data_dir,
                                const std::string& environment);
Result<void> recordRun(const std::filesystem::path& data_dir, const std::string& environment,
                       const LoadResult& result);

std::string toJson(const LoadResult& result);
Result<LoadResult> parseLoadResult(const std::string& json);

}  // namespace runway::checks
