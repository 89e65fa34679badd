#include "proxy.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <unordered_set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "awaitable.hpp"
#include "header_writer.hpp"
#include "tls.hpp"
#include "runway/core/ids.hpp"

namespace runway::router {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr std::size_t kMaxResponseHeader = 64 * 1024;
// An upgrade tunnel with no byte in either direction for this long is closed.
constexpr auto kTunnelIdleTimeout = std::chrono::hours(1);

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

std::string errorResponse(int status, std::string_view detail, bool keep_alive) {
  const std::string body = fmt::format("{} {}: {}\n", status, reasonPhrase(status), detail);
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
      "Connection: {}\r\nServer: runway\r\n\r\n{}",
      status, reasonPhrase(status), body.size(), keep_alive ? "keep-alive" : "close", body);
}

// Maps a request-parse error to the status the client gets.
int statusForParseError(const error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  return 400;
}

bool isParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer;
}

// A request the router may send again on another connection when a pooled connection turns out
// to have been closed by the upstream while it sat idle (RFC 9112 9.3.1: idempotent methods).
bool idempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

// How a connection the peer closed fails a write or the first read.
bool connectionClosed(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted;
}

// The parsers of the relayed requests and responses: header fields from the worker's FieldPool.
using RequestParser = http::request_parser<http::buffer_body, FieldAllocator<char>>;
using ResponseParser = http::response_parser<http::buffer_body, FieldAllocator<char>>;

// Replaces the fields named `name` with one field of `value`; `maybe_present` false says there
// is none to remove (the search costs more than the insertion). REQUIRES: `name` is none of
// Beast's known fields (http::field::unknown): set() and insert() by name look the name up in
// Beast's table of known fields first (string_to_field, ~80 instructions a call).
void setUnknownField(Fields& fields, std::string_view name, std::string_view value,
                     bool maybe_present) {
  if (maybe_present) fields.erase(name);
  fields.insert(http::field::unknown, name, value);
}

// Appends v as 16 lowercase hexadecimal digits.
void appendHex64(std::string& out, std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::array<char, 16> digits{};
  // Two digits a step, from the last.
  for (std::size_t i = digits.size(); i > 0; i -= 2, v >>= 8) {
    digits[i - 1] = kDigits[v & 15];
    digits[i - 2] = kDigits[(v >> 4) & 15];
  }
  out.append(digits.data(), digits.size());
}

// The request path's coroutines and I/O objects are bound to their worker's io_context by type:
// with Asio's type-erased any_io_executor every composed operation, work guard and coroutine
// frame copied or moved a polymorphic executor (~1,450 instructions per proxied request).
template <class T>
using Task = asio::awaitable<T, Executor>;
using Timer = asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Executor>;
// Awaiting with this token yields (error_code, results...) instead of throwing.
constexpr auto kIo = asio::as_tuple(asio::use_awaitable_t<Executor>{});

std::uint64_t microsSince(SteadyClock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count());
}

}  // namespace

// One client connection: plain TCP (ClientStream = Socket) or TLS terminated here
// (ssl::stream<Socket>, which starts with the handshake). Runs as a coroutine on its
// worker's thread; every operation has a deadline enforced by a single per-connection timer
// (the watchdog), which cancels the outstanding I/O when the deadline passes.
template <class ClientStream>
class Session : public std::enable_shared_from_this<Session<ClientStream>> {
  static constexpr bool kTls = !std::is_same_v<ClientStream, Socket>;

 public:
  // `tls`: the listener's context when kTls (the connection keeps it for its life, whatever
  // reloads happen), null otherwise.
  Session(Worker& worker, Socket socket, std::string listener,
          std::shared_ptr<ssl::context> tls = nullptr)
      : w_(worker),
        tls_(std::move(tls)),
        client_(makeStream(std::move(socket), tls_.get())),
        timer_(worker.context()),
        listener_(std::move(listener)) {
    error_code ec;
    auto ep = lowest().remote_endpoint(ec);
    if (!ec) client_ip_ = ep.address().to_string();
  }

  Task<void> run() {
    auto self = this->shared_from_this();
    setDeadline(std::chrono::hours(1));
    armTimer();
    if constexpr (kTls) {
      const CompiledListener* l = w_.snapshot()->find(listener_);
      setDeadline(l != nullptr ? l->limits.header_timeout : ListenerLimits{}.header_timeout);
      auto [ec] = co_await client_.async_handshake(ssl::stream_base::server, kIo);
      if (ec) {
        closeAll();
        co_return;
      }
    }
    bool first = true;
    try {
      while (co_await handleOne(first)) first = false;
    } catch (const std::exception& e) {
      spdlog::error("router: connection from {} failed: {}", client_ip_, e.what());
    }
    closeAll();
  }

 private:
  enum class Step { Done, KeepAlive, Close };

  static ClientStream makeStream(Socket socket, ssl::context* tls) {
    if constexpr (kTls) {
      return ClientStream(std::move(socket), *tls);
    } else {
      (void)tls;
      return socket;
    }
  }

