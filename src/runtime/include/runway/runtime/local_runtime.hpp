#pragma once

// The `local` runtime: a process supervisor. Runs each service version as N local processes
// on loopback ports, each in its own process group, probes their health, restarts them with
// exponential back-off, stops them gracefully, rotates their logs, and pushes the resulting
// routing table to a TrafficBackend (the router). It keeps pid files so that a new
// LocalRuntime on the same data directory re-adopts instances started by an earlier one.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/health.hpp"
#include "runway/runtime/process.hpp"
#include "runway/runtime/records.hpp"
#include "runway/runtime/runtime.hpp"
#include "runway/runtime/traffic.hpp"

namespace runway::runtime {

struct RestartPolicy {
  Duration initial_backoff{500};
  Duration max_backoff{30'000};
  // More than `max_restarts` restarts within `window` make the instance (and version) Failed.
  int max_restarts = 5;
  Duration window{std::chrono::minutes(5)};
};

// The delay before restart number `recent_restarts + 1`, given how many restarts happened
// within the policy window: initial, 2x, 4x ... capped at max_backoff.
Duration backoffDelay(const RestartPolicy& policy, int recent_restarts);

struct LocalRuntimeOptions {
  std::filesystem::path data_dir;  // holds run/ and logs/; created 0700 if missing
  std::shared_ptr<Clock> clock;
  std::shared_ptr<ProcessLauncher> launcher;  // null = posixProcessLauncher()
  std::shared_ptr<HealthProber> prober;       // null = httpHealthProber()
  std::shared_ptr<TrafficBackend> traffic;    // REQUIRES: not null
  // Picks a free loopback port; null = freeLoopbackPort().
  std::function<Result<int>()> port_allocator;
  // Directories searched for command[0] before $PATH (and prefixed to the instances' PATH).
  // Default: the directory of the running executable, so `runway-demo-app` next to `runway`
  // is found.
  std::vector<std::filesystem::path> extra_path;
  RestartPolicy restart;
  Duration kill_timeout{std::chrono::seconds(10)};  // SIGTERM -> SIGKILL
  Duration scale_down_grace{std::chrono::seconds(30)};  // drain time of instances scaled away
  std::uint64_t log_max_bytes = 10 * 1024 * 1024;   // rotate a log file above this size
  int log_keep = 3;                                  // rotated files kept (.1 .. .K)
  Duration log_check_period{std::chrono::seconds(5)};
  // Run a supervisor thread that calls tick() every `tick_period`. When false (unit tests),
  // the caller drives tick() itself.
  bool supervisor_thread = true;
  Duration tick_period{50};
};

class LocalRuntime : public Runtime {
 public:
  // Opens the runtime on a data directory and re-adopts what an earlier LocalRuntime left
  // running there: live instances with matching pid files are kept (Ready ones stay routed),
  // dead ones are restarted, and processes of versions without a version file are stopped.
  // Errors: InvalidArgument (no traffic backend), Internal (data directory unusable).
  static Result<std::unique_ptr<LocalRuntime>> open(LocalRuntimeOptions options);

  // One step of supervision: reap exits, schedule restarts, start due probes and process
  // their results, advance graceful stops, rotate logs, push a changed table, deliver events.
  // Called by the supervisor thread, or by tests in manual mode. Not reentrant.
  virtual void tick() = 0;

  // Starts stopping everything without waiting; allStopped() tells when done (manual mode).
  virtual void requestStopAll(Duration grace) = 0;
  virtual bool allStopped() const = 0;

  // The paths of an instance's pid and log files.
  virtual std::filesystem::path pidFilePath(std::string_view environment,
                                            std::string_view service, std::string_view version,
                                            int index) const = 0;
  virtual std::filesystem::path logFilePath(std::string_view environment,
                                            std::string_view service, std::string_view version,
                                            int index) const = 0;

  // Destroying a LocalRuntime stops supervising but leaves instances running (a controller
  // crash or upgrade); call stopAll() first to stop them.
  ~LocalRuntime() override = default;
};

// Replaces ${PORT}, ${VERSION}, ${SERVICE}, ${ENVIRONMENT} in `text` with the configuration's
// syntax (config/substitute.hpp): "$$" is a literal '$', another '$' not followed by '{' is kept.
// Any other ${NAME}, or an unterminated "${", is an InvalidArgument error naming `where`.
struct Substitutions {
  int port = 0;
  std::string version;
  std::string service;
  std::string environment;
  std::string artifact{};  // ${ARTIFACT}; "" = the version
};
Result<std::string> substitute(std::string_view text, const Substitutions& values,
                               std::string_view where);

// The artifact a version record runs for its own service (the version when none was given), and
// the environment variable that carries a service's artifact: RUNWAY_ARTIFACT_<SERVICE>, upper
// case with '-' as '_'.
std::string artifactOf(const VersionRecord& record);
std::string artifactVariable(std::string_view service);

// Rotates `path` when it is larger than `max_bytes`: path.(K-1) -> path.K ... path -> path.1
// by copying and truncating in place, so a process appending to it (O_APPEND) keeps writing to
// `path` without being told. Lines written between the copy and the truncation can be lost.
// Returns whether it rotated.
Result<bool> rotateLogIfLarger(const std::filesystem::path& path, std::uint64_t max_bytes,
                               int keep);

// Names of versions: 1..128 characters of letters, digits, '.', '_', '-', not starting with
// '.' or '-' (v1.2.3, a git SHA, 2026-11-26.1).
Result<void> validateVersionName(std::string_view version);

}  // namespace runway::runtime
