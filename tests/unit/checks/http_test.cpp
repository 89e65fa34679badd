// The checks request http:// and https:// only (issue 19): a check URL from the configuration
// such as file:///etc/hostname used to be read by curl and its content judged as a response
// body. The checks now go through runway::http, whose policy refuses it.

#include "http.hpp"

#include <gtest/gtest.h>

namespace runway::checks::detail {
namespace {

TEST(ChecksHttpTest, OnlyHttpAndHttpsAreRequested) {
  for (const char* url : {"file:///etc/hostname", "dict://127.0.0.1:1/x", "gopher://127.0.0.1:1/",
                          "ftp://127.0.0.1:1/x", "telnet://127.0.0.1:1"}) {
    const auto request = checkRequest("GET", url, std::chrono::milliseconds(2000));
    auto r = http::send(request);
    ASSERT_FALSE(r.has_value()) << url << " was requested: status " << r->status << ", body " << r->body;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument) << url << ": " << r.error().message;
    EXPECT_NE(r.error().message.find("only http:// and https://"), std::string::npos) << r.error().message;
    http::Connection connection;
    auto again = connection.send(request);
    ASSERT_FALSE(again.has_value()) << url;
    EXPECT_EQ(again.error().code, ErrorCode::InvalidArgument);
  }
}

}  // namespace
}  // namespace runway::checks::detail
