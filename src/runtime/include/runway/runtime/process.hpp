#pragma once

// The seam in front of the operating system's processes, so that the supervisor's timing and
// restart logic is tested with a fake launcher and a FakeClock.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/error.hpp"

namespace runway::runtime {

struct LaunchSpec {
  std::vector<std::string> argv;  // argv[0] is an absolute or working-dir relative path
  std::vector<std::string> env;   // the complete environment, "KEY=VALUE"
  std::string working_dir;        // "" = the caller's
  std::string log_path;           // stdout and stderr, appended; its directory must exist
};

// Identifies one process across time: a pid alone may be reused after the process exits, the
// pair (pid, start time in clock ticks since boot, /proc/<pid>/stat field 22) may not.
struct ProcessIdentity {
  int pid = 0;
  int pgid = 0;
  std::uint64_t start_ticks = 0;

  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

struct ProcessStatus {
  enum class Kind { Running, Exited, Gone };
  Kind kind = Kind::Running;
  // Exited: "exited with status N" / "killed by signal N"; Gone: why it is not there.
  std::string description;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;

  // Spawns a process in its own process group (pgid == pid), stdin from /dev/null, stdout and
  // stderr appended to spec.log_path, no other descriptors inherited, default signal
  // dispositions. Errors: InvalidArgument (not executable), Internal (spawn failed).
  virtual Result<ProcessIdentity> launch(const LaunchSpec& spec) = 0;

  // Whether the identified process still runs. Works for children of this process and for
  // processes adopted from an earlier controller (watched through /proc). A child that exited
  // is left unreaped until release(), so its pid and group cannot be reused meanwhile.
  virtual ProcessStatus status(const ProcessIdentity& process) = 0;

  // Sends a signal to the whole process group, if the group's leader is still the identified
  // process (or has exited but is still an unreaped child). Does nothing otherwise.
  virtual void signalGroup(const ProcessIdentity& process, int signal) = 0;

  // After the leader exited: kills whatever is left of its group and reaps the leader.
  virtual void release(const ProcessIdentity& process) = 0;

  // The identity of a running pid now (nullopt when there is no such live process).
  virtual std::optional<ProcessIdentity> identify(int pid) = 0;
};

// The real launcher (posix_spawn, /proc, waitid). Thread-safe.
std::unique_ptr<ProcessLauncher> posixProcessLauncher();

// Parses the start time (field 22) and state (field 3) out of a /proc/<pid>/stat line.
struct ProcStat {
  char state = '?';
  int pgrp = 0;
  std::uint64_t start_ticks = 0;
};
Result<ProcStat> parseProcStat(std::string_view line);
// Reads /proc/<pid>/stat. NotFound when there is no such process.
Result<ProcStat> readProcStat(int pid);

// Pids of the live (non-zombie) processes in a process group, from /proc.
std::vector<int> processGroupMembers(int pgid);

// A loopback TCP port free at the time of the call (bind 127.0.0.1:0). Errors: Unavailable.
Result<int> freeLoopbackPort();

}  // namespace runway::runtime
