#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <regex>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not in a header

namespace runway::test {
namespace {

std::string errnoText(int error) { return std::strerror(error); }

// Owns the posix_spawn attribute and file-action objects for one spawn.
class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawnattr_init(&attributes_);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attributes_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attributes() { return &attributes_; }

 private:
  posix_spawn_file_actions_t actions_{};
  posix_spawnattr_t attributes_{};
};

// The last `limit` bytes of `text`, for error messages.
std::string tail(const std::string& text, std::size_t limit = 2000) {
  if (text.size() <= limit) return text;
  return "..." + text.substr(text.size() - limit);
}

}  // namespace

ExitStatus ExitStatus::fromWaitStatus(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) {
    result.exited = true;
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

std::string ExitStatus::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  return "signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

Result<Subprocess> Subprocess::start(SubprocessOptions options) {
  if (options.argv.empty()) return fail(ErrorCode::InvalidArgument, "Subprocess: empty argv");

  // The environment: the parent's, minus unset_env, plus env.
  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    environment[std::string(text.substr(0, eq))] = std::string(text.substr(eq + 1));
  }
  for (const auto& name : options.unset_env) environment.erase(name);
  for (const auto& [name, value] : options.env) environment[name] = value;
  std::vector<std::string> env_strings;
  env_strings.reserve(environment.size());
  for (const auto& [name, value] : environment) env_strings.push_back(name + "=" + value);

  std::vector<char*> argv;
  for (auto& arg : options.argv) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  SpawnSetup setup;
  const std::string stdin_path =
      options.stdin_file.empty() ? std::string("/dev/null") : options.stdin_file.string();
  ::posix_spawn_file_actions_addopen(setup.actions(), STDIN_FILENO, stdin_path.c_str(), O_RDONLY,
                                     0);

  Subprocess child;
  child.program_ = options.argv.front();
  // Pipe read ends are owned by `child` as soon as they exist, so every failure path below
  // closes them (through child's destructor, which does nothing else while pid_ is -1).
  std::array<int, 2> write_ends{-1, -1};
  auto closeWriteEnds = [&write_ends] {
    for (int& fd : write_ends) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  };
  const std::array<std::pair<const Output*, Stream*>, 2> streams{
      {{&options.stdout_to, &child.out_}, {&options.stderr_to, &child.err_}}};
  std::vector<std::string> paths;  // keeps the c_str()s alive until the spawn
  paths.reserve(2);
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const int target = i == 0 ? STDOUT_FILENO : STDERR_FILENO;
    const Output& output = *streams[i].first;
    switch (output.kind) {
      case Output::Kind::Inherit:
        break;
      case Output::Kind::Null:
        ::posix_spawn_file_actions_addopen(setup.actions(), target, "/dev/null", O_WRONLY, 0);
        break;
      case Output::Kind::File:
        paths.push_back(output.path.string());
        ::posix_spawn_file_actions_addopen(setup.actions(), target, paths.back().c_str(),
                                           O_WRONLY | O_CREAT | O_APPEND, 0644);
        break;
      case Output::Kind::Pipe: {
        std::array<int, 2> fds{};
        if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
          const int error = errno;
          closeWriteEnds();
          return fail(ErrorCode::Internal, "pipe2: " + errnoText(error));
        }
        streams[i].second->fd = fds[0];
        write_ends[i] = fds[1];
        // dup2 onto 1/2 clears FD_CLOEXEC on the copy; the originals close at exec.
        ::posix_spawn_file_actions_adddup2(setup.actions(), fds[1], target);
        break;
      }
    }
  }
  child.out_piped_ = options.stdout_to.kind == Output::Kind::Pipe;
  std::string cwd = options.cwd.string();
  if (!cwd.empty()) ::posix_spawn_file_actions_addchdir_np(setup.actions(), cwd.c_str());

  // Own process group; default signal dispositions and an empty mask, whatever the test
  // process (gtest, libcurl) has set for itself.
  sigset_t all_signals;
  sigset_t no_signals;
  ::sigfillset(&all_signals);
  ::sigemptyset(&no_signals);
  ::posix_spawnattr_setpgroup(setup.attributes(), 0);
  ::posix_spawnattr_setsigdefault(setup.attributes(), &all_signals);
  ::posix_spawnattr_setsigmask(setup.attributes(), &no_signals);
  const int flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  ::posix_spawnattr_setflags(setup.attributes(), static_cast<short>(flags));

  pid_t pid = -1;
  const bool search_path = child.program_.find('/') == std::string::npos;
  const int error =
      search_path
          ? ::posix_spawnp(&pid, argv[0], setup.actions(), setup.attributes(), argv.data(),
                           envp.data())
          : ::posix_spawn(&pid, argv[0], setup.actions(), setup.attributes(), argv.data(),
                          envp.data());
  closeWriteEnds();
  if (error != 0) {
    return fail(error == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                "cannot run " + child.program_ + ": " + errnoText(error));
  }
  child.pid_ = pid;
  return child;
}

