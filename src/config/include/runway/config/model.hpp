#pragma once

// The configuration model: plain value types that the YAML loader (loader.hpp) produces and the
// engine, analysis, runtime and checks consume. Every object remembers where it was written so
// that later errors (a failing query, a dangling reference found at run time) can point at it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/clock.hpp"

namespace runway::config {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
};

// ---------------------------------------------------------------------------------------------
// Application

struct HealthProbe {
  std::string path = "/health";
  Duration initial_delay{0};
  Duration period{std::chrono::seconds(1)};
  Duration timeout{std::chrono::seconds(1)};
  int failure_threshold = 3;  // consecutive failures before an instance is not ready
};

// How the embedded runtime starts one instance. `command` and `env` values may contain
// ${PORT}, ${VERSION}, ${SERVICE} and ${ENVIRONMENT}, substituted per instance.
struct LocalRun {
  std::vector<std::string> command;  // argv; command[0] is resolved against working_dir, PATH
  std::string working_dir;           // relative to the config file's directory; "" = that dir
  // The absolute, normalized directory of the file this service was read from (for a config
  // given as text, the directory its file name names, resolved against the current directory).
  // working_dir and a relative command[0] are resolved against it.
  std::string base_dir;
  SourceLocation location;
};

struct Resources {
  double cpu = 0;              // cores per instance (0.25 = a quarter core); 0 = undeclared
  std::int64_t memory_mb = 0;  // MiB per instance; 0 = undeclared
};

// How the kubernetes runtime runs one version of a service: a Deployment (and a Service) per
// version, built from these fields (docs/kubernetes.md lists the objects).
struct KubernetesWorkload {
  // The container image. May use ${VERSION}, ${ARTIFACT} (the service's artifact from the
  // deploy request, else the version), ${SERVICE} and ${ENVIRONMENT}; an image without any
  // substitution and without a tag or digest gets ":${VERSION}" appended.
  std::string image;
  int port = 8080;                          // the container port the Service targets
  std::map<std::string, std::string> env;   // added to the service's env (same substitutions)
  Resources resources;                      // requests; 0 = the service's resources
  std::string readiness_path;               // HTTP GET readiness probe; "" = health.path
  bool readiness_probe = true;              // readinessProbe: none -> false
  int replicas = 0;                         // 0 = the service's instances
  int progress_deadline_seconds = 600;      // the Deployment's progressDeadlineSeconds
  // Extra pod-template fields as a JSON merge patch (RFC 7386) over the built spec.template,
  // written as YAML in the file and kept here as JSON text; "" = none. Its string values may
  // use the image's substitutions (and ${PORT}), replaced per version.
  std::string pod_template_patch;
  SourceLocation location;
};

struct Service {
  std::string name;
  std::optional<LocalRun> local;            // embedded runtime
  std::optional<KubernetesWorkload> kubernetes;  // kubernetes runtime
  std::string image;                        // shorthand for kubernetes.image (repository)
  int port = 0;                             // container port; 0 = only ${PORT} (local)
  int instances = 1;                        // per version, 1..1000
  std::map<std::string, std::string> env;  // values may use the same substitutions
  HealthProbe health;
  Resources resources;
  SourceLocation location;
};

// One HTTP request of a smoke suite and what its answer must be.
struct SmokeCheck {
  std::string name;
  std::string service;  // "" = the application's first service
  std::string method = "GET";
  std::string path = "/";
  std::map<std::string, std::string> headers;
  std::string body;
  int expect_status = 200;
  std::string body_contains;  // "" = not checked
  // RFC 6901 pointer -> expected value, written as YAML scalar text: a JSON string equals its
  // text, a number equals numerically, true/false/null equal those literals.
  std::map<std::string, std::string> json_equals;
  std::optional<Duration> max_latency;  // nullopt = not checked
  Duration timeout{std::chrono::seconds(5)};
  SourceLocation location;
};

struct SmokeSuite {
  std::string name;
  std::vector<SmokeCheck> checks;
  SourceLocation location;
};

struct Application {
  std::string name;
  std::vector<Service> services;
  std::vector<SmokeSuite> smoke;  // suites by name ("critical", "full", ...)
  SourceLocation location;

  const SmokeSuite* findSuite(std::string_view suite) const;
};

// ---------------------------------------------------------------------------------------------
// Environment

