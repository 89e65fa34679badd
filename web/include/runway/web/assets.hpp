#pragma once

// The dashboard's built files (web/: bundled by esbuild at build time), embedded in the binary
// by web/CMakeLists.txt. Generated code defines embeddedFiles().

#include <cstddef>
#include <span>
#include <string_view>

namespace runway::web {

struct EmbeddedFile {
  std::string_view path;          // "/" for the page, "/assets/app.js", ...
  std::string_view content_type;  // "application/javascript; charset=utf-8", ...
  std::string_view body;          // static storage
  std::string_view etag;          // quoted: "\"<first 32 hex digits of the SHA-256>\""
};

// Every file, the page first.
std::span<const EmbeddedFile> embeddedFiles();

}  // namespace runway::web
