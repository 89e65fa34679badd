// The crash simulation (issue 14): seeded scenarios of releases (canary, blue-green, rolling;
// good and bad builds; hooks; queued releases; rollbacks racing deployments; config reloads;
// analysis that cannot measure) driven through the Reconciler, which "crashes" at action
// boundaries: after a store commit, before a runtime effect, before or after a hook runs. A
// crash drops the Reconciler, its in-memory state and its queued work; a new one is built on the
// same SQLite store and the same simulated world (the runtime's versions and splits survive, as
// real processes do) and recovers. Invariants are checked during and after every scenario.
//
//   controller_crash_sim [--scenarios N] [--seed S] [--verbose]
//
// runs scenarios S, S+1, ..., S+N-1 and exits 1 if any invariant was violated, printing how to
// replay the failing scenario. docs/development.md describes it.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "forwarding_store.hpp"
#include "harness.hpp"
#include "runway/core/ids.hpp"
#include "runway/engine/engine.hpp"

namespace runway::controller::testing {
namespace {

namespace json = boost::json;
using Kind = engine::OperatorCommand::Kind;

struct SimCrash {};

// How far the clock moves between two passes of the loop (analysis intervals are 1 s).
constexpr Duration kStep{1000};

// Deterministic choices, from core's seeded source.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : random_(seededRandom(seed)) {}
  int below(int n) { return static_cast<int>(random_->next() % static_cast<std::uint64_t>(n)); }
  bool chance(int percent) { return below(100) < percent; }

 private:
  std::unique_ptr<Random> random_;
};

// Counts action boundaries and throws SimCrash at the chosen one.
struct Boundaries {
  int passed = 0;
  int crash_at = -1;  // -1 = no crash armed
  bool enabled = true;
  void pass() {
    if (!enabled) return;
    if (++passed == crash_at) {
      crash_at = -1;
      throw SimCrash{};
    }
  }
};

// The store as the simulation sees it: a crash boundary after every deployment commit, and a
// record of every hook intent ever committed.
class SimStore final : public runway::testing::ForwardingStore {
 public:
  SimStore(std::shared_ptr<store::Store> inner, Boundaries& b) : ForwardingStore(std::move(inner)), b_(b) {}

  Result<store::DeploymentRecord> createDeployment(const store::DeploymentRecord& r,
                                                   const std::vector<store::NewEvent>& e) override {
    auto out = ForwardingStore::createDeployment(r, e);
    if (out) committed(*out);
    return out;
  }
  using ForwardingStore::updateDeployment;
  Result<store::DeploymentRecord> updateDeployment(const store::DeploymentRecord& r,
                                                   const std::vector<store::NewEvent>& e,
                                                   const std::vector<store::ApprovalRecord>& a,
                                                   const std::optional<store::ServingRecord>& s,
                                                   const std::vector<store::NewNotification>& n) override {
    auto out = ForwardingStore::updateDeployment(r, e, a, s, n);
    if (out) committed(*out);
    return out;
  }

  // (deployment, point, attempt) of every hook intent ever committed.
  std::set<std::tuple<std::string, config::HookPoint, int>> intents;

