// The Kubernetes client against the real API server: objects, server-side apply, conflicts,
// watches (and their 410 Gone), and RBAC for a service account with a limited Role.

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cluster.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::kube {
namespace {

namespace json = boost::json;
using testing::adminClient;
using testing::cluster;
using testing::TestNamespace;

json::object deployment(const std::string& name, const std::string& image, int replicas) {
  const json::object labels{{"app.kubernetes.io/name", name}};
  const json::array containers{json::object{{"name", "app"}, {"image", image}}};
  const json::object pod_template{{"metadata", json::object{{"labels", labels}}},
                                  {"spec", json::object{{"containers", containers}}}};
  return json::object{{"apiVersion", "apps/v1"},
                      {"kind", "Deployment"},
                      {"metadata", json::object{{"name", name}, {"labels", labels}}},
                      {"spec", json::object{{"replicas", replicas},
                                            {"selector", json::object{{"matchLabels", labels}}},
                                            {"template", pod_template}}}};
}

std::int64_t intAt(const Object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* current = &o;
  for (const auto key : path) {
    if (current == nullptr) return -1;
    v = current->if_contains(key);
    if (v == nullptr) return -1;
    current = v->if_object();
  }
  return v != nullptr && v->is_int64() ? v->get_int64() : -1;
}

std::string resourceVersion(const Object& o) {
  return std::string(o.at("metadata").at("resourceVersion").as_string());
}

TEST(KubeClientTest, DeploymentCreateGetPatchApplyDelete) {
  TestNamespace ns("deploy");
  auto kube = adminClient();

  auto created = kube->create(Resource::deployments(), ns.name(), deployment("api", "registry.example/api:v1", 2));
  ASSERT_TRUE(created) << created.error().message;

  // kube-controller-manager makes the ReplicaSet, the scheduler places the pods on the kwok
  // node, kwok makes them Ready: the Deployment's status says so.
  Object got;
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto d = kube->get(Resource::deployments(), ns.name(), "api");
        if (!d) return false;
        got = std::move(*d);
        return intAt(got, {"status", "readyReplicas"}) == 2;
      },
      test::deadlineIn(std::chrono::seconds(60))))
      << json::serialize(got);

  // A second create of the same name is a Conflict (AlreadyExists).
  auto again = kube->create(Resource::deployments(), ns.name(), deployment("api", "x:v1", 1));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_NE(again.error().message.find("AlreadyExists"), std::string::npos) << again.error().message;

  // JSON merge patch.
  auto scaled = kube->mergePatch(Resource::deployments(), ns.name(), "api",
                                 json::object{{"spec", json::object{{"replicas", 3}}}});
  ASSERT_TRUE(scaled) << scaled.error().message;
  EXPECT_EQ(intAt(*scaled, {"spec", "replicas"}), 3);

  // A merge patch carrying an old resourceVersion is refused: 409, re-read and retry.
  auto stale = kube->mergePatch(
      Resource::deployments(), ns.name(), "api",
      json::object{{"metadata", json::object{{"resourceVersion", resourceVersion(*created)}}},
                   {"spec", json::object{{"replicas", 1}}}});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::Conflict);
  EXPECT_NE(stale.error().message.find("the object has been modified"), std::string::npos)
      << stale.error().message;
  // Re-read and retry, as a caller must: the controllers write the Deployment's status all the
  // while, so even a fresh read can be stale by the time the patch arrives.
  Result<Object> retried = fail(ErrorCode::Conflict, "not tried");
  for (int attempt = 0; attempt < 20 && !retried; ++attempt) {
    auto fresh = kube->get(Resource::deployments(), ns.name(), "api");
    ASSERT_TRUE(fresh) << fresh.error().message;
    retried = kube->mergePatch(
        Resource::deployments(), ns.name(), "api",
        json::object{{"metadata", json::object{{"resourceVersion", resourceVersion(*fresh)}}},
                     {"spec", json::object{{"replicas", 1}}}});
    if (!retried) {
      ASSERT_EQ(retried.error().code, ErrorCode::Conflict) << retried.error().message;
    }
  }
  ASSERT_TRUE(retried) << retried.error().message;
  EXPECT_EQ(intAt(*retried, {"spec", "replicas"}), 1);

  // Server-side apply of a new image, as field manager runway, forced.
  auto applied = kube->apply(Resource::deployments(), ns.name(), "api",
                             deployment("api", "registry.example/api:v2", 1));
  ASSERT_TRUE(applied) << applied.error().message;
  const auto& containers = applied->at("spec").at("template").at("spec").at("containers").as_array();
  EXPECT_EQ(containers.at(0).at("image").as_string(), "registry.example/api:v2");
  bool runway_applies = false;
  for (const auto& entry : applied->at("metadata").at("managedFields").as_array()) {
    if (entry.at("manager").as_string() == "runway" && entry.at("operation").as_string() == "Apply") {
      runway_applies = true;
    }
  }
  EXPECT_TRUE(runway_applies) << json::serialize(applied->at("metadata").at("managedFields"));
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto d = kube->get(Resource::deployments(), ns.name(), "api");
        return d && intAt(*d, {"status", "updatedReplicas"}) == 1 &&
               intAt(*d, {"status", "readyReplicas"}) == 1 &&
               intAt(*d, {"status", "observedGeneration"}) == intAt(*d, {"metadata", "generation"});
      },
      test::deadlineIn(std::chrono::seconds(60))));

  // Delete; then it is gone.
  ASSERT_TRUE(kube->remove(Resource::deployments(), ns.name(), "api"));
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto d = kube->get(Resource::deployments(), ns.name(), "api");
        return !d && d.error().code == ErrorCode::NotFound;
      },
      test::deadlineIn(std::chrono::seconds(30))));
  auto twice = kube->remove(Resource::deployments(), ns.name(), "api");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::NotFound);
}