struct LocalRuntime {
  std::string bind_address = "127.0.0.1";
  // Router listener port per service (service name -> port). A service without an entry gets a
  // free port chosen at start.
  std::map<std::string, int> ports;
};

// Where an environment's workloads run on Kubernetes. Each environment names its own cluster,
// so development, staging and production can be three clusters.
struct KubernetesRuntime {
  // The kubeconfig file (relative paths resolve against the config file's directory); "" =
  // in-cluster configuration (the pod's service account).
  std::string kubeconfig;
  std::string context;         // "" = the kubeconfig's current-context
  std::string namespace_name;  // default: the environment's name
  // How traffic is split between versions:
  //   HttpRoute  Gateway API HTTPRoute backendRef weights (one HTTPRoute per service, named
  //              after it, attached to `gateway`), exact per request;
  //   Replicas   no gateway: the version's replica counts follow the weights (approximate:
  //              the stable Service selects every version's pods, kube-proxy spreads per
  //              connection), stated by `runway status`.
  enum class Traffic { HttpRoute, Replicas };
  Traffic traffic = Traffic::Replicas;
  std::string gateway;            // Gateway name (HttpRoute); REQUIRED for HttpRoute
  std::string gateway_namespace;  // "" = the route's namespace
  std::string kubeconfig_base_dir;  // the config file's directory, for a relative kubeconfig
};

// The simulated runtime (`runtime: {simulated: {...}}`): no processes and no router; instances
// become Ready `readyAfter` after they start, and each version serves `requestsPerSecond` times
// its traffic share with the error rate and P95 latency below, from a seeded model (runway
// rehearse, demos, the scale benchmark). runtime/simulated_runtime.hpp.
struct SimulatedRuntime {
  Duration ready_after{std::chrono::seconds(10)};
  double requests_per_second = 50;  // per service, all versions together
  double error_rate = 0.001;        // fraction of responses that are 5xx
  Duration latency_p95{std::chrono::milliseconds(120)};
  std::uint64_t seed = 1;  // the same seed gives the same statistics
};

struct RuntimeSpec {
  enum class Kind { Local, Kubernetes, Simulated };
  Kind kind = Kind::Local;
  LocalRuntime local;
  KubernetesRuntime kubernetes;
  SimulatedRuntime simulated;
  SourceLocation location;
};

enum class StrategyKind { Rolling, BlueGreen, Canary };

// An integer count or a percentage of the instance count ("25%").
struct IntOrPercent {
  int value = 0;
  bool percent = false;
};

struct RollingStrategy {
  IntOrPercent max_surge{25, true};
  IntOrPercent max_unavailable{0, false};
  SourceLocation location;
};

// A reference from a strategy to analysis templates.
struct AnalysisRef {
  std::vector<std::string> templates;  // AnalysisTemplate names
  std::map<std::string, std::string> args;
  // Overrides each metric's interval for this use (the per-step interval); 0 = keep.
  Duration interval{0};
  // Replaces each metric's failureCondition threshold value where the template declares
  // `${threshold}`; the per-step "more stringent thresholds".
  std::map<std::string, std::string> thresholds;
  SourceLocation location;
};

// Checks run as a gate: a smoke suite by name and/or a health level.
struct CheckRef {
  std::string smoke;   // suite name, "" = none
  std::string health;  // "basic" | "comprehensive" | "detailed" | "" = none
  SourceLocation location;
};

struct HeaderRoute {
  enum class Match { Exact, Prefix, Regex };
  std::string header;  // exactly one of header / cookie is set
  std::string cookie;
  Match match = Match::Exact;
  std::string value;
  SourceLocation location;
};

// Sticky sessions by cookie (`traffic.stickySessions`): the router answers a request it routed
// by weight with `cookie=<version>`, and a request carrying that cookie for a version that still
// has a share of the traffic goes to that version, so a user keeps the version they saw while
// the canary's weight moves. Only runway's router does this (not the kubernetes runtime).
struct StickySessions {
  std::string cookie = "runway-version";  // an RFC 6265 cookie name
  Duration max_age{std::chrono::hours(1)};
  SourceLocation location;
};