 private:
  void committed(const store::DeploymentRecord& r) {
    // Only the hook intents are wanted: parse just their array (intents hold no arrays).
    const auto at = r.state_json.find("\"hooks\":[");
    const auto end = at == std::string::npos ? at : r.state_json.find(']', at);
    json::error_code ec;
    const auto hooks = end == std::string::npos
                           ? json::value()
                           : json::parse(std::string_view(r.state_json).substr(at + 8, end - at - 7), ec);
    if (!ec && hooks.is_array()) {
      for (const auto& h : hooks.get_array()) {
        const auto& o = h.get_object();
        const std::string point(o.at("point").get_string());
        for (const auto p : {config::HookPoint::PreDeploy, config::HookPoint::PostDeploy, config::HookPoint::PreRollback,
                             config::HookPoint::PostRollback, config::HookPoint::OnAbort}) {
          if (config::toString(p) == point) intents.emplace(r.id, p, static_cast<int>(o.at("attempt").to_number<std::int64_t>()));
        }
      }
    }
    b_.pass();  // committed, nothing executed yet
  }
  Boundaries& b_;
};

// Loading YAML is slow; scenarios use a handful of configurations, each loaded once.
std::shared_ptr<const config::Config> configFor(const ConfigKnobs& knobs) {
  static std::map<std::string, std::shared_ptr<const config::Config>> cache;
  auto& cfg = cache[configText(knobs)];
  if (!cfg) cfg = loadTestConfig(knobs);
  return cfg;
}

bool active(const std::string& phase) {
  return phase != "Queued" && phase != "Succeeded" && phase != "RolledBack" && phase != "Failed" &&
         phase != "Rejected" && phase != "Superseded";
}

class Scenario {
 public:
  Scenario(std::uint64_t seed, bool verbose) : seed_(seed), rng_(seed), verbose_(verbose) {}

  // Runs the scenario; returns the violations found (empty = none).
  std::vector<std::string> run() {
    static const char* kEnvs[] = {"canary", "bluegreen", "rolling"};
    env_ = kEnvs[rng_.below(3)];
    h_ = std::make_unique<Harness>(configFor(knobs_), seed_);
    auto inner = h_->store;
    sim_store_ = std::make_shared<SimStore>(inner, b_);
    h_->store = sim_store_;
    wire();
    b_.crash_at = 1 + rng_.below(60);
    reboot();
    const int ops = 4 + rng_.below(6);
    for (int i = 0; i < ops && violations_.empty(); ++i) {
      guarded([&] { op(); });
      guarded([&] { h_->advance(Duration{1000 * (1 + rng_.below(4))}, kStep); });
      checkOneActive();
      if (b_.crash_at < 0 && crashes_ < 3 && rng_.chance(40)) b_.crash_at = b_.passed + 1 + rng_.below(40);
    }
    // No more crashes: let everything finish. Paused canaries are promoted, stuck ones aborted.
    b_.enabled = false;
    b_.crash_at = -1;
    for (int i = 0; i < 60 && busy(); ++i) {
      for (const auto& d : deployments()) {
        if (d.phase == "Paused") (void)h_->r().command(commandOf(d.id, i > 40 ? Kind::Abort : Kind::Promote));
      }
      h_->advance(Duration{5000}, kStep);
      checkOneActive();
    }
    h_->advance(Duration{60000}, Duration{2000});  // retirements, scale-down delays
    checkEnd();
    return violations_;
  }

  std::string summary() const {
    return fmt::format("{} ops on {}, {} crashes, {} boundaries, {} deployments", log_.size(), env_, crashes_,
                       b_.passed, deployments().size());
  }
  const std::vector<std::string>& log() const { return log_; }

 private:
  void note(std::string what) {
    if (verbose_) fmt::print("  [{}] {}\n", seed_, what);
    log_.push_back(std::move(what));
  }

  void violation(std::string what) { violations_.push_back(std::move(what)); }

  void wire() {
    h_->runtime->on_effect = [this](const runway::testing::FakeRuntime::Effect& e) {
      if (e.kind == "traffic") checkTrafficMayMove(e);
      b_.pass();
    };
    h_->hooks->on_run = [this](const FakeHooks::Ran&) { b_.pass(); };
    h_->hooks->on_ran = [this](const FakeHooks::Ran&) { b_.pass(); };
  }

  // Runs `f`; a crash in it (or in the recovery after it) drops the controller and recovers.
  void guarded(const std::function<void()>& f) {
    try {
      f();
    } catch (const SimCrash&) {
      note(fmt::format("crash at boundary {}", b_.passed));
      ++crashes_;
      reboot();
    }
  }

