#pragma once

// What LocalRuntime keeps on disk so that a new controller process can re-adopt the instances
// an earlier one started (ARCHITECTURE.md: the data plane outlives the control plane):
//
//   DATA/run/<env>/<service>/<version>.version.json   the version: desired count, how to start it
//   DATA/run/<env>/<service>/<version>-<n>.pid         one running instance
//   DATA/run/<env>/<service>/traffic.json              the split and the router listener
//
// Files are written atomically (temp file + rename), JSON, mode 0600.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/process.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::runtime {

// One instance process. The pid file.
struct InstanceRecord {
  std::string environment;
  std::string service;
  std::string version;
  int index = 0;
  ProcessIdentity process;
  int port = 0;
  std::vector<std::string> command;  // the substituted argv it was started with
  TimePoint started_at{};
  int restarts = 0;
  bool ready = false;  // was Ready when last written: adopted as Ready and kept routed

  friend bool operator==(const InstanceRecord&, const InstanceRecord&) = default;
};

// One version: how to (re)start its instances and how many.
struct VersionRecord {
  std::string environment;
  std::string service;
  std::string version;
  int desired = 0;
  bool retiring = false;
  std::vector<std::string> command;         // unsubstituted, with ${PORT} etc.
  std::map<std::string, std::string> env;  // unsubstituted
  std::string working_dir;                  // absolute
  config::HealthProbe health;
  std::map<std::string, std::string> artifacts;  // service -> artifact of the release

  friend bool operator==(const VersionRecord& a, const VersionRecord& b) {
    return a.environment == b.environment && a.service == b.service && a.version == b.version &&
           a.desired == b.desired && a.retiring == b.retiring && a.command == b.command &&
           a.env == b.env && a.working_dir == b.working_dir && a.artifacts == b.artifacts &&
           a.health.path == b.health.path && a.health.initial_delay == b.health.initial_delay &&
           a.health.period == b.health.period && a.health.timeout == b.health.timeout &&
           a.health.failure_threshold == b.health.failure_threshold;
  }
};

// A service's split and router listener.
struct TrafficRecord {
  std::string environment;
  std::string service;
  std::string listen_address = "127.0.0.1";
  int listen_port = 0;
  ListenerLimits limits;
  std::optional<ListenerTlsFiles> tls;  // nullopt = plain HTTP
  TrafficSplit split;

  friend bool operator==(const TrafficRecord&, const TrafficRecord&) = default;
};

std::string toJson(const InstanceRecord& record);
std::string toJson(const VersionRecord& record);
std::string toJson(const TrafficRecord& record);
// Errors: InvalidArgument naming the missing or malformed field.
Result<InstanceRecord> parseInstanceRecord(std::string_view json);
Result<VersionRecord> parseVersionRecord(std::string_view json);
Result<TrafficRecord> parseTrafficRecord(std::string_view json);

// Atomic write (temp + fsync + rename), mode 0600, creating parent directories (0700).
Result<void> writeFileAtomically(const std::filesystem::path& path, std::string_view content);
// Errors: NotFound, Internal.
Result<std::string> readWholeFile(const std::filesystem::path& path);

// Whether a pid file still describes a live process: the pid runs and its start time matches
// (guards against pid reuse after a reboot or a long outage).
bool describesLiveProcess(const InstanceRecord& record, ProcessLauncher& launcher);

}  // namespace runway::runtime