// The client side of the router's listeners of an environment's services (`traffic.listener`,
// runtime local only). The defaults are the router's.
struct ListenerSettings {
  // A request header must be complete this long after its first byte (or the connection's
  // accept): else 408.
  Duration header_timeout{std::chrono::seconds(10)};
  // A keep-alive connection waits this long for its next request; a request body stalled this
  // long gets 408.
  Duration idle_timeout{std::chrono::seconds(60)};
  // Each step of the upstream exchange (sending the request, the response header, each piece of
  // the response body) must happen within this: else 504.
  Duration request_timeout{std::chrono::seconds(30)};
  // Largest request body (bytes; "1Mi", "64Mi" in the file): 413 above it.
  std::uint64_t max_request_body = 64ull * 1024 * 1024;
  // TLS termination on the listener (`tls: {certificate, key}`): PEM files, absolute once
  // loaded (a relative path is taken from the configuration file's directory). The router reads
  // them again whenever either changes. nullopt = plain HTTP.
  struct Tls {
    std::string certificate;  // the certificate, then any intermediates
    std::string key;          // its private key, unencrypted
    SourceLocation location;  // of `tls:`
  };
  std::optional<Tls> tls;
  SourceLocation location;  // of `listener:`; none when absent
};

// How the router treats a release next to the stable version (`traffic:` of an environment):
// requests matching one of `routes` go to the new version whatever the weights (A/B routing: a
// canary from its first traffic step until it is promoted or aborted, a blue-green's new colour
// from when it is ready until the switch); `sticky` keeps users on the version they saw.
struct TrafficRouting {
  std::vector<HeaderRoute> routes;
  std::optional<StickySessions> sticky;
  std::optional<ListenerSettings> listener;  // nullopt = the router's defaults
  SourceLocation location;
};

struct CanaryStep {
  enum class Kind { SetWeight, Pause, Analysis, Approval, Checks, SetHeaderRoute };
  Kind kind = Kind::SetWeight;
  int weight = 0;                      // SetWeight: 0..100
  std::optional<Duration> pause;       // Pause: nullopt = until promoted
  AnalysisRef analysis;                // Analysis: inline, the step waits for its outcome
  std::vector<std::string> approval;   // Approval: roles
  CheckRef checks;                     // Checks
  HeaderRoute header_route;            // SetHeaderRoute
  SourceLocation location;
};

struct BackgroundAnalysis {
  AnalysisRef analysis;
  int starting_step = 0;  // 0-based index into steps
  SourceLocation location;
};

struct CanaryStrategy {
  std::vector<CanaryStep> steps;
  std::optional<BackgroundAnalysis> analysis;
  Duration abort_scale_down_delay{std::chrono::seconds(30)};
  // How long the old version keeps running after a successful canary (for a fast rollback).
  Duration scale_down_delay{std::chrono::seconds(30)};
  // `initialDeploy`: whether the environment's first release (no stable version to compare
  // against) runs the steps (`runSteps`) or takes all traffic when ready (`skipSteps`, default).
  bool steps_on_initial_deploy = false;
  SourceLocation location;
};

struct BlueGreenStrategy {
  // Switch automatically after `auto_promotion_after` once pre-promotion gates pass; when false
  // the switch waits for `runway promote`.
  bool auto_promotion = true;
  Duration auto_promotion_after{0};
  std::optional<AnalysisRef> pre_promotion_analysis;
  std::optional<CheckRef> pre_promotion_checks;
  // The verification period after the switch (runbook: 15 minutes) during which
  // post-promotion analysis runs and a failure switches back.
  Duration verification{std::chrono::minutes(15)};
  std::optional<AnalysisRef> post_promotion_analysis;
  std::optional<CheckRef> post_promotion_checks;
  // How long the old colour keeps running after the switch, so rollback is a switch back.
  Duration scale_down_delay{std::chrono::seconds(30)};
  SourceLocation location;
};

struct ApprovalPolicy {
  std::vector<std::string> roles;  // each must approve, by distinct people
  bool prevent_self_approval = true;
  std::optional<Duration> timeout;  // nullopt = wait forever
  SourceLocation location;
};

enum class Weekday { Mon, Tue, Wed, Thu, Fri, Sat, Sun };

struct ChangeWindow {
  std::vector<Weekday> days;  // empty = every day
  int start_minute = 0;       // minutes after midnight, 0..1439
  int end_minute = 0;         // exclusive, 1..1440; end < start crosses midnight
  std::string timezone = "UTC";
  // The timezone as an offset from UTC in minutes ("+02:00" -> 120, "UTC" -> 0): local time of
  // the window = UTC + offset.
  int utc_offset_minutes = 0;
  SourceLocation location;
};

struct Freeze {
  TimePoint start;
  TimePoint end;
  std::string reason;
  SourceLocation location;
};

