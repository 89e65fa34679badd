#pragma once

// A Kubernetes API client: typed paths, JSON objects in and out, errors as Result values with
// the API's Status message. Blocking; every method is safe to call from several threads.
//
// Objects are Boost.JSON objects: they are what the API speaks, and a client that handed out
// text would make every caller parse again (so Boost.JSON is a public dependency of this
// module).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/kube/config.hpp"
#include "runway/kube/credentials.hpp"
#include "runway/kube/transport.hpp"

namespace runway::kube {

using Object = boost::json::object;

// A kind of object as the API serves it: /api/v1/... for the core group ("" group),
// /apis/<group>/<version>/... otherwise.
struct Resource {
  std::string group;
  std::string version;
  std::string plural;
  bool namespaced = true;

  static Resource namespaces() { return {"", "v1", "namespaces", false}; }
  static Resource configMaps() { return {"", "v1", "configmaps", true}; }
  static Resource pods() { return {"", "v1", "pods", true}; }
  static Resource services() { return {"", "v1", "services", true}; }
  static Resource serviceAccounts() { return {"", "v1", "serviceaccounts", true}; }
  static Resource deployments() { return {"apps", "v1", "deployments", true}; }
  static Resource replicaSets() { return {"apps", "v1", "replicasets", true}; }
  static Resource roles() { return {"rbac.authorization.k8s.io", "v1", "roles", true}; }
  static Resource roleBindings() { return {"rbac.authorization.k8s.io", "v1", "rolebindings", true}; }
  static Resource httpRoutes() { return {"gateway.networking.k8s.io", "v1", "httproutes", true}; }
  static Resource events() { return {"", "v1", "events", true}; }
  static Resource secrets() { return {"", "v1", "secrets", true}; }
  static Resource nodes() { return {"", "v1", "nodes", false}; }
  static Resource ingresses() { return {"networking.k8s.io", "v1", "ingresses", true}; }
  static Resource gateways() { return {"gateway.networking.k8s.io", "v1", "gateways", true}; }
  static Resource horizontalPodAutoscalers() {
    return {"autoscaling", "v2", "horizontalpodautoscalers", true};
  }
};

// The path of a collection or (with `name`) of one object, e.g.
// /apis/apps/v1/namespaces/prod/deployments/api. `ns` is ignored for cluster-scoped resources.
// REQUIRES: `ns` is not empty for a namespaced resource.
std::string resourcePath(const Resource& resource, std::string_view ns, std::string_view name = {});

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // "" = most recent (a quorum read)
};

struct ObjectList {
  std::vector<Object> items;
  std::string resource_version;  // of the list, to watch from
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // events after this one; "" = a synthetic ADDED per object first
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};  // the server ends the watch after this (timeoutSeconds)
};

struct WatchEvent {
  enum class Type { Added, Modified, Deleted, Bookmark };
  Type type = Type::Added;
  Object object;  // a Bookmark carries only metadata.resourceVersion
};

// How a watch ended (errors are returned as errors).
enum class WatchEnd {
  Closed,   // the server ended it (timeoutSeconds); watch again from the last resourceVersion
  Stopped,  // the caller stopped it (the handler returned false or `stop` was requested)
  Expired,  // 410 Gone: the resourceVersion is too old (compacted); list again
};

struct DeleteOptions {
  std::string propagation_policy = "Background";  // Foreground, Background or Orphan
};

// Pauses the calling thread; injected so that tests record back-off instead of waiting.
using Sleep = std::function<void(Duration)>;

struct ClientOptions {
  std::shared_ptr<Clock> clock;                 // null = the system clock
  Sleep sleep;                                  // null = std::this_thread::sleep_for
  std::shared_ptr<Transport> transport;         // null = httpTransport()
  std::shared_ptr<PluginRunner> plugin_runner;  // null = processPluginRunner()
  std::string field_manager = "runway";         // for server-side apply and writes
  int max_attempts = 5;  // per request, for 429, 5xx and (reads only) unreachable
  Duration first_backoff{std::chrono::milliseconds(500)};  // doubled per attempt, up to max
  Duration max_backoff{std::chrono::seconds(30)};
  Duration request_timeout{std::chrono::seconds(30)};
};

