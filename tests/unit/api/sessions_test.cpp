#include "runway/api/sessions.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "runway/api/dashboard.hpp"
#include "runway/api/tokens.hpp"
#include "support/http.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::api {
namespace {

using namespace std::chrono_literals;

const Identity kViewer{"vera", {"viewer"}, "t1"};

std::shared_ptr<FakeClock> fakeClock() { return std::make_shared<FakeClock>(); }

// ---- the cookie header ------------------------------------------------------------------------

TEST(CookieValueTest, FindsTheNamedCookieAmongOthers) {
  EXPECT_EQ(cookieValue("runway_session=abc", "runway_session"), "abc");
  EXPECT_EQ(cookieValue("a=1; runway_session=abc-_9; b=2", "runway_session"), "abc-_9");
  EXPECT_EQ(cookieValue("a=1;runway_session=\"quoted\"", "runway_session"), "quoted");
  EXPECT_EQ(cookieValue("  runway_session = spaced ;", "runway_session"), "spaced");
  EXPECT_EQ(cookieValue("xrunway_session=no; runway_sessionx=no", "runway_session"), std::nullopt);
  EXPECT_EQ(cookieValue("", "runway_session"), std::nullopt);
  EXPECT_EQ(cookieValue("runway_session", "runway_session"), std::nullopt);
}

// ---- the table ------------------------------------------------------------------------------

TEST(SessionTableTest, OpenedSessionAuthenticatesReadsWithoutCsrf) {
  SessionTable table(SessionOptions{fakeClock(), 1h, 100, false, nullptr});
  auto s = table.open(kViewer);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->id.size(), 43u);
  EXPECT_EQ(s->csrf_token.size(), 43u);
  EXPECT_NE(s->id, s->csrf_token);
  auto who = table.authenticate(s->id, false, "");
  ASSERT_TRUE(who) << who.error().message;
  EXPECT_EQ(who->name, "vera");
  EXPECT_EQ(who->roles, std::vector<std::string>{"viewer"});
}

TEST(SessionTableTest, StateChangingCallsNeedTheSessionsCsrfToken) {
  SessionTable table(SessionOptions{fakeClock(), 1h, 100, false, nullptr});
  auto s = table.open(kViewer);
  auto other = table.open(kViewer);
  ASSERT_TRUE(s && other);
  // The right token with its last character changed.
  std::string almost = s->csrf_token;
  almost.back() = almost.back() == 'A' ? 'B' : 'A';
  for (const std::string& wrong :
       {std::string(), std::string("x"), other->csrf_token, s->id, almost}) {
    auto who = table.authenticate(s->id, true, wrong);
    ASSERT_FALSE(who) << wrong;
    EXPECT_EQ(who.error().code, ErrorCode::PermissionDenied);
    EXPECT_NE(who.error().message.find("X-CSRF-Token"), std::string::npos);
  }
  EXPECT_TRUE(table.authenticate(s->id, true, s->csrf_token));
}

TEST(SessionTableTest, UnknownClosedAndExpiredSessionsAreUnauthenticated) {
  auto clock = fakeClock();
  SessionTable table(SessionOptions{clock, 10min, 100, false, nullptr});
  auto a = table.open(kViewer);
  auto b = table.open(kViewer);
  ASSERT_TRUE(a && b);
  const auto refused = [&](const std::string& id) {
    auto who = table.authenticate(id, false, "");
    return !who && who.error().code == ErrorCode::Unauthenticated &&
           who.error().message == "session expired or unknown; sign in again";
  };
  EXPECT_TRUE(refused("not-a-session"));
  EXPECT_TRUE(refused(""));
  table.close(a->id);
  EXPECT_TRUE(refused(a->id));
  clock->advance(10min - 1ms);
  EXPECT_TRUE(table.authenticate(b->id, false, ""));
  clock->advance(1ms);
  EXPECT_TRUE(refused(b->id));
  EXPECT_EQ(table.size(), 0u);
}

TEST(SessionTableTest, BeyondItsLimitTheTableDropsTheSessionThatEndsSoonest) {
  auto clock = fakeClock();
  SessionTable table(SessionOptions{clock, 1h, 2, false, nullptr});
  auto first = table.open(kViewer);
  clock->advance(1min);
  auto second = table.open(kViewer);
  clock->advance(1min);
  auto third = table.open(kViewer);
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_FALSE(table.find(first->id));
  EXPECT_TRUE(table.find(second->id));
  EXPECT_TRUE(table.find(third->id));
}

