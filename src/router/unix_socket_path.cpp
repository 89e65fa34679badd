#include "unix_socket_path.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace runway::router {

Result<UnixSocketPath> UnixSocketPath::open(const std::string& path) {
  if (path.size() <= kMaxDirect) return UnixSocketPath(-1, path);
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return fail(err == ENOENT || err == ENOTDIR ? ErrorCode::NotFound : ErrorCode::Unavailable,
                fmt::format("socket directory {}: {}", dir, std::strerror(err)));
  }
  std::string usable = fmt::format("/proc/self/fd/{}/{}", fd, name);
  if (usable.size() > kMaxDirect) {
    ::close(fd);
    return fail(ErrorCode::InvalidArgument,
                fmt::format("socket file name {} is too long (at most {} characters)", name,
                            kMaxDirect - (usable.size() - name.size())));
  }
  return UnixSocketPath(fd, std::move(usable));
}

UnixSocketPath::UnixSocketPath(UnixSocketPath&& other) noexcept
    : dir_fd_(std::exchange(other.dir_fd_, -1)), usable_(std::move(other.usable_)) {}

UnixSocketPath& UnixSocketPath::operator=(UnixSocketPath&& other) noexcept {
  if (this != &other) {
    if (dir_fd_ >= 0) ::close(dir_fd_);
    dir_fd_ = std::exchange(other.dir_fd_, -1);
    usable_ = std::move(other.usable_);
  }
  return *this;
}

UnixSocketPath::~UnixSocketPath() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

}  // namespace runway::router
