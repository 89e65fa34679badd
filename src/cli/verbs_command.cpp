// The client verbs that drive the server: deploy, status, history, rollback, promote, abort,
// retry, pause, resume, approve, reject. Each one is a call of the HTTP API (src/api/v1.cpp);
// -o json prints the server's answer, -o yaml the same data as YAML, table (default) a summary.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "client.hpp"
#include "commands.hpp"
#include "evidence_flags.hpp"
#include "output.hpp"
#include "runway/core/duration.hpp"
#include "status_watch.hpp"

namespace runway::cli {

namespace json = boost::json;

namespace {

// Runs `body` with a client for the command's flags; stores the exit code in ctx.
void withClient(Context& ctx, const ClientFlags& flags, const std::function<int(ApiClient&)>& body) {
  auto settings = resolveClient(flags);
  if (!settings) {
    ctx.exit_code = reportError(settings.error());
    return;
  }
  ApiClient client(*settings);
  ctx.exit_code = body(client);
}

int badName(const char* what, const std::string& s) {
  fmt::print(stderr, "runway: \"{}\" is not a valid {} (letters, digits, '-', '_', '.')\n", s, what);
  return kExitUsage;
}

// "step 2/6 (pause)" for a canary, "" otherwise.
std::string stepText(const json::value& d) {
  const auto& steps = member(d, "steps");
  if (!steps.is_array() || steps.get_array().empty()) return "";
  const auto n = steps.get_array().size();
  const auto i = static_cast<std::size_t>(integer(d, "stepIndex"));
  if (i >= n) return fmt::format("steps {}/{} done", n, n);
  return fmt::format("step {}/{} ({})", i + 1, n, text(steps.get_array()[i], "kind"));
}

std::string readyText(const json::value& d) {
  std::string out;
  const auto& services = member(d, "services");
  if (!services.is_array()) return out;
  for (const auto& s : services.get_array()) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}/{}", text(s, "name"), integer(s, "newReady"), integer(s, "desired"));
  }
  return out;
}

// One progress line for deploy --wait.
std::string progressLine(const json::value& d) {
  std::string line = fmt::format("{}  {} {}  {}", clockTime(), text(d, "id"), text(d, "version"), text(d, "phase"));
  if (auto s = stepText(d); !s.empty()) line += "  " + s;
  if (auto w = weightsText(d); !w.empty()) line += "  weights " + w;
  if (auto r = readyText(d); !r.empty()) line += "  ready " + r;
  if (auto p = text(d, "pauseReason"); !p.empty()) line += "  paused: " + p;
  if (auto a = joinStrings(member(d, "pendingApprovals")); !a.empty()) line += "  awaiting approval by " + a;
  if (auto a = text(d, "abortReason"); !a.empty() && text(d, "phase") != "Succeeded") line += "  why: " + a;
  return line;
}

// What a change in progress is judged by (the timestamp left out).
std::string progressKey(const json::value& d) {
  return fmt::format("{}|{}|{}|{}|{}|{}|{}", text(d, "phase"), stepText(d), weightsText(d), readyText(d),
                     text(d, "pauseReason"), joinStrings(member(d, "pendingApprovals")), text(d, "abortReason"));
}

int finalOutcome(const json::value& d) {
  const std::string phase = text(d, "phase");
  if (phase == "Succeeded") {
    fmt::print(stderr, "deployment {} of {} to {} succeeded\n", text(d, "id"), text(d, "version"),
               text(d, "environment"));
    return kExitOk;
  }
  std::string why = text(d, "abortReason");
  if (phase == "Degraded" && why.empty()) why = "the progress deadline passed; the environment is degraded";
  fmt::print(stderr, "runway: deployment {} of {} to {} ended {}{}\n", text(d, "id"), text(d, "version"),
             text(d, "environment"), phase, why.empty() ? "" : ": " + why);
  return kExitFailed;
}

std::string deploymentText(const json::value& d);

// The live view of deploy --wait on a terminal: the deployment as `status --deployment` shows
// it, redrawn in place.
class LiveView {
 public:
  explicit LiveView(std::size_t width) : screen_(width) {}
  void draw(const json::value& d, std::chrono::steady_clock::duration elapsed) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(elapsed);
    std::string view = fmt::format("{}  following for {}\n", clockTime(),
                                   formatDuration(std::chrono::duration_cast<Duration>(seconds)));
    view += deploymentText(d);
    screen_.draw(view);
  }

 private:
  ScreenRedraw screen_;
};

