// `runway status --watch` on a terminal (tmux) and through a pipe during a production canary of
// examples/quickstart (its bakes shortened) under traffic; `runway logs` (tail, several files, -f across a rotation);
// `runway completion bash`.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/http.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "test_paths.hpp"

namespace runway {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct CliRun {
  test::ExitStatus status;
  std::string out;
  std::string err;
};

std::string binDir() { return test::binaryPath("runway").parent_path().string(); }

std::string pathWithBin() {
  const char* path = std::getenv("PATH");
  return binDir() + ":" + (path != nullptr ? path : "/usr/bin:/bin");
}

test::SubprocessOptions runwayOptions(std::vector<std::string> args) {
  test::SubprocessOptions o;
  o.argv.push_back(test::binaryPath("runway").string());
  for (auto& a : args) o.argv.push_back(std::move(a));
  o.env = {{"PATH", pathWithBin()}};
  o.unset_env = {"RUNWAY_SERVER", "RUNWAY_TOKEN"};
  o.stdout_to = test::Output::pipe();
  o.stderr_to = test::Output::pipe();
  return o;
}

CliRun finish(test::Subprocess& child, std::chrono::seconds limit = 120s) {
  CliRun run;
  auto captured = child.readToEnd(test::deadlineIn(limit));
  if (captured) {
    run.out = captured->out;
    run.err = captured->err;
  }
  if (auto st = child.waitExit(test::deadlineIn(10s))) run.status = *st;
  return run;
}

CliRun runway(std::vector<std::string> args) {
  CliRun run;
  auto child = test::Subprocess::start(runwayOptions(std::move(args)));
  if (!child) {
    run.err = child.error().message;
    return run;
  }
  return finish(*child);
}

CliRun command(std::vector<std::string> argv) {
  test::SubprocessOptions o;
  o.argv = std::move(argv);
  o.env = {{"PATH", pathWithBin()}};
  o.stdout_to = test::Output::pipe();
  o.stderr_to = test::Output::pipe();
  CliRun run;
  auto child = test::Subprocess::start(std::move(o));
  if (!child) {
    run.err = child.error().message;
    return run;
  }
  return finish(*child, 30s);
}

std::string describe(const CliRun& r) {
  return r.status.describe() + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---- a real server on the quickstart ---------------------------------------------------------

class CliWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The quickstart with its bakes shortened (the canary's pauses 10s/10s/5s -> 5s/5s/2s,
    // staging's verification 10s -> 3s): the same story, half the wait. Each change must find its
    // text, so a change to the example shows here. The analysis keeps the example's 2 s: measured
    // every second, its fourth measurement came 4 s into the canary, and on a loaded machine a
    // service's 10 % had sometimes seen no request by then (inconclusive four times: paused for
    // a person, as it should be, and the test failed).
    auto example = test::readFile(std::string(RUNWAY_SOURCE_DIR) + "/examples/quickstart/runway.yaml");
    ASSERT_TRUE(example) << example.error().message;
    std::string config = *example;
    const auto shorten = [&](const std::string& from, const std::string& to, int times) {
      int replaced = 0;
      for (auto at = config.find(from); at != std::string::npos; at = config.find(from, at + to.size())) {
        config.replace(at, from.size(), to);
        ++replaced;
      }
      EXPECT_EQ(replaced, times) << from;
    };
    shorten("pause: { duration: 10s }", "pause: { duration: 5s }", 2);
    shorten("pause: { duration: 5s }\n    analysis", "pause: { duration: 2s }\n    analysis", 1);
    shorten("verification: 10s", "verification: 3s", 1);
    shorten("scaleDownDelay: 5s", "scaleDownDelay: 1s", 1);
    std::ofstream(tmp_ / "runway.yaml") << config;
    test::SubprocessOptions o;
    o.argv = {test::binaryPath("runway").string(), "serve", "--config", (tmp_ / "runway.yaml").string(), "--data",
              data_.string(), "--listen", "127.0.0.1:0"};
    o.env = {{"PATH", pathWithBin()}};
    o.stdout_to = test::Output::pipe();
    o.stderr_to = test::Output::file(tmp_ / "serve.log");
    auto child = test::Subprocess::start(std::move(o));
    ASSERT_TRUE(child) << child.error().message;
    server_.emplace(std::move(*child));
    auto line = server_->readLineMatching(R"(runway serve: listening on (http://\S+))", test::deadlineIn(60s));
    ASSERT_TRUE(line) << line.error().message << "\n" << log();
    url_ = (*line)[1];
  }

  void TearDown() override {
    stopTraffic();
    if (!server_) return;
    auto down = runway({"down", "--data", data_.string()});
    EXPECT_TRUE(down.status.exitedWith(0)) << describe(down) << "\n" << log();
    auto st = server_->waitExit(test::deadlineIn(60s));
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_TRUE(st->exitedWith(0)) << st->describe() << "\n" << log();
  }

  std::string log() const {
    auto l = test::readFile(tmp_ / "serve.log");
    return l ? *l : "";
  }

  std::vector<std::string> withServer(std::vector<std::string> args) const {
    args.insert(args.end(), {"--server", url_, "--data", data_.string()});
    return args;
  }

  CliRun cli(std::vector<std::string> args) { return runway(withServer(std::move(args))); }

  // Requests to every service address of every environment (from GET /api/v1/environments,
  // refreshed every second), as the quickstart's synthetic users do: analysis needs traffic.
  // Three clients, each going through the list from its own place: on a loaded machine a request
  // that takes seconds holds up one client, not all the traffic (with one client, a canary's 10 %
  // of one service once saw no request for a whole 10 s window, and its analysis went
  // inconclusive).
  void startTraffic() {
    auto token = test::readFile(data_ / "admin.token");
    ASSERT_TRUE(token) << token.error().message;
    std::string t = *token;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    constexpr std::size_t kClients = 3;
    for (std::size_t first = 0; first < kClients; ++first) {
      traffic_.emplace_back([this, t, first] { sendTraffic(t, first); });
    }
  }

  void sendTraffic(const std::string& t, std::size_t first) {
    std::vector<std::string> urls;
    auto refreshed = std::chrono::steady_clock::time_point{};
    while (!stop_traffic_) {
      if (std::chrono::steady_clock::now() - refreshed > 1s) {
        refreshed = std::chrono::steady_clock::now();
        auto r = test::httpRequest(url_ + "/api/v1/environments", "GET", "", {{"Authorization", "Bearer " + t}});
        if (r && r->status == 200) {
          json::error_code ec;
          auto v = json::parse(r->body, ec);
          if (!ec) {
            urls.clear();
            for (const auto& e : v.at("environments").as_array()) {
              for (const auto& s : e.at("services").as_array()) {
                if (s.at("address").is_string()) {
                  urls.push_back("http://" + std::string(s.at("address").as_string()) + "/api/leads");
                }
              }
            }
          }
        }
      }
      for (std::size_t i = 0; i < urls.size() && !stop_traffic_; ++i) {
        (void)test::httpGet(urls[(first + i) % urls.size()], 2s);
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  void stopTraffic() {
    stop_traffic_ = true;
    for (auto& thread : traffic_) {
      if (thread.joinable()) thread.join();
    }
    traffic_.clear();
  }

  void deployWait(const std::string& env, const std::string& version) {
    auto d = cli({"deploy", env, version, "--wait", "--timeout", "120s"});
    ASSERT_TRUE(d.status.exitedWith(0)) << env << " " << version << ": " << describe(d) << "\n" << log();
  }

  test::TempDir tmp_{"runway-cli-watch"};
  std::filesystem::path data_ = tmp_ / "data";
  std::optional<test::Subprocess> server_;
  std::string url_;
  std::vector<std::thread> traffic_;
  std::atomic<bool> stop_traffic_{false};
};

// tmux on its own socket, so that nothing else's sessions are touched.
struct Tmux {
  std::string socket = "runway-cli-watch-" + std::to_string(::getpid());
  ~Tmux() { command({"/usr/bin/tmux", "-L", socket, "kill-server"}); }
  CliRun run(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/tmux", "-L", socket});
    return command(std::move(args));
  }
  std::string capture() { return run({"capture-pane", "-p", "-t", "watch"}).out; }
};

TEST_F(CliWatchTest, WatchShowsTheCanaryOnATerminalAndAsTimestampedLinesThroughAPipe) {
  startTraffic();
  for (const char* v : {"v1.0.0", "v1.1.0"}) {
    deployWait("development", v);
    deployWait("staging", v);
    if (std::string(v) == "v1.0.0") deployWait("production", v);
  }

  // The terminal: runway in a tmux pane 200x50.
  Tmux tmux;
  std::string cmdline = test::binaryPath("runway").string() + " status production --watch --until-done --server " +
                        url_ + " --data " + data_.string() + "; echo EXIT=$?; sleep 120";
  auto session = tmux.run({"new-session", "-d", "-x", "200", "-y", "50", "-s", "watch", cmdline});
  ASSERT_TRUE(session.status.exitedWith(0)) << describe(session);

  // The pipe: the same watch with stdout not a terminal.
  auto piped = test::Subprocess::start(runwayOptions(withServer({"status", "production", "--watch", "--until-done",
                                                                  "--interval", "250ms"})));
  ASSERT_TRUE(piped) << piped.error().message;
  // Both show the state before the deployment first; on a loaded machine either can take a while
  // to print its first line, and a deployment started before it would make that line wrong.
  auto before = piped->readLineMatching("current release v1\\.0\\.0  no active deployment", test::deadlineIn(30s));
  ASSERT_TRUE(before) << before.error().message;
  ASSERT_TRUE(test::pollUntil([&] { return contains(tmux.capture(), "no active deployment"); },
                              test::deadlineIn(30s), 200ms))
      << tmux.capture();

  auto deploy = cli({"deploy", "production", "v1.1.0"});
  ASSERT_TRUE(deploy.status.exitedWith(0)) << describe(deploy);

  // On screen: the steps with their state, the canary's weights, the analysis value against its
  // condition, approvals and the bake.
  const std::regex analysis(R"(error-rate@api [0-9][0-9.e+-]* Successful \(fails when result > 0\.05\))");
  std::string screen;
  const bool seen = test::pollUntil(
      [&] {
        screen = tmux.capture();
        return contains(screen, "weights of v1.1.0: api=10% backend=10% frontend=10%") &&
               contains(screen, "1. setWeight  10%              completed") &&
               contains(screen, ">  2. pause      5s               running") &&
               contains(screen, "3. setWeight  50%              pending") && contains(screen, "bake: baking ") &&
               contains(screen, "pending approvals: -") && std::regex_search(screen, analysis);
      },
      test::deadlineIn(60s), 200ms);
  EXPECT_TRUE(seen) << screen << "\n" << log();
  // Redrawn in place: one header on the screen, not one per poll.
  std::size_t headers = 0;
  for (std::size_t p = screen.find("--watch, every"); p != std::string::npos; p = screen.find("--watch, every", p + 1)) {
    ++headers;
  }
  EXPECT_EQ(headers, 1U) << screen;
  EXPECT_TRUE(test::pollUntil([&] { return contains(tmux.capture(), "weights of v1.1.0: api=50%"); },
                              test::deadlineIn(60s), 200ms))
      << tmux.capture();

  // --until-done: both end with the deployment, exit 0 for Succeeded.
  EXPECT_TRUE(test::pollUntil([&] { return contains(tmux.capture(), "EXIT=0"); }, test::deadlineIn(90s), 250ms))
      << tmux.capture() << "\n" << log();
  auto lines = finish(*piped);
  ASSERT_TRUE(lines.status.exitedWith(0)) << describe(lines);
  EXPECT_TRUE(contains(lines.err, "in production succeeded")) << describe(lines);
  const std::regex stamped(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  production  )");
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < lines.out.size();) {
    auto nl = lines.out.find('\n', pos);
    if (nl == std::string::npos) nl = lines.out.size();
    out.push_back(lines.out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_GE(out.size(), 4U) << lines.out;
  for (const auto& l : out) EXPECT_TRUE(std::regex_search(l, stamped)) << l;
  EXPECT_TRUE(contains(out.front(), "current release v1.0.0  no active deployment")) << lines.out;
  // The last line is the state the deployment ended in: Succeeded, or already the new current
  // release when the environment had released its slot by then.
  EXPECT_TRUE(contains(out.back(), "current release v1.1.0  no active deployment") ||
              contains(out.back(), " v1.1.0 Succeeded  steps 6/6 done"))
      << lines.out;
  auto index = [&](const std::string& part) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (contains(out[i], part)) return static_cast<int>(i);
    }
    return -1;
  };
  const int w10 = index("Progressing  step 2/6 pause 5s  weights api=10% backend=10% frontend=10%");
  const int w50 = index("step 4/6 pause 5s  weights api=50% backend=50% frontend=50%");
  const int w100 = index("step 6/6 pause 2s  weights api=100% backend=100% frontend=100%");
  EXPECT_GT(w10, 0) << lines.out;
  EXPECT_GT(w50, w10) << lines.out;
  EXPECT_GT(w100, w50) << lines.out;
  EXPECT_TRUE(contains(lines.out, "(fails when result > 0.05)")) << lines.out;
  // Only changes: no two consecutive lines alike once the timestamp is cut off.
  for (std::size_t i = 1; i < out.size(); ++i) EXPECT_NE(out[i].substr(24), out[i - 1].substr(24)) << lines.out;
}

TEST_F(CliWatchTest, WatchEndsWithExitZeroOnSigint) {
  auto child = test::Subprocess::start(runwayOptions(withServer({"status", "--watch"})));
  ASSERT_TRUE(child) << child.error().message;
  auto first = child->readLineMatching("development  current release -  no active deployment", test::deadlineIn(30s));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(child->signal(SIGINT));
  auto st = child->waitExit(test::deadlineIn(10s));
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_TRUE(st->exitedWith(0)) << st->describe();

  auto bad = cli({"status", "--until-done"});
  EXPECT_TRUE(bad.status.exitedWith(2)) << describe(bad);
  auto interval = cli({"status", "--watch", "--interval", "5ms"});
  EXPECT_TRUE(interval.status.exitedWith(2)) << describe(interval);
}

TEST_F(CliWatchTest, LogsPrintsTheRunningInstancesOutput) {
  deployWait("development", "v1.0.0");
  auto logs = cli({"logs", "development", "api"});
  ASSERT_TRUE(logs.status.exitedWith(0)) << describe(logs);
  // One instance: no prefix; the demo app's own startup line.
  EXPECT_TRUE(contains(logs.out, "runway-demo-app: service=api version=v1.0.0")) << logs.out;
  EXPECT_FALSE(contains(logs.out, "[api ")) << logs.out;
  auto one = cli({"logs", "development", "api", "--tail", "1"});
  ASSERT_TRUE(one.status.exitedWith(0)) << describe(one);
  EXPECT_EQ(std::count(one.out.begin(), one.out.end(), '\n'), 1) << one.out;

  // A version that no longer runs: its file under DATA/logs.
  deployWait("development", "v1.1.0");
  auto old = cli({"logs", "development", "backend", "--version", "v1.0.0"});
  ASSERT_TRUE(old.status.exitedWith(0)) << describe(old);
  EXPECT_TRUE(contains(old.out, "service=backend version=v1.0.0")) << old.out;

  auto none = cli({"logs", "development", "api", "--version", "v9.9.9"});
  EXPECT_TRUE(none.status.exitedWith(1)) << describe(none);
  auto unknown = cli({"logs", "development", "nope"});
  EXPECT_TRUE(unknown.status.exitedWith(2)) << describe(unknown);
  EXPECT_TRUE(contains(unknown.err, "no service \"nope\"")) << describe(unknown);
}

// ---- without a server: the files a stopped server left behind ---------------------------------

void append(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::app | std::ios::binary);
  out << text;
}

TEST(CliLogsTest, SeveralFilesArePrefixedAndFollowSurvivesRotation) {
  test::TempDir tmp{"runway-cli-logs"};
  const auto dir = tmp.path() / "data" / "logs" / "production" / "api";
  std::filesystem::create_directories(dir);
  std::string early;
  for (int i = 1; i <= 150; ++i) early += "line " + std::to_string(i) + "\n";
  append(dir / "v1.0.0-0.log", early);
  append(dir / "v1.1.0-0.log", "new build up\n");
  append(dir / "v1.1.0-0.log.1", "rotated earlier, not shown\n");
  auto port = test::freeLoopbackPort();
  ASSERT_TRUE(port) << port.error().message;
  // Nothing listens on `port`: the server is down, the files are read directly.
  const std::vector<std::string> where = {"--server", "http://127.0.0.1:" + std::to_string(*port), "--data",
                                          (tmp.path() / "data").string()};
  auto args = [&](std::vector<std::string> a) {
    a.insert(a.end(), where.begin(), where.end());
    return a;
  };

  auto all = runway(args({"logs", "production", "api"}));
  ASSERT_TRUE(all.status.exitedWith(0)) << describe(all);
  EXPECT_TRUE(contains(all.out, "[api v1.0.0#0] line 51\n")) << all.out;
  EXPECT_TRUE(contains(all.out, "[api v1.0.0#0] line 150\n")) << all.out;
  EXPECT_FALSE(contains(all.out, "line 50\n")) << all.out;  // --tail 100 by default
  EXPECT_TRUE(contains(all.out, "[api v1.1.0#0] new build up\n")) << all.out;
  EXPECT_FALSE(contains(all.out, "rotated earlier")) << all.out;
  EXPECT_TRUE(contains(all.err, "server not reachable")) << all.err;

  auto tail = runway(args({"logs", "production", "api", "--version", "v1.0.0", "--tail", "3"}));
  ASSERT_TRUE(tail.status.exitedWith(0)) << describe(tail);
  EXPECT_EQ(tail.out, "line 148\nline 149\nline 150\n");

  // -f: appended lines, then a rotation as the runtime does it (copy to .1, truncate), with a
  // line written just before the copy, then lines in the emptied file.
  auto follow =
      test::Subprocess::start(runwayOptions(args({"logs", "production", "api", "--version", "v1.0.0", "-n", "1", "-f"})));
  ASSERT_TRUE(follow) << follow.error().message;
  ASSERT_TRUE(follow->readLineMatching("^line 150$", test::deadlineIn(10s)));
  append(dir / "v1.0.0-0.log", "after 1\n");
  ASSERT_TRUE(follow->readLineMatching("^after 1$", test::deadlineIn(10s)));
  append(dir / "v1.0.0-0.log", "before rotation\n");
  std::filesystem::copy_file(dir / "v1.0.0-0.log", dir / "v1.0.0-0.log.1",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(dir / "v1.0.0-0.log", 0);
  append(dir / "v1.0.0-0.log", "after rotation\n");
  auto seen = follow->readLineMatching("^after rotation$", test::deadlineIn(10s));
  ASSERT_TRUE(seen) << seen.error().message;
  ASSERT_TRUE(follow->signal(SIGINT));
  auto rest = finish(*follow, 10s);
  EXPECT_TRUE(rest.status.exitedWith(0)) << describe(rest);
}

TEST(CliCompletionTest, BashScriptRegistersAndCompletesFromTheCommandTree) {
  const std::string bin = test::binaryPath("runway").string();
  auto script = runway({"completion", "bash"});
  ASSERT_TRUE(script.status.exitedWith(0)) << describe(script);
  EXPECT_TRUE(contains(script.out, "deploy")) << script.out;
  EXPECT_TRUE(contains(script.out, "rollback")) << script.out;
  EXPECT_TRUE(contains(script.out, "--wait")) << script.out;

  auto registered = command({"/bin/bash", "-c", "source <(" + bin + " completion bash) && complete -p runway"});
  ASSERT_TRUE(registered.status.exitedWith(0)) << describe(registered);
  EXPECT_TRUE(contains(registered.out, "-F _runway runway")) << registered.out;

  const std::string probe = "source <(" + bin + " completion bash); "
                            "COMP_WORDS=(runway rol); COMP_CWORD=1; _runway; echo \"1:${COMPREPLY[*]}\"; "
                            "COMP_WORDS=(runway deploy --wa); COMP_CWORD=2; _runway; echo \"2:${COMPREPLY[*]}\"; "
                            "COMP_WORDS=(runway audit ve); COMP_CWORD=2; _runway; echo \"3:${COMPREPLY[*]}\"; "
                            "COMP_WORDS=(runway status --wat); COMP_CWORD=2; _runway; echo \"4:${COMPREPLY[*]}\"";
  auto completed = command({"/bin/bash", "-c", probe});
  ASSERT_TRUE(completed.status.exitedWith(0)) << describe(completed);
  EXPECT_TRUE(contains(completed.out, "1:rollback\n")) << completed.out;
  EXPECT_TRUE(contains(completed.out, "2:--wait\n")) << completed.out;
  EXPECT_TRUE(contains(completed.out, "3:verify\n")) << completed.out;
  EXPECT_TRUE(contains(completed.out, "4:--watch\n")) << completed.out;

  auto zsh = runway({"completion", "zsh"});
  ASSERT_TRUE(zsh.status.exitedWith(0)) << describe(zsh);
  EXPECT_TRUE(contains(zsh.out, "bashcompinit")) << zsh.out;
  auto fish = runway({"completion", "fish"});
  EXPECT_TRUE(fish.status.exitedWith(2)) << describe(fish);
}

}  // namespace
}  // namespace runway