// The environment's health limits: used by comprehensive health checks and the post-deploy
// watch. nullopt = not checked.
struct Thresholds {
  std::optional<double> error_rate;    // share of 5xx, 0..1
  std::optional<Duration> latency_p95;
  std::optional<double> availability;  // 0..1
  SourceLocation location;
};

struct PostDeployWatch {
  Duration duration{0};  // 0 = no watch
  AnalysisRef analysis;
  SourceLocation location;
};

// Something the environment needs that runway does not run: checked by comprehensive health
// and pre-flight. Exactly one of http / tcp / command.
struct Dependency {
  enum class Kind { Http, Tcp, Command };
  std::string name;
  Kind kind = Kind::Http;
  std::string url;                   // Http: answered with a 2xx (or expect_status)
  int expect_status = 0;             // 0 = any 2xx
  std::string host;                  // Tcp: accepts a connection
  int port = 0;
  std::vector<std::string> command;  // Command: exits 0 (e.g. pg_isready)
  Duration timeout{std::chrono::seconds(5)};
  SourceLocation location;
};

// A command or HTTP call run at a lifecycle point. Commands run with the config file's
// directory as working directory and RUNWAY_ENVIRONMENT, RUNWAY_VERSION, RUNWAY_HOOK (and for
// backups RUNWAY_BACKUP_FILE) in their environment.
struct Hook {
  enum class Kind { Command, Http };
  enum class OnFailure { Fail, Continue, Rollback };
  std::string name;
  Kind kind = Kind::Command;
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string url;
  std::string method = "POST";
  std::map<std::string, std::string> headers;
  std::string body;
  Duration timeout{std::chrono::minutes(1)};
  int retries = 0;                          // extra attempts after a failure
  Duration retry_delay{std::chrono::seconds(1)};
  OnFailure on_failure = OnFailure::Fail;
  std::string base_dir;  // the config file's directory
  SourceLocation location;
};

enum class HookPoint { PreDeploy, PostDeploy, PreRollback, PostRollback, OnAbort };

struct Hooks {
  std::vector<Hook> pre_deploy;
  std::vector<Hook> post_deploy;
  std::vector<Hook> pre_rollback;  // e.g. the down-migration
  std::vector<Hook> post_rollback;
  std::vector<Hook> on_abort;
  const std::vector<Hook>& at(HookPoint point) const;
};

// The backup hook (`runway backup ENV`): writes RUNWAY_BACKUP_FILE; runway keeps the newest
// `keep` files of `directory`.
struct BackupSpec {
  Hook hook;
  std::string directory;  // absolute after loading ("" = DATA/backups/ENV)
  int keep = 7;
  std::string suffix = ".dump";
  bool before_deploy = false;  // a deployment to this environment backs up first
  SourceLocation location;
};

// Where images are looked up (OCI distribution API) and how to authenticate.
struct RegistrySpec {
  bool insecure = false;          // plain http instead of https
  std::string username_env;       // basic credentials for the token service / registry
  std::string password_env;
  SourceLocation location;
};

struct PreflightSpec {
  std::vector<std::string> env;    // variables that must be set and non-empty
  std::vector<std::string> files;  // secret files that must exist and be readable
  std::string metrics;             // Prometheus address that must answer; "" = not checked
  RegistrySpec registry;
  // A deployment to this environment runs pre-flight at this level first ("" = it does not).
  std::string before_deploy;
  SourceLocation location;
};

// The load `runway perf` applies and how much worse than the baseline a run may be.
struct PerformanceSpec {
  std::string service;  // "" = the application's first service
  std::string method = "GET";
  std::string path = "/";
  double rate = 20;  // requests per second
  Duration duration{std::chrono::seconds(30)};
  Duration timeout{std::chrono::seconds(5)};
  double p95_tolerance = 0.10;         // P95 may be at most 10 % above the baseline's
  double p99_tolerance = 0.25;
  double throughput_tolerance = 0.10;  // throughput at most 10 % below
  // Latency differences up to this are noise, never a regression (a fast service's P99 moves by
  // milliseconds between identical runs on a busy machine).
  Duration latency_noise{5};
  double max_error_rate = 0.01;        // share of non-2xx / failed requests
  SourceLocation location;
};