TEST(SessionTableTest, CookiesAreHttpOnlyStrictAndExpire) {
  auto clock = fakeClock();
  SessionTable plain(SessionOptions{clock, 2h, 100, false, nullptr});
  auto s = plain.open(kViewer);
  ASSERT_TRUE(s);
  EXPECT_EQ(plain.setCookie(*s),
            "runway_session=" + s->id + "; Path=/; Max-Age=7200; HttpOnly; SameSite=Strict");
  clock->advance(30min);
  EXPECT_EQ(plain.setCookie(*s),
            "runway_session=" + s->id + "; Path=/; Max-Age=5400; HttpOnly; SameSite=Strict");
  EXPECT_EQ(plain.clearCookie(), "runway_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
  SessionTable tls(SessionOptions{clock, 2h, 100, true, nullptr});
  auto t = tls.open(kViewer);
  ASSERT_TRUE(t);
  EXPECT_EQ(tls.setCookie(*t), "runway_session=" + t->id +
                                   "; Path=/; Max-Age=7200; HttpOnly; SameSite=Strict; Secure");
  EXPECT_EQ(tls.clearCookie(),
            "runway_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure");
}

// ---- sessions against the token store ---------------------------------------------------------

class StoredSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openSqliteStore((dir_ / "runway.db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
  }

  // Stores a token; its identity.
  Identity stored(std::optional<Duration> ttl = std::nullopt) {
    auto issued = issueToken("tess", {"tech-lead"}, "tester", clock_->now(), ttl);
    EXPECT_TRUE(issued.has_value());
    EXPECT_TRUE(store_->createToken(issued->record, {}).has_value());
    return Identity{issued->record.name, issued->record.roles, issued->record.id};
  }

  test::TempDir dir_{"runway-sessions"};
  std::shared_ptr<FakeClock> clock_ = fakeClock();
  std::shared_ptr<store::Store> store_;
};

TEST_F(StoredSessionTest, RevokingTheTokenEndsItsSessions) {
  SessionTable table(SessionOptions{clock_, 1h, 100, false, store_});
  const auto who = stored();
  auto s = table.open(who);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(table.authenticate(s->id, false, ""));
  ASSERT_TRUE(store_->revokeToken(who.token_id, clock_->now(), {}).has_value());
  auto after = table.authenticate(s->id, false, "");
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, ErrorCode::Unauthenticated);
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(StoredSessionTest, ASessionNeverOutlivesItsToken) {
  SessionTable table(SessionOptions{clock_, 8h, 100, false, store_});
  const auto who = stored(std::chrono::minutes(5));
  auto s = table.open(who);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->expires_at, clock_->now() + std::chrono::minutes(5));
  EXPECT_NE(table.setCookie(*s).find("Max-Age=300;"), std::string::npos);
  clock_->advance(std::chrono::minutes(5));
  EXPECT_FALSE(table.authenticate(s->id, false, ""));
}

TEST_F(StoredSessionTest, AnUnknownTokenOpensNoSession) {
  SessionTable table(SessionOptions{clock_, 1h, 100, false, store_});
  auto s = table.open(Identity{"ghost", {"admin"}, "0123456789abcdef"});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::Unauthenticated);
}

TEST_F(StoredSessionTest, LastEventSeqFindsTheNewestEvent) {
  auto none = lastEventSeq(*store_);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0);
  for (int n = 1; n <= 37; ++n) {
    ASSERT_TRUE(
        store_->appendEvent(store::NewEvent{clock_->now(), "t", "test.event", "s", "", "{}"}));
    auto seq = lastEventSeq(*store_);
    ASSERT_TRUE(seq);
    EXPECT_EQ(*seq, n);
  }
}

// ---- the server: cookie authentication, CSRF, and the session routes ---------------------------

