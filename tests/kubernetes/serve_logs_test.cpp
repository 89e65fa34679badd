// Pod logs and Kubernetes Events through the real `runway serve` and the real API server.
//
// kwok's pods have no containers, but kwok's fake kubelet serves GET .../pods/NAME/log (the API
// server relays it to the node's kubelet endpoint, kwok's server) from a file named by a `Logs`
// object (kwok.x-k8s.io/v1alpha1; scripts/kube-cluster.sh installs its CRD and starts kwok with
// --enable-crds Logs). So the tests write each pod's log as a CRI log file and name it in a Logs
// object: `runway logs` then reads it through runway's API, the runtime, the API server and the
// node, the path a real cluster's logs take. A pod without a Logs object is a pod whose log the
// node cannot serve (kwok answers 400), which is how the error path is tested.

#include <cmath>
#include <csignal>
#include <map>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "serve_support.hpp"
#include "support/net.hpp"

namespace runway::test::kubernetes {
namespace {

using namespace std::chrono_literals;

const kube::Resource kKwokLogs{"kwok.x-k8s.io", "v1alpha1", "logs", true};

class KubernetesLogsTest : public KubernetesServeTest {
 protected:
  // The pods of `version`, by name.
  std::vector<std::string> pods(const std::string& ns, const std::string& version) {
    std::vector<std::string> names;
    auto listed = admin_->list(kube::Resource::pods(), ns,
                               kube::ListOptions{std::string(kube::kVersionLabel) + "=" + version, {}, {}});
    EXPECT_TRUE(listed) << (listed ? "" : listed.error().message);
    if (!listed) return names;
    // In the order runway numbers instances (and prints their logs): by creation, then name.
    std::vector<std::pair<std::string, std::string>> pods;
    for (const auto& p : listed->items) {
      const auto& metadata = p.at("metadata").as_object();
      pods.emplace_back(std::string(metadata.at("creationTimestamp").as_string()),
                        std::string(metadata.at("name").as_string()));
    }
    std::sort(pods.begin(), pods.end());
    for (auto& [created, name] : pods) names.push_back(std::move(name));
    return names;
  }

  // Appends lines to the pod's log file (the CRI format a kubelet keeps), creating it.
  std::filesystem::path writeLog(const std::string& pod, const std::vector<std::string>& lines) {
    const auto path = dir_ / (pod + ".log");
    std::ofstream out(path, std::ios::app);
    for (const auto& line : lines) out << "2026-12-07T12:00:00.000000000Z stdout F " << line << "\n";
    return path;
  }

  // Names the file as the pod's log for kwok's kubelet.
  void giveLog(const std::string& ns, const std::string& pod, const std::filesystem::path& file) {
    auto made = admin_->apply(
        kKwokLogs, ns, pod,
        json::object{{"apiVersion", "kwok.x-k8s.io/v1alpha1"},
                     {"kind", "Logs"},
                     {"metadata", json::object{{"name", pod}, {"namespace", ns}}},
                     {"spec", json::object{{"logs", json::array{json::object{
                                                         {"containers", json::array{"web"}},
                                                         {"logsFile", file.string()},
                                                         {"follow", true}}}}}}});
    ASSERT_TRUE(made) << made.error().message;
  }
};

TEST_F(KubernetesLogsTest, RunwayLogsReadsEveryPodThroughTheApiServerAndFollowsThem) {
  TestNamespace ns("logs");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "public", kCanary));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  const auto names = pods(ns.name(), "v1");
  ASSERT_EQ(names.size(), 2u);
  for (const auto& pod : names) {
    giveLog(ns.name(), pod, writeLog(pod, {pod + " says 1", pod + " says 2", pod + " says 3"}));
  }

  // Two pods: each one's last two lines, prefixed with its name. kwok learns of the Logs
  // objects through a watch: poll.
  CliRun both;
  EXPECT_TRUE(pollUntil(
      [&] {
        both = cli({"logs", "prod", "web", "--tail", "2"});
        return both.code == 0;
      },
      deadlineIn(30s)))
      << both.out << both.err;
  EXPECT_EQ(both.out, fmt::format("[{0}] {0} says 2\n[{0}] {0} says 3\n[{1}] {1} says 2\n[{1}] {1} says 3\n",
                                  names[0], names[1]));

  // One pod (--instance picks it by index, as `runway status` numbers them): no prefix.
  auto env = server_->getJson("/api/v1/environments/prod");
  ASSERT_TRUE(env.is_object());
  std::string second;
  for (const auto& i : env.at("services").as_array()[0].at("instances").as_array()) {
    if (i.at("index").as_int64() == 1) second = std::string(i.at("pod").as_string());
  }
  ASSERT_FALSE(second.empty());
  const auto one = cli({"logs", "prod", "web", "--version", "v1", "--instance", "1", "--tail", "10"});
  EXPECT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(one.out, fmt::format("{0} says 1\n{0} says 2\n{0} says 3\n", second));

