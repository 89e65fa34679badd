#pragma once

// Validation and JSON column forms shared by the Store implementations (private to the store
// module), so SQLite and PostgreSQL accept and store exactly the same things.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::store {

bool isJson(std::string_view text);
// InvalidArgument for an empty kind or a data_json that is not JSON.
Result<void> validateEvent(const NewEvent& event);
// InvalidArgument for an empty channel, event or dedup key, or a message that is not JSON.
Result<void> validateNotification(const NewNotification& notification);

std::string artifactsToJson(const std::map<std::string, std::string>& artifacts);
Result<std::map<std::string, std::string>> artifactsFromJson(const std::string& text);
// Why a fenced write was refused: `holder` and `term` are the lease's now ("" / 0: free).
std::string fenceMessage(const Fence& fence, const std::string& holder, std::int64_t term);

std::string rolesToJson(const std::vector<std::string>& roles);
Result<std::vector<std::string>> rolesFromJson(const std::string& text);

}  // namespace runway::store

// Propagates the error of a Result<T> expression, otherwise yields its value.
#define RUNWAY_STORE_TRY_ASSIGN(lhs, expr)            \
  auto lhs##_result = (expr);                         \
  if (!lhs##_result) {                                \
    return ::runway::fail(std::move(lhs##_result).error()); \
  }                                                   \
  auto lhs = std::move(*lhs##_result)

#define RUNWAY_STORE_TRY(expr)                              \
  do {                                                      \
    auto runway_try_result = (expr);                        \
    if (!runway_try_result) {                               \
      return ::runway::fail(std::move(runway_try_result).error()); \
    }                                                       \
  } while (false)
