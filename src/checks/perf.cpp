#include "runway/checks/perf.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "http.hpp"
#include "runway/runtime/records.hpp"

namespace runway::checks {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

double percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double number(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  return 0;
}

std::filesystem::path perfDir(const std::filesystem::path& data_dir, const std::string& env) {
  return data_dir / "checks" / "perf" / env;
}

}  // namespace

Result<LoadResult> generateLoad(const LoadOptions& options) {
  if (options.urls.empty()) return fail(ErrorCode::InvalidArgument, "no target URL");
  if (options.rate <= 0 || options.duration.count() <= 0) {
    return fail(ErrorCode::InvalidArgument, "rate and duration must be positive");
  }
  const auto total = static_cast<std::uint64_t>(
      std::llround(options.rate * std::chrono::duration<double>(options.duration).count()));
  const auto interval = std::chrono::duration<double>(1.0 / options.rate);
  // Enough workers to keep the schedule when each request takes up to the timeout would need
  // rate * timeout; a bounded pool keeps the generator itself from becoming the bottleneck on
  // a small machine while still measuring from the due time (queueing shows as latency).
  const int workers = static_cast<int>(std::clamp<double>(
      std::ceil(options.rate * 0.25), 2.0, static_cast<double>(options.max_connections)));

  std::atomic<std::uint64_t> next{0};
  std::mutex mutex;
  std::vector<double> latencies;
  latencies.reserve(total);
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  const auto start = SteadyClock::now() + std::chrono::milliseconds(20);
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      http::Connection connection;
      std::vector<double> mine;
      std::uint64_t my_ok = 0;
      std::uint64_t my_failed = 0;
      while (true) {
        const auto i = next.fetch_add(1);
        if (i >= total) break;
        const auto due = start + std::chrono::duration_cast<SteadyClock::duration>(
                                     interval * static_cast<double>(i));
        std::this_thread::sleep_until(due);
        auto request =
            detail::checkRequest(options.method, options.urls[i % options.urls.size()], options.timeout);
        request.max_body = 64 * 1024;
        auto response = connection.send(request);
        const auto done = SteadyClock::now();
        mine.push_back(std::chrono::duration<double, std::milli>(done - due).count());
        if (response && detail::isSuccess(response->status)) {
          ++my_ok;
        } else {
          ++my_failed;
        }
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      ok += my_ok;
      failed += my_failed;
    });
  }
  for (auto& t : threads) t.join();
  const auto elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  LoadResult result;
  result.requests = ok + failed;
  result.ok = ok;
  result.failed = failed;
  result.elapsed_s = elapsed;
  result.throughput = elapsed > 0 ? static_cast<double>(ok) / elapsed : 0;
  result.error_rate =
      result.requests > 0 ? static_cast<double>(failed) / static_cast<double>(result.requests) : 0;
  result.p50_ms = percentile(latencies, 0.50);
  result.p95_ms = percentile(latencies, 0.95);
  result.p99_ms = percentile(latencies, 0.99);
  result.max_ms = latencies.empty() ? 0 : latencies.back();
  result.rate = options.rate;
  result.target = options.urls.front() + (options.urls.size() > 1
                                              ? fmt::format(" (+{} more)", options.urls.size() - 1)
                                              : std::string());
  result.at_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return result;
}

Report judgeWithoutBaseline(const LoadResult& run, const config::PerformanceSpec& spec) {
  Report report;
  report.title = fmt::format("perf {} (no baseline)", run.release);
  report.add({"perf", "load", ItemStatus::Passed,
              fmt::format("{} requests at {:.1f}/s: {:.1f} ok/s, p50 {:.1f}ms, p95 {:.1f}ms, p99 "
                          "{:.1f}ms",
                          run.requests, run.rate, run.throughput, run.p50_ms, run.p95_ms,
                          run.p99_ms),
              run.elapsed_s * 1000});
  const bool errors_ok = run.error_rate <= spec.max_error_rate;
  report.add({"perf", "error rate", errors_ok ? ItemStatus::Passed : ItemStatus::Failed,
              fmt::format("{:.2f}% failed ({} of {}), limit {:.2f}%", run.error_rate * 100,
                          run.failed, run.requests, spec.max_error_rate * 100),
              0});
  report.add({"perf", "baseline", ItemStatus::Skipped,
              "no baseline saved for this environment (run with --baseline first)", 0});
  return report;
}

