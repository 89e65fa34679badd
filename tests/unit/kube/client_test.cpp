#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include <boost/json.hpp>

#include "runway/kube/client.hpp"

namespace runway::kube {
namespace {

namespace json = boost::json;

// Answers each request with the next scripted response (or error) and records the requests.
// stream() hands a 2xx body to the consumer in 7-byte pieces, so lines arrive split.
class FakeTransport final : public Transport {
 public:
  using Answer = Result<HttpResponse>;

  void push(long status, std::string body, std::map<std::string, std::string> headers = {}) {
    answers_.push_back(HttpResponse{status, std::move(headers), std::move(body)});
  }
  void pushError(ErrorCode code) { answers_.push_back(fail(code, "scripted transport failure")); }

  // Transport
  Result<HttpResponse> perform(const HttpRequest& request) override {
    requests.push_back(request);
    if (answers_.empty()) return fail(ErrorCode::Internal, "no scripted answer for " + request.url);
    auto answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  }
  Result<HttpResponse> stream(const HttpRequest& request,
                              const std::function<bool(std::string_view)>& on_data,
                              std::stop_token) override {
    auto answer = perform(request);
    if (!answer || answer->status < 200 || answer->status >= 300) return answer;
    const std::string body = std::move(answer->body);
    answer->body.clear();
    for (std::size_t i = 0; i < body.size(); i += 7) {
      if (!on_data(std::string_view(body).substr(i, 7))) break;
    }
    return answer;
  }

  std::vector<HttpRequest> requests;

 private:
  std::deque<Answer> answers_;
};

std::string header(const HttpRequest& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

std::string status(int code, std::string_view reason, std::string_view message) {
  return json::serialize(json::object{{"kind", "Status"},
                                      {"apiVersion", "v1"},
                                      {"status", "Failure"},
                                      {"reason", reason},
                                      {"message", message},
                                      {"code", code}});
}

class ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> client(Connection c = {}) {
    if (c.server.empty()) c.server = "https://api.example:6443";
    if (c.token.empty() && !c.exec && c.client_certificate_pem.empty()) c.token = "sekret";
    ClientOptions options;
    options.clock = clock_;
    options.transport = transport_;
    options.sleep = [this](Duration d) { sleeps_.push_back(d); };
    return makeClient(std::move(c), options);
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<FakeTransport> transport_ = std::make_shared<FakeTransport>();
  std::vector<Duration> sleeps_;
};

TEST_F(ClientTest, PathsOfCoreGroupAndNamedGroups) {
  EXPECT_EQ(resourcePath(Resource::pods(), "shop"), "/api/v1/namespaces/shop/pods");
  EXPECT_EQ(resourcePath(Resource::deployments(), "shop", "api"),
            "/apis/apps/v1/namespaces/shop/deployments/api");
  EXPECT_EQ(resourcePath(Resource::namespaces(), "ignored", "shop"), "/api/v1/namespaces/shop");
}

TEST_F(ClientTest, GetSendsTheTokenAndParsesTheObject) {
  transport_->push(200, R"({"kind":"Deployment","metadata":{"name":"api"}})");
  auto got = client()->get(Resource::deployments(), "shop", "api");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ((*got)["kind"].as_string(), "Deployment");
  ASSERT_EQ(transport_->requests.size(), 1U);
  const auto& r = transport_->requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.url, "https://api.example:6443/apis/apps/v1/namespaces/shop/deployments/api");
  EXPECT_EQ(header(r, "Authorization"), "Bearer sekret");
  EXPECT_EQ(header(r, "Accept"), "application/json");
}

TEST_F(ClientTest, StatusMessageAndCodeOnFailure) {
  transport_->push(404, status(404, "NotFound", R"(deployments.apps "api" not found)"));
  auto got = client()->get(Resource::deployments(), "shop", "api");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::NotFound);
  EXPECT_EQ(got.error().message,
            R"(GET /apis/apps/v1/namespaces/shop/deployments/api: 404 NotFound: deployments.apps "api" not found)");
  EXPECT_EQ(got.error().message.find("sekret"), std::string::npos);
}

TEST_F(ClientTest, ConflictIsSurfacedNotRetried) {
  transport_->push(409, status(409, "Conflict",
                               "Operation cannot be fulfilled on deployments.apps \"api\": the "
                               "object has been modified; please apply your changes to the latest "
                               "version and try again"));
  auto patched = client()->mergePatch(Resource::deployments(), "shop", "api",
                                      json::object{{"metadata", json::object{{"resourceVersion", "5"}}}});
  ASSERT_FALSE(patched);
  EXPECT_EQ(patched.error().code, ErrorCode::Conflict);
  EXPECT_NE(patched.error().message.find("the object has been modified"), std::string::npos);
  EXPECT_EQ(transport_->requests.size(), 1U);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(ClientTest, TooManyRequestsWaitsRetryAfter) {
  transport_->push(429, status(429, "TooManyRequests", "slow down"), {{"retry-after", "3"}});
  transport_->push(200, R"({"kind":"Pod"})");
  auto got = client()->get(Resource::pods(), "shop", "p");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(sleeps_, (std::vector<Duration>{std::chrono::seconds(3)}));
}

TEST_F(ClientTest, ServerErrorsBackOffDoublingThenGiveUp) {
  for (int i = 0; i < 5; ++i) transport_->push(503, status(503, "ServiceUnavailable", "etcd down"));
  auto got = client()->get(Resource::pods(), "shop", "p");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::Unavailable);
  EXPECT_NE(got.error().message.find("etcd down"), std::string::npos);
  EXPECT_EQ(transport_->requests.size(), 5U);
  using std::chrono::milliseconds;
  EXPECT_EQ(sleeps_, (std::vector<Duration>{milliseconds(500), milliseconds(1000),
                                             milliseconds(2000), milliseconds(4000)}));
}

TEST_F(ClientTest, UnreachableServerRetriedForReadsOnly) {
  transport_->pushError(ErrorCode::Unavailable);
  transport_->push(200, R"({"items":[],"metadata":{"resourceVersion":"7"}})");
  auto listed = client()->list(Resource::pods(), "shop");
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->resource_version, "7");
  EXPECT_EQ(sleeps_.size(), 1U);