Subprocess::~Subprocess() { release(); }

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      program_(std::move(other.program_)),
      status_(std::move(other.status_)),
      out_(std::exchange(other.out_, Stream{})),
      err_(std::exchange(other.err_, Stream{})),
      out_piped_(other.out_piped_) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    program_ = std::move(other.program_);
    status_ = std::move(other.status_);
    out_ = std::exchange(other.out_, Stream{});
    err_ = std::exchange(other.err_, Stream{});
    out_piped_ = other.out_piped_;
  }
  return *this;
}

void Subprocess::release() noexcept {
  if (pid_ > 0 && !status_) {
    // The group first (the child's own children), then the child itself in case it left
    // the group; reaping after SIGKILL cannot hang.
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = ExitStatus::fromWaitStatus(status);
  }
  for (Stream* stream : {&out_, &err_}) {
    if (stream->fd >= 0) ::close(stream->fd);
    stream->fd = -1;
  }
  pid_ = -1;
}

bool Subprocess::readSome(std::initializer_list<Stream*> streams, Deadline deadline) {
  std::vector<pollfd> fds;
  std::vector<Stream*> open;
  for (Stream* stream : streams) {
    if (stream->fd >= 0) {
      fds.push_back(pollfd{stream->fd, POLLIN, 0});
      open.push_back(stream);
    }
  }
  if (fds.empty()) return false;
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  const int timeout_ms = static_cast<int>(std::max<std::int64_t>(0, remaining.count()));
  int ready = -1;
  do {
    ready = ::poll(fds.data(), fds.size(), timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return false;
  std::array<char, 4096> buffer{};
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
    if (n > 0) {
      open[i]->data.append(buffer.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      ::close(open[i]->fd);  // EOF (or a broken pipe): nothing more will come
      open[i]->fd = -1;
    }
  }
  return true;
}

Result<std::vector<std::string>> Subprocess::readLineMatching(const std::string& pattern,
                                                              Deadline deadline) {
  if (!out_piped_) {
    return fail(ErrorCode::FailedPrecondition,
                program_ + ": readLineMatching needs stdout_to = Output::pipe()");
  }
  const std::regex regex(pattern);
  for (;;) {
    // Look at every complete line not yet consumed.
    for (auto newline = out_.data.find('\n', out_.consumed); newline != std::string::npos;
         newline = out_.data.find('\n', out_.consumed)) {
      const std::string line = out_.data.substr(out_.consumed, newline - out_.consumed);
      out_.consumed = newline + 1;
      std::smatch match;
      if (std::regex_search(line, match, regex)) {
        std::vector<std::string> groups;
        for (const auto& group : match) groups.push_back(group.str());
        return groups;
      }
    }
    if (out_.fd < 0) {
      return fail(ErrorCode::Unavailable, program_ + ": stdout closed before a line matching /" +
                                              pattern + "/; stdout so far:\n" + tail(out_.data));
    }
    if (!readSome({&out_}, deadline) && std::chrono::steady_clock::now() >= deadline) {
      return fail(ErrorCode::Timeout, program_ + ": no line matching /" + pattern +
                                          "/ before the deadline; stdout so far:\n" +
                                          tail(out_.data));
    }
  }
}

Result<int> Subprocess::readListeningPort(Deadline deadline) {
  auto match = readLineMatching(R"(listening on (\S+):([0-9]+))", deadline);
  if (!match) return fail(match.error());
  return std::stoi((*match)[2]);
}

Result<CapturedOutput> Subprocess::readToEnd(Deadline deadline) {
  while (out_.fd >= 0 || err_.fd >= 0) {
    if (!readSome({&out_, &err_}, deadline) && std::chrono::steady_clock::now() >= deadline) {
      return fail(ErrorCode::Timeout, program_ + ": output still open at the deadline; stdout:\n" +
                                          tail(out_.data) + "\nstderr:\n" + tail(err_.data));
    }
  }
  return CapturedOutput{out_.data, err_.data};
}

Result<void> Subprocess::signal(int sig) {
  if (pid_ <= 0 || status_) {
    return fail(ErrorCode::FailedPrecondition, program_ + ": no running process to signal");
  }
  if (::kill(pid_, sig) != 0) {
    return fail(ErrorCode::Internal, program_ + ": kill: " + errnoText(errno));
  }
  return {};
}

std::optional<ExitStatus> Subprocess::tryWait() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  pid_t reaped = -1;
  do {
    reaped = ::waitpid(pid_, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid_) status_ = ExitStatus::fromWaitStatus(status);
  return status_;
}

Result<ExitStatus> Subprocess::waitExit(Deadline deadline) {
  if (pid_ <= 0) return fail(ErrorCode::FailedPrecondition, program_ + ": no process");
  if (!pollUntil([this] { return tryWait().has_value(); }, deadline)) {
    return fail(ErrorCode::Timeout,
                program_ + " (pid " + std::to_string(pid_) + ") still running at the deadline");
  }
  return *status_;
}

}  // namespace runway::test
