#include "runway/runtime/kubernetes_runtime.hpp"

#include "kubernetes_objects.hpp"

#include <algorithm>
#include <cmath>
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
#include <fmt/ranges.h>
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
  // Why a version failed (diagnose()), by Deployment name; set before the watch's view shows
  // the failure, so that whoever sees a Failed instance also sees why.
  mutable std::mutex diagnoses_mutex;
  std::map<std::string, std::string> diagnoses;
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
        if (i.state == InstanceState::Failed) {
          i.diagnosis = diagnosisOf(*c, kube::versionObjectName(svc, p.version));
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

  Result<void> readInstanceLog(std::string_view environment, std::string_view service,
                               std::string_view instance, const LogOptions& options,
                               const std::function<bool(std::string_view)>& on_data,
                               std::stop_token stop) override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    if (auto s = awaitSync(*c); !s) return fail(s.error());
    {
      // Only a pod runway runs for this service: the API is not a door to any pod's log.
      std::lock_guard lock(c->pods.mutex);
      const auto it = c->pods.items.find(std::string(instance));
      if (it == c->pods.items.end() || labelOf(it->second, kube::kNameLabel) != service) {
        return fail(ErrorCode::NotFound,
                    fmt::format("{} has no pod {} in {}", service, instance, c->ns));
      }
    }
    // The container runway named after the service (a pod-template patch may add sidecars).
    std::string path = kube::resourcePath(kube::Resource::pods(), c->ns, instance) +
                       "/log?container=" + std::string(service);
    if (options.tail_lines >= 0) path += fmt::format("&tailLines={}", options.tail_lines);
    if (options.follow) path += "&follow=true";
    Result<void> read;
    if (options.follow) {
      read = c->client->stream(path, on_data, std::move(stop));
    } else if (auto text = c->client->getText(path)) {
      if (!text->empty()) on_data(*text);
    } else {
      read = fail(text.error());
    }
    if (read) return {};
    // 400 is the node's answer relayed by the API server (the container is not running, or,
    // on kwok, no log is configured for the pod): nothing the request could change.
    const auto code = read.error().code == ErrorCode::InvalidArgument ? ErrorCode::FailedPrecondition
                                                                      : read.error().code;
    return fail(code, fmt::format("pod {}: its log cannot be read: {}", instance,
                                  read.error().message));
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
    for (auto& entry : clusters_) {
      // Not a structured binding: clang 14 (the fuzz build's) cannot capture one in a lambda.
      auto& c = entry.second;
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

  Result<KubernetesPreflight> preflight(std::string_view environment,
                                        const config::Application* application) override {
    auto* c = clusterOf(environment);
    if (c == nullptr) return notHere(environment);
    KubernetesPreflight out;
    out.environment = c->environment;
    out.ns = c->ns;
    bool namespace_missing = false;
    auto ns = c->client->get(kube::Resource::namespaces(), "", c->ns);
    if (ns) {
      out.namespace_exists = true;
    } else if (ns.error().code == ErrorCode::NotFound) {
      namespace_missing = true;
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
      if (!p.subresource.empty()) attributes["subresource"] = p.subresource;
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
        out.problems.push_back(fmt::format("may not {} {}{}{} in namespace {}", p.verb, p.resource,
                                           p.group.empty() ? "" : "." + p.group,
                                           p.subresource.empty() ? "" : "/" + p.subresource,
                                           c->ns));
      }
      out.permissions.push_back(std::move(p));
    }
    // What is in the namespace is not looked for when the namespace itself is missing.
    if (c->traffic == Traffic::HttpRoute) {
      if (auto r = preflightGateway(*c, namespace_missing, out); !r) return fail(r.error());
    }
    if (application != nullptr && !namespace_missing) {
      if (auto r = preflightWorkloads(*c, *application, out); !r) return fail(r.error());
    }
    for (const auto& u : out.unchecked) {
      spdlog::info("environment {}: pre-flight: {}", c->environment, u);
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

  // traffic: httproute: the cluster serves HTTPRoutes (the Gateway API CRDs are installed), and
  // the Gateway the routes name exists.
  static Result<void> preflightGateway(const Cluster& c, bool namespace_missing,
                                       KubernetesPreflight& out) {
    if (!namespace_missing) {
      auto routes = c.client->list(kube::Resource::httpRoutes(), c.ns,
                                   kube::ListOptions{labelSelector(c), {}, {}});
      if (!routes && routes.error().code == ErrorCode::NotFound) {
        out.problems.push_back(
            "the cluster serves no HTTPRoutes (gateway.networking.k8s.io/v1): install the "
            "Gateway API CRDs, or use traffic: replicas");
        return {};
      }
      if (!routes && routes.error().code != ErrorCode::PermissionDenied) return fail(routes.error());
    }
    const auto gateway_ns = c.gateway_ns.empty() ? c.ns : c.gateway_ns;
    if (gateway_ns == c.ns && namespace_missing) return {};
    auto gateway = c.client->get(kube::Resource::gateways(), gateway_ns, c.gateway);
    if (gateway) return {};
    switch (gateway.error().code) {
      case ErrorCode::NotFound:
        out.problems.push_back(fmt::format(
            "Gateway {} does not exist in namespace {}: the HTTPRoutes would attach to nothing",
            c.gateway, gateway_ns));
        return {};
      case ErrorCode::PermissionDenied:
        out.unchecked.push_back(fmt::format(
            "may not read Gateways in namespace {}: whether Gateway {} exists is not checked",
            gateway_ns, c.gateway));
        return {};
      default:
        return fail(gateway.error());
    }
  }

  // The services' Deployments as this environment would run them: their image pull secrets
  // exist, and their requests fit the Ready nodes (each pod on one node; all of them together).
  static Result<void> preflightWorkloads(const Cluster& c, const config::Application& application,
                                         KubernetesPreflight& out) {
    std::map<std::string, std::vector<std::string>> secrets;  // name -> services naming it
    struct Need {
      std::string service;
      int instances = 0;
      PodRequests pod;
    };
    std::vector<Need> needs;
    for (const auto& svc : application.services) {
      auto d = deploymentFor(c.environment, svc, "preflight", svc.instances, {}, "");
      if (!d) continue;  // what the configuration cannot build, startVersion will refuse
      for (auto& name : imagePullSecrets(*d)) secrets[std::move(name)].push_back(svc.name);
      needs.push_back(Need{svc.name, svc.instances, podRequests(*d)});
    }
    for (const auto& [name, services] : secrets) {
      auto secret = c.client->get(kube::Resource::secrets(), c.ns, name);
      if (secret) continue;
      if (secret.error().code == ErrorCode::NotFound) {
        out.problems.push_back(fmt::format(
            "image pull secret {} (in the pod template of {}) does not exist in namespace {}",
            name, fmt::join(services, ", "), c.ns));
      } else if (secret.error().code == ErrorCode::PermissionDenied) {
        out.unchecked.push_back(fmt::format(
            "may not read secrets in namespace {}: image pull secret {} is not checked", c.ns, name));
      } else {
        return fail(secret.error());
      }
    }
    double total_cpu = 0;
    double total_memory = 0;
    for (const auto& n : needs) {
      total_cpu += n.pod.cpu * n.instances;
      total_memory += n.pod.memory * n.instances;
    }
    if (total_cpu == 0 && total_memory == 0) return {};
    auto nodes = c.client->list(kube::Resource::nodes(), "");
    if (!nodes) {
      if (nodes.error().code != ErrorCode::PermissionDenied) return fail(nodes.error());
      out.unchecked.push_back(
          "may not list nodes (a namespaced Role cannot grant it): whether the requests fit the "
          "nodes' allocatable capacity is not checked");
      return {};
    }
    int ready = 0;
    double cpu = 0, memory = 0, largest_cpu = 0, largest_memory = 0;
    for (const auto& node : nodes->items) {
      const auto* status = objectField(&node, "status");
      bool is_ready = false;
      if (const auto* conditions = status != nullptr ? status->if_contains("conditions") : nullptr;
          conditions != nullptr && conditions->is_array()) {
        for (const auto& cond : conditions->as_array()) {
          if (stringField(cond.if_object(), "type") == "Ready") {
            is_ready = stringField(cond.if_object(), "status") == "True";
          }
        }
      }
      const auto* spec = objectField(&node, "spec");
      if (!is_ready || (spec != nullptr && spec->contains("unschedulable") &&
                        spec->at("unschedulable").is_bool() && spec->at("unschedulable").as_bool())) {
        continue;
      }
      ++ready;
      const auto* allocatable = objectField(status, "allocatable");
      const double node_cpu = parseQuantity(stringField(allocatable, "cpu")).value_or(0);
      const double node_memory = parseQuantity(stringField(allocatable, "memory")).value_or(0);
      cpu += node_cpu;
      memory += node_memory;
      largest_cpu = std::max(largest_cpu, node_cpu);
      largest_memory = std::max(largest_memory, node_memory);
    }
    for (const auto& n : needs) {
      if (n.pod.cpu > largest_cpu) {
        out.problems.push_back(fmt::format(
            "a pod of {} requests {:g} CPU, more than any Ready node has allocatable ({:g})",
            n.service, n.pod.cpu, largest_cpu));
      }
      if (n.pod.memory > largest_memory) {
        out.problems.push_back(fmt::format(
            "a pod of {} requests {} of memory, more than any Ready node has allocatable ({})",
            n.service, formatBytes(n.pod.memory), formatBytes(largest_memory)));
      }
    }
    const auto parts = [&](bool want_cpu) {
      std::vector<std::string> p;
      for (const auto& n : needs) {
        const double per_pod = want_cpu ? n.pod.cpu : n.pod.memory;
        if (per_pod == 0) continue;
        p.push_back(fmt::format("{} {} x {}", n.service, n.instances,
                                want_cpu ? fmt::format("{:g}", per_pod) : formatBytes(per_pod)));
      }
      return fmt::format("{}", fmt::join(p, ", "));
    };
    if (total_cpu > cpu) {
      out.problems.push_back(fmt::format(
          "the services request {:g} CPU ({}), more than the {} Ready node(s) have allocatable ({:g})",
          total_cpu, parts(true), ready, cpu));
    }
    if (total_memory > memory) {
      out.problems.push_back(fmt::format(
          "the services request {} of memory ({}), more than the {} Ready node(s) have "
          "allocatable ({})",
          formatBytes(total_memory), parts(false), ready, formatBytes(memory)));
    }
    return {};
  }

  static std::string formatBytes(double bytes) {
    constexpr double kGi = 1024.0 * 1024 * 1024;
    if (bytes >= kGi) return fmt::format("{:g}Gi", std::round(bytes / kGi * 10) / 10);
    return fmt::format("{:g}Mi", std::round(bytes / (1024.0 * 1024) * 10) / 10);
  }

  static std::string diagnosisOf(const Cluster& c, const std::string& deployment) {
    std::lock_guard lock(c.diagnoses_mutex);
    const auto it = c.diagnoses.find(deployment);
    return it == c.diagnoses.end() ? std::string() : it->second;
  }

  // Reads why the version of `object` (a Deployment, or a pod) failed, once, before the view
  // shows it: the Deployment's rollout failed or the pod's phase is Failed. A Deployment that
  // rolled out or went away forgets it, so that a version started again is diagnosed afresh.
  void noteFailure(Cluster& c, bool pods, const Object& object, bool deleted) {
    const auto deployment = pods ? kube::versionObjectName(labelOf(object, kube::kNameLabel),
                                                           labelOf(object, kube::kVersionLabel))
                                 : objectName(object);
    if (!pods) {
      const auto state = kube::deploymentRolloutStatus(object).state;
      if (deleted || state == kube::RolloutStatus::State::Complete) {
        std::lock_guard lock(c.diagnoses_mutex);
        c.diagnoses.erase(deployment);
        return;
      }
      if (state != kube::RolloutStatus::State::Failed) return;
    } else if (deleted || kube::podInstance(object).phase != "Failed") {
      return;
    }
    {
      std::lock_guard lock(c.diagnoses_mutex);
      if (c.diagnoses.count(deployment) != 0) return;
    }
    auto text = diagnose(c, deployment);
    std::lock_guard lock(c.diagnoses_mutex);
    c.diagnoses[deployment] = std::move(text);
  }

  // The latest distinct Warning Events (reason: message, newest first, at most three) of a
  // version's Deployment, its ReplicaSets and their pods: what `kubectl describe` would show.
  static std::string diagnose(const Cluster& c, const std::string& deployment) {
    auto listed = c.client->list(kube::Resource::events(), c.ns,
                                 kube::ListOptions{{}, "type=Warning", {}});
    if (!listed) {
      spdlog::warn("environment {}: reading the Events of {} in {}: {}", c.environment, deployment,
                   c.ns, listed.error().message);
      return {};
    }
    const auto dashes = [](std::string_view s) { return std::count(s.begin(), s.end(), '-'); };
    std::vector<std::pair<std::string, std::string>> found;  // (time, "reason: message")
    for (const auto& e : listed->items) {
      const auto* involved = objectField(&e, "involvedObject");
      const auto kind = stringField(involved, "kind");
      const auto name = stringField(involved, "name");
      bool ours = kind == "Deployment" && name == deployment;
      if ((kind == "ReplicaSet" || kind == "Pod") && name.size() > deployment.size() + 1 &&
          name.compare(0, deployment.size() + 1, deployment + "-") == 0) {
        // <deployment>-<hash> and <deployment>-<hash>-<suffix>: not another version's objects.
        const auto rest = std::string_view(name).substr(deployment.size() + 1);
        ours = dashes(rest) == (kind == "ReplicaSet" ? 0 : 1);
      }
      if (!ours) continue;
      auto message = stringField(&e, "message");
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      std::string at = stringField(&e, "lastTimestamp");
      if (at.empty()) at = stringField(objectField(&e, "series"), "lastObservedTime");
      if (at.empty()) at = stringField(&e, "eventTime");
      if (at.empty()) at = stringField(&e, "firstTimestamp");
      if (at.empty()) at = stringField(metadataOf(e), "creationTimestamp");
      found.emplace_back(std::move(at), stringField(&e, "reason") + ": " + message);
    }
    std::stable_sort(found.begin(), found.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::string> texts;
    for (auto& [at, text] : found) {
      if (texts.size() == 3) break;
      if (std::find(texts.begin(), texts.end(), text) == texts.end()) texts.push_back(std::move(text));
    }
    return fmt::format("{}", fmt::join(texts, "; "));
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
      for (const auto& item : list.items) noteFailure(c, pods, item, false);
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
      noteFailure(c, pods, event.object, event.type == kube::WatchEvent::Type::Deleted);
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
        const auto why = diagnosisOf(c, kube::versionObjectName(e.service, e.version));
        push(RuntimeEvent::Kind::InstanceFailed, "pod " + name + " Failed" + (why.empty() ? "" : ": " + why));
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
      const auto why = diagnosisOf(c, objectName(*after));
      push(RuntimeEvent::Kind::VersionFailed, why.empty() ? now.message : now.message + ": " + why);
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
    std::string subresource;
    if (const auto slash = resource.find('/'); slash != std::string::npos) {
      subresource = resource.substr(slash + 1);
      resource.erase(slash);
    }
    for (const auto verb : verbs) {
      out.push_back({group, resource, std::string(verb), subresource, false, ""});
    }
  };
  add("apps", "deployments", {"get", "list", "watch", "create", "patch", "delete"});
  add("", "services", {"get", "list", "create", "patch", "delete"});
  add("", "pods", {"get", "list", "watch"});
  add("", "pods/log", {"get"});
  add("", "events", {"list"});
  add("autoscaling", "horizontalpodautoscalers", {"get", "patch"});
  if (http_route) {
    add("gateway.networking.k8s.io", "httproutes", {"get", "list", "create", "patch", "delete"});
  }
  return out;
}

}  // namespace runway::runtime