class SessionServerTest : public StoredSessionTest {
 protected:
  void SetUp() override {
    StoredSessionTest::SetUp();
    sessions_ = std::make_shared<SessionTable>(SessionOptions{clock_, 1h, 100, false, store_});
    auto context = std::make_shared<ApiContext>();
    context->store = store_;
    context->clock = clock_;
    auto authenticator = storeAuthenticator(store_, clock_);
    std::vector<Route> routes =
        dashboardRoutes(context, authenticator, sessions_,
                        {StaticAsset{"/", "text/html; charset=utf-8", "<p>page</p>", "\"e1\""}});
    const auto echo = [](HttpRequest& req) {
      return HttpResponse::json(200, "{\"who\":\"" + req.identity->name + "\"}");
    };
    routes.push_back(Route{"GET", "/api/v1/read", std::string("viewer"), echo});
    routes.push_back(Route{"POST", "/api/v1/write", std::string("viewer"), echo});
    routes.push_back(Route{"POST", "/api/v1/deploy", std::string("deployer"), echo});
    routes.push_back(Route{"GET", "/api/v1/stream", std::string("viewer"), [this](HttpRequest&) {
                             HttpResponse r;
                             r.sse = std::make_shared<CountingStream>(stream_polls_);
                             return r;
                           }});
    ServerOptions options;
    options.sessions = sessions_;
    auto server = startHttpServer(options, std::move(routes), authenticator);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->stop(std::chrono::milliseconds(0));
  }

  std::string bearer(std::vector<std::string> roles) {
    auto issued = issueToken("vera", std::move(roles), "tester", clock_->now());
    EXPECT_TRUE(store_->createToken(issued->record, {}).has_value());
    return issued->bearer;
  }

  test::HttpResponse req(const std::string& method, const std::string& path,
                         test::HttpHeaders headers = {}, const std::string& body = "") {
    auto r = test::httpRequest(base_ + path, method, body, std::move(headers));
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : test::HttpResponse{};
  }

  // Signs in with `token`: the cookie header to send and the CSRF token.
  std::pair<std::string, std::string> signIn(const std::string& token) {
    auto r = req("POST", "/api/v1/session", {{"Content-Type", "application/json"}},
                 "{\"token\":\"" + token + "\"}");
    EXPECT_EQ(r.status, 201) << r.body;
    const auto set_cookie = r.header("set-cookie").value_or("");
    const auto cookie = set_cookie.substr(0, set_cookie.find(';'));
    const auto body = boost::json::parse(r.body);
    return {cookie, std::string(body.at("csrfToken").as_string())};
  }

  // An event stream with nothing to say, counting how often the server asks it.
  class CountingStream final : public SseSource {
   public:
    explicit CountingStream(std::atomic<int>& polls) : polls_(polls) {}
    std::optional<std::vector<SseEvent>> poll() override {
      ++polls_;
      return std::vector<SseEvent>{};
    }

   private:
    std::atomic<int>& polls_;
  };