  Socket& lowest() { return beast::get_lowest_layer(client_); }

  // --- deadlines -------------------------------------------------------------------------
  void setDeadline(SteadyClock::duration d) {
    deadline_ = SteadyClock::now() + d;
    timed_out_ = false;
    if (deadline_ < armed_) {
      armed_ = deadline_;
      timer_.expires_at(armed_);  // cancels the pending wait; its handler re-arms
    }
  }

  // The timer is armed at the deadline or one tick from now, whichever is sooner: a deadline
  // set later with a duration of at least a tick is then never earlier than the armed time, so
  // the per-request deadlines (header, request, idle) do not re-arm the timer; it wakes up once
  // a tick at most while the connection waits and re-arms itself then.
  void armTimer() {
    armed_ = std::min(deadline_, SteadyClock::now() + tick_);
    timer_.expires_at(armed_);
    timer_.async_wait([self = this->shared_from_this()](const error_code&) { self->onTimer(); });
  }

  void onTimer() {
    if (!open_) return;
    if (SteadyClock::now() >= deadline_) {
      timed_out_ = true;
      error_code ignored;
      lowest().cancel(ignored);
      if (active_upstream_ != nullptr) active_upstream_->cancel(ignored);
      // If nothing was pending, try again shortly rather than spinning.
      deadline_ = SteadyClock::now() + std::chrono::seconds(1);
    }
    armTimer();
  }

  bool tookTimeout() { return std::exchange(timed_out_, false); }

  // --- small helpers ---------------------------------------------------------------------
  Task<bool> writeRaw(std::string text) {
    setDeadline(std::chrono::seconds(5));
    auto [ec, n] = co_await asio::async_write(client_, asio::buffer(text), kIo);
    bytes_out_ += n;
    co_return !ec;
  }

  // Sends an error response; closes (with a lingering read so the client sees the response)
  // unless keep_alive.
  Task<bool> refuse(int status, std::string_view detail, bool keep_alive) {
    const bool ok = co_await writeRaw(errorResponse(status, detail, keep_alive));
    if (ok && keep_alive) co_return true;
    co_await lingeringClose();
    co_return false;
  }

  Task<void> lingeringClose() {
    error_code ec;
    lowest().shutdown(Socket::shutdown_send, ec);
    setDeadline(std::chrono::seconds(2));
    std::array<char, 4096> scratch{};
    std::size_t drained = 0;
    while (!ec && drained < 1024 * 1024) {
      auto [rec, n] = co_await client_.async_read_some(asio::buffer(scratch), kIo);
      ec = rec;
      drained += n;
    }
    closeAll();
  }

  void closeAll() {
    open_ = false;
    error_code ignored;
    lowest().close(ignored);
    timer_.cancel();
  }

  void recordLocal(const CompiledListener* listener, int status) {
    log_status_ = status;
    if (listener == nullptr) return;
    auto& shard = w_.shard();
    shard.begin(listener->unrouted_series, -1);
    shard.end(listener->unrouted_series, -1, RequestOutcome{status, 0, false, 0}, w_.nowSecond());
  }

  // Reads one request header into `p`, using the idle deadline until its first byte arrives
  // and the header deadline after that.
  Task<error_code> readHeader(RequestParser& p, bool first,
                                         const ListenerLimits& s, bool& got_bytes) {
    got_bytes = buffer_.size() > 0;
    setDeadline(got_bytes || first ? s.header_timeout : s.idle_timeout);
    for (;;) {
      if (buffer_.size() > 0) {
        error_code ec;
        const auto n = p.put(buffer_.data(), ec);
        buffer_.consume(n);
        bytes_in_ += n;
        if (!ec && p.is_header_done()) co_return error_code{};
        if (ec && ec != http::error::need_more) co_return ec;
      }
      const std::size_t want = std::clamp<std::size_t>(buffer_.capacity() - buffer_.size(), 1024,
                                                        64 * 1024);
      auto [ec, n] = co_await client_.async_read_some(buffer_.prepare(want), kIo);
      if (ec) {
        if (ec == asio::error::eof) {
          co_return got_bytes ? http::error::partial_message : http::error::end_of_stream;
        }
        co_return ec;
      }
      buffer_.commit(n);
      if (!got_bytes) {
        got_bytes = true;
        setDeadline(s.header_timeout);
      }
    }
  }

  // --- upgrade tunnels -----------------------------------------------------------------------
  // Relays bytes both ways between the client and `up` until both directions have ended (an
  // end of stream is passed on as a half-close) or either fails or stays idle past
  // kTunnelIdleTimeout (then both are closed). The routing table plays no part any more: a
  // new table does not touch an open tunnel.
  Task<void> tunnel(Upstream& up, std::uint32_t series) {
    auto& shard = w_.shard();
    setDeadline(kTunnelIdleTimeout);
    // What each side sent after its header is the tunnel's first bytes.
    if (up.buffer.size() > 0) {
      auto [ec, n] = co_await asio::async_write(client_, up.buffer.data(), kIo);
      if (ec) co_return;
      shard.tunnelBytes(series, 0, n);
      up.buffer.consume(n);
    }
    if (buffer_.size() > 0) {
      active_upstream_ = &up.socket;
      auto [ec, n] = co_await asio::async_write(up.socket, buffer_.data(), kIo);
      active_upstream_ = nullptr;
      if (ec) co_return;
      shard.tunnelBytes(series, n, 0);
      buffer_.consume(n);
    }
    active_upstream_ = &up.socket;
    using namespace asio::experimental::awaitable_operators;
    co_await (pump(client_, up.socket, true, series) && pump(up.socket, client_, false, series));
    active_upstream_ = nullptr;
    error_code ignored;
    up.socket.close(ignored);
  }

