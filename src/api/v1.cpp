#include "runway/api/v1.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/api/openapi.hpp"
#include "runway/api/reports.hpp"
#include "alerts_api.hpp"
#include "incidents_api.hpp"
#include "logs_api.hpp"
#include "runway/api/tokens.hpp"
#include "runway/core/duration.hpp"
#include "runway/core/suggest.hpp"
#include "runway/engine/engine.hpp"
#include "runway/engine/spec.hpp"
#include "runway/notify/message.hpp"
#include "runway/runtime/local_runtime.hpp"
#include "runway/runtime/runtime.hpp"
#include "runway/store/evidence.hpp"

namespace runway::api {
namespace {

namespace json = boost::json;
using controller::Actor;
using Ctx = std::shared_ptr<ApiContext>;

std::string ts(TimePoint t) { return formatTimestamp(t); }
json::value optTs(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return json::value(formatTimestamp(*t));
}

HttpResponse ok(const json::value& v, int status = 200) {
  return HttpResponse::json(status, json::serialize(v));
}

HttpResponse error(const HttpRequest& req, const Error& e, std::string_view details = "{}") {
  return errorResponse(e, req.request_id, details);
}

Actor actorOf(const HttpRequest& req) {
  Actor a;
  if (req.identity) {
    a.name = req.identity->name;
    a.roles = req.identity->roles;
  }
  return a;
}

// A JSON request body: an object whose members are all in `allowed`. Empty body = {}.
Result<json::object> body(const HttpRequest& req, std::initializer_list<std::string_view> allowed) {
  if (req.body.empty()) return json::object{};
  json::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec) return fail(ErrorCode::InvalidArgument, "request body is not JSON: " + ec.message());
  if (!v.is_object()) return fail(ErrorCode::InvalidArgument, "request body must be a JSON object");
  std::vector<std::string> names(allowed.begin(), allowed.end());
  for (const auto& kv : v.get_object()) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      std::string msg = fmt::format("unknown field \"{}\"", std::string_view(kv.key()));
      if (auto s = closestMatch(kv.key(), names)) msg += fmt::format(" (did you mean \"{}\"?)", *s);
      return fail(ErrorCode::InvalidArgument, msg);
    }
  }
  return std::move(v.get_object());
}

Result<std::string> str(const json::object& o, std::string_view key, bool required = false) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return fail(ErrorCode::InvalidArgument, fmt::format("field \"{}\" is required", key));
    return std::string();
  }
  if (!v->is_string()) return fail(ErrorCode::InvalidArgument, fmt::format("field \"{}\" must be a string", key));
  return std::string(v->get_string());
}

Result<bool> boolean(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return false;
  if (!v->is_bool()) return fail(ErrorCode::InvalidArgument, fmt::format("field \"{}\" must be true or false", key));
  return v->get_bool();
}

Result<std::vector<std::string>> strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return fail(ErrorCode::InvalidArgument, fmt::format("field \"{}\" must be an array of strings", key));
  for (const auto& x : v->get_array()) {
    if (!x.is_string()) return fail(ErrorCode::InvalidArgument, fmt::format("field \"{}\" must be an array of strings", key));
    out.emplace_back(x.get_string());
  }
  return out;
}

// An integer query parameter in 1..max (`fallback` when absent). Anything else is refused, as
// the OpenAPI document says: silently clamping limit=0 or ignoring limit=abc hid the caller's
// mistake behind a 200.
Result<int> queryInt(const HttpRequest& req, const std::string& key, int fallback, int max) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return fallback;
  const std::string& text = it->second;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 1 || value > max) {
    return fail(ErrorCode::InvalidArgument, fmt::format("{} must be an integer from 1 to {}, got \"{}\"", key, max, text));
  }
  return value;
}

// A boolean query parameter: "true" or "false" (`fallback` when absent).
Result<bool> queryBool(const HttpRequest& req, const std::string& key, bool fallback) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  return fail(ErrorCode::InvalidArgument, fmt::format("{} must be true or false, got \"{}\"", key, it->second));
}