  std::atomic<int> stream_polls_{0};
  std::shared_ptr<SessionTable> sessions_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

TEST_F(SessionServerTest, SignInSetsAStrictHttpOnlyCookieAndAnswersTheCsrfToken) {
  const auto token = bearer({"viewer"});
  auto r = req("POST", "/api/v1/session", {{"Content-Type", "application/json"}},
               "{\"token\":\"" + token + "\"}");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto cookie = r.header("set-cookie").value_or("");
  EXPECT_EQ(cookie.rfind("runway_session=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos);
  EXPECT_NE(cookie.find("; Max-Age=3600"), std::string::npos);
  const auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("name").as_string(), "vera");
  EXPECT_EQ(body.at("csrfToken").as_string().size(), 43u);
  EXPECT_EQ(body.at("lastEventSeq").as_int64(), 1);  // the session.opened event
  EXPECT_EQ(r.body.find(token), std::string::npos) << "the token is never echoed";
  // The sign-in is audited by the token's id, never its secret.
  auto events = store_->listEvents(store::EventFilter{0, "", 10});
  ASSERT_TRUE(events && events->size() == 1u);
  EXPECT_EQ(events->front().kind, "session.opened");
  EXPECT_EQ(events->front().actor, "vera");
  EXPECT_EQ(events->front().data_json.find(token.substr(22)), std::string::npos);
}

TEST_F(SessionServerTest, SignInRefusesBadTokensAndNonJsonBodies) {
  const auto token = bearer({"viewer"});
  EXPECT_EQ(req("POST", "/api/v1/session", {{"Content-Type", "application/json"}},
                "{\"token\":\"rwy_nope\"}")
                .status,
            401);
  // A cross-site form can send text/plain or form bodies, never application/json.
  EXPECT_EQ(req("POST", "/api/v1/session", {{"Content-Type", "text/plain"}},
                "{\"token\":\"" + token + "\"}")
                .status,
            400);
  EXPECT_EQ(req("POST", "/api/v1/session", {{"Content-Type", "application/x-www-form-urlencoded"}},
                "token=" + token)
                .status,
            400);
  EXPECT_EQ(req("POST", "/api/v1/session", {{"Content-Type", "application/json"}},
                "{\"token\":\"" + token + "\",\"x\":1}")
                .status,
            400);
  EXPECT_EQ(sessions_->size(), 0u);
}

TEST_F(SessionServerTest, TheCookieReadsButWritesOnlyWithTheCsrfHeader) {
  const auto [cookie, csrf] = signIn(bearer({"viewer"}));
  EXPECT_EQ(req("GET", "/api/v1/read", {{"Cookie", cookie}}).status, 200);
  auto no_csrf = req("POST", "/api/v1/write", {{"Cookie", cookie}});
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_NE(no_csrf.body.find("\"code\":\"permission_denied\""), std::string::npos);
  EXPECT_NE(no_csrf.body.find("CSRF"), std::string::npos);
  EXPECT_EQ(req("POST", "/api/v1/write", {{"Cookie", cookie}, {"X-CSRF-Token", "wrong"}}).status,
            403);
  EXPECT_EQ(req("POST", "/api/v1/write", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}).status, 200);
  // The roles still hold: a viewer's session cannot do a deployer's call, CSRF token or not.
  auto forged = req("POST", "/api/v1/deploy", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(forged.status, 403);
  EXPECT_NE(forged.body.find("lacks the role \\\"deployer\\\""), std::string::npos) << forged.body;
  // Without a cookie or a token, nothing.
  EXPECT_EQ(req("GET", "/api/v1/read").status, 401);
  EXPECT_EQ(req("GET", "/api/v1/read", {{"Cookie", "runway_session=forged"}}).status, 401);
}

TEST_F(SessionServerTest, BearerTokensWorkAsBeforeAndNeedNoCsrf) {
  const auto token = bearer({"deployer"});
  EXPECT_EQ(req("POST", "/api/v1/deploy", {{"Authorization", "Bearer " + token}}).status, 200);
  // The Authorization header decides, even next to a session cookie.
  const auto [cookie, csrf] = signIn(bearer({"viewer"}));
  EXPECT_EQ(
      req("POST", "/api/v1/deploy", {{"Authorization", "Bearer " + token}, {"Cookie", cookie}})
          .status,
      200);
  auto r = req("GET", "/api/v1/session", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(boost::json::parse(r.body).at("csrfToken").is_null());
}

TEST_F(SessionServerTest, SignOutEndsTheSessionAndExpiryToo) {
  const auto [cookie, csrf] = signIn(bearer({"viewer"}));
  EXPECT_EQ(req("GET", "/api/v1/session", {{"Cookie", cookie}}).status, 200);
  EXPECT_EQ(req("DELETE", "/api/v1/session", {{"Cookie", cookie}}).status, 403)
      << "sign-out needs the CSRF token";
  auto out = req("DELETE", "/api/v1/session", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.header("set-cookie").value_or("").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(req("GET", "/api/v1/session", {{"Cookie", cookie}}).status, 401);

  const auto [again, csrf2] = signIn(bearer({"viewer"}));
  clock_->advance(1h);
  auto expired = req("GET", "/api/v1/read", {{"Cookie", again}});
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("sign in again"), std::string::npos);
}

TEST_F(SessionServerTest, AnEventStreamOpenedWithASessionEndsWhenTheSessionDoes) {
  const auto [cookie, csrf] = signIn(bearer({"viewer"}));
  const std::string id = cookie.substr(cookie.find('=') + 1);
  std::thread sign_out([&] {
    EXPECT_TRUE(test::pollUntil([&] { return stream_polls_.load() > 0; },
                                test::deadlineIn(std::chrono::seconds(10))));
    sessions_->close(id);
  });
  // The request returns only once the server ends the stream.
  auto r = test::httpRequest(base_ + "/api/v1/stream", "GET", "", {{"Cookie", cookie}},
                             std::chrono::seconds(20));
  sign_out.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
}

TEST_F(SessionServerTest, StaticFilesCarryTheirTypeEtagAndPolicy) {
  auto r = req("GET", "/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<p>page</p>");
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.header("etag"), "\"e1\"");
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_EQ(r.header("content-security-policy"), std::string(kDashboardCsp));
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  auto cached = req("GET", "/", {{"If-None-Match", "\"e1\""}});
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  EXPECT_EQ(req("GET", "/", {{"If-None-Match", "\"other\""}}).status, 200);
}

}  // namespace
}  // namespace runway::api
