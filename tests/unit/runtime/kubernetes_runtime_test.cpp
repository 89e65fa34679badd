// KubernetesRuntime against an in-memory API (a fake kube::Client): what it writes for a
// version, how a split becomes the stable Service's selector, and every refusal a user can
// meet (another runtime's environment, a version that cannot be a label, splits the Gateway API
// or a Service selector cannot express, retiring a version that still has traffic). The real
// API server is in tests/kubernetes.

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "runway/config/loader.hpp"
#include "runway/kube/client.hpp"
#include "runway/runtime/kubernetes_runtime.hpp"

namespace runway::runtime {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

void mergeInto(json::value& target, const json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object{};
  for (const auto& [key, value] : patch.as_object()) {
    if (value.is_null()) {
      target.as_object().erase(key);
    } else {
      mergeInto(target.as_object()[key], value);
    }
  }
}

// Objects by (resource, namespace, name); every write is recorded. Watches block until stopped.
class FakeKubeClient final : public kube::Client {
 public:
  struct Write {
    std::string verb;  // apply, create, patch, delete
    std::string resource;
    std::string name;
    json::object body;
  };

  const kube::Connection& connection() const override { return connection_; }

  Result<kube::Object> get(const kube::Resource& r, std::string_view ns, std::string_view name) override {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key(r, ns, name));
    if (it == objects_.end()) return fail(ErrorCode::NotFound, std::string(name) + " not found");
    return it->second;
  }
  Result<kube::ObjectList> list(const kube::Resource& r, std::string_view ns,
                                const kube::ListOptions&) override {
    std::lock_guard lock(mutex_);
    kube::ObjectList out;
    out.resource_version = "1";
    for (const auto& [k, o] : objects_) {
      if (std::get<0>(k) == r.plural && std::get<1>(k) == ns) out.items.push_back(o);
    }
    return out;
  }
  Result<kube::Object> create(const kube::Resource& r, std::string_view ns, const kube::Object& o) override {
    std::lock_guard lock(mutex_);
    const std::string name(o.at("metadata").at("name").as_string());
    writes_.push_back({"create", r.plural, name, o});
    if (!objects_.emplace(key(r, ns, name), o).second) return fail(ErrorCode::Conflict, "exists");
    return o;
  }
  Result<kube::Object> mergePatch(const kube::Resource& r, std::string_view ns, std::string_view name,
                                  const kube::Object& patch) override {
    std::lock_guard lock(mutex_);
    writes_.push_back({"patch", r.plural, std::string(name), patch});
    const auto it = objects_.find(key(r, ns, name));
    if (it == objects_.end()) return fail(ErrorCode::NotFound, std::string(name) + " not found");
    json::value v = it->second;
    mergeInto(v, patch);
    it->second = v.as_object();
    return it->second;
  }
  Result<kube::Object> apply(const kube::Resource& r, std::string_view ns, std::string_view name,
                             const kube::Object& o) override {
    std::lock_guard lock(mutex_);
    writes_.push_back({"apply", r.plural, std::string(name), o});
    objects_[key(r, ns, name)] = o;
    return o;
  }
  Result<void> remove(const kube::Resource& r, std::string_view ns, std::string_view name,
                      const kube::DeleteOptions&) override {
    std::lock_guard lock(mutex_);
    writes_.push_back({"delete", r.plural, std::string(name), {}});
    if (objects_.erase(key(r, ns, name)) == 0) return fail(ErrorCode::NotFound, "gone");
    return {};
  }
  Result<kube::WatchEnd> watch(const kube::Resource&, std::string_view, const kube::WatchOptions&,
                               const std::function<bool(const kube::WatchEvent&)>&,
                               std::stop_token stop) override {
    std::unique_lock lock(mutex_);
    std::condition_variable_any cv;
    cv.wait(lock, stop, [] { return false; });
    return kube::WatchEnd::Stopped;
  }
  Result<kube::Object> call(std::string_view, std::string_view, const kube::Object&) override {
    return fail(ErrorCode::Unavailable, "not in the fake");
  }
  Result<std::string> getText(std::string_view) override {
    return fail(ErrorCode::Unavailable, "not in the fake");
  }
  Result<void> stream(std::string_view, const std::function<bool(std::string_view)>&,
                      std::stop_token) override {
    return fail(ErrorCode::Unavailable, "not in the fake");
  }

