#include <map>
#include <mutex>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "runway/router/admin_client.hpp"
#include "runway/runtime/router_backend.hpp"

namespace runway::runtime {

namespace {

class RouterTrafficBackend final : public TrafficBackend {
 public:
  RouterTrafficBackend(std::string socket, Duration timeout, router::ProxySettings settings)
      : client_(std::move(socket), timeout), settings_(settings) {}

  // TrafficBackend
  Result<void> setTable(const TrafficTable& table) override {
    std::lock_guard lock(mutex_);
    if (auto ok = client_.putTable(toRoutingTable(table, settings_)); !ok) return ok;
    ids_.clear();
    for (const auto& s : table.services) {
      for (const auto& e : s.endpoints) {
        ids_[{s.environment, s.service, e.port}] =
            routerInstanceId(s.environment, s.service, e.version, e.index);
      }
    }
    return {};
  }

  Result<std::vector<VersionStatistics>> statistics(std::string_view environment,
                                                    std::string_view service,
                                                    Duration window) override {
    std::lock_guard lock(mutex_);
    auto report = client_.stats(window);
    if (!report) return fail(report.error());
    return toVersionStatistics(*report, environment, service);
  }

  Result<std::int64_t> inFlight(std::string_view environment, std::string_view service,
                                int port) override {
    std::lock_guard lock(mutex_);
    const auto id = ids_.find({std::string(environment), std::string(service), port});
    if (id == ids_.end()) return std::int64_t{0};  // never routed: nothing in flight
    auto report = client_.stats(Duration{1'000});
    if (!report) return fail(report.error());
    const std::string listener = fmt::format("{}.{}", service, environment);
    for (const auto& v : report->versions) {
      if (v.listener != listener) continue;
      const auto it = v.instances.find(id->second);
      if (it != v.instances.end()) return it->second.in_flight;
    }
    return std::int64_t{0};
  }

 private:
  std::mutex mutex_;  // AdminClient is thread-compatible, not thread-safe
  router::AdminClient client_;
  router::ProxySettings settings_;
  std::map<std::tuple<std::string, std::string, int>, std::string> ids_;
};

}  // namespace

std::unique_ptr<TrafficBackend> routerTrafficBackend(std::string admin_socket, Duration timeout,
                                                     router::ProxySettings settings) {
  return std::make_unique<RouterTrafficBackend>(std::move(admin_socket), timeout, settings);
}

}  // namespace runway::runtime