  // -f: the last line of each, then what a pod writes next, as it writes it.
  SubprocessOptions o;
  o.argv = {binaryPath("runway").string(), "logs", "prod", "web", "-f", "--tail", "1",
            "--server", server_->url(), "--token", server_->adminToken()};
  o.unset_env = {"RUNWAY_SERVER", "RUNWAY_TOKEN"};
  o.stdout_to = Output::pipe();
  o.stderr_to = Output::file(dir_ / "follow.err");
  auto follow = Subprocess::start(std::move(o));
  ASSERT_TRUE(follow) << follow.error().message;
  for (const auto& pod : names) {
    // Order between the pods is not fixed: read up to each one's line.
    (void)pod;
    auto first = follow->readLineMatching("says 3$", deadlineIn(30s));
    ASSERT_TRUE(first) << first.error().message;
  }
  writeLog(names[0], {"appended while followed"});
  auto appended = follow->readLineMatching("appended while followed", deadlineIn(30s));
  ASSERT_TRUE(appended) << appended.error().message;
  EXPECT_EQ(appended->at(0), "appended while followed");
  // (the whole line carries the pod's prefix)
  ASSERT_TRUE(follow->signal(SIGINT));
  auto ended = follow->waitExit(deadlineIn(30s));
  ASSERT_TRUE(ended) << ended.error().message;
  EXPECT_TRUE(ended->exitedWith(0)) << ended->describe();
}

TEST_F(KubernetesLogsTest, APodWhoseLogTheNodeCannotServeIsAClearErrorNotA500) {
  TestNamespace ns("nolog");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "public", kCanary));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  const auto names = pods(ns.name(), "v1");
  ASSERT_EQ(names.size(), 2u);

  // No Logs object: kwok's kubelet answers 400 ("no logs found for container"), relayed by the
  // API server. runway says which pod and why, per pod, and exits 1.
  auto api = server_->call("GET", "/api/v1/environments/prod/services/web/logs?tail=10");
  ASSERT_TRUE(api) << api.error().message;
  EXPECT_EQ(api->status, 200) << api->body;
  const auto doc = json::parse(api->body);
  const auto& instances = doc.at("instances").as_array();
  ASSERT_EQ(instances.size(), 2u);
  for (const auto& i : instances) {
    const auto& e = i.at("error");
    ASSERT_TRUE(e.is_object()) << api->body;
    EXPECT_EQ(e.at("code").as_string(), "failed_precondition") << api->body;
    EXPECT_NE(std::string(e.at("message").as_string()).find("no logs found for container \"web\""),
              std::string::npos)
        << api->body;
  }
  const auto run = cli({"logs", "prod", "web"});
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  for (const auto& pod : names) {
    EXPECT_NE(run.err.find("pod " + pod + ": its log cannot be read"), std::string::npos) << run.err;
  }
  // Following it: the same reason as an error event, then the stream ends.
  const auto followed = cli({"logs", "prod", "web", "-f"});
  EXPECT_EQ(followed.code, 1) << followed.out << followed.err;
  EXPECT_NE(followed.err.find("no logs found for container"), std::string::npos) << followed.err;

  // What the API refuses before reading anything.
  auto unknown = server_->call("GET", "/api/v1/environments/prod/services/nope/logs");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  auto none = server_->call("GET", "/api/v1/environments/prod/services/web/logs?version=v9");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404) << none->body;
  auto bad = server_->call("GET", "/api/v1/environments/prod/services/web/logs?tail=-1");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
}

// A version whose pods cannot be scheduled: its rollout fails on the Deployment's progress
// deadline, and the reason runway gives (the deployment's abort reason and its events) carries
// the scheduler's Event, not only "instance(s) failed".
TEST_F(KubernetesLogsTest, AFailedVersionCarriesItsKubernetesEvents) {
  TestNamespace ns("events");
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "public", kCanary));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  const auto id = server_->deploy("prod", kBadVersion);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(server_->waitTerminal(id, 120s), "RolledBack");
  const auto deployment = server_->getJson("/api/v1/deployments/" + id);
  ASSERT_TRUE(deployment.is_object());
  const std::string reason(deployment.at("abortReason").as_string());
  EXPECT_NE(reason.find("instance(s) of v3 failed: FailedScheduling: 0/1 nodes are available"),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("node affinity"), std::string::npos) << reason;
  EXPECT_NE(json::serialize(deployment.at("events")).find("FailedScheduling"), std::string::npos);
  const auto status = cli({"status", "--deployment", id});
  EXPECT_NE(status.out.find("FailedScheduling"), std::string::npos) << status.out << status.err;
}

