#include "leadership.hpp"

#include <algorithm>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/http/client.hpp"

namespace runway::cli {

namespace {

Error notLeading() {
  return Error{ErrorCode::Unavailable,
               "this server does not lead: the leader's controller and runtime do this (GET /api/v1/cluster "
               "says which server leads)"};
}

// Headers that describe one hop, not the request: never passed on either way.
bool hopByHop(const std::string& name) {
  static const std::set<std::string> names = {"host",    "connection",        "content-length", "keep-alive",
                                              "upgrade", "transfer-encoding", "te",             "trailer",
                                              "proxy-connection", "x-request-id", "cookie", "set-cookie"};
  return names.count(name) != 0;
}

// Percent-encodes each segment of a decoded path again.
std::string encodePath(const std::string& path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string::npos ? path.size() : slash;
    out += http::urlEncode(std::string_view(path).substr(start, end - start));
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

constexpr const char* kForwardedBy = "x-runway-forwarded-by";

}  // namespace

std::string formatLeaseHolder(const std::string& server_id, const std::string& url, const std::string& nonce) {
  return fmt::format("{} {} {}", server_id, url, nonce);
}

LeaseHolder parseLeaseHolder(const std::string& holder) {
  const auto first = holder.find(' ');
  if (first == std::string::npos) return LeaseHolder{holder, ""};
  const auto second = holder.find(' ', first + 1);
  return LeaseHolder{holder.substr(0, first),
                     holder.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1)};
}

// LeaderOnlyController

void LeaderOnlyController::set(std::shared_ptr<controller::Controller> inner) {
  std::lock_guard lock(mutex_);
  inner_ = std::move(inner);
}

Result<std::shared_ptr<controller::Controller>> LeaderOnlyController::leader() const {
  std::lock_guard lock(mutex_);
  if (!inner_) return tl::unexpected(notLeading());
  return inner_;
}

Result<controller::Admitted> LeaderOnlyController::deploy(controller::DeployRequest request) {
  auto c = leader();
  if (!c) return tl::unexpected(c.error());
  return (*c)->deploy(std::move(request));
}
Result<controller::Admitted> LeaderOnlyController::rollback(controller::RollbackRequest request) {
  auto c = leader();
  if (!c) return tl::unexpected(c.error());
  return (*c)->rollback(std::move(request));
}
Result<std::string> LeaderOnlyController::command(controller::CommandRequest request) {
  auto c = leader();
  if (!c) return tl::unexpected(c.error());
  return (*c)->command(std::move(request));
}
Result<std::string> LeaderOnlyController::decide(controller::ApprovalRequest request) {
  auto c = leader();
  if (!c) return tl::unexpected(c.error());
  return (*c)->decide(std::move(request));
}
Result<std::string> LeaderOnlyController::waive(controller::WaiverRequest request) {
  auto c = leader();
  if (!c) return tl::unexpected(c.error());
  return (*c)->waive(std::move(request));
}
void LeaderOnlyController::reload(std::shared_ptr<const config::Config> config) {
  std::shared_ptr<controller::Controller> inner;
  {
    std::lock_guard lock(mutex_);
    config_ = config;
    inner = inner_;
  }
  if (inner) inner->reload(std::move(config));
}
std::shared_ptr<const config::Config> LeaderOnlyController::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}
controller::ControllerMetrics LeaderOnlyController::metrics() const {
  auto c = leader();
  return c ? (*c)->metrics() : controller::ControllerMetrics{};
}
void LeaderOnlyController::stop() {
  if (auto c = leader()) (*c)->stop();
}

// LeaderOnlyRuntime

void LeaderOnlyRuntime::set(std::shared_ptr<runtime::Runtime> inner) {
  std::lock_guard lock(mutex_);
  inner_ = std::move(inner);
  if (inner_) inner_->setEventHandler(handler_);
}

Result<std::shared_ptr<runtime::Runtime>> LeaderOnlyRuntime::leader() const {
  std::lock_guard lock(mutex_);
  if (!inner_) return tl::unexpected(notLeading());
  return inner_;
}

#define RUNWAY_LEADER_RUNTIME(call)          \
  auto r = leader();                         \
  if (!r) return tl::unexpected(r.error()); \
  return (*r)->call

Result<void> LeaderOnlyRuntime::startVersion(const config::Environment& environment, const config::Service& service,
                                             std::string_view version, int instances,
                                             const std::map<std::string, std::string>& artifacts) {
  RUNWAY_LEADER_RUNTIME(startVersion(environment, service, version, instances, artifacts));
}
Result<void> LeaderOnlyRuntime::startVersionFor(std::string_view deployment_id, const config::Environment& environment,
                                                const config::Service& service, std::string_view version,
                                                int instances, const std::map<std::string, std::string>& artifacts) {
  RUNWAY_LEADER_RUNTIME(startVersionFor(deployment_id, environment, service, version, instances, artifacts));
}
Result<void> LeaderOnlyRuntime::setTraffic(std::string_view environment, std::string_view service,
                                           const runtime::TrafficSplit& split) {
  RUNWAY_LEADER_RUNTIME(setTraffic(environment, service, split));
}
Result<runtime::TrafficSplit> LeaderOnlyRuntime::traffic(std::string_view environment,
                                                         std::string_view service) const {
  RUNWAY_LEADER_RUNTIME(traffic(environment, service));
}
Result<std::string> LeaderOnlyRuntime::serviceAddress(std::string_view environment, std::string_view service) const {
  RUNWAY_LEADER_RUNTIME(serviceAddress(environment, service));
}
Result<void> LeaderOnlyRuntime::scale(std::string_view environment, std::string_view service,
                                      std::string_view version, int instances) {
  RUNWAY_LEADER_RUNTIME(scale(environment, service, version, instances));
}
Result<std::vector<runtime::InstanceInfo>> LeaderOnlyRuntime::instances(std::string_view environment,
                                                                        std::string_view service) const {
  RUNWAY_LEADER_RUNTIME(instances(environment, service));
}
Result<runtime::VersionStatus> LeaderOnlyRuntime::versionStatus(std::string_view environment,
                                                                std::string_view service,
                                                                std::string_view version) const {
  RUNWAY_LEADER_RUNTIME(versionStatus(environment, service, version));
}
Result<void> LeaderOnlyRuntime::retireVersion(std::string_view environment, std::string_view service,
                                              std::string_view version, Duration grace) {
  RUNWAY_LEADER_RUNTIME(retireVersion(environment, service, version, grace));
}
Result<std::vector<runtime::VersionStatistics>> LeaderOnlyRuntime::statistics(std::string_view environment,
                                                                              std::string_view service,
                                                                              Duration window) {
  RUNWAY_LEADER_RUNTIME(statistics(environment, service, window));
}
Result<void> LeaderOnlyRuntime::retainOnly(std::string_view environment,
                                           const std::vector<std::pair<std::string, std::string>>& keep,
                                           Duration grace) {
  RUNWAY_LEADER_RUNTIME(retainOnly(environment, keep, grace));
}
Result<void> LeaderOnlyRuntime::stopAll(Duration grace) { RUNWAY_LEADER_RUNTIME(stopAll(grace)); }