  template <class From, class To>
  Task<void> pump(From& from, To& to, bool to_upstream, std::uint32_t series) {
    auto buffer = w_.takeRelayBuffer();
    struct GiveBack {
      Worker& w;
      std::unique_ptr<char[]>& b;
      ~GiveBack() { w.returnRelayBuffer(std::move(b)); }
    } give_back{w_, buffer};
    for (;;) {
      auto [rec, n] = co_await from.async_read_some(asio::buffer(buffer.get(), Worker::kRelayBufferSize), kIo);
      if (n > 0) {
        setDeadline(kTunnelIdleTimeout);
        auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buffer.get(), n), kIo);
        w_.shard().tunnelBytes(series, to_upstream ? wn : 0, to_upstream ? 0 : wn);
        if (wec) rec = wec;
      }
      if (rec == asio::error::eof) {
        error_code ignored;
        // Pass the end on; the other way goes on.
        beast::get_lowest_layer(to).shutdown(Socket::shutdown_send, ignored);
        co_return;
      }
      if (rec) {
        // Failed, cancelled by the watchdog or by the other direction: end both.
        error_code ignored;
        beast::get_lowest_layer(from).close(ignored);
        beast::get_lowest_layer(to).close(ignored);
        co_return;
      }
      setDeadline(kTunnelIdleTimeout);
    }
  }

  // Opens a new connection to `instance`; null (with the error counted) when it fails.
  Task<std::unique_ptr<Upstream>> connectTo(const CompiledInstance& instance,
                                                       const ProxySettings& s,
                                                       RequestOutcome& outcome, bool& timed_out) {
    auto up = std::make_unique<Upstream>(w_.context(), w_.shard());
    setDeadline(s.connect_timeout);
    active_upstream_ = &up->socket;
    auto [ec] = co_await up->socket.async_connect(instance.endpoint, kIo);
    active_upstream_ = nullptr;
    if (ec) {
      timed_out = tookTimeout();
      outcome.upstream_errors++;
      w_.shard().upstreamError(instance.series, w_.nowSecond());
      co_return nullptr;
    }
    up->connected(instance.series);
    error_code ignored;
    up->socket.set_option(tcp::no_delay(true), ignored);
    co_return up;
  }

  // --- one request -------------------------------------------------------------------------
  Task<bool> handleOne(bool first) {
    std::shared_ptr<const CompiledTable> table = w_.snapshot();
    RequestParser p{RequestParser::value_type::header_type{FieldAllocator<char>{w_.fieldPool()}}};
    // Writes the request's access-log line when this request ends, whichever way (only if the
    // log is on and the request got a status: an idle connection closing logs nothing).
    log_status_ = -1;
    bytes_in_ = 0;
    bytes_out_ = 0;
    log_version_ = {};
    log_instance_ = {};
    request_id_.clear();
    const auto log_start = SteadyClock::now();
    struct AccessLine {
      Session& s;
      const RequestParser& p;
      SteadyClock::time_point start;
      ~AccessLine() {
        if (s.log_status_ < 0 || !s.w_.accessLog().enabled()) return;
        const auto& req = p.get();
        AccessRecord r;
        r.unix_ms = s.w_.nowMillis();
        r.listener = s.listener_;
        r.client = s.client_ip_;
        r.method = req.method_string();
        r.target = req.target();
        r.status = s.log_status_;
        r.bytes_in = s.bytes_in_;
        r.bytes_out = s.bytes_out_;
        r.duration_us = microsSince(start);
        r.version = s.log_version_;
        r.instance = s.log_instance_;
        // A request refused before it was routed has no id of the router's: the client's,
        // when it is usable.
        r.request_id = s.request_id_;
        if (r.request_id.empty()) {
          const auto given = req["X-Request-Id"];
          if (isUsableRequestId(given)) r.request_id = given;
        }
        s.w_.accessLog().append(r);
      }
    } access_line{*this, p, log_start};
    p.header_limit(table->source.settings.max_header_bytes);
    {
      // The limits of the table the connection waits on; a copy (no allocation), since `table`
      // is replaced below and the old one may go with it.
      const CompiledListener* waiting = table->find(listener_);
      limits_ = waiting != nullptr ? waiting->limits : ListenerLimits{};
      tick_ = std::min({limits_.header_timeout, limits_.idle_timeout, limits_.request_timeout});
    }
    p.body_limit(limits_.max_body_bytes);
    bool got_bytes = false;
    if (auto ec = co_await readHeader(p, first, limits_, got_bytes)) {
      const CompiledListener* l = table->find(listener_);
      if (tookTimeout()) {
        if (!got_bytes && !first) co_return false;  // idle keep-alive connection: just close
        recordLocal(l, 408);
        co_return co_await refuse(408, "request header not received in time", false);
      }
      if (isParseError(ec)) {
        const int status = statusForParseError(ec);
        recordLocal(l, status);
        co_return co_await refuse(status, ec.message(), false);
      }
      co_return false;  // the client went away
    }
    // The table may have changed while this connection was idle.
    table = w_.snapshot();
    const ProxySettings& s = table->source.settings;
    const auto start = SteadyClock::now();
    auto& req = p.get();
    const CompiledListener* listener = table->find(listener_);
    if (auto why = framingProblem(req, req.version())) {
      recordLocal(listener, 400);
      co_return co_await refuse(400, *why, false);
    }
    if (listener == nullptr) {
      log_status_ = 503;
      co_return co_await refuse(503, "this listener was removed", false);
    }
    // The body limit stays the one the parser was given when the request started.
    const ListenerLimits& lim = listener->limits;
    const bool client_keep_alive = req.keep_alive();
    const unsigned client_version = req.version();
    const bool head = req.method() == http::verb::head;
    const bool expect_continue = beast::iequals(req[http::field::expect], "100-continue");
    // An Upgrade (WebSocket, ...) without a body: if the upstream answers 101, the connection
    // becomes a tunnel to it.
    const auto upgrade = p.is_done() ? upgradeProtocol(req, req.version()) : std::nullopt;
    const auto choice = chooseVersion(*listener, req, w_.random().permille());
    if (choice.version < 0) {
      recordLocal(listener, 503);
      co_return co_await refuse(503, "no version takes traffic", client_keep_alive && p.is_done());
    }
    const CompiledVersion& version = listener->versions[static_cast<std::size_t>(choice.version)];
    log_version_ = version.name;
    auto& shard = w_.shard();
    w_.requestStarted();
    struct Finish {
      Worker& w;
      ~Finish() { w.requestFinished(); }
    } finish{w_};
    RequestOutcome outcome;
    auto finishVersionOnly = [&](int status) {
      log_status_ = status;
      outcome.status = status;
      outcome.router_generated = status >= 502 && status <= 504;
      outcome.latency_us = microsSince(start);
      shard.begin(version.series, -1);
      shard.end(version.series, -1, outcome, w_.nowSecond());
    };
    if (version.ready.empty()) {
      finishVersionOnly(503);
      co_return co_await refuse(503, fmt::format("version {} has no ready instance", version.name),
                                client_keep_alive && p.is_done());
    }

    // A body-less idempotent request can be sent again when its pooled connection turns out to
    // be closed (nothing was received on it): such a connection is taken from the pool without
    // a check, which would cost a system call per request. Any other request gets a pooled
    // connection only after a check that the upstream has not closed it.
    const bool resendable = p.is_done() && idempotent(req.method());

    // Pick an instance; a failed connect sent nothing, so the next instance may be tried.
    std::unique_ptr<Upstream> up;
    bool reused = false;  // `up` came from the pool
    const CompiledInstance* instance = nullptr;
    bool connect_timed_out = false;
    const std::uint32_t rr = w_.nextRoundRobin(version.series);
    for (std::size_t k = 0; k < version.ready.size() && !up; ++k) {
      const auto& cand = version.instances[version.ready[(rr + k) % version.ready.size()]];
      up = w_.takeIdle(cand.pool_key, !resendable);
      reused = up != nullptr;
      if (!up) {
        up = co_await connectTo(cand, s, outcome, connect_timed_out);
        if (!up) continue;
      }
      instance = &cand;
    }
    if (!up) {
      const int status = connect_timed_out ? 504 : 502;
      finishVersionOnly(status);
      co_return co_await refuse(status,
                                connect_timed_out ? "upstream connect timed out"
                                                  : "no upstream instance accepted the connection",
                                client_keep_alive && p.is_done());
    }
    shard.begin(version.series, instance->series);
    log_instance_ = instance->id;
    auto finishInstance = [&](int status, bool router_generated) {
      log_status_ = status;
      outcome.status = status;
      outcome.router_generated = router_generated;
      outcome.latency_us = microsSince(start);
      shard.end(version.series, instance->series, outcome, w_.nowSecond());
    };
    auto upstreamFailed = [&] {
      outcome.upstream_errors++;
      shard.upstreamError(instance->series, w_.nowSecond());
    };

    // Rewrite the request for the upstream.
    // One walk over the client's fields: its X-Forwarded-For values (kept, the client's address
    // appended), its X-Request-Id, and which of the fields the router replaces it sent at all
    // (only those are searched for and erased below; stripHopByHop may remove some, never add).
    std::string forwarded_for;
    bool sent_for = false;
    bool sent_proto = false;
    bool sent_host = false;
    bool sent_id = false;
    request_id_.clear();
    for (const auto& f : req) {
      const auto name = f.name_string();
      if (beast::iequals(name, "X-Forwarded-For")) {
        sent_for = true;
        if (!forwarded_for.empty()) forwarded_for += ", ";
        forwarded_for.append(f.value());
      } else if (beast::iequals(name, "X-Forwarded-Proto")) {
        sent_proto = true;
      } else if (beast::iequals(name, "X-Forwarded-Host")) {
        sent_host = true;
      } else if (!sent_id && beast::iequals(name, "X-Request-Id")) {
        sent_id = true;
        request_id_.assign(f.value());  // the first, as req["X-Request-Id"] gives
      }
    }
    if (!forwarded_for.empty()) forwarded_for += ", ";
    forwarded_for += client_ip_;
    const std::string host(req[http::field::host]);
    req.erase(http::field::expect);
    stripHopByHop(req);
    // Beast knows none of the names below (http::field::unknown): see setUnknownField.
    setUnknownField(req, "X-Forwarded-For", forwarded_for, sent_for);  // in place of the client's
    setUnknownField(req, "X-Forwarded-Proto", kTls ? "https" : "http", sent_proto);
    // X-Request-Id: a usable one from the client passes through, else the router makes one;
    // the upstream gets it, and so does the client in the response (unless the upstream set
    // its own).
    if (!isUsableRequestId(request_id_)) {
      request_id_.clear();
      appendHex64(request_id_, w_.random().next());
      appendHex64(request_id_, w_.random().next());
      setUnknownField(req, "X-Request-Id", request_id_, sent_id);
    }
    if (upgrade) {
      req.set(http::field::connection, "Upgrade");
      req.set(http::field::upgrade, *upgrade);
    }
    if (!host.empty()) setUnknownField(req, "X-Forwarded-Host", host, sent_host);
    if (p.chunked()) {
      req.chunked(true);
    } else if (auto cl = p.content_length()) {
      req.content_length(*cl);
    }
    req.version(11);

    if (expect_continue && !p.is_done()) {
      if (!co_await writeRaw("HTTP/1.1 100 Continue\r\n\r\n")) {
        finishInstance(0, false);
        co_return false;
      }
    }

    // Relay the request (header, then the body in pieces) without holding the whole body.
    struct RelayBuffer {
      Worker& w;
      std::unique_ptr<char[]> data;
      ~RelayBuffer() {
        if (data) w.returnRelayBuffer(std::move(data));
      }
      char* get() {
        if (!data) data = w.takeRelayBuffer();
        return data.get();
      }
    } relay{w_, nullptr};
    constexpr std::size_t kRelay = Worker::kRelayBufferSize;
    std::optional<ResponseParser> rp;
    // The request's header as this router serializes it (then the response's): see appendHeader.
    HeadBuffer header_out{FieldAllocator<char>{w_.fieldPool()}};
    header_out.reserve(kHeadReserve);
    for (;;) {  // once, or again on another connection when a pooled one was found closed
      bool stale = false;
      {
        // A chunked body goes through Beast's serializer (it frames the chunks); any other
        // request is written as the header serialized here, then the body's bytes as they come.
        std::optional<http::request_serializer<http::buffer_body, Fields>> sr;
        if (p.chunked()) {
          sr.emplace(req);
        } else {
          header_out.clear();
          appendHeader(header_out, req);
        }
        bool header_sent = false;
        do {
          if (!p.is_done()) {
            req.body().data = relay.get();
            req.body().size = kRelay;
            setDeadline(lim.idle_timeout);
            auto [ec, n] = co_await http::async_read(client_, buffer_, p, kIo);
            bytes_in_ += n;
            if (ec == http::error::need_buffer) ec = {};
            if (ec) {
              // Nothing has been sent to the client yet, so it can still get a status.
              if (tookTimeout()) {
                finishInstance(408, false);
                co_return co_await refuse(408, "request body stalled", false);
              }
              if (isParseError(ec)) {
                const int status = statusForParseError(ec);
                finishInstance(status, false);
                co_return co_await refuse(status, ec.message(), false);
              }
              finishInstance(0, false);
              co_return false;
            }
            req.body().size = kRelay - req.body().size;
            req.body().data = relay.get();
            req.body().more = !p.is_done();
          } else {
            req.body().data = nullptr;
            req.body().size = 0;
            req.body().more = false;
          }
          setDeadline(lim.request_timeout);
          active_upstream_ = &up->socket;
          error_code wec;
          if (sr) {
            auto [ec, n] = co_await http::async_write(up->socket, *sr, kIo);
            wec = ec;
          } else {
            const std::array<asio::const_buffer, 2> out{
                asio::buffer(header_out.data(), header_sent ? 0 : header_out.size()),
                asio::buffer(req.body().data, req.body().size)};
            auto [ec, n] = co_await asio::async_write(up->socket, out, kIo);
            wec = ec;
            header_sent = true;
          }
          active_upstream_ = nullptr;
          if (wec == http::error::need_buffer) wec = {};
          if (wec) {
            const bool timed_out = tookTimeout();
            if (reused && resendable && !timed_out && connectionClosed(wec)) {
              stale = true;
              break;
            }
            upstreamFailed();
            finishInstance(timed_out ? 504 : 502, true);
            co_return co_await refuse(timed_out ? 504 : 502, "sending the request upstream failed",
                                      false);
          }
        } while (!p.is_done() || (sr ? !sr->is_done() : !header_sent));
      }

      // Read the response header, skipping interim 1xx responses.
      setDeadline(lim.request_timeout);
      for (bool interim = false; !stale; interim = true) {
        rp.emplace(ResponseParser::value_type::header_type{FieldAllocator<char>{w_.fieldPool()}});
        rp->header_limit(static_cast<std::uint32_t>(kMaxResponseHeader));
        rp->body_limit(boost::none);
        if (head) rp->skip(true);
        active_upstream_ = &up->socket;
        auto [ec, n] = co_await http::async_read_header(up->socket, up->buffer, *rp, kIo);
        active_upstream_ = nullptr;
        if (ec) {
          const bool timed_out = tookTimeout();
          if (reused && resendable && !timed_out && !interim && n == 0 && up->buffer.size() == 0 &&
              connectionClosed(ec)) {
            stale = true;
            break;
          }
          upstreamFailed();
          finishInstance(timed_out ? 504 : 502, true);
          co_return co_await refuse(timed_out ? 504 : 502,
                                    timed_out ? "upstream did not answer in time"
                                              : "upstream closed or sent an invalid response",
                                    client_keep_alive);
        }
        const auto status = static_cast<int>(rp->get().result_int());
        if (status >= 100 && status < 200 && status != 101) continue;
        break;
      }
      if (!stale) break;
      // The pooled connection had been closed by the upstream: another one to the same instance
      // (pooled, or new, after which no more attempts are made).
      up = w_.takeIdle(instance->pool_key, false);
      reused = up != nullptr;
      if (!up) {
        up = co_await connectTo(*instance, s, outcome, connect_timed_out);
        if (!up) {
          const int status = connect_timed_out ? 504 : 502;
          finishInstance(status, true);
          co_return co_await refuse(
              status, connect_timed_out ? "upstream connect timed out" : "upstream connect failed",
              client_keep_alive);
        }
      }
    }
    auto& res = rp->get();
    const auto status = static_cast<int>(res.result_int());
    if (res.find("X-Request-Id") == res.end()) {
      res.insert(http::field::unknown, "X-Request-Id", request_id_);
    }
    if (status == 101 && upgrade) {
      const std::string protocol(res[http::field::upgrade]);
      stripHopByHop(res);
      res.set(http::field::connection, "Upgrade");
      if (!protocol.empty()) res.set(http::field::upgrade, protocol);
      if (choice.set_cookie) {
        res.insert(http::field::set_cookie,
                   fmt::format("{}={}{}", listener->sticky->cookie, version.name,
                               listener->set_cookie_suffix));
      }
      res.version(11);
      http::response_serializer<http::buffer_body, Fields> rs{res};
      setDeadline(lim.request_timeout);
      auto [ec, n] = co_await http::async_write_header(client_, rs, kIo);
      bytes_out_ += n;
      finishInstance(ec ? 0 : 101, false);
      if (ec) co_return false;
      shard.tunnelOpened(version.series);
      co_await tunnel(*up, version.series);
      shard.tunnelClosed(version.series);
      co_return false;  // the connection ends with its tunnel
    }
    bool upstream_keep_alive = res.keep_alive();
    bool keep_alive = client_keep_alive;
    stripHopByHop(res);
    const bool no_body = head || status == 204 || status == 304 || status == 101;
    bool chunked_out = false;  // the body goes to the client in chunks
    if (rp->chunked()) {
      if (no_body) {
        res.set(http::field::transfer_encoding, "chunked");
      } else if (client_version >= 11) {
        res.chunked(true);
        chunked_out = true;
      } else {
        keep_alive = false;  // HTTP/1.0 client: the end of the body is the end of the connection
      }
    } else if (auto cl = rp->content_length()) {
      // The upstream's Content-Length stays as it is when it is already the plain number.
      const fmt::format_int digits(*cl);
      if (res[http::field::content_length] != std::string_view(digits.data(), digits.size())) {
        res.content_length(*cl);
      }
    } else if (!no_body) {
      upstream_keep_alive = false;  // body ends when the upstream closes
      if (client_version >= 11) {
        res.chunked(true);
        chunked_out = true;
      } else {
        keep_alive = false;
      }
    }
    if (choice.set_cookie) {
      res.insert(http::field::set_cookie,
                 fmt::format("{}={}{}", listener->sticky->cookie, version.name,
                             listener->set_cookie_suffix));
    }
    res.version(client_version >= 11 ? 11 : 10);
    // HTTP/1.1 keeps the connection by default: with Connection stripped above, there is
    // nothing to write then.
    if (!keep_alive || client_version < 11) res.keep_alive(keep_alive);

    // Relay the response: chunked through Beast's serializer; otherwise the header serialized
    // here, with the body's first piece gathered behind it in one write, then the body's bytes.
    std::optional<http::response_serializer<http::buffer_body, Fields>> rs;
    if (chunked_out) {
      rs.emplace(res);
    } else {
      header_out.clear();
      appendHeader(header_out, res);
    }
    bool header_sent = false;
    do {
      if (!no_body && !rp->is_done()) {
        res.body().data = relay.get();
        res.body().size = kRelay;
        // What the upstream already sent (often the whole body, with the header) is parsed
        // here; the read below only waits for what has not arrived yet.
        error_code ec;
        if (up->buffer.size() > 0) {
          rp->eager(true);
          up->buffer.consume(rp->put(up->buffer.data(), ec));
          if (ec == http::error::need_more) ec = {};
        }
        if (!ec && !rp->is_done() && res.body().size > 0) {
          setDeadline(lim.request_timeout);
          active_upstream_ = &up->socket;
          auto [rec, n] = co_await http::async_read(up->socket, up->buffer, *rp, kIo);
          active_upstream_ = nullptr;
          ec = rec;
        }
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
          // The client already has part of the response; all we can do is close.
          tookTimeout();
          upstreamFailed();
          finishInstance(0, false);
          co_return false;
        }
        res.body().size = kRelay - res.body().size;
        res.body().data = relay.get();
        res.body().more = !rp->is_done();
      } else {
        res.body().data = nullptr;
        res.body().size = 0;
        res.body().more = false;
      }
      setDeadline(lim.request_timeout);
      error_code wec;
      if (rs) {
        auto [ec, n] = co_await http::async_write(client_, *rs, kIo);
        wec = ec;
        bytes_out_ += n;
      } else {
        const std::array<asio::const_buffer, 2> out{
            asio::buffer(header_out.data(), header_sent ? 0 : header_out.size()),
            asio::buffer(res.body().data, res.body().size)};
        auto [ec, n] = co_await asio::async_write(client_, out, kIo);
        wec = ec;
        bytes_out_ += n;
        header_sent = true;
      }
      if (wec == http::error::need_buffer) wec = {};
      if (wec) {
        finishInstance(no_body ? status : 0, false);
        co_return false;
      }
    } while (rs ? !rp->is_done() || !rs->is_done() : !no_body && !rp->is_done());
    if (upstream_keep_alive && rp->is_done() && up->buffer.size() == 0) {
      w_.giveIdle(instance->pool_key, std::move(up), s.max_idle_upstream);
    }
    finishInstance(status, false);
    if (!keep_alive) {
      error_code ignored;
      lowest().shutdown(Socket::shutdown_send, ignored);
    }
    co_return keep_alive;
  }

  Worker& w_;
  std::shared_ptr<ssl::context> tls_;  // before client_, which uses it
  ClientStream client_;
  beast::flat_buffer buffer_;
  Timer timer_;
  SteadyClock::time_point deadline_{};
  SteadyClock::time_point armed_ = SteadyClock::time_point::max();
  // The longest the timer waits before it re-arms (see armTimer): the shortest of the
  // listener's per-request timeouts.
  SteadyClock::duration tick_ = std::min({ListenerLimits{}.header_timeout,
                                          ListenerLimits{}.idle_timeout,
                                          ListenerLimits{}.request_timeout});
  bool timed_out_ = false;
  bool open_ = true;
  Socket* active_upstream_ = nullptr;
  std::string listener_;
  std::string client_ip_;
  ListenerLimits limits_;  // of the request being read
  // The access-log line of the request being handled (see AccessLine in handleOne).
  int log_status_ = -1;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::string_view log_version_;   // into the request's table, which outlives the line
  std::string_view log_instance_;
  std::string request_id_;  // reused: no allocation per request once grown
};

