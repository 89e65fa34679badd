#pragma once

// The routing table compiled for the request path, and the pure decisions made per request:
// which version (rules, sticky cookie, weights), and which header fields a proxy must drop.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include "field_pool.hpp"

#include "runway/core/error.hpp"
#include "runway/router/routing_table.hpp"
#include "runway/core/pattern.hpp"

namespace runway::router {

class SeriesRegistry;

struct CompiledInstance {
  std::string id;
  boost::asio::ip::tcp::endpoint endpoint;
  InstanceState state = InstanceState::Ready;
  std::uint32_t series = 0;    // stats series of (listener, version, instance)
  std::uint32_t pool_key = 0;  // upstream pool of (id, endpoint)
};

struct CompiledVersion {
  std::string name;
  std::uint32_t weight = 0;
  std::uint32_t cumulative_end = 0;      // weights of this and earlier versions
  std::vector<CompiledInstance> instances;
  std::vector<std::uint32_t> ready;      // indices into instances
  std::uint32_t series = 0;              // stats series of (listener, version)
};

struct CompiledRule {
  MatchSource source = MatchSource::Header;
  std::string name;
  MatchKind kind = MatchKind::Exact;
  std::string value;
  std::optional<Pattern> regex;  // MatchKind::Regex (RE2: linear in the value's length)
  std::uint32_t version = 0;
};

struct CompiledListener {
  std::string name;
  std::vector<CompiledVersion> versions;
  std::vector<CompiledRule> rules;
  std::optional<StickySession> sticky;
  ListenerLimits limits;
  std::string set_cookie_suffix;  // "; Path=/; Max-Age=3600; HttpOnly"
  std::uint32_t unrouted_series = 0;  // requests no version could take
};

// Lets by_name be searched with a string_view, without making a std::string per request.
struct ListenerNameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

struct CompiledTable {
  RoutingTable source;
  std::vector<CompiledListener> listeners;
  std::unordered_map<std::string, std::size_t, ListenerNameHash, std::equal_to<>> by_name;

  const CompiledListener* find(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &listeners[it->second];
  }
};

// REQUIRES: validate(table) succeeded. Thread-safe (the registry locks).
std::shared_ptr<const CompiledTable> compileTable(RoutingTable table, SeriesRegistry& registry);

// The version chosen for one request.
struct VersionChoice {
  int version = -1;         // index into CompiledListener::versions; -1 = none can take it
  bool set_cookie = false;  // answer with the sticky cookie for this version
};

// Version by weight for a uniform r in [0, 1000): the first version whose cumulative weight
// exceeds r; -1 when the weights sum to less than r + 1.
int pickWeighted(const CompiledListener& listener, std::uint32_t r);

// Rules first (first match wins), then a valid sticky cookie, then weights with r.
VersionChoice chooseVersion(const CompiledListener& listener,
                            const Fields& headers, std::uint32_t r);

// The value of cookie `name` in the request's Cookie header(s), if present.
std::optional<std::string_view> findCookie(const Fields& headers,
                                           std::string_view name);

bool ruleMatches(const CompiledRule& rule, const Fields& headers);

// Removes hop-by-hop fields: Connection and every field it names, Keep-Alive, Proxy-*, TE,
// Trailer, Transfer-Encoding and Upgrade.
void stripHopByHop(Fields& fields);

// The protocol an HTTP/1.1 request asks to switch to (its Upgrade field, e.g. "websocket")
// when its Connection field lists "upgrade"; nullopt for any other request (and HTTP/1.0).
std::optional<std::string> upgradeProtocol(const Fields& fields,
                                           unsigned http_version);

// Request framing checks a proxy must make before forwarding (request smuggling): at most one
// Content-Length, made of digits only; at most one Transfer-Encoding, exactly "chunked", and
// never together with Content-Length; exactly one Host on HTTP/1.1. Returns the reason when the
// request must be refused with 400.
std::optional<std::string_view> framingProblem(const Fields& fields,
                                               unsigned http_version);

// A small fast generator for weighted picks (xorshift64*), one per worker thread.
class FastRandom {
 public:
  explicit FastRandom(std::uint64_t seed) : state_(seed == 0 ? 0x9E3779B97F4A7C15ull : seed) {}
  std::uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [0, 1000).
  std::uint32_t permille() { return static_cast<std::uint32_t>((next() >> 11) % 1000); }

 private:
  std::uint64_t state_;
};

}  // namespace runway::router
