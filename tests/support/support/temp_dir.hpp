#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "runway/core/error.hpp"

namespace runway::test {

// A fresh directory (mkdtemp under $TMPDIR or /tmp) removed with everything in it when the
// object is destroyed. Move-only. Creation failure is a broken machine, so the constructor
// aborts the test program with a message rather than returning an error.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "runway-test");
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / relative.
  std::filesystem::path operator/(const std::filesystem::path& relative) const {
    return path_ / relative;
  }

  // Writes `content` to path()/relative, creating parent directories; returns the full path.
  Result<std::filesystem::path> write(const std::filesystem::path& relative,
                                      std::string_view content) const;

 private:
  std::filesystem::path path_;  // empty after a move
};

// The whole content of a file; NotFound when it cannot be opened.
Result<std::string> readFile(const std::filesystem::path& path);

}  // namespace runway::test
