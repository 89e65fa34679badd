#include "command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "runway/core/child_environment.hpp"

namespace runway::checks::detail {

std::string CommandResult::describe() const {
  if (timed_out) return "timed out";
  if (exit_code >= 0) return fmt::format("exited with status {}", exit_code);
  return "killed by a signal";
}

Result<std::string> findExecutable(const std::string& name, const std::string& working_dir) {
  namespace fs = std::filesystem;
  auto usable = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    fs::path p(name);
    if (p.is_relative() && !working_dir.empty()) p = fs::path(working_dir) / p;
    std::error_code ec;
    if (!fs::exists(p, ec)) return fail(ErrorCode::NotFound, fmt::format("{} does not exist", p.string()));
    if (!usable(p)) return fail(ErrorCode::PermissionDenied, fmt::format("{} is not executable", p.string()));
    return p.string();
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = path.find(':', start);
    const auto dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty() && usable(fs::path(dir) / name)) return (fs::path(dir) / name).string();
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return fail(ErrorCode::NotFound, fmt::format("command \"{}\" not found on PATH", name));
}

Result<CommandResult> runCommand(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env,
                                 const std::string& working_dir, std::chrono::milliseconds timeout,
                                 std::size_t max_output) {
  if (argv.empty()) return fail(ErrorCode::InvalidArgument, "empty command");
  auto program = findExecutable(argv[0], working_dir);
  if (!program) return fail(program.error());

  // Not runway's whole environment: it holds runway's own credentials (child_environment.hpp).
  std::map<std::string, std::string> merged = baseChildEnvironment();
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return fail(ErrorCode::Internal, fmt::format("pipe: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  if (!working_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, working_dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, program->c_str(), &actions, &attr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return fail(ErrorCode::Internal, fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
  }

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool open = true;
  char buffer[4096];
  while (open) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const auto n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) {
      open = false;
      break;
    }
    result.output.append(buffer, static_cast<std::size_t>(n));
    if (result.output.size() > max_output) {
      result.output.erase(0, result.output.size() - max_output);
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return result;
  }
  // Output closed: the command is done, or it closed its outputs and still runs.
  while (true) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return result;
    }
    ::usleep(2000);
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  // Whatever it left running in its group goes with it.
  ::kill(-pid, SIGKILL);
  return result;
}

}  // namespace runway::checks::detail