  void reboot() {
    for (int attempt = 0; attempt < 10; ++attempt) {
      h_->crash();
      try {
        if (auto r = h_->boot(); !r) violation("recovery failed: " + r.error().message);
        h_->settle();
        return;
      } catch (const SimCrash&) {
        note(fmt::format("crash during recovery at boundary {}", b_.passed));
        ++crashes_;
      }
    }
  }

  std::string nextVersion() { return fmt::format("v{}", ++versions_); }

  void op() {
    const int pick = rng_.below(100);
    if (pick < 35 || versions_ == 0) {
      const std::string v = nextVersion();
      const bool bad = versions_ > 1 && rng_.chance(30);
      if (bad) {
        h_->provider->error_rate[v] = 0.5;
        bad_.insert(v);
      }
      note(fmt::format("deploy {}{}", v, bad ? " (bad build)" : ""));
      (void)h_->r().deploy(deployOf(env_, v));
    } else if (pick < 55) {
      for (const auto& d : deployments()) {
        if (d.phase == "Paused") {
          note("promote " + d.version);
          (void)h_->r().command(commandOf(d.id, Kind::Promote));
        }
      }
    } else if (pick < 70) {
      RollbackRequest r;
      r.environment = env_;
      r.actor.name = "bob";
      if (rng_.chance(50) && versions_ > 1) r.version = fmt::format("v{}", 1 + rng_.below(versions_));
      note("rollback to " + (r.version.empty() ? std::string("the previous release") : r.version));
      (void)h_->r().rollback(r);
    } else if (pick < 80) {
      knobs_.query = rng_.chance(50) ? "error_rate" : "latency_p99";
      knobs_.hook = fmt::format("announce-{}", rng_.below(3));
      knobs_.down = fmt::format("migrate-down-{}", rng_.below(3));
      note("reload");
      h_->reload(configFor(knobs_));
    } else if (pick < 88) {
      if (h_->provider->unmeasurable.empty()) {
        note("metrics become unmeasurable");
        h_->provider->unmeasurable.insert("error-rate");
      } else {
        note("metrics measurable again");
        h_->provider->unmeasurable.clear();
      }
    } else if (pick < 94) {
      for (const auto& d : deployments()) {
        if (active(d.phase)) {
          note("abort " + d.version);
          (void)h_->r().command(commandOf(d.id, Kind::Abort));
        }
      }
    } else {
      note("wait");
      h_->advance(Duration{10000}, kStep);
    }
    h_->clock->advance(Duration{7});  // ids sort by creation time
  }

  struct Dep {
    std::string id;
    std::string version;
    std::string phase;
    PersistedDeployment doc;
  };
  // The environment's deployments as stored (parsed once per revision).
  std::vector<Dep> deployments() const {
    std::vector<Dep> out;
    auto list = sim_store_->inner().listDeployments(store::DeploymentFilter{env_, "", "", 500});
    if (!list) return out;
    for (const auto& r : *list) {
      auto& cached = parsed_[r.id];
      if (cached.first != r.revision) {
        auto doc = parsePersisted(r.state_json);
        if (!doc) continue;
        cached = {r.revision, Dep{r.id, r.version, r.phase, std::move(*doc)}};
      }
      out.push_back(cached.second);
    }
    return out;
  }
  bool busy() const {
    for (const auto& d : deployments()) {
      if (active(d.phase) || d.phase == "Queued" || !d.doc.hooks.empty()) return true;
    }
    return false;
  }

  // At most one active deployment per environment.
  void checkOneActive() {
    int n = 0;
    std::string which;
    for (const auto& d : deployments()) {
      if (active(d.phase)) {
        ++n;
        which += " " + d.id + "(" + d.version + " " + d.phase + ")";
      }
    }
    if (n > 1) violation(fmt::format("{} active deployments in {}:{}", n, env_, which));
  }