// Which gates of a deploy a rollback passes (`rollback: {gates: ...}`): `skip` (the default) lets
// a rollback through without the start approvals, so that going back is never held up by
// people; `enforce` makes it wait for them as a deploy does (a retry of it too). Change windows
// apply to every rollback either way (an emergency rollback bypasses them, audited).
struct RollbackPolicy {
  enum class Gates { Skip, Enforce };
  Gates gates = Gates::Skip;
  SourceLocation location;
};

// Which notification channel an environment's messages go to, and for which events (the names
// of notificationEvents(); empty = every event).
struct NotificationRoute {
  std::string channel;
  std::vector<std::string> events;
  SourceLocation location;
};

// The pre-deployment checklist (docs/checklist.md): named items judged before approvals are
// asked, each passes, fails with its reason, or is waived by a role in `waivable_by`.
enum class Severity { Low, Medium, High, Critical };

// A finding that does not fail `vulnerabilities` until `expires` (exclusive).
struct VulnerabilityAllowance {
  std::string id;  // the finding's id as the report names it: CVE-2024-1234, GHSA-..., a rule id
  TimePoint expires;
  std::string reason;
  SourceLocation location;
};

struct VulnerabilitiesItem {
  Severity fail_at = Severity::High;  // a finding at or above this severity fails the item
  std::vector<VulnerabilityAllowance> allow;
  std::vector<std::string> waivable_by;
  SourceLocation location;
};

struct TestsItem {
  int min_tests = 1;  // the JUnit report has no failure or error and at least this many tests
  std::vector<std::string> waivable_by;
  SourceLocation location;
};

struct SemverItem {
  bool require_newer = true;  // and newer than the current release (when it is semver too)
  std::vector<std::string> waivable_by;
  SourceLocation location;
};

// How the checklist reaches GitHub's REST API (codeReview, ciChecks). The token is read when
// an item is judged, from `token_file` or else the variable `token_env`; it is never logged.
struct GitHubSettings {
  std::string api_url = "https://api.github.com";  // no trailing slash
  std::string token_file;
  std::string token_env = "GITHUB_TOKEN";
  SourceLocation location;
};

// The commit's pull request (GitHub) is approved by at least `min_approvals` reviewers (each
// reviewer's latest review counts) and, with `no_changes_requested`, no reviewer's latest
// review asks for changes.
struct CodeReviewItem {
  int min_approvals = 1;
  bool no_changes_requested = true;
  std::vector<std::string> waivable_by;
  SourceLocation location;
};

// The named check runs and commit statuses (contexts) of the commit succeeded on GitHub.
// Each name must be present: a check run completed with conclusion success (or neutral or
// skipped), or a commit status in state success.
struct CiChecksItem {
  std::vector<std::string> required;
  std::vector<std::string> waivable_by;
  SourceLocation location;
};

// How the checklist reaches PagerDuty's REST API (onCall); the token (an API key) is read when
// the item is judged, from `token_file` or else the variable `token_env`; never logged.
struct PagerDutySettings {
  std::string api_url = "https://api.pagerduty.com";  // no trailing slash
  std::string token_file;
  std::string token_env = "PAGERDUTY_API_TOKEN";
  SourceLocation location;
};

// Someone is on call now for the PagerDuty schedule `schedule` (its id, e.g. "PABC123").
struct OnCallItem {
  std::string schedule;
  std::vector<std::string> waivable_by;
  SourceLocation location;
};

// The environment's latest backup (spec.backup) is younger than `max_age` and, with
// `require_restore_test`, the latest restore test recorded for its backups passed (the backup
// hook, or a restore job, writes the result to the backup's RUNWAY_RESTORE_TEST_FILE).
struct BackupVerifiedItem {
  Duration max_age{26 * 3600 * 1000LL};
  bool require_restore_test = true;
  std::vector<std::string> waivable_by;
  SourceLocation location;
};

// The stakeholders were told of this release: a notification about this version of the
// application (of one of `events`, any when empty) was delivered through the outbox to
// `channel` within `within` before the checklist is judged.
struct NotifiedItem {
  std::string channel;
  std::vector<std::string> events;
  Duration within{14 * 24 * 3600 * 1000LL};
  std::vector<std::string> waivable_by;
  SourceLocation location;
};

