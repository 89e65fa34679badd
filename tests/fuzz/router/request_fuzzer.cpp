// libFuzzer target over the router's request path: bytes from a client are parsed with the
// router's limits, checked for smuggling shapes, routed (rules, sticky cookie, weights) and
// rewritten for the upstream (hop-by-hop removal, framing), then serialized. Whatever the bytes,
// none of this may crash, hang, leak or read out of bounds.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "routing.hpp"
#include "stats_store.hpp"

namespace {

namespace http = boost::beast::http;
using namespace runway;
using namespace runway::router;

const CompiledTable& table() {
  static SeriesRegistry registry;
  static const auto compiled = [] {
    RoutingTable t;
    Listener l;
    l.service = "api";
    l.environment = "prod";
    l.versions.push_back(Version{"v1", 900, {Instance{"a", "127.0.0.1", 9000, InstanceState::Ready}}});
    l.versions.push_back(Version{"v2", 100, {Instance{"b", "127.0.0.1", 9001, InstanceState::Ready}}});
    l.rules.push_back(MatchRule{MatchSource::Header, "X-Canary", MatchKind::Exact, "1", "v2"});
    l.rules.push_back(MatchRule{MatchSource::Cookie, "g", MatchKind::Regex, "b[a-z]{0,8}", "v2"});
    l.rules.push_back(MatchRule{MatchSource::Header, "User-Agent", MatchKind::Prefix, "T/", "v1"});
    l.sticky = StickySession{"rv", Duration{60'000}};
    t.listeners.push_back(l);
    return compileTable(t, registry);
  }();
  return *compiled;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ProxySettings settings;
  // The proxy's parser: header fields from a FieldPool kept across inputs, as a worker's is.
  static FieldPool pool;
  using RequestParser = http::request_parser<http::buffer_body, FieldAllocator<char>>;
  RequestParser p{RequestParser::value_type::header_type{FieldAllocator<char>{pool}}};
  p.header_limit(settings.max_header_bytes);
  p.body_limit(64 * 1024);
  boost::system::error_code ec;
  // Feed in two pieces, as a network would, to exercise the incremental parser.
  const std::size_t split = size / 3;
  std::size_t used = p.put(boost::asio::buffer(input.data(), split), ec);
  if (ec == http::error::need_more) {
    ec = {};
    used = p.put(boost::asio::buffer(input.data(), size), ec);
  }
  if (ec || !p.is_header_done()) return 0;
  auto& req = p.get();
  if (framingProblem(req, req.version())) return 0;
  const auto& listener = table().listeners[0];
  const auto choice = chooseVersion(listener, req, static_cast<std::uint32_t>(size % 1000));
  if (choice.version < 0) return 0;
  // An upgrade keeps its protocol through the stripping, as the proxy does.
  const auto upgrade = upgradeProtocol(req, req.version());
  stripHopByHop(req);
  if (upgrade) {
    if (upgrade->empty()) __builtin_trap();
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, *upgrade);
  }
  if (p.chunked()) {
    req.chunked(true);
  } else if (auto cl = p.content_length()) {
    req.content_length(*cl);
  }
  req.set("X-Forwarded-For", "127.0.0.1");
  // Relay the body that is present through a small buffer, serializing as the proxy does.
  char piece[512];
  std::string out;
  http::request_serializer<http::buffer_body, Fields> sr{req};
  std::size_t offset = used;
  for (int rounds = 0; rounds < 10'000; ++rounds) {
    if (!p.is_done()) {
      req.body().data = piece;
      req.body().size = sizeof piece;
      const auto n = p.put(boost::asio::buffer(input.data() + offset, size - offset), ec);
      offset += n;
      if (ec == http::error::need_buffer) ec = {};
      if (ec && ec != http::error::need_more) return 0;
      const bool stalled = n == 0;
      req.body().size = sizeof piece - req.body().size;
      req.body().data = piece;
      req.body().more = !p.is_done();
      if (stalled && req.body().size == 0) return 0;  // input ended mid-body
    } else {
      req.body().data = nullptr;
      req.body().size = 0;
      req.body().more = false;
    }
    boost::system::error_code wec;
    sr.next(wec, [&](boost::system::error_code&, const auto& buffers) {
      std::size_t total = 0;
      for (auto b : boost::beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        total += b.size();
      }
      sr.consume(total);
    });
    if (wec && wec != http::error::need_buffer) return 0;
    if (p.is_done() && sr.is_done()) break;
  }
  return 0;
}