#undef RUNWAY_LEADER_RUNTIME

std::optional<std::string> LeaderOnlyRuntime::instanceLogPath(std::string_view environment,
                                                              std::string_view service,
                                                              std::string_view version, int index) const {
  auto r = leader();
  if (!r) return std::nullopt;
  return (*r)->instanceLogPath(environment, service, version, index);
}

void LeaderOnlyRuntime::setEventHandler(runtime::EventHandler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
  if (inner_) inner_->setEventHandler(handler_);
}

// Forwarding

void forwardWritesToLeader(std::vector<api::Route>& routes, std::string server_id, std::function<bool()> leading,
                           std::function<std::optional<LeaderAddress>()> leader) {
  for (auto& route : routes) {
    if (route.method == "GET" || route.method == "HEAD") continue;
    if (!route.pattern.starts_with("/api/v1/") || route.pattern == "/api/v1/session") continue;
    route.handler = [inner = std::move(route.handler), server_id, leading,
                     leader](api::HttpRequest& req) -> api::HttpResponse {
      if (leading()) {
        api::HttpResponse resp = inner(req);
        // Between winning the lease and the term's controller running (or while a term ends),
        // the leader answers 503 (notLeading()): a moment's wait, say when to try again.
        const bool says_when = std::any_of(resp.headers.begin(), resp.headers.end(),
                                           [](const auto& h) { return h.first == "Retry-After"; });
        if (resp.status == 503 && !says_when) resp.headers.emplace_back("Retry-After", "1");
        return resp;
      }
      const auto unavailable = [&](std::string message, const std::string& leader_url) {
        boost::json::object details;
        if (!leader_url.empty()) details["leader"] = leader_url;
        auto resp = api::errorResponse(Error{ErrorCode::Unavailable, std::move(message)}, req.request_id,
                                       boost::json::serialize(details));
        resp.headers.emplace_back("Retry-After", "1");
        return resp;
      };
      if (!req.header(kForwardedBy).empty()) {
        return unavailable("this server does not lead (the lease changed hands while the request was forwarded "
                           "here by " + req.header(kForwardedBy) + "); try again",
                           "");
      }
      const auto target = leader();
      if (!target || target->url.empty()) {
        return unavailable("no server leads right now (an election is under way); try again", "");
      }
      // Signed in by a dashboard session (a cookie, no bearer token): the session is this
      // server's. (An Alertmanager post signed with the HMAC key has neither: it is forwarded.)
      if (req.header("authorization").empty() && !req.header("cookie").empty()) {
        return unavailable("this server does not lead and a dashboard session cannot be forwarded: sign in on the "
                           "leader, " + target->url,
                           target->url);
      }
      http::Request out;
      out.method = req.method;
      out.url = target->url + encodePath(req.path);
      char sep = '?';
      for (const auto& [k, v] : req.query) {
        out.url += sep + http::urlEncode(k) + "=" + http::urlEncode(v);
        sep = '&';
      }
      for (const auto& [name, value] : req.headers) {
        if (!hopByHop(name)) out.headers[name] = value;
      }
      out.headers["X-Request-Id"] = req.request_id;
      out.headers["X-Runway-Forwarded-By"] = server_id;
      out.body = req.body;
      out.timeout = std::chrono::seconds(60);
      out.connect_timeout = std::chrono::seconds(2);
      // The leader's address is what it advertised; only its TLS is verified as any server's.
      auto answered = http::send(out);
      if (!answered) {
        spdlog::warn("api: request {} {} {}: the leader {} ({}) did not answer: {}", req.request_id, req.method,
                     req.path, target->server_id, target->url, answered.error().message);
        return unavailable(fmt::format("the leader {} at {} did not answer ({}); if the request was sent, its outcome "
                                       "is unknown: read it back before trying again",
                                       target->server_id, target->url, answered.error().message),
                           target->url);
      }
      api::HttpResponse resp;
      resp.status = static_cast<int>(answered->status);
      resp.body = std::move(answered->body);
      resp.content_type = answered->header("content-type");
      if (resp.content_type.empty()) resp.content_type = "application/json";
      for (const auto& [name, value] : answered->headers) {
        if (!hopByHop(name) && name != "content-type") resp.headers.emplace_back(name, value);
      }
      return resp;
    };
  }
}

}  // namespace runway::cli