// Polls the deployment every 500 ms until it ends or `timeout` passes: on a terminal (table
// output) a live view redrawn in place, otherwise a timestamped line whenever progress changes.
int waitFor(ApiClient& client, const std::string& id, Duration timeout, const std::string& format) {
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + timeout;
  const std::size_t width = format == "table" ? terminalWidth() : 0;
  std::optional<LiveView> live;
  if (width > 0) live.emplace(width);
  std::string last;
  for (;;) {
    auto d = client.get("/api/v1/deployments/" + id);
    if (!d) return reportError(d.error());
    if (live) {
      live->draw(*d, std::chrono::steady_clock::now() - started);
    } else if (auto key = progressKey(*d); key != last) {
      last = key;
      // Progress goes to stderr when stdout carries a document (-o json/yaml).
      std::FILE* stream = format == "table" ? stdout : stderr;
      fmt::print(stream, "{}\n", progressLine(*d));
      std::fflush(stream);
    }
    if (isEnded(text(*d, "phase"))) {
      const int code = finalOutcome(*d);
      printStructured(format, *d);
      return code;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      fmt::print(stderr, "runway: timed out after {} waiting for deployment {} (phase {}); it goes on: "
                         "`runway status --deployment {}`\n",
                 formatDuration(timeout), id, text(*d, "phase"), id);
      printStructured(format, *d);
      return kExitFailed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// ---- deploy ---------------------------------------------------------------------------------

void addDeploy(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "deploy", "Deploy VERSION to ENV with its configured strategy (or --strategy); --wait follows it to the end");
  cmd->footer(
      "Exit codes: 0 admitted (with --wait: Succeeded); 1 refused, or with --wait ended RolledBack, Failed, "
      "Rejected, Superseded or Degraded, or timed out; 2 usage; 3 server unreachable or token refused.\n"
      "-o json|yaml prints the server's answer (with --wait: the deployment as it ended, progress on stderr).");
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  struct Opts {
    std::string env, version, strategy, reason, timeout = "30m", commit_time;
    bool force = false, wait = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ENV", o->env, "Environment to deploy to")->required();
  cmd->add_option("VERSION", o->version, "Version to deploy (e.g. v1.2.0)")->required();
  cmd->add_option("--strategy", o->strategy, "Override the environment's strategy: canary, blue-green or rolling")
      ->check(CLI::IsMember({"canary", "blue-green", "rolling"}));
  cmd->add_flag("--force", o->force,
                "Skip the promotion-source check, pre-flight checks, pauses, analysis and check steps "
                "and blue-green promotion gates; approvals, change windows and readiness still apply "
                "(refused where the environment's policy forbids it)");
  cmd->add_option("--reason", o->reason, "Why: recorded on the deployment and in the audit trail");
  cmd->add_option("--commit-time", o->commit_time,
                  "When the change was committed (RFC 3339, e.g. \"$(git show -s --format=%cI)\"): the start "
                  "of its lead time for changes in `runway report delivery`");
  auto evidence = addEvidenceFlags(cmd);
  cmd->add_flag("--wait", o->wait,
                "Follow the deployment until it ends (polled every 500 ms): a live view on a terminal, "
                "else a timestamped line per change of phase, step, weights, readiness or approvals");
  cmd->add_option("--timeout", o->timeout, "With --wait: give up waiting after this long (default 30m)");
  cmd->callback([&ctx, flags, output, o, evidence] {
    auto timeout = parseDuration(o->timeout);
    if (!timeout) {
      fmt::print(stderr, "runway: --timeout: {}\n", timeout.error().message);
      ctx.exit_code = kExitUsage;
      return;
    }
    withClient(ctx, *flags, [&](ApiClient& client) {
      json::object body{{"environment", o->env}, {"version", o->version}, {"force", o->force}};
      if (!o->strategy.empty()) body["strategy"] = o->strategy;
      if (!o->reason.empty()) body["reason"] = o->reason;
      if (!o->commit_time.empty()) body["commitTime"] = o->commit_time;
      if (auto added = addEvidence(*evidence, body); !added) return reportError(added.error());
      auto out = client.post("/api/v1/deployments", body);
      if (!out) return reportError(out.error());
      const std::string id = text(*out, "deployment");
      if (!o->wait) {
        if (printStructured(*output, *out)) return kExitOk;
        fmt::print("deployment {} of {} to {}: {}", id, o->version, o->env, text(*out, "status"));
        if (auto s = text(*out, "superseded"); !s.empty()) fmt::print(" (supersedes {})", s);
        fmt::print("\nFollow it: runway status --deployment {}\n", id);
        return kExitOk;
      }
      std::FILE* stream = *output == "table" ? stdout : stderr;
      fmt::print(stream, "deployment {} of {} to {}: {}\n", id, o->version, o->env, text(*out, "status"));
      return waitFor(client, id, *timeout, *output);
    });
  });
}

// ---- status / history -----------------------------------------------------------------------

void printEnvironment(const json::value& e) {
  const auto& active = member(e, "activeDeployment");
  fmt::print("{}  ({} {}, strategy {}{})\n", text(e, "name"), "application", orDash(text(e, "application")),
             text(e, "strategy"),
             text(e, "promotesFrom").empty() ? "" : ", promotes from " + text(e, "promotesFrom"));
  fmt::print("  current release:   {}\n", orDash(text(e, "currentRelease")));
  if (active.is_object()) {
    fmt::print("  active deployment: {} {} {}\n", text(active, "id"), text(active, "version"), text(active, "phase"));
  } else {
    fmt::print("  active deployment: -\n");
  }
  const auto& services = member(e, "services");
  if (!services.is_array()) return;
  for (const auto& s : services.get_array()) {
    std::string split;
    const auto& traffic = member(s, "traffic");
    if (traffic.is_object()) {
      for (const auto& kv : traffic.get_object()) {
        if (!split.empty()) split += ' ';
        const auto& w = kv.value();
        const double pct = w.is_double() ? w.get_double() : w.is_int64() ? static_cast<double>(w.get_int64()) : 0.0;
        split += fmt::format("{}={:g}%", std::string_view(kv.key()), pct);
      }
    }
    // A listener that terminates TLS is reached with https; its address says so.
    const auto& tls = member(s, "tls");
    const std::string address = text(s, "address").empty() || !(tls.is_bool() && tls.get_bool())
                                    ? text(s, "address")
                                    : "https://" + text(s, "address");
    fmt::print("  service {:<12} {:<28} traffic {}\n", text(s, "name"), orDash(address), orDash(split));
    if (const auto& routes = member(s, "routes"); routes.is_array()) {
      for (const auto& r : routes.get_array()) {
        const bool header = !text(r, "header").empty();
        fmt::print("    route {} {} {} \"{}\" -> {}\n", header ? "header" : "cookie",
                   header ? text(r, "header") : text(r, "cookie"), text(r, "match"), text(r, "value"),
                   text(r, "version"));
      }
    }
    if (const auto& sticky = member(s, "sticky"); sticky.is_object()) {
      fmt::print("    sticky sessions: cookie {} (max age {})\n", text(sticky, "cookie"),
                 text(sticky, "maxAge"));
    }
    if (const auto& achieved = member(s, "achievedTraffic"); achieved.is_object()) {
      std::string actual;
      for (const auto& kv : achieved.get_object()) {
        const auto& w = kv.value();
        const double pct = w.is_double() ? w.get_double() : w.is_int64() ? static_cast<double>(w.get_int64()) : 0.0;
        actual += fmt::format("{}{}={:g}%", actual.empty() ? "" : " ", std::string_view(kv.key()), pct);
      }
      fmt::print("    achieved {} ({})\n", orDash(actual), text(s, "trafficCaveat"));
    }
    const auto& instances = member(s, "instances");
    if (!instances.is_array()) continue;
    for (const auto& i : instances.get_array()) {
      if (!text(i, "pod").empty()) {  // a Kubernetes pod: no pid; where it runs instead
        fmt::print("    {}#{} {:<9} pod {} node {} restarts {}{}{}\n", text(i, "version"), integer(i, "index"),
                   text(i, "state"), text(i, "pod"), orDash(text(i, "node")), integer(i, "restarts"),
                   text(i, "lastExit").empty() ? "" : "  last exit: " + text(i, "lastExit"),
                   text(i, "diagnosis").empty() ? "" : "  why: " + text(i, "diagnosis"));
        continue;
      }
      fmt::print("    {}#{} {:<9} port {} pid {} restarts {}{}\n", text(i, "version"), integer(i, "index"),
                 text(i, "state"), integer(i, "port"), integer(i, "pid"), integer(i, "restarts"),
                 text(i, "lastExit").empty() ? "" : "  last exit: " + text(i, "lastExit"));
    }
  }
}

std::string deploymentText(const json::value& d) {
  std::string out;
  const auto put = std::back_inserter(out);
  fmt::format_to(put, "deployment {}: {} {} to {} ({}){}\n", text(d, "id"), text(d, "application"), text(d, "version"),
             text(d, "environment"), text(d, "strategy"), member(d, "rollback").is_bool() &&
             member(d, "rollback").get_bool() ? " rollback" : "");
  fmt::format_to(put, "  phase:    {}{}\n", text(d, "phase"),
             text(d, "pauseReason").empty() ? "" : " (" + text(d, "pauseReason") + ")");
  fmt::format_to(put, "  stable:   {}\n", orDash(text(d, "stableVersion")));
  fmt::format_to(put, "  started:  {} by {}{}\n", text(d, "createdAt"), orDash(text(d, "startedBy")),
             text(d, "reason").empty() ? "" : ": " + text(d, "reason"));
  fmt::format_to(put, "  updated:  {}\n", text(d, "updatedAt"));
  const auto& evidence = member(d, "evidence");
  if (!text(evidence, "commit").empty() || !text(evidence, "repository").empty()) {
    fmt::format_to(put, "  commit:   {}{}\n", orDash(text(evidence, "commit")),
                   text(evidence, "repository").empty() ? "" : " (" + text(evidence, "repository") + ")");
  }
  if (const auto& attached = member(evidence, "attachments"); attached.is_array()) {
    for (const auto& a : attached.get_array()) {
      fmt::format_to(put, "  attached: {} {} ({} bytes)\n", text(a, "kind"), text(a, "name"), integer(a, "bytes"));
    }
  }
  if (const auto& list = member(d, "checklist"); list.is_object()) {
    fmt::format_to(put, "  checklist: {}\n", text(list, "status"));
    if (const auto& items = member(list, "items"); items.is_array()) {
      for (const auto& i : items.get_array()) {
        const auto& w = member(i, "waiver");
        fmt::format_to(put, "    {:<7} {:<16} {}{}\n", text(i, "status"), text(i, "name"), text(i, "reason"),
                       w.is_object() ? fmt::format(" (waived by {} as {}: {})", text(w, "actor"), text(w, "role"),
                                                   text(w, "comment"))
                                     : std::string());
      }
    }
  }
  if (auto a = text(d, "abortReason"); !a.empty()) fmt::format_to(put, "  result:   {}\n", a);
  const auto& services = member(d, "services");
  if (services.is_array() && !services.get_array().empty()) {
    fmt::format_to(put, "  services:\n");
    for (const auto& s : services.get_array()) {
      fmt::format_to(put, "    {:<12} new ready {}/{} failed {}  stable ready {}  weight {}%\n", text(s, "name"),
                 integer(s, "newReady"), integer(s, "desired"), integer(s, "newFailed"), integer(s, "stableReady"),
                 integer(s, "weight"));
    }
  }
  const auto& steps = member(d, "steps");
  if (steps.is_array() && !steps.get_array().empty()) {
    fmt::format_to(put, "  steps:\n");
    for (const auto& s : steps.get_array()) {
      std::string detail;
      const std::string kind = text(s, "kind");
      if (!member(s, "weight").is_null()) detail = fmt::format("{}%", integer(s, "weight"));
      if (!member(s, "durationMs").is_null() && member(s, "durationMs").is_number()) {
        detail = formatDuration(Duration{integer(s, "durationMs")});
      } else if (member(s, "durationMs").is_null() && kind == "pause") {
        detail = "until promoted";
      }
      if (member(s, "templates").is_array()) detail = joinStrings(member(s, "templates"));
      if (member(s, "roles").is_array()) detail = joinStrings(member(s, "roles"));
      fmt::format_to(put, "    {:>2}. {:<10} {:<16} {}\n", integer(s, "index") + 1, kind, detail, text(s, "status"));
    }
  }
  const auto& runs = member(d, "analysis");
  if (runs.is_array() && !runs.get_array().empty()) {
    fmt::format_to(put, "  analysis:\n");
    for (const auto& r : runs.get_array()) {
      fmt::format_to(put, "    {} ({}, step {}): {}\n", text(r, "run"), text(r, "kind"), integer(r, "step") + 1,
                 text(r, "status"));
      const auto& metrics = member(r, "metrics");
      if (!metrics.is_array()) continue;
      for (const auto& m : metrics.get_array()) {
        fmt::format_to(put, "      {:<20} measurements {} ok {} failed {} inconclusive {} errors {}\n", metricLabel(m),
                   integer(m, "measurements"), integer(m, "successful"), integer(m, "failed"),
                   integer(m, "inconclusive"), integer(m, "errors"));
      }
    }
  }
  const auto& checks = member(d, "checks");
  if (checks.is_array() && !checks.get_array().empty()) {
    fmt::format_to(put, "  checks:\n");
    for (const auto& c : checks.get_array()) {
      fmt::format_to(put, "    {} ({}, step {}): {}\n", text(c, "run"), text(c, "kind"), integer(c, "step") + 1,
                 text(c, "status"));
    }
  }
  const auto pending = joinStrings(member(d, "pendingApprovals"), ", ");
  fmt::format_to(put, "  pending approvals: {}\n", orDash(pending));
  const auto& decisions = member(d, "decisions");
  if (decisions.is_array()) {
    for (const auto& a : decisions.get_array()) {
      const bool approved = member(a, "approved").is_bool() && member(a, "approved").get_bool();
      fmt::format_to(put, "    {} {} as {} at {}{}\n", text(a, "actor"), approved ? "approved" : "rejected", text(a, "role"),
                 text(a, "at"), text(a, "comment").empty() ? "" : ": " + text(a, "comment"));
    }
  }
  return out;
}

void addStatus(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "status",
      "Show environments (current release, active deployment, services, traffic, instances) or one deployment");
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  auto env = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  cmd->add_option("ENV", *env, "Only this environment (default: all)");
  cmd->add_option("--deployment", *id,
                  "Show this deployment instead (steps, services, analysis runs, checks, pending approvals)");
  struct Watch {
    bool watch = false, until_done = false;
    std::string interval = "1s";
  };
  auto w = std::make_shared<Watch>();
  cmd->add_flag("-w,--watch", w->watch,
                "Follow ENV (default: every environment) and its active deployment until Ctrl-C: on a terminal a "
                "view redrawn in place (steps, weights, latest analysis values against their conditions, pending "
                "approvals, bake time elapsed and left), else a timestamped line per change");
  auto* interval_opt = cmd->add_option("--interval", w->interval, "With --watch: how often to poll the server (default 1s, at least 100ms)");
  cmd->add_flag("--until-done", w->until_done,
                "With --watch: stop when the deployments seen active have ended (exit 0 when all succeeded, else 1)");
  cmd->footer(
      "Exit codes: 0 ok (--watch: Ctrl-C, or with --until-done every watched deployment succeeded); 1 with "
      "--until-done a watched deployment ended otherwise; 2 usage; 3 server unreachable or token refused.");
  cmd->callback([&ctx, flags, output, env, id, w, interval_opt] {
    if (w->watch || w->until_done || interval_opt->count() > 0) {
      if (!w->watch) {
        fmt::print(stderr, "runway: --interval and --until-done go with --watch\nRun 'runway status --help' for usage.\n");
        ctx.exit_code = kExitUsage;
        return;
      }
      auto interval = parseDuration(w->interval);
      if (!interval || *interval < Duration{100}) {
        fmt::print(stderr, "runway: --interval: {}\n",
                   interval ? std::string("at least 100ms") : interval.error().message);
        ctx.exit_code = kExitUsage;
        return;
      }
      if (!id->empty() || *output != "table") {
        fmt::print(stderr, "runway: --watch shows environments as a table; it takes no --deployment or -o\n");
        ctx.exit_code = kExitUsage;
        return;
      }
      if (!env->empty() && !validName(*env)) {
        ctx.exit_code = badName("environment name", *env);
        return;
      }
      withClient(ctx, *flags, [&](ApiClient& client) {
        return watchStatus(client, WatchOptions{*env, *interval, w->until_done});
      });
      return;
    }
    if (!env->empty() && !id->empty()) {
      fmt::print(stderr, "runway: give ENV or --deployment, not both\nRun 'runway status --help' for usage.\n");
      ctx.exit_code = kExitUsage;
      return;
    }
    if (!env->empty() && !validName(*env)) {
      ctx.exit_code = badName("environment name", *env);
      return;
    }
    if (!id->empty() && !validName(*id)) {
      ctx.exit_code = badName("deployment id", *id);
      return;
    }
    withClient(ctx, *flags, [&](ApiClient& client) {
      if (!id->empty()) {
        auto d = client.get("/api/v1/deployments/" + *id);
        if (!d) return reportError(d.error());
        if (!printStructured(*output, *d)) fmt::print("{}", deploymentText(*d));
        return kExitOk;
      }
      auto out = client.get(env->empty() ? "/api/v1/environments" : "/api/v1/environments/" + *env);
      if (!out) return reportError(out.error());
      if (printStructured(*output, *out)) return kExitOk;
      if (!env->empty()) {
        printEnvironment(*out);
        return kExitOk;
      }
      bool first = true;
      const auto& envs = member(*out, "environments");
      if (envs.is_array()) {
        for (const auto& e : envs.get_array()) {
          if (!first) fmt::print("\n");
          first = false;
          printEnvironment(e);
        }
      }
      return kExitOk;
    });
  });
}

void addHistory(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("history", "List ENV's deployments, newest first");
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  auto env = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(20);
  cmd->add_option("ENV", *env, "Environment")->required();
  cmd->add_option("--limit", *limit, "How many deployments (1-1000, default 20)")->check(CLI::Range(1, 1000));
  cmd->callback([&ctx, flags, output, env, limit] {
    if (!validName(*env)) {
      ctx.exit_code = badName("environment name", *env);
      return;
    }
    withClient(ctx, *flags, [&](ApiClient& client) {
      auto out = client.get(fmt::format("/api/v1/environments/{}/history?limit={}", *env, *limit));
      if (!out) return reportError(out.error());
      if (printStructured(*output, *out)) return kExitOk;
      fmt::print("{:<22} {:<10} {:<11} {:<10} {:<10} {:<14} {:<26} {}\n", "ID", "VERSION", "PHASE", "FROM", "STRATEGY",
                 "BY", "STARTED", "REASON");
      const auto& list = member(*out, "deployments");
      if (list.is_array()) {
        for (const auto& d : list.get_array()) {
          // abortReason says why a deployment ended other than Succeeded.
          std::string reason = text(d, "phase") == "Succeeded" ? "" : text(d, "abortReason");
          if (reason.empty()) reason = text(d, "reason");
          const bool rb = member(d, "rollback").is_bool() && member(d, "rollback").get_bool();
          if (rb) reason = "rollback" + (reason.empty() ? "" : ": " + reason);
          fmt::print("{:<22} {:<10} {:<11} {:<10} {:<10} {:<14} {:<26} {}\n", text(d, "id"), text(d, "version"),
                     text(d, "phase"), orDash(text(d, "stableVersion")), text(d, "strategy"),
                     orDash(text(d, "startedBy")), text(d, "createdAt"), reason);
        }
        if (list.get_array().empty()) fmt::print(stderr, "no deployments in {} yet\n", *env);
      }
      return kExitOk;
    });
  });
}

// ---- checklist ------------------------------------------------------------------------------

void printCommandResult(const std::string& what, const json::value& d);

// `runway checklist waive DEPLOYMENT_ID ITEM --comment WHY`
CLI::App* addChecklistWaive(CLI::App& checklist, Context& ctx) {
  auto* cmd = checklist.add_subcommand(
      "waive", "Waive a failed item of a deployment's blocked checklist (your token must hold a role of its waivableBy)");
  cmd->footer(
      "The waiver is recorded in the audit log with who, the role and the comment; the deployment goes on once "
      "every failed item is waived.\nExit codes: 0 waived; 1 refused (wrong role, nothing to waive); 2 usage; "
      "3 server unreachable or token refused.");
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  auto id = std::make_shared<std::string>();
  auto item = std::make_shared<std::string>();
  auto comment = std::make_shared<std::string>();
  cmd->add_option("DEPLOYMENT_ID", *id, "The blocked deployment (dep-...)")->required();
  cmd->add_option("ITEM", *item, "The checklist item: codeReview, ciChecks, vulnerabilities, tests or semver")->required();
  cmd->add_option("--comment", *comment, "Why it may be waived: recorded in the audit log")->required();
  cmd->callback([&ctx, flags, output, id, item, comment] {
    if (!validName(*id)) {
      ctx.exit_code = badName("deployment id", *id);
      return;
    }
    withClient(ctx, *flags, [&](ApiClient& client) {
      json::object body{{"item", *item}, {"comment", *comment}};
      auto out = client.post(fmt::format("/api/v1/deployments/{}/checklist/waive", *id), body);
      if (!out) return reportError(out.error());
      if (printStructured(*output, *out)) return kExitOk;
      printCommandResult("waived " + *item, *out);
      return kExitOk;
    });
  });
  return cmd;
}

void addChecklist(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "checklist", "Judge ENV's pre-deployment checklist for VERSION and its evidence now, before deploying");
  cmd->footer(
      "The server judges each item of the environment's `checklist:` (docs/checklist.md) against the evidence "
      "given here (the same --commit, --repo and --attach as runway deploy) and what ENV serves now.\n"
      "Exit codes: 0 every item passed; 1 an item failed; 2 usage or invalid evidence; 3 server unreachable or "
      "token refused.");
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  auto env = std::make_shared<std::string>();
  auto version = std::make_shared<std::string>();
  // Required unless `waive` is asked for (checked in the callback).
  cmd->add_option("ENV", *env, "Environment");
  cmd->add_option("VERSION", *version, "Version to judge (e.g. v1.2.0)");
  auto evidence = addEvidenceFlags(cmd);
  auto* waive = addChecklistWaive(*cmd, ctx);
  cmd->callback([&ctx, flags, output, env, version, evidence, waive] {
    if (waive->parsed()) return;
    if (env->empty() || version->empty()) {
      fmt::print(stderr, "runway checklist: ENV and VERSION are required (or: runway checklist waive DEPLOYMENT_ID ITEM)\n");
      ctx.exit_code = kExitUsage;
      return;
    }
    if (!validName(*env)) {
      ctx.exit_code = badName("environment name", *env);
      return;
    }
    withClient(ctx, *flags, [&](ApiClient& client) {
      json::object body{{"version", *version}};
      if (auto added = addEvidence(*evidence, body); !added) return reportError(added.error());
      auto out = client.post(fmt::format("/api/v1/environments/{}/checklist", *env), body);
      if (!out) return reportError(out.error());
      const bool passed = member(*out, "passed").is_bool() && member(*out, "passed").get_bool();
      if (printStructured(*output, *out)) return passed ? kExitOk : kExitFailed;
      const auto& items = member(*out, "items");
      fmt::print("checklist {} {} (serving {})\n", *env, *version, orDash(text(*out, "currentRelease")));
      fmt::print("{:<8} {:<16} {}\n", "STATUS", "ITEM", "REASON");
      std::string first_failure;
      if (items.is_array()) {
        for (const auto& i : items.get_array()) {
          fmt::print("{:<8} {:<16} {}\n", text(i, "status"), text(i, "name"), text(i, "reason"));
          if (first_failure.empty() && text(i, "status") == "failed") {
            first_failure = text(i, "name") + ": " + text(i, "reason");
          }
        }
        if (items.get_array().empty()) fmt::print("(no checklist configured for {})\n", *env);
      }
      if (passed) {
        fmt::print("PASSED\n");
        return kExitOk;
      }
      fmt::print("FAILED: {}\n", first_failure);
      return kExitFailed;
    });
  });
}

// ---- rollback -------------------------------------------------------------------------------

void addRollback(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "rollback", "Roll ENV back to VERSION, or without VERSION to the previous successful release");
  cmd->footer(
      "Asks for confirmation on a terminal unless --yes or --auto is given; when stdin is not a terminal "
      "one of them is required.\nExit codes: 0 rollback started; 1 refused or declined; 2 usage; 3 server "
      "unreachable or token refused.");
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  struct Opts {
    std::string env, version, reason;
    bool force = false, emergency = false, automatic = false, yes = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ENV", o->env, "Environment")->required();
  cmd->add_option("VERSION", o->version, "Version to go back to (default: the previous successful release)");
  cmd->add_option("--reason", o->reason, "Why: recorded on the rollback and in the audit trail");
  cmd->add_flag("--force", o->force,
                "Skip pre-flight checks, pauses, analysis and check steps and blue-green promotion gates; "
                "approvals are not needed for a rollback, change windows still apply (refused where "
                "policy forbids it)");
  cmd->add_flag("--emergency", o->emergency, "Bypass the change window or a freeze");
  cmd->add_flag("--auto", o->automatic, "Automated rollback (scripts, alert hooks): never ask for confirmation");
  cmd->add_flag("-y,--yes", o->yes, "Do not ask for confirmation");
  cmd->callback([&ctx, flags, output, o] {
    if (!validName(o->env)) {
      ctx.exit_code = badName("environment name", o->env);
      return;
    }
    const bool ask = !o->automatic && !o->yes;
    if (ask && ::isatty(STDIN_FILENO) == 0) {
      fmt::print(stderr,
                 "runway: rollback needs confirmation and stdin is not a terminal; pass --yes (or --auto) to "
                 "roll back {} without asking\n",
                 o->env);
      ctx.exit_code = kExitUsage;
      return;
    }
    withClient(ctx, *flags, [&](ApiClient& client) {
      if (ask) {
        auto env = client.get("/api/v1/environments/" + o->env);
        if (!env) return reportError(env.error());
        const std::string current = orDash(text(*env, "currentRelease"));
        const std::string target = o->version.empty() ? "the previous successful release" : o->version;
        fmt::print(stderr, "Roll back {} from {} to {}{}{}? [y/N] ", o->env, current, target,
                   o->force ? " (forced: skipping checks, pauses and analysis)" : "",
                   o->emergency ? " (emergency: ignoring change windows and freezes)" : "");
        std::fflush(stderr);
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y" && answer != "yes" && answer != "YES" && answer != "Yes") {
          fmt::print(stderr, "runway: rollback of {} cancelled\n", o->env);
          return kExitFailed;
        }
      }
      json::object body{{"force", o->force}, {"emergency", o->emergency}};
      if (!o->version.empty()) body["version"] = o->version;
      if (!o->reason.empty()) body["reason"] = o->reason;
      auto out = client.post("/api/v1/environments/" + o->env + "/rollback", body);
      if (!out) return reportError(out.error());
      if (printStructured(*output, *out)) return kExitOk;
      fmt::print("rollback {} of {}: {} \u2192 {} ({})\n", text(*out, "deployment"), o->env,
                 orDash(text(*out, "from")), text(*out, "to"), text(*out, "status"));
      if (!o->reason.empty()) fmt::print("reason: {}\n", o->reason);
      if (auto s = text(*out, "superseded"); !s.empty()) fmt::print("aborts deployment {}\n", s);
      fmt::print("Follow it: runway status --deployment {}\n", text(*out, "deployment"));
      return kExitOk;
    });
  });
}