Report comparePerformance(const LoadResult& run, const LoadResult& baseline,
                          const config::PerformanceSpec& spec) {
  Report report = judgeWithoutBaseline(run, spec);
  report.items.pop_back();  // the "no baseline" item
  report.title = fmt::format("perf {} against the baseline of {}", run.release, baseline.release);
  auto latency = [&](const char* name, double now, double base, double tolerance) {
    const double limit = base * (1.0 + tolerance);
    const bool ok =
        now <= limit || now - base <= static_cast<double>(spec.latency_noise.count());
    report.add({"perf", name, ok ? ItemStatus::Passed : ItemStatus::Failed,
                fmt::format("{} {:.1f}ms vs baseline {:.1f}ms ({:+.0f}%, tolerance {:.0f}%)", name,
                            now, base, base > 0 ? (now / base - 1.0) * 100 : 0.0,
                            tolerance * 100),
                0});
  };
  latency("P95", run.p95_ms, baseline.p95_ms, spec.p95_tolerance);
  latency("P99", run.p99_ms, baseline.p99_ms, spec.p99_tolerance);
  const double floor = baseline.throughput * (1.0 - spec.throughput_tolerance);
  const bool tp_ok = run.throughput >= floor;
  report.add({"perf", "throughput", tp_ok ? ItemStatus::Passed : ItemStatus::Failed,
              fmt::format("throughput {:.1f}/s vs baseline {:.1f}/s ({:+.0f}%, tolerance -{:.0f}%)",
                          run.throughput, baseline.throughput,
                          baseline.throughput > 0 ? (run.throughput / baseline.throughput - 1) * 100
                                                  : 0.0,
                          spec.throughput_tolerance * 100),
              0});
  return report;
}

std::string toJson(const LoadResult& r) {
  json::object o;
  o["requests"] = r.requests;
  o["ok"] = r.ok;
  o["failed"] = r.failed;
  o["elapsed_s"] = r.elapsed_s;
  o["throughput"] = r.throughput;
  o["error_rate"] = r.error_rate;
  o["p50_ms"] = r.p50_ms;
  o["p95_ms"] = r.p95_ms;
  o["p99_ms"] = r.p99_ms;
  o["max_ms"] = r.max_ms;
  o["rate"] = r.rate;
  o["target"] = r.target;
  o["release"] = r.release;
  o["at_unix_ms"] = r.at_unix_ms;
  return json::serialize(o);
}

Result<LoadResult> parseLoadResult(const std::string& text) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return fail(ErrorCode::InvalidArgument, "a performance result must be a JSON object");
  }
  const auto& o = value.as_object();
  LoadResult r;
  r.requests = static_cast<std::uint64_t>(number(o, "requests"));
  r.ok = static_cast<std::uint64_t>(number(o, "ok"));
  r.failed = static_cast<std::uint64_t>(number(o, "failed"));
  r.elapsed_s = number(o, "elapsed_s");
  r.throughput = number(o, "throughput");
  r.error_rate = number(o, "error_rate");
  r.p50_ms = number(o, "p50_ms");
  r.p95_ms = number(o, "p95_ms");
  r.p99_ms = number(o, "p99_ms");
  r.max_ms = number(o, "max_ms");
  r.rate = number(o, "rate");
  r.at_unix_ms = static_cast<std::int64_t>(number(o, "at_unix_ms"));
  if (const auto* t = o.if_contains("target"); t != nullptr && t->is_string()) {
    r.target = std::string(t->as_string());
  }
  if (const auto* t = o.if_contains("release"); t != nullptr && t->is_string()) {
    r.release = std::string(t->as_string());
  }
  return r;
}

Result<void> saveBaseline(const std::filesystem::path& data_dir, const std::string& environment,
                          const LoadResult& result) {
  const auto dir = perfDir(data_dir, environment);
  const auto text = toJson(result);
  if (!result.release.empty()) {
    if (auto w = runtime::writeFileAtomically(dir / fmt::format("baseline-{}.json", result.release),
                                              text);
        !w) {
      return w;
    }
  }
  return runtime::writeFileAtomically(dir / "baseline.json", text);
}

Result<LoadResult> loadBaseline(const std::filesystem::path& data_dir,
                                const std::string& environment) {
  auto text = runtime::readWholeFile(perfDir(data_dir, environment) / "baseline.json");
  if (!text) {
    return fail(ErrorCode::NotFound,
                fmt::format("no performance baseline saved for \"{}\"", environment));
  }
  return parseLoadResult(*text);
}

Result<void> recordRun(const std::filesystem::path& data_dir, const std::string& environment,
                       const LoadResult& result) {
  const auto dir = perfDir(data_dir, environment);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  std::ofstream out(dir / "runs.jsonl", std::ios::app);
  if (!out) return fail(ErrorCode::Internal, fmt::format("cannot write {}", (dir / "runs.jsonl").string()));
  out << toJson(result) << '\n';
  return {};
}

}  // namespace runway::checks
