#include "runway/runtime/kubernetes_runtime.hpp"

#include "kubernetes_objects.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <tuple>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/kube/client.hpp"
#include "runway/kube/config.hpp"
#include "runway/kube/rollout.hpp"
#include "runway/kube/workload.hpp"

namespace runway::runtime {
// A named namespace rather than an anonymous one: the module is built in unity batches, and
// these names would clash with other files' file-local ones.
namespace kubernetes_runtime_detail {

using Traffic = config::KubernetesRuntime::Traffic;

// A watched collection: the objects runway labelled for one environment, as the last list and
// the watch events since say.
struct Collection {
  mutable std::mutex mutex;
  mutable std::condition_variable_any changed;
  std::map<std::string, Object> items;  // by name
  bool synced = false;
  std::string error;  // the last error of the watch ("" while it works)
};

struct Cluster {
  std::string environment;
  std::string ns;
  std::shared_ptr<kube::Client> client;
  Traffic traffic = Traffic::Replicas;
  std::string gateway;
  std::string gateway_ns;
  bool blue_green = false;
  std::map<std::string, int> ports;  // service -> container port; fixed after open()
  Collection deployments;
  Collection pods;
  // Last, so that they stop (and stop touching the collections) before those go.
  std::jthread deployment_watch;
  std::jthread pod_watch;
};

Result<std::shared_ptr<kube::Client>> connectFromConfig(const config::Environment& env) {
  const auto& k = env.runtime.kubernetes;
  Result<kube::Connection> connection = fail(ErrorCode::Internal, "unset");
  if (k.kubeconfig.empty()) {
    connection = kube::inClusterConnection(kube::InClusterEnvironment::system());
  } else {
    std::filesystem::path path = k.kubeconfig;
    if (path.is_relative() && !k.kubeconfig_base_dir.empty()) path = k.kubeconfig_base_dir / path;
    connection = kube::loadKubeconfig(path, k.context);
  }
  if (!connection) {
    return fail(connection.error().code,
                fmt::format("environment \"{}\": {}", env.name, connection.error().message));
  }
  return std::shared_ptr<kube::Client>(kube::makeClient(std::move(*connection)));
}

class KubernetesRuntimeImpl final : public KubernetesRuntime {
 public:
  explicit KubernetesRuntimeImpl(KubernetesRuntimeOptions options) : options_(std::move(options)) {}

  ~KubernetesRuntimeImpl() override {
    for (auto& [name, c] : clusters_) {
      c->deployment_watch.request_stop();
      c->pod_watch.request_stop();
    }
    clusters_.clear();  // joins the watches
  }

  Result<void> add(const config::Config& config, const config::Environment& env) {
    auto client = options_.connect(env);
    if (!client) return fail(client.error());
    auto c = std::make_unique<Cluster>();
    c->environment = env.name;
    c->ns = env.runtime.kubernetes.namespace_name;
    c->client = std::move(*client);
    c->traffic = env.runtime.kubernetes.traffic;
    c->gateway = env.runtime.kubernetes.gateway;
    c->gateway_ns = env.runtime.kubernetes.gateway_namespace;
    c->blue_green = env.strategy == config::StrategyKind::BlueGreen;
    if (const auto* app = config.applicationFor(env)) {
      for (const auto& svc : app->services) c->ports[svc.name] = containerPort(svc);
    }
    auto* cluster = c.get();
    clusters_.emplace(env.name, std::move(c));
    cluster->deployment_watch = std::jthread([this, cluster](std::stop_token stop) {
      follow(*cluster, cluster->deployments, kube::Resource::deployments(), false, stop);
    });
    cluster->pod_watch = std::jthread([this, cluster](std::stop_token stop) {
      follow(*cluster, cluster->pods, kube::Resource::pods(), true, stop);
    });
    return {};
  }

  // Runtime

