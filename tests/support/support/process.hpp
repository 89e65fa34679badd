#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runway/core/error.hpp"
#include "support/poll.hpp"

namespace runway::test {

// Where a child's stdout or stderr goes.
struct Output {
  enum class Kind { Inherit, Null, File, Pipe };
  Kind kind = Kind::Inherit;
  // Kind::File only; opened O_APPEND|O_CREAT, so stdout and stderr may share one file.
  std::filesystem::path path;

  static Output inherit() { return {}; }
  static Output null() { return {Kind::Null, {}}; }
  static Output file(std::filesystem::path path) { return {Kind::File, std::move(path)}; }
  // Read with Subprocess::readLineMatching() / readToEnd(). A pipe holds 64 KiB: a child that
  // writes more than that and is never drained blocks, so send chatty children to a File.
  static Output pipe() { return {Kind::Pipe, {}}; }
};

struct SubprocessOptions {
  // argv[0] is the program: a path, or a bare name looked up on PATH.
  std::vector<std::string> argv;
  // Set in the child on top of the parent's environment (later entries win).
  std::vector<std::pair<std::string, std::string>> env;
  // Removed from the child's environment (applied before `env`).
  std::vector<std::string> unset_env;
  // The child's stdin; empty means /dev/null.
  std::filesystem::path stdin_file;
  Output stdout_to = Output::pipe();
  Output stderr_to = Output::inherit();
  // The child's working directory; empty means the parent's.
  std::filesystem::path cwd;
};

// How a child ended.
struct ExitStatus {
  bool exited = false;  // true: exit(code); false: killed by `signal`
  int code = -1;
  int signal = 0;

  static ExitStatus fromWaitStatus(int status);
  // "exit code 0" or "signal 9 (Killed)", for assertion messages.
  std::string describe() const;
  bool exitedWith(int expected) const { return exited && code == expected; }
};

// What a child wrote to its piped streams, from the start.
struct CapturedOutput {
  std::string out;
  std::string err;
};

// A child process in its own process group (so signals to the test's group do not reach it,
// and its own children can be killed with it). Move-only.
//
// Destruction kills the whole group with SIGKILL if the child has not been reaped yet, then
// reaps it: a Subprocess never leaves a zombie or a stray server behind, even when an ASSERT
// returns early. Not thread-safe: use one Subprocess from one thread.
class Subprocess {
 public:
  // Spawns the child (posix_spawn). NotFound when the program does not exist, Internal for
  // other spawn failures (the message names the program and errno).
  static Result<Subprocess> start(SubprocessOptions options);

  ~Subprocess();
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // Reads piped stdout until a line (without its '\n') matches `pattern` (ECMAScript regex,
  // std::regex_search) and returns the match: [0] the matched text, [1..] the groups. Lines
  // before it are consumed. Timeout at `deadline`; Unavailable when stdout reaches EOF first;
  // FailedPrecondition when stdout is not a Pipe. Messages include the output seen so far.
  Result<std::vector<std::string>> readLineMatching(const std::string& pattern,
                                                    Deadline deadline);

  // readLineMatching("listening on <host>:<port>") and the port as a number: the startup line
  // of runway-demo-app (and other runway servers started on port 0).
  Result<int> readListeningPort(Deadline deadline);

  // Drains every piped stream until EOF (normally: the child exited) and returns all they
  // carried since the start. Timeout when a stream is still open at `deadline`.
  Result<CapturedOutput> readToEnd(Deadline deadline);

  // Sends `sig` to the child (not its group). FailedPrecondition once it has been reaped.
  Result<void> signal(int sig);

  // Reaps the child if it has exited; nullopt while it runs. Once reaped, returns the same
  // status every time.
  std::optional<ExitStatus> tryWait();

  // Waits (polling waitpid) until the child exits; Timeout at `deadline`, the child left
  // running.
  Result<ExitStatus> waitExit(Deadline deadline);

 private:
  struct Stream {
    int fd = -1;        // read end of the pipe; -1 when not piped or at EOF
    std::string data;   // everything read so far
    std::size_t consumed = 0;  // readLineMatching() has looked at data[0, consumed)
  };

  Subprocess() = default;
  // Reads what is available on the open streams among `streams`, waiting at most until
  // `deadline`; returns false when the deadline passed with nothing read.
  bool readSome(std::initializer_list<Stream*> streams, Deadline deadline);
  void release() noexcept;

  pid_t pid_ = -1;
  std::string program_;
  std::optional<ExitStatus> status_;  // set once reaped
  Stream out_;
  Stream err_;
  bool out_piped_ = false;
};

}  // namespace runway::test