TEST(KubeClientTest, HttpRouteWeightsByApplyAndMergePatch) {
  TestNamespace ns("route");
  auto kube = adminClient();
  const auto backend = [](std::string_view name, int weight) {
    return json::object{{"name", name}, {"port", 80}, {"weight", weight}};
  };
  const json::object route{
      {"apiVersion", "gateway.networking.k8s.io/v1"},
      {"kind", "HTTPRoute"},
      {"metadata", json::object{{"name", "api"}}},
      {"spec", json::object{{"parentRefs", json::array{json::object{{"name", "gateway"}}}},
                            {"rules", json::array{json::object{
                                          {"backendRefs", json::array{backend("api-v1", 90),
                                                                      backend("api-v2", 10)}}}}}}}};
  auto applied = kube->apply(Resource::httpRoutes(), ns.name(), "api", route);
  ASSERT_TRUE(applied) << applied.error().message;
  auto patched = kube->mergePatch(
      Resource::httpRoutes(), ns.name(), "api",
      json::object{{"spec", json::object{{"rules", json::array{json::object{
                                                       {"backendRefs", json::array{backend("api-v1", 50),
                                                                                   backend("api-v2", 50)}}}}}}}});
  ASSERT_TRUE(patched) << patched.error().message;
  const auto& refs = patched->at("spec").at("rules").at(0).at("backendRefs").as_array();
  EXPECT_EQ(refs.at(0).at("weight").as_int64(), 50);
  EXPECT_EQ(refs.at(1).at("weight").as_int64(), 50);
  // The CRD's validation: a negative weight is InvalidArgument with the API's explanation.
  auto negative = kube->mergePatch(
      Resource::httpRoutes(), ns.name(), "api",
      json::object{{"spec", json::object{{"rules", json::array{json::object{
                                                       {"backendRefs", json::array{backend("api-v1", -1)}}}}}}}});
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(negative.error().message.find("greater than or equal to 0"), std::string::npos)
      << negative.error().message;
}

using testing::configMap;
using testing::Recorder;
using testing::typeName;

TEST(KubeWatchTest, SeesAddedModifiedDeleted) {
  TestNamespace ns("watch");
  auto kube = adminClient();
  auto listed = kube->list(Resource::configMaps(), ns.name());
  ASSERT_TRUE(listed) << listed.error().message;

  Recorder recorder;
  std::optional<Result<WatchEnd>> ended;
  std::jthread watcher([&](std::stop_token stop) {
    WatchOptions options;
    options.resource_version = listed->resource_version;
    options.label_selector = "";
    ended = kube->watch(
        Resource::configMaps(), ns.name(), options,
        [&](const WatchEvent& e) {
          if (e.type == WatchEvent::Type::Bookmark) return true;
          const auto& md = e.object.at("metadata").as_object();
          if (md.at("name").as_string() != "settings") return true;  // kube-root-ca.crt
          const auto* data = e.object.if_contains("data");
          recorder.add(fmt::format("{} {}", typeName(e.type),
                                   data ? std::string(data->at("value").as_string()) : ""));
          return e.type != WatchEvent::Type::Deleted;
        },
        stop);
  });

  ASSERT_TRUE(kube->create(Resource::configMaps(), ns.name(), configMap("settings", "a")));
  ASSERT_TRUE(test::pollUntil([&] { return recorder.contains("ADDED a"); },
                              test::deadlineIn(std::chrono::seconds(20))));
  ASSERT_TRUE(kube->mergePatch(Resource::configMaps(), ns.name(), "settings",
                               json::object{{"data", json::object{{"value", "b"}}}}));
  ASSERT_TRUE(test::pollUntil([&] { return recorder.contains("MODIFIED b"); },
                              test::deadlineIn(std::chrono::seconds(20))));
  ASSERT_TRUE(kube->remove(Resource::configMaps(), ns.name(), "settings"));
  ASSERT_TRUE(test::pollUntil([&] { return recorder.contains("DELETED b"); },
                              test::deadlineIn(std::chrono::seconds(20))));
  watcher.join();  // the handler ended the watch at DELETED
  ASSERT_TRUE(ended && *ended) << (ended ? ended->error().message : "no result");
  EXPECT_EQ(**ended, WatchEnd::Stopped);
  EXPECT_EQ(recorder.entries(), (std::vector<std::string>{"ADDED a", "MODIFIED b", "DELETED b"}));
}

