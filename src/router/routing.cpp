#include "routing.hpp"

#include <algorithm>
#include <cctype>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/container/small_vector.hpp>
#include <fmt/format.h>

#include "stats_store.hpp"

namespace runway::router {
namespace http = boost::beast::http;
using boost::beast::iequals;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool valueMatches(const CompiledRule& rule, std::string_view v) {
  switch (rule.kind) {
    case MatchKind::Exact: return v == rule.value;
    case MatchKind::Prefix: return v.substr(0, rule.value.size()) == rule.value;
    case MatchKind::Regex: return rule.regex && rule.regex->fullMatch(v);
  }
  return false;
}

}  // namespace

std::shared_ptr<const CompiledTable> compileTable(RoutingTable table, SeriesRegistry& registry) {
  auto out = std::make_shared<CompiledTable>();
  for (const auto& l : table.listeners) {
    CompiledListener cl;
    cl.name = l.name();
    std::uint32_t cumulative = 0;
    for (const auto& v : l.versions) {
      CompiledVersion cv;
      cv.name = v.name;
      cv.weight = v.weight_permille;
      cumulative += v.weight_permille;
      cv.cumulative_end = cumulative;
      cv.series = registry.seriesFor({cl.name, v.name, ""});
      for (const auto& in : v.instances) {
        CompiledInstance ci;
        ci.id = in.id;
        ci.endpoint = {boost::asio::ip::make_address(in.host), in.port};
        ci.state = in.state;
        ci.series = registry.seriesFor({cl.name, v.name, in.id});
        ci.pool_key = registry.poolFor(fmt::format("{}@{}:{}", in.id, in.host, in.port));
        if (in.state == InstanceState::Ready) {
          cv.ready.push_back(static_cast<std::uint32_t>(cv.instances.size()));
        }
        cv.instances.push_back(std::move(ci));
      }
      cl.versions.push_back(std::move(cv));
    }
    for (const auto& r : l.rules) {
      CompiledRule cr;
      cr.source = r.source;
      cr.name = r.name;
      cr.kind = r.kind;
      cr.value = r.value;
      if (r.kind == MatchKind::Regex) {
        // validate() accepted it; a pattern that does not compile matches nothing.
        if (auto compiled = Pattern::compile(r.value)) cr.regex.emplace(std::move(*compiled));
      }
      for (std::size_t i = 0; i < l.versions.size(); ++i) {
        if (l.versions[i].name == r.version) cr.version = static_cast<std::uint32_t>(i);
      }
      cl.rules.push_back(std::move(cr));
    }
    cl.sticky = l.sticky;
    cl.limits = l.limits;
    if (l.sticky) {
      cl.set_cookie_suffix =
          fmt::format("; Path=/; Max-Age={}; HttpOnly", l.sticky->max_age.count() / 1000);
    }
    cl.unrouted_series = registry.seriesFor({cl.name, "none", ""});
    out->by_name.emplace(cl.name, out->listeners.size());
    out->listeners.push_back(std::move(cl));
  }
  out->source = std::move(table);
  return out;
}

int pickWeighted(const CompiledListener& listener, std::uint32_t r) {
  for (std::size_t i = 0; i < listener.versions.size(); ++i) {
    const auto& v = listener.versions[i];
    if (v.weight > 0 && r < v.cumulative_end) return static_cast<int>(i);
  }
  return -1;
}

std::optional<std::string_view> findCookie(const Fields& headers, std::string_view name) {
  // Beast's equal_range spans insertion order, not just equal names: scan all fields.
  for (const auto& f : headers) {
    if (f.name() != http::field::cookie) continue;
    std::string_view rest = f.value();
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      std::string_view pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (trim(pair.substr(0, eq)) == name) {
        std::string_view value = trim(pair.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        return value;
      }
    }
  }
  return std::nullopt;
}

bool ruleMatches(const CompiledRule& rule, const Fields& headers) {
  if (rule.source == MatchSource::Cookie) {
    auto v = findCookie(headers, rule.name);
    return v && valueMatches(rule, *v);
  }
  // Every occurrence of the header counts: a request matches if any of its values does.
  for (const auto& f : headers) {
    if (iequals(f.name_string(), rule.name) && valueMatches(rule, trim(f.value()))) return true;
  }
  return false;
}