  std::vector<Write> writes() const {
    std::lock_guard lock(mutex_);
    return writes_;
  }
  void put(const kube::Resource& r, const std::string& ns, kube::Object o) {
    std::lock_guard lock(mutex_);
    objects_[key(r, ns, std::string(o.at("metadata").at("name").as_string()))] = std::move(o);
  }

 private:
  using Key = std::tuple<std::string, std::string, std::string>;
  static Key key(const kube::Resource& r, std::string_view ns, std::string_view name) {
    return {r.plural, std::string(ns), std::string(name)};
  }
  kube::Connection connection_;
  mutable std::mutex mutex_;
  std::map<Key, kube::Object> objects_;
  std::vector<Write> writes_;
};

const char* kConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      image: registry.example/web
      port: 9000
      env: {MODE: "${ENVIRONMENT}"}
      local: {command: [web]}
    - name: api
      local: {command: [api]}
      kubernetes:
        image: registry.example/api:${VERSION}
        podTemplatePatch:
          metadata: {labels: null}
          spec: {nodeSelector: {pool: "${VERSION}"}}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: routed}
spec:
  runtime: {kubernetes: {namespace: shop, gateway: {name: public}}}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: plain}
spec:
  runtime: {kubernetes: {namespace: plain}}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: laptop}
spec:
  runtime: {local: {}}
)";

class KubernetesRuntimeUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::loadConfigText(kConfig, "t.yaml");
    ASSERT_TRUE(loaded.ok());
    config_ = *loaded.config;
    KubernetesRuntimeOptions options;
    options.connect = [this](const config::Environment& env) -> Result<std::shared_ptr<kube::Client>> {
      return env.name == "routed" ? routed_ : plain_;
    };
    options.sync_timeout = 5s;
    auto opened = KubernetesRuntime::open(config_, std::move(options));
    ASSERT_TRUE(opened) << opened.error().message;
    runtime_ = std::move(*opened);
  }

  const config::Environment& env(const std::string& name) { return *config_.findEnvironment(name); }
  const config::Service& service(const std::string& name) {
    for (const auto& s : config_.applications[0].services) {
      if (s.name == name) return s;
    }
    throw std::runtime_error("no service " + name);
  }
  static const json::object* written(const std::vector<FakeKubeClient::Write>& writes,
                                     const std::string& verb, const std::string& resource,
                                     const std::string& name) {
    const json::object* last = nullptr;
    for (const auto& w : writes) {
      if (w.verb == verb && w.resource == resource && w.name == name) last = &w.body;
    }
    return last;
  }

  config::Config config_;
  std::shared_ptr<FakeKubeClient> routed_ = std::make_shared<FakeKubeClient>();
  std::shared_ptr<FakeKubeClient> plain_ = std::make_shared<FakeKubeClient>();
  std::unique_ptr<KubernetesRuntime> runtime_;
};

TEST_F(KubernetesRuntimeUnitTest, AVersionIsADeploymentAServiceAndTheStableService) {
  ASSERT_TRUE(runtime_->startVersion(env("routed"), service("web"), "v1", 2, {{"web", "sha-1"}}));
  const auto writes = routed_->writes();
  const auto* d = written(writes, "apply", "deployments", "web-v1");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->at("spec").at("replicas").as_int64(), 2);
  const auto& c = d->at("spec").at("template").at("spec").at("containers").as_array()[0];
  EXPECT_EQ(c.at("image").as_string(), "registry.example/web:sha-1");  // the artifact as tag
  const auto& env_list = c.at("env").as_array();
  std::map<std::string, std::string> vars;
  for (const auto& e : env_list) vars[std::string(e.at("name").as_string())] = e.at("value").as_string();
  EXPECT_EQ(vars["MODE"], "routed");
  EXPECT_EQ(vars["RUNWAY_ARTIFACT"], "sha-1");
  EXPECT_EQ(vars["RUNWAY_ARTIFACT_WEB"], "sha-1");
  EXPECT_EQ(c.at("ports").as_array()[0].at("containerPort").as_int64(), 9000);
  EXPECT_NE(written(writes, "apply", "services", "web-v1"), nullptr);
  const auto* stable = written(writes, "create", "services", "web");
  ASSERT_NE(stable, nullptr);
  EXPECT_EQ(stable->at("spec").at("selector").at("runway.dev/version").as_string(), "v1");
  EXPECT_FALSE(stable->at("metadata").at("labels").as_object().contains("runway.dev/version"));
}

