#include "runway/core/error.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>

namespace runway {
namespace {

struct CodeInfo {
  ErrorCode code;
  int status;
  std::string_view name;
  int exit;
};

constexpr std::array<CodeInfo, 10> kCodes{{
    {ErrorCode::InvalidArgument, 400, "invalid_argument", kExitUsage},
    {ErrorCode::Unauthenticated, 401, "unauthenticated", kExitUnreachable},
    {ErrorCode::PermissionDenied, 403, "permission_denied", kExitFailed},
    {ErrorCode::NotFound, 404, "not_found", kExitFailed},
    {ErrorCode::Conflict, 409, "conflict", kExitFailed},
    {ErrorCode::FailedPrecondition, 412, "failed_precondition", kExitFailed},
    {ErrorCode::PayloadTooLarge, 413, "payload_too_large", kExitUsage},
    {ErrorCode::Internal, 500, "internal", kExitFailed},
    {ErrorCode::Unavailable, 503, "unavailable", kExitUnreachable},
    {ErrorCode::Timeout, 504, "timeout", kExitFailed},
}};

const CodeInfo& infoFor(ErrorCode code) {
  for (const auto& info : kCodes) {
    if (info.code == code) return info;
  }
  return kCodes[7];  // Internal
}

}  // namespace

int httpStatus(ErrorCode code) { return infoFor(code).status; }
std::string_view codeName(ErrorCode code) { return infoFor(code).name; }
int exitCode(ErrorCode code) { return infoFor(code).exit; }

ErrorCode codeFromName(std::string_view name) {
  for (const auto& info : kCodes) {
    if (info.name == name) return info.code;
  }
  return ErrorCode::Internal;
}

ErrorCode codeFromHttpStatus(int status) {
  for (const auto& info : kCodes) {
    if (info.status == status) return info.code;
  }
  return ErrorCode::Internal;
}

namespace detail {
void assertFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "runway: assertion failed: %s (%s:%d)\n", expr, file, line);
  std::abort();
}
}  // namespace detail

}  // namespace runway
