#include "support/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include "test_paths.hpp"

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

namespace {

// Closes a file descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool waitReady(int fd, short events, Deadline deadline) {
  pollfd entry{fd, events, 0};
  for (;;) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const auto timeout_ms = std::max<std::int64_t>(0, remaining.count());
    const int ready = ::poll(&entry, 1, static_cast<int>(timeout_ms));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return true;  // let the following call report the error
  }
}

}  // namespace

Result<std::string> exchangeRaw(int port, std::string_view bytes, Deadline deadline) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::Internal, std::string("socket: ") + std::strerror(errno));
  FdCloser closer{fd};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const std::string where = "127.0.0.1:" + std::to_string(port);
  // The sockets API takes sockaddr*; sockaddr_in is layout-compatible by design.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return fail(ErrorCode::Unavailable, "connect " + where + ": " + std::strerror(errno));
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    if (!waitReady(fd, POLLOUT, deadline)) {
      return fail(ErrorCode::Timeout, "sending to " + where + " did not finish by the deadline");
    }
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorCode::Unavailable, "send to " + where + ": " + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string received;
  std::array<char, 4096> buffer{};
  for (;;) {
    if (!waitReady(fd, POLLIN, deadline)) {
      return fail(ErrorCode::Timeout,
                  where + " did not close the connection by the deadline; received:\n" + received);
    }
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n == 0) return received;
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorCode::Unavailable, "recv from " + where + ": " + std::strerror(errno) +
                                              "; received:\n" + received);
    }
    received.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

std::filesystem::path binaryPath(std::string_view name) {
  const char* override_dir = std::getenv("RUNWAY_BINARY_DIR");  // NOLINT(concurrency-mt-unsafe)
  std::filesystem::path dir =
      (override_dir != nullptr && *override_dir != '\0') ? override_dir : RUNWAY_BINARY_DIR;
  return dir / "bin" / std::string(name);
}

}  // namespace runway::test
