#pragma once

// Runs a local command with a timeout and captures its output (dependencies such as
// pg_isready, hooks, backups). The command runs in its own process group; on timeout the whole
// group gets SIGKILL.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "runway/core/error.hpp"

namespace runway::checks::detail {

struct CommandResult {
  int exit_code = -1;      // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string output;      // stdout and stderr interleaved, at most `max_output` bytes (the tail)
  std::string describe() const;  // "exited with status 2", "timed out after 5s", ...
};

// argv[0]: a path, or a bare name looked up on PATH. The command's environment is
// baseChildEnvironment() (PATH, HOME, LANG, LC_ALL, TZ, TMPDIR as runway has them) plus `env`,
// never the rest of runway's environment.
// The program is found and started as everything runway starts is (runway/core/spawn.hpp): no
// descriptor of runway's leaks into it. Errors: InvalidArgument (no such program, not
// executable), Internal (spawn failed).
Result<CommandResult> runCommand(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env,
                                 const std::string& working_dir, std::chrono::milliseconds timeout,
                                 std::size_t max_output = 64 * 1024);

}  // namespace runway::checks::detail
