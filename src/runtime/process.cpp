#include "runway/runtime/process.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "runway/core/spawn.hpp"

namespace runway::runtime {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

std::string describeWaitStatus(int code, int status) {
  if (code == CLD_EXITED) return fmt::format("exited with status {}", status);
  if (code == CLD_KILLED || code == CLD_DUMPED) {
    return fmt::format("killed by signal {} ({})", status, strsignal(status));
  }
  return fmt::format("stopped (code {}, status {})", code, status);
}

class PosixProcessLauncher final : public ProcessLauncher {
 public:
  // ProcessLauncher
  Result<ProcessIdentity> launch(const LaunchSpec& spec) override {
    auto pid = spawnProcess(SpawnSpec{spec.argv, spec.env, spec.working_dir, spec.log_path});
    if (!pid) return fail(pid.error());
    ProcessIdentity identity{*pid, *pid, 0};
    if (auto stat = readProcStat(*pid)) identity.start_ticks = stat->start_ticks;
    return identity;
  }

  ProcessStatus status(const ProcessIdentity& process) override {
    siginfo_t info{};
    const int rc = waitid(P_PID, static_cast<id_t>(process.pid), &info,
                          WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0) {
      if (info.si_pid == process.pid) {
        return {ProcessStatus::Kind::Exited, describeWaitStatus(info.si_code, info.si_status)};
      }
      // Our child and still running; it cannot have been reused while unreaped.
      return {ProcessStatus::Kind::Running, {}};
    }
    // Not our child (adopted from an earlier controller): watch it through /proc.
    auto stat = readProcStat(process.pid);
    if (!stat) return {ProcessStatus::Kind::Gone, "process is gone"};
    if (process.start_ticks != 0 && stat->start_ticks != process.start_ticks) {
      return {ProcessStatus::Kind::Gone, "process is gone (its pid was reused)"};
    }
    if (stat->state == 'Z' || stat->state == 'X') {
      return {ProcessStatus::Kind::Exited, "exited (status unknown: not a child)"};
    }
    return {ProcessStatus::Kind::Running, {}};
  }

  void signalGroup(const ProcessIdentity& process, int signal) override {
    if (!leaderStillOurs(process)) return;
    ::kill(-process.pgid, signal);
  }

  void release(const ProcessIdentity& process) override {
    // While an exited child is unreaped its pid (and so its group id) cannot be reused: kill
    // what is left of the group first, then reap.
    siginfo_t info{};
    const int rc = waitid(P_PID, static_cast<id_t>(process.pid), &info,
                          WEXITED | WNOHANG | WNOWAIT);
    const bool unreaped_child = rc == 0 && info.si_pid == process.pid;
    if (unreaped_child || leaderStillOurs(process)) {
      ::kill(-process.pgid, SIGKILL);
    } else if (!processGroupMembers(process.pgid).empty() && !readProcStat(process.pgid)) {
      // Adopted leader gone but members left: the group id cannot be reused while they live.
      ::kill(-process.pgid, SIGKILL);
    }
    if (unreaped_child) {
      int status = 0;
      waitpid(process.pid, &status, 0);
    }
  }

  std::optional<ProcessIdentity> identify(int pid) override {
    auto stat = readProcStat(pid);
    if (!stat || stat->state == 'Z' || stat->state == 'X') return std::nullopt;
    return ProcessIdentity{pid, stat->pgrp, stat->start_ticks};
  }

 private:
  static bool leaderStillOurs(const ProcessIdentity& process) {
    auto stat = readProcStat(process.pid);
    if (!stat) return false;
    if (process.start_ticks != 0 && stat->start_ticks != process.start_ticks) return false;
    return stat->pgrp == process.pgid;
  }
};

}  // namespace

std::unique_ptr<ProcessLauncher> posixProcessLauncher() {
  return std::make_unique<PosixProcessLauncher>();
}

Result<ProcStat> parseProcStat(std::string_view line) {
  // "pid (comm) S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  //  cutime cstime priority nice threads itrealvalue starttime ..."; comm may hold spaces and
  //  parentheses, so fields are counted from the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string_view::npos) {
    return fail(ErrorCode::InvalidArgument, "malformed /proc stat line");
  }
  std::vector<std::string_view> fields;
  std::size_t pos = close + 1;
  while (pos < line.size()) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    const std::size_t start = pos;
    while (pos < line.size() && line[pos] != ' ' && line[pos] != '\n') ++pos;
    if (pos > start) fields.push_back(line.substr(start, pos - start));
    if (pos < line.size() && line[pos] == '\n') break;
  }
  // fields[0] is field 3 (state); field N is fields[N - 3].
  if (fields.size() < 20 || fields[0].size() != 1) {
    return fail(ErrorCode::InvalidArgument, "malformed /proc stat line");
  }
  ProcStat stat;
  stat.state = fields[0][0];
  const auto pgrp = fields[5 - 3];
  const auto start = fields[22 - 3];
  if (std::from_chars(pgrp.data(), pgrp.data() + pgrp.size(), stat.pgrp).ec != std::errc{} ||
      std::from_chars(start.data(), start.data() + start.size(), stat.start_ticks).ec !=
          std::errc{}) {
    return fail(ErrorCode::InvalidArgument, "malformed /proc stat line");
  }
  return stat;
}

Result<ProcStat> readProcStat(int pid) {
  if (pid <= 0) return fail(ErrorCode::NotFound, "no such process");
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  if (!in) return fail(ErrorCode::NotFound, fmt::format("no process {}", pid));
  std::string line;
  std::getline(in, line);
  if (line.empty()) return fail(ErrorCode::NotFound, fmt::format("no process {}", pid));
  return parseProcStat(line);
}

std::vector<int> processGroupMembers(int pgid) {
  std::vector<int> members;
  if (pgid <= 0) return members;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return members;
  while (const dirent* entry = readdir(dir)) {
    int pid = 0;
    const std::string_view name = entry->d_name;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc{}) continue;
    auto stat = readProcStat(pid);
    if (stat && stat->pgrp == pgid && stat->state != 'Z' && stat->state != 'X') {
      members.push_back(pid);
    }
  }
  closedir(dir);
  return members;
}

Result<int> freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::Unavailable, "socket: " + errnoText(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(ErrorCode::Unavailable, "no free loopback port: " + errnoText(err));
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

}  // namespace runway::runtime
