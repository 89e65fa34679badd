// runway(1) is generated from the command tree (`runway man`): every command the binary has gets
// a section with its options, and the text is valid roff (no line a stray control line, options
// spelt with \- so that they copy as ASCII hyphens).

#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/poll.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "test_paths.hpp"

namespace runway::test {
namespace {

using namespace std::chrono_literals;

struct Run {
  ExitStatus status;
  std::string out;
};

Run runRunway(std::vector<std::string> args) {
  SubprocessOptions o;
  o.argv = {binaryPath("runway").string()};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stdout_to = Output::pipe();
  o.stderr_to = Output::pipe();
  Run run;
  auto child = Subprocess::start(std::move(o));
  if (!child) return run;
  if (auto captured = child->readToEnd(deadlineIn(30s))) run.out = captured->out;
  if (auto st = child->waitExit(deadlineIn(10s))) run.status = *st;
  return run;
}

// The subcommands `runway --help` lists.
std::set<std::string> commands() {
  std::set<std::string> out;
  std::istringstream lines(runRunway({"--help"}).out);
  bool in = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in = true;
      continue;
    }
    // "  name   description"; a wrapped description starts with more spaces.
    if (!in || line.size() < 3 || line.compare(0, 2, "  ") != 0 || line[2] == ' ') continue;
    std::istringstream words(line);
    std::string name;
    words >> name;
    if (!name.empty()) out.insert(name);
  }
  return out;
}

TEST(ManPageTest, EveryCommandHasASectionWithItsOptions) {
  auto page = runRunway({"man"});
  ASSERT_TRUE(page.status.exitedWith(0)) << page.status.describe();
  EXPECT_NE(page.out.find(".TH RUNWAY 1 \"\" \"runway "), std::string::npos);
  const auto names = commands();
  ASSERT_GT(names.size(), 20u);
  for (const auto& name : names) {
    EXPECT_NE(page.out.find(".SS \"runway " + name + "\""), std::string::npos) << name;
  }
  // Nested commands and options, with their defaults.
  EXPECT_NE(page.out.find(".SS \"runway audit verify\""), std::string::npos);
  EXPECT_NE(page.out.find("\\fB\\-\\-listen\\fR \\fITEXT\\fR"), std::string::npos);
  EXPECT_NE(page.out.find("(default: 127.0.0.1:7400)"), std::string::npos);
  EXPECT_NE(page.out.find(".SH EXIT STATUS"), std::string::npos);
}

TEST(ManPageTest, TextLinesAreNotControlLines) {
  auto page = runRunway({"man"});
  std::istringstream lines(page.out);
  std::size_t n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    if (line.empty()) continue;
    if (line[0] == '\'') {
      EXPECT_EQ(n, 0u) << "line " << n << ": " << line;  // only the preprocessor hint
      continue;
    }
    if (line[0] != '.') continue;
    // A control line is one of the macros the generator writes.
    static const std::set<std::string> kMacros{".TH", ".SH", ".SS", ".TP", ".PP", ".\\\""};
    const auto macro = line.substr(0, line.find(' '));
    EXPECT_EQ(kMacros.count(macro), 1u) << "line " << n << ": " << line;
  }
}

}  // namespace
}  // namespace runway::test
