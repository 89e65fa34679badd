#pragma once

// Unix socket paths of any length. sockaddr_un::sun_path holds 107 characters, so a socket in
// a deep data directory (a CI workspace, a long home directory) cannot be bound or reached by
// its own path ("File name too long"). A longer path is reached through a descriptor of its
// directory: "/proc/self/fd/N/admin.sock" resolves like the real path on Linux, keeps the
// socket file (and its 0600 permissions) where it is, and needs no chdir(), which would race
// with the process's other threads.

#include <string>

#include "runway/core/error.hpp"

namespace runway::router {

class UnixSocketPath {
 public:
  // The longest path bind()/connect() take as it is (sizeof(sun_path) - 1).
  static constexpr std::size_t kMaxDirect = 107;

  // Resolves `path` for bind() or connect(). A path that fits is used as it is; a longer one
  // opens its directory (O_PATH) for as long as this object lives.
  // Errors: NotFound (the directory does not exist), InvalidArgument (the file name alone is
  // too long to fit even then), Unavailable (the directory cannot be opened otherwise).
  static Result<UnixSocketPath> open(const std::string& path);

  UnixSocketPath(UnixSocketPath&& other) noexcept;
  UnixSocketPath& operator=(UnixSocketPath&& other) noexcept;
  UnixSocketPath(const UnixSocketPath&) = delete;
  UnixSocketPath& operator=(const UnixSocketPath&) = delete;
  ~UnixSocketPath();

  // The path to give bind()/connect(): at most kMaxDirect characters.
  const std::string& usable() const { return usable_; }

 private:
  UnixSocketPath(int dir_fd, std::string usable) : dir_fd_(dir_fd), usable_(std::move(usable)) {}

  int dir_fd_ = -1;  // -1 when the path is used as it is
  std::string usable_;
};

}  // namespace runway::router