struct Checklist {
  std::optional<CodeReviewItem> code_review;
  std::optional<CiChecksItem> ci_checks;
  std::optional<VulnerabilitiesItem> vulnerabilities;
  std::optional<TestsItem> tests;
  std::optional<SemverItem> semver;
  std::optional<BackupVerifiedItem> backup_verified;
  std::optional<OnCallItem> on_call;
  std::optional<NotifiedItem> notified;
  GitHubSettings github;
  PagerDutySettings pagerduty;
  SourceLocation location;
  bool empty() const {
    return !code_review && !ci_checks && !vulnerabilities && !tests && !semver && !backup_verified && !on_call &&
           !notified;
  }
  // The items in the order they are judged: codeReview, ciChecks, vulnerabilities, tests,
  // semver, backupVerified, onCall, notified.
  static const std::vector<std::string>& itemNames();
  // The roles that may waive the item named `item` ("codeReview", "vulnerabilities", ...);
  // nullptr when the checklist has no such item.
  const std::vector<std::string>* waivableBy(std::string_view item) const;
  // Every role any item names in waivableBy.
  std::vector<std::string> waiverRoles() const;
};

enum class ForceDeployPolicy { Allowed, Forbidden };
enum class ProgressDeadlineAction { Abort, Degrade };
enum class ConcurrencyPolicy { Reject, Queue, Supersede };

struct Environment {
  std::string name;
  std::string application;  // "" = the only Application in the config
  RuntimeSpec runtime;
  TrafficRouting traffic;
  std::string promotes_from;  // "" = deploys anything
  StrategyKind strategy = StrategyKind::Rolling;
  RollingStrategy rolling;
  BlueGreenStrategy blue_green;
  CanaryStrategy canary;
  ApprovalPolicy approvals;
  ForceDeployPolicy force_deploy = ForceDeployPolicy::Allowed;
  bool promote_full_allowed = true;
  std::vector<ChangeWindow> windows;  // empty = always open
  std::vector<Freeze> freezes;
  Thresholds thresholds;
  Duration progress_deadline{std::chrono::minutes(10)};
  ProgressDeadlineAction progress_deadline_action = ProgressDeadlineAction::Abort;
  int rollback_window = 0;  // fast rollback to any of the last N successful releases
  RollbackPolicy rollback;
  ConcurrencyPolicy concurrency = ConcurrencyPolicy::Reject;
  PostDeployWatch post_deploy;
  bool incident_on_rollback = false;
  std::vector<Dependency> dependencies;
  Hooks hooks;
  std::optional<BackupSpec> backup;
  // Names of variables of runway's environment that hold secrets this environment's hooks
  // need (a database password for a migration): each is passed to its hook and backup commands
  // (only to them: commands never see the rest of runway's environment), and its value is
  // redacted from everything runway stores, logs and sends (core/redact.hpp).
  std::vector<std::string> secrets;
  PreflightSpec preflight;
  PerformanceSpec performance;
  std::vector<NotificationRoute> notifications;
  Checklist checklist;
  SourceLocation location;
};

// ---------------------------------------------------------------------------------------------
// NotificationChannel: where messages are delivered. Secrets (a Slack webhook URL, a PagerDuty
// routing key, a webhook signing key) are never written in the configuration: it names the
// environment variable that holds them, read when a message is delivered.

struct DeliveryRetry {
  Duration initial_backoff{std::chrono::seconds(1)};  // doubles per attempt up to max_backoff
  Duration max_backoff{std::chrono::minutes(5)};
  int max_attempts = 10;  // then the message is marked failed
  SourceLocation location;
};

struct NotificationChannel {
  enum class Kind { Slack, PagerDuty, Webhook };
  std::string name;
  Kind kind = Kind::Slack;
  // Slack: the variable holding the incoming-webhook URL. PagerDuty: the variable holding the
  // 32-character integration (routing) key. Webhook: the variable holding the HMAC-SHA256 key.
  std::string secret_env;
  // PagerDuty: the Events API base URL (events at /v2/enqueue, change events at
  // /v2/change/enqueue). Webhook: where messages are POSTed. Slack: unused.
  std::string url;
  std::string source = "runway";  // PagerDuty: payload.source
  bool change_events = true;      // PagerDuty: deployments as change events (deploy markers)
  Duration timeout{std::chrono::seconds(10)};
  DeliveryRetry retry;
  SourceLocation location;
};

// The events an environment's notifications can be routed by.
const std::vector<std::string>& notificationEvents();

// ---------------------------------------------------------------------------------------------
// IncidentSeverity: one severity level (the runbook's SEV-1..3): how fast someone must
// acknowledge, who is told in turn while nobody does, how often the status must be updated.