VersionChoice chooseVersion(const CompiledListener& listener, const Fields& headers,
                            std::uint32_t r) {
  for (const auto& rule : listener.rules) {
    if (ruleMatches(rule, headers)) return {static_cast<int>(rule.version), false};
  }
  if (listener.sticky) {
    if (auto v = findCookie(headers, listener.sticky->cookie)) {
      for (std::size_t i = 0; i < listener.versions.size(); ++i) {
        const auto& cv = listener.versions[i];
        if (cv.name == *v && cv.weight > 0 && !cv.ready.empty()) return {static_cast<int>(i), false};
      }
    }
  }
  const int picked = pickWeighted(listener, r);
  return {picked, picked >= 0 && listener.sticky.has_value()};
}

void stripHopByHop(Fields& fields) {
  // One walk over the fields erasing by position: erasing each hop-by-hop name by itself would
  // search the fields for every name on every message. The names listed in Connection are
  // views into its values, which stay until the end (Connection itself goes last).
  boost::container::small_vector<std::string_view, 8> named;
  bool has_connection = false;
  for (const auto& f : fields) {
    if (f.name() != http::field::connection) continue;
    has_connection = true;
    std::string_view rest = f.value();
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto token = trim(rest.substr(0, comma));
      if (!token.empty()) named.push_back(token);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  for (auto it = fields.begin(); it != fields.end();) {
    bool hop = false;
    switch (it->name()) {
      case http::field::connection: break;  // below, once `named` is no longer needed
      case http::field::keep_alive:
      case http::field::te:
      case http::field::trailer:
      case http::field::transfer_encoding:
      case http::field::upgrade: hop = true; break;
      default: {
        const auto name = it->name_string();
        hop = name.size() >= 6 && iequals(name.substr(0, 6), "proxy-");
        for (std::size_t i = 0; i < named.size() && !hop; ++i) hop = iequals(name, named[i]);
      }
    }
    it = hop ? fields.erase(it) : std::next(it);
  }
  if (has_connection) fields.erase(http::field::connection);
}

std::optional<std::string> upgradeProtocol(const Fields& fields, unsigned http_version) {
  if (http_version < 11) return std::nullopt;
  bool listed = false;
  for (const auto& f : fields) {
    if (f.name() != http::field::connection) continue;
    std::string_view rest = f.value();
    while (!rest.empty() && !listed) {
      const auto comma = rest.find(',');
      listed = iequals(trim(rest.substr(0, comma)), "upgrade");
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  if (!listed) return std::nullopt;
  const auto protocol = trim(fields[http::field::upgrade]);
  if (protocol.empty()) return std::nullopt;
  return std::string(protocol);
}

std::optional<std::string_view> framingProblem(const Fields& fields, unsigned http_version) {
  int content_lengths = 0;
  int transfer_encodings = 0;
  int hosts = 0;
  for (const auto& f : fields) {
    switch (f.name()) {
      case http::field::content_length: {
        ++content_lengths;
        const auto v = f.value();
        if (v.empty() || v.size() > 19 ||
            !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return "invalid Content-Length";
        }
        break;
      }
      case http::field::transfer_encoding:
        ++transfer_encodings;
        if (!iequals(trim(f.value()), "chunked")) return "unsupported Transfer-Encoding";
        break;
      case http::field::host: ++hosts; break;
      default: break;
    }
  }
  if (content_lengths > 1) return "duplicate Content-Length";
  if (transfer_encodings > 1) return "duplicate Transfer-Encoding";
  if (content_lengths > 0 && transfer_encodings > 0) {
    return "both Content-Length and Transfer-Encoding";
  }
  if (transfer_encodings > 0 && http_version < 11) return "Transfer-Encoding on HTTP/1.0";
  if (http_version >= 11 && hosts != 1) return hosts == 0 ? "missing Host" : "duplicate Host";
  if (http_version < 11 && hosts > 1) return "duplicate Host";
  return std::nullopt;
}

}  // namespace runway::router
