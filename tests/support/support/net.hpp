#pragma once

#include <filesystem>
#include <string_view>

#include "runway/core/error.hpp"
#include "support/poll.hpp"

namespace runway::test {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed).
// Another process may take it before you bind it: prefer starting servers on port 0 and reading
// the port they report (Subprocess::readListeningPort); use this only for programs that cannot.
Result<int> freeLoopbackPort();

// Connects to 127.0.0.1:`port`, sends `bytes`, shuts down its sending side and returns all the
// peer sends until it closes the connection: for requests an HTTP client will not produce
// (malformed, pipelined). Unavailable when the connection fails or is reset, Timeout at
// `deadline`.
Result<std::string> exchangeRaw(int port, std::string_view bytes, Deadline deadline);

// ${RUNWAY_BINARY_DIR}/bin/<name>: a program built by this build tree, e.g.
// binaryPath("runway-demo-app"). The RUNWAY_BINARY_DIR environment variable, when set,
// overrides the build directory compiled in (to test another build).
std::filesystem::path binaryPath(std::string_view name);

}  // namespace runway::test
