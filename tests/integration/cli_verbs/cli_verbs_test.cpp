// Drives the runway client verbs against a real `runway serve` (examples/quickstart, the demo
// app as its three services, everything on loopback) and checks exit codes and -o json output.

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/http.hpp"
#include "support/process.hpp"
#include "support/net.hpp"
#include "support/poll.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
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

// The demo app is started by name from the quickstart config: put the build's bin/ on PATH.
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

CliRun finish(test::Subprocess& child) {
  CliRun run;
  auto captured = child.readToEnd(test::deadlineIn(120s));
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

std::string describe(const CliRun& r) {
  return r.status.describe() + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

json::value parse(const std::string& s) {
  json::error_code ec;
  auto v = json::parse(s, ec);
  if (ec) return nullptr;
  return v;
}

std::string str(const json::value& v, const char* key) {
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_string()) return "";
  return std::string(v.at(key).get_string());
}

class CliVerbsTest : public ::testing::Test {
 protected:
  // The configuration the server runs; the quickstart unless a test says otherwise.
  virtual std::string configPath() { return std::string(RUNWAY_SOURCE_DIR) + "/examples/quickstart/runway.yaml"; }
  // More `runway serve` flags.
  virtual std::vector<std::string> serveArgs() { return {}; }

  void SetUp() override {
    const std::string config = configPath();
    ASSERT_FALSE(config.empty());
    test::SubprocessOptions o;
    o.argv = {test::binaryPath("runway").string(),
              "serve",
              "--config",
              config,
              "--data",
              data_.string(),
              "--listen",
              "127.0.0.1:0"};
    for (auto& a : serveArgs()) o.argv.push_back(std::move(a));
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

  // `runway ARGS --server URL --data DATA`
  CliRun cli(std::vector<std::string> args) {
    args.insert(args.end(), {"--server", url_, "--data", data_.string()});
    return runway(std::move(args));
  }

  std::vector<std::string> withServer(std::vector<std::string> args) const {
    args.insert(args.end(), {"--server", url_, "--data", data_.string()});
    return args;
  }

  json::value statusOf(const std::string& env) {
    auto r = cli({"status", env, "-o", "json"});
    EXPECT_TRUE(r.status.exitedWith(0)) << describe(r);
    return parse(r.out);
  }

  test::TempDir tmp_{"runway-cli-verbs"};
  std::filesystem::path data_ = tmp_ / "data";
  std::optional<test::Subprocess> server_;
  std::string url_;
};

TEST_F(CliVerbsTest, DeployWaitsForSuccessAndStatusAndHistoryShowIt) {
  auto deploy = cli({"deploy", "development", "v1.0.0", "--wait", "--timeout", "90s", "-o", "json",
                     "--reason", "first release"});
  ASSERT_TRUE(deploy.status.exitedWith(0)) << describe(deploy);
  // stdout carries the final deployment document; progress lines go to stderr.
  auto d = parse(deploy.out);
  ASSERT_TRUE(d.is_object()) << describe(deploy);
  EXPECT_EQ(str(d, "phase"), "Succeeded");
  EXPECT_EQ(str(d, "version"), "v1.0.0");
  EXPECT_EQ(str(d, "environment"), "development");
  EXPECT_EQ(str(d, "reason"), "first release");
  const std::string id = str(d, "id");
  ASSERT_EQ(id.rfind("dep-", 0), 0U) << id;
  EXPECT_NE(deploy.err.find("Succeeded"), std::string::npos) << deploy.err;

  auto env = statusOf("development");
  EXPECT_EQ(str(env, "name"), "development");
  EXPECT_EQ(str(env, "currentRelease"), "v1.0.0");
  ASSERT_TRUE(env.at("services").is_array());
  EXPECT_EQ(env.at("services").get_array().size(), 3U);
  for (const auto& s : env.at("services").get_array()) {
    EXPECT_EQ(s.at("traffic").at("v1.0.0").to_number<double>(), 100.0) << json::serialize(s);
    EXPECT_FALSE(s.at("instances").get_array().empty()) << json::serialize(s);
  }

  auto all = cli({"status", "-o", "json"});
  ASSERT_TRUE(all.status.exitedWith(0)) << describe(all);
  auto envs = parse(all.out);
  ASSERT_TRUE(envs.is_object()) << all.out;
  EXPECT_EQ(envs.at("environments").get_array().size(), 3U);

  auto table = cli({"status", "development"});
  ASSERT_TRUE(table.status.exitedWith(0)) << describe(table);
  EXPECT_NE(table.out.find("current release:   v1.0.0"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("v1.0.0=100%"), std::string::npos) << table.out;

  auto history = cli({"history", "development", "--limit", "5", "-o", "json"});
  ASSERT_TRUE(history.status.exitedWith(0)) << describe(history);
  auto h = parse(history.out);
  ASSERT_TRUE(h.is_object()) << history.out;
  EXPECT_EQ(str(h, "environment"), "development");
  ASSERT_EQ(h.at("deployments").get_array().size(), 1U) << history.out;
  EXPECT_EQ(str(h.at("deployments").get_array()[0], "id"), id);
  EXPECT_EQ(str(h.at("deployments").get_array()[0], "phase"), "Succeeded");

  auto yaml = cli({"status", "--deployment", id, "-o", "yaml"});
  ASSERT_TRUE(yaml.status.exitedWith(0)) << describe(yaml);
  EXPECT_NE(yaml.out.find("phase: \"Succeeded\""), std::string::npos) << yaml.out;
  EXPECT_NE(yaml.out.find("id: \"" + id + "\""), std::string::npos) << yaml.out;
}

// Issue 25: the release evidence of a deploy request (--commit, --repo, --attach KIND=FILE; the
// CLI sends the files' contents) is stored with the deployment, shown by `runway status` and
// the API, named in the audit record; malformed evidence is refused before anything is created.
TEST_F(CliVerbsTest, DeployCarriesReleaseEvidenceThatStatusAndTheApiShow) {
  const std::string sha = "0123456789abcdef0123456789abcdef01234567";
  const std::string trivy = R"({"SchemaVersion": 2, "Results": []})";
  const std::string junit = R"(<testsuite name="unit" tests="2" failures="0"><testcase name="a"/><testcase name="b"/></testsuite>)";
  std::ofstream(tmp_ / "trivy.json") << trivy;
  std::ofstream(tmp_ / "junit.xml") << junit;
  auto deploy = cli({"deploy", "development", "v1.0.0", "--commit", sha, "--repo", "acme/shop", "--attach",
                     "vulnerabilities=" + (tmp_ / "trivy.json").string(), "--attach",
                     "tests=" + (tmp_ / "junit.xml").string(), "-o", "json"});
  ASSERT_TRUE(deploy.status.exitedWith(0)) << describe(deploy);
  const std::string id = str(parse(deploy.out), "deployment");
  ASSERT_FALSE(id.empty()) << deploy.out;

  auto shown = cli({"status", "--deployment", id, "-o", "json"});
  ASSERT_TRUE(shown.status.exitedWith(0)) << describe(shown);
  auto d = parse(shown.out);
  ASSERT_TRUE(d.is_object()) << shown.out;
  const auto& evidence = d.at("evidence");
  EXPECT_EQ(str(evidence, "commit"), sha);
  EXPECT_EQ(str(evidence, "repository"), "acme/shop");
  const auto& attached = evidence.at("attachments").as_array();
  ASSERT_EQ(attached.size(), 2u) << shown.out;
  EXPECT_EQ(str(attached[0], "kind"), "vulnerabilities");
  EXPECT_EQ(str(attached[0], "name"), "trivy.json");
  EXPECT_EQ(attached[0].at("bytes").to_number<std::size_t>(), trivy.size());
  EXPECT_EQ(str(attached[1], "kind"), "tests");
  EXPECT_FALSE(attached[1].as_object().contains("content")) << "contents only through /evidence";
  // The audit record of the request names the evidence.
  const auto& first = d.at("events").as_array().at(0);
  EXPECT_EQ(str(first, "kind"), "deployment.requested");
  EXPECT_EQ(str(first.at("data"), "commit"), sha);
  EXPECT_EQ(str(first.at("data").at("attachments"), "tests"), "junit.xml");

  auto table = cli({"status", "--deployment", id});
  ASSERT_TRUE(table.status.exitedWith(0)) << describe(table);
  EXPECT_NE(table.out.find("commit:   " + sha + " (acme/shop)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("attached: tests junit.xml (" + std::to_string(junit.size()) + " bytes)"), std::string::npos)
      << table.out;

  auto token = test::readFile(data_ / "admin.token");
  ASSERT_TRUE(token);
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
  auto full = test::httpRequest(url_ + "/api/v1/deployments/" + id + "/evidence", "GET", "",
                                {{"Authorization", "Bearer " + *token}});
  ASSERT_TRUE(full) << full.error().message;
  ASSERT_EQ(full->status, 200) << full->body;
  auto e = parse(full->body);
  EXPECT_EQ(str(e, "deployment"), id);
  EXPECT_EQ(str(e.at("attachments").at(1), "content"), junit);

  // Refused locally (exit 2, the flag named) or by the server (400 → exit 2), nothing created.
  auto unknown = cli({"deploy", "development", "v1.0.1", "--attach", "sbom=" + (tmp_ / "trivy.json").string()});
  EXPECT_TRUE(unknown.status.exitedWith(2)) << describe(unknown);
  EXPECT_NE(unknown.err.find("unknown kind \"sbom\""), std::string::npos) << unknown.err;
  auto missing = cli({"deploy", "development", "v1.0.1", "--attach", "tests=" + (tmp_ / "nope.xml").string()});
  EXPECT_TRUE(missing.status.exitedWith(2)) << describe(missing);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("nope.xml"), std::string::npos) << missing.err;
  auto bad_sha = cli({"deploy", "development", "v1.0.1", "--commit", "HEAD"});
  EXPECT_TRUE(bad_sha.status.exitedWith(2)) << describe(bad_sha);
  EXPECT_NE(bad_sha.err.find("commit: \"HEAD\" is not a commit SHA"), std::string::npos) << bad_sha.err;
  auto bad_repo = cli({"deploy", "development", "v1.0.1", "--repo", "shop"});
  EXPECT_TRUE(bad_repo.status.exitedWith(2)) << describe(bad_repo);
  EXPECT_NE(bad_repo.err.find("repository: \"shop\" is not OWNER/NAME"), std::string::npos) << bad_repo.err;
  auto history = cli({"history", "development", "-o", "json"});
  ASSERT_TRUE(history.status.exitedWith(0)) << describe(history);
  EXPECT_EQ(parse(history.out).at("deployments").as_array().size(), 1u) << history.out;
}

TEST_F(CliVerbsTest, ProductionRefusesAVersionThatDidNotSucceedInStaging) {
  auto r = cli({"deploy", "production", "v9.9.9"});
  EXPECT_TRUE(r.status.exitedWith(1)) << describe(r);
  EXPECT_NE(r.err.find("has not succeeded in staging"), std::string::npos) << describe(r);
  auto env = statusOf("production");
  EXPECT_EQ(str(env, "currentRelease"), "");
}

TEST_F(CliVerbsTest, BadTokenExitsThreeAndUnknownFlagExitsTwoWithASuggestion) {
  auto r = runway({"status", "--server", url_, "--token", "rwy_not-a-token"});
  EXPECT_TRUE(r.status.exitedWith(3)) << describe(r);
  EXPECT_NE(r.err.find("token"), std::string::npos) << describe(r);

  auto u = cli({"deploy", "development", "v1.0.0", "--wiat"});
  EXPECT_TRUE(u.status.exitedWith(2)) << describe(u);
  EXPECT_NE(u.err.find("unknown flag \"--wiat\""), std::string::npos) << describe(u);
  EXPECT_NE(u.err.find("did you mean \"--wait\"?"), std::string::npos) << describe(u);

  auto bad = cli({"status", "-o", "xml"});
  EXPECT_TRUE(bad.status.exitedWith(2)) << describe(bad);
}

TEST_F(CliVerbsTest, RollbackAsksForYesWithoutATerminalThenGoesBack) {
  for (const char* v : {"v1.0.0", "v1.1.0"}) {
    auto d = cli({"deploy", "development", v, "--wait", "--timeout", "90s"});
    ASSERT_TRUE(d.status.exitedWith(0)) << describe(d);
  }
  // stdin is /dev/null: no one to ask.
  auto refused = cli({"rollback", "development"});
  EXPECT_TRUE(refused.status.exitedWith(2)) << describe(refused);
  EXPECT_NE(refused.err.find("--yes"), std::string::npos) << describe(refused);
  EXPECT_EQ(str(statusOf("development"), "currentRelease"), "v1.1.0");

  auto rb = cli({"rollback", "development", "--yes", "--reason", "bad release", "-o", "json"});
  ASSERT_TRUE(rb.status.exitedWith(0)) << describe(rb);
  auto a = parse(rb.out);
  EXPECT_EQ(str(a, "from"), "v1.1.0") << rb.out;
  EXPECT_EQ(str(a, "to"), "v1.0.0") << rb.out;
  const std::string id = str(a, "deployment");

  // The first rollback ends (succeeded, or superseded by the second one).
  bool ended = test::pollUntil(
      [&] {
        auto s = cli({"status", "--deployment", id, "-o", "json"});
        const auto phase = str(parse(s.out), "phase");
        return phase == "Succeeded";
      },
      test::deadlineIn(60s), 500ms);
  EXPECT_TRUE(ended);
  auto history = cli({"history", "development", "-o", "json"});
  ASSERT_TRUE(history.status.exitedWith(0)) << describe(history);
  bool found = false;
  const auto h = parse(history.out);
  ASSERT_TRUE(h.is_object() && h.at("deployments").is_array()) << history.out;
  for (const auto& d : h.at("deployments").get_array()) {
    if (str(d, "id") == id) {
      found = true;
      EXPECT_TRUE(d.at("rollback").as_bool());
      EXPECT_EQ(str(d, "reason"), "bad release");
    }
  }
  EXPECT_TRUE(found) << history.out;
  EXPECT_EQ(str(statusOf("development"), "currentRelease"), "v1.0.0");

  // --auto never asks either; the table form shows from -> to.
  auto again = cli({"rollback", "development", "v1.1.0", "--auto", "--reason", "it was fine"});
  ASSERT_TRUE(again.status.exitedWith(0)) << describe(again);
  EXPECT_NE(again.out.find("v1.0.0 \u2192 v1.1.0"), std::string::npos) << describe(again);
  EXPECT_NE(again.out.find("reason: it was fine"), std::string::npos) << describe(again);
}

TEST_F(CliVerbsTest, DeployWaitOnATerminalRedrawsALiveView) {
  auto dev = cli({"deploy", "development", "v1.0.0", "--wait", "--timeout", "90s"});
  ASSERT_TRUE(dev.status.exitedWith(0)) << describe(dev);
  // Staging's blue-green verification lasts 10 s: waiting 3 s sees several polls, each redrawn.
  std::string command = test::binaryPath("runway").string() + " deploy staging v1.0.0 --wait --timeout 3s";
  for (const auto& a : withServer({})) command += " " + a;
  test::SubprocessOptions o = runwayOptions({});
  o.argv = {"script", "-qec", command, "/dev/null"};
  auto child = test::Subprocess::start(std::move(o));
  ASSERT_TRUE(child) << child.error().message;
  auto r = finish(*child);
  EXPECT_TRUE(r.status.exitedWith(1)) << describe(r);
  // The view is redrawn in place: cursor up over the previous view, clear to the end.
  EXPECT_NE(r.out.find("\x1b[J"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("to staging (blueGreen)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("following for"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("api          new ready"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("timed out after 3s"), std::string::npos) << r.out;
}

TEST_F(CliVerbsTest, DeployWaitGivesUpAtItsTimeoutWithExitOne) {
  auto dev = cli({"deploy", "development", "v1.0.0", "--wait", "--timeout", "90s"});
  ASSERT_TRUE(dev.status.exitedWith(0)) << describe(dev);
  EXPECT_NE(dev.out.find("Succeeded"), std::string::npos) << describe(dev);
  // Staging is blue-green with a 10 s verification period: it cannot succeed within 1 s.
  auto r = cli({"deploy", "staging", "v1.0.0", "--wait", "--timeout", "1s"});
  EXPECT_TRUE(r.status.exitedWith(1)) << describe(r);
  EXPECT_NE(r.err.find("timed out after 1s"), std::string::npos) << describe(r);
  auto bad = cli({"deploy", "staging", "v1.0.0", "--wait", "--timeout", "soon"});
  EXPECT_TRUE(bad.status.exitedWith(2)) << describe(bad);
}

TEST_F(CliVerbsTest, DeployWaitExitsOneAndSaysWhyWhenTheDeploymentIsAborted) {
  auto dev = cli({"deploy", "development", "v1.0.0", "--wait", "--timeout", "90s"});
  ASSERT_TRUE(dev.status.exitedWith(0)) << describe(dev);
  auto waiting = test::Subprocess::start(
      runwayOptions(withServer({"deploy", "staging", "v1.0.0", "--wait", "--timeout", "120s"})));
  ASSERT_TRUE(waiting) << waiting.error().message;
  // The waiting client prints the deployment's first state, then it is aborted from outside.
  auto first = waiting->readLineMatching(R"(dep-\S+ v1\.0\.0  \w+)", test::deadlineIn(60s));
  ASSERT_TRUE(first) << first.error().message;
  bool active = test::pollUntil(
      [&] { return statusOf("staging").at("activeDeployment").is_object(); }, test::deadlineIn(30s), 200ms);
  ASSERT_TRUE(active);
  auto abort = cli({"abort", "staging", "--reason", "wrong day", "-o", "json"});
  ASSERT_TRUE(abort.status.exitedWith(0)) << describe(abort);
  EXPECT_EQ(str(parse(abort.out), "environment"), "staging") << abort.out;
  auto r = finish(*waiting);
  EXPECT_TRUE(r.status.exitedWith(1)) << describe(r);
  EXPECT_NE(r.err.find("ended"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("wrong day"), std::string::npos) << describe(r);
}

TEST_F(CliVerbsTest, RollbackOnATerminalAsksAndDoesNothingUnlessConfirmed) {
  for (const char* v : {"v1.0.0", "v1.1.0"}) {
    auto d = cli({"deploy", "development", v, "--wait", "--timeout", "90s"});
    ASSERT_TRUE(d.status.exitedWith(0)) << describe(d);
  }
  // script(1) (bsdutils, always installed) gives runway a pseudo-terminal; `answer` is typed.
  const auto onTerminal = [&](const std::string& answer) {
    auto typed = tmp_.write("answer-" + answer, answer + "\n");
    EXPECT_TRUE(typed) << typed.error().message;
    std::string command = test::binaryPath("runway").string() + " rollback development";
    for (const auto& a : withServer({})) command += " " + a;
    test::SubprocessOptions o = runwayOptions({});
    o.argv = {"script", "-qec", command, "/dev/null"};
    o.stdin_file = *typed;
    auto child = test::Subprocess::start(std::move(o));
    EXPECT_TRUE(child) << child.error().message;
    return finish(*child);
  };
  auto no = onTerminal("n");
  EXPECT_TRUE(no.status.exitedWith(1)) << describe(no);
  EXPECT_NE(no.out.find("Roll back development from v1.1.0 to the previous successful release? [y/N]"),
            std::string::npos)
      << describe(no);
  EXPECT_NE(no.out.find("cancelled"), std::string::npos) << describe(no);
  EXPECT_EQ(str(statusOf("development"), "currentRelease"), "v1.1.0");

  auto yes = onTerminal("y");
  EXPECT_TRUE(yes.status.exitedWith(0)) << describe(yes);
  EXPECT_NE(yes.out.find("v1.1.0 \u2192 v1.0.0"), std::string::npos) << describe(yes);
}

// The quickstart with an approval by a tech-lead required in development.
class CliApprovalTest : public CliVerbsTest {
 protected:
  std::string configPath() override {
    auto text = test::readFile(std::string(RUNWAY_SOURCE_DIR) + "/examples/quickstart/runway.yaml");
    if (!text) return "";
    const std::string anchor = "  strategy: rolling\n";
    const auto at = text->find(anchor);
    if (at == std::string::npos) return "";
    text->insert(at + anchor.size(), "  approvals:\n    roles: [tech-lead]\n");
    auto written = tmp_.write("runway.yaml", *text);
    return written ? written->string() : "";
  }

  std::string phaseOf(const std::string& id) { return str(deployment(id), "phase"); }
  json::value deployment(const std::string& id) {
    auto r = cli({"status", "--deployment", id, "-o", "json"});
    return parse(r.out);
  }
};

TEST_F(CliApprovalTest, ApproveByDeploymentIdAndRejectByEnvironment) {
  auto token = cli({"token", "create", "--name", "lee", "--role", "tech-lead", "-o", "json"});
  ASSERT_TRUE(token.status.exitedWith(0)) << describe(token);
  const std::string lead = str(parse(token.out), "token");
  ASSERT_FALSE(lead.empty()) << token.out;

  auto d = cli({"deploy", "development", "v1.0.0", "-o", "json"});
  ASSERT_TRUE(d.status.exitedWith(0)) << describe(d);
  const std::string id = str(parse(d.out), "deployment");
  ASSERT_TRUE(test::pollUntil([&] { return phaseOf(id) == "AwaitingApproval"; }, test::deadlineIn(30s), 200ms))
      << phaseOf(id);
  auto table = cli({"status", "--deployment", id});
  EXPECT_NE(table.out.find("pending approvals: tech-lead"), std::string::npos) << describe(table);

  auto approve = runway({"approve", id, "--as", "tech-lead", "--comment", "looks good", "--server", url_, "--token",
                         lead, "-o", "json"});
  ASSERT_TRUE(approve.status.exitedWith(0)) << describe(approve);
  auto after = parse(approve.out);
  EXPECT_EQ(str(after, "id"), id) << approve.out;
  EXPECT_TRUE(after.at("pendingApprovals").get_array().empty()) << approve.out;
  ASSERT_TRUE(test::pollUntil([&] { return phaseOf(id) == "Succeeded"; }, test::deadlineIn(60s), 200ms))
      << phaseOf(id);
  auto decisions = deployment(id).at("decisions").get_array();
  ASSERT_EQ(decisions.size(), 1U);
  EXPECT_EQ(str(decisions[0], "comment"), "looks good");
  EXPECT_EQ(str(decisions[0], "role"), "tech-lead");

  auto second = cli({"deploy", "development", "v1.1.0", "-o", "json"});
  ASSERT_TRUE(second.status.exitedWith(0)) << describe(second);
  const std::string id2 = str(parse(second.out), "deployment");
  ASSERT_TRUE(test::pollUntil([&] { return phaseOf(id2) == "AwaitingApproval"; }, test::deadlineIn(30s), 200ms));
  auto reject = runway({"reject", "development", "--comment", "not today", "--server", url_, "--token", lead});
  ASSERT_TRUE(reject.status.exitedWith(0)) << describe(reject);
  EXPECT_NE(reject.out.find("Rejected"), std::string::npos) << describe(reject);
  EXPECT_EQ(phaseOf(id2), "Rejected");
  EXPECT_EQ(str(statusOf("development"), "currentRelease"), "v1.0.0");
}

TEST_F(CliVerbsTest, OperatorCommandsAndApprovalsNeedSomethingToActOn) {
  for (const char* verb : {"promote", "abort", "pause", "resume", "retry"}) {
    auto r = cli({verb, "development"});
    EXPECT_TRUE(r.status.exitedWith(1)) << verb << ": " << describe(r);
    EXPECT_FALSE(r.err.empty()) << verb;
  }
  auto approve = cli({"approve", "development", "--comment", "ok"});
  EXPECT_TRUE(approve.status.exitedWith(1)) << describe(approve);
  EXPECT_NE(approve.err.find("awaiting approval"), std::string::npos) << describe(approve);
  auto reject = cli({"reject", "dep-nope"});
  EXPECT_TRUE(reject.status.exitedWith(1)) << describe(reject);
  auto unknown = cli({"status", "nowhere"});
  EXPECT_TRUE(unknown.status.exitedWith(1)) << describe(unknown);
}

// Issue 25: the quickstart's production with the runbook's checklist items this build judges.
class CliChecklistTest : public CliVerbsTest {
 protected:
  std::string configPath() override {
    auto text = test::readFile(std::string(RUNWAY_SOURCE_DIR) + "/examples/quickstart/runway.yaml");
    if (!text) return "";
    const std::string anchor = "  promotesFrom: staging\n";
    const auto at = text->find(anchor);
    if (at == std::string::npos) return "";
    text->insert(at + anchor.size(),
                 "  checklist:\n"
                 "    vulnerabilities:\n"
                 "      failAt: high\n"
                 "      allow: [{id: CVE-2024-0009, expires: 2999-01-01, reason: not reachable}]\n"
                 "    tests: {minTests: 2}\n"
                 "    semver: {}\n");
    auto written = tmp_.write("runway.yaml", *text);
    return written ? written->string() : "";
  }

  std::string write(const std::string& name, const std::string& content) {
    auto p = tmp_.write(name, content);
    return p ? p->string() : "";
  }
};

TEST_F(CliChecklistTest, PrintsEachItemAndExitsOneUntilEveryItemPasses) {
  const std::string critical = write("trivy.json", R"({"SchemaVersion": 2, "Results": [{"Target": "debian",
      "Vulnerabilities": [{"VulnerabilityID": "CVE-2024-0001", "PkgName": "openssl", "InstalledVersion": "3.0.11",
                           "Severity": "CRITICAL"},
                          {"VulnerabilityID": "CVE-2024-0009", "PkgName": "zlib", "Severity": "HIGH"}]}]})");
  const std::string allowed_only = write("clean.json", R"({"SchemaVersion": 2, "Results": [{"Target": "debian",
      "Vulnerabilities": [{"VulnerabilityID": "CVE-2024-0009", "PkgName": "zlib", "Severity": "HIGH"}]}]})");
  const std::string junit = write("junit.xml", R"(<testsuite name="unit" tests="2">
  <testcase classname="Quote" name="prices"/><testcase classname="Quote" name="rounds"/>
</testsuite>)");
  const std::string broken = write("broken.xml", "<testsuite>\n<testcase>\n</testsuite>\n");

  auto failing = cli({"checklist", "production", "v1.4.0", "--attach", "vulnerabilities=" + critical, "--attach",
                      "tests=" + junit});
  EXPECT_TRUE(failing.status.exitedWith(1)) << describe(failing);
  EXPECT_NE(failing.out.find("failed   vulnerabilities  trivy.json: 1 finding at or above high: CVE-2024-0001 "
                             "(critical, openssl 3.0.11)"),
            std::string::npos)
      << failing.out;
  EXPECT_NE(failing.out.find("passed   tests            junit.xml: 2 tests passed (0 skipped)"), std::string::npos)
      << failing.out;
  EXPECT_NE(failing.out.find("passed   semver           v1.4.0 is a semantic version"), std::string::npos)
      << failing.out;
  EXPECT_NE(failing.out.find("FAILED: vulnerabilities: trivy.json"), std::string::npos) << failing.out;

  auto passing = cli({"checklist", "production", "v1.4.0", "--attach", "vulnerabilities=" + allowed_only, "--attach",
                      "tests=" + junit, "-o", "json"});
  EXPECT_TRUE(passing.status.exitedWith(0)) << describe(passing);
  auto j = parse(passing.out);
  ASSERT_TRUE(j.is_object()) << passing.out;
  EXPECT_TRUE(j.at("passed").as_bool());
  EXPECT_EQ(str(j, "environment"), "production");
  ASSERT_EQ(j.at("items").as_array().size(), 3u) << passing.out;
  for (const auto& item : j.at("items").as_array()) EXPECT_EQ(str(item, "status"), "passed") << passing.out;

  // Nothing attached, a version that is not semver, a malformed report: each fails, naming why.
  auto bare = cli({"checklist", "production", "build-42", "--attach", "tests=" + broken, "-o", "json"});
  EXPECT_TRUE(bare.status.exitedWith(1)) << describe(bare);
  auto b = parse(bare.out);
  ASSERT_TRUE(b.is_object()) << bare.out;
  EXPECT_FALSE(b.at("passed").as_bool());
  const auto& items = b.at("items").as_array();
  ASSERT_EQ(items.size(), 3u) << bare.out;
  EXPECT_EQ(str(items[0], "reason"), "no vulnerability report attached (runway deploy --attach vulnerabilities=FILE)");
  EXPECT_NE(str(items[1], "reason").find("broken.xml: 3:"), std::string::npos) << bare.out;
  EXPECT_NE(str(items[1], "reason").find("not well-formed XML"), std::string::npos) << bare.out;
  EXPECT_EQ(str(items[2], "reason"), "build-42 is not a semantic version (MAJOR.MINOR.PATCH, e.g. v1.4.0)");
  for (const auto& item : items) EXPECT_EQ(str(item, "status"), "failed") << bare.out;

  // An environment without a checklist passes with nothing to judge; an unknown one is refused.
  auto none = cli({"checklist", "development", "v1.4.0"});
  EXPECT_TRUE(none.status.exitedWith(0)) << describe(none);
  EXPECT_NE(none.out.find("(no checklist configured for development)"), std::string::npos) << none.out;
  auto unknown = cli({"checklist", "prod", "v1.4.0"});
  EXPECT_TRUE(unknown.status.exitedWith(1)) << describe(unknown);
  EXPECT_NE(unknown.err.find("no environment named \"prod\""), std::string::npos) << unknown.err;
}

// Issue 20: an Environment's `traffic:` (an A/B header route and sticky sessions) reaches the
// router through a real canary, `runway status` shows it, and the router's statistics are on
// the --router-metrics listener.
class CliTrafficTest : public CliVerbsTest {
 protected:
  std::string configPath() override {
    const std::string text = R"(apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: ["runway-demo-app", "--port", "${PORT}"]}
      env: {VERSION: "${VERSION}"}
      health: {path: /health, period: 200ms}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: production}
spec:
  runtime: {local: {}}
  strategy: canary
  canary:
    steps:
      - setWeight: 10
      - pause: {}
      - setWeight: 100
  traffic:
    routes: [{header: X-Canary, value: always}]
    stickySessions: {cookie: shop-version, maxAge: 10m}
)";
    auto written = tmp_.write("runway.yaml", text);
    return written ? written->string() : "";
  }
  std::vector<std::string> serveArgs() override {
    auto port = test::freeLoopbackPort();
    metrics_port_ = port ? *port : 0;
    return {"--router-metrics", std::to_string(metrics_port_)};
  }
  int metrics_port_ = 0;
};