TEST(KubeRbacTest, ServiceAccountWithLimitedRoleIsRefusedOutsideIt) {
  TestNamespace ns("rbac");
  auto admin = adminClient();
  ASSERT_TRUE(admin->create(
      Resource::roles(), ns.name(),
      json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                   {"kind", "Role"},
                   {"metadata", json::object{{"name", "configmap-reader"}}},
                   {"rules", json::array{json::object{{"apiGroups", json::array{""}},
                                                      {"resources", json::array{"configmaps"}},
                                                      {"verbs", json::array{"get", "list", "watch"}}}}}}));
  auto token = testing::serviceAccountToken(*admin, ns.name(), "reader");
  ASSERT_TRUE(token) << token.error().message;
  ASSERT_TRUE(admin->create(
      Resource::roleBindings(), ns.name(),
      json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                   {"kind", "RoleBinding"},
                   {"metadata", json::object{{"name", "reader"}}},
                   {"roleRef", json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                            {"kind", "Role"},
                                            {"name", "configmap-reader"}}},
                   {"subjects", json::array{json::object{{"kind", "ServiceAccount"},
                                                         {"name", "reader"},
                                                         {"namespace", ns.name()}}}}}));

  Connection as_reader;
  as_reader.server = cluster().admin.server;
  as_reader.certificate_authority_pem = cluster().admin.certificate_authority_pem;
  as_reader.token = *token;
  auto reader = makeClient(as_reader);
  auto me = testing::whoAmI(*reader);
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(*me, fmt::format("system:serviceaccount:{}:reader", ns.name()));

  // The binding reaches the authorizer's cache shortly after it is created.
  ASSERT_TRUE(test::pollUntil([&] { return reader->list(Resource::configMaps(), ns.name()).has_value(); },
                              test::deadlineIn(std::chrono::seconds(20))));

  auto create = reader->create(Resource::configMaps(), ns.name(), configMap("x", "y"));
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().code, ErrorCode::PermissionDenied);
  EXPECT_NE(create.error().message.find(fmt::format(
                R"(User "system:serviceaccount:{}:reader" cannot create resource "configmaps")", ns.name())),
            std::string::npos)
      << create.error().message;

  auto deployments = reader->list(Resource::deployments(), ns.name());
  ASSERT_FALSE(deployments);
  EXPECT_EQ(deployments.error().code, ErrorCode::PermissionDenied);
  EXPECT_NE(deployments.error().message.find("403 Forbidden"), std::string::npos)
      << deployments.error().message;

  // Another namespace is outside the Role too.
  auto elsewhere = reader->list(Resource::configMaps(), "default");
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().code, ErrorCode::PermissionDenied);

  // A token the API server does not know is Unauthenticated.
  as_reader.token = "not-a-token";
  auto stranger = makeClient(as_reader)->list(Resource::configMaps(), ns.name());
  ASSERT_FALSE(stranger);
  EXPECT_EQ(stranger.error().code, ErrorCode::Unauthenticated);
}

TEST(KubeRbacTest, InClusterConfigurationFromServiceAccountFiles) {
  TestNamespace ns("incluster");
  auto admin = adminClient();
  auto token = testing::serviceAccountToken(*admin, ns.name(), "runner");
  ASSERT_TRUE(token) << token.error().message;
  test::TempDir dir("in-cluster");
  ASSERT_TRUE(dir.write("sa/token", *token));
  ASSERT_TRUE(dir.write("sa/ca.crt", cluster().admin.certificate_authority_pem));
  ASSERT_TRUE(dir.write("sa/namespace", ns.name()));
  const auto port = cluster().admin.server.substr(cluster().admin.server.rfind(':') + 1);
  InClusterEnvironment environment;
  environment.service_account_dir = dir / "sa";
  environment.getenv = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") return "127.0.0.1";
    if (name == "KUBERNETES_SERVICE_PORT") return port;
    return std::nullopt;
  };
  auto connection = inClusterConnection(environment);
  ASSERT_TRUE(connection) << connection.error().message;
  EXPECT_EQ(connection->namespace_name, ns.name());
  auto client = makeClient(*connection);
  auto me = testing::whoAmI(*client);
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(*me, fmt::format("system:serviceaccount:{}:runner", ns.name()));
}

}  // namespace
}  // namespace runway::kube