  // Traffic may move only when no down-migration is pending in the environment, and a rollback
  // deployment's version takes traffic only after its preRollback hook ran.
  void checkTrafficMayMove(const runway::testing::FakeRuntime::Effect& e) {
    for (const auto& d : deployments()) {
      if (trafficHeld(d.doc)) {
        std::string who;
        for (const auto& o : deployments()) who += fmt::format(" {}:{}:{}", o.version, o.phase, o.doc.hooks.size());
        violation(fmt::format("traffic of {} moved ({}) while the down-migration of {} is pending (boundary {};{})",
                              e.service, e.detail, d.version, b_.passed, who));
      }
      if (env_ != "rolling" && d.doc.rollback && active(d.phase) &&
          e.detail.find(d.version + "=") != std::string::npos) {
        bool ran = false;
        for (const auto& h : h_->hooks->ran()) {
          ran = ran || (h.point == config::HookPoint::PreRollback && h.version == d.version);
        }
        if (!ran) violation("rollback to " + d.version + " took traffic before its down-migration ran");
      }
    }
  }

  void checkEnd() {
    const auto all = deployments();
    std::map<std::string, const Dep*> by_id;
    for (const auto& d : all) by_id[d.id] = &d;
    for (const auto& d : all) {
      if (active(d.phase) || d.phase == "Queued") violation(d.id + " still " + d.phase + " at the end");
      // Every committed hook intent ran at least once, and none is left.
      if (!d.doc.hooks.empty()) violation(d.id + " has hook intents never confirmed");
      if (d.phase == "Succeeded") checkJudged(d);
    }
    std::map<std::tuple<std::string, config::HookPoint>, int> ran;
    for (const auto& h : h_->hooks->ran()) ran[{h.version, h.point}]++;
    std::map<std::tuple<std::string, config::HookPoint>, int> needed;
    for (const auto& [id, point, attempt] : sim_store_->intents) {
      if (auto it = by_id.find(id); it != by_id.end()) needed[{it->second->version, point}]++;
    }
    for (const auto& [key, n] : needed) {
      if (ran[key] < n) {
        violation(fmt::format("{} hook intents at {} of {} committed, {} ran", n,
                              config::toString(std::get<1>(key)), std::get<0>(key), ran[key]));
      }
    }
    // What the controller says serves is what the runtime serves. (A first release that rolled
    // back has no stable version to give its traffic to, so it keeps it; while nothing ever
    // succeeded there, nothing is current.)
    auto current = currentRelease(sim_store_->inner(), env_);
    const bool ever = std::any_of(all.begin(), all.end(), [](const Dep& d) { return d.phase == "Succeeded"; });
    if (!current) {
      violation("currentRelease: " + current.error().message);
    } else if (ever || !current->empty()) {
      for (const auto* service : {"web", "api"}) {
        const auto serving = h_->runtime->serving(env_, service);
        if (serving != *current) {
          violation(fmt::format("currentRelease is \"{}\" but {} serves \"{}\"", *current, service, serving));
        }
      }
    }
    // No step started twice in one attempt.
    std::set<std::tuple<std::string, std::int64_t, std::int64_t>> started;
    store::EventFilter f;
    f.limit = 100000;
    const auto events = sim_store_->inner().listEvents(f);
    if (!events) violation("events: " + events.error().message);
    for (const auto& e : events ? *events : std::vector<store::EventRecord>{}) {
      if (e.kind != "step.started") continue;
      json::error_code ec;
      auto data = json::parse(e.data_json, ec);
      if (ec || !data.is_object()) continue;
      const auto& o = data.get_object();
      const auto attempt = o.contains("attempt") ? o.at("attempt").to_number<std::int64_t>() : 0;
      const auto step = o.contains("step") ? o.at("step").to_number<std::int64_t>() : -1;
      if (!started.emplace(e.subject, attempt, step).second) {
        violation(fmt::format("{} started step {} twice in attempt {}", e.subject, step, attempt));
      }
    }
    auto chain = sim_store_->inner().verifyChain();
    if (!chain || !chain->intact()) violation("the audit chain does not verify");
  }