TEST_F(CliTrafficTest, RoutesAndStickySessionsReachTheRouterAndStatusShowsThem) {
  auto first = cli({"deploy", "production", "v1", "--wait", "--timeout", "60s"});
  ASSERT_TRUE(first.status.exitedWith(0)) << describe(first);
  auto second = cli({"deploy", "production", "v2", "-o", "json"});
  ASSERT_TRUE(second.status.exitedWith(0)) << describe(second);
  json::value env;
  ASSERT_TRUE(test::pollUntil(
      [&] {
        env = statusOf("production");
        const auto* active = env.is_object() ? env.as_object().if_contains("activeDeployment") : nullptr;
        if (active == nullptr || str(*active, "phase") != "Paused") return false;
        // The split of the first step is pushed after the state that paused is committed.
        const auto& routes = env.at("services").at(0).at("routes");
        return routes.is_array() && !routes.as_array().empty();
      },
      test::deadlineIn(60s), 200ms))
      << json::serialize(env) << "\n" << log();
  const auto& svc = env.at("services").at(0);
  ASSERT_EQ(svc.at("routes").as_array().size(), 1U) << json::serialize(svc);
  EXPECT_EQ(str(svc.at("routes").at(0), "header"), "X-Canary");
  EXPECT_EQ(str(svc.at("routes").at(0), "value"), "always");
  EXPECT_EQ(str(svc.at("routes").at(0), "version"), "v2");
  EXPECT_EQ(str(svc.at("sticky"), "cookie"), "shop-version");
  EXPECT_EQ(str(svc.at("sticky"), "maxAge"), "10m");
  auto table = cli({"status", "production"});
  EXPECT_NE(table.out.find("route header X-Canary exact \"always\" -> v2"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("sticky sessions: cookie shop-version (max age 10m)"), std::string::npos) << table.out;

  const std::string url = "http://" + str(svc, "address") + "/";
  for (int i = 0; i < 20; ++i) {
    auto r = test::httpRequest(url, "GET", "", {{"X-Canary", "always"}});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->header("x-version").value_or(""), "v2");
  }
  // A user the router sent to v1 (90 %) stays there; its cookie says so.
  std::string cookie;
  for (int i = 0; i < 50 && cookie != "shop-version=v1"; ++i) {
    auto r = test::httpGet(url);
    ASSERT_TRUE(r) << r.error().message;
    const auto set = r->header("set-cookie").value_or("");
    cookie = set.substr(0, set.find(';'));
    EXPECT_EQ(cookie, "shop-version=" + r->header("x-version").value_or("")) << set;
  }
  ASSERT_EQ(cookie, "shop-version=v1");
  for (int i = 0; i < 20; ++i) {
    auto r = test::httpRequest(url, "GET", "", {{"Cookie", cookie}});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->header("x-version").value_or(""), "v1");
  }

  ASSERT_NE(metrics_port_, 0);
  const std::string metrics_url = "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics";
  std::string metrics;
  EXPECT_TRUE(test::pollUntil(
      [&] {
        auto r = test::httpGet(metrics_url, 2s);
        metrics = r ? r->body : "";
        const std::string key =
            "runway_router_requests_total{listener=\"web.production\",version=\"v2\",code=\"200\"} ";
        const auto at = metrics.find(key);
        return at != std::string::npos && std::stoi(metrics.substr(at + key.size())) >= 20;
      },
      test::deadlineIn(10s)))
      << metrics;

  // Promoted: all traffic to v2, the route ends with the canary.
  auto promote = cli({"promote", "production"});
  ASSERT_TRUE(promote.status.exitedWith(0)) << describe(promote);
  EXPECT_TRUE(test::pollUntil(
      [&] {
        env = statusOf("production");
        return str(env, "currentRelease") == "v2" && env.at("services").at(0).at("routes").as_array().empty();
      },
      test::deadlineIn(60s), 200ms))
      << json::serialize(env);
}

