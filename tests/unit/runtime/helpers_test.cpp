#include <fstream>

#include <gtest/gtest.h>

#include "runway/core/spawn.hpp"
#include "runway/runtime/local_runtime.hpp"
#include "runway/runtime/process.hpp"
#include "support/temp_dir.hpp"

namespace runway::runtime {
namespace {

namespace fs = std::filesystem;

TEST(SubstituteTest, ReplacesTheFourVariables) {
  const Substitutions values{8123, "v1.2.3", "api", "staging"};
  auto out = substitute("--port=${PORT} ${SERVICE}@${VERSION} in ${ENVIRONMENT}/${PORT}", values,
                        "command[1]");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "--port=8123 api@v1.2.3 in staging/8123");
}

TEST(SubstituteTest, KeepsOtherDollarSignsAndUnescapesDoubleDollar) {
  auto out = substitute("cost $5 $HOME $$PORT ${PORT} $", Substitutions{1, "v", "s", "e"}, "x");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "cost $5 $HOME $PORT 1 $");
}

TEST(SubstituteTest, UnknownVariableIsAnErrorWithASuggestion) {
  auto out = substitute("--port ${PROT}", Substitutions{1, "v", "s", "e"}, "command[2]");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(out.error().message.find("command[2]"), std::string::npos);
  EXPECT_NE(out.error().message.find("${PROT}"), std::string::npos);
  EXPECT_NE(out.error().message.find("did you mean ${PORT}"), std::string::npos);
}

TEST(SubstituteTest, UnterminatedIsAnError) {
  auto out = substitute("x ${PORT", Substitutions{1, "v", "s", "e"}, "env.X");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(out.error().message.starts_with("env.X: ")) << out.error().message;
}

TEST(BackoffTest, DoublesFromInitialAndCaps) {
  RestartPolicy policy;  // 0.5s .. 30s
  std::vector<long> delays;
  for (int i = 0; i < 9; ++i) delays.push_back(backoffDelay(policy, i).count());
  EXPECT_EQ(delays, (std::vector<long>{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
  EXPECT_EQ(backoffDelay(policy, 1000).count(), 30000);
}

TEST(FindExecutableTest, FindsBareNamesInTheSearchPathInOrder) {
  test::TempDir dir;
  auto first = dir.write("a/tool", "#!/bin/sh\n");
  auto second = dir.write("b/tool", "#!/bin/sh\n");
  ASSERT_TRUE(first && second);
  fs::permissions(*first, fs::perms::owner_all);
  fs::permissions(*second, fs::perms::owner_all);
  auto found = findExecutable("tool", "/", {dir / "missing", dir / "a", dir / "b"});
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(*found, *first);
}

TEST(FindExecutableTest, NotFoundNamesTheDirectories) {
  auto found = findExecutable("no-such-tool-xyz", "/", {"/nonexistent-a", "/nonexistent-b"});
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(found.error().message.find("/nonexistent-a:/nonexistent-b"), std::string::npos);
}

TEST(FindExecutableTest, RelativePathsAreAgainstTheWorkingDirectory) {
  test::TempDir dir;
  auto script = dir.write("bin/run.sh", "#!/bin/sh\n");
  ASSERT_TRUE(script);
  fs::permissions(*script, fs::perms::owner_read);
  auto not_exec = findExecutable("./bin/run.sh", dir.path(), {});
  ASSERT_FALSE(not_exec);
  EXPECT_NE(not_exec.error().message.find("not an executable"), std::string::npos);
  fs::permissions(*script, fs::perms::owner_all);
  auto found = findExecutable("./bin/run.sh", dir.path(), {});
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(fs::weakly_canonical(*found), fs::weakly_canonical(*script));
}

TEST(VersionNameTest, AcceptsCommonFormsAndRejectsOthers) {
  for (const char* ok : {"v1.2.3", "1a2b3c4d", "2026-11-26.1", "v2_rc1"}) {
    EXPECT_TRUE(validateVersionName(ok)) << ok;
  }
  for (const char* bad : {"", ".hidden", "-x", "v1/2", "v 1", "../etc"}) {
    EXPECT_FALSE(validateVersionName(bad)) << bad;
  }
  EXPECT_FALSE(validateVersionName(std::string(129, 'a')));
}

TEST(RotateLogTest, RotatesAboveTheLimitKeepingKFiles) {
  test::TempDir dir;
  const auto log = dir / "app.log";
  auto write = [&](const std::string& text) {
    std::ofstream out(log, std::ios::app);
    out << text;
  };
  write("first-");
  auto rotated = rotateLogIfLarger(log, 100, 2);
  ASSERT_TRUE(rotated);
  EXPECT_FALSE(*rotated);  // under the limit
  for (int round = 0; round < 3; ++round) {
    write(std::string(150, static_cast<char>('a' + round)));
    rotated = rotateLogIfLarger(log, 100, 2);
    ASSERT_TRUE(rotated);
    EXPECT_TRUE(*rotated);
    EXPECT_EQ(fs::file_size(log), 0u);
  }
  EXPECT_TRUE(fs::exists(dir / "app.log.1"));
  EXPECT_TRUE(fs::exists(dir / "app.log.2"));
  EXPECT_FALSE(fs::exists(dir / "app.log.3"));
  auto newest = test::readFile(dir / "app.log.1");
  ASSERT_TRUE(newest);
  EXPECT_EQ(*newest, std::string(150, 'c'));
  auto older = test::readFile(dir / "app.log.2");
  ASSERT_TRUE(older);
  EXPECT_EQ(*older, std::string(150, 'b'));
}

TEST(RotateLogTest, AWriterWithAppendKeepsWritingToTheSameName) {
  test::TempDir dir;
  const auto log = dir / "app.log";
  std::ofstream out(log, std::ios::app);  // like an instance holding O_APPEND
  out << std::string(200, 'x') << std::flush;
  ASSERT_TRUE(rotateLogIfLarger(log, 100, 1));
  out << "after" << std::flush;
  auto text = test::readFile(log);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "after");
}

TEST(ProcStatTest, ParsesFieldsAfterACommandWithParentheses) {
  const std::string line =
      "4242 (my (weird) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
      "1000000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto stat = parseProcStat(line);
  ASSERT_TRUE(stat) << stat.error().message;
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->pgrp, 4242);
  EXPECT_EQ(stat->start_ticks, 987654u);
  EXPECT_FALSE(parseProcStat("garbage"));
  EXPECT_FALSE(parseProcStat("1 (x) S 1 2"));
}

TEST(ProcStatTest, ReadsTheCurrentProcess) {
  auto stat = readProcStat(static_cast<int>(::getpid()));
  ASSERT_TRUE(stat) << stat.error().message;
  EXPECT_GT(stat->start_ticks, 0u);
  EXPECT_EQ(readProcStat(0).error().code, ErrorCode::NotFound);
}

TEST(FreePortTest, GivesALoopbackPort) {
  auto port = freeLoopbackPort();
  ASSERT_TRUE(port) << port.error().message;
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

}  // namespace
}  // namespace runway::runtime