struct IncidentSeverity {
  std::string name;  // metadata.name, e.g. sev-1
  int level = 1;     // 1 = most severe; unique
  std::string description;
  Duration response_time{std::chrono::minutes(15)};  // acknowledge within this, else escalate
  std::optional<Duration> update_every;              // nullopt = updates as needed (no reminder)
  // Channels told in turn: the first when the incident opens, the next each responseTime it
  // stays unacknowledged.
  std::vector<std::string> escalation;
  SourceLocation location;
};

// IncidentTemplate: the text of one of the runbook's three communication templates, with
// {{placeholder}}s (incidentTemplatePlaceholders()), checked at load.
struct IncidentTemplate {
  std::string name;  // initial-alert | status-update | resolution
  std::string text;
  SourceLocation location;
};

// The placeholders an IncidentTemplate may use.
const std::vector<std::string>& incidentTemplatePlaceholders();

// ---------------------------------------------------------------------------------------------
// AlertRule: one of the runbook's alerting thresholds. `runway alerts render` writes the rules
// as a Prometheus rules file; Alertmanager posts firing and resolved alerts back to runway
// (POST /api/v1/alerts/alertmanager), which takes the rule's action.

enum class AlertAction {
  AutomaticRollback,          // roll the environment back, the alert as the reason
  ImmediateIncidentResponse,  // page (notify: alert.firing at critical severity)
  InvestigateAndMitigate,     // notify
  Investigate,                // notify
  ScaleOrOptimize,            // notify
  InvestigateDatabase,        // notify
};

// A threshold on a metric runway's router measures (exported on runway serve's /metrics),
// rendered into PromQL for the rule's environment.
struct BuiltinAlertMetric {
  std::string metric;                   // error_rate | latency_p95 | availability | request_rate
  std::optional<double> above;          // exactly one of above / below
  std::optional<double> below;
  Duration window{std::chrono::minutes(5)};  // the rate() window
  SourceLocation location;
};

struct AlertRule {
  std::string name;        // metadata.name
  std::string alert;       // the Prometheus alert name; default: name in CamelCase
  std::string environment;  // the environment it guards
  SourceLocation environment_location;
  std::string expr;        // PromQL; "" when builtin is set
  std::optional<BuiltinAlertMetric> builtin;
  Duration for_duration{0};
  std::string severity = "warning";  // critical | warning | info
  AlertAction action = AlertAction::Investigate;
  std::string summary;     // annotation; "" = generated
  // A rollback this rule caused is not repeated for a new firing of the same alert within this
  // long (flapping).
  Duration cooldown{std::chrono::minutes(30)};
  SourceLocation location;
};

// ---------------------------------------------------------------------------------------------
// AnalysisTemplate

enum class NoDataPolicy { Pass, Fail, Inconclusive, Error };

struct PrometheusProvider {
  std::string address;  // http(s)://host:port
  std::string query;    // PromQL; may use ${service} ${version} ${environment} ${window}
  Duration timeout{std::chrono::seconds(10)};
  std::string bearer_token_env;  // name of the env var holding a bearer token
  std::string basic_user;
  std::string basic_password_env;
  bool insecure_skip_verify = false;
  SourceLocation location;
};

struct WebProvider {
  std::string url;
  std::string json_pointer;  // RFC 6901, e.g. /data/value
  std::map<std::string, std::string> headers;
  Duration timeout{std::chrono::seconds(10)};
  SourceLocation location;
};

// One metric the statistical judge compares between baseline (stable) and canary samples
// (Kayenta's NetflixACAJudge, see /work/shared/reference/judges-and-formats.md §1).
struct JudgeMetric {
  enum class Direction { Increase, Decrease, Either };
  enum class NanStrategy { Remove, Replace };
  enum class EffectSize { MeanRatio, Cles };
  std::string name;
  // Where samples come from: a builtin query name (error_rate, latency_p95, ...) sampled per
  // interval, or a PromQL range query when `prometheus` is set on the judge.
  std::string query;
  std::vector<std::string> groups;
  Direction direction = Direction::Either;
  NanStrategy nan_strategy = NanStrategy::Remove;
  bool remove_outliers = false;
  double outlier_factor = 3.0;
  bool critical = false;
  bool must_have_data = false;
  EffectSize effect_size = EffectSize::MeanRatio;
  double allowed_increase = 1.0;
  double allowed_decrease = 1.0;
  double critical_increase = 1.0;
  double critical_decrease = 1.0;
  SourceLocation location;
};