// Status codes become ErrorCodes: 400/422 InvalidArgument, 401 Unauthenticated, 403
// PermissionDenied, 404 NotFound, 409 Conflict (AlreadyExists, or a stale resourceVersion:
// re-read and retry), 410 FailedPrecondition, 413 PayloadTooLarge, 429 and 5xx Unavailable
// (after the retries), 504 Timeout. The message is "<VERB> <path>: <code> <reason>: <the
// Status message>".
//
// Retries: 429 and 5xx are retried up to max_attempts, waiting Retry-After when the server
// sends it, else the doubling back-off; requests that could not reach the server are retried
// for reads only (a write may have been applied). A 401 fetches a new credential once (exec
// plugin, token file) and repeats the request.
class Client {
 public:
  virtual ~Client() = default;

  virtual const Connection& connection() const = 0;

  virtual Result<Object> get(const Resource& resource, std::string_view ns,
                             std::string_view name) = 0;
  virtual Result<ObjectList> list(const Resource& resource, std::string_view ns,
                                  const ListOptions& options = {}) = 0;
  virtual Result<Object> create(const Resource& resource, std::string_view ns,
                                const Object& object) = 0;
  // A JSON merge patch (RFC 7386): objects merge, lists and scalars replace, null removes.
  virtual Result<Object> mergePatch(const Resource& resource, std::string_view ns,
                                    std::string_view name, const Object& patch) = 0;
  // Server-side apply as field manager `field_manager`, forcing conflicts (runway owns the
  // fields it sets). `object` carries apiVersion, kind and metadata.name.
  virtual Result<Object> apply(const Resource& resource, std::string_view ns,
                               std::string_view name, const Object& object) = 0;
  // NotFound when it is already gone.
  virtual Result<void> remove(const Resource& resource, std::string_view ns, std::string_view name,
                              const DeleteOptions& options = {}) = 0;

  // Watches a collection, calling `on_event` for each event until the handler returns false,
  // `stop` is requested, the server closes the watch or the resourceVersion expires (see
  // WatchEnd). Runs on the calling thread; `on_event` is called on it.
  virtual Result<WatchEnd> watch(const Resource& resource, std::string_view ns,
                                 const WatchOptions& options,
                                 const std::function<bool(const WatchEvent&)>& on_event,
                                 std::stop_token stop = {}) = 0;

  // GET `path` (it starts with '/' and may carry a query) whose answer is not a JSON object,
  // e.g. a pod's log (text/plain): the body as it came. Retried like get().
  virtual Result<std::string> getText(std::string_view path) = 0;

  // GET `path` and hand the body to `on_data` in pieces as it arrives (a pod's log with
  // follow=true), until the server ends it, `on_data` returns false or `stop` is requested
  // (the last two are not errors: soon after a stop, within about a second). Not retried (the
  // caller decides whether to read again); a 401 fetches a new credential once. Runs on the
  // calling thread.
  virtual Result<void> stream(std::string_view path,
                              const std::function<bool(std::string_view)>& on_data,
                              std::stop_token stop) = 0;

  // Any other call, e.g. POST .../serviceaccounts/NAME/token or
  // /apis/authentication.k8s.io/v1/selfsubjectreviews. `path` starts with '/' and may carry a
  // query. `body` may be empty for GET and DELETE.
  virtual Result<Object> call(std::string_view method, std::string_view path,
                              const Object& body = {}) = 0;
};

// REQUIRES: connection.server is set.
std::unique_ptr<Client> makeClient(Connection connection, ClientOptions options = {});

// Keeps a view of a collection up to date, the way client-go's reflector does: lists (calling
// `on_list` with everything), then watches from the list's resourceVersion with bookmarks,
// watches again from the last resourceVersion seen when the server closes the watch, and lists
// again (another `on_list`) when the resourceVersion has expired (410 Gone). With
// `resource_version` set, the first list is skipped and the watch starts there (resuming).
// Transport failures and 5xx back off with `sleep` (200 ms doubling up to 30 s); returns when
// `stop` is requested (an empty result; a stop during a back-off takes effect after it) or on
// an error that waiting cannot fix (403, 404, 400, 401).
struct CollectionHandlers {
  std::function<void(const ObjectList&)> on_list;
  std::function<void(const WatchEvent&)> on_event;
};
Result<void> listAndWatch(Client& client, const Resource& resource, std::string_view ns,
                          const std::string& label_selector, std::string resource_version,
                          const CollectionHandlers& handlers, const Sleep& sleep,
                          std::stop_token stop);

}  // namespace runway::kube
