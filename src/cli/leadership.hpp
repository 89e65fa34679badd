#pragma once

// What `runway serve` needs to run as one of several servers on one PostgreSQL store, only one
// of them leading (controller/leader_election.hpp):
//   - LeaderOnlyController and LeaderOnlyRuntime stand where the API expects the controller
//     and the local runtime: they pass calls to the leader's controller and local runtime while
//     this server leads, and answer Unavailable ("this server does not lead") otherwise. The
//     configuration (for reads) is kept here, so a follower serves the read API.
//   - forwardWritesToLeader() wraps the API's write routes: on a follower a write is sent on to
//     the leader's advertised address and its answer returned as is (docs/operations.md says
//     why forwarding rather than a redirect).
//   - the lease holder string: "SERVER-ID URL NONCE" (server id and advertised API address for
//     /api/v1/cluster; a nonce so that two processes never share a holder, hence a term).

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runway/api/http_server.hpp"
#include "runway/controller/controller.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::cli {

// The parts of a lease holder string.
struct LeaseHolder {
  std::string server_id;
  std::string url;  // the advertised API address
};
std::string formatLeaseHolder(const std::string& server_id, const std::string& url, const std::string& nonce);
LeaseHolder parseLeaseHolder(const std::string& holder);

class LeaderOnlyController final : public controller::Controller {
 public:
  explicit LeaderOnlyController(std::shared_ptr<const config::Config> config) : config_(std::move(config)) {}
  // The leader's controller (nullptr: this server does not lead, or no longer).
  void set(std::shared_ptr<controller::Controller> inner);

  // controller::Controller
  Result<controller::Admitted> deploy(controller::DeployRequest request) override;
  Result<controller::Admitted> rollback(controller::RollbackRequest request) override;
  Result<std::string> command(controller::CommandRequest request) override;
  Result<std::string> decide(controller::ApprovalRequest request) override;
  Result<std::string> waive(controller::WaiverRequest request) override;
  void reload(std::shared_ptr<const config::Config> config) override;
  std::shared_ptr<const config::Config> config() const override;
  controller::ControllerMetrics metrics() const override;
  void stop() override;

 private:
  Result<std::shared_ptr<controller::Controller>> leader() const;
  mutable std::mutex mutex_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<controller::Controller> inner_;
};

class LeaderOnlyRuntime final : public runtime::Runtime {
 public:
  // The leader's local runtime (nullptr: this server does not lead). The event handler set
  // last is handed to each new one.
  void set(std::shared_ptr<runtime::Runtime> inner);

  // runtime::Runtime
  Result<void> startVersion(const config::Environment& environment, const config::Service& service,
                            std::string_view version, int instances,
                            const std::map<std::string, std::string>& artifacts) override;
  Result<void> startVersionFor(std::string_view deployment_id, const config::Environment& environment,
                               const config::Service& service, std::string_view version, int instances,
                               const std::map<std::string, std::string>& artifacts) override;
  Result<void> setTraffic(std::string_view environment, std::string_view service,
                          const runtime::TrafficSplit& split) override;
  Result<runtime::TrafficSplit> traffic(std::string_view environment, std::string_view service) const override;
  Result<std::string> serviceAddress(std::string_view environment, std::string_view service) const override;
  Result<void> scale(std::string_view environment, std::string_view service, std::string_view version,
                     int instances) override;
  Result<std::vector<runtime::InstanceInfo>> instances(std::string_view environment,
                                                       std::string_view service) const override;
  Result<runtime::VersionStatus> versionStatus(std::string_view environment, std::string_view service,
                                               std::string_view version) const override;
  Result<void> retireVersion(std::string_view environment, std::string_view service, std::string_view version,
                             Duration grace) override;
  Result<std::vector<runtime::VersionStatistics>> statistics(std::string_view environment,
                                                             std::string_view service, Duration window) override;
  Result<void> retainOnly(std::string_view environment,
                          const std::vector<std::pair<std::string, std::string>>& keep, Duration grace) override;
  std::optional<std::string> instanceLogPath(std::string_view environment, std::string_view service,
                                             std::string_view version, int index) const override;
  Result<void> stopAll(Duration grace) override;
  void setEventHandler(runtime::EventHandler handler) override;

 private:
  Result<std::shared_ptr<runtime::Runtime>> leader() const;
  mutable std::mutex mutex_;
  std::shared_ptr<runtime::Runtime> inner_;
  runtime::EventHandler handler_;
};

// Who leads, as a follower forwards to it: nullopt when no live lease names a leader.
struct LeaderAddress {
  std::string server_id;
  std::string url;
};

// Wraps every write route under /api/v1/ (not GET or HEAD; not the dashboard's own session
// route, whose sessions live in the server that made them): when `leading()` is false, the
// request is sent to `leader()`'s URL with its method, path, query, body and headers (the
// bearer token included: the leader's address is the one it advertised in the lease), marked
// X-Runway-Forwarded-By, and the leader's answer is returned. A forwarded request that reaches
// a server that does not lead is not forwarded again (503). No leader, or one that does not
// answer: 503 unavailable (Retry-After: 1). A write authenticated by a dashboard session
// cookie (no Authorization header) cannot be forwarded (the session is this server's): 503
// naming the leader. Cookies are never forwarded.
void forwardWritesToLeader(std::vector<api::Route>& routes, std::string server_id,
                           std::function<bool()> leading, std::function<std::optional<LeaderAddress>()> leader);

}  // namespace runway::cli