// ---- scale ----------------------------------------------------------------------------------

void addScale(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("scale", "Set the instance count of SERVICE in ENV (local processes or Kubernetes pods)");
  cmd->footer(
      "Scales the current release (or --version). Refused while a deployment of ENV is active. The next "
      "deployment sets the configured count again.\nExit codes: 0 scaled; 1 refused; 2 usage; 3 server "
      "unreachable or token refused.");
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  struct Opts {
    std::string env, service, version;
    int instances = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ENV", o->env, "Environment")->required();
  cmd->add_option("SERVICE", o->service, "Service")->required();
  cmd->add_option("N", o->instances, "Instances")->required()->check(CLI::Range(0, 1000));
  cmd->add_option("--version", o->version, "Version to scale (default: the current release)");
  cmd->callback([&ctx, flags, output, o] {
    if (!validName(o->env)) {
      ctx.exit_code = badName("environment name", o->env);
      return;
    }
    withClient(ctx, *flags, [&](ApiClient& client) {
      json::object body{{"service", o->service}, {"instances", o->instances}};
      if (!o->version.empty()) body["version"] = o->version;
      auto out = client.post("/api/v1/environments/" + o->env + "/scale", body);
      if (!out) return reportError(out.error());
      if (printStructured(*output, *out)) return kExitOk;
      fmt::print("{} {} in {} scaled to {}\n", o->service, text(*out, "version"), o->env, o->instances);
      return kExitOk;
    });
  });
}

// ---- operator commands and approvals --------------------------------------------------------

void printCommandResult(const std::string& what, const json::value& d) {
  fmt::print("{}: deployment {} of {} to {} is {}\n", what, text(d, "id"), text(d, "version"),
             text(d, "environment"), text(d, "phase"));
}

void addOperatorCommand(CLI::App& app, Context& ctx, const char* name, const char* help) {
  auto* cmd = app.add_subcommand(name, help);
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  auto env = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto full = std::make_shared<bool>(false);
  const std::string verb = name;
  cmd->add_option("ENV", *env, "Environment whose active deployment to act on")->required();
  cmd->add_option("--reason", *reason, "Why: recorded in the audit trail");
  if (verb == "promote") {
    cmd->add_flag("--full", *full, "Skip every remaining step and send all traffic to the new version now");
  }
  cmd->callback([&ctx, flags, output, env, reason, full, verb] {
    if (!validName(*env)) {
      ctx.exit_code = badName("environment name", *env);
      return;
    }
    const std::string action = verb == "promote" && *full ? "promote-full" : verb;
    withClient(ctx, *flags, [&](ApiClient& client) {
      json::object body;
      if (!reason->empty()) body["reason"] = *reason;
      auto out = client.post(fmt::format("/api/v1/environments/{}/{}", *env, action), body);
      if (!out) return reportError(out.error());
      if (!printStructured(*output, *out)) printCommandResult(action, *out);
      return kExitOk;
    });
  });
}

void addDecision(CLI::App& app, Context& ctx, bool approve) {
  auto* cmd = app.add_subcommand(
      approve ? "approve" : "reject",
      approve ? "Approve the deployment waiting for approval in ENV (or DEPLOYMENT_ID)"
              : "Reject the deployment waiting for approval in ENV (or DEPLOYMENT_ID); it ends Rejected");
  auto flags = addClientFlags(cmd);
  auto output = addOutputFlag(cmd);
  auto target = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>();
  auto comment = std::make_shared<std::string>();
  cmd->add_option("TARGET", *target, "An environment, or a deployment id (starts with \"dep-\")")->required();
  cmd->add_option("--as", *role,
                  "The approver role to act as (your token must hold it; default: the one the gate needs)");
  cmd->add_option("--comment", *comment, "A comment recorded with the decision");
  cmd->callback([&ctx, flags, output, target, role, comment, approve] {
    if (!validName(*target)) {
      ctx.exit_code = badName("environment or deployment id", *target);
      return;
    }
    const bool by_id = target->rfind("dep-", 0) == 0;
    const std::string verb = approve ? "approve" : "reject";
    withClient(ctx, *flags, [&](ApiClient& client) {
      json::object body;
      if (!role->empty()) body["role"] = *role;
      if (!comment->empty()) body["comment"] = *comment;
      auto out = client.post(
          fmt::format("/api/v1/{}/{}/{}", by_id ? "deployments" : "environments", *target, verb), body);
      if (!out) return reportError(out.error());
      if (printStructured(*output, *out)) return kExitOk;
      printCommandResult(approve ? "approved" : "rejected", *out);
      if (auto p = joinStrings(member(*out, "pendingApprovals"), ", "); !p.empty()) {
        fmt::print("still waiting for: {}\n", p);
      }
      return kExitOk;
    });
  });
}

}  // namespace

void addVerbCommands(CLI::App& app, Context& ctx) {
  addDeploy(app, ctx);
  addStatus(app, ctx);
  addHistory(app, ctx);
  addChecklist(app, ctx);
  addRollback(app, ctx);
  addScale(app, ctx);
  addOperatorCommand(app, ctx, "promote",
                     "Promote ENV's active deployment: end the current pause, accept an inconclusive analysis or switch "
                     "a blue-green awaiting promotion (--full: skip every remaining step and analysis)");
  addOperatorCommand(app, ctx, "abort", "Abort ENV's active deployment: traffic back to stable, new version retired");
  addOperatorCommand(app, ctx, "retry", "Retry ENV's rolled-back deployment from its first step");
  addOperatorCommand(app, ctx, "pause", "Pause ENV's progressing deployment where it is (a timed pause keeps its remaining time)");
  addOperatorCommand(app, ctx, "resume", "Resume ENV's deployment paused by an operator, or accept an inconclusive analysis and go on");
  addDecision(app, ctx, true);
  addDecision(app, ctx, false);
}

}  // namespace runway::cli
