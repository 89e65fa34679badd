#pragma once

// The OpenAPI 3.1 document of API v1: src/api/openapi.json, the source of truth, compiled into
// the binary (cmake/EmbedFiles.cmake) and served without a token at GET /api/v1/openapi.json.
// Tests hold it against docs/api.md and against the routes the server registers.

#include <span>
#include <string_view>

#include "runway/core/embedded_file.hpp"

namespace runway::api::openapi {

// One file: /api/v1/openapi.json (generated code).
std::span<const EmbeddedFile> embeddedFiles();

// The document's text (JSON).
inline std::string_view document() { return embeddedFiles().front().body; }

}  // namespace runway::api::openapi