  // A Succeeded deployment was judged: every analysis run its strategy requires reached its
  // count for every service and metric within limits; a bad build never succeeds where
  // analysis judges it.
  void checkJudged(const Dep& d) {
    const auto& s = d.doc.state;
    if (env_ == "rolling" || s.fast || s.stable_version.empty() || s.stable_version == s.version) return;
    const auto required = env_ == "canary" ? engine::RunKind::Inline : engine::RunKind::PostPromotion;
    int judged = 0;
    for (const auto& run : s.runs) {
      if (run.kind != required) continue;
      std::set<std::string> services;
      bool ok = run.status == engine::RunStatus::Successful;
      for (const auto& t : run.metrics) {
        if (t.dry_run) continue;
        services.insert(t.service);
        // Within limits: no failed measurement (failureLimit 0); errors only below the
        // consecutive-error limit, which the analysis module enforces (its verdict says so).
        ok = ok && t.status == engine::RunStatus::Successful && t.successful >= 3 && t.failed == 0;
      }
      if (ok && services == std::set<std::string>{"api", "web"}) ++judged;
    }
    if (judged == 0) {
      std::string runs;
      for (const auto& run : s.runs) {
        runs += fmt::format(" run {} kind {} {}:", run.id, static_cast<int>(run.kind), engine::toString(run.status));
        for (const auto& t : run.metrics) {
          runs += fmt::format(" [{} {} {} ok {} failed {} errors {}]", t.service, t.metric, engine::toString(t.status),
                              t.successful, t.failed, t.errors);
        }
      }
      violation(d.id + " (" + d.version + ") Succeeded without a complete, passed analysis:" + runs);
    }
    if (bad_.count(d.version) != 0) violation(d.id + " (" + d.version + ", a bad build) Succeeded");
  }

  std::uint64_t seed_;
  Rng rng_;
  bool verbose_;
  std::string env_;
  ConfigKnobs knobs_;
  Boundaries b_;
  std::unique_ptr<Harness> h_;
  std::shared_ptr<SimStore> sim_store_;
  int versions_ = 0;
  int crashes_ = 0;
  std::set<std::string> bad_;
  mutable std::map<std::string, std::pair<std::int64_t, Dep>> parsed_;  // id -> (revision, parsed)
  std::vector<std::string> log_;
  std::vector<std::string> violations_;
};

}  // namespace
}  // namespace runway::controller::testing

int main(int argc, char** argv) {
  std::uint64_t scenarios = 2000;
  std::uint64_t seed = 1;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--scenarios" && i + 1 < argc) {
      scenarios = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--verbose") {
      verbose = true;
    } else {
      fmt::print(stderr, "usage: {} [--scenarios N] [--seed S] [--verbose]\n", argv[0]);
      return 2;
    }
  }
  spdlog::set_level(verbose ? spdlog::level::info : spdlog::level::off);
  // The store fsyncs every commit; on tmpfs that costs nothing.
  const char* tmpdir = std::getenv("TMPDIR");
  if ((tmpdir == nullptr || *tmpdir == '\0') && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  const auto started = std::chrono::steady_clock::now();
  int failed = 0;
  for (std::uint64_t s = seed; s < seed + scenarios; ++s) {
    runway::controller::testing::Scenario scenario(s, verbose);
    const auto violations = scenario.run();
    if (verbose) fmt::print("scenario {}: {}\n", s, scenario.summary());
    if (violations.empty()) continue;
    ++failed;
    fmt::print("scenario {} FAILED ({}):\n", s, scenario.summary());
    for (const auto& step : scenario.log()) fmt::print("    {}\n", step);
    for (const auto& v : violations) fmt::print("  violation: {}\n", v);
    fmt::print("  replay: {} --scenarios 1 --seed {} --verbose\n", argv[0], s);
    if (failed >= 5) break;
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("{} scenarios from seed {}: {} with violations, {:.1f} s\n", scenarios, seed, failed, took);
  return failed == 0 ? 0 : 1;
}
