#pragma once

// The dashboard's built files (web/: bundled by esbuild at build time), embedded in the binary
// by web/CMakeLists.txt. Generated code defines embeddedFiles().

#include <span>

#include "runway/core/embedded_file.hpp"

namespace runway::web {

using runway::EmbeddedFile;

// Every file, the page first.
std::span<const EmbeddedFile> embeddedFiles();

}  // namespace runway::web
