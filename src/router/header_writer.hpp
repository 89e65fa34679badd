#pragma once

// The start line and header fields of a relayed message, serialized by the router: it writes a
// rewritten header with Asio's async_write of its own buffer (the body's first piece gathered
// behind it) unless the body goes out chunked. Beast's serializer walks nested buffers_cat_view
// sequences through its composed operations, which cost ~8,500 instructions per proxied GET
// (docs/benchmarks.md, Router).

#include <cstddef>
#include <string>

#include <boost/beast/http/message.hpp>

#include "field_pool.hpp"

namespace runway::router {

// A header the router serializes itself, in memory from the worker's FieldPool.
using HeadBuffer = std::basic_string<char, std::char_traits<char>, FieldAllocator<char>>;
// The capacity to reserve: with the terminating null, one of the pool's largest blocks (1,024
// bytes).
inline constexpr std::size_t kHeadReserve = 1023;

// Appends the request line and the fields, then the empty line, byte for byte as Beast's
// serializer writes them.
void appendHeader(HeadBuffer& out, const boost::beast::http::request_header<Fields>& h);

// Appends the status line and the fields, then the empty line, byte for byte as Beast's
// serializer writes them (the reason phrase the message holds, or the standard one).
// REQUIRES: the status has three digits (the response parser accepts no other).
void appendHeader(HeadBuffer& out, const boost::beast::http::response_header<Fields>& h);

}  // namespace runway::router