  transport_->pushError(ErrorCode::Unavailable);
  auto created = client()->create(Resource::configMaps(), "shop", json::object{{"kind", "ConfigMap"}});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(sleeps_.size(), 1U);  // no retry: the create may have happened
}

TEST_F(ClientTest, ApplyIsServerSideApplyForced) {
  transport_->push(200, R"({"kind":"ConfigMap"})");
  auto applied = client()->apply(Resource::configMaps(), "shop", "settings",
                                 json::object{{"apiVersion", "v1"}, {"kind", "ConfigMap"}});
  ASSERT_TRUE(applied) << applied.error().message;
  const auto& r = transport_->requests.at(0);
  EXPECT_EQ(r.method, "PATCH");
  EXPECT_EQ(r.url,
            "https://api.example:6443/api/v1/namespaces/shop/configmaps/settings"
            "?fieldManager=runway&force=true");
  EXPECT_EQ(header(r, "Content-Type"), "application/apply-patch+yaml");
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"apiVersion":"v1","kind":"ConfigMap"})"));
}

TEST_F(ClientTest, MergePatchAndListQuery) {
  transport_->push(200, R"({})");
  transport_->push(200, R"({"items":[{"metadata":{"name":"a"}}],"metadata":{"resourceVersion":"9"}})");
  auto c = client();
  ASSERT_TRUE(c->mergePatch(Resource::deployments(), "shop", "api", json::object{{"spec", nullptr}}));
  EXPECT_EQ(header(transport_->requests.at(0), "Content-Type"), "application/merge-patch+json");
  auto listed = c->list(Resource::pods(), "shop", ListOptions{"app.kubernetes.io/name=api", "", ""});
  ASSERT_TRUE(listed);
  EXPECT_EQ(transport_->requests.at(1).url,
            "https://api.example:6443/api/v1/namespaces/shop/pods?labelSelector=app.kubernetes.io%2Fname%3Dapi");
  ASSERT_EQ(listed->items.size(), 1U);
}

