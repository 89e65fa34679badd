#pragma once

// How runway starts another program, the one way for every caller: the local runtime's
// instances (output to their log file) and the commands of checks, hooks and backups (output
// to a pipe the caller reads). Finding the program and spawning it are separate so that a
// command can be checked before anything starts.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/error.hpp"

namespace runway {

// `extra` directories first, then those of runway's own PATH ("/usr/bin:/bin" when unset).
std::vector<std::filesystem::path> searchPath(const std::vector<std::filesystem::path>& extra = {});

// The program `command` names: a name with a '/' is taken against `working_dir` (when
// relative); a bare name is looked up in `search_path`, in order. Errors: InvalidArgument
// ("command 'x' not found in <dirs>", "command 'x' is not an executable file (<path>)").
Result<std::filesystem::path> findExecutable(std::string_view command,
                                             const std::filesystem::path& working_dir,
                                             const std::vector<std::filesystem::path>& search_path);

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0]: the program's path (findExecutable), not looked up
  std::vector<std::string> env;   // the complete environment, "KEY=VALUE"
  std::string working_dir;        // "" = runway's
  // Where stdout and stderr go: appended to `output_path` (created 0600) when it is set, else
  // onto the descriptor `output_fd` (e.g. a pipe's write end), else /dev/null.
  std::string output_path;
  int output_fd = -1;
};

// Starts the program in a process group of its own (pgid == pid), stdin from /dev/null, with no
// other descriptor of runway's (sockets, the store, the router's admin connection), an empty
// signal mask and default signal dispositions. Does not wait for it; the caller reaps it.
// Errors: InvalidArgument (the program cannot be executed: ENOENT, EACCES, ENOEXEC),
// Internal (the spawn itself failed).
Result<int> spawnProcess(const SpawnSpec& spec);

}  // namespace runway