// --- Worker --------------------------------------------------------------------------------

// One thread runs the io_context, and only it touches the worker's sockets: other threads
// reach them through post() (accept, closeAcceptor; the metrics listener's close) or after the
// thread has stopped. So the reactor's per-descriptor mutex is off (UNSAFE_IO); the scheduler
// and the reactor's registration keep theirs, for those posts and for sockets opened elsewhere.
Worker::Worker(SharedState& shared, std::uint64_t seed)
    : shared_(shared),
      ioc_(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO)),
      random_(seed) {}

Worker::~Worker() {
  stopAndJoin();
  // Pooled sockets belong to the io_context: close them before it goes.
  pools_.clear();
  // Destroy pending coroutines (and their sessions) while the rest of the worker still exists.
  ioc_.reset();
}

namespace {

// Every 250 ms: takes up a new table even when no request comes (so that pooled connections to
// instances that left it close, and they drain), and hands the buffered access-log lines to the
// log (so that a quiet router's lines still reach the file soon).
asio::awaitable<void> housekeepingEvery250ms(Worker& worker) {
  asio::steady_timer timer(worker.context());
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(250));
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
    (void)worker.snapshot();
    worker.flushAccessLog();
  }
}

}  // namespace

void Worker::startThread() {
  asio::co_spawn(*ioc_, housekeepingEvery250ms(*this), [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("router: the worker's housekeeping timer failed: {}", ex.what());
    }
  });
  thread_.emplace([this] {
    auto guard = asio::make_work_guard(*ioc_);
    ioc_->run();
  });
}