// traffic: replicas (no gateway): a canary's 10 % is whatever the Ready pods make of it, since
// the stable Service selects every version's pods. The API and `runway status` show the split
// achieved (the Ready pods' ratio) beside the one asked for, and say why.
TEST_F(KubernetesLogsTest, ReplicaTrafficShowsTheAchievedSplitAndItsCaveat) {
  TestNamespace ns("ratio");
  const std::string paused = R"(  strategy: canary
  canary:
    steps:
      - setWeight: 10
      - pause: {}
      - setWeight: 100
    scaleDownDelay: 1s
    abortScaleDownDelay: 1s)";
  start(application() + environment("prod", kubeconfigPath(), ns.name(), "", paused));
  ASSERT_EQ(deployAndWait("prod", "v1"), "Succeeded");
  const auto id = server_->deploy("prod", "v2");
  ASSERT_FALSE(id.empty());
  // What the cluster's Ready pods give each version, in percent.
  const auto readyShare = [&] {
    std::map<std::string, double> share;
    auto listed = admin_->list(kube::Resource::pods(), ns.name());
    if (!listed) return share;
    int total = 0;
    for (const auto& p : listed->items) {
      const auto pod = kube::podInstance(p);
      if (!pod.ready || p.at("metadata").as_object().contains("deletionTimestamp")) continue;
      share[pod.version] += 1;
      ++total;
    }
    for (auto& [v, n] : share) n = 100.0 * n / total;
    return share;
  };
  json::value service;
  std::map<std::string, double> expected;
  const bool agreed = pollUntil(
      [&] {
        auto env = server_->getJson("/api/v1/environments/prod");
        if (!env.is_object()) return false;
        service = env.at("services").as_array().at(0);
        const auto& achieved = service.at("achievedTraffic");
        if (!achieved.is_object() || service.at("traffic").as_object().size() != 2) return false;
        expected = readyShare();
        if (expected.size() != 2 || achieved.as_object().size() != 2) return false;
        for (const auto& [v, pct] : expected) {
          const auto* got = achieved.as_object().if_contains(v);
          if (got == nullptr || std::abs(got->to_number<double>() - pct) > 0.1) return false;
        }
        return true;
      },
      deadlineIn(90s));
  ASSERT_TRUE(agreed) << json::serialize(service);
  EXPECT_EQ(service.at("traffic").at("v2").to_number<double>(), 10);
  EXPECT_NE(expected.at("v2"), 10.0) << "the Ready pods happen to give 10 %: the test shows nothing";
  const std::string caveat(service.at("trafficCaveat").as_string());
  EXPECT_NE(caveat.find("traffic: replicas: the stable Service spreads connections over every "
                        "Ready pod"),
            std::string::npos)
      << caveat;
  EXPECT_NE(caveat.find("not by the weights asked for (v1=90% v2=10%)"), std::string::npos) << caveat;
  const auto status = cli({"status", "prod"});
  EXPECT_NE(status.out.find("traffic v1=90% v2=10%"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("    achieved v1="), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("use traffic: httproute for exact weights"), std::string::npos) << status.out;
}

// Pre-flight against an API server that does not answer: the deployment fails its pre-flight
// (it counts against the release), saying which server could not be reached, and nothing is
// left waiting.
TEST_F(KubernetesLogsTest, AnUnreachableApiServerFailsThePreflight) {
  auto port = freeLoopbackPort();
  ASSERT_TRUE(port) << port.error().message;
  const auto server = fmt::format("https://127.0.0.1:{}", *port);
  const auto kubeconfig = dir_ / "unreachable.kubeconfig";
  std::ofstream(kubeconfig) << fmt::format(R"(apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: {}, insecure-skip-tls-verify: true}}
users:
- name: u
  user: {{token: not-used}}
contexts:
- name: c
  context: {{cluster: c, user: u}}
current-context: c
)",
                                           server);
  start(application() + environment("prod", kubeconfig, "rw-unreachable", "public", kCanary) +
        "  preflight: {beforeDeploy: basic}\n");
  const auto id = server_->deploy("prod", "v1");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(server_->waitTerminal(id, 120s), "Failed");
  const auto deployment = json::serialize(server_->getJson("/api/v1/deployments/" + id));
  EXPECT_NE(deployment.find("kubernetes pre-flight: GET " + server + "/api/v1/namespaces/rw-unreachable"),
            std::string::npos)
      << deployment;
  EXPECT_NE(deployment.find("Couldn't connect to server"), std::string::npos) << deployment;
}

}  // namespace
}  // namespace runway::test::kubernetes