class ScriptedRunner final : public PluginRunner {
 public:
  Result<std::string> run(const ExecPlugin&, const std::string&) override {
    ++runs;
    return std::string(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)"
                       R"("status":{"token":"plugin-)") +
           std::to_string(runs) + R"("}})";
  }
  int runs = 0;
};

TEST_F(ClientTest, UnauthorizedRunsTheExecPluginAgainOnce) {
  auto runner = std::make_shared<ScriptedRunner>();
  Connection c;
  c.server = "https://api.example:6443";
  c.exec = ExecPlugin{"client.authentication.k8s.io/v1", "get-token", {}, {}, "Never"};
  ClientOptions options;
  options.clock = clock_;
  options.transport = transport_;
  options.plugin_runner = runner;
  options.sleep = [this](Duration d) { sleeps_.push_back(d); };
  auto kube = makeClient(c, options);

  transport_->push(401, status(401, "Unauthorized", "Unauthorized"));
  transport_->push(200, R"({})");
  ASSERT_TRUE(kube->get(Resource::pods(), "shop", "p"));
  EXPECT_EQ(runner->runs, 2);
  EXPECT_EQ(header(transport_->requests.at(0), "Authorization"), "Bearer plugin-1");
  EXPECT_EQ(header(transport_->requests.at(1), "Authorization"), "Bearer plugin-2");

  // A second 401 in a row is an answer, not a reason to loop.
  transport_->push(401, status(401, "Unauthorized", "Unauthorized"));
  transport_->push(401, status(401, "Unauthorized", "Unauthorized"));
  auto refused = kube->get(Resource::pods(), "shop", "p");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::Unauthenticated);
  EXPECT_EQ(runner->runs, 3);
}

std::string event(std::string_view type, std::string_view name, std::string_view rv) {
  return json::serialize(json::object{
             {"type", type},
             {"object", json::object{{"kind", "ConfigMap"},
                                     {"metadata", json::object{{"name", name}, {"resourceVersion", rv}}}}}}) +
         "\n";
}

TEST_F(ClientTest, WatchDeliversEventsSplitAcrossReadsAndEndsOn410) {
  transport_->push(200, event("ADDED", "a", "11") + event("MODIFIED", "a", "12") +
                            event("BOOKMARK", "", "13") + event("DELETED", "a", "14") +
                            R"({"type":"ERROR","object":)" + status(410, "Expired", "too old resource version: 5 (14)") + "}\n");
  std::vector<std::string> seen;
  WatchOptions options;
  options.resource_version = "10";
  auto ended = client()->watch(Resource::configMaps(), "shop", options,
                               [&](const WatchEvent& e) {
                                 const auto& md = e.object.at("metadata").as_object();
                                 seen.push_back(std::to_string(static_cast<int>(e.type)) + ":" +
                                                std::string(md.at("resourceVersion").as_string()));
                                 return true;
                               });
  ASSERT_TRUE(ended) << ended.error().message;
  EXPECT_EQ(*ended, WatchEnd::Expired);
  EXPECT_EQ(seen, (std::vector<std::string>{"0:11", "1:12", "3:13", "2:14"}));
  EXPECT_EQ(transport_->requests.at(0).url,
            "https://api.example:6443/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion=10"
            "&allowWatchBookmarks=true&timeoutSeconds=300");
}

TEST_F(ClientTest, WatchGone410StatusAndOtherErrors) {
  transport_->push(410, status(410, "Gone", "too old"));
  auto gone = client()->watch(Resource::pods(), "shop", {}, [](const WatchEvent&) { return true; });
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, WatchEnd::Expired);

  transport_->push(403, status(403, "Forbidden", R"(pods is forbidden: User "x" cannot watch)"));
  auto forbidden = client()->watch(Resource::pods(), "shop", {}, [](const WatchEvent&) { return true; });
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().code, ErrorCode::PermissionDenied);
}

