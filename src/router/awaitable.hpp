#pragma once

// The router's coroutine completion token (private to src/router).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace runway::router {

// Awaiting with this token yields (error_code, results...) instead of throwing.
inline constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace runway::router