void Worker::stopAndJoin() {
  if (!thread_) return;
  ioc_->stop();
  thread_->join();
  thread_.reset();
}

namespace {

template <class S>
void spawnSession(Worker& worker, std::shared_ptr<S> session) {
  asio::co_spawn(worker.context(), session->run(), [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("router: session ended with an error: {}", ex.what());
    }
  });
}

asio::awaitable<void> acceptLoop(Worker& worker, std::shared_ptr<tcp::acceptor> acceptor,
                                 std::string listener, std::shared_ptr<ListenerTlsState> tls) {
  asio::steady_timer backoff(worker.context());
  for (;;) {
    // The connection's socket is bound to the worker's io_context (Socket), not any_io_executor.
    auto [ec, socket] = co_await acceptor->async_accept(worker.context(), kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      // Out of descriptors or similar: wait a little instead of spinning.
      spdlog::warn("router: accept on {} failed: {}", listener, ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (auto slot = tls->slot()) {
      spawnSession(worker, std::make_shared<Session<ssl::stream<Socket>>>(
                               worker, std::move(socket), listener, slot->context()));
    } else {
      spawnSession(worker, std::make_shared<Session<Socket>>(worker, std::move(socket),
                                                                  listener));
    }
  }
}

}  // namespace

void Worker::accept(std::shared_ptr<tcp::acceptor> acceptor, std::string listener,
                    std::shared_ptr<ListenerTlsState> tls) {
  asio::post(*ioc_, [this, acceptor = std::move(acceptor), listener = std::move(listener),
                     tls = std::move(tls)] {
    asio::co_spawn(*ioc_, acceptLoop(*this, acceptor, listener, tls), [](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("router: accept loop failed: {}", ex.what());
      }
    });
  });
}

