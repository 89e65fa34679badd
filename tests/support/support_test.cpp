// Tests of the test-support library itself: other suites rely on it to report failures and to
// leave no process or directory behind.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {
namespace {

using namespace std::chrono_literals;

// True once `pid` no longer names a live process (gone, or a zombie that no one reaps).
bool processGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_text, name, state;
  stat >> pid_text >> name >> state;
  return !stat || state == "Z";
}

Result<Subprocess> shell(const std::string& script, SubprocessOptions options = {}) {
  options.argv = {"/bin/sh", "-c", script};
  return Subprocess::start(std::move(options));
}

TEST(TempDirTest, CreatesWritesAndRemovesEverything) {
  std::filesystem::path path;
  {
    TempDir dir("support-test");
    path = dir.path();
    EXPECT_TRUE(std::filesystem::is_directory(path));
    auto file = dir.write("a/b/c.txt", "content");
    ASSERT_TRUE(file) << file.error().message;
    EXPECT_EQ(*file, dir / "a/b/c.txt");
    EXPECT_EQ(readFile(*file).value_or(""), "content");
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDirTest, MoveTransfersOwnership) {
  TempDir first("support-test");
  const auto path = first.path();
  TempDir second(std::move(first));
  EXPECT_EQ(second.path(), path);
  EXPECT_TRUE(first.path().empty());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(TempDirTest, ReadFileOfMissingFileIsNotFound) {
  TempDir dir("support-test");
  auto content = readFile(dir / "missing");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().code, ErrorCode::NotFound);
}

TEST(PollUntilTest, ReturnsAsSoonAsThePredicateHolds) {
  int calls = 0;
  EXPECT_TRUE(pollUntil([&] { return ++calls == 3; }, deadlineIn(10s)));
  EXPECT_EQ(calls, 3);
}

TEST(PollUntilTest, GivesUpAtTheDeadline) {
  const auto deadline = deadlineIn(50ms);
  EXPECT_FALSE(pollUntil([] { return false; }, deadline));
  EXPECT_GE(std::chrono::steady_clock::now(), deadline);
}

TEST(SubprocessTest, ReadsAMatchingLineAndTheExitCode) {
  auto child = shell("echo starting; echo 'listening on 127.0.0.1:4321'; echo done; exit 3");
  ASSERT_TRUE(child) << child.error().message;
  auto port = child->readListeningPort(deadlineIn(10s));
  ASSERT_TRUE(port) << port.error().message;
  EXPECT_EQ(*port, 4321);
  auto rest = child->readLineMatching("^d(on)e$", deadlineIn(10s));
  ASSERT_TRUE(rest) << rest.error().message;
  EXPECT_EQ(*rest, (std::vector<std::string>{"done", "on"}));
  auto status = child->waitExit(deadlineIn(10s));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_TRUE(status->exitedWith(3)) << status->describe();
  EXPECT_EQ(child->tryWait()->code, 3);  // the same status again, no second waitpid
}

TEST(SubprocessTest, NoMatchBeforeEndOfOutputIsUnavailableWithTheOutput) {
  auto child = shell("echo something else");
  ASSERT_TRUE(child) << child.error().message;
  auto match = child->readLineMatching("listening", deadlineIn(10s));
  ASSERT_FALSE(match);
  EXPECT_EQ(match.error().code, ErrorCode::Unavailable);
  EXPECT_NE(match.error().message.find("something else"), std::string::npos)
      << match.error().message;
}

TEST(SubprocessTest, NoMatchBeforeTheDeadlineIsTimeout) {
  auto child = shell("echo waiting; exec sleep 30");
  ASSERT_TRUE(child) << child.error().message;
  const auto started = std::chrono::steady_clock::now();
  auto match = child->readLineMatching("never", deadlineIn(200ms));
  ASSERT_FALSE(match);
  EXPECT_EQ(match.error().code, ErrorCode::Timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  auto status = child->waitExit(deadlineIn(50ms));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::Timeout);
}

TEST(SubprocessTest, PassesEnvironmentStdinAndCapturesBothStreams) {
  TempDir dir("support-test");
  auto input = dir.write("input.txt", "from stdin\n");
  ASSERT_TRUE(input);
  SubprocessOptions options;
  options.env = {{"SUPPORT_TEST_VALUE", "forty two"}};
  options.unset_env = {"HOME"};
  options.stdin_file = *input;
  options.stderr_to = Output::pipe();
  options.cwd = dir.path();
  auto child = shell(
      "echo \"$SUPPORT_TEST_VALUE\"; echo \"home=${HOME:-unset}\"; cat; pwd; echo oops >&2",
      std::move(options));
  ASSERT_TRUE(child) << child.error().message;
  auto output = child->readToEnd(deadlineIn(10s));
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->out, "forty two\nhome=unset\nfrom stdin\n" +
                             std::filesystem::canonical(dir.path()).string() + "\n");
  EXPECT_EQ(output->err, "oops\n");
  auto status = child->waitExit(deadlineIn(10s));
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exitedWith(0));
}

