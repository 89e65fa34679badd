#pragma once

// The request path: one Worker per thread, each with its own io_context, acceptors (one per
// listener, SO_REUSEPORT), upstream connection pools, statistics shard and random source.
// Nothing here is shared between workers except the table snapshot, which is immutable.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "access_log.hpp"
#include "field_pool.hpp"
#include "routing.hpp"
#include "runway/core/clock.hpp"
#include "stats_store.hpp"

namespace runway::router {

// What the workers read from the router. `table` is only accessed through std::atomic_load /
// std::atomic_store; `generation` is bumped after each store so that workers notice a new table
// with one relaxed load per request.
struct SharedState {
  std::shared_ptr<const CompiledTable> table;
  std::atomic<std::uint64_t> generation{0};
  std::shared_ptr<Clock> clock;
  // The access log of the settings of `table`, or null; std::atomic_load / std::atomic_store
  // only, stored before `generation` is bumped.
  std::shared_ptr<AccessLog> access_log;
};

// The request path's executor and sockets: bound to the worker's io_context by type.
using Executor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;

// A connection to an instance. Counted in the instance's open connections (statistics) from
// connected() until it is destroyed. Worker thread only.
struct Upstream {
  Upstream(boost::asio::io_context& ioc, StatsShard& stats) : socket(ioc), shard(stats) {}
  ~Upstream() {
    if (series >= 0) shard.connectionClosed(static_cast<std::uint32_t>(series));
  }
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;
  void connected(std::uint32_t instance_series) {
    series = instance_series;
    shard.connectionOpened(instance_series);
  }
  Socket socket;
  boost::beast::flat_buffer buffer;
  StatsShard& shard;
  std::int64_t series = -1;
};

template <class ClientStream>
class Session;
class ListenerTlsState;

class Worker {
 public:
  Worker(SharedState& shared, std::uint64_t seed);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  boost::asio::io_context& context() { return *ioc_; }
  void startThread();
  // Stops the io_context and joins the thread; open connections are closed.
  void stopAndJoin();

  // Starts accepting connections for `listener` on this worker's thread; each connection
  // terminates TLS with the context of the moment when `tls` has a slot then. Thread-safe.
  void accept(std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor, std::string listener,
              std::shared_ptr<ListenerTlsState> tls);
  // Closes the acceptor on this worker's thread. Thread-safe.
  void closeAcceptor(std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor);

  const StatsShard& stats() const { return stats_; }
  std::int64_t activeRequests() const { return active_requests_.load(std::memory_order_relaxed); }

  // Worker thread only, from here on.
  const std::shared_ptr<const CompiledTable>& snapshot();
  StatsShard& shard() { return stats_; }
  FastRandom& random() { return random_; }
  std::uint32_t nextRoundRobin(std::uint32_t version_series);
  // A pooled connection to the instance, or null. With `check`, each is first checked (a
  // system call) to have neither been closed by the upstream nor received anything unasked.
  std::unique_ptr<Upstream> takeIdle(std::uint32_t pool_key, bool check);
  // Pools the connection for the next request to its instance, unless the instance is no
  // longer Ready in the snapshot (draining or removed: the connection closes, so that the
  // instance drains) or its pool is full.
  void giveIdle(std::uint32_t pool_key, std::unique_ptr<Upstream> upstream, std::uint32_t max_idle);
  std::unique_ptr<char[]> takeRelayBuffer();
  void returnRelayBuffer(std::unique_ptr<char[]> buffer);
  std::int64_t nowSecond() const { return toUnixMillis(shared_.clock->now()) / 1000; }
  std::int64_t nowMillis() const { return toUnixMillis(shared_.clock->now()); }
  AccessLogBuffer& accessLog() { return access_log_; }
  // The memory of the relayed requests' and responses' header fields.
  FieldPool& fieldPool() { return field_pool_; }
  // Hands the buffered access-log lines to the log. REQUIRES: the worker's thread is stopped
  // (or this is called on it).
  void flushAccessLog() { access_log_.flush(); }
  void requestStarted() { active_requests_.store(activeRequests() + 1, std::memory_order_relaxed); }
  void requestFinished() { active_requests_.store(activeRequests() - 1, std::memory_order_relaxed); }

  static constexpr std::size_t kRelayBufferSize = 16 * 1024;

 private:
  void purgePools(const CompiledTable& table);

  SharedState& shared_;
  // Before ioc_: the fields of the coroutines ioc_ destroys go back to it.
  FieldPool field_pool_;
  std::unique_ptr<boost::asio::io_context> ioc_;
  std::optional<std::thread> thread_;
  std::shared_ptr<const CompiledTable> snapshot_;
  std::uint64_t snapshot_generation_ = ~std::uint64_t{0};
  StatsShard stats_;
  FastRandom random_;
  std::vector<std::uint32_t> round_robin_;
  std::vector<std::vector<std::unique_ptr<Upstream>>> pools_;
  std::vector<bool> ready_pools_;  // by pool key: an instance of the snapshot that is Ready
  std::vector<std::unique_ptr<char[]>> relay_buffers_;
  AccessLogBuffer access_log_;
  std::atomic<std::int64_t> active_requests_{0};
};

}  // namespace runway::router