  Result<void> startVersion(const config::Environment& environment, const config::Service& service,
                            std::string_view version, int instances,
                            const std::map<std::string, std::string>& artifacts) override {
    return startVersionFor("", environment, service, version, instances, artifacts);
  }

  Result<void> startVersionFor(std::string_view deployment_id,
                               const config::Environment& environment,
                               const config::Service& service, std::string_view version,
                               int instances,
                               const std::map<std::string, std::string>& artifacts) override {
    auto* c = clusterOf(environment.name);
    if (c == nullptr) return notHere(environment.name);
    if (!isLabelValue(version)) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("version \"{}\" cannot be a Kubernetes label value (at most 63 "
                              "letters, digits, '-', '_' or '.', starting and ending with a letter "
                              "or digit)",
                              version));
    }
    if (instances < 0 || instances > 1000) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("instance count {} is outside 0..1000", instances));
    }
    auto deployment =
        deploymentFor(c->environment, service, version, instances, artifacts, deployment_id);
    if (!deployment) return fail(deployment.error());
    const auto name = kube::versionObjectName(service.name, version);
    {
      std::lock_guard lock(c->deployments.mutex);
      auto it = c->deployments.items.find(name);
      if (it != c->deployments.items.end() && beingDeleted(it->second)) {
        return fail(ErrorCode::FailedPrecondition,
                    fmt::format("{} {} is being retired in {}", service.name, version, c->ns));
      }
    }
    auto applied = c->client->apply(kube::Resource::deployments(), c->ns, name, *deployment);
    if (!applied) return fail(applied.error());
    remember(c->deployments, *applied);
    const kube::VersionIdentity id{c->environment, service.name, std::string(version),
                                   std::string(deployment_id)};
    // The port from this call's configuration; `ports` (read by other threads) keeps the one
    // read at open(), which a reload does not change (docs/kubernetes.md).
    const int port = containerPort(service);
    if (auto s = c->client->apply(kube::Resource::services(), c->ns, name,
                                  kube::versionService(id, port));
        !s) {
      return fail(s.error());
    }
    return ensureStableService(*c, id, port);
  }

  Result<void> setTraffic(std::string_view environment, std::string_view service,
                          const TrafficSplit& split) override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    if (auto valid = validateSplit(c->environment, c->traffic == Traffic::HttpRoute, split); !valid) {
      return valid;
    }
    for (const auto& version : splitVersions(split)) {
      auto d = c->client->get(kube::Resource::deployments(), c->ns,
                              kube::versionObjectName(service, version));
      if (!d) {
        if (d.error().code == ErrorCode::NotFound) {
          return fail(ErrorCode::NotFound,
                      fmt::format("{} {} is not started in {}", service, version, c->ns));
        }
        return fail(d.error());
      }
    }
    const int port = portOf(*c, service);
    if (c->traffic == Traffic::HttpRoute && !split.weights.empty()) {
      auto route = routeFor(c->environment, c->gateway, c->gateway_ns, service, port, split);
      if (auto r = c->client->apply(kube::Resource::httpRoutes(), c->ns, std::string(service), route);
          !r) {
        return fail(r.error());
      }
    } else if (c->traffic == Traffic::HttpRoute && split.routes.empty()) {
      // No weights: the service's traffic is withdrawn (a first release rolled back), so the
      // gateway routes nothing to it rather than to a version about to be retired.
      if (auto r = c->client->remove(kube::Resource::httpRoutes(), c->ns, service);
          !r && r.error().code != ErrorCode::NotFound) {
        return fail(r.error());
      }
    }
    // The stable Service: its selector and the recorded split change in one patch.
    std::string primary;
    int most = -1;
    for (const auto& [version, weight] : split.weights) {
      if (weight > most) {
        most = weight;
        primary = version;
      }
    }
    json::value selector_version = primary.empty() ? json::value(nullptr) : json::value(primary);
    if (c->traffic == Traffic::Replicas && most < 1000 && !split.weights.empty()) {
      selector_version = nullptr;  // every version's pods: the split follows the replica counts
      spdlog::warn(
          "environment {}: {} has no gateway (traffic: replicas): the split {} is approximated by "
          "the versions' ready replicas ({}), per connection",
          c->environment, service, describeSplit(split.weights), readyRatio(*c, service, split));
    }
    json::object patch{
        {"metadata",
         json::object{{"annotations", json::object{{kTrafficAnnotation, splitJson(split)}}}}}};
    if (!split.weights.empty()) {
      patch["spec"] =
          json::object{{"selector", json::object{{kube::kVersionLabel, selector_version}}}};
    }
    auto patched = c->client->mergePatch(kube::Resource::services(), c->ns, service, patch);
    if (!patched) {
      if (patched.error().code == ErrorCode::NotFound) {
        return fail(ErrorCode::NotFound,
                    fmt::format("service {} runs nothing in {} yet", service, c->ns));
      }
      return fail(patched.error());
    }
    return {};
  }

  Result<TrafficSplit> traffic(std::string_view environment,
                               std::string_view service) const override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    auto stable = c->client->get(kube::Resource::services(), c->ns, service);
    if (!stable) return fail(stable.error());
    return parseSplit(annotationOf(*stable, kTrafficAnnotation));
  }

  Result<std::string> serviceAddress(std::string_view environment,
                                     std::string_view service) const override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    auto stable = c->client->get(kube::Resource::services(), c->ns, service);
    if (!stable) return fail(stable.error());
    return fmt::format("{}.{}.svc:{}", service, c->ns, portOf(*c, service));
  }

  Result<void> scale(std::string_view environment, std::string_view service,
                     std::string_view version, int instances) override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    if (instances < 0 || instances > 1000) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("instance count {} is outside 0..1000", instances));
    }
    const auto name = kube::versionObjectName(service, version);
    auto d = c->client->get(kube::Resource::deployments(), c->ns, name);
    if (!d) return fail(d.error());
    if (beingDeleted(*d)) {
      return fail(ErrorCode::FailedPrecondition,
                  fmt::format("{} {} is being retired in {}", service, version, c->ns));
    }
    // An HPA on the Deployment would scale it back: its bounds move first (minReplicas is at
    // least 1), so that the HPA controller never sees the new replica count outside old bounds.
    auto hpa = c->client->get(kube::Resource::horizontalPodAutoscalers(), c->ns, name);
    if (hpa) {
      const auto max = intField(objectField(&*hpa, "spec"), "maxReplicas", 1);
      const int low = std::max(1, instances);
      auto bounds = c->client->mergePatch(
          kube::Resource::horizontalPodAutoscalers(), c->ns, name,
          json::object{{"spec", json::object{{"minReplicas", low},
                                             {"maxReplicas", std::max<std::int64_t>(max, low)}}}});
      if (!bounds) return fail(bounds.error());
    } else if (hpa.error().code != ErrorCode::NotFound) {
      return fail(hpa.error());
    }
    auto patched = c->client->mergePatch(kube::Resource::deployments(), c->ns, name,
                                         json::object{{"spec", json::object{{"replicas", instances}}}});
    if (!patched) return fail(patched.error());
    remember(c->deployments, *patched);
    return {};
  }

  Result<std::vector<InstanceInfo>> instances(std::string_view environment,
                                              std::string_view service) const override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return std::vector<InstanceInfo>{};
    if (auto s = awaitSync(*c); !s) return fail(s.error());
    std::map<std::string, kube::RolloutStatus::State> rollout;  // by version, of `service`
    {
      std::lock_guard lock(c->deployments.mutex);
      for (const auto& [name, d] : c->deployments.items) {
        rollout[labelOf(d, kube::kNameLabel) + "\n" + labelOf(d, kube::kVersionLabel)] =
            kube::deploymentRolloutStatus(d).state;
      }
    }
    struct Row {
      std::string created;
      InstanceInfo info;
    };
    std::vector<Row> rows;
    {
      std::lock_guard lock(c->pods.mutex);
      for (const auto& [name, pod] : c->pods.items) {
        const auto svc = labelOf(pod, kube::kNameLabel);
        if (!service.empty() && svc != service) continue;
        const auto p = kube::podInstance(pod);
        InstanceInfo i;
        i.environment = c->environment;
        i.service = svc;
        i.version = p.version;
        i.port = portOf(*c, svc);
        i.restarts = p.restarts;
        i.pod = p.name;
        i.node = p.node;
        const auto* status = objectField(&pod, "status");
        if (auto t = parseTimestamp(stringField(status, "startTime"))) i.started_at = *t;
        i.last_exit = lastExit(status);
        const auto r = rollout.find(svc + "\n" + p.version);
        const bool deadline_exceeded =
            r != rollout.end() && r->second == kube::RolloutStatus::State::Failed;
        if (beingDeleted(pod)) {
          i.state = InstanceState::Stopping;
        } else if (p.phase == "Failed") {
          i.state = InstanceState::Failed;
        } else if (p.phase == "Succeeded") {
          i.state = InstanceState::Stopped;
        } else if (p.ready) {
          i.state = InstanceState::Ready;
        } else if (deadline_exceeded) {
          i.state = InstanceState::Failed;  // the Deployment gave up: ProgressDeadlineExceeded
        } else if (i.started_at != TimePoint{} && i.restarts > 0) {
          i.state = InstanceState::Restarting;
        } else {
          i.state = InstanceState::Starting;
        }
        rows.push_back(Row{stringField(metadataOf(pod), "creationTimestamp"), std::move(i)});
      }
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return std::tie(a.info.service, a.info.version, a.created, a.info.pod) <
             std::tie(b.info.service, b.info.version, b.created, b.info.pod);
    });
    std::vector<InstanceInfo> out;
    for (auto& row : rows) {
      if (!out.empty() && out.back().service == row.info.service &&
          out.back().version == row.info.version) {
        row.info.index = out.back().index + 1;
      }
      out.push_back(std::move(row.info));
    }
    return out;
  }

  Result<VersionStatus> versionStatus(std::string_view environment, std::string_view service,
                                      std::string_view version) const override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    if (auto s = awaitSync(*c); !s) return fail(s.error());
    std::lock_guard lock(c->deployments.mutex);
    const auto it = c->deployments.items.find(kube::versionObjectName(service, version));
    if (it == c->deployments.items.end()) {
      return fail(ErrorCode::NotFound,
                  fmt::format("{} {} is not started in {}", service, version, c->ns));
    }
    const auto& d = it->second;
    VersionStatus s;
    s.environment = c->environment;
    s.service = std::string(service);
    s.version = std::string(version);
    s.desired = static_cast<int>(intField(objectField(&d, "spec"), "replicas", 1));
    s.ready = static_cast<int>(intField(objectField(&d, "status"), "readyReplicas"));
    const auto rollout = kube::deploymentRolloutStatus(d);
    s.state = beingDeleted(d)                                           ? VersionState::Retiring
              : rollout.state == kube::RolloutStatus::State::Failed   ? VersionState::Failed
              : rollout.state == kube::RolloutStatus::State::Complete ? VersionState::Ready
                                                                      : VersionState::Progressing;
    return s;
  }

  Result<void> retireVersion(std::string_view environment, std::string_view service,
                             std::string_view version, Duration grace) override {
    (void)grace;  // the pods stop with their own terminationGracePeriodSeconds
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    auto split = traffic(environment, service);
    if (!split && split.error().code != ErrorCode::NotFound) return fail(split.error());
    if (split) {
      const auto w = split->weights.find(std::string(version));
      const bool routed =
          std::any_of(split->routes.begin(), split->routes.end(),
                      [&](const TrafficRoute& r) { return r.version == version; });
      if ((w != split->weights.end() && w->second > 0) || routed) {
        return fail(ErrorCode::FailedPrecondition,
                    fmt::format("{} {} still takes traffic in {}: move it off first", service,
                                version, c->ns));
      }
    }
    const auto name = kube::versionObjectName(service, version);
    int deleted = 0;
    for (const auto& resource : {kube::Resource::deployments(), kube::Resource::services()}) {
      if (auto r = c->client->remove(resource, c->ns, name); r) {
        ++deleted;
      } else if (r.error().code != ErrorCode::NotFound) {
        return fail(r.error());
      }
    }
    if (deleted > 0) {
      spdlog::info("environment {}: retired {} {} (Deployment and Service {} deleted)",
                   c->environment, service, version, name);
    }
    return {};
  }

  Result<void> retainOnly(std::string_view environment,
                          const std::vector<std::pair<std::string, std::string>>& keep,
                          Duration grace) override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    if (auto s = awaitSync(*c); !s) return fail(s.error());
    std::vector<std::pair<std::string, std::string>> leftovers;
    {
      std::lock_guard lock(c->deployments.mutex);
      for (const auto& [name, d] : c->deployments.items) {
        if (beingDeleted(d)) continue;
        std::pair<std::string, std::string> sv{labelOf(d, kube::kNameLabel),
                                               labelOf(d, kube::kVersionLabel)};
        if (std::find(keep.begin(), keep.end(), sv) == keep.end()) leftovers.push_back(sv);
      }
    }
    for (const auto& [service, version] : leftovers) {
      if (auto r = retireVersion(environment, service, version, grace); !r) return r;
    }
    return {};
  }

  Result<std::vector<VersionStatistics>> statistics(std::string_view environment,
                                                    std::string_view service,
                                                    Duration window) override {
    (void)service;
    (void)window;
    return fail(ErrorCode::Unavailable,
                fmt::format("environment {} runs on Kubernetes, where runway is not in the "
                            "request path and measures no requests: analyse it with "
                            "provider: prometheus",
                            environment));
  }

  Result<void> stopAll(Duration grace) override {
    for (auto& [name, c] : clusters_) {
      const auto selector = labelSelector(*c);
      for (const auto& resource : {kube::Resource::httpRoutes(), kube::Resource::services(),
                                   kube::Resource::deployments()}) {
        if (resource.plural == "httproutes" && c->traffic != Traffic::HttpRoute) continue;
        auto listed = c->client->list(resource, c->ns, kube::ListOptions{selector, {}, {}});
        if (!listed) return fail(listed.error());
        for (const auto& item : listed->items) {
          if (auto r = c->client->remove(resource, c->ns, objectName(item));
              !r && r.error().code != ErrorCode::NotFound) {
            return fail(r.error());
          }
        }
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + grace + std::chrono::seconds(30);
    for (auto& [name, c] : clusters_) {
      std::unique_lock lock(c->pods.mutex);
      if (!c->pods.changed.wait_until(lock, deadline,
                                      [&] { return c->pods.synced && c->pods.items.empty(); })) {
        return fail(ErrorCode::Timeout,
                    fmt::format("environment {}: {} pod(s) still in {}", c->environment,
                                c->pods.items.size(), c->ns));
      }
    }
    return {};
  }

  void setEventHandler(EventHandler handler) override {
    std::lock_guard lock(handler_mutex_);
    handler_ = std::move(handler);
  }

  // KubernetesRuntime

  Result<KubernetesPreflight> preflight(std::string_view environment) override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    KubernetesPreflight out;
    out.environment = c->environment;
    out.ns = c->ns;
    auto ns = c->client->get(kube::Resource::namespaces(), "", c->ns);
    if (ns) {
      out.namespace_exists = true;
    } else if (ns.error().code == ErrorCode::NotFound) {
      out.problems.push_back(fmt::format("namespace {} does not exist", c->ns));
    } else if (ns.error().code == ErrorCode::PermissionDenied) {
      // A Role in the namespace cannot grant reading the (cluster-scoped) Namespace: say so
      // and go on; the access reviews below still tell what the runtime may do there.
      spdlog::info("environment {}: may not read namespace {}; its existence is not checked",
                   c->environment, c->ns);
    } else {
      return fail(ns.error());
    }
    for (auto p : kubernetesRequiredPermissions(c->traffic == Traffic::HttpRoute)) {
      json::object attributes{{"namespace", c->ns}, {"verb", p.verb}, {"resource", p.resource}};
      if (!p.group.empty()) attributes["group"] = p.group;
      auto review = c->client->call(
          "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
          json::object{{"apiVersion", "authorization.k8s.io/v1"},
                       {"kind", "SelfSubjectAccessReview"},
                       {"spec", json::object{{"resourceAttributes", std::move(attributes)}}}});
      if (!review) return fail(review.error());
      const auto* status = objectField(&*review, "status");
      const auto* allowed = status != nullptr ? status->if_contains("allowed") : nullptr;
      p.allowed = allowed != nullptr && allowed->is_bool() && allowed->get_bool();
      p.reason = stringField(status, "reason");
      if (!p.allowed) {
        out.problems.push_back(fmt::format("may not {} {}{} in namespace {}", p.verb, p.resource,
                                           p.group.empty() ? "" : "." + p.group, c->ns));
      }
      out.permissions.push_back(std::move(p));
    }
    return out;
  }

 private:
  Cluster* clusterOf(std::string_view environment) const {
    const auto it = clusters_.find(std::string(environment));
    return it == clusters_.end() ? nullptr : it->second.get();
  }

  static tl::unexpected<Error> notHere(std::string_view environment) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("environment \"{}\" is not on the kubernetes runtime", environment));
  }

  static std::string labelSelector(const Cluster& c) {
    return fmt::format("{}=runway,{}={}", kube::kManagedByLabel, kube::kEnvironmentLabel,
                       c.environment);
  }

  static int portOf(const Cluster& c, std::string_view service) {
    const auto it = c.ports.find(std::string(service));
    return it == c.ports.end() ? 8080 : it->second;
  }

  std::string readyRatio(const Cluster& c, std::string_view service, const TrafficSplit& split) const {
    std::map<std::string, int> ready;
    for (const auto& [version, weight] : split.weights) {
      (void)weight;
      ready[version] = 0;
    }
    {
      std::lock_guard lock(c.pods.mutex);
      for (const auto& [name, pod] : c.pods.items) {
        if (labelOf(pod, kube::kNameLabel) != service) continue;
        const auto p = kube::podInstance(pod);
        if (p.ready && ready.count(p.version) != 0) ready[p.version]++;
      }
    }
    std::string out;
    for (const auto& [version, n] : ready) {
      out += fmt::format("{}{} {} ready", out.empty() ? "" : ", ", version, n);
    }
    return out;
  }

  Result<void> ensureStableService(Cluster& c, const kube::VersionIdentity& id, int port) {
    auto existing = c.client->get(kube::Resource::services(), c.ns, id.service);
    if (existing) return {};
    if (existing.error().code != ErrorCode::NotFound) return fail(existing.error());
    // The first version of the service: the stable Service selects it until a split says more.
    kube::VersionIdentity stable = id;
    stable.deployment_id.clear();  // shared by every version: no one deployment made it
    auto service = kube::versionService(stable, port);
    service["metadata"].as_object()["name"] = id.service;
    service["metadata"].as_object()["labels"].as_object().erase(kube::kVersionLabel);
    auto created = c.client->create(kube::Resource::services(), c.ns, service);
    if (!created && created.error().code != ErrorCode::Conflict) return fail(created.error());
    return {};
  }

  // Adds an object just written to the view unless the watch has it already: the watch's copy
  // is as new or newer (resourceVersions are opaque, so they are not compared), and the write's
  // own event follows anyway.
  static void remember(Collection& collection, const Object& object) {
    {
      std::lock_guard lock(collection.mutex);
      collection.items.try_emplace(objectName(object), object);
    }
    collection.changed.notify_all();
  }

  Result<void> awaitSync(const Cluster& c) const {
    const auto deadline = std::chrono::steady_clock::now() + options_.sync_timeout;
    for (const auto* collection : {&c.deployments, &c.pods}) {
      std::unique_lock lock(collection->mutex);
      if (!collection->changed.wait_until(lock, deadline, [&] { return collection->synced; })) {
        return fail(ErrorCode::Unavailable,
                    fmt::format("environment {}: the cluster's state is not read yet{}",
                                c.environment,
                                collection->error.empty() ? "" : ": " + collection->error));
      }
    }
    return {};
  }

  // Follows one collection of a cluster until stopped, reporting changes as events.
  void follow(Cluster& c, Collection& collection, const kube::Resource& resource, bool pods,
              std::stop_token stop) {
    std::mutex sleep_mutex;
    std::condition_variable_any wake;
    const kube::Sleep sleep = [&](Duration d) {
      std::unique_lock lock(sleep_mutex);
      wake.wait_for(lock, stop, d, [] { return false; });
    };
    kube::CollectionHandlers handlers;
    handlers.on_list = [&](const kube::ObjectList& list) {
      std::vector<RuntimeEvent> events;
      {
        std::lock_guard lock(collection.mutex);
        std::map<std::string, Object> fresh;
        for (const auto& item : list.items) fresh[objectName(item)] = item;
        if (collection.synced) {  // a relist: what changed meanwhile
          for (const auto& [name, item] : fresh) {
            const auto it = collection.items.find(name);
            changes(c, pods, it == collection.items.end() ? nullptr : &it->second, &item, events);
          }
          for (const auto& [name, item] : collection.items) {
            if (fresh.count(name) == 0) changes(c, pods, &item, nullptr, events);
          }
        }
        collection.items = std::move(fresh);
        collection.synced = true;
        collection.error.clear();
      }
      collection.changed.notify_all();
      emit(events);
    };
    handlers.on_event = [&](const kube::WatchEvent& event) {
      if (event.type == kube::WatchEvent::Type::Bookmark) return;
      std::vector<RuntimeEvent> events;
      {
        std::lock_guard lock(collection.mutex);
        const auto name = objectName(event.object);
        const auto it = collection.items.find(name);
        const Object* before = it == collection.items.end() ? nullptr : &it->second;
        if (event.type == kube::WatchEvent::Type::Deleted) {
          changes(c, pods, before, nullptr, events);
          if (it != collection.items.end()) collection.items.erase(it);
        } else {
          changes(c, pods, before, &event.object, events);
          collection.items[name] = event.object;
        }
      }
      collection.changed.notify_all();
      emit(events);
    };
    while (!stop.stop_requested()) {
      auto r = kube::listAndWatch(*c.client, resource, c.ns, labelSelector(c), "", handlers, sleep,
                                  stop);
      if (r || stop.stop_requested()) continue;
      spdlog::warn("environment {}: watching {} in {}: {}", c.environment, resource.plural, c.ns,
                   r.error().message);
      {
        std::lock_guard lock(collection.mutex);
        collection.error = r.error().message;
      }
      collection.changed.notify_all();
      sleep(std::chrono::seconds(2));
    }
  }

  // The events between two states of one object (null = absent).
  void changes(const Cluster& c, bool pods, const Object* before, const Object* after,
               std::vector<RuntimeEvent>& out) const {
    const Object& any = after != nullptr ? *after : *before;
    RuntimeEvent e;
    e.environment = c.environment;
    e.service = labelOf(any, kube::kNameLabel);
    e.version = labelOf(any, kube::kVersionLabel);
    e.at = options_.clock->now();
    const auto push = [&](RuntimeEvent::Kind kind, std::string message) {
      e.kind = kind;
      e.message = std::move(message);
      out.push_back(e);
    };
    if (pods) {
      const auto name = objectName(any);
      if (after == nullptr) {
        push(RuntimeEvent::Kind::InstanceStopped, "pod " + name + " deleted");
        return;
      }
      const auto now = kube::podInstance(*after);
      const auto was = before != nullptr ? std::optional(kube::podInstance(*before)) : std::nullopt;
      if (!was) push(RuntimeEvent::Kind::InstanceStarted, "pod " + name + " created");
      const bool was_ready = was && was->ready;
      if (now.ready && !was_ready) {
        push(RuntimeEvent::Kind::InstanceReady, "pod " + name + " Ready on " + now.node);
      }
      if (!now.ready && was_ready && !beingDeleted(*after)) {
        push(RuntimeEvent::Kind::InstanceUnhealthy, "pod " + name + " no longer Ready");
      }
      if (now.phase == "Failed" && (!was || was->phase != "Failed")) {
        push(RuntimeEvent::Kind::InstanceFailed, "pod " + name + " Failed");
      }
      return;
    }
    if (after == nullptr) {
      push(RuntimeEvent::Kind::VersionRetired, "Deployment " + objectName(any) + " deleted");
      return;
    }
    const auto now = kube::deploymentRolloutStatus(*after);
    const auto was = before != nullptr ? kube::deploymentRolloutStatus(*before).state
                                       : kube::RolloutStatus::State::Progressing;
    if (now.state == was) return;
    if (now.state == kube::RolloutStatus::State::Complete) {
      push(RuntimeEvent::Kind::VersionReady, now.message);
    } else if (now.state == kube::RolloutStatus::State::Failed) {
      push(RuntimeEvent::Kind::VersionFailed, now.message);
    }
  }

  void emit(const std::vector<RuntimeEvent>& events) {
    if (events.empty()) return;
    EventHandler handler;
    {
      std::lock_guard lock(handler_mutex_);
      handler = handler_;
    }
    for (const auto& e : events) {
      spdlog::debug("environment {}: {} {} {}: {}", e.environment, toString(e.kind), e.service,
                    e.version, e.message);
      if (handler) handler(e);
    }
  }

  KubernetesRuntimeOptions options_;
  std::map<std::string, std::unique_ptr<Cluster>> clusters_;  // fixed after open()
  std::mutex handler_mutex_;
  EventHandler handler_;
};

}  // namespace kubernetes_runtime_detail

