#include "command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "runway/core/child_environment.hpp"
#include "runway/core/spawn.hpp"

namespace runway::checks::detail {

std::string CommandResult::describe() const {
  if (timed_out) return "timed out";
  if (exit_code >= 0) return fmt::format("exited with status {}", exit_code);
  return "killed by a signal";
}

Result<CommandResult> runCommand(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env,
                                 const std::string& working_dir, std::chrono::milliseconds timeout,
                                 std::size_t max_output) {
  if (argv.empty()) return fail(ErrorCode::InvalidArgument, "empty command");
  auto program = findExecutable(argv[0], working_dir, searchPath());
  if (!program) return fail(program.error());

  // Not runway's whole environment: it holds runway's own credentials (child_environment.hpp).
  std::map<std::string, std::string> merged = baseChildEnvironment();
  for (const auto& [k, v] : env) merged[k] = v;
  SpawnSpec spec;
  spec.argv = argv;
  spec.argv[0] = program->string();
  for (const auto& [k, v] : merged) spec.env.push_back(k + "=" + v);
  spec.working_dir = working_dir;

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return fail(ErrorCode::Internal, fmt::format("pipe: {}", std::strerror(errno)));
  }
  spec.output_fd = pipe_fds[1];
  auto spawned = spawnProcess(spec);
  ::close(pipe_fds[1]);
  if (!spawned) {
    ::close(pipe_fds[0]);
    return fail(spawned.error());
  }
  const pid_t pid = *spawned;

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
