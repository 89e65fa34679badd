#include "support/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#ifndef RUNWAY_BINARY_DIR
#error "RUNWAY_BINARY_DIR must be defined by the build"
#endif

namespace runway::test {

Result<int> freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::Internal, std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  // The sockets API takes sockaddr*; sockaddr_in is layout-compatible by design.
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (::bind(fd, generic, sizeof(address)) != 0 || ::getsockname(fd, generic, &length) != 0) {
    const int error = errno;
    ::close(fd);
    return fail(ErrorCode::Unavailable, std::string("bind 127.0.0.1:0: ") + std::strerror(error));
  }
  ::close(fd);
  return static_cast<int>(ntohs(address.sin_port));
}

std::filesystem::path binaryPath(std::string_view name) {
  const char* override_dir = std::getenv("RUNWAY_BINARY_DIR");  // NOLINT(concurrency-mt-unsafe)
  std::filesystem::path dir =
      (override_dir != nullptr && *override_dir != '\0') ? override_dir : RUNWAY_BINARY_DIR;
  return dir / "bin" / std::string(name);
}

}  // namespace runway::test