Result<std::unique_ptr<KubernetesRuntime>> KubernetesRuntime::open(const config::Config& config,
                                                                    KubernetesRuntimeOptions options) {
  if (!options.clock) options.clock = systemClock();
  if (!options.connect) options.connect = kubernetes_runtime_detail::connectFromConfig;
  auto runtime = std::make_unique<kubernetes_runtime_detail::KubernetesRuntimeImpl>(std::move(options));
  for (const auto& env : config.environments) {
    if (env.runtime.kind != config::RuntimeSpec::Kind::Kubernetes) continue;
    if (auto r = runtime->add(config, env); !r) return fail(r.error());
  }
  return std::unique_ptr<KubernetesRuntime>(std::move(runtime));
}

std::vector<KubernetesPermission> kubernetesRequiredPermissions(bool http_route) {
  std::vector<KubernetesPermission> out;
  const auto add = [&](std::string group, std::string resource,
                       std::initializer_list<std::string_view> verbs) {
    for (const auto verb : verbs) out.push_back({group, resource, std::string(verb), false, ""});
  };
  add("apps", "deployments", {"get", "list", "watch", "create", "patch", "delete"});
  add("", "services", {"get", "list", "create", "patch", "delete"});
  add("", "pods", {"get", "list", "watch"});
  add("autoscaling", "horizontalpodautoscalers", {"get", "patch"});
  if (http_route) {
    add("gateway.networking.k8s.io", "httproutes", {"get", "list", "create", "patch", "delete"});
  }
  return out;
}

}  // namespace runway::runtime
