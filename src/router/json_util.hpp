#pragma once

// Small helpers for reading Boost.JSON values into runway types with path-carrying errors.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/core/error.hpp"

// Evaluates a Result-returning expression; returns its error, or binds its value to `var`.
#define RUNWAY_ROUTER_TRY(var, expr)              \
  auto var##_result = (expr);                     \
  if (!var##_result) return fail(var##_result.error()); \
  auto var = std::move(*var##_result)

namespace runway::router::json_util {

inline tl::unexpected<Error> invalid(std::string_view path, std::string_view what) {
  return fail(ErrorCode::InvalidArgument, fmt::format("{}: {}", path, what));
}

inline Result<boost::json::value> parse(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return fail(ErrorCode::InvalidArgument, "invalid JSON: " + ec.message());
  return v;
}

inline Result<const boost::json::object*> asObject(const boost::json::value& v,
                                                   std::string_view path) {
  if (!v.is_object()) return invalid(path, "expected an object");
  return &v.get_object();
}

inline Result<const boost::json::array*> asArray(const boost::json::value& v,
                                                 std::string_view path) {
  if (!v.is_array()) return invalid(path, "expected an array");
  return &v.get_array();
}

inline Result<std::string> asString(const boost::json::value& v, std::string_view path) {
  if (!v.is_string()) return invalid(path, "expected a string");
  return std::string(v.get_string());
}

inline Result<std::uint64_t> asUnsigned(const boost::json::value& v, std::string_view path,
                                        std::uint64_t max) {
  std::uint64_t out = 0;
  if (v.is_uint64()) {
    out = v.get_uint64();
  } else if (v.is_int64() && v.get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v.get_int64());
  } else {
    return invalid(path, "expected a non-negative integer");
  }
  if (out > max) return invalid(path, fmt::format("must be at most {}", max));
  return out;
}

inline Result<std::int64_t> asInt(const boost::json::value& v, std::string_view path) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  return invalid(path, "expected an integer");
}

inline Result<double> asDouble(const boost::json::value& v, std::string_view path) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return invalid(path, "expected a number");
}

// InvalidArgument naming the first key of `obj` that is not in `allowed`.
inline Result<void> onlyKeys(const boost::json::object& obj, std::string_view path,
                             std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : obj) {
    bool ok = false;
    for (auto a : allowed) ok = ok || kv.key() == a;
    if (!ok) return invalid(path, fmt::format("unknown field \"{}\"", std::string_view(kv.key())));
  }
  return {};
}

}  // namespace runway::router::json_util
