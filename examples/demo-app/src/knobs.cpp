#include "knobs.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string_view>
#include <system_error>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

namespace runway::demo {
namespace {

// One knob: its flag, its environment variable, and how to apply a raw value to Knobs.
struct KnobSpec {
  std::string_view flag;
  std::string_view env;
  std::string_view value_name;
  std::string_view help;
  // Applies `value`; returns an explanation of what is accepted when it is invalid.
  std::optional<std::string> (*apply)(Knobs&, std::string_view value);
};

template <typename T>
std::optional<T> parseInteger(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parseDouble(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<bool> parseBool(std::string_view text) {
  static constexpr std::array<std::string_view, 4> kTrue{"1", "true", "yes", "on"};
  static constexpr std::array<std::string_view, 4> kFalse{"0", "false", "no", "off"};
  for (auto t : kTrue) {
    if (text == t) return true;
  }
  for (auto f : kFalse) {
    if (text == f) return false;
  }
  return std::nullopt;
}

// VERSION and SERVICE end up in HTTP headers, JSON and metric labels.
std::optional<std::string> checkLabel(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 128) return "must be at most 128 characters";
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return "must not contain control characters";
    }
  }
  return std::nullopt;
}

const std::array<KnobSpec, 13>& knobSpecs() {
  static const std::array<KnobSpec, 13> kSpecs{{
      {"--port", "PORT", "N", "TCP port to listen on, 0..65535 (0 picks a free port)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         auto port = parseInteger<std::uint16_t>(v);
         if (!port) return "must be an integer from 0 to 65535";
         k.port = *port;
         return std::nullopt;
       }},
      {"--bind", "BIND", "ADDR", "IP address to bind (default 127.0.0.1)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         boost::system::error_code ec;
         boost::asio::ip::make_address(std::string(v), ec);
         if (ec) return "must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1";
         k.bind = std::string(v);
         return std::nullopt;
       }},
      {"--version-label", "VERSION", "TEXT", "version this instance reports (default v1)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         if (auto problem = checkLabel(v)) return problem;
         k.version = std::string(v);
         return std::nullopt;
       }},
      {"--service", "SERVICE", "TEXT", "service name this instance reports (default demo-app)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         if (auto problem = checkLabel(v)) return problem;
         k.service = std::string(v);
         return std::nullopt;
       }},
      {"--error-rate", "ERROR_RATE", "R",
       "share of requests to / and /api/leads answered 500, from 0 to 1",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         auto rate = parseDouble(v);
         if (!rate || *rate < 0.0 || *rate > 1.0) return "must be a number from 0 to 1";
         k.error_rate = *rate;
         return std::nullopt;
       }},
      {"--latency-ms", "LATENCY_MS", "MS",
       "latency added to / and /api/leads, with ±20% jitter, 0..600000",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         auto ms = parseInteger<std::int64_t>(v);
         if (!ms || *ms < 0 || *ms > 600000) return "must be an integer from 0 to 600000";
         k.latency = std::chrono::milliseconds(*ms);
         return std::nullopt;
       }},
      {"--fail-health", "FAIL_HEALTH", "BOOL", "make /health answer 503 (1/0, true/false)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         auto fail = parseBool(v);
         if (!fail) return "must be 1/0, true/false, yes/no or on/off";
         k.fail_health = *fail;
         return std::nullopt;
       }},
      {"--crash-after", "CRASH_AFTER", "N",
       "exit abruptly with code 70 after N answered requests (0 = never)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         auto n = parseInteger<std::uint64_t>(v);
         if (!n) return "must be a non-negative integer";
         k.crash_after = *n;
         return std::nullopt;
       }},
      {"--seed", "SEED", "N", "seed for ERROR_RATE and jitter, for reproducible runs",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         auto seed = parseInteger<std::uint64_t>(v);
         if (!seed) return "must be a non-negative integer";
         k.seed = *seed;
         return std::nullopt;
       }},
      {"--threads", "THREADS", "N", "I/O threads, 1..64 (default: up to 4)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         auto n = parseInteger<unsigned>(v);
         if (!n || *n < 1 || *n > 64) return "must be an integer from 1 to 64";
         k.threads = *n;
         return std::nullopt;
       }},
      {"--drain-timeout-ms", "DRAIN_TIMEOUT_MS", "MS",
       "on SIGTERM, how long in-flight requests may take (default 10000)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         auto ms = parseInteger<std::int64_t>(v);
         if (!ms || *ms < 0 || *ms > 600000) return "must be an integer from 0 to 600000";
         k.drain_timeout = std::chrono::milliseconds(*ms);
         return std::nullopt;
       }},
      {"--environment-label", "ENVIRONMENT", "TEXT", "environment this instance runs in (default none)",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         if (auto problem = checkLabel(v)) return problem;
         k.environment = std::string(v);
         return std::nullopt;
       }},
      {"--faulty-versions", "FAULTY_VERSIONS", "LIST",
       "bad builds and their error rate: v1.2.0=0.3 (everywhere), v1.2.0@production=0.3",
       [](Knobs& k, std::string_view v) -> std::optional<std::string> {
         k.faulty_versions.clear();
         while (!v.empty()) {
           const auto comma = v.find(',');
           const std::string_view item = v.substr(0, comma);
           v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
           const auto eq = item.find('=');
           if (eq == std::string_view::npos || eq == 0) return "must be VERSION=RATE[,VERSION=RATE...]";
           auto rate = parseDouble(item.substr(eq + 1));
           if (!rate || *rate < 0.0 || *rate > 1.0) return "each RATE must be a number from 0 to 1";
           k.faulty_versions[std::string(item.substr(0, eq))] = *rate;
         }
         return std::nullopt;
       }},
  }};
  return kSpecs;
}

