#include "runway/core/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace runway {

namespace fs = std::filesystem;

std::vector<fs::path> searchPath(const std::vector<fs::path>& extra) {
  std::vector<fs::path> out = extra;
  const char* env = std::getenv("PATH");
  std::string_view rest(env != nullptr ? env : "/usr/bin:/bin");
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const auto part = rest.substr(0, colon);
    if (!part.empty()) out.emplace_back(part);
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return out;
}

Result<fs::path> findExecutable(std::string_view command, const fs::path& working_dir,
                                const std::vector<fs::path>& search_path) {
  if (command.empty()) return fail(ErrorCode::InvalidArgument, "the command is empty");
  auto executable = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (command.find('/') != std::string_view::npos) {
    fs::path p(command);
    if (p.is_relative()) p = working_dir / p;
    if (!executable(p)) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("command '{}' is not an executable file ({})", command, p.string()));
    }
    return p;
  }
  std::string searched;
  for (const auto& dir : search_path) {
    if (dir.empty()) continue;
    const auto p = dir / command;
    if (executable(p)) return p;
    if (!searched.empty()) searched += ':';
    searched += dir.string();
  }
  return fail(ErrorCode::InvalidArgument,
              fmt::format("command '{}' not found in {}", command, searched));
}

Result<int> spawnProcess(const SpawnSpec& spec) {
  if (spec.argv.empty()) return fail(ErrorCode::InvalidArgument, "the command is empty");
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  struct Cleanup {
    posix_spawn_file_actions_t* a;
    posix_spawnattr_t* b;
    ~Cleanup() {
      posix_spawn_file_actions_destroy(a);
      posix_spawnattr_destroy(b);
    }
  } cleanup{&actions, &attr};

  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!spec.output_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, spec.output_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
  } else if (spec.output_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, spec.output_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // Nothing else of runway's leaks into the child (sockets, the store, the admin connection).
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!spec.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, spec.working_dir.c_str());
  }
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t defaults;
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &empty_mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, static_cast<short>(POSIX_SPAWN_SETPGROUP |
                                                     POSIX_SPAWN_SETSIGMASK |
                                                     POSIX_SPAWN_SETSIGDEF));

  std::vector<char*> argv;
  argv.reserve(spec.argv.size() + 1);
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int rc =
      posix_spawn(&pid, spec.argv[0].c_str(), &actions, &attr, argv.data(), envp.data());
  if (rc != 0) {
    const ErrorCode code = (rc == ENOENT || rc == EACCES || rc == ENOEXEC)
                               ? ErrorCode::InvalidArgument
                               : ErrorCode::Internal;
    return fail(code, fmt::format("cannot start '{}': {}", spec.argv[0], std::strerror(rc)));
  }
  return static_cast<int>(pid);
}

}  // namespace runway
