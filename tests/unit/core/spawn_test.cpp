// The one way runway starts programs (runway/core/spawn.hpp): what the child gets and, as much,
// what it does not (runway's descriptors), and how a command is found.

#include "runway/core/spawn.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace runway {
namespace {

namespace fs = std::filesystem;

// Runs `script` with sh through spawnProcess, output to a pipe; returns its output.
std::string run(const std::string& script, const std::string& working_dir = "",
                std::vector<std::string> env = {"PATH=/usr/bin:/bin"}) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  SpawnSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = std::move(env);
  spec.working_dir = working_dir;
  spec.output_fd = fds[1];
  auto pid = spawnProcess(spec);
  ::close(fds[1]);
  EXPECT_TRUE(pid) << pid.error().message;
  std::string out;
  char buffer[512];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  if (pid) {
    int status = 0;
    ::waitpid(*pid, &status, 0);
  }
  return out;
}

TEST(SpawnTest, TheChildGetsItsEnvironmentDirectoryAndOwnProcessGroup) {
  const auto out = run("echo \"$FOO\"; pwd; cut -d' ' -f5 /proc/$$/stat; echo $$", "/tmp",
                       {"PATH=/usr/bin:/bin", "FOO=bar baz"});
  std::istringstream lines(out);
  std::string foo, pwd, pgid, pid;
  std::getline(lines, foo);
  std::getline(lines, pwd);
  std::getline(lines, pgid);
  std::getline(lines, pid);
  EXPECT_EQ(foo, "bar baz");
  EXPECT_EQ(pwd, "/tmp");
  EXPECT_EQ(pgid, pid) << out;
}

// A descriptor runway holds without O_CLOEXEC (a socket, the store) does not reach the child.
TEST(SpawnTest, NoDescriptorOfRunwaysReachesTheChild) {
  const int held = ::open("/dev/null", O_RDONLY);  // deliberately inheritable
  ASSERT_GE(held, 0);
  const int high = ::dup2(held, 57);
  ASSERT_EQ(high, 57);
  const auto out = run("if [ -e /proc/$$/fd/57 ]; then echo leaked; else echo clean; fi; "
                       "[ -e /proc/$$/fd/0 ] && echo stdin");
  EXPECT_EQ(out, "clean\nstdin\n");
  ::close(57);
  ::close(held);
}

TEST(SpawnTest, OutputToAFileIsAppended) {
  const fs::path file = fs::temp_directory_path() / ("runway-spawn-" + std::to_string(::getpid()));
  fs::remove(file);
  for (int i = 0; i < 2; ++i) {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "echo out; echo err >&2"};
    spec.output_path = file.string();
    auto pid = spawnProcess(spec);
    ASSERT_TRUE(pid) << pid.error().message;
    int status = 0;
    ::waitpid(*pid, &status, 0);
  }
  std::string text;
  {
    std::FILE* f = std::fopen(file.c_str(), "r");
    ASSERT_NE(f, nullptr);
    char buffer[64];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
    std::fclose(f);
  }
  EXPECT_EQ(text, "out\nerr\nout\nerr\n");
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  fs::remove(file);
}

TEST(SpawnTest, AProgramThatCannotBeExecutedIsInvalid) {
  SpawnSpec spec;
  spec.argv = {"/nonexistent/program"};
  auto pid = spawnProcess(spec);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(pid.error().message.find("/nonexistent/program"), std::string::npos);
  spec.argv.clear();
  EXPECT_EQ(spawnProcess(spec).error().code, ErrorCode::InvalidArgument);
}

TEST(SearchPathTest, ExtraDirectoriesComeBeforeRunwaysPath) {
  const auto path = searchPath({"/opt/runway/bin"});
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(path.front(), fs::path("/opt/runway/bin"));
  EXPECT_GT(path.size(), 1u);
}

}  // namespace
}  // namespace runway
