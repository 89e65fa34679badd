// Which server the CLI trusts with the local admin token (issue 19): only one whose parsed host
// is a loopback address. The old substring test sent DATA/admin.token to any URL containing
// "://127." or "://localhost", such as http://127.0.0.1.example.net.

#include "client.hpp"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace runway::cli {
namespace {

TEST(ClientTest, LoopbackIsWhatTheParsedHostIs) {
  for (const char* url : {"http://127.0.0.1:7400", "http://127.3.4.5", "https://localhost:8443/api",
                          "http://LOCALHOST", "http://[::1]:7400", "http://localhost.:7400"}) {
    EXPECT_TRUE(isLoopbackUrl(url)) << url;
  }
  for (const char* url : {"http://127.0.0.1.example.net", "http://127.0.0.1@example.net",
                          "http://localhost.example.net:7400", "http://example.net/?h=://127.0.0.1",
                          "http://example.net#://localhost", "http://10.0.0.1", "http://[::2]",
                          "http://128.0.0.1", "not a url", "http://[::ffff:8.8.8.8]",
                          "http://localhost@evil.example"}) {
    EXPECT_FALSE(isLoopbackUrl(url)) << url;
  }
}

class ResolveClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("RUNWAY_TOKEN");
    ::unsetenv("RUNWAY_SERVER");
    ::setenv("XDG_CONFIG_HOME", (dir_.path() / "config").c_str(), 1);
    std::ofstream(dir_.path() / "admin.token") << "rwy_admin_secret\n";
  }
  ClientSettings resolve(const std::string& server) {
    ClientFlags flags;
    flags.server = server;
    flags.data = dir_.path().string();
    auto s = resolveClient(flags);
    EXPECT_TRUE(s.has_value());
    return s ? *s : ClientSettings{};
  }
  test::TempDir dir_{"cli-client-test"};
};

TEST_F(ResolveClientTest, TheAdminTokenGoesOnlyToALoopbackServer) {
  EXPECT_EQ(resolve("http://127.0.0.1:7400").token, "rwy_admin_secret");
  EXPECT_EQ(resolve("localhost:7400").token, "rwy_admin_secret");  // scheme added: http://
  EXPECT_EQ(resolve("http://127.0.0.1.example.net").token, "");
  EXPECT_EQ(resolve("http://127.0.0.1@example.net:7400").token, "");
  EXPECT_EQ(resolve("https://localhost.example.net").token, "");
}

}  // namespace
}  // namespace runway::cli
