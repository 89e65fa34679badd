#pragma once

// The routing table: the one value the control plane hands to the router. It is immutable once
// handed over; the router swaps whole tables atomically (in-flight requests keep the table they
// started with). Plain value types, no I/O, usable from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::router {

// Whether an instance takes new requests. Only Ready instances are chosen; Draining ones keep
// serving the requests they already have (and their idle pooled connections are closed).
enum class InstanceState { Ready, Draining, NotReady };

std::string_view toString(InstanceState state);
Result<InstanceState> parseInstanceState(std::string_view text);

// One running process of a version.
struct Instance {
  std::string id;                  // unique in the whole table, e.g. "api-v2-0"
  std::string host = "127.0.0.1";  // numeric IPv4/IPv6 address
  std::uint16_t port = 0;          // 1..65535
  InstanceState state = InstanceState::Ready;

  bool operator==(const Instance&) const = default;
};

// A version of a service and its share of the listener's traffic.
struct Version {
  std::string name;                  // e.g. "v1.2.3"; unique within its listener
  std::uint32_t weight_permille = 0;  // 0..1000
  std::vector<Instance> instances;

  bool operator==(const Version&) const = default;
};

enum class MatchSource { Header, Cookie };
enum class MatchKind { Exact, Prefix, Regex };

std::string_view toString(MatchSource source);
std::string_view toString(MatchKind kind);

// An A/B rule: a request whose header (name compared case-insensitively) or cookie `name`
// matches `value` goes to `version`, regardless of weights. Rules are tried in order; the first
// that matches wins. Regex uses RE2 syntax (linear time) and must match the whole value.
struct MatchRule {
  MatchSource source = MatchSource::Header;
  std::string name;
  MatchKind kind = MatchKind::Exact;
  std::string value;
  std::string version;

  bool operator==(const MatchRule&) const = default;
};

// Sticky sessions by cookie: a request carrying `cookie=<version>` for a version that has
// weight > 0 and a ready instance goes to that version; otherwise the router picks by weight
// and answers with Set-Cookie so that the client's next requests stay on the same version.
struct StickySession {
  std::string cookie;                 // cookie name, e.g. "runway-version"
  Duration max_age = Duration{3'600'000};

  bool operator==(const StickySession&) const = default;
};