struct JudgeProvider {
  std::vector<JudgeMetric> metrics;
  std::map<std::string, double> group_weights;  // group -> weight (sum <= 100)
  double pass_score = 75;
  double marginal_score = 50;
  std::string prometheus_address;  // "" = builtin router statistics
  Duration lookback{std::chrono::minutes(10)};
  Duration step{std::chrono::seconds(10)};
  SourceLocation location;
};

struct MetricSpec {
  enum class Provider { Builtin, Prometheus, Web, Judge };
  std::string name;
  Provider provider = Provider::Builtin;
  std::string query;  // builtin: error_rate, latency_p50/p95/p99, request_rate, availability
  Duration window{std::chrono::minutes(1)};  // builtin sliding window; ${window} elsewhere
  PrometheusProvider prometheus;
  WebProvider web;
  JudgeProvider judge;  // result = the 0..100 score
  std::string success_condition;  // expression over `result`; "" = none
  std::string failure_condition;
  Duration interval{0};            // 0 = measure once
  int count = 0;                   // 0 = until stopped (with interval) / 1 (without)
  Duration initial_delay{0};
  Duration for_duration{0};        // failure condition must hold this long before it fails
  int failure_limit = 0;
  int inconclusive_limit = 0;
  int consecutive_error_limit = 4;
  NoDataPolicy no_data = NoDataPolicy::Inconclusive;
  bool dry_run = false;
  SourceLocation location;
};

struct AnalysisTemplate {
  std::string name;
  std::vector<MetricSpec> metrics;
  SourceLocation location;
};

// ---------------------------------------------------------------------------------------------

// One file of a configuration as it was read: what a deployment keeps as its spec snapshot, so
// that it can be loaded again (loadConfigSources) exactly as it was when the deployment started.
struct SourceFile {
  std::string name;  // as given to the loader (locations and relative paths use it)
  std::string text;
  bool operator==(const SourceFile&) const = default;
};

// A whole, validated configuration.
struct Config {
  std::vector<Application> applications;
  std::vector<Environment> environments;
  std::vector<AnalysisTemplate> templates;
  std::vector<NotificationChannel> channels;
  std::vector<AlertRule> alert_rules;
  std::vector<IncidentSeverity> severities;
  std::vector<IncidentTemplate> incident_templates;
  std::vector<std::string> files;  // the files it was read from, in order
  std::vector<SourceFile> sources;  // their text, in the same order

  const Application* findApplication(std::string_view name) const;
  const Environment* findEnvironment(std::string_view name) const;
  const AnalysisTemplate* findTemplate(std::string_view name) const;
  const NotificationChannel* findChannel(std::string_view name) const;
  // By metadata.name or by Prometheus alert name.
  const AlertRule* findAlertRule(std::string_view name) const;
  const IncidentSeverity* findSeverity(int level) const;
  const IncidentTemplate* findIncidentTemplate(std::string_view name) const;
  // The application an environment deploys (its `application`, or the only one).
  const Application* applicationFor(const Environment& env) const;
};

// Every variable of runway's environment the configuration names as holding a secret: each
// environment's `secrets`, the notification channels' keys, Prometheus bearer tokens and basic
// passwords, registry passwords. Sorted, each once.
std::vector<std::string> secretVariableNames(const Config& config);

std::string_view toString(StrategyKind kind);
// "local", "kubernetes", "simulated": the key that names the runtime in the file.
std::string_view toString(RuntimeSpec::Kind kind);
std::string_view toString(NoDataPolicy policy);
std::string_view toString(MetricSpec::Provider provider);
std::string_view toString(CanaryStep::Kind kind);
std::string_view toString(Weekday day);
std::string_view toString(ForceDeployPolicy policy);
std::string_view toString(ProgressDeadlineAction action);
std::string_view toString(ConcurrencyPolicy policy);
std::string_view toString(RollbackPolicy::Gates gates);
std::string_view toString(HeaderRoute::Match match);
std::string_view toString(JudgeMetric::Direction direction);
std::string_view toString(HookPoint point);  // "preDeploy", ...
std::string_view toString(Hook::OnFailure policy);
std::string_view toString(Dependency::Kind kind);
std::string_view toString(NotificationChannel::Kind kind);
std::string_view toString(AlertAction action);  // "automatic_rollback", ...

}  // namespace runway::config
