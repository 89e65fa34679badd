#pragma once

// A file compiled into the binary by cmake/EmbedFiles.cmake (the web dashboard's bundle, the
// API's OpenAPI document). The generated code defines a function returning a span of these.

#include <string_view>

namespace runway {

struct EmbeddedFile {
  std::string_view path;          // "/" for the page, "/assets/app.js", ...
  std::string_view content_type;  // "text/javascript; charset=utf-8", ...
  std::string_view body;          // static storage
  std::string_view etag;          // quoted: "\"<first 32 hex digits of the SHA-256>\""
};

}  // namespace runway
