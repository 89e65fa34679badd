#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>

#include <tl/expected.hpp>

namespace runway::demo {

// The behaviour of one demo-app process, from flags and environment variables (flags win).
struct Knobs {
  std::string bind = "127.0.0.1";    // --bind / BIND
  std::uint16_t port = 8080;         // --port / PORT; 0 lets the kernel pick a free port
  std::string version = "v1";        // --version-label / VERSION
  std::string service = "demo-app";  // --service / SERVICE
  double error_rate = 0.0;           // --error-rate / ERROR_RATE: share of / and /api/leads → 500
  std::chrono::milliseconds latency{0};  // --latency-ms / LATENCY_MS: added latency, ±20% jitter
  bool fail_health = false;              // --fail-health / FAIL_HEALTH: /health answers 503
  std::uint64_t crash_after = 0;         // --crash-after / CRASH_AFTER: exit 70 after N; 0 = never
  std::optional<std::uint64_t> seed;     // --seed / SEED: makes ERROR_RATE and jitter reproducible
  unsigned threads = 0;                  // --threads / THREADS: I/O threads; 0 = automatic
  std::chrono::milliseconds drain_timeout{10000};  // --drain-timeout-ms / DRAIN_TIMEOUT_MS
  std::string environment;  // --environment-label / ENVIRONMENT: where it runs (reported, faults)
  // --faulty-versions / FAULTY_VERSIONS: "v1.2.0=0.3,v1.3.0@production=0.05" — a bad build of a
  // version: when this instance's version is listed (and, with @ENV, it runs in that
  // environment), its error rate is the one given.
  std::map<std::string, double> faulty_versions;
};

// What the command line asked for.
struct Invocation {
  Knobs knobs;
  bool help = false;  // --help: print usage() and exit 0
};

// Looks up an environment variable; nullopt when unset. An empty value counts as unset.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// The process environment, for parseInvocation().
EnvLookup processEnvironment();

// Parses argv (without argv[0]) and the environment into an Invocation. Flags take
// `--name value` or `--name=value`; `--fail-health` alone means true.
// Returns a message naming the offending flag or variable and the accepted range when any value
// is invalid or a flag is unknown.
tl::expected<Invocation, std::string> parseInvocation(std::span<const char* const> args,
                                                      const EnvLookup& env);

// The --help text.
std::string usage();

}  // namespace runway::demo