// Issue 20: TLS on a service's router listener from the Environment (`traffic.listener.tls`):
// the listener serves https with the configured certificate, status says so, and a pair the
// router could not use fails the deployment that would set it up, naming the file, without
// touching what other environments serve.
class CliTlsTest : public CliVerbsTest {
 protected:
  std::string configPath() override {
    auto made = test::TestCa::make();
    if (!made) {
      ADD_FAILURE() << made.error().message;
      return "";
    }
    ca_.emplace(std::move(*made));
    for (const auto* name : {"web", "other"}) {
      if (auto ok = ca_->issue(name, name); !ok) {
        ADD_FAILURE() << ok.error().message;
        return "";
      }
    }
    // staging has a certificate with another certificate's key: files that exist (the
    // configuration loads) but that the router cannot use.
    const std::string text = fmt::format(R"(apiVersion: runway/v1
kind: Application
metadata: {{name: shop}}
spec:
  services:
    - name: web
      local: {{command: ["runway-demo-app", "--port", "${{PORT}}"]}}
      env: {{VERSION: "${{VERSION}}"}}
      health: {{path: /health, period: 200ms}}
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: production}}
spec:
  runtime: {{local: {{}}}}
  strategy: rolling
  traffic:
    listener:
      tls: {{certificate: {}, key: {}}}
---
apiVersion: runway/v1
kind: Environment
metadata: {{name: staging}}
spec:
  runtime: {{local: {{}}}}
  strategy: rolling
  traffic:
    listener:
      tls: {{certificate: {}, key: {}}}
)",
                                         ca_->path("web.pem"), ca_->path("web.key"),
                                         ca_->path("web.pem"), ca_->path("other.key"));
    auto written = tmp_.write("runway.yaml", text);
    return written ? written->string() : "";
  }
  std::optional<test::TestCa> ca_;
};

