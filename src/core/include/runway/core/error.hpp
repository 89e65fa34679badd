#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace runway {

// The closed set of failure kinds. Each maps one-to-one onto an HTTP status and a stable API
// code string, and onto a CLI exit code (several codes share an exit code; see exitCode()).
enum class ErrorCode {
  InvalidArgument,     // bad input: config, flags, request body           400, exit 2
  Unauthenticated,     // missing or unknown credentials                   401, exit 3
  PermissionDenied,    // authenticated but not allowed                    403, exit 1
  NotFound,            // the named thing does not exist                   404, exit 1
  Conflict,            // stale write, duplicate, concurrent operation     409, exit 1
  FailedPrecondition,  // state forbids it now (policy, phase, window)     412, exit 1
  PayloadTooLarge,     // request or input over its limit                  413, exit 2
  Internal,            // a bug or an unexpected library failure           500, exit 1
  Unavailable,         // a dependency cannot be reached                   503, exit 3
  Timeout,             // an operation ran out of time                     504, exit 1
};

// A failure a person can act on: what kind, and a message that says what to do.
struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
};

// The result of an operation that can fail in an expected way.
template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for the error branch: `return fail(ErrorCode::NotFound, "no such environment");`
inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}
inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

// The HTTP status for an error code (400..504).
int httpStatus(ErrorCode code);
// The stable snake_case code used in API error bodies, e.g. "invalid_argument".
std::string_view codeName(ErrorCode code);
// Parses a codeName() back; returns Internal for anything unknown.
ErrorCode codeFromName(std::string_view name);
// The error code for an HTTP status as returned by httpStatus(); Internal for others.
ErrorCode codeFromHttpStatus(int status);
// The process exit code for a failed CLI command: 2 usage/config, 3 cannot reach or
// authenticate to the server, 1 any other failure.
int exitCode(ErrorCode code);

// Exit codes of the runway binary (ARCHITECTURE.md §5).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

}  // namespace runway

// Programmer errors only; never use on input.
#define RUNWAY_ASSERT(cond)                                                              \
  do {                                                                                   \
    if (!(cond)) ::runway::detail::assertFailed(#cond, __FILE__, __LINE__);              \
  } while (false)

namespace runway::detail {
[[noreturn]] void assertFailed(const char* expr, const char* file, int line);
}
