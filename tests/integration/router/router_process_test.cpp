// The real `runway router` process: admin socket, persistence across a kill, startup errors.

#include <sys/stat.h>

#include <csignal>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backend.hpp"
#include "runway/router/admin_client.hpp"
#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::router {
namespace {

using ::testing::HasSubstr;
using testing::Backend;
using namespace std::chrono_literals;

class RouterProcessTest : public ::testing::Test {
 protected:
  Result<test::Subprocess> startRouter() {
    test::SubprocessOptions o;
    o.argv = {test::binaryPath("runway").string(), "router", "--admin-socket", socket_,
              "--state-dir", state_, "--threads", "1"};
    o.stdout_to = test::Output::null();
    o.stderr_to = test::Output::pipe();
    return test::Subprocess::start(o);
  }

  bool adminUp() { return AdminClient(socket_, Duration{500}).table().has_value(); }

  RoutingTable table(int port) {
    RoutingTable t;
    t.revision = 3;
    Listener l;
    l.service = "shop";
    l.environment = "prod";
    l.port = static_cast<std::uint16_t>(port);
    l.versions.push_back(Version{"v1", 1000, {Instance{"v1-a", "127.0.0.1",
                                                        static_cast<std::uint16_t>(backend_.port()),
                                                        InstanceState::Ready}}});
    t.listeners.push_back(l);
    return t;
  }

  test::TempDir dir_;
  std::string socket_ = (dir_ / "admin.sock").string();
  std::string state_ = (dir_ / "state").string();
  Backend backend_{"v1-a"};
};

TEST_F(RouterProcessTest, ComesBackWithItsPersistedTableAfterAKill) {
  auto port = test::freeLoopbackPort();
  ASSERT_TRUE(port);
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/";
  {
    auto router = startRouter();
    ASSERT_TRUE(router) << router.error().message;
    ASSERT_TRUE(test::pollUntil([&] { return adminUp(); }, test::deadlineIn(10s)));
    AdminClient admin(socket_);
    ASSERT_TRUE(admin.putTable(table(*port)));
    auto r = test::httpGet(url);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "v1-a");
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(state_) / "table.json"));
    ASSERT_TRUE(router->signal(SIGKILL));
    ASSERT_TRUE(router->waitExit(test::deadlineIn(5s)));
  }
  auto router = startRouter();
  ASSERT_TRUE(router) << router.error().message;
  // Serving again without anyone putting a table: it came from the state directory.
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto r = test::httpGet(url, 1s);
        return r && r->status == 200 && r->body == "v1-a";
      },
      test::deadlineIn(10s)));
  ASSERT_TRUE(test::pollUntil([&] { return adminUp(); }, test::deadlineIn(10s)));
  AdminClient admin(socket_);
  auto served = admin.table();
  ASSERT_TRUE(served) << served.error().message;
  EXPECT_EQ(*served, table(*port));
  // A request is counted once its response is written, which the client may see first: wait.
  EXPECT_TRUE(test::pollUntil(
      [&] {
        auto stats = admin.stats(Duration{60'000});
        return stats && stats->find("shop.prod", "v1") != nullptr &&
               stats->find("shop.prod", "v1")->total.requests >= 1;
      },
      test::deadlineIn(5s)));
  auto metrics = admin.metrics();
  ASSERT_TRUE(metrics);
  EXPECT_THAT(*metrics, HasSubstr("runway_router_table_revision 3"));
  ASSERT_TRUE(router->signal(SIGTERM));
  auto status = router->waitExit(test::deadlineIn(10s));
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exitedWith(0)) << status->describe();
}

TEST_F(RouterProcessTest, AdminApiReportsErrors) {
  auto router = startRouter();
  ASSERT_TRUE(router) << router.error().message;
  ASSERT_TRUE(test::pollUntil([&] { return adminUp(); }, test::deadlineIn(10s)));
  AdminClient admin(socket_);
  auto t = table(0);
  t.listeners[0].versions[0].weight_permille = 10;
  auto bad = admin.putTable(t);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("weights sum to 10 per mille"));
  auto drain = admin.drain("nobody");
  ASSERT_FALSE(drain);
  EXPECT_EQ(drain.error().code, ErrorCode::NotFound);
  auto window = admin.stats(Duration{3'600'000});
  ASSERT_FALSE(window);
  EXPECT_EQ(window.error().code, ErrorCode::InvalidArgument);
  // A second router on the same admin socket is refused (exit 1, Conflict).
  auto second = startRouter();
  ASSERT_TRUE(second);
  auto status = second->waitExit(test::deadlineIn(10s));
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exitedWith(1)) << status->describe();
  auto out = second->readToEnd(test::deadlineIn(5s));
  ASSERT_TRUE(out);
  EXPECT_THAT(out->err, HasSubstr("another router is serving the admin socket"));
  EXPECT_TRUE(adminUp());
}

TEST_F(RouterProcessTest, RefusesACorruptPersistedTable) {
  ASSERT_TRUE(dir_.write("state/table.json", "{\"listeners\": 5}"));
  auto router = startRouter();
  ASSERT_TRUE(router);
  auto status = router->waitExit(test::deadlineIn(10s));
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exitedWith(2)) << status->describe();
  auto out = router->readToEnd(test::deadlineIn(5s));
  ASSERT_TRUE(out);
  EXPECT_THAT(out->err, HasSubstr("persisted table"));
  EXPECT_THAT(out->err, HasSubstr("listeners: expected an array"));
}

TEST_F(RouterProcessTest, UnreachableRouterIsUnavailable) {
  AdminClient admin(socket_, Duration{500});
  auto r = admin.table();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
}

// Issue 13: an admin socket deeper than sun_path's 107 characters is bound and reached (a data
// directory in a CI workspace), keeps its 0600 permissions, still refuses a second router, and
// a socket whose directory is missing is Unavailable, not an exception.
TEST_F(RouterProcessTest, AdminSocketWorksBeyondSunPathLength) {
  std::filesystem::path deep = dir_.path();
  while (deep.string().size() < 220) deep /= std::string(60, 'd');
  std::filesystem::create_directories(deep);
  socket_ = (deep / "admin.sock").string();
  ASSERT_GT(socket_.size(), 107u);
  auto router = startRouter();
  ASSERT_TRUE(router) << router.error().message;
  ASSERT_TRUE(test::pollUntil([&] { return adminUp(); }, test::deadlineIn(10s)));
  auto port = test::freeLoopbackPort();
  ASSERT_TRUE(port);
  AdminClient admin(socket_);
  ASSERT_TRUE(admin.putTable(table(*port)));
  auto back = admin.table();
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->revision, 3u);
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto second = startRouter();
  ASSERT_TRUE(second);
  auto status = second->waitExit(test::deadlineIn(10s));
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exitedWith(1)) << status->describe();
  auto out = second->readToEnd(test::deadlineIn(5s));
  ASSERT_TRUE(out);
  EXPECT_THAT(out->err, HasSubstr("another router is serving the admin socket"));
  EXPECT_THAT(out->err, ::testing::Not(HasSubstr("internal error")));

  AdminClient missing((deep / "no-such-dir" / std::string(120, 'x') / "admin.sock").string(),
                      Duration{500});
  auto r = missing.table();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
}

}  // namespace
}  // namespace runway::router
