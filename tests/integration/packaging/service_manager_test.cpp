// runway.service is Type=notify: `runway serve` tells systemd over $NOTIFY_SOCKET (sd_notify) that
// it is ready once its API listens, that it reloads around a SIGHUP (whether the new
// configuration was taken or refused), and that it stops on SIGTERM. The test plays systemd: it
// binds the datagram socket, names it in NOTIFY_SOCKET and reads what a real server sends.

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "../serve/serve_fixture.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNotifyConfig = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["runway-demo-app", "--port", "${PORT}"]}
      health: {path: /health}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: development}
spec:
  application: shop
  runtime: {local: {}}
  strategy: rolling
)";

// The service manager's end: a datagram socket at PATH.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }

  // The next datagram, or "" when none came before the deadline.
  std::string next(Deadline deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
    }
  }

  // Datagrams until one contains NEEDLE (returned), or "" at the deadline.
  std::string until(const std::string& needle, Deadline deadline, std::string* seen = nullptr) {
    for (;;) {
      auto m = next(deadline);
      if (m.empty()) return "";
      if (seen != nullptr) *seen += m + "\n--\n";
      if (m.find(needle) != std::string::npos) return m;
    }
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
};

int serverPid(const std::filesystem::path& data) {
  std::ifstream in(data / "server.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::json::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object() || !v.as_object().contains("pid")) return -1;
  return static_cast<int>(v.at("pid").to_number<std::int64_t>());
}

TEST(ServiceManagerTest, ServeNotifiesReadyReloadingAndStoppingOverNotifySocket) {
  TempDir tmp("runway-notify");
  NotifySocket systemd(tmp / "notify.sock");
  ASSERT_TRUE(systemd.bound()) << std::strerror(errno);
  ServeFixture serve(tmp.path());
  serve.writeConfig(kNotifyConfig);
  serve.setEnv({{"NOTIFY_SOCKET", (tmp / "notify.sock").string()}});
  ASSERT_TRUE(serve.start());
  const int pid = serverPid(serve.data());
  ASSERT_GT(pid, 0);

  std::string seen;
  const auto ready = systemd.until("READY=1", deadlineIn(30s), &seen);
  ASSERT_FALSE(ready.empty()) << "no READY=1; received:\n" << seen;
  EXPECT_NE(ready.find("MAINPID=" + std::to_string(pid) + "\n"), std::string::npos) << ready;
  EXPECT_NE(ready.find("STATUS=listening on " + serve.url()), std::string::npos) << ready;
  // Ready means ready: the API answers.
  auto health = serve.call("GET", "/readyz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;

  // A good configuration: RELOADING=1, then READY=1 saying it was taken.
  serve.writeConfig(std::string(kNotifyConfig) + "  progressDeadline: 5m\n");
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  seen.clear();
  ASSERT_FALSE(systemd.until("RELOADING=1", deadlineIn(30s), &seen).empty()) << seen;
  auto reloaded = systemd.until("READY=1", deadlineIn(30s), &seen);
  ASSERT_FALSE(reloaded.empty()) << seen;
  EXPECT_NE(reloaded.find("configuration reloaded"), std::string::npos) << reloaded;

  // A configuration with an error: still READY=1 (the old one serves), and the status says so.
  serve.writeConfig(std::string(kNotifyConfig) + "  strategyy: canary\n");
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  seen.clear();
  ASSERT_FALSE(systemd.until("RELOADING=1", deadlineIn(30s), &seen).empty()) << seen;
  auto refused = systemd.until("READY=1", deadlineIn(30s), &seen);
  ASSERT_FALSE(refused.empty()) << seen;
  EXPECT_NE(refused.find("the last reload failed (1 error(s)), the old configuration is kept"), std::string::npos)
      << refused;

  auto status = serve.terminate();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exitedWith(0)) << status->describe();
  seen.clear();
  EXPECT_FALSE(systemd.until("STOPPING=1", deadlineIn(10s), &seen).empty()) << seen;
}

}  // namespace
}  // namespace runway::test