TEST_F(CliTlsTest, AListenerServesHttpsWithTheConfiguredCertificate) {
  auto deploy = cli({"deploy", "production", "v1", "--wait", "--timeout", "60s"});
  ASSERT_TRUE(deploy.status.exitedWith(0)) << describe(deploy) << "\n" << log();
  const auto env = statusOf("production");
  const auto& svc = env.at("services").at(0);
  EXPECT_TRUE(svc.at("tls").as_bool()) << json::serialize(svc);
  const std::string address = str(svc, "address");
  auto table = cli({"status", "production"});
  EXPECT_NE(table.out.find("https://" + address), std::string::npos) << table.out;

  // Verified against the test CA: the router presents the configured certificate.
  test::HttpRequest request;
  request.url = "https://" + address + "/";
  request.ca_file = ca_->caFile();
  for (int i = 0; i < 5; ++i) {
    auto r = test::httpRequest(request);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-version").value_or(""), "v1");
  }
  auto subject = test::runTool({"openssl", "s_client", "-connect", address, "-CAfile", ca_->caFile(),
                                "-alpn", "http/1.1"});
  EXPECT_NE(subject.output.find("CN = web"), std::string::npos) << subject.output;
  EXPECT_NE(subject.output.find("ALPN protocol: http/1.1"), std::string::npos) << subject.output;
  // Plain HTTP on the TLS listener gets no HTTP answer.
  auto plain = test::httpGet("http://" + address + "/", 5s);
  EXPECT_TRUE(!plain || plain->status == 400) << (plain ? plain->body : "");

  // staging's pair cannot be used: its deployment fails, naming the key, and counts against the
  // release (nothing becomes staging's current release); production keeps serving.
  auto bad = cli({"deploy", "staging", "v1", "--wait", "--timeout", "60s", "-o", "json"});
  EXPECT_FALSE(bad.status.exitedWith(0)) << describe(bad);
  const auto staging = statusOf("staging");
  EXPECT_EQ(str(staging, "currentRelease"), "") << json::serialize(staging);
  auto history = cli({"history", "staging", "-o", "json"});
  const auto h = parse(history.out);
  ASSERT_TRUE(h.is_object()) << history.out;
  ASSERT_EQ(h.at("deployments").as_array().size(), 1u) << history.out;
  const auto& ended = h.at("deployments").at(0);
  EXPECT_EQ(str(ended, "phase"), "RolledBack") << history.out;
  EXPECT_NE(str(ended, "abortReason").find("the runtime refused to start it: traffic.listener.tls of "
                                           "environment 'staging': TLS private key " +
                                           ca_->path("other.key")),
            std::string::npos)
      << history.out;
  auto again = test::httpRequest(request);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->status, 200);
}

}  // namespace
}  // namespace runway