TEST_F(KubernetesRuntimeUnitTest, ThePodTemplatePatchIsSubstitutedAndKeepsTheSelectorLabels) {
  ASSERT_TRUE(runtime_->startVersion(env("routed"), service("api"), "v7", 1));
  const auto writes = routed_->writes();
  const auto* d = written(writes, "apply", "deployments", "api-v7");
  ASSERT_NE(d, nullptr);
  const auto& tpl = d->at("spec").at("template");
  EXPECT_EQ(tpl.at("spec").at("nodeSelector").at("pool").as_string(), "v7");
  // The patch removed the labels; the pods keep the ones the Deployment selects by.
  EXPECT_EQ(tpl.at("metadata").at("labels").at("runway.dev/version").as_string(), "v7");
  EXPECT_EQ(tpl.at("metadata").at("labels").at("app.kubernetes.io/name").as_string(), "api");
  EXPECT_EQ(tpl.at("spec").at("containers").as_array()[0].at("image").as_string(),
            "registry.example/api:v7");
}

TEST_F(KubernetesRuntimeUnitTest, RefusesWhatItCannotRun) {
  EXPECT_EQ(runtime_->startVersion(env("laptop"), service("web"), "v1", 1).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(runtime_->startVersion(env("routed"), service("web"), "v1/2", 1).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(runtime_->startVersion(env("routed"), service("web"), "v1", 1001).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(runtime_->setTraffic("laptop", "web", {}).error().code, ErrorCode::InvalidArgument);
  auto instances = runtime_->instances("laptop", "web");  // not this runtime's: none
  ASSERT_TRUE(instances);
  EXPECT_TRUE(instances->empty());
  EXPECT_EQ(runtime_->statistics("routed", "web", 1s).error().code, ErrorCode::Unavailable);
}

TEST_F(KubernetesRuntimeUnitTest, RefusesSplitsItCannotExpress) {
  ASSERT_TRUE(runtime_->startVersion(env("routed"), service("web"), "v1", 1));
  ASSERT_TRUE(runtime_->startVersion(env("plain"), service("web"), "v1", 1));
  const auto code = [&](const std::string& environment, TrafficSplit split) {
    auto r = runtime_->setTraffic(environment, "web", split);
    return r ? ErrorCode::Internal : r.error().code;  // Internal = "accepted"
  };
  EXPECT_EQ(code("routed", {{{"v1", 900}}, {}, ""}), ErrorCode::InvalidArgument);  // not 1000
  EXPECT_EQ(code("routed", {{{"v1", 1000}}, {}, "session"}), ErrorCode::InvalidArgument);
  TrafficRoute cookie;
  cookie.cookie = "beta";
  cookie.value = "1";
  cookie.version = "v1";
  EXPECT_EQ(code("routed", {{{"v1", 1000}}, {cookie}, ""}), ErrorCode::InvalidArgument);
  TrafficRoute prefix;
  prefix.header = "x-beta";
  prefix.match = TrafficRoute::Match::Prefix;
  prefix.value = "yes";
  prefix.version = "v1";
  EXPECT_EQ(code("routed", {{{"v1", 1000}}, {prefix}, ""}), ErrorCode::InvalidArgument);
  TrafficRoute header = prefix;
  header.match = TrafficRoute::Match::Exact;
  EXPECT_EQ(code("plain", {{{"v1", 1000}}, {header}, ""}), ErrorCode::InvalidArgument);  // no gateway
  EXPECT_EQ(code("routed", {{{"v2", 1000}}, {}, ""}), ErrorCode::NotFound);  // not started
  EXPECT_EQ(code("routed", {{{"v1", 1000}}, {header}, ""}), ErrorCode::Internal);
  const auto writes = routed_->writes();
  const auto* route = written(writes, "apply", "httproutes", "web");
  ASSERT_NE(route, nullptr);
  const auto& rules = route->at("spec").at("rules").as_array();
  ASSERT_EQ(rules.size(), 2u);  // the header route first, then the weighted rule
  EXPECT_EQ(rules[0].at("matches").as_array()[0].at("headers").as_array()[0].at("name").as_string(),
            "x-beta");
}

TEST_F(KubernetesRuntimeUnitTest, WithoutAGatewayAPartialSplitSelectsEveryVersion) {
  ASSERT_TRUE(runtime_->startVersion(env("plain"), service("web"), "v1", 1));
  ASSERT_TRUE(runtime_->startVersion(env("plain"), service("web"), "v2", 1));
  ASSERT_TRUE(runtime_->setTraffic("plain", "web", {{{"v1", 900}, {"v2", 100}}, {}, ""}));
  auto stable = plain_->get(kube::Resource::services(), "plain", "web");
  ASSERT_TRUE(stable);
  EXPECT_FALSE(stable->at("spec").at("selector").as_object().contains("runway.dev/version"));
  ASSERT_TRUE(runtime_->setTraffic("plain", "web", {{{"v2", 1000}}, {}, ""}));
  stable = plain_->get(kube::Resource::services(), "plain", "web");
  EXPECT_EQ(stable->at("spec").at("selector").at("runway.dev/version").as_string(), "v2");
  // The split is read back from the Service; no HTTPRoute was written.
  auto split = runtime_->traffic("plain", "web");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->weights, (std::map<std::string, int>{{"v2", 1000}}));
  const auto writes = plain_->writes();
  EXPECT_EQ(written(writes, "apply", "httproutes", "web"), nullptr);
}

TEST_F(KubernetesRuntimeUnitTest, RetiringAVersionWithTrafficIsRefused) {
  ASSERT_TRUE(runtime_->startVersion(env("routed"), service("web"), "v1", 1));
  ASSERT_TRUE(runtime_->setTraffic("routed", "web", {{{"v1", 1000}}, {}, ""}));
  EXPECT_EQ(runtime_->retireVersion("routed", "web", "v1", 1s).error().code,
            ErrorCode::FailedPrecondition);
  EXPECT_TRUE(runtime_->retireVersion("routed", "web", "v9", 1s));  // nothing to retire
  ASSERT_TRUE(runtime_->startVersion(env("routed"), service("web"), "v2", 1));
  ASSERT_TRUE(runtime_->setTraffic("routed", "web", {{{"v2", 1000}}, {}, ""}));
  ASSERT_TRUE(runtime_->retireVersion("routed", "web", "v1", 1s));
  EXPECT_FALSE(routed_->get(kube::Resource::deployments(), "shop", "web-v1"));
  EXPECT_FALSE(routed_->get(kube::Resource::services(), "shop", "web-v1"));
}

TEST_F(KubernetesRuntimeUnitTest, AnEmptySplitWithdrawsTheRoute) {
  ASSERT_TRUE(runtime_->startVersion(env("routed"), service("web"), "v1", 1));
  ASSERT_TRUE(runtime_->setTraffic("routed", "web", {{{"v1", 1000}}, {}, ""}));
  ASSERT_TRUE(routed_->get(kube::Resource::httpRoutes(), "shop", "web"));
  ASSERT_TRUE(runtime_->setTraffic("routed", "web", {}));
  EXPECT_FALSE(routed_->get(kube::Resource::httpRoutes(), "shop", "web"));
  EXPECT_TRUE(runtime_->traffic("routed", "web")->weights.empty());
  ASSERT_TRUE(runtime_->retireVersion("routed", "web", "v1", 1s));  // nothing routes to it now
}

}  // namespace
}  // namespace runway::runtime