void Worker::closeAcceptor(std::shared_ptr<tcp::acceptor> acceptor) {
  asio::post(*ioc_, [acceptor = std::move(acceptor)] {
    error_code ignored;
    acceptor->close(ignored);
  });
}

const std::shared_ptr<const CompiledTable>& Worker::snapshot() {
  const auto generation = shared_.generation.load(std::memory_order_acquire);
  if (generation != snapshot_generation_) {
    snapshot_ = std::atomic_load(&shared_.table);
    snapshot_generation_ = generation;
    access_log_.attach(std::atomic_load(&shared_.access_log));
    purgePools(*snapshot_);
  }
  return snapshot_;
}

void Worker::purgePools(const CompiledTable& table) {
  std::unordered_set<std::uint32_t> ready;
  for (const auto& l : table.listeners) {
    for (const auto& v : l.versions) {
      for (auto i : v.ready) ready.insert(v.instances[i].pool_key);
    }
  }
  for (std::size_t key = 0; key < pools_.size(); ++key) {
    if (ready.count(static_cast<std::uint32_t>(key)) == 0) pools_[key].clear();
  }
  ready_pools_.assign(ready_pools_.size(), false);
  for (const auto key : ready) {
    if (key >= ready_pools_.size()) ready_pools_.resize(key + 1, false);
    ready_pools_[key] = true;
  }
}

