#pragma once

// A read-only view of what a LocalRuntime (usually inside `runway serve`) runs, read from the
// files it keeps under DATA/run/ (runtime/records.hpp). The CLI's check commands use it instead
// of opening a second LocalRuntime, which would re-adopt (and possibly stop) the server's
// instances.
//
// Instance states as a snapshot can know them: a pid file whose process is alive and that was
// written Ready is Ready; alive but not Ready is Starting; a dead process is Restarting (the
// supervisor restarts it; without a supervisor it stays so). Mutating operations fail with
// FailedPrecondition.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runway/runtime/runtime.hpp"

namespace runway::checks {

// Opens DATA (the directory that holds run/ and logs/). A missing run/ directory is an empty
// runtime, not an error: nothing has been started there.
std::unique_ptr<runtime::Runtime> openRuntimeSnapshot(std::filesystem::path data_dir);

// The router listener of a service as the runtime recorded it (DATA/run/ENV/SERVICE/
// traffic.json): "127.0.0.1", port. nullopt when there is no such record.
struct Listener {
  std::string address;
  int port = 0;
};
std::optional<Listener> recordedListener(const std::filesystem::path& data_dir,
                                         std::string_view environment, std::string_view service);

}  // namespace runway::checks