const KnobSpec* findFlag(std::string_view flag) {
  for (const auto& spec : knobSpecs()) {
    if (spec.flag == flag) return &spec;
  }
  return nullptr;
}

}  // namespace

EnvLookup processEnvironment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at startup
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

tl::expected<Invocation, std::string> parseInvocation(std::span<const char* const> args,
                                                      const EnvLookup& env) {
  Invocation invocation;
  // Raw values by spec; flags overwrite what the environment set.
  std::map<const KnobSpec*, std::pair<std::string, std::string>> raw;  // spec → (source, value)
  for (const auto& spec : knobSpecs()) {
    if (auto value = env(std::string(spec.env).c_str())) {
      raw[&spec] = {fmt::format("{}={}", spec.env, *value), *value};
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      invocation.help = true;
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    const KnobSpec* spec = findFlag(name);
    if (spec == nullptr) {
      return tl::unexpected(
          fmt::format("unknown argument '{}' (run with --help for the flags)", arg));
    }
    if (!value) {
      if (spec->flag == "--fail-health") {
        value = "1";
      } else if (i + 1 < args.size()) {
        value = std::string(args[++i]);
      } else {
        return tl::unexpected(fmt::format("{} needs a value ({})", spec->flag, spec->value_name));
      }
    }
    raw[spec] = {fmt::format("{} {}", spec->flag, *value), *value};
  }
  for (const auto& [spec, source_value] : raw) {
    const auto& [source, value] = source_value;
    if (auto problem = spec->apply(invocation.knobs, value)) {
      return tl::unexpected(fmt::format("invalid {}: {}", source, *problem));
    }
  }
  auto& k = invocation.knobs;
  if (auto bad = k.faulty_versions.find(k.version); bad != k.faulty_versions.end()) {
    k.error_rate = bad->second;
  }
  if (!k.environment.empty()) {
    if (auto bad = k.faulty_versions.find(k.version + "@" + k.environment); bad != k.faulty_versions.end()) {
      k.error_rate = bad->second;
    }
  }
  return invocation;
}

std::string usage() {
  std::string text =
      "usage: runway-demo-app [flags]\n"
      "A small HTTP service for deployment tests: /, /api/leads, /health, /metrics.\n"
      "Every flag can also be set by the environment variable shown; flags win.\n\n";
  for (const auto& spec : knobSpecs()) {
    text += fmt::format("  {:<24} {:<18} {}\n", fmt::format("{} {}", spec.flag, spec.value_name),
                        fmt::format("({})", spec.env), spec.help);
  }
  return text;
}

}  // namespace runway::demo