TEST_F(ClientTest, ListAndWatchRelistsAfterExpiryAndResumesAfterClose) {
  transport_->push(200, R"({"items":[{"metadata":{"name":"a","resourceVersion":"10"}}],"metadata":{"resourceVersion":"10"}})");
  transport_->push(200, event("ADDED", "b", "11"));  // then the server closes the watch
  transport_->push(200, R"({"type":"ERROR","object":)" + status(410, "Expired", "too old") + "}\n");
  transport_->push(200, R"({"items":[{"metadata":{"name":"b","resourceVersion":"20"}}],"metadata":{"resourceVersion":"20"}})");
  transport_->pushError(ErrorCode::Unavailable);  // the next watch cannot connect: back off
  transport_->push(200, event("DELETED", "b", "21"));

  auto c = client();
  std::stop_source stop;
  std::vector<std::string> log;
  CollectionHandlers handlers;
  handlers.on_list = [&](const ObjectList& l) {
    log.push_back("list@" + l.resource_version + " n=" + std::to_string(l.items.size()));
  };
  handlers.on_event = [&](const WatchEvent& e) {
    log.push_back(std::string(e.object.at("metadata").at("name").as_string()) + "@" +
                  std::string(e.object.at("metadata").at("resourceVersion").as_string()));
    if (e.type == WatchEvent::Type::Deleted) stop.request_stop();
  };
  auto done = listAndWatch(*c, Resource::configMaps(), "shop", "", "", handlers,
                           [this](Duration d) { sleeps_.push_back(d); }, stop.get_token());
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(log, (std::vector<std::string>{"list@10 n=1", "b@11", "list@20 n=1", "b@21"}));
  // Watches resumed from the last resourceVersion seen.
  ASSERT_EQ(transport_->requests.size(), 6U);
  EXPECT_NE(transport_->requests[1].url.find("resourceVersion=10"), std::string::npos);
  EXPECT_NE(transport_->requests[2].url.find("resourceVersion=11"), std::string::npos);
  EXPECT_NE(transport_->requests[4].url.find("resourceVersion=20"), std::string::npos);
  EXPECT_NE(transport_->requests[5].url.find("resourceVersion=20"), std::string::npos);
  EXPECT_EQ(sleeps_, (std::vector<Duration>{std::chrono::milliseconds(200)}));
}

// After an outage the back-off has grown; once the server answers again, the next failure waits
// the first step again rather than the grown one.
TEST_F(ClientTest, ListAndWatchStartsItsBackOffAfreshOnceTheServerAnswers) {
  transport_->push(200, R"({"items":[],"metadata":{"resourceVersion":"10"}})");
  transport_->pushError(ErrorCode::Unavailable);  // an outage: the watch cannot connect
  transport_->pushError(ErrorCode::Unavailable);
  transport_->pushError(ErrorCode::Unavailable);
  transport_->pushError(ErrorCode::FailedPrecondition);  // back, but the version is gone: relist
  transport_->push(200, R"({"items":[],"metadata":{"resourceVersion":"20"}})");
  transport_->pushError(ErrorCode::Unavailable);  // a blip after the server answered again
  transport_->push(200, event("DELETED", "b", "21"));

  auto c = client();
  std::stop_source stop;
  CollectionHandlers handlers;
  handlers.on_event = [&](const WatchEvent& e) {
    if (e.type == WatchEvent::Type::Deleted) stop.request_stop();
  };
  auto done = listAndWatch(*c, Resource::configMaps(), "shop", "", "", handlers,
                           [this](Duration d) { sleeps_.push_back(d); }, stop.get_token());
  ASSERT_TRUE(done) << done.error().message;
  using std::chrono::milliseconds;
  // 200, 400, 800 through the outage; the blip after the relist waits 200 ms, not 1,600.
  EXPECT_EQ(sleeps_, (std::vector<Duration>{milliseconds(200), milliseconds(400), milliseconds(800),
                                            milliseconds(200)}));
}

TEST_F(ClientTest, ListAndWatchReturnsPermissionErrors) {
  transport_->push(403, status(403, "Forbidden", "no"));
  auto done = listAndWatch(*client(), Resource::pods(), "shop", "", "", {}, [](Duration) {}, {});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::PermissionDenied);
}

}  // namespace
}  // namespace runway::kube