std::string query(const HttpRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

// ---- views --------------------------------------------------------------------------------

json::array stepsJson(const engine::DeploymentState& s) {
  json::array steps;
  if (!s.spec || s.strategy != config::StrategyKind::Canary) return steps;
  for (std::size_t i = 0; i < s.spec->steps.size(); ++i) {
    const auto& st = s.spec->steps[i];
    json::object o{{"index", i}, {"kind", engine::stepKindName(st.kind)}};
    switch (st.kind) {
      case config::CanaryStep::Kind::SetWeight: o["weight"] = st.weight; break;
      case config::CanaryStep::Kind::Pause:
        o["durationMs"] = st.pause ? json::value(st.pause->count()) : json::value(nullptr);
        break;
      case config::CanaryStep::Kind::Analysis: {
        json::array t;
        for (const auto& n : st.analysis.templates) t.emplace_back(n);
        o["templates"] = std::move(t);
        break;
      }
      case config::CanaryStep::Kind::Approval: {
        json::array r;
        for (const auto& n : st.approval) r.emplace_back(n);
        o["roles"] = std::move(r);
        break;
      }
      case config::CanaryStep::Kind::Checks:
        o["smoke"] = st.checks.smoke;
        o["health"] = st.checks.health;
        break;
      case config::CanaryStep::Kind::SetHeaderRoute:
        o["header"] = st.route.header;
        o["cookie"] = st.route.cookie;
        o["value"] = st.route.value;
        break;
    }
    const int idx = static_cast<int>(i);
    std::string status = "pending";
    if (idx < s.step_index) status = "completed";
    if (idx == s.step_index && !engine::isTerminal(s.phase)) status = "running";
    if (s.phase == engine::Phase::Succeeded) status = "completed";
    o["status"] = status;
    steps.push_back(std::move(o));
  }
  return steps;
}

std::vector<std::string> pendingRoles(const engine::DeploymentState& s) {
  std::vector<std::string> needed;
  if (s.phase != engine::Phase::AwaitingApproval || !s.spec) return needed;
  if (s.approval_gate == engine::kStartGate) {
    needed = s.spec->approval_roles;
  } else if (s.approval_gate >= 0 && static_cast<std::size_t>(s.approval_gate) < s.spec->steps.size()) {
    needed = s.spec->steps[static_cast<std::size_t>(s.approval_gate)].approval;
  }
  std::erase_if(needed, [&](const std::string& role) {
    return std::any_of(s.approvals.begin(), s.approvals.end(), [&](const engine::ApprovalRecord& a) {
      return a.gate == s.approval_gate && a.role == role;
    });
  });
  return needed;
}

// The release evidence of a deployment: commit, repository and the attachments by kind with
// their file name and size; with `contents`, each attachment's text too (GET .../evidence).
json::object evidenceJson(const std::string& stored, bool contents) {
  json::object o{{"commit", nullptr}, {"repository", nullptr}, {"attachments", json::array{}}};
  auto e = store::parseEvidence(stored);
  if (!e) return o;
  if (!e->commit.empty()) o["commit"] = e->commit;
  if (!e->repository.empty()) o["repository"] = e->repository;
  json::array list;
  for (const auto& a : e->attachments) {
    json::object item{{"kind", a.kind}, {"name", a.name}, {"bytes", a.content.size()}};
    if (contents) item["content"] = a.content;
    list.push_back(std::move(item));
  }
  o["attachments"] = std::move(list);
  return o;
}

// The "attachments" member of a deploy request: {"KIND": {"name": "FILE", "content": "TEXT"}}.
Result<std::vector<store::Attachment>> attachmentsOf(const json::object& b) {
  std::vector<store::Attachment> out;
  const auto* a = b.if_contains("attachments");
  if (a == nullptr || a->is_null()) return out;
  const auto shape = [] {
    return fail(ErrorCode::InvalidArgument,
                "attachments must map a kind (vulnerabilities, tests, changelog) to {\"name\", \"content\"}");
  };
  if (!a->is_object()) return shape();
  for (const auto& kv : a->get_object()) {
    if (!kv.value().is_object()) return shape();
    const auto& item = kv.value().get_object();
    auto name = str(item, "name", true);
    auto content = str(item, "content", true);
    if (!name) return fail(ErrorCode::InvalidArgument, fmt::format("attachments.{}: {}", std::string_view(kv.key()), name.error().message));
    if (!content) return fail(ErrorCode::InvalidArgument, fmt::format("attachments.{}: {}", std::string_view(kv.key()), content.error().message));
    out.push_back(store::Attachment{std::string(kv.key()), std::move(*name), std::move(*content)});
  }
  return out;
}

// The release evidence of a request body: "commit", "repository", "attachments". Validated by
// whoever uses it (store::validateEvidence).
Result<store::ReleaseEvidence> evidenceOf(const json::object& b) {
  store::ReleaseEvidence e;
  auto commit = str(b, "commit");
  if (!commit) return fail(commit.error());
  auto repository = str(b, "repository");
  if (!repository) return fail(repository.error());
  auto attachments = attachmentsOf(b);
  if (!attachments) return fail(attachments.error());
  e.commit = std::move(*commit);
  e.repository = std::move(*repository);
  e.attachments = std::move(*attachments);
  return e;
}

// A deployment's pre-deployment checklist (docs/checklist.md): null when it has none.
json::value checklistJson(const std::optional<controller::ChecklistState>& c) {
  if (!c) return nullptr;
  json::array items;
  for (const auto& i : c->items) {
    const auto* w = c->waiverFor(i.name);
    json::object item{{"name", i.name},
                      {"status", i.passed ? "passed" : w != nullptr ? "waived" : "failed"},
                      {"reason", i.reason}};
    if (w != nullptr && !i.passed) {
      item["waiver"] = json::object{{"actor", w->actor}, {"role", w->role}, {"comment", w->comment}, {"at", ts(w->at)}};
    }
    items.push_back(std::move(item));
  }
  return json::object{{"status", controller::toString(c->status)},
                      {"runs", c->runs},
                      {"judgedAt", c->items.empty() ? json::value(nullptr) : json::value(ts(c->judged_at))},
                      {"items", std::move(items)}};
}

json::object deploymentJson(const store::DeploymentRecord& r, const config::Config* config = nullptr) {
  json::object o{{"id", r.id},
                 {"environment", r.environment},
                 {"application", r.application},
                 {"version", r.version},
                 {"phase", r.phase},
                 {"revision", r.revision},
                 {"createdAt", ts(r.created_at)},
                 {"updatedAt", ts(r.updated_at)}};
  o["evidence"] = evidenceJson(r.evidence_json, false);
  auto doc = controller::parsePersisted(r.state_json);
  if (!doc) return o;
  const auto& s = doc->state;
  o["queued"] = doc->queued;
  o["rollback"] = doc->rollback;
  o["startedBy"] = doc->requested_by;
  o["reason"] = doc->reason;
  o["commitTime"] = optTs(doc->commit_time);
  o["stableVersion"] = s.stable_version;
  o["attempt"] = s.attempt;
  o["strategy"] = engine::strategyName(s.strategy);
  o["pauseReason"] = s.phase == engine::Phase::Paused ? json::value(engine::toString(s.pause_reason))
                                                       : json::value(nullptr);
  o["abortReason"] = s.abort_reason;
  o["stepIndex"] = s.step_index;
  o["canaryWeight"] = s.canary_weight;
  o["watching"] = s.watching;
  o["steps"] = stepsJson(s);
  json::array services;
  for (const auto& sv : s.services) {
    services.push_back(json::object{{"name", sv.name},
                                    {"desired", sv.desired},
                                    {"newReady", sv.new_ready},
                                    {"newFailed", sv.new_failed},
                                    {"stableReady", sv.stable_ready},
                                    {"weight", sv.traffic_weight},
                                    {"appliedWeight", sv.applied_weight}});
  }
  o["services"] = std::move(services);
  json::array runs;
  for (const auto& run : s.runs) {
    json::array metrics;
    for (const auto& m : run.metrics) {
      json::object mo{{"metric", m.metric},
                      {"service", m.service},
                      {"status", engine::toString(m.status)},
                      {"dryRun", m.dry_run},
                      {"measurements", m.measurements},
                      {"successful", m.successful},
                      {"failed", m.failed},
                      {"inconclusive", m.inconclusive},
                      {"errors", m.errors},
                      {"latest", nullptr}};
      if (auto l = doc->latest.find(controller::latestKey(run.id, m.service, m.metric)); l != doc->latest.end()) {
        mo["latest"] = json::object{{"value", l->second.value}, {"outcome", l->second.outcome}, {"at", ts(l->second.at)}};
      }
      if (config != nullptr) {
        for (const auto& t : config->templates) {
          for (const auto& spec : t.metrics) {
            if (spec.name != m.metric) continue;
            mo["failureCondition"] = spec.failure_condition;
            mo["successCondition"] = spec.success_condition;
          }
        }
      }
      metrics.push_back(std::move(mo));
    }
    runs.push_back(json::object{{"run", run.id},
                                {"kind", engine::toString(run.kind)},
                                {"step", run.step},
                                {"status", engine::toString(run.status)},
                                {"metrics", std::move(metrics)}});
  }
  o["analysis"] = std::move(runs);
  json::array checks;
  for (const auto& c : s.checks) {
    checks.push_back(json::object{{"run", c.id},
                                  {"kind", engine::toString(c.kind)},
                                  {"step", c.step},
                                  {"status", engine::toString(c.status)}});
  }
  o["checks"] = std::move(checks);
  json::array approvals;
  for (const auto& a : s.approvals) {
    approvals.push_back(json::object{{"gate", a.gate}, {"role", a.role}, {"actor", a.actor}, {"at", ts(a.at)}});
  }
  o["approvals"] = std::move(approvals);
  json::array pending;
  for (const auto& role : pendingRoles(s)) pending.emplace_back(role);
  o["pendingApprovals"] = std::move(pending);
  o["checklist"] = checklistJson(doc->checklist);
  o["deadlines"] = json::object{{"pauseUntil", optTs(s.pause_until)},
                                {"verificationUntil", optTs(s.verification_until)},
                                {"autoPromoteAt", optTs(s.auto_promote_at)},
                                {"approvalDeadline", optTs(s.approval_deadline)},
                                {"windowOpensAt", optTs(s.window_opens_at)},
                                {"progressDeadline", optTs(s.progress_deadline_at)},
                                {"watchUntil", optTs(s.watch_until)}};
  return o;
}

json::object eventJson(const store::EventRecord& e) {
  json::error_code ec;
  json::value data = json::parse(e.data_json, ec);
  if (ec) data = json::object{};
  return json::object{{"seq", e.seq},         {"at", ts(e.at)},     {"actor", e.actor},
                      {"kind", e.kind},       {"subject", e.subject}, {"reason", e.reason},
                      {"data", std::move(data)}, {"hash", e.hash}};
}

// ---- handlers -----------------------------------------------------------------------------

// Where a local runtime writes an instance's output (`runway logs` reads it); null elsewhere.
json::value logPathOf(runtime::Runtime& rt, const std::string& env, const std::string& service,
                      const std::string& version, int index) {
  auto path = rt.instanceLogPath(env, service, version, index);
  if (!path) return nullptr;
  return json::value(*path);
}

// Kubernetes with traffic: replicas (no gateway): while a split is partial the stable Service
// selects every version's pods, so connections follow the Ready pods, not the weights
// (docs/kubernetes.md). The split that achieves (per mille) and why; nullopt where the split is
// applied as asked.
std::optional<std::pair<std::map<std::string, int>, std::string>> replicaRatio(
    const config::Environment& env, const std::map<std::string, int>& requested,
    const std::vector<runtime::InstanceInfo>& instances) {
  if (env.runtime.kind != config::RuntimeSpec::Kind::Kubernetes ||
      env.runtime.kubernetes.traffic != config::KubernetesRuntime::Traffic::Replicas) {
    return std::nullopt;
  }
  if (std::count_if(requested.begin(), requested.end(), [](const auto& w) { return w.second > 0; }) < 2) {
    return std::nullopt;  // one version has it all: the Service selects only it
  }
  std::map<std::string, int> ready;
  int total = 0;
  for (const auto& i : instances) {
    if (i.state != runtime::InstanceState::Ready) continue;
    ++ready[i.version];
    ++total;
  }
  std::map<std::string, int> achieved;
  std::string pods;
  for (const auto& [version, n] : ready) {
    achieved[version] = n * 1000 / total;
    pods += fmt::format("{}{} {}", pods.empty() ? "" : ", ", version, n);
  }
  if (!achieved.empty()) {  // rounding: the largest share takes the rest, so they sum to 1000
    int sum = 0;
    auto largest = achieved.begin();
    for (auto it = achieved.begin(); it != achieved.end(); ++it) {
      sum += it->second;
      if (it->second > largest->second) largest = it;
    }
    largest->second += 1000 - sum;
  }
  std::string asked;
  for (const auto& [version, w] : requested) asked += fmt::format("{}{}={:g}%", asked.empty() ? "" : " ", version, w / 10.0);
  return std::pair{std::move(achieved),
                   total == 0 ? std::string("traffic: replicas: no pod is Ready, so no version gets any traffic")
                              : fmt::format("traffic: replicas: the stable Service spreads connections over every "
                                            "Ready pod ({} Ready), not by the weights asked for ({}); use "
                                            "traffic: httproute for exact weights",
                                            pods, asked)};
}

HttpResponse environmentsView(const Ctx& c, const HttpRequest& req, const std::string& only) {
  auto cfg = c->controller->config();
  json::array envs;
  for (const auto& env : cfg->environments) {
    if (!only.empty() && env.name != only) continue;
    json::object o{{"name", env.name},
                   {"strategy", engine::strategyName(env.strategy)},
                   {"promotesFrom", env.promotes_from},
                   {"runtime", config::toString(env.runtime.kind)}};
    const auto* app = cfg->applicationFor(env);
    o["application"] = app != nullptr ? app->name : "";
    auto current = controller::currentRelease(*c->store, env.name);
    o["currentRelease"] = current ? *current : "";
    auto recent = c->store->listDeployments(store::DeploymentFilter{env.name, "", "", 20});
    json::value active = nullptr;
    if (recent) {
      for (const auto& r : *recent) {
        auto doc = controller::parsePersisted(r.state_json);
        if (doc && !doc->queued && !engine::isTerminal(doc->state.phase)) {
          active = json::object{{"id", r.id}, {"version", r.version}, {"phase", r.phase}};
          break;
        }
      }
    }
    o["activeDeployment"] = std::move(active);
    json::array services;
    if (app != nullptr) {
      for (const auto& svc : app->services) {
        json::object so{{"name", svc.name}};
        auto address = c->runtime->serviceAddress(env.name, svc.name);
        so["address"] = address ? json::value(*address) : json::value(nullptr);
        so["tls"] = env.traffic.listener && env.traffic.listener->tls;
        // Percent; whole numbers as integers (Boost.JSON writes 100.0 as 1E2).
        const auto percent = [](const std::map<std::string, int>& per_mille) {
          json::object out;
          for (const auto& [v, w] : per_mille) out[v] = w % 10 == 0 ? json::value(w / 10) : json::value(w / 10.0);
          return out;
        };
        auto split = c->runtime->traffic(env.name, svc.name);
        auto list = c->runtime->instances(env.name, svc.name);
        so["traffic"] = split ? percent(split->weights) : json::object{};
        // What the router does besides the weights: A/B routes and sticky sessions.
        json::array routes;
        if (split) {
          for (const auto& r : split->routes) {
            routes.push_back(json::object{
                {r.header.empty() ? "cookie" : "header", r.header.empty() ? r.cookie : r.header},
                {"match", r.match == runtime::TrafficRoute::Match::Exact    ? "exact"
                          : r.match == runtime::TrafficRoute::Match::Prefix ? "prefix"
                                                                             : "regex"},
                {"value", r.value},
                {"version", r.version}});
          }
        }
        so["routes"] = std::move(routes);
        so["sticky"] = split && !split->sticky_cookie.empty()
                           ? json::value(json::object{
                                 {"cookie", split->sticky_cookie},
                                 {"maxAge", formatDuration(split->sticky_max_age)}})
                           : json::value(nullptr);
        json::value achieved = nullptr;
        json::value caveat = nullptr;
        if (split && list) {
          if (auto a = replicaRatio(env, split->weights, *list)) {
            achieved = percent(a->first);
            caveat = json::value(a->second);
          }
        }
        so["achievedTraffic"] = std::move(achieved);
        so["trafficCaveat"] = std::move(caveat);
        json::array instances;
        if (list) {
          for (const auto& i : *list) {
            instances.push_back(json::object{{"version", i.version},
                                             {"index", i.index},
                                             {"state", runtime::toString(i.state)},
                                             {"port", i.port},
                                             {"pid", i.pid},
                                             {"restarts", i.restarts},
                                             {"lastExit", i.last_exit},
                                             {"pod", i.pod},
                                             {"node", i.node},
                                             {"diagnosis", i.diagnosis},
                                             {"logPath", logPathOf(*c->runtime, env.name, svc.name, i.version, i.index)}});
          }
        }
        so["instances"] = std::move(instances);
        services.push_back(std::move(so));
      }
    }
    o["services"] = std::move(services);
    envs.push_back(std::move(o));
  }
  if (!only.empty()) {
    if (envs.empty()) {
      return error(req, Error{ErrorCode::NotFound, "no environment named \"" + only + "\""});
    }
    return ok(envs.front());
  }
  return ok(json::object{{"environments", std::move(envs)}});
}

HttpResponse listDeployments(const Ctx& c, const HttpRequest& req) {
  store::DeploymentFilter f;
  f.environment = query(req, "environment");
  f.phase = query(req, "phase");
  f.version = query(req, "version");
  auto limit = queryInt(req, "limit", 50, 1000);
  if (!limit) return error(req, limit.error());
  f.limit = *limit;
  auto list = c->store->listDeployments(f);
  if (!list) return error(req, list.error());
  json::array out;
  for (const auto& r : *list) out.push_back(deploymentJson(r, c->controller->config().get()));
  return ok(json::object{{"deployments", std::move(out)}});
}

// GET /api/v1/deployments/{id}/evidence: the release evidence with the attachments' contents.
HttpResponse getEvidence(const Ctx& c, const HttpRequest& req) {
  auto r = c->store->getDeployment(req.params.at("id"));
  if (!r) return error(req, r.error());
  json::object o = evidenceJson(r->evidence_json, true);
  o["deployment"] = r->id;
  return ok(o);
}

HttpResponse getDeployment(const Ctx& c, const HttpRequest& req) {
  auto r = c->store->getDeployment(req.params.at("id"));
  if (!r) return error(req, r.error());
  json::object o = deploymentJson(*r, c->controller->config().get());
  auto events = c->store->listEvents(store::EventFilter{0, r->id, 1000});
  json::array ev;
  if (events) {
    for (const auto& e : *events) ev.push_back(eventJson(e));
  }
  o["events"] = std::move(ev);
  auto approvals = c->store->listApprovals(r->id);
  json::array ap;
  if (approvals) {
    for (const auto& a : *approvals) {
      ap.push_back(json::object{{"actor", a.actor}, {"role", a.role}, {"approved", a.approved},
                                {"comment", a.comment}, {"at", ts(a.at)}});
    }
  }
  o["decisions"] = std::move(ap);
  return ok(o);
}

json::object admittedJson(const controller::Admitted& a) {
  return json::object{{"deployment", a.deployment_id}, {"status", a.status},
                      {"from", a.from_version},       {"to", a.to_version},
                      {"superseded", a.superseded}};
}

HttpResponse createDeployment(const Ctx& c, HttpRequest& req) {
  auto b = body(req, {"environment", "version", "strategy", "force", "reason", "artifacts", "commitTime",
                      "commit", "repository", "attachments"});
  if (!b) return error(req, b.error());
  controller::DeployRequest d;
  auto env = str(*b, "environment", true);
  auto version = str(*b, "version", true);
  auto strategy = str(*b, "strategy");
  auto force = boolean(*b, "force");
  auto reason = str(*b, "reason");
  for (auto* r : {&env, &version, &strategy, &reason}) {
    if (!*r) return error(req, r->error());
  }
  if (!force) return error(req, force.error());
  d.environment = *env;
  d.version = *version;
  d.force = *force;
  d.reason = *reason;
  if (!strategy->empty()) {
    if (*strategy == "canary") d.strategy = config::StrategyKind::Canary;
    else if (*strategy == "blueGreen" || *strategy == "blue-green") d.strategy = config::StrategyKind::BlueGreen;
    else if (*strategy == "rolling") d.strategy = config::StrategyKind::Rolling;
    else return error(req, Error{ErrorCode::InvalidArgument, "strategy must be rolling, blue-green or canary"});
  }
  if (const auto* a = b->if_contains("artifacts"); a != nullptr && !a->is_null()) {
    if (!a->is_object()) return error(req, Error{ErrorCode::InvalidArgument, "artifacts must map services to refs"});
    for (const auto& kv : a->get_object()) {
      if (!kv.value().is_string()) return error(req, Error{ErrorCode::InvalidArgument, "artifacts must map services to refs"});
      d.artifacts[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  }
  auto commit_time = str(*b, "commitTime");
  if (!commit_time) return error(req, commit_time.error());
  if (commit_time->empty() && b->contains("commitTime") && !b->at("commitTime").is_null()) {
    return error(req, Error{ErrorCode::InvalidArgument, "commitTime: empty; give an RFC 3339 time or leave it out"});
  }
  if (!commit_time->empty()) {
    auto t = parseTimestamp(*commit_time);
    if (!t) return error(req, Error{ErrorCode::InvalidArgument, "commitTime: " + t.error().message});
    d.commit_time = *t;
  }
  auto evidence = evidenceOf(*b);
  if (!evidence) return error(req, evidence.error());
  d.evidence = std::move(*evidence);
  d.actor = actorOf(req);
  auto out = c->controller->deploy(std::move(d));
  if (!out) return error(req, out.error());
  return ok(admittedJson(*out), 201);
}

HttpResponse rollback(const Ctx& c, HttpRequest& req) {
  auto b = body(req, {"version", "reason", "force", "emergency"});
  if (!b) return error(req, b.error());
  controller::RollbackRequest r;
  r.environment = req.params.at("env");
  auto version = str(*b, "version");
  auto reason = str(*b, "reason");
  auto force = boolean(*b, "force");
  auto emergency = boolean(*b, "emergency");
  if (!version) return error(req, version.error());
  if (!reason) return error(req, reason.error());
  if (!force) return error(req, force.error());
  if (!emergency) return error(req, emergency.error());
  r.version = *version;
  r.reason = *reason;
  r.force = *force;
  r.emergency = *emergency;
  r.actor = actorOf(req);
  auto out = c->controller->rollback(std::move(r));
  if (!out) return error(req, out.error());
  return ok(admittedJson(*out), 201);
}

// POST /api/v1/environments/{env}/scale {"service", "instances", "version"?}: the instance count
// of the version that serves (the current release unless `version` names another), on any
// runtime. Refused while a deployment of the environment is active (its controller owns the
// counts then). A later deployment, or the controller re-executing the last intent after a
// restart, sets the configured count again.
HttpResponse scaleService(const Ctx& c, HttpRequest& req) {
  auto b = body(req, {"service", "instances", "version"});
  if (!b) return error(req, b.error());
  const std::string env = req.params.at("env");
  auto service = str(*b, "service", true);
  auto version = str(*b, "version");
  if (!service) return error(req, service.error());
  if (!version) return error(req, version.error());
  const auto* n = b->if_contains("instances");
  if (n == nullptr || !n->is_int64() || n->get_int64() < 0 || n->get_int64() > 1000) {
    return error(req, Error{ErrorCode::InvalidArgument, "field \"instances\" must be an integer in 0..1000"});
  }
  const int instances = static_cast<int>(n->get_int64());
  auto cfg = c->controller->config();
  const auto* environment = cfg->findEnvironment(env);
  if (environment == nullptr) return error(req, Error{ErrorCode::NotFound, "no environment named \"" + env + "\""});
  const auto* app = cfg->applicationFor(*environment);
  if (app == nullptr || std::none_of(app->services.begin(), app->services.end(),
                                     [&](const config::Service& s) { return s.name == *service; })) {
    return error(req, Error{ErrorCode::NotFound, fmt::format("environment {} has no service \"{}\"", env, *service)});
  }
  auto recent = c->store->listDeployments(store::DeploymentFilter{env, "", "", 20});
  if (recent) {
    for (const auto& r : *recent) {
      auto doc = controller::parsePersisted(r.state_json);
      if (doc && !doc->queued && !engine::isTerminal(doc->state.phase)) {
        return error(req, Error{ErrorCode::Conflict,
                                fmt::format("deployment {} of {} is active and owns the instance counts; scale "
                                            "after it ends",
                                            r.id, env)});
      }
    }
  }
  std::string target = *version;
  if (target.empty()) {
    auto current = controller::currentRelease(*c->store, env);
    if (!current || current->empty()) {
      return error(req, Error{ErrorCode::NotFound, fmt::format("{} has no current release to scale", env)});
    }
    target = *current;
  }
  if (auto r = c->runtime->scale(env, *service, target, instances); !r) return error(req, r.error());
  (void)c->store->appendEvent(store::NewEvent{c->clock->now(), actorOf(req).name, "runtime.scaled", env,
                                              fmt::format("{} {} scaled to {}", *service, target, instances), "{}"});
  spdlog::info("{}: {} {} scaled to {} by {}", env, *service, target, instances, actorOf(req).name);
  return ok(json::object{{"environment", env}, {"service", *service}, {"version", target}, {"instances", instances}});
}

Handler commandHandler(const Ctx& c, engine::OperatorCommand::Kind kind, bool by_env) {
  return [c, kind, by_env](HttpRequest& req) {
    auto b = body(req, {"reason"});
    if (!b) return error(req, b.error());
    auto reason = str(*b, "reason");
    if (!reason) return error(req, reason.error());
    controller::CommandRequest r;
    if (by_env) r.environment = req.params.at("env");
    else r.deployment_id = req.params.at("id");
    r.kind = kind;
    r.reason = *reason;
    r.actor = actorOf(req);
    auto out = c->controller->command(std::move(r));
    if (!out) return error(req, out.error());
    auto record = c->store->getDeployment(*out);
    if (!record) return error(req, record.error());
    return ok(deploymentJson(*record, c->controller->config().get()));
  };
}

Handler decisionHandler(const Ctx& c, bool approve, bool by_env) {
  return [c, approve, by_env](HttpRequest& req) {
    auto b = body(req, {"role", "comment"});
    if (!b) return error(req, b.error());
    auto role = str(*b, "role");
    auto comment = str(*b, "comment");
    if (!role) return error(req, role.error());
    if (!comment) return error(req, comment.error());
    controller::ApprovalRequest r;
    if (by_env) r.environment = req.params.at("env");
    else r.deployment_id = req.params.at("id");
    r.role = *role;
    r.comment = *comment;
    r.approve = approve;
    r.actor = actorOf(req);
    auto out = c->controller->decide(std::move(r));
    if (!out) return error(req, out.error());
    auto record = c->store->getDeployment(*out);
    if (!record) return error(req, record.error());
    return ok(deploymentJson(*record, c->controller->config().get()));
  };
}

// POST /api/v1/deployments/{id}/checklist/waive {"item", "comment"}: waives a failed item of
// the deployment's blocked checklist. Any token; the controller checks the item's waivableBy
// roles against it (403 otherwise).
HttpResponse waive(const Ctx& c, HttpRequest& req) {
  auto b = body(req, {"item", "comment"});
  if (!b) return error(req, b.error());
  auto item = str(*b, "item", true);
  if (!item) return error(req, item.error());
  auto comment = str(*b, "comment", true);
  if (!comment) return error(req, comment.error());
  controller::WaiverRequest r;
  r.deployment_id = req.params.at("id");
  r.item = *item;
  r.comment = *comment;
  r.actor = actorOf(req);
  auto out = c->controller->waive(std::move(r));
  if (!out) return error(req, out.error());
  auto record = c->store->getDeployment(*out);
  if (!record) return error(req, record.error());
  return ok(deploymentJson(*record, c->controller->config().get()));
}

// POST /api/v1/environments/{env}/checklist {"version", "commit"?, "repository"?,
// "attachments"?}: the environment's pre-deployment checklist judged for that version and
// evidence now, against what the environment serves (`runway checklist`). Nothing is stored.
HttpResponse checklist(const Ctx& c, HttpRequest& req) {
  const std::string env = req.params.at("env");
  auto cfg = c->controller->config();
  const auto* environment = cfg->findEnvironment(env);
  if (environment == nullptr) return error(req, Error{ErrorCode::NotFound, "no environment named \"" + env + "\""});
  auto b = body(req, {"version", "commit", "repository", "attachments"});
  if (!b) return error(req, b.error());
  auto version = str(*b, "version", true);
  if (!version) return error(req, version.error());
  if (auto v = runtime::validateVersionName(*version); !v) return error(req, v.error());
  auto evidence = evidenceOf(*b);
  if (!evidence) return error(req, evidence.error());
  if (auto valid = store::validateEvidence(*evidence); !valid) return error(req, valid.error());
  auto current = controller::currentRelease(*c->store, env);
  if (!current) return error(req, current.error());
  if (!c->checklist) return error(req, Error{ErrorCode::Unavailable, "this server judges no checklists"});
  const auto judged = c->checklist->judge(*cfg, env, *version, *current, *evidence);
  json::array items;
  bool passed = true;
  for (const auto& item : judged) {
    items.push_back(json::object{{"name", item.name}, {"status", item.passed ? "passed" : "failed"}, {"reason", item.reason}});
    passed = passed && item.passed;
  }
  return ok(json::object{{"environment", env},
                         {"version", *version},
                         {"currentRelease", *current},
                         {"passed", passed},
                         {"items", std::move(items)}});
}

HttpResponse history(const Ctx& c, const HttpRequest& req) {
  const std::string env = req.params.at("env");
  if (c->controller->config()->findEnvironment(env) == nullptr) {
    return error(req, Error{ErrorCode::NotFound, "no environment named \"" + env + "\""});
  }
  auto limit = queryInt(req, "limit", 20, 1000);
  if (!limit) return error(req, limit.error());
  auto list = c->store->listDeployments(store::DeploymentFilter{env, "", "", *limit});
  if (!list) return error(req, list.error());
  json::array out;
  for (const auto& r : *list) {
    auto doc = controller::parsePersisted(r.state_json);
    json::object o{{"id", r.id},           {"version", r.version},
                   {"phase", r.phase},     {"createdAt", ts(r.created_at)},
                   {"updatedAt", ts(r.updated_at)}};
    if (doc) {
      o["rollback"] = doc->rollback;
      o["startedBy"] = doc->requested_by;
      o["reason"] = doc->reason;
      o["stableVersion"] = doc->state.stable_version;
      o["abortReason"] = doc->state.abort_reason;
      o["strategy"] = engine::strategyName(doc->state.strategy);
    }
    out.push_back(std::move(o));
  }
  return ok(json::object{{"environment", env}, {"deployments", std::move(out)}});
}

HttpResponse auditVerify(const Ctx& c, const HttpRequest& req) {
  auto report = c->store->verifyChain();
  if (!report) return error(req, report.error());
  json::object o{{"events", report->events},
                 {"intact", report->intact()},
                 {"keyId", report->key_id.empty() ? json::value(nullptr) : json::value(report->key_id)},
                 {"unkeyed", report->unkeyed}};
  if (report->first_break) {
    const auto& b = *report->first_break;
    o["firstBreak"] = json::object{{"seq", b.seq},
                                   {"reason", b.reason},
                                   {"expectedHash", b.expected_hash},
                                   {"foundHash", b.found_hash}};
  }
  return ok(o);
}

// The event stream: every event after the client's Last-Event-ID (or ?after=), then new ones
// as they are appended.
class EventStream final : public SseSource {
 public:
  EventStream(std::shared_ptr<store::Store> store, std::int64_t after, std::string subject)
      : store_(std::move(store)), after_(after), subject_(std::move(subject)) {}
  std::optional<std::vector<SseEvent>> poll() override {
    auto events = store_->listEvents(store::EventFilter{after_, subject_, 200});
    if (!events) return std::nullopt;
    std::vector<SseEvent> out;
    for (const auto& e : *events) {
      after_ = e.seq;
      out.push_back(SseEvent{std::to_string(e.seq), e.kind, json::serialize(eventJson(e))});
    }
    return out;
  }

 private:
  std::shared_ptr<store::Store> store_;
  std::int64_t after_;
  std::string subject_;
};

HttpResponse events(const Ctx& c, const HttpRequest& req) {
  std::int64_t after = 0;
  std::string from = req.header("last-event-id");
  if (from.empty()) from = query(req, "after");
  if (!from.empty()) {
    // The whole text, a number >= 0: "12abc" or "-5" is a mistake, not event 12 or 0.
    const auto [end, ec] = std::from_chars(from.data(), from.data() + from.size(), after);
    if (ec != std::errc() || end != from.data() + from.size() || after < 0) {
      return error(req, Error{ErrorCode::InvalidArgument, "Last-Event-ID / after must be an event sequence number"});
    }
  }
  const std::string subject = query(req, "subject");
  auto stream = queryBool(req, "stream", true);
  if (!stream) return error(req, stream.error());
  auto limit = queryInt(req, "limit", 100, 1000);
  if (!limit) return error(req, limit.error());
  if (!*stream || req.header("accept").find("application/json") != std::string::npos) {
    auto list = c->store->listEvents(store::EventFilter{after, subject, *limit});
    if (!list) return error(req, list.error());
    json::array out;
    for (const auto& e : *list) out.push_back(eventJson(e));
    return ok(json::object{{"events", std::move(out)}});
  }
  HttpResponse r;
  r.sse = std::make_shared<EventStream>(c->store, after, subject);
  return r;
}

HttpResponse reloadConfig(const Ctx& c, const HttpRequest& req) {
  // No fields: a body that is not {} is refused rather than ignored.
  if (auto b = body(req, {}); !b) return error(req, b.error());
  auto loaded = c->load_config();
  if (!loaded.ok()) {
    json::array diags;
    std::string first;
    for (const auto& d : loaded.diagnostics) {
      if (first.empty()) first = d.format();
      diags.push_back(json::object{{"file", d.location.file},
                                   {"line", d.location.line},
                                   {"column", d.location.column},
                                   {"field", d.field},
                                   {"message", d.message},
                                   {"text", d.format()}});
    }
    spdlog::warn("configuration reload refused ({} errors); the old configuration stays: {}",
                 loaded.diagnostics.size(), first);
    return error(req,
                 Error{ErrorCode::InvalidArgument,
                       fmt::format("the new configuration has {} error(s); the old one stays in use: {}",
                                   loaded.diagnostics.size(), first)},
                 json::serialize(json::object{{"diagnostics", std::move(diags)}}));
  }
  auto cfg = std::make_shared<const config::Config>(std::move(*loaded.config));
  const auto envs = cfg->environments.size();
  c->controller->reload(cfg);
  (void)c->store->appendEvent(store::NewEvent{c->clock->now(), actorOf(req).name, "config.reloaded", "",
                                              fmt::format("{} environments", envs), "{}"});
  spdlog::info("configuration reloaded by {}", actorOf(req).name);
  return ok(json::object{{"reloaded", true}, {"environments", envs}});
}

json::object tokenJson(const store::TokenRecord& t) {
  json::array roles;
  for (const auto& r : t.roles) roles.emplace_back(r);
  return json::object{{"id", t.id},
                      {"name", t.name},
                      {"roles", std::move(roles)},
                      {"createdBy", t.created_by},
                      {"createdAt", ts(t.created_at)},
                      {"revokedAt", optTs(t.revoked_at)},
                      {"expiresAt", optTs(t.expires_at)}};
}

HttpResponse createToken(const Ctx& c, HttpRequest& req) {
  auto b = body(req, {"name", "roles", "ttl"});
  if (!b) return error(req, b.error());
  auto name = str(*b, "name", true);
  auto roles = strings(*b, "roles");
  auto ttl_text = str(*b, "ttl", false);
  if (!name) return error(req, name.error());
  if (!roles) return error(req, roles.error());
  if (!ttl_text) return error(req, ttl_text.error());
  std::optional<Duration> ttl;
  if (!ttl_text->empty()) {
    auto parsed = parseDuration(*ttl_text);
    if (!parsed) return error(req, Error{ErrorCode::InvalidArgument, "ttl: " + parsed.error().message});
    ttl = *parsed;
  }
  const auto known = knownRoles(*c->controller->config());
  for (const auto& r : *roles) {
    if (std::find(known.begin(), known.end(), r) == known.end()) {
      std::string msg = fmt::format("unknown role \"{}\"", r);
      if (auto s = closestMatch(r, known)) msg += fmt::format(" (did you mean \"{}\"?)", *s);
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return error(req, Error{ErrorCode::InvalidArgument, msg + "; known roles: " + list});
    }
  }
  const TimePoint now = c->clock->now();
  auto issued = issueToken(*name, *roles, actorOf(req).name, now, ttl);
  if (!issued) return error(req, issued.error());
  json::object data{{"name", issued->record.name}, {"expiresAt", optTs(issued->record.expires_at)}};
  auto stored = c->store->createToken(
      issued->record, {store::NewEvent{now, actorOf(req).name, "token.created", issued->record.id,
                                       "token for " + issued->record.name, json::serialize(data)}});
  if (!stored) return error(req, stored.error());
  json::object o = tokenJson(issued->record);
  o["token"] = issued->bearer;  // shown once
  return ok(o, 201);
}

HttpResponse listTokens(const Ctx& c, const HttpRequest& req) {
  auto list = c->store->listTokens();
  if (!list) return error(req, list.error());
  json::array out;
  for (const auto& t : *list) out.push_back(tokenJson(t));
  return ok(json::object{{"tokens", std::move(out)}});
}

HttpResponse revokeToken(const Ctx& c, const HttpRequest& req) {
  const std::string id = req.params.at("id");
  const TimePoint now = c->clock->now();
  auto r = c->store->revokeToken(id, now, {store::NewEvent{now, actorOf(req).name, "token.revoked", id, "", "{}"}});
  if (!r) return error(req, r.error());
  auto t = c->store->getToken(id);
  if (!t) return error(req, t.error());
  return ok(tokenJson(*t));
}

// ---- notifications ------------------------------------------------------------------------

json::object notificationJson(const store::NotificationRecord& n) {
  json::object o{{"id", n.id},
                 {"createdAt", formatTimestamp(n.created_at)},
                 {"channel", n.channel},
                 {"event", n.event},
                 {"deployment", n.subject},
                 {"environment", n.environment},
                 {"dedupKey", n.dedup_key},
                 {"status", n.status},
                 {"attempts", n.attempts},
                 {"lastStatus", n.last_status},
                 {"lastError", n.last_error},
                 {"updatedAt", formatTimestamp(n.updated_at)}};
  o["nextAttemptAt"] = n.status == store::kNotificationPending ? json::value(formatTimestamp(n.next_attempt_at))
                                                               : json::value(nullptr);
  auto message = notify::parseMessage(n.message_json);
  o["title"] = message ? json::value(message->title) : json::value(nullptr);
  return o;
}

HttpResponse listNotifications(const Ctx& c, const HttpRequest& req) {
  store::NotificationFilter f;
  f.status = query(req, "status");
  if (!f.status.empty() && f.status != store::kNotificationPending && f.status != store::kNotificationDelivered &&
      f.status != store::kNotificationFailed) {
    return error(req, Error{ErrorCode::InvalidArgument,
                            fmt::format("status \"{}\" is not one of pending, delivered, failed", f.status)});
  }
  f.subject = query(req, "deployment");
  auto limit = queryInt(req, "limit", 100, 1000);
  if (!limit) return error(req, limit.error());
  f.limit = *limit;
  auto list = c->store->listNotifications(f);
  if (!list) return error(req, list.error());
  json::array out;
  for (const auto& n : *list) out.push_back(notificationJson(n));
  return ok(json::object{{"notifications", std::move(out)}});
}

std::string metricsText(const Ctx& c) {
  const auto m = c->controller->metrics();
  std::string out;
  out += "# HELP runway_deployments Deployments the controller is driving, by phase.\n";
  out += "# TYPE runway_deployments gauge\n";
  for (const char* phase : {"Queued", "Blocked", "Pending", "AwaitingApproval", "WaitingForWindow", "PreFlight",
                            "Progressing", "Paused", "Promoting", "Succeeded", "Aborting", "Degraded"}) {
    auto it = m.live_by_phase.find(phase);
    out += fmt::format("runway_deployments{{phase=\"{}\"}} {}\n", phase, it == m.live_by_phase.end() ? 0 : it->second);
  }
  out += "# HELP runway_analysis_measurements_total Analysis measurements taken, by outcome.\n";
  out += "# TYPE runway_analysis_measurements_total counter\n";
  for (const char* outcome : {"Successful", "Failed", "Inconclusive", "Error", "Breaching"}) {
    auto it = m.analysis_outcomes.find(outcome);
    out += fmt::format("runway_analysis_measurements_total{{outcome=\"{}\"}} {}\n", outcome,
                       it == m.analysis_outcomes.end() ? 0 : it->second);
  }
  out += "# HELP runway_action_failures_total Actions that failed and will be retried, by action.\n";
  out += "# TYPE runway_action_failures_total counter\n";
  for (const char* action : {"startVersion", "setTraffic", "retireVersion", "commit"}) {
    auto it = m.action_failures.find(action);
    out += fmt::format("runway_action_failures_total{{action=\"{}\"}} {}\n", action,
                       it == m.action_failures.end() ? 0 : it->second);
  }
  out += "# HELP runway_reconcile_duration_seconds Time to apply one input: engine, commit, actions.\n";
  out += "# TYPE runway_reconcile_duration_seconds histogram\n";
  for (std::size_t i = 0; i < m.reconcile_bounds.size(); ++i) {
    const bool inf = i + 1 == m.reconcile_bounds.size();
    out += fmt::format("runway_reconcile_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                       inf ? std::string("+Inf") : fmt::format("{}", m.reconcile_bounds[i]),
                       m.reconcile_buckets[i]);
  }
  out += fmt::format("runway_reconcile_duration_seconds_sum {}\n", m.reconcile_sum_seconds);
  out += fmt::format("runway_reconcile_duration_seconds_count {}\n", m.reconcile_count);
  out += "# HELP runway_notifications Notifications in the outbox, by status.\n";
  out += "# TYPE runway_notifications gauge\n";
  auto counts = c->store->countNotifications();
  for (const auto status : {store::kNotificationPending, store::kNotificationDelivered, store::kNotificationFailed}) {
    std::int64_t n = 0;
    if (counts) {
      auto it = counts->find(std::string(status));
      if (it != counts->end()) n = it->second;
    }
    out += fmt::format("runway_notifications{{status=\"{}\"}} {}\n", status, n);
  }
  const auto sent = c->outbox ? c->outbox->counters() : notify::OutboxCounters{};
  out += "# HELP runway_notification_attempts_total Notification delivery attempts since the server started, by outcome.\n";
  out += "# TYPE runway_notification_attempts_total counter\n";
  out += fmt::format("runway_notification_attempts_total{{outcome=\"delivered\"}} {}\n", sent.delivered);
  out += fmt::format("runway_notification_attempts_total{{outcome=\"retried\"}} {}\n", sent.retried);
  out += fmt::format("runway_notification_attempts_total{{outcome=\"failed\"}} {}\n", sent.failed);
  if (c->extra_metrics) out += c->extra_metrics();
  return out;
}

// GET /api/v1/cluster: who leads the servers on this store, and what this one is.
json::object clusterJson(const std::shared_ptr<ApiContext>& c) {
  ClusterView view;
  if (c->cluster) {
    view = c->cluster();
  } else {
    view.leading = true;
  }
  json::value leader = nullptr;
  if (!view.leader_id.empty()) {
    leader = json::object{
        {"serverId", view.leader_id},
        {"url", view.leader_url.empty() ? json::value(nullptr) : json::value(view.leader_url)},
        {"term", view.term},
        {"leaseExpiresAt", view.lease_expires_at ? json::value(formatTimestamp(*view.lease_expires_at))
                                                 : json::value(nullptr)}};
  }
  return json::object{{"store", view.store.empty() ? json::value(nullptr) : json::value(view.store)},
                      {"serverId", view.server_id},
                      {"url", view.url},
                      {"role", view.leading ? "leader" : "follower"},
                      {"leadingSince", view.leading_since ? json::value(formatTimestamp(*view.leading_since))
                                                          : json::value(nullptr)},
                      {"leader", std::move(leader)},
                      {"leaseTtlMs", view.lease_ttl.count()}};
}

}  // namespace

std::vector<std::string> knownRoles(const config::Config& config) {
  std::vector<std::string> roles{"viewer", "deployer", "admin"};
  const auto add = [&](const std::string& r) {
    if (std::find(roles.begin(), roles.end(), r) == roles.end()) roles.push_back(r);
  };
  for (const auto& env : config.environments) {
    for (const auto& r : env.approvals.roles) add(r);
    for (const auto& step : env.canary.steps) {
      for (const auto& r : step.approval) add(r);
    }
    // The roles that may waive a checklist item (docs/checklist.md).
    for (const auto& r : env.checklist.waiverRoles()) add(r);
  }
  return roles;
}

std::vector<Route> v1Routes(std::shared_ptr<ApiContext> c) {
  using Kind = engine::OperatorCommand::Kind;
  const std::string viewer(kViewer), deployer(kDeployer), admin(kAdmin);
  std::vector<Route> routes;
  const auto add = [&](std::string method, std::string pattern, std::optional<std::string> role, Handler h) {
    routes.push_back(Route{std::move(method), std::move(pattern), std::move(role), std::move(h)});
  };
  add("GET", "/healthz", std::nullopt, [](HttpRequest&) { return ok(json::object{{"status", "ok"}}); });
  add("GET", "/readyz", std::nullopt, [c](HttpRequest& req) {
    if (!c->cluster) {
      if (c->ready && !c->ready()) {
        return error(req, Error{ErrorCode::Unavailable, "not ready: still recovering deployments"});
      }
      return ok(json::object{{"status", "ready"}});
    }
    // Several servers: the leader is ready once its controller recovered the deployments; a
    // follower while a live lease names a leader to forward writes to.
    const ClusterView view = c->cluster();
    if (view.leading) {
      if (c->ready && !c->ready()) {
        return error(req, Error{ErrorCode::Unavailable, "not ready: leading, still recovering deployments"});
      }
      return ok(json::object{{"status", "ready"}, {"role", "leader"}});
    }
    if (view.leader_id.empty() || !view.lease_expires_at || *view.lease_expires_at <= c->clock->now()) {
      return error(req, Error{ErrorCode::Unavailable, "not ready: no server leads yet (an election is under way)"});
    }
    return ok(json::object{{"status", "ready"}, {"role", "follower"}, {"leader", view.leader_url}});
  });
  add("GET", "/api/v1/cluster", viewer, [c](HttpRequest&) { return ok(clusterJson(c)); });
  add("GET", "/metrics", std::nullopt, [c](HttpRequest&) {
    return HttpResponse::text(200, metricsText(c), "text/plain; version=0.0.4");
  });
  // The contract itself (openapi.hpp), like the health routes readable without a token: it is
  // public in the repository, and a client generator or Schemathesis reads it before it has one.
  add("GET", "/api/v1/openapi.json", std::nullopt, [](HttpRequest&) {
    const auto& file = openapi::embeddedFiles().front();
    HttpResponse r = HttpResponse::json(200, std::string(file.body));
    r.headers.emplace_back("ETag", std::string(file.etag));
    return r;
  });
  add("GET", "/api/v1/version", viewer, [c](HttpRequest&) { return ok(json::object{{"version", c->version}}); });
  add("GET", "/api/v1/whoami", viewer, [](HttpRequest& req) {
    json::array roles;
    for (const auto& r : req.identity->roles) roles.emplace_back(r);
    return ok(json::object{{"name", req.identity->name}, {"roles", std::move(roles)}, {"tokenId", req.identity->token_id}});
  });
  add("GET", "/api/v1/environments", viewer, [c](HttpRequest& req) { return environmentsView(c, req, ""); });
  add("GET", "/api/v1/environments/{env}", viewer,
      [c](HttpRequest& req) { return environmentsView(c, req, req.params.at("env")); });
  add("GET", "/api/v1/environments/{env}/history", viewer, [c](HttpRequest& req) { return history(c, req); });
  add("POST", "/api/v1/environments/{env}/checklist", viewer, [c](HttpRequest& req) { return checklist(c, req); });
  add("POST", "/api/v1/environments/{env}/rollback", deployer, [c](HttpRequest& req) { return rollback(c, req); });
  add("POST", "/api/v1/environments/{env}/scale", deployer, [c](HttpRequest& req) { return scaleService(c, req); });
  add("GET", "/api/v1/deployments", viewer, [c](HttpRequest& req) { return listDeployments(c, req); });
  add("POST", "/api/v1/deployments", deployer, [c](HttpRequest& req) { return createDeployment(c, req); });
  add("GET", "/api/v1/deployments/{id}", viewer, [c](HttpRequest& req) { return getDeployment(c, req); });
  add("GET", "/api/v1/deployments/{id}/evidence", viewer, [c](HttpRequest& req) { return getEvidence(c, req); });
  const std::pair<const char*, Kind> commands[] = {
      {"promote", Kind::Promote}, {"promote-full", Kind::PromoteFull}, {"abort", Kind::Abort},
      {"retry", Kind::Retry},     {"pause", Kind::Pause},              {"resume", Kind::Resume}};
  for (const auto& [name, kind] : commands) {
    add("POST", fmt::format("/api/v1/deployments/{{id}}/{}", name), deployer, commandHandler(c, kind, false));
    add("POST", fmt::format("/api/v1/environments/{{env}}/{}", name), deployer, commandHandler(c, kind, true));
  }
  // Approvals: any authenticated token; the approver role itself is checked against the token.
  // Waivers: any authenticated token; the item's waivableBy roles are checked against it.
  add("POST", "/api/v1/deployments/{id}/checklist/waive", viewer, [c](HttpRequest& req) { return waive(c, req); });
  add("POST", "/api/v1/deployments/{id}/approve", viewer, decisionHandler(c, true, false));
  add("POST", "/api/v1/deployments/{id}/reject", viewer, decisionHandler(c, false, false));
  add("POST", "/api/v1/environments/{env}/approve", viewer, decisionHandler(c, true, true));
  add("POST", "/api/v1/environments/{env}/reject", viewer, decisionHandler(c, false, true));
  add("GET", "/api/v1/events", viewer, [c](HttpRequest& req) { return events(c, req); });
  add("GET", "/api/v1/notifications", viewer, [c](HttpRequest& req) { return listNotifications(c, req); });
  add("GET", "/api/v1/audit/verify", viewer, [c](HttpRequest& req) { return auditVerify(c, req); });
  add("POST", "/api/v1/config/reload", admin, [c](HttpRequest& req) { return reloadConfig(c, req); });
  add("GET", "/api/v1/tokens", admin, [c](HttpRequest& req) { return listTokens(c, req); });
  add("POST", "/api/v1/tokens", admin, [c](HttpRequest& req) { return createToken(c, req); });
  add("DELETE", "/api/v1/tokens/{id}", admin, [c](HttpRequest& req) { return revokeToken(c, req); });
  for (auto& r : reportRoutes(c)) routes.push_back(std::move(r));
  for (auto& r : alertRoutes(c)) routes.push_back(std::move(r));
  for (auto& r : logRoutes(c)) routes.push_back(std::move(r));
  if (c->incidents) {
    for (auto& r : incidentRoutes(c)) routes.push_back(std::move(r));
  }
  return routes;
}

}  // namespace runway::api