// The client-side timeouts and limits of one listener. The defaults are what the router used
// before they could be configured.
struct ListenerLimits {
  // A request header, once its first byte arrived (and the first request of a connection from
  // the accept), must be complete within this: else 408 and the connection closes.
  Duration header_timeout = Duration{10'000};
  // A keep-alive connection may wait this long for its next request (then it is closed without
  // a response); a request body that stalls this long gets 408.
  Duration idle_timeout = Duration{60'000};
  // Upstream side of a request: sending it, its response header, and each piece of the response
  // (a stall, not the whole transfer) must each happen within this: else 504 (or, once the
  // response started, the connection closes).
  Duration request_timeout = Duration{30'000};
  // Largest request body accepted (Content-Length or the sum of the chunks): 413 above it.
  std::uint64_t max_body_bytes = 64ull * 1024 * 1024;

  bool operator==(const ListenerLimits&) const = default;
};

// TLS termination on a listener: PEM files read by the router (absolute paths), TLS 1.2+, ALPN
// http/1.1. The router loads them when the table is set (a file it cannot use refuses the
// table) and again whenever either file changes (or on SIGHUP): new connections get the new
// certificate, established ones keep theirs; a pair that fails to load then is logged and the
// one in use stays.
struct ListenerTls {
  std::string certificate_file;  // the certificate, then any intermediates
  std::string key_file;          // its private key, unencrypted

  bool operator==(const ListenerTls&) const = default;
};

// One listening address for one service in one environment.
struct Listener {
  std::string service;      // valid name (isValidName)
  std::string environment;  // valid name
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;   // 0 = any free port (in-process use; see Router::boundPort)
  std::vector<Version> versions;
  std::vector<MatchRule> rules;
  std::optional<StickySession> sticky;
  ListenerLimits limits;
  std::optional<ListenerTls> tls;  // nullopt = plain HTTP

  // "service.environment": the listener's unique key in tables, statistics and metrics.
  std::string name() const { return service + "." + environment; }

  bool operator==(const Listener&) const = default;
};

// The access log: a JSON object per request and line (time, listener, client, method, target,
// status, bytes in and out, duration, version, instance, request id; never a header's value
// besides X-Request-Id), in `path`, rotated when it would pass `max_bytes`: path.1 is the
// newest old file, path.<keep> the oldest kept.
struct AccessLogSettings {
  std::string path;  // absolute; "" = no access log
  std::uint64_t max_bytes = 100ull * 1024 * 1024;  // at least 4096
  std::uint32_t keep = 5;                          // 1..100

  bool operator==(const AccessLogSettings&) const = default;
};

// Limits and timeouts that apply to every listener (each listener's own are its `limits`).
struct ProxySettings {
  Duration connect_timeout = Duration{2'000};       // upstream TCP connect: 504
  std::uint32_t max_header_bytes = 16 * 1024;        // request line + headers: 431
  std::uint32_t max_idle_upstream = 64;              // pooled connections per instance per thread
  // Where Prometheus scrapes GET /metrics (the same text as the admin socket's), "host:port"
  // with a numeric IP; port 0 = any free port (in-process use, see Router::boundMetricsPort).
  // "" = no metrics listener.
  std::string metrics_address;
  AccessLogSettings access_log;

  bool operator==(const ProxySettings&) const = default;
};

struct RoutingTable {
  std::uint64_t revision = 0;  // chosen by the writer; reported back, not interpreted
  ProxySettings settings;
  std::vector<Listener> listeners;

  bool operator==(const RoutingTable&) const = default;
};

// Checks everything the router relies on; InvalidArgument listing every problem found, e.g.
// "listeners[0].versions: weights sum to 900 per mille, expected 1000". Rules:
// names valid and unique (listener names, version names within a listener, instance ids across
// the table); distinct bind_address:port for non-zero ports; ports of instances 1..65535 and
// hosts numeric IP addresses; weights 0..1000 and summing to 1000 when the listener has at least
// one ready instance (at most 1000 otherwise); rules name existing versions and their regexes
// compile; sticky cookie names are valid cookie tokens; metrics_address is empty or
// "IP:port" ("[IPv6]:port") and no listener's address; the access log's path is empty or
// absolute, max_bytes >= 4096, keep 1..100.
Result<void> validate(const RoutingTable& table);

// Loads a listener's TLS files as the router does when a table names them, so that a caller can
// refuse what the router would refuse before the whole table is: InvalidArgument naming the
// file and the reason (unreadable, not PEM, the key not the certificate's). Never includes the
// key's content.
Result<void> checkListenerTls(const ListenerTls& tls);

// "127.0.0.1:9464" -> {"127.0.0.1", 9464}; "[::1]:9464" -> {"::1", 9464}. InvalidArgument
// unless the host is a numeric IP address and the port 0..65535.
Result<std::pair<std::string, std::uint16_t>> parseHostPort(std::string_view text);

// JSON encoding (Boost.JSON). The shape:
// {"revision":7,"settings":{"connect_timeout_ms":2000,...},
//  "listeners":[{"service":"api","environment":"production","bind_address":"127.0.0.1",
//    "port":8080,"limits":{"header_timeout_ms":10000,"idle_timeout_ms":60000,
//      "request_timeout_ms":30000,"max_body_bytes":67108864},"versions":[{"name":"v1","weight_permille":900,
//      "instances":[{"id":"api-v1-0","host":"127.0.0.1","port":9001,"state":"ready"}]}],
//    "rules":[{"source":"header","name":"x-canary","kind":"exact","value":"1","version":"v2"}],
//    "sticky":{"cookie":"runway-version","max_age_ms":3600000}}]}
std::string toJson(const RoutingTable& table);
// Parses and validates; InvalidArgument with the JSON path of the first malformed field, or the
// validate() errors. Missing "settings" and "limits" fields keep their defaults; unknown fields
// are errors. A table persisted before limits were per listener (settings.header_timeout_ms,
// idle_timeout_ms, response_timeout_ms, max_body_bytes) is read with those values as the
// limits of each listener that has no "limits" of its own.
Result<RoutingTable> tableFromJson(std::string_view json);

}  // namespace runway::router