TEST(SubprocessTest, WritesStreamsToFiles) {
  TempDir dir("support-test");
  SubprocessOptions options;
  options.stdout_to = Output::file(dir / "both.log");
  options.stderr_to = Output::file(dir / "both.log");
  auto child = shell("echo out; echo err >&2", std::move(options));
  ASSERT_TRUE(child);
  ASSERT_TRUE(child->waitExit(deadlineIn(10s)));
  EXPECT_EQ(readFile(dir / "both.log").value_or(""), "out\nerr\n");
  auto match = child->readLineMatching("out", deadlineIn(1s));
  ASSERT_FALSE(match);
  EXPECT_EQ(match.error().code, ErrorCode::FailedPrecondition);
}

TEST(SubprocessTest, SignalEndsTheChildAndIsReported) {
  auto child = shell("echo ready; exec sleep 30");
  ASSERT_TRUE(child);
  ASSERT_TRUE(child->readLineMatching("ready", deadlineIn(10s)));
  ASSERT_TRUE(child->signal(SIGTERM));
  auto status = child->waitExit(deadlineIn(10s));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_FALSE(status->exited);
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_NE(status->describe().find("signal 15"), std::string::npos) << status->describe();
  auto again = child->signal(SIGTERM);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::FailedPrecondition);
}

TEST(SubprocessTest, DestructionKillsAndReapsTheWholeGroup) {
  pid_t child_pid = -1;
  pid_t grandchild_pid = -1;
  {
    auto child = shell("sleep 30 & echo \"grandchild $!\"; wait");
    ASSERT_TRUE(child);
    child_pid = child->pid();
    EXPECT_EQ(::getpgid(child_pid), child_pid) << "not in its own process group";
    auto line = child->readLineMatching("grandchild ([0-9]+)", deadlineIn(10s));
    ASSERT_TRUE(line) << line.error().message;
    grandchild_pid = std::stoi((*line)[1]);
  }
  // Reaped by the destructor: not even a zombie is left of the child.
  EXPECT_EQ(::kill(child_pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_TRUE(pollUntil([&] { return processGone(grandchild_pid); }, deadlineIn(10s)))
      << "grandchild " << grandchild_pid << " survived";
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  SubprocessOptions options;
  options.argv = {"/nonexistent/program"};
  auto child = Subprocess::start(std::move(options));
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().code, ErrorCode::NotFound);
  EXPECT_NE(child.error().message.find("/nonexistent/program"), std::string::npos);
}

TEST(NetTest, FreeLoopbackPortCanBeBound) {
  auto port = freeLoopbackPort();
  ASSERT_TRUE(port) << port.error().message;
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

TEST(NetTest, BinaryPathIsUnderTheBuildTree) {
  EXPECT_EQ(binaryPath("runway-demo-app").filename(), "runway-demo-app");
  EXPECT_EQ(binaryPath("runway-demo-app").parent_path().filename(), "bin");
}

TEST(HttpTest, ClosedPortIsUnavailableNamingTheUrl) {
  auto port = freeLoopbackPort();
  ASSERT_TRUE(port);
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/health";
  auto response = httpGet(url, 5s);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::Unavailable);
  EXPECT_NE(response.error().message.find(url), std::string::npos) << response.error().message;
}

TEST(NetTest, ExchangeRawWithClosedPortIsUnavailable) {
  auto port = freeLoopbackPort();
  ASSERT_TRUE(port);
  auto reply = exchangeRaw(*port, "hello", deadlineIn(5s));
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::Unavailable);
}

TEST(HttpTest, ServerThatNeverAnswersIsTimeout) {
  // A listening socket nobody accepts on: the connection completes, no response ever comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  ASSERT_EQ(::bind(fd, generic, sizeof(address)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, generic, &length), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/";
  auto response = httpGet(url, 300ms);
  ::close(fd);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::Timeout) << response.error().message;
}

}  // namespace
}  // namespace runway::test
