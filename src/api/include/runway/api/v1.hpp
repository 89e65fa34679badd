#pragma once

// The runway API, version 1 (docs/api.md): environments, deployments, commands, approvals,
// history, audit, tokens, configuration reload, the event stream, notifications, health and
// metrics.

#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "runway/api/http_server.hpp"
#include "runway/config/loader.hpp"
#include "runway/controller/controller.hpp"
#include "runway/core/clock.hpp"
#include "runway/incident/service.hpp"
#include "runway/notify/outbox.hpp"
#include "runway/runtime/runtime.hpp"
#include "runway/store/store.hpp"

namespace runway::api {

// Who leads the servers sharing this store (GET /api/v1/cluster, /readyz).
struct ClusterView {
  std::string store;      // "sqlite" (one server, always the leader) or "postgres"
  std::string server_id;  // this server
  std::string url;        // this server's advertised API address
  bool leading = false;
  std::optional<TimePoint> leading_since;  // when this server took the lease, while it leads
  // The leader named by the lease ("" when the lease is free or unknown) and its address.
  std::string leader_id;
  std::string leader_url;
  std::int64_t term = 0;                  // the lease's term (0: no lease, SQLite)
  std::optional<TimePoint> lease_expires_at;
  Duration lease_ttl{0};                  // 0: no lease
};

struct ApiContext {
  std::shared_ptr<store::Store> store;
  std::shared_ptr<controller::Controller> controller;
  std::shared_ptr<runtime::Runtime> runtime;
  std::shared_ptr<Clock> clock;
  // Reads the configuration again from where the server loaded it (reload).
  std::function<config::LoadResult()> load_config;
  // Whether the server is ready to take deployments (/readyz).
  std::function<bool()> ready;
  std::string version;  // runway's own version, for /api/v1/version
  // The notification outbox worker, for its counters on /metrics; may be null.
  std::shared_ptr<const notify::OutboxWorker> outbox;
  // More exposition text appended to /metrics (the router's runway_router_* families, which the
  // builtin AlertRules query); may be empty.
  std::function<std::string()> extra_metrics;
  // The HMAC-SHA256 key that signed Alertmanager-format posts may use instead of a token
  // ("" = only tokens). Never logged.
  std::string alerts_hmac_key;
  // Incidents (the incident routes, and alerts that open or join one).
  std::shared_ptr<incident::IncidentService> incidents;
  // Judges checklists for `POST /environments/{env}/checklist`: the runner the controller's
  // gate uses, so both judge alike. Null: that route answers 503.
  std::shared_ptr<controller::ChecklistRunner> checklist;
  // Who leads (several servers on one PostgreSQL store); null = a single server that leads.
  std::function<ClusterView()> cluster;
};

// The built-in roles. Approver roles (tech-lead, ...) are whatever the configuration names.
inline constexpr std::string_view kViewer = "viewer";
inline constexpr std::string_view kDeployer = "deployer";
inline constexpr std::string_view kAdmin = "admin";

// Every route of the API, each with the role it requires (see docs/api.md).
std::vector<Route> v1Routes(std::shared_ptr<ApiContext> context);

// The roles a token may hold under `config`: viewer, deployer, admin and every approver role
// an environment or approval step names.
std::vector<std::string> knownRoles(const config::Config& config);

}  // namespace runway::api