std::uint32_t Worker::nextRoundRobin(std::uint32_t version_series) {
  if (version_series >= round_robin_.size()) round_robin_.resize(version_series + 1);
  return round_robin_[version_series]++;
}

std::unique_ptr<Upstream> Worker::takeIdle(std::uint32_t pool_key, bool check) {
  if (pool_key >= pools_.size()) return nullptr;
  auto& pool = pools_[pool_key];
  while (!pool.empty()) {
    auto up = std::move(pool.back());
    pool.pop_back();
    if (!check) return up;
    // An idle upstream that closed (or sent something unasked) is useless: check before use.
    char byte = 0;
    const auto r = ::recv(up->socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return up;
  }
  return nullptr;
}

void Worker::giveIdle(std::uint32_t pool_key, std::unique_ptr<Upstream> upstream,
                      std::uint32_t max_idle) {
  if (pool_key >= ready_pools_.size() || !ready_pools_[pool_key]) return;  // closes it
  if (pool_key >= pools_.size()) pools_.resize(pool_key + 1);
  auto& pool = pools_[pool_key];
  if (pool.size() < max_idle) pool.push_back(std::move(upstream));
}

std::unique_ptr<char[]> Worker::takeRelayBuffer() {
  if (relay_buffers_.empty()) return std::make_unique<char[]>(kRelayBufferSize);
  auto b = std::move(relay_buffers_.back());
  relay_buffers_.pop_back();
  return b;
}

void Worker::returnRelayBuffer(std::unique_ptr<char[]> buffer) {
  if (relay_buffers_.size() < 256) relay_buffers_.push_back(std::move(buffer));
}

}  // namespace runway::router
