#include "header_writer.hpp"

#include <sstream>
#include <string>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

namespace runway::router {
namespace {

namespace http = boost::beast::http;

// What Beast's serializer writes for the header (operator<< on a header serializes it).
template <bool isRequest>
std::string beastHeader(const http::header<isRequest, Fields>& h) {
  std::ostringstream out;
  out << h;
  return out.str();
}

template <bool isRequest>
std::string ours(const http::header<isRequest, Fields>& h) {
  FieldPool pool;
  HeadBuffer out{FieldAllocator<char>{pool}};
  out.reserve(kHeadReserve);
  appendHeader(out, h);
  return std::string(out.data(), out.size());
}

TEST(HeaderWriter, RequestsAsBeastWritesThem) {
  http::request<http::empty_body, Fields> req{http::verb::get, "/a/b?c=d", 11};
  req.set(http::field::host, "shop.example");
  req.insert("X-Forwarded-For", "10.1.2.3, 127.0.0.1");
  req.insert(http::field::unknown, "X-Request-Id", "0123456789abcdef0123456789abcdef");
  req.insert("x-lower", "");
  EXPECT_EQ(ours(req.base()), beastHeader(req.base()));
  EXPECT_EQ(ours(req.base()).substr(0, 24), "GET /a/b?c=d HTTP/1.1\r\nH");

  http::request<http::empty_body, Fields> purge;
  purge.method_string("PURGE");  // not one of Beast's verbs
  purge.target("*");
  purge.version(10);
  EXPECT_EQ(ours(purge.base()), beastHeader(purge.base()));
  EXPECT_EQ(ours(purge.base()), "PURGE * HTTP/1.0\r\n\r\n");
}

TEST(HeaderWriter, ResponsesAsBeastWritesThem) {
  http::response<http::empty_body, Fields> res{http::status::ok, 11};
  res.set(http::field::content_length, "14");
  res.insert(http::field::set_cookie, "rv=canary; Path=/");
  EXPECT_EQ(ours(res.base()), beastHeader(res.base()));
  EXPECT_EQ(ours(res.base()).substr(0, 17), "HTTP/1.1 200 OK\r\n");

  http::response<http::empty_body, Fields> custom{http::status::not_found, 10};
  custom.reason("Nothing Here");  // an upstream's own reason phrase passes through
  EXPECT_EQ(ours(custom.base()), beastHeader(custom.base()));
  EXPECT_EQ(ours(custom.base()), "HTTP/1.0 404 Nothing Here\r\n\r\n");

  http::response<http::empty_body, Fields> unknown;
  unknown.result(599);  // no standard reason: Beast writes its own placeholder; so do we
  unknown.version(11);
  EXPECT_EQ(ours(unknown.base()), beastHeader(unknown.base()));
}

}  // namespace
}  // namespace runway::router
