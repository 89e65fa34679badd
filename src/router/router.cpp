#include "runway/router/router.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "admin_server.hpp"
#include "metrics_listener.hpp"
#include "proxy.hpp"
#include "routing.hpp"
#include "stats_store.hpp"
#include "tls.hpp"

namespace runway::router {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr const char* kTableFile = "table.json";

// Writes `content` to `path` so that readers see either the old or the new file, never a part.
Result<void> writeFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(ErrorCode::Internal, fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  }
  std::size_t off = 0;
  while (off < content.size()) {
    const auto n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return fail(ErrorCode::Internal, fmt::format("cannot write {}: {}", tmp, std::strerror(err)));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return fail(ErrorCode::Internal, fmt::format("cannot sync {}: {}", tmp, std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(ErrorCode::Internal,
                fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(errno)));
  }
  const auto dir = std::filesystem::path(path).parent_path();
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

class RouterImpl final : public Router {
 public:
  explicit RouterImpl(RouterOptions options) : options_(std::move(options)) {
    shared_.clock = options_.clock ? options_.clock : systemClock();
    std::atomic_store(&shared_.table, compileTable(RoutingTable{}, registry_));
  }

  ~RouterImpl() override {
    {
      std::lock_guard lock(watch_mu_);
      watch_stop_ = true;
    }
    watch_cv_.notify_all();
    if (tls_watcher_.joinable()) tls_watcher_.join();
    admin_.reset();
    metrics_listener_.reset();
    for (auto& w : workers_) w->stopAndJoin();
    for (auto& w : workers_) w->flushAccessLog();
    std::lock_guard lock(mu_);
    bindings_.clear();
    workers_.clear();
  }

  Result<void> init() {
    // Before binding any listener: a second router must not take a share of the first's ports.
    if (!options_.admin_socket.empty()) {
      if (auto r = checkAdminSocketFree(options_.admin_socket); !r) return r;
    }
    unsigned threads = options_.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    std::random_device rd;
    for (unsigned i = 0; i < threads; ++i) {
      const std::uint64_t seed = (std::uint64_t{rd()} << 32) ^ rd() ^ i;
      workers_.push_back(std::make_unique<Worker>(shared_, seed));
    }
    for (auto& w : workers_) w->startThread();
    tls_watcher_ = std::thread([this] { watchTlsFiles(); });
    if (!options_.state_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(options_.state_dir, ec);
      if (ec) {
        return fail(ErrorCode::Unavailable, fmt::format("cannot create state directory {}: {}",
                                                        options_.state_dir, ec.message()));
      }
      const auto path = statePath();
      if (std::filesystem::exists(path)) {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        auto table = tableFromJson(text.str());
        if (!table) {
          return fail(ErrorCode::InvalidArgument,
                      fmt::format("persisted table {}: {}", path, table.error().message));
        }
        if (auto r = setTable(*table); !r) return r;
        spdlog::info("router: serving persisted table revision {} from {}", table->revision, path);
      }
    }
    if (!options_.admin_socket.empty()) {
      auto admin = AdminServer::start(*this, options_.admin_socket);
      if (!admin) return fail(admin.error());
      admin_ = std::move(*admin);
    }
    return {};
  }

  Result<void> setTable(const RoutingTable& table) override {
    if (auto r = validate(table); !r) return r;
    std::lock_guard lock(mu_);
    auto compiled = compileTable(table, registry_);
    std::map<std::string, Binding> next;
    std::vector<std::string> opened;
    std::vector<std::pair<std::shared_ptr<ListenerTlsState>, std::shared_ptr<TlsSlot>>> tls_changes;
    for (const auto& l : table.listeners) {
      const auto name = l.name();
      auto it = bindings_.find(name);
      // TLS on, off or other files: the new slot is loaded now (a file it cannot use refuses
      // the table) and installed only when the table is (see tls_changes), on the same
      // acceptors.
      const bool tls_same = it != bindings_.end() && it->second.tls_files == l.tls;
      std::shared_ptr<TlsSlot> tls_slot;
      if (!tls_same && l.tls) {
        auto loaded = TlsSlot::load(*l.tls);
        if (!loaded) {
          for (const auto& n : opened) closeBinding(next[n]);
          return fail(ErrorCode::InvalidArgument,
                      fmt::format("listener {}: {}", name, loaded.error().message));
        }
        tls_slot = std::move(*loaded);
      }
      // Same address, and the same port or the one port 0 was given: keep the acceptors, so
      // that no connection waiting in a closing accept queue is reset.
      if (it != bindings_.end() && it->second.bind_address == l.bind_address &&
          (it->second.configured_port == l.port || it->second.bound_port == l.port)) {
        auto& kept = next.emplace(name, it->second).first->second;
        if (!tls_same) {
          tls_changes.push_back({kept.tls, std::move(tls_slot)});
          kept.tls_files = l.tls;
        }
        continue;
      }
      auto b = bind(l);
      if (!b) {
        for (const auto& n : opened) closeBinding(next[n]);
        return fail(b.error());
      }
      b->tls = std::make_shared<ListenerTlsState>();
      b->tls_files = l.tls;
      tls_changes.push_back({b->tls, std::move(tls_slot)});
      next.emplace(name, std::move(*b));
      opened.push_back(name);
    }
    // The metrics listener: bound before the swap like the listeners, kept while its address
    // is unchanged.
    std::unique_ptr<MetricsListener> new_metrics;
    const bool metrics_changed = table.settings.metrics_address != metrics_address_;
    if (metrics_changed && !table.settings.metrics_address.empty()) {
      auto hp = parseHostPort(table.settings.metrics_address);  // validate() accepted it
      auto started = hp ? MetricsListener::start(workers_.front()->context(), hp->first, hp->second,
                                                 [this] { return metrics(); })
                        : Result<std::unique_ptr<MetricsListener>>(fail(hp.error()));
      if (!started) {
        for (const auto& n : opened) closeBinding(next[n]);
        return fail(started.error());
      }
      new_metrics = std::move(*started);
    }
    // The access log: opened before the swap (a path that cannot be opened refuses the
    // table), kept while its settings are unchanged.
    std::shared_ptr<AccessLog> access_log = std::atomic_load(&shared_.access_log);
    if (table.settings.access_log != table_.settings.access_log) {
      access_log.reset();
      if (!table.settings.access_log.path.empty()) {
        auto opened_log = AccessLog::open(table.settings.access_log);
        if (!opened_log) {
          for (const auto& n : opened) closeBinding(next[n]);
          return fail(opened_log.error());
        }
        access_log = std::move(*opened_log);
      }
    }
    if (!options_.state_dir.empty()) {
      if (auto r = writeFileAtomically(statePath(), toJson(table)); !r) {
        for (const auto& n : opened) closeBinding(next[n]);
        return r;
      }
    }
    if (metrics_changed) {
      metrics_listener_ = std::move(new_metrics);  // closes the old one
      metrics_address_ = table.settings.metrics_address;
      if (metrics_listener_) {
        spdlog::info("router: metrics on http://{}/metrics (port {})", metrics_address_,
                     metrics_listener_->port());
      }
    }
    if (access_log != std::atomic_load(&shared_.access_log)) {
      if (access_log) spdlog::info("router: access log {}", table.settings.access_log.path);
      std::atomic_store(&shared_.access_log, access_log);
    }
    for (auto& [state, slot] : tls_changes) state->set(std::move(slot));
    std::atomic_store(&shared_.table, std::shared_ptr<const CompiledTable>(compiled));
    shared_.generation.fetch_add(1, std::memory_order_release);
    for (const auto& n : opened) {
      if (!accepting_) break;
      auto& b = next[n];
      for (std::size_t i = 0; i < workers_.size(); ++i) {
        workers_[i]->accept(b.acceptors[i], n, b.tls);
      }
    }
    for (auto& [name, b] : bindings_) {
      auto it = next.find(name);
      if (it == next.end() || it->second.acceptors != b.acceptors) closeBinding(b);
    }
    bindings_ = std::move(next);
    table_ = table;
    return {};
  }

  RoutingTable table() const override {
    std::lock_guard lock(mu_);
    return table_;
  }

  Result<void> drain(std::string_view instance_id) override {
    RoutingTable t = table();
    bool found = false;
    for (auto& l : t.listeners) {
      for (auto& v : l.versions) {
        for (auto& in : v.instances) {
          if (in.id == instance_id) {
            in.state = InstanceState::Draining;
            found = true;
          }
        }
      }
    }
    if (!found) {
      return fail(ErrorCode::NotFound, fmt::format("no instance \"{}\" in the routing table",
                                                   instance_id));
    }
    return setTable(t);
  }

  StatsReport stats(Duration window) const override {
    return mergeStats(shards(), registry_, table(), shared_.clock->now(), window);
  }

  std::string metrics() const override {
    return prometheusText(shards(), registry_, table());
  }

  std::optional<std::uint16_t> boundPort(std::string_view listener) const override {
    std::lock_guard lock(mu_);
    auto it = bindings_.find(std::string(listener));
    if (it == bindings_.end()) return std::nullopt;
    return it->second.bound_port;
  }

  std::optional<std::uint16_t> boundMetricsPort() const override {
    std::lock_guard lock(mu_);
    if (!metrics_listener_) return std::nullopt;
    return metrics_listener_->port();
  }

  void reloadTls() override { reloadTlsFiles(true); }

  void stopAccepting() override {
    std::lock_guard lock(mu_);
    accepting_ = false;
    for (auto& [name, b] : bindings_) closeBinding(b);
  }

  std::int64_t activeRequests() const override {
    std::int64_t n = 0;
    for (const auto& w : workers_) n += w->activeRequests();
    return n;
  }

 private:
  struct Binding {
    std::string bind_address;
    std::uint16_t configured_port = 0;
    std::uint16_t bound_port = 0;
    std::vector<std::shared_ptr<tcp::acceptor>> acceptors;  // one per worker
    std::optional<ListenerTls> tls_files;
    std::shared_ptr<ListenerTlsState> tls;  // shared by the binding's accept loops
  };

  // Every second: each TLS listener's files, loaded again when they changed.
  void watchTlsFiles() {
    std::unique_lock lock(watch_mu_);
    while (!watch_stop_) {
      watch_cv_.wait_for(lock, std::chrono::seconds(1));
      if (watch_stop_) break;
      lock.unlock();
      reloadTlsFiles(false);
      lock.lock();
    }
  }

  void reloadTlsFiles(bool force) {
    std::vector<std::pair<std::string, std::shared_ptr<TlsSlot>>> slots;
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, b] : bindings_) {
        if (auto slot = b.tls->slot()) slots.emplace_back(name, std::move(slot));
      }
    }
    for (const auto& [name, slot] : slots) {
      auto r = slot->reloadIfChanged(force);
      if (!r) {
        spdlog::warn("router: listener {}: keeping the TLS certificate in use: {}", name,
                     r.error().message);
      } else if (*r) {
        spdlog::info("router: listener {}: TLS certificate and key loaded again from {}", name,
                     slot->files().certificate_file);
      }
    }
  }

  std::string statePath() const { return options_.state_dir + "/" + kTableFile; }

  std::vector<const StatsShard*> shards() const {
    std::vector<const StatsShard*> out;
    for (const auto& w : workers_) out.push_back(&w->stats());
    return out;
  }

  Result<Binding> bind(const Listener& l) {
    Binding b;
    b.bind_address = l.bind_address;
    b.configured_port = l.port;
    std::uint16_t port = l.port;
    for (auto& w : workers_) {
      auto acc = std::make_shared<tcp::acceptor>(w->context());
      error_code ec;
      const tcp::endpoint ep(asio::ip::make_address(l.bind_address), port);
      acc->open(ep.protocol(), ec);
      if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) {
        // One acceptor per worker on the same port; the kernel spreads connections.
        const int one = 1;
        if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
          ec = error_code(errno, boost::system::system_category());
        }
      }
      if (!ec) acc->bind(ep, ec);
      if (!ec) acc->listen(4096, ec);
      if (ec) {
        for (auto& a : b.acceptors) a->close(ec);
        return fail(ErrorCode::Conflict, fmt::format("listener {}: cannot listen on {}:{}: {}",
                                                     l.name(), l.bind_address, port, ec.message()));
      }
      port = acc->local_endpoint().port();
      b.acceptors.push_back(std::move(acc));
    }
    b.bound_port = port;
    return b;
  }

  void closeBinding(Binding& b) {
    for (std::size_t i = 0; i < b.acceptors.size() && i < workers_.size(); ++i) {
      workers_[i]->closeAcceptor(b.acceptors[i]);
    }
  }

  RouterOptions options_;
  SeriesRegistry registry_;
  SharedState shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex mu_;
  RoutingTable table_;
  std::map<std::string, Binding> bindings_;
  bool accepting_ = true;
  std::unique_ptr<AdminServer> admin_;
  std::string metrics_address_;  // as configured ("" = none)
  std::unique_ptr<MetricsListener> metrics_listener_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;
  std::thread tls_watcher_;
};

}  // namespace

Result<std::unique_ptr<Router>> Router::start(RouterOptions options) {
  auto router = std::make_unique<RouterImpl>(std::move(options));
  if (auto r = router->init(); !r) return fail(r.error());
  return std::unique_ptr<Router>(std::move(router));
}

}  // namespace runway::router
