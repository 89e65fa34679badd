#include "runway/config/loader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include <unistd.h>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "runway/config/substitute.hpp"
#include "runway/core/ids.hpp"
#include "runway/core/pattern.hpp"
#include "runway/core/suggest.hpp"
#include "alert_config.hpp"
#include "notification_config.hpp"
#include "values.hpp"
#include "yaml_reader.hpp"

namespace runway::config {

std::string Diagnostic::format() const {
  std::string out = location.file;
  if (location.line > 0) out += fmt::format(":{}:{}", location.line, location.column);
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

namespace {

using detail::EnumValues;
using detail::Fields;
using detail::Reader;
using detail::Val;

constexpr std::string_view kApiVersion = "runway/v1";

// The absolute directory of the file `r` reads (below).
std::string configDir(const Reader& r);

const std::vector<std::string> kKinds{"Application", "Environment", "AnalysisTemplate",
                                      "NotificationChannel", "AlertRule", "IncidentSeverity",
                                      "IncidentTemplate"};

const std::vector<std::string> kBuiltinQueries{"error_rate",   "latency_p50",  "latency_p95",
                                               "latency_p99",  "request_rate", "availability"};

const std::vector<std::string> kAnalysisRefKeys{"templates", "args", "interval", "thresholds"};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string where(const SourceLocation& location) {
  return fmt::format("{}:{}:{}", location.file, location.line, location.column);
}

std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// "unknown X "name" (did you mean "other"?)"
std::string unknownReference(std::string_view what, std::string_view name,
                             const std::vector<std::string>& candidates) {
  if (auto suggestion = closestMatch(name, candidates)) {
    return fmt::format("unknown {} \"{}\" (did you mean \"{}\"?)", what, name, *suggestion);
  }
  if (candidates.empty()) return fmt::format("unknown {} \"{}\" (none is defined)", what, name);
  return fmt::format("unknown {} \"{}\" (defined: {})", what, name, joined(candidates));
}

bool isEnvVarName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A Kubernetes namespace name (RFC 1123 label).
bool isDnsLabel(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool isHttpUrl(std::string_view url) {
  return (url.rfind("http://", 0) == 0 && url.size() > 7) ||
         (url.rfind("https://", 0) == 0 && url.size() > 8);
}

// A reference to a named object, checked once every document has been read.
struct NameUse {
  std::string name;
  SourceLocation location;
  std::string path;
};

class Loader {
 public:
  void loadText(const std::string& text, const std::string& file);
  void fileError(const std::string& file, std::string message) {
    diagnostics_.push_back(Diagnostic{SourceLocation{file, 0, 0}, "", std::move(message)});
  }
  void addFile(const std::string& file) { config_.files.push_back(file); }
  LoadResult finish();

 private:
  void parseDocument(Reader& r, const YAML::Node& doc);
  bool checkName(Reader& r, const Fields& metadata, std::string& name);
  void claimName(std::map<std::string, SourceLocation>& names, std::string_view kind,
                 const std::string& name, const SourceLocation& location, const std::string& path);

  // Application
  void parseApplication(Reader& r, const Fields& spec, Application& app);
  void parseService(Reader& r, const Val& v, Service& svc);
  void checkSubstitutions(Reader& r, const Val& v, const std::string& text);
  KubernetesWorkload parseKubernetesWorkload(Reader& r, const Val& v);
  Resources parseResources(Reader& r, const Val& v);
  void parseSmoke(Reader& r, const Val& v, Application& app);
  SmokeCheck parseSmokeCheck(Reader& r, const Val& v);

  // Environment
  void parseEnvironment(Reader& r, const Fields& spec, Environment& env, std::size_t index);
  void parseRuntime(Reader& r, const Val& v, Environment& env, std::size_t index);
  AnalysisRef parseAnalysisRef(Reader& r, const Fields& f);
  AnalysisRef parseAnalysisRef(Reader& r, const Val& v);
  CheckRef parseCheckRef(Reader& r, const Val& v);
  RollingStrategy parseRolling(Reader& r, const Val& v);
  BlueGreenStrategy parseBlueGreen(Reader& r, const Val& v);
  CanaryStrategy parseCanary(Reader& r, const Val& v);
  CanaryStep parseStep(Reader& r, const Val& v);
  HeaderRoute parseHeaderRoute(Reader& r, const Val& v);
  TrafficRouting parseTraffic(Reader& r, const Val& v);
  ListenerSettings::Tls parseListenerTls(Reader& r, const Val& v);
  void checkKubernetesRouting(const Environment& env);
  ApprovalPolicy parseApprovals(Reader& r, const Val& v);
  ChangeWindow parseWindow(Reader& r, const Val& v);
  Freeze parseFreeze(Reader& r, const Val& v);
  Thresholds parseThresholds(Reader& r, const Val& v);
  PostDeployWatch parsePostDeploy(Reader& r, const Val& v);
  Dependency parseDependency(Reader& r, const Val& v);
  Hook parseHook(Reader& r, const Val& v, bool command_only);
  Hooks parseHooks(Reader& r, const Val& v);
  BackupSpec parseBackup(Reader& r, const Val& v);
  PreflightSpec parsePreflight(Reader& r, const Val& v);
  Checklist parseChecklist(Reader& r, const Val& v);
  PerformanceSpec parsePerformance(Reader& r, const Val& v);
  std::vector<std::string> parseCommand(Reader& r, const Fields& f);

  // AnalysisTemplate
  void parseTemplate(Reader& r, const Fields& spec, AnalysisTemplate& tpl);
  MetricSpec parseMetric(Reader& r, const Val& v);
  JudgeProvider parseJudge(Reader& r, const Val& v);
  JudgeMetric parseJudgeMetric(Reader& r, const Val& v, bool builtin_queries);

  // Cross-document checks
  void checkEnvironments();
  void checkPromotionCycles();

  void error(const SourceLocation& location, std::string field, std::string message) {
    diagnostics_.push_back(Diagnostic{location, std::move(field), std::move(message)});
  }

  Config config_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<std::function<void()>> deferred_;
  std::map<std::string, SourceLocation> application_names_;
  std::map<std::string, SourceLocation> environment_names_;
  std::map<std::string, SourceLocation> template_names_;
  // Per environment (same index as config_.environments): where its references are.
  struct EnvironmentRefs {
    std::optional<NameUse> application;
    std::optional<NameUse> promotes_from;
    std::vector<NameUse> ports;
    SourceLocation spec;
    SourceLocation runtime;
    std::string runtime_path = "spec.runtime";
    std::vector<NameUse> smoke;  // suite names used by checks
    std::optional<NameUse> performance_service;
  };
  std::size_t current_env_ = 0;
  // Per application (same index as config_.applications): services named by smoke checks.
  std::vector<std::vector<NameUse>> smoke_services_;
  std::vector<EnvironmentRefs> env_refs_;
};

// ---------------------------------------------------------------------------------------------
// Files and documents

// Splits YAML text at document markers ("---" at the start of a line) so that a syntax error
// in one document does not hide the errors in the others. Returns (first line, text) pairs.
std::vector<std::pair<int, std::string>> splitDocuments(const std::string& text) {
  std::vector<std::pair<int, std::string>> chunks;
  chunks.emplace_back(0, std::string());
  std::istringstream in(text);
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    const bool marker = line.rfind("---", 0) == 0 &&
                        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (marker && line_number > 0) chunks.emplace_back(line_number, std::string());
    chunks.back().second += line;
    chunks.back().second += '\n';
    ++line_number;
  }
  return chunks;
}

// yaml-cpp 0.7's LoadAll() never returns for some malformed input, such as a stray ',' where a
// node should start (jbeder/yaml-cpp#1040; fixed upstream by #1319, after Debian 12's 0.7.0):
// the parser keeps reporting the same empty document without consuming the token, and LoadAll
// collects them until memory runs out. `runway validate` and `runway serve` hung on such a file
// (found by tests/fuzz/config). Every document takes at least one line, so a parser that reports
// more documents than the text has lines is stuck: the text is refused as a syntax error where
// it stopped, before LoadAll() is called.
class DocumentCounter final : public YAML::EventHandler {
 public:
  YAML::Mark last;

  void OnDocumentStart(const YAML::Mark& mark) override { last = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { last = mark; }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

std::vector<YAML::Node> loadAllDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
  for (std::ptrdiff_t documents = 0; parser.HandleNextDocument(counter);) {
    if (++documents > lines) {
      const auto at = static_cast<std::size_t>(std::max(counter.last.pos, 0));
      throw YAML::ParserException(
          counter.last, at < text.size() && text[at] != '\n'
                            ? fmt::format("unexpected '{}' where a value should start", text[at])
                            : std::string("unexpected text where a value should start"));
    }
  }
  return YAML::LoadAll(text);
}

// Where to report a syntax error. yaml-cpp reports an unclosed flow collection or quote at the
// end of input, which is past the chunk; the end of its last non-blank line is where the
// reader will look.
SourceLocation syntaxErrorLocation(const Reader& r, const std::string& chunk,
                                   const YAML::Mark& mark) {
  std::vector<std::string> lines;
  std::istringstream in(chunk);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (mark.line >= 0 && static_cast<std::size_t>(mark.line) < lines.size()) return r.locate(mark);
  std::size_t last = lines.empty() ? 0 : lines.size() - 1;
  while (last > 0 && lines[last].find_first_not_of(" \t\r") == std::string::npos) --last;
  const auto column = lines.empty() ? 0 : static_cast<int>(lines[last].size());
  YAML::Mark end;
  end.line = static_cast<int>(last);
  end.column = column;
  return r.locate(end);
}

void Loader::loadText(const std::string& text, const std::string& file) {
  addFile(file);
  config_.sources.push_back(SourceFile{file, text});
  for (const auto& [first_line, chunk] : splitDocuments(text)) {
    Reader r(file, first_line, diagnostics_);
    r.limitLines(static_cast<int>(std::count(chunk.begin(), chunk.end(), '\n')));
    std::vector<YAML::Node> documents;
    try {
      documents = loadAllDocuments(chunk);
    } catch (const YAML::Exception& e) {
      error(syntaxErrorLocation(r, chunk, e.mark), "", fmt::format("YAML syntax error: {}", e.msg));
      continue;
    }
    for (const auto& doc : documents) {
      if (doc.IsNull()) continue;  // an empty document, e.g. after a trailing "---"
      try {
        parseDocument(r, doc);
      } catch (const YAML::Exception& e) {
        error(r.locate(doc), "", fmt::format("cannot read this document: {}", e.what()));
      }
    }
  }
}

void Loader::parseDocument(Reader& r, const YAML::Node& doc) {
  const Val root{doc, r.locate(doc), ""};
  if (!doc.IsMap()) {
    error(root.location, "",
          fmt::format(
              "a document must be a mapping with apiVersion, kind, metadata and spec, got {}",
              detail::describe(doc)));
    return;
  }
  const Fields f(r, root, {"apiVersion", "kind", "metadata", "spec"});
  if (auto v = f.require("apiVersion")) {
    if (auto text = detail::readString(r, *v); text && *text != kApiVersion) {
      error(v->location, v->path,
            fmt::format("unsupported apiVersion \"{}\" (supported: {})", *text, kApiVersion));
    }
  }
  std::string kind;
  if (auto v = f.require("kind")) {
    if (auto text = detail::readString(r, *v)) {
      if (std::find(kKinds.begin(), kKinds.end(), *text) != kKinds.end()) {
        kind = *text;
      } else if (auto suggestion = closestMatch(*text, kKinds)) {
        error(v->location, v->path,
              fmt::format("unknown kind \"{}\" (did you mean \"{}\"?)", *text, *suggestion));
      } else {
        error(v->location, v->path,
              fmt::format("unknown kind \"{}\" (supported: {})", *text, joined(kKinds)));
      }
    }
  }
  std::string name;
  SourceLocation name_location = root.location;
  if (auto v = f.require("metadata")) {
    const Fields metadata(r, *v, {"name"});
    if (metadata.isMap()) {
      if (auto n = metadata.get("name")) name_location = n->location;
      checkName(r, metadata, name);
    }
  }
  const auto spec_val = f.require("spec");
  if (kind.empty() || !spec_val) return;

  if (kind == "Application") {
    Application app;
    app.name = name;
    app.location = root.location;
    if (!name.empty()) claimName(application_names_, kind, name, name_location, "metadata.name");
    const Fields spec(r, *spec_val, {"services", "smoke"});
    smoke_services_.emplace_back();
    if (spec.isMap()) {
      parseApplication(r, spec, app);
      if (auto smoke = spec.get("smoke")) parseSmoke(r, *smoke, app);
    }
    config_.applications.push_back(std::move(app));
  } else if (kind == "Environment") {
    Environment env;
    env.name = name;
    env.location = root.location;
    if (!name.empty()) claimName(environment_names_, kind, name, name_location, "metadata.name");
    const Fields spec(r, *spec_val,
                      {"application", "runtime", "promotesFrom", "strategy", "rolling",
                       "blueGreen", "canary", "approvals", "forceDeploy", "promoteFull", "windows",
                       "freezes", "thresholds", "progressDeadline", "progressDeadlineAction",
                       "rollbackWindow", "rollback", "concurrency", "postDeploy", "incidentOnRollback",
                       "dependencies", "hooks", "backup", "preflight", "performance",
                         "notifications", "secrets", "checklist", "traffic"});
    const auto index = config_.environments.size();
    env_refs_.emplace_back();
    env_refs_.back().spec = spec_val->location;
    env_refs_.back().runtime = spec_val->location;
    if (spec.isMap()) parseEnvironment(r, spec, env, index);
    if (auto v = spec.isMap() ? spec.get("notifications") : std::nullopt) {
      env.notifications = detail::parseNotificationRoutes(r, *v);
    }
    config_.environments.push_back(std::move(env));
  } else if (kind == "NotificationChannel") {
    NotificationChannel channel;
    channel.name = name;
    channel.location = name_location;
    const Fields spec(r, *spec_val, detail::notificationChannelKeys());
    if (spec.isMap()) detail::parseNotificationChannel(r, spec, channel);
    config_.channels.push_back(std::move(channel));
  } else if (kind == "AlertRule") {
    AlertRule rule;
    rule.name = name;
    rule.location = name_location;
    const Fields spec(r, *spec_val, detail::alertRuleKeys());
    if (spec.isMap()) detail::parseAlertRule(r, spec, rule);
    config_.alert_rules.push_back(std::move(rule));
  } else if (kind == "IncidentSeverity") {
    IncidentSeverity severity;
    severity.name = name;
    severity.location = name_location;
    const Fields spec(r, *spec_val, detail::incidentSeverityKeys());
    if (spec.isMap()) detail::parseIncidentSeverity(r, spec, severity);
    config_.severities.push_back(std::move(severity));
  } else if (kind == "IncidentTemplate") {
    IncidentTemplate tpl;
    tpl.name = name;
    tpl.location = name_location;
    const Fields spec(r, *spec_val, {"text"});
    if (spec.isMap()) detail::parseIncidentTemplate(r, spec, tpl);
    config_.incident_templates.push_back(std::move(tpl));
  } else {
    AnalysisTemplate tpl;
    tpl.name = name;
    tpl.location = root.location;
    if (!name.empty()) claimName(template_names_, kind, name, name_location, "metadata.name");
    const Fields spec(r, *spec_val, {"metrics"});
    if (spec.isMap()) parseTemplate(r, spec, tpl);
    config_.templates.push_back(std::move(tpl));
  }
}

std::string nameRules() {
  return "use 1-63 lowercase letters, digits and '-', starting with a letter and not ending with "
         "'-'";
}

bool Loader::checkName(Reader& r, const Fields& metadata, std::string& name) {
  const auto v = metadata.require("name");
  if (!v) return false;
  auto text = detail::readString(r, *v);
  if (!text) return false;
  if (!isValidName(*text)) {
    error(v->location, v->path, fmt::format("invalid name \"{}\": {}", *text, nameRules()));
    return false;
  }
  name = *text;
  return true;
}

void Loader::claimName(std::map<std::string, SourceLocation>& names, std::string_view kind,
                       const std::string& name, const SourceLocation& location,
                       const std::string& path) {
  const auto [it, inserted] = names.emplace(name, location);
  if (!inserted) {
    error(location, path,
          fmt::format("duplicate {} \"{}\" (first defined at {})", kind, name, where(it->second)));
  }
}

// ---------------------------------------------------------------------------------------------
// Application

void Loader::parseApplication(Reader& r, const Fields& spec, Application& app) {
  const auto services = spec.require("services");
  if (!services) return;
  const auto items = detail::readList(r, *services);
  if (!items) return;
  if (items->empty()) {
    error(services->location, services->path, "must list at least one service");
    return;
  }
  std::map<std::string, SourceLocation> names;
  for (const auto& item : *items) {
    Service svc;
    svc.location = item.location;
    parseService(r, item, svc);
    if (!svc.name.empty()) {
      const auto [it, inserted] = names.emplace(svc.name, item.location);
      if (!inserted) {
        error(item.location, item.path + ".name",
              fmt::format("duplicate service \"{}\" (first defined at {})", svc.name,
                          where(it->second)));
      }
    }
    app.services.push_back(std::move(svc));
  }
}

void Loader::parseService(Reader& r, const Val& v, Service& svc) {
  const Fields f(r, v,
                 {"name", "local", "kubernetes", "image", "port", "instances", "env", "health",
                  "resources"});
  if (!f.isMap()) return;
  if (auto n = f.require("name")) {
    if (auto text = detail::readString(r, *n)) {
      if (isValidName(*text)) {
        svc.name = *text;
      } else {
        error(n->location, n->path, fmt::format("invalid name \"{}\": {}", *text, nameRules()));
      }
    }
  }
  if (auto local = f.get("local")) {
    const Fields lf(r, *local, {"command", "workingDir"});
    if (lf.isMap()) {
      LocalRun run;
      run.location = local->location;
      std::error_code ec;
      auto parent = std::filesystem::path(r.file()).parent_path();
      if (parent.empty()) parent = ".";
      auto base = std::filesystem::absolute(parent, ec);
      run.base_dir = ec ? std::string() : base.lexically_normal().string();
      if (run.base_dir.size() > 1 && run.base_dir.back() == '/') run.base_dir.pop_back();
      if (auto command = lf.require("command")) {
        if (auto items = detail::readList(r, *command)) {
          if (items->empty()) error(command->location, command->path, "must not be empty");
          for (const auto& item : *items) {
            if (auto text = detail::readString(r, item)) {
              checkSubstitutions(r, item, *text);
              run.command.push_back(*text);
            }
          }
        }
      }
      lf.str("workingDir", run.working_dir);
      svc.local = std::move(run);
    }
  }
  f.str("image", svc.image);
  f.integer("port", svc.port, 1, 65535);
  f.integer("instances", svc.instances, 1, 1000);
  if (auto kube = f.get("kubernetes")) {
    svc.kubernetes = parseKubernetesWorkload(r, *kube);
    // kubernetes.replicas is the service's instance count where it runs on Kubernetes.
    if (const int replicas = svc.kubernetes->replicas; replicas > 0) {
      if (f.has("instances") && svc.instances != replicas) {
        error(kube->location, kube->path + ".replicas",
              fmt::format("{} differs from instances ({}): set one of them", replicas,
                          svc.instances));
      } else {
        svc.instances = replicas;
      }
    }
  }
  if (auto env = f.get("env")) {
    if (env->node.IsMap()) {
      for (const auto& kv : env->node) {
        const auto key_location = r.locate(kv.first, env->location);
        const auto key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        const Val value{kv.second, r.locate(kv.second, key_location),
                        fmt::format("{}.{}", env->path, key)};
        if (!isEnvVarName(key)) {
          error(key_location, value.path,
                fmt::format("invalid environment variable name \"{}\": use letters, digits and "
                            "'_', not starting with a digit",
                            key));
          continue;
        }
        if (svc.env.count(key) != 0) {
          error(key_location, value.path, fmt::format("duplicate key \"{}\"", key));
          continue;
        }
        std::string text;
        if (!value.node.IsNull()) {
          auto scalar = detail::scalarText(r, value, "a string");
          if (!scalar) continue;
          text = *scalar;
        }
        checkSubstitutions(r, value, text);
        svc.env.emplace(key, text);
      }
    } else {
      error(env->location, env->path,
            fmt::format("expected a mapping, got {}", detail::describe(env->node)));
    }
  }
  if (auto health = f.get("health")) {
    const Fields hf(r, *health, {"path", "initialDelay", "period", "timeout", "failureThreshold"});
    if (hf.isMap()) {
      if (auto p = hf.get("path")) {
        if (auto text = detail::readString(r, *p)) {
          if (text->front() == '/') {
            svc.health.path = *text;
          } else {
            error(p->location, p->path, fmt::format("must start with '/', got \"{}\"", *text));
          }
        }
      }
      hf.duration("initialDelay", svc.health.initial_delay);
      hf.duration("period", svc.health.period, Duration{1});
      hf.duration("timeout", svc.health.timeout, Duration{1});
      hf.integer("failureThreshold", svc.health.failure_threshold, 1, 100);
    }
  }
  if (auto resources = f.get("resources")) svc.resources = parseResources(r, *resources);
  if (!f.has("local") && !f.has("image") && !f.has("kubernetes")) {
    error(v.location, v.path,
          "a service needs local (to run on the embedded runtime) or kubernetes (to run on "
          "kubernetes)");
  }
}

Resources Loader::parseResources(Reader& r, const Val& v) {
  Resources out;
  const Fields rf(r, v, {"cpu", "memory"});
  if (!rf.isMap()) return out;
  if (auto cpu = rf.get("cpu")) {
    if (auto text = detail::scalarText(r, *cpu, "a number of cores")) {
      auto cores = detail::parseCpu(*text);
      if (!cores) {
        error(cpu->location, cpu->path, cores.error().message);
      } else if (*cores <= 0 || *cores > 1024) {
        error(cpu->location, cpu->path,
              fmt::format("must be more than 0 and at most 1024 cores, got {}", *text));
      } else {
        out.cpu = *cores;
      }
    }
  }
  if (auto memory = rf.get("memory")) {
    if (auto text = detail::scalarText(r, *memory, "a memory quantity such as 256Mi")) {
      auto mib = detail::parseMemoryMiB(*text);
      if (!mib) {
        error(memory->location, memory->path, mib.error().message);
      } else if (*mib <= 0) {
        error(memory->location, memory->path, fmt::format("must be more than 0, got {}", *text));
      } else {
        out.memory_mb = *mib;
      }
    }
  }
  return out;
}

KubernetesWorkload Loader::parseKubernetesWorkload(Reader& r, const Val& v) {
  KubernetesWorkload k;
  k.location = v.location;
  const Fields f(r, v,
                 {"image", "port", "env", "resources", "readinessProbe", "replicas",
                  "progressDeadlineSeconds", "podTemplatePatch"});
  if (!f.isMap()) return k;
  if (auto image = f.require("image")) {
    if (auto text = detail::readString(r, *image)) {
      if (auto names = referencedNames(*text); names && std::find(names->begin(), names->end(),
                                                                  "PORT") != names->end()) {
        error(image->location, image->path, "an image cannot use ${PORT}");
      } else {
        checkSubstitutions(r, *image, *text);
      }
      if (text->find_first_of(" \t") != std::string::npos) {
        error(image->location, image->path,
              fmt::format("an image reference has no spaces, got \"{}\"", *text));
      }
      k.image = *text;
    }
  }
  f.integer("port", k.port, 1, 65535);
  if (auto env = f.get("env")) {
    if (auto values = detail::readStringMap(r, *env)) {
      for (const auto& [key, value] : *values) {
        const Val item{env->node[key], r.locate(env->node[key], env->location),
                       fmt::format("{}.{}", env->path, key)};
        if (!isEnvVarName(key)) {
          error(item.location, item.path,
                fmt::format("invalid environment variable name \"{}\": use letters, digits and "
                            "'_', not starting with a digit",
                            key));
          continue;
        }
        checkSubstitutions(r, item, value);
        k.env.emplace(key, value);
      }
    }
  }
  if (auto resources = f.get("resources")) k.resources = parseResources(r, *resources);
  if (auto probe = f.get("readinessProbe")) {
    if (probe->node.IsScalar()) {
      if (probe->node.Scalar() == "none") {
        k.readiness_probe = false;
      } else {
        error(probe->location, probe->path,
              fmt::format("expected {{path: /...}} or none, got \"{}\"", probe->node.Scalar()));
      }
    } else {
      const Fields pf(r, *probe, {"path"});
      if (pf.isMap()) {
        if (auto p = pf.require("path")) {
          if (auto text = detail::readString(r, *p)) {
            if (text->front() == '/') {
              k.readiness_path = *text;
            } else {
              error(p->location, p->path, fmt::format("must start with '/', got \"{}\"", *text));
            }
          }
        }
      }
    }
  }
  f.integer("replicas", k.replicas, 0, 1000);
  f.integer("progressDeadlineSeconds", k.progress_deadline_seconds, 1, 86400);
  if (auto patch = f.get("podTemplatePatch")) {
    if (!patch->node.IsMap()) {
      error(patch->location, patch->path,
            fmt::format("expected a mapping (fields of the pod template, e.g. spec: "
                        "{{nodeSelector: ...}}), got {}",
                        detail::describe(patch->node)));
    } else if (auto text = detail::jsonText(r, *patch)) {
      k.pod_template_patch = *text;
    }
  }
  return k;
}

void Loader::checkSubstitutions(Reader& r, const Val& v, const std::string& text) {
  (void)r;
  const auto names = referencedNames(text);
  if (!names) {
    error(v.location, v.path, names.error().message);
    return;
  }
  const auto& allowed = substitutionNames();
  for (const auto& name : *names) {
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string supported;
    for (const auto& a : allowed) supported += (supported.empty() ? "${" : ", ${") + a + "}";
    if (auto suggestion = closestMatch(name, allowed)) {
      error(v.location, v.path,
            fmt::format(
                "unknown substitution \"${{{}}}\" (did you mean \"${{{}}}\"?; supported: {})",
                name, *suggestion, supported));
    } else {
      error(v.location, v.path,
            fmt::format("unknown substitution \"${{{}}}\" (supported: {})", name, supported));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Environment

const EnumValues<StrategyKind> kStrategies{{"rolling", StrategyKind::Rolling},
                                           {"blue-green", StrategyKind::BlueGreen},
                                           {"canary", StrategyKind::Canary}};

void Loader::parseEnvironment(Reader& r, const Fields& spec, Environment& env, std::size_t index) {
  auto& refs = env_refs_[index];
  current_env_ = index;
  if (auto v = spec.get("application")) {
    if (auto text = detail::readString(r, *v)) {
      env.application = *text;
      refs.application = NameUse{*text, v->location, v->path};
    }
  }
  if (auto v = spec.get("runtime")) {
    refs.runtime = v->location;
    parseRuntime(r, *v, env, index);
  }
  if (auto v = spec.get("promotesFrom")) {
    if (auto text = detail::readString(r, *v)) {
      env.promotes_from = *text;
      refs.promotes_from = NameUse{*text, v->location, v->path};
    }
  }
  spec.enumeration("strategy", env.strategy, kStrategies);
  if (auto v = spec.get("rolling")) env.rolling = parseRolling(r, *v);
  if (auto v = spec.get("blueGreen")) env.blue_green = parseBlueGreen(r, *v);
  if (auto v = spec.get("canary")) {
    env.canary = parseCanary(r, *v);
  } else if (env.strategy == StrategyKind::Canary) {
    const auto s = spec.get("strategy");
    error(s ? s->location : spec.self().location, spec.path("canary"),
          "strategy \"canary\" needs a canary block with steps");
  }
  if (auto v = spec.get("traffic")) env.traffic = parseTraffic(r, *v);
  checkKubernetesRouting(env);
  if (auto v = spec.get("approvals")) env.approvals = parseApprovals(r, *v);
  spec.enumeration("forceDeploy", env.force_deploy,
                   EnumValues<ForceDeployPolicy>{{"allowed", ForceDeployPolicy::Allowed},
                                                 {"forbidden", ForceDeployPolicy::Forbidden}});
  spec.enumeration("promoteFull", env.promote_full_allowed,
                   EnumValues<bool>{{"allowed", true}, {"forbidden", false}});
  if (auto v = spec.get("windows")) {
    if (auto items = detail::readList(r, *v)) {
      for (const auto& item : *items) env.windows.push_back(parseWindow(r, item));
    }
  }
  if (auto v = spec.get("freezes")) {
    if (auto items = detail::readList(r, *v)) {
      for (const auto& item : *items) env.freezes.push_back(parseFreeze(r, item));
    }
  }
  if (auto v = spec.get("thresholds")) env.thresholds = parseThresholds(r, *v);
  spec.duration("progressDeadline", env.progress_deadline, Duration{1});
  spec.enumeration("progressDeadlineAction", env.progress_deadline_action,
                   EnumValues<ProgressDeadlineAction>{
                       {"abort", ProgressDeadlineAction::Abort},
                       {"degrade", ProgressDeadlineAction::Degrade}});
  spec.integer("rollbackWindow", env.rollback_window, 0, 100);
  spec.enumeration("concurrency", env.concurrency,
                   EnumValues<ConcurrencyPolicy>{{"reject", ConcurrencyPolicy::Reject},
                                                 {"queue", ConcurrencyPolicy::Queue},
                                                 {"supersede", ConcurrencyPolicy::Supersede}});
  if (auto v = spec.get("postDeploy")) env.post_deploy = parsePostDeploy(r, *v);
  if (auto v = spec.get("rollback")) {
    env.rollback.location = v->location;
    const Fields f(r, *v, {"gates"});
    if (f.isMap()) {
      f.enumeration("gates", env.rollback.gates,
                    EnumValues<RollbackPolicy::Gates>{{"skip", RollbackPolicy::Gates::Skip},
                                                      {"enforce", RollbackPolicy::Gates::Enforce}});
    }
  }
  spec.boolean("incidentOnRollback", env.incident_on_rollback);
  if (auto v = spec.get("dependencies")) {
    if (auto items = detail::readList(r, *v)) {
      std::map<std::string, SourceLocation> names;
      for (const auto& item : *items) {
        auto dep = parseDependency(r, item);
        if (!dep.name.empty()) {
          if (auto [it, inserted] = names.emplace(dep.name, item.location); !inserted) {
            error(item.location, item.path + ".name",
                  fmt::format("duplicate dependency \"{}\" (first defined at {})", dep.name,
                              where(it->second)));
          }
        }
        env.dependencies.push_back(std::move(dep));
      }
    }
  }
  if (auto v = spec.get("secrets")) {
    if (auto names = detail::readStringList(r, *v)) {
      for (const auto& name : *names) {
        if (!isEnvVarName(name)) {
          error(v->location, v->path, fmt::format("invalid environment variable name \"{}\"", name));
        }
      }
      env.secrets = *names;
    }
  }
  if (auto v = spec.get("hooks")) env.hooks = parseHooks(r, *v);
  if (auto v = spec.get("backup")) env.backup = parseBackup(r, *v);
  if (auto v = spec.get("preflight")) env.preflight = parsePreflight(r, *v);
  if (auto v = spec.get("checklist")) env.checklist = parseChecklist(r, *v);
  if (env.checklist.backup_verified && !env.backup) {
    error(env.checklist.backup_verified->location, "spec.checklist.backupVerified",
          "judges the environment's backups: configure spec.backup (its backup hook) too");
  }
  if (auto v = spec.get("performance")) {
    env.performance = parsePerformance(r, *v);
    if (!env.performance.service.empty()) {
      refs.performance_service =
          NameUse{env.performance.service, v->location, v->path + ".service"};
    }
  }
}

void Loader::parseRuntime(Reader& r, const Val& v, Environment& env, std::size_t index) {
  const Fields f(r, v, {"local", "kubernetes", "simulated"});
  if (!f.isMap()) return;
  env.runtime.location = v.location;
  // "local:" with nothing after it means the local runtime with its defaults.
  const bool local = f.getRaw("local").has_value();
  const bool kubernetes = f.getRaw("kubernetes").has_value();
  const bool simulated = f.getRaw("simulated").has_value();
  if (int{local} + int{kubernetes} + int{simulated} != 1) {
    error(v.location, v.path, "set exactly one of local, kubernetes or simulated");
    return;
  }
  if (simulated) {
    env.runtime.kind = RuntimeSpec::Kind::Simulated;
    const auto sv = *f.getRaw("simulated");
    env_refs_[index].runtime_path = sv.path;
    if (sv.node.IsNull()) return;
    const Fields sf(r, sv, {"readyAfter", "requestsPerSecond", "errorRate", "latencyP95", "seed"});
    if (!sf.isMap()) return;
    auto& sim = env.runtime.simulated;
    sf.duration("readyAfter", sim.ready_after);
    sf.number("requestsPerSecond", sim.requests_per_second, 0, 1e6);
    sf.number("errorRate", sim.error_rate, 0, 1);
    sf.duration("latencyP95", sim.latency_p95);
    int seed = 1;
    if (sf.integer("seed", seed, 0, std::numeric_limits<int>::max())) {
      sim.seed = static_cast<std::uint64_t>(seed);
    }
    return;
  }
  if (local) {
    env.runtime.kind = RuntimeSpec::Kind::Local;
    const auto lv = *f.getRaw("local");
    env_refs_[index].runtime_path = lv.path;
    if (lv.node.IsNull()) return;
    const Fields lf(r, lv, {"bindAddress", "ports"});
    if (!lf.isMap()) return;
    lf.str("bindAddress", env.runtime.local.bind_address);
    if (auto ports = lf.get("ports")) {
      if (!ports->node.IsMap()) {
        error(ports->location, ports->path,
              fmt::format("expected a mapping of service names to ports, got {}",
                          detail::describe(ports->node)));
        return;
      }
      std::map<int, std::string> used;
      for (const auto& kv : ports->node) {
        const auto key_location = r.locate(kv.first, ports->location);
        const auto service = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        const Val value{kv.second, r.locate(kv.second, key_location),
                        fmt::format("{}.{}", ports->path, service)};
        const auto port = detail::readInteger(r, value, 1, 65535);
        if (!port) continue;
        const int p = static_cast<int>(*port);
        if (env.runtime.local.ports.count(service) != 0) {
          error(key_location, value.path, fmt::format("duplicate key \"{}\"", service));
          continue;
        }
        if (auto it = used.find(p); it != used.end()) {
          error(value.location, value.path,
                fmt::format("port {} is already used by service \"{}\"", p, it->second));
          continue;
        }
        used.emplace(p, service);
        env.runtime.local.ports.emplace(service, p);
        env_refs_[index].ports.push_back(NameUse{service, key_location, value.path});
      }
    }
  } else {
    env.runtime.kind = RuntimeSpec::Kind::Kubernetes;
    const auto kv = *f.getRaw("kubernetes");
    env_refs_[index].runtime_path = kv.path;
    auto& k = env.runtime.kubernetes;
    k.namespace_name = env.name;
    std::error_code ec;
    auto parent = std::filesystem::path(r.file()).parent_path();
    if (parent.empty()) parent = ".";
    const auto base = std::filesystem::absolute(parent, ec);
    k.kubeconfig_base_dir = ec ? std::string() : base.lexically_normal().string();
    if (kv.node.IsNull()) return;
    const Fields kf(r, kv, {"kubeconfig", "context", "namespace", "gateway", "traffic"});
    if (!kf.isMap()) return;
    kf.str("kubeconfig", k.kubeconfig);
    kf.str("context", k.context);
    if (auto ns = kf.get("namespace")) {
      if (auto text = detail::readString(r, *ns)) {
        if (isDnsLabel(*text)) {
          k.namespace_name = *text;
        } else {
          error(ns->location, ns->path,
                fmt::format("invalid namespace \"{}\": a DNS label (lower-case letters, digits "
                            "and '-', at most 63 characters, starting and ending with a letter "
                            "or digit)",
                            *text));
        }
      }
    }
    if (auto gw = kf.get("gateway")) {
      const Fields gf(r, *gw, {"name", "namespace"});
      if (gf.isMap()) {
        gf.str("name", k.gateway, true);
        gf.str("namespace", k.gateway_namespace);
      }
    }
    k.traffic = k.gateway.empty() ? KubernetesRuntime::Traffic::Replicas
                                  : KubernetesRuntime::Traffic::HttpRoute;
    if (kf.enumeration("traffic", k.traffic,
                       EnumValues<KubernetesRuntime::Traffic>{
                           {"httproute", KubernetesRuntime::Traffic::HttpRoute},
                           {"replicas", KubernetesRuntime::Traffic::Replicas}})) {
      const auto t = *kf.get("traffic");
      if (k.traffic == KubernetesRuntime::Traffic::HttpRoute && k.gateway.empty()) {
        error(t.location, t.path,
              "traffic \"httproute\" needs gateway: {name: GATEWAY} (the Gateway the HTTPRoutes "
              "attach to)");
      } else if (k.traffic == KubernetesRuntime::Traffic::Replicas && !k.gateway.empty()) {
        error(t.location, t.path,
              "traffic \"replicas\" does not use the gateway; remove gateway or use "
              "\"httproute\"");
      }
    }
  }
}

AnalysisRef Loader::parseAnalysisRef(Reader& r, const Val& v) {
  const Fields f(r, v, kAnalysisRefKeys);
  if (!f.isMap()) return {};
  return parseAnalysisRef(r, f);
}

AnalysisRef Loader::parseAnalysisRef(Reader& r, const Fields& f) {
  AnalysisRef ref;
  ref.location = f.self().location;
  std::vector<NameUse> uses;
  if (auto templates = f.require("templates")) {
    if (auto items = detail::readList(r, *templates)) {
      if (items->empty()) {
        error(templates->location, templates->path, "must name at least one AnalysisTemplate");
      }
      for (const auto& item : *items) {
        if (auto name = detail::readString(r, item)) {
          if (std::find(ref.templates.begin(), ref.templates.end(), *name) != ref.templates.end()) {
            error(item.location, item.path, fmt::format("\"{}\" is listed twice", *name));
            continue;
          }
          ref.templates.push_back(*name);
          uses.push_back(NameUse{*name, item.location, item.path});
        }
      }
    }
  }
  f.stringMap("args", ref.args);
  f.duration("interval", ref.interval, Duration{1});
  std::vector<NameUse> threshold_uses;
  std::vector<std::string> threshold_keys;  // every key, a valid number or not
  if (auto thresholds = f.get("thresholds")) {
    if (auto values = detail::readStringMap(r, *thresholds)) {
      for (const auto& kv : thresholds->node) {
        const auto key = kv.first.Scalar();
        threshold_keys.push_back(key);
        const Val value{kv.second, r.locate(kv.second, thresholds->location),
                        fmt::format("{}.{}", thresholds->path, key)};
        if (!detail::parseNumber(values->at(key))) {
          error(value.location, value.path,
                fmt::format("expected a number, got {}", detail::describe(value.node)));
          continue;
        }
        ref.thresholds.emplace(key, values->at(key));
        threshold_uses.push_back(
            NameUse{key, r.locate(kv.first, thresholds->location), value.path});
      }
    }
  }
  const std::size_t env_index = current_env_;  // analysis is referenced from environments only
  deferred_.push_back([this, uses, threshold_uses, threshold_keys, env_index]() {
    std::vector<std::string> names;
    for (const auto& t : config_.templates) {
      if (!t.name.empty()) names.push_back(t.name);
    }
    std::vector<const AnalysisTemplate*> resolved;
    bool all_resolved = true;
    for (const auto& use : uses) {
      if (const auto* t = config_.findTemplate(use.name)) {
        resolved.push_back(t);
      } else {
        all_resolved = false;
        error(use.location, use.path, unknownReference("AnalysisTemplate", use.name, names));
      }
    }
    if (!all_resolved) return;
    // On Kubernetes runway is not in the request path: the router's statistics (builtin) have
    // nothing to measure, and an analysis of them would only ever have no data.
    if (env_index < config_.environments.size() &&
        config_.environments[env_index].runtime.kind == RuntimeSpec::Kind::Kubernetes) {
      for (std::size_t i = 0; i < resolved.size(); ++i) {
        for (const auto& m : resolved[i]->metrics) {
          if (m.provider != MetricSpec::Provider::Builtin) continue;
          error(uses[i].location, uses[i].path,
                fmt::format("template \"{}\" measures metric \"{}\" with provider builtin (the "
                            "runway router's statistics), which environment {} on the kubernetes "
                            "runtime does not have: runway is not in its request path; measure it "
                            "with provider: prometheus",
                            resolved[i]->name, m.name, config_.environments[env_index].name));
        }
      }
    }
    // One analysis measures each metric name once: two templates defining the same name could
    // not be set up when the run starts, so they are refused here, at the second template.
    std::map<std::string, std::string> defined_by;  // metric name -> template
    for (std::size_t i = 0; i < resolved.size(); ++i) {
      for (const auto& m : resolved[i]->metrics) {
        auto [it, fresh] = defined_by.emplace(m.name, resolved[i]->name);
        if (fresh || it->second == resolved[i]->name) continue;
        error(uses[i].location, uses[i].path,
              fmt::format("template \"{}\" defines metric \"{}\", which template \"{}\" in this "
                          "analysis defines too; one analysis measures each metric name once "
                          "(rename one of the metrics)",
                          resolved[i]->name, m.name, it->second));
      }
    }
    // A threshold replaces ${threshold} in the conditions of the metric it names.
    std::vector<std::string> metrics;
    for (std::size_t i = 0; i < resolved.size(); ++i) {
      for (const auto& m : resolved[i]->metrics) {
        if (m.success_condition.find("${threshold}") != std::string::npos ||
            m.failure_condition.find("${threshold}") != std::string::npos) {
          metrics.push_back(m.name);
          // Without a value the condition cannot be parsed when the run starts.
          const bool given = std::find(threshold_keys.begin(), threshold_keys.end(), m.name) !=
                             threshold_keys.end();
          if (!given) {
            error(uses[i].location, uses[i].path,
                  fmt::format("metric \"{}\" of template \"{}\" uses ${{threshold}} in its "
                              "conditions; give its value in this analysis' thresholds "
                              "(thresholds: {{{}: <number>}})",
                              m.name, resolved[i]->name, m.name));
          }
        }
      }
    }
    for (const auto& use : threshold_uses) {
      if (std::find(metrics.begin(), metrics.end(), use.name) != metrics.end()) continue;
      if (auto suggestion = closestMatch(use.name, metrics)) {
        error(use.location, use.path,
              fmt::format("no metric \"{}\" with a ${{threshold}} condition in the referenced "
                          "templates (did you mean \"{}\"?)",
                          use.name, *suggestion));
      } else {
        error(use.location, use.path,
              fmt::format("no metric \"{}\" with a ${{threshold}} condition in the referenced "
                          "templates",
                          use.name));
      }
    }
  });
  return ref;
}

CheckRef Loader::parseCheckRef(Reader& r, const Val& v) {
  CheckRef ref;
  ref.location = v.location;
  const Fields f(r, v, {"smoke", "health"});
  if (!f.isMap()) return ref;
  if (f.str("smoke", ref.smoke) && current_env_ < env_refs_.size()) {
    env_refs_[current_env_].smoke.push_back(
        NameUse{ref.smoke, f.get("smoke")->location, f.path("smoke")});
  }
  f.enumeration("health", ref.health,
                EnumValues<std::string>{{"basic", "basic"},
                                        {"comprehensive", "comprehensive"},
                                        {"detailed", "detailed"}});
  if (!f.has("smoke") && !f.has("health")) {
    error(v.location, v.path,
          "set smoke (a suite name), health (basic, comprehensive or detailed) or both");
  }
  return ref;
}

RollingStrategy Loader::parseRolling(Reader& r, const Val& v) {
  RollingStrategy rolling;
  rolling.location = v.location;
  const Fields f(r, v, {"maxSurge", "maxUnavailable"});
  if (!f.isMap()) return rolling;
  bool ok = true;
  for (const auto* key : {"maxSurge", "maxUnavailable"}) {
    const auto value = f.get(key);
    if (!value) continue;
    const auto text = detail::scalarText(r, *value, "a count or a percentage such as \"25%\"");
    if (!text) {
      ok = false;
      continue;
    }
    auto parsed = detail::parseIntOrPercent(*text);
    if (!parsed) {
      error(value->location, value->path, parsed.error().message);
      ok = false;
      continue;
    }
    (std::string_view(key) == "maxSurge" ? rolling.max_surge : rolling.max_unavailable) = *parsed;
  }
  if (ok && rolling.max_surge.value == 0 && rolling.max_unavailable.value == 0) {
    error(v.location, v.path, "maxSurge and maxUnavailable cannot both be 0 (nothing could move)");
  }
  return rolling;
}

BlueGreenStrategy Loader::parseBlueGreen(Reader& r, const Val& v) {
  BlueGreenStrategy bg;
  bg.location = v.location;
  const Fields f(r, v,
                 {"autoPromotion", "autoPromotionAfter", "prePromotionAnalysis",
                  "prePromotionChecks", "verification", "postPromotionAnalysis",
                  "postPromotionChecks", "scaleDownDelay"});
  if (!f.isMap()) return bg;
  f.boolean("autoPromotion", bg.auto_promotion);
  f.duration("autoPromotionAfter", bg.auto_promotion_after);
  if (auto a = f.get("prePromotionAnalysis")) bg.pre_promotion_analysis = parseAnalysisRef(r, *a);
  if (auto c = f.get("prePromotionChecks")) bg.pre_promotion_checks = parseCheckRef(r, *c);
  f.duration("verification", bg.verification);
  if (auto a = f.get("postPromotionAnalysis")) bg.post_promotion_analysis = parseAnalysisRef(r, *a);
  if (auto c = f.get("postPromotionChecks")) bg.post_promotion_checks = parseCheckRef(r, *c);
  f.duration("scaleDownDelay", bg.scale_down_delay);
  return bg;
}

CanaryStrategy Loader::parseCanary(Reader& r, const Val& v) {
  CanaryStrategy canary;
  canary.location = v.location;
  const Fields f(r, v,
                 {"steps", "analysis", "abortScaleDownDelay", "scaleDownDelay", "initialDeploy"});
  if (!f.isMap()) return canary;
  std::optional<std::vector<Val>> steps;
  if (auto s = f.require("steps")) {
    steps = detail::readList(r, *s);
    if (steps && steps->empty()) error(s->location, s->path, "must list at least one step");
  }
  if (steps && !steps->empty()) {
    // Weights only grow, and the last one is 100: the canary ends fully promoted.
    std::optional<std::size_t> last_weight;  // index of the previous setWeight step
    bool weights_ok = true;
    for (std::size_t i = 0; i < steps->size(); ++i) {
      canary.steps.push_back(parseStep(r, (*steps)[i]));
      const auto& step = canary.steps.back();
      if (step.kind != CanaryStep::Kind::SetWeight || step.weight < 0) {
        if (step.weight < 0) weights_ok = false;
        continue;
      }
      if (last_weight && step.weight < canary.steps[*last_weight].weight) {
        error(step.location, (*steps)[i].path + ".setWeight",
              fmt::format("weight {} is lower than the previous setWeight {} ({}); weights must "
                          "not decrease",
                          step.weight, canary.steps[*last_weight].weight,
                          (*steps)[*last_weight].path));
        weights_ok = false;
      }
      last_weight = i;
    }
    if (weights_ok) {
      if (!last_weight) {
        error(f.get("steps")->location, f.path("steps"),
              "the steps must set a weight (setWeight) and end at setWeight: 100");
      } else if (canary.steps[*last_weight].weight != 100) {
        error(canary.steps[*last_weight].location, (*steps)[*last_weight].path + ".setWeight",
              fmt::format("the last setWeight must be 100 (the canary ends fully promoted), got {}",
                          canary.steps[*last_weight].weight));
      }
    }
  }
  if (auto a = f.get("analysis")) {
    const Fields af(r, *a, plus(kAnalysisRefKeys, {"startingStep"}));
    if (af.isMap()) {
      BackgroundAnalysis background;
      background.location = a->location;
      background.analysis = parseAnalysisRef(r, af);
      if (auto s = af.get("startingStep")) {
        const auto max_step =
            steps && !steps->empty() ? static_cast<std::int64_t>(steps->size()) - 1 : 0;
        if (auto value = detail::readInteger(r, *s, 0, max_step)) {
          background.starting_step = static_cast<int>(*value);
        }
      }
      canary.analysis = std::move(background);
    }
  }
  f.duration("abortScaleDownDelay", canary.abort_scale_down_delay);
  f.duration("scaleDownDelay", canary.scale_down_delay);
  f.enumeration("initialDeploy", canary.steps_on_initial_deploy,
                EnumValues<bool>{{"skipSteps", false}, {"runSteps", true}});
  return canary;
}

CanaryStep Loader::parseStep(Reader& r, const Val& v) {
  CanaryStep step;
  step.location = v.location;
  step.weight = -1;  // marks "not a valid setWeight" for the weight checks; reset below
  const std::vector<std::string> kinds{"setWeight", "pause",  "analysis",
                                       "approval",  "checks", "setHeaderRoute"};
  const Fields f(r, v, kinds);
  if (!f.isMap()) return step;
  const auto keys = f.keys();
  if (keys.empty()) {
    if (v.node.size() == 0) {
      error(v.location, v.path, fmt::format("a step needs one of: {}", joined(kinds)));
    }
    return step;
  }
  if (keys.size() > 1) {
    error(v.location, v.path,
          fmt::format("a step does exactly one thing, got {}", joined(keys, " and ")));
    return step;
  }
  const auto& kind = keys.front();
  const auto value = *f.getRaw(kind);
  if (kind == "setWeight") {
    step.kind = CanaryStep::Kind::SetWeight;
    if (value.node.IsNull()) {
      error(value.location, value.path, "expected a weight between 0 and 100, got nothing");
    } else if (auto weight = detail::readInteger(r, value, 0, 100)) {
      step.weight = static_cast<int>(*weight);
    }
    return step;
  }
  step.weight = 0;
  if (kind == "pause") {
    step.kind = CanaryStep::Kind::Pause;
    if (value.node.IsNull()) return step;  // "pause:" = until promoted
    if (value.node.IsScalar()) {
      error(value.location, value.path,
            fmt::format("expected a mapping, got {} (write pause: {{duration: {}}}, or pause: {{}} "
                        "to wait until promoted)",
                        detail::describe(value.node), value.node.Scalar()));
      return step;
    }
    const Fields pf(r, value, {"duration"});
    if (!pf.isMap()) return step;
    if (auto d = pf.get("duration")) {
      if (auto duration = detail::readDuration(r, *d, Duration{1})) step.pause = *duration;
    }
  } else if (kind == "analysis") {
    step.kind = CanaryStep::Kind::Analysis;
    step.analysis = parseAnalysisRef(r, value);
  } else if (kind == "approval") {
    step.kind = CanaryStep::Kind::Approval;
    const Fields af(r, value, {"roles"});
    if (!af.isMap()) return step;
    if (auto roles = af.require("roles")) {
      if (auto list = detail::readStringList(r, *roles)) {
        if (list->empty()) error(roles->location, roles->path, "must name at least one role");
        step.approval = std::move(*list);
      }
    }
  } else if (kind == "checks") {
    step.kind = CanaryStep::Kind::Checks;
    step.checks = parseCheckRef(r, value);
  } else {
    step.kind = CanaryStep::Kind::SetHeaderRoute;
    step.header_route = parseHeaderRoute(r, value);
  }
  return step;
}

HeaderRoute Loader::parseHeaderRoute(Reader& r, const Val& value) {
  HeaderRoute route;
  route.location = value.location;
  const Fields hf(r, value, {"header", "cookie", "match", "value"});
  if (!hf.isMap()) return route;
  hf.str("header", route.header);
  hf.str("cookie", route.cookie);
  if (hf.has("header") == hf.has("cookie")) {
    error(value.location, value.path, "set exactly one of header or cookie");
  }
  for (const char* key : {"header", "cookie"}) {
    const auto v = hf.get(key);
    const std::string& name = std::string_view(key) == "header" ? route.header : route.cookie;
    if (v && !name.empty() && !isHttpToken(name)) {
      error(v->location, v->path,
            fmt::format("\"{}\" is not a valid {} name (letters, digits and !#$%&'*+-.^_`|~)",
                        name, key));
    }
  }
  hf.enumeration("match", route.match,
                 EnumValues<HeaderRoute::Match>{{"exact", HeaderRoute::Match::Exact},
                                                {"prefix", HeaderRoute::Match::Prefix},
                                                {"regex", HeaderRoute::Match::Regex}});
  if (auto val = hf.require("value")) {
    if (auto text = detail::readString(r, *val)) {
      route.value = *text;
      if (route.match == HeaderRoute::Match::Regex) {
        if (auto compiled = Pattern::compile(*text); !compiled) {
          error(val->location, val->path,
                fmt::format("\"{}\": {} (RE2 syntax)", *text, compiled.error().message));
        }
      }
    }
  }
  return route;
}

TrafficRouting Loader::parseTraffic(Reader& r, const Val& v) {
  TrafficRouting traffic;
  traffic.location = v.location;
  const Fields f(r, v, {"routes", "stickySessions", "listener"});
  if (!f.isMap()) return traffic;
  if (auto routes = f.get("routes")) {
    if (auto items = detail::readList(r, *routes)) {
      for (const auto& item : *items) traffic.routes.push_back(parseHeaderRoute(r, item));
    }
  }
  if (auto sv = f.get("stickySessions")) {
    StickySessions sticky;
    sticky.location = sv->location;
    const Fields sf(r, *sv, {"cookie", "maxAge"});
    if (sf.isMap()) {
      if (sf.str("cookie", sticky.cookie) && !isHttpToken(sticky.cookie)) {
        const auto c = *sf.get("cookie");
        error(c.location, c.path,
              fmt::format("\"{}\" is not a valid cookie name (letters, digits and "
                          "!#$%&'*+-.^_`|~)",
                          sticky.cookie));
      }
      sf.duration("maxAge", sticky.max_age, Duration{1000});
    }
    traffic.sticky = std::move(sticky);
  }
  if (auto lv = f.get("listener")) {
    ListenerSettings listener;
    listener.location = lv->location;
    const Fields lf(r, *lv,
                    {"headerTimeout", "idleTimeout", "requestTimeout", "maxRequestBody", "tls"});
    if (lf.isMap()) {
      lf.duration("headerTimeout", listener.header_timeout, Duration{1});
      lf.duration("idleTimeout", listener.idle_timeout, Duration{1});
      lf.duration("requestTimeout", listener.request_timeout, Duration{1});
      if (auto body = lf.get("maxRequestBody")) {
        if (auto text = detail::scalarText(r, *body, "a size such as 10Mi")) {
          if (auto bytes = detail::parseByteSize(*text); bytes && *bytes > (1ull << 40)) {
            error(body->location, body->path, fmt::format("must be at most 1Ti, got {}", *text));
          } else if (bytes) {
            listener.max_request_body = *bytes;
          } else {
            error(body->location, body->path, bytes.error().message);
          }
        }
      }
      if (auto tv = lf.get("tls")) listener.tls = parseListenerTls(r, *tv);
    }
    traffic.listener = std::move(listener);
  }
  return traffic;
}

// `traffic.listener.tls`: both files required, each a readable regular file, a relative path
// taken from the configuration file's directory. Whether they hold a usable certificate and key
// is the router's to say when the listener is set up (the local runtime asks it first).
ListenerSettings::Tls Loader::parseListenerTls(Reader& r, const Val& v) {
  ListenerSettings::Tls tls;
  tls.location = v.location;
  const Fields f(r, v, {"certificate", "key"});
  if (!f.isMap()) return tls;
  for (auto [name, out] : {std::pair{"certificate", &tls.certificate}, std::pair{"key", &tls.key}}) {
    if (!f.require(name) || !f.str(name, *out)) continue;  // str refuses an empty name
    const auto field = *f.get(name);
    std::filesystem::path file(*out);
    if (file.is_relative()) file = std::filesystem::path(configDir(r)) / file;
    *out = file.lexically_normal().string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      error(field.location, field.path, fmt::format("\"{}\" is not a file", *out));
    } else if (::access(out->c_str(), R_OK) != 0) {
      error(field.location, field.path, fmt::format("\"{}\" cannot be read", *out));
    }
  }
  return tls;
}

// What of `traffic:` and setHeaderRoute steps the kubernetes runtime can do: a Gateway API
// HTTPRoute matches headers exactly or by regular expression; it has no cookie matches and no
// sticky sessions, and `traffic: replicas` has no routes at all. Refused here rather than
// failing the deployment's first traffic step.
void Loader::checkKubernetesRouting(const Environment& env) {
  if (env.runtime.kind != RuntimeSpec::Kind::Kubernetes) return;
  const bool http_route = env.runtime.kubernetes.traffic == KubernetesRuntime::Traffic::HttpRoute;
  auto check = [&](const HeaderRoute& route, const std::string& field) {
    if (!http_route) {
      error(route.location, field,
            "header and cookie routes on the kubernetes runtime need traffic: httproute (a "
            "Gateway API HTTPRoute); traffic: replicas cannot route by request");
    } else if (!route.cookie.empty()) {
      error(route.location, field,
            "the kubernetes runtime routes by a Gateway API HTTPRoute, which matches headers, "
            "not cookies: route by a header");
    } else if (route.match == HeaderRoute::Match::Prefix) {
      error(route.location, field,
            "a Gateway API HTTPRoute matches headers exactly or by regular expression, not by "
            "prefix");
    }
  };
  const std::string prefix = "spec.";
  for (std::size_t i = 0; i < env.traffic.routes.size(); ++i) {
    check(env.traffic.routes[i], fmt::format("{}traffic.routes[{}]", prefix, i));
  }
  for (std::size_t i = 0; i < env.canary.steps.size(); ++i) {
    if (env.canary.steps[i].kind == CanaryStep::Kind::SetHeaderRoute) {
      check(env.canary.steps[i].header_route,
            fmt::format("{}canary.steps[{}].setHeaderRoute", prefix, i));
    }
  }
  if (env.traffic.listener) {
    error(env.traffic.listener->location, prefix + "traffic.listener",
          "listener timeouts and limits are settings of runway's router (runtime: local); on "
          "the kubernetes runtime set them on the Gateway or ingress in front of the Service");
  }
  if (env.traffic.sticky) {
    error(env.traffic.sticky->location, prefix + "traffic.stickySessions",
          "sticky sessions need runway's router (runtime: local); the kubernetes runtime has "
          "none (a Gateway API HTTPRoute has no session persistence in its standard channel)");
  }
}

ApprovalPolicy Loader::parseApprovals(Reader& r, const Val& v) {
  ApprovalPolicy policy;
  policy.location = v.location;
  const Fields f(r, v, {"roles", "preventSelfApproval", "timeout"});
  if (!f.isMap()) return policy;
  if (auto roles = f.require("roles")) {
    if (auto list = detail::readStringList(r, *roles)) {
      if (list->empty()) error(roles->location, roles->path, "must name at least one role");
      policy.roles = std::move(*list);
    }
  }
  f.boolean("preventSelfApproval", policy.prevent_self_approval);
  f.duration("timeout", policy.timeout, Duration{1});
  return policy;
}

const EnumValues<Weekday> kWeekdays{{"Mon", Weekday::Mon}, {"Tue", Weekday::Tue},
                                    {"Wed", Weekday::Wed}, {"Thu", Weekday::Thu},
                                    {"Fri", Weekday::Fri}, {"Sat", Weekday::Sat},
                                    {"Sun", Weekday::Sun}};

ChangeWindow Loader::parseWindow(Reader& r, const Val& v) {
  ChangeWindow window;
  window.location = v.location;
  const Fields f(r, v, {"days", "start", "end", "timezone"});
  if (!f.isMap()) return window;
  if (auto days = f.get("days")) {
    if (auto items = detail::readList(r, *days)) {
      for (const auto& item : *items) {
        if (auto day = detail::readEnum(r, item, kWeekdays)) {
          if (std::find(window.days.begin(), window.days.end(), *day) != window.days.end()) {
            error(item.location, item.path,
                  fmt::format("\"{}\" is listed twice", toString(*day)));
            continue;
          }
          window.days.push_back(*day);
        }
      }
    }
  }
  bool times_ok = true;
  for (const auto* key : {"start", "end"}) {
    const bool is_end = std::string_view(key) == "end";
    const auto value = f.require(key);
    if (!value) {
      times_ok = false;
      continue;
    }
    const auto text = detail::scalarText(r, *value, "a time such as \"10:00\"");
    if (!text) {
      times_ok = false;
      continue;
    }
    auto minute = detail::parseClockTime(*text, is_end);
    if (!minute) {
      error(value->location, value->path, minute.error().message);
      times_ok = false;
      continue;
    }
    (is_end ? window.end_minute : window.start_minute) = *minute;
  }
  if (times_ok && window.start_minute == window.end_minute % (24 * 60)) {
    error(f.get("end")->location, f.path("end"),
          "must differ from start (a window of zero length never opens; leave windows out to "
          "allow any time)");
  }
  if (auto tz = f.get("timezone")) {
    if (auto text = detail::scalarText(r, *tz, "a timezone")) {
      auto offset = detail::parseUtcOffset(*text);
      if (!offset) {
        error(tz->location, tz->path, offset.error().message);
      } else {
        window.timezone = *text;
        window.utc_offset_minutes = *offset;
      }
    }
  }
  return window;
}

Freeze Loader::parseFreeze(Reader& r, const Val& v) {
  Freeze freeze;
  freeze.location = v.location;
  const Fields f(r, v, {"start", "end", "reason"});
  if (!f.isMap()) return freeze;
  bool ok = true;
  for (const auto* key : {"start", "end"}) {
    const auto value = f.require(key);
    if (!value) {
      ok = false;
      continue;
    }
    const auto text = detail::scalarText(r, *value, "an RFC 3339 time");
    if (!text) {
      ok = false;
      continue;
    }
    auto time = parseTimestamp(*text);
    if (!time) {
      error(value->location, value->path, time.error().message);
      ok = false;
      continue;
    }
    (std::string_view(key) == "start" ? freeze.start : freeze.end) = *time;
  }
  if (ok && freeze.end <= freeze.start) {
    error(f.get("end")->location, f.path("end"), "must be after start");
  }
  f.str("reason", freeze.reason);
  return freeze;
}

Thresholds Loader::parseThresholds(Reader& r, const Val& v) {
  Thresholds thresholds;
  thresholds.location = v.location;
  const Fields f(r, v, {"errorRate", "latencyP95", "availability"});
  if (!f.isMap()) return thresholds;
  f.number("errorRate", thresholds.error_rate, 0.0, 1.0);
  f.duration("latencyP95", thresholds.latency_p95, Duration{1});
  f.number("availability", thresholds.availability, 0.0, 1.0);
  return thresholds;
}

PostDeployWatch Loader::parsePostDeploy(Reader& r, const Val& v) {
  PostDeployWatch watch;
  watch.location = v.location;
  const Fields f(r, v, {"duration", "analysis"});
  if (!f.isMap()) return watch;
  if (auto d = f.require("duration")) {
    if (auto duration = detail::readDuration(r, *d, Duration{1})) watch.duration = *duration;
  }
  if (auto a = f.get("analysis")) watch.analysis = parseAnalysisRef(r, *a);
  return watch;
}

// ---------------------------------------------------------------------------------------------
// AnalysisTemplate

void Loader::parseTemplate(Reader& r, const Fields& spec, AnalysisTemplate& tpl) {
  const auto metrics = spec.require("metrics");
  if (!metrics) return;
  const auto items = detail::readList(r, *metrics);
  if (!items) return;
  if (items->empty()) {
    error(metrics->location, metrics->path, "must list at least one metric");
    return;
  }
  std::map<std::string, SourceLocation> names;
  for (const auto& item : *items) {
    tpl.metrics.push_back(parseMetric(r, item));
    const auto& name = tpl.metrics.back().name;
    if (name.empty()) continue;
    const auto [it, inserted] = names.emplace(name, item.location);
    if (!inserted) {
      error(item.location, item.path + ".name",
            fmt::format("duplicate metric \"{}\" (first defined at {})", name, where(it->second)));
    }
  }
}

MetricSpec Loader::parseMetric(Reader& r, const Val& v) {
  MetricSpec metric;
  metric.location = v.location;
  const Fields f(r, v,
                 {"name", "provider", "query", "window", "prometheus", "web", "judge",
                  "successCondition", "failureCondition", "interval", "count", "initialDelay",
                  "for", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "noData",
                  "dryRun"});
  if (!f.isMap()) return metric;
  if (auto n = f.require("name")) {
    if (auto text = detail::readString(r, *n)) {
      if (isValidName(*text)) {
        metric.name = *text;
      } else {
        error(n->location, n->path, fmt::format("invalid name \"{}\": {}", *text, nameRules()));
      }
    }
  }
  using P = MetricSpec::Provider;
  const bool provider_ok = !f.has("provider") ||
                           f.enumeration("provider", metric.provider,
                                         EnumValues<P>{{"builtin", P::Builtin},
                                                       {"prometheus", P::Prometheus},
                                                       {"web", P::Web},
                                                       {"judge", P::Judge}});
  // Settings blocks that belong to another provider are mistakes, not silently ignored.
  for (const auto& [key, provider] : std::vector<std::pair<std::string, P>>{
           {"prometheus", P::Prometheus}, {"web", P::Web}, {"judge", P::Judge}}) {
    if (provider_ok && f.has(key) && metric.provider != provider) {
      error(f.get(key)->location, f.path(key),
            fmt::format("only used with provider: {} (this metric's provider is {})", key,
                        toString(metric.provider)));
    }
  }
  const bool uses_query = metric.provider == P::Builtin || metric.provider == P::Prometheus;
  if (provider_ok && uses_query) {
    if (auto q = f.require("query")) {
      if (auto text = detail::readString(r, *q)) {
        metric.query = *text;
        if (metric.provider == P::Builtin &&
            std::find(kBuiltinQueries.begin(), kBuiltinQueries.end(), *text) ==
                kBuiltinQueries.end()) {
          error(q->location, q->path, detail::enumMessage(*text, kBuiltinQueries));
        }
      }
    }
  } else if (provider_ok && f.has("query")) {
    error(f.get("query")->location, f.path("query"),
          fmt::format("not used by provider {} (its settings block holds the query)",
                      toString(metric.provider)));
  }
  if (provider_ok && metric.provider == P::Prometheus) {
    auto& prom = metric.prometheus;
    prom.query = metric.query;
    if (auto pv = f.require("prometheus")) {
      prom.location = pv->location;
      const Fields pf(r, *pv,
                      {"address", "timeout", "bearerTokenEnv", "basicAuth", "insecureSkipVerify"});
      if (pf.isMap()) {
        if (auto a = pf.require("address")) {
          if (auto text = detail::readString(r, *a)) {
            if (isHttpUrl(*text)) {
              prom.address = *text;
            } else {
              error(a->location, a->path,
                    fmt::format("expected an http:// or https:// address, got \"{}\"", *text));
            }
          }
        }
        pf.duration("timeout", prom.timeout, Duration{1});
        pf.str("bearerTokenEnv", prom.bearer_token_env);
        if (auto b = pf.get("basicAuth")) {
          const Fields bf(r, *b, {"user", "passwordEnv"});
          if (bf.isMap()) {
            bf.str("user", prom.basic_user, true);
            bf.str("passwordEnv", prom.basic_password_env, true);
          }
        }
        pf.boolean("insecureSkipVerify", prom.insecure_skip_verify);
      }
    }
  }
  if (provider_ok && metric.provider == P::Web) {
    auto& web = metric.web;
    if (auto wv = f.require("web")) {
      web.location = wv->location;
      const Fields wf(r, *wv, {"url", "jsonPointer", "headers", "timeout"});
      if (wf.isMap()) {
        if (auto u = wf.require("url")) {
          if (auto text = detail::readString(r, *u)) {
            if (isHttpUrl(*text)) {
              web.url = *text;
            } else {
              error(u->location, u->path,
                    fmt::format("expected an http:// or https:// URL, got \"{}\"", *text));
            }
          }
        }
        if (auto p = wf.get("jsonPointer")) {
          if (auto text = detail::readString(r, *p, true)) {
            if (text->empty() || text->front() == '/') {
              web.json_pointer = *text;
            } else {
              error(p->location, p->path,
                    fmt::format("a JSON pointer starts with '/', e.g. \"/data/value\", got \"{}\"",
                                *text));
            }
          }
        }
        wf.stringMap("headers", web.headers);
        wf.duration("timeout", web.timeout, Duration{1});
      }
    }
  }
  if (provider_ok && metric.provider == P::Judge) {
    if (auto jv = f.require("judge")) metric.judge = parseJudge(r, *jv);
  }
  for (const auto& [key, target] : std::vector<std::pair<std::string, std::string*>>{
           {"successCondition", &metric.success_condition},
           {"failureCondition", &metric.failure_condition}}) {
    f.str(key, *target);
  }
  if (provider_ok && metric.provider != P::Judge && !f.has("successCondition") &&
      !f.has("failureCondition")) {
    error(v.location, v.path,
          "set successCondition, failureCondition or both (e.g. failureCondition: \"result > "
          "0.01\")");
  }
  f.duration("window", metric.window, Duration{1});
  f.duration("interval", metric.interval);
  if (f.integer("count", metric.count, 0, 100000) && metric.count > 1 &&
      metric.interval == Duration{0}) {
    error(f.get("count")->location, f.path("count"),
          fmt::format("count {} needs an interval between measurements", metric.count));
  }
  f.duration("initialDelay", metric.initial_delay);
  f.duration("for", metric.for_duration);
  f.integer("failureLimit", metric.failure_limit, 0, 100000);
  f.integer("inconclusiveLimit", metric.inconclusive_limit, 0, 100000);
  f.integer("consecutiveErrorLimit", metric.consecutive_error_limit, 0, 100000);
  f.enumeration("noData", metric.no_data,
                EnumValues<NoDataPolicy>{{"pass", NoDataPolicy::Pass},
                                         {"fail", NoDataPolicy::Fail},
                                         {"inconclusive", NoDataPolicy::Inconclusive},
                                         {"error", NoDataPolicy::Error}});
  f.boolean("dryRun", metric.dry_run);
  return metric;
}

JudgeProvider Loader::parseJudge(Reader& r, const Val& v) {
  JudgeProvider judge;
  judge.location = v.location;
  const Fields f(r, v,
                 {"metrics", "groupWeights", "scoreThresholds", "prometheus", "lookback", "step"});
  if (!f.isMap()) return judge;
  if (auto p = f.get("prometheus")) {
    const Fields pf(r, *p, {"address"});
    if (pf.isMap()) {
      if (auto a = pf.require("address")) {
        if (auto text = detail::readString(r, *a)) {
          if (isHttpUrl(*text)) {
            judge.prometheus_address = *text;
          } else {
            error(a->location, a->path,
                  fmt::format("expected an http:// or https:// address, got \"{}\"", *text));
          }
        }
      }
    }
  }
  const bool builtin_queries = !f.has("prometheus");
  if (auto metrics = f.require("metrics")) {
    if (auto items = detail::readList(r, *metrics)) {
      if (items->empty()) error(metrics->location, metrics->path, "must list at least one metric");
      std::map<std::string, SourceLocation> names;
      for (const auto& item : *items) {
        judge.metrics.push_back(parseJudgeMetric(r, item, builtin_queries));
        const auto& name = judge.metrics.back().name;
        if (name.empty()) continue;
        const auto [it, inserted] = names.emplace(name, item.location);
        if (!inserted) {
          error(item.location, item.path + ".name",
                fmt::format("duplicate metric \"{}\" (first defined at {})", name,
                            where(it->second)));
        }
      }
    }
  }
  if (auto weights = f.get("groupWeights")) {
    if (auto values = detail::readStringMap(r, *weights)) {
      double sum = 0;
      bool ok = true;
      for (const auto& kv : weights->node) {
        const auto key = kv.first.Scalar();
        const Val value{kv.second, r.locate(kv.second, weights->location),
                        fmt::format("{}.{}", weights->path, key)};
        if (auto weight = detail::readNumber(r, value, 0.0, 100.0)) {
          judge.group_weights.emplace(key, *weight);
          sum += *weight;
        } else {
          ok = false;
        }
      }
      if (ok && sum > 100.0) {
        error(weights->location, weights->path,
              fmt::format("group weights must add up to at most 100, got {}", sum));
      }
    }
  }
  if (auto thresholds = f.get("scoreThresholds")) {
    const Fields tf(r, *thresholds, {"pass", "marginal"});
    if (tf.isMap()) {
      const bool pass = tf.number("pass", judge.pass_score, 0.0, 100.0);
      const bool marginal = tf.number("marginal", judge.marginal_score, 0.0, 100.0);
      if ((pass || marginal) && judge.marginal_score > judge.pass_score) {
        error(thresholds->location, thresholds->path,
              fmt::format("marginal ({}) must not be above pass ({})", judge.marginal_score,
                          judge.pass_score));
      }
    }
  }
  f.duration("lookback", judge.lookback, Duration{1});
  f.duration("step", judge.step, Duration{1});
  return judge;
}

JudgeMetric Loader::parseJudgeMetric(Reader& r, const Val& v, bool builtin_queries) {
  JudgeMetric metric;
  metric.location = v.location;
  const Fields f(r, v,
                 {"name", "query", "groups", "direction", "nanStrategy", "outliers", "critical",
                  "mustHaveData", "effectSize"});
  if (!f.isMap()) return metric;
  f.str("name", metric.name, true);
  if (auto q = f.require("query")) {
    if (auto text = detail::readString(r, *q)) {
      metric.query = *text;
      if (builtin_queries && std::find(kBuiltinQueries.begin(), kBuiltinQueries.end(), *text) ==
                                 kBuiltinQueries.end()) {
        error(q->location, q->path,
              detail::enumMessage(*text, kBuiltinQueries) +
                  " (set judge.prometheus to use PromQL queries)");
      }
    }
  }
  f.strings("groups", metric.groups);
  using J = JudgeMetric;
  f.enumeration("direction", metric.direction,
                EnumValues<J::Direction>{{"increase", J::Direction::Increase},
                                         {"decrease", J::Direction::Decrease},
                                         {"either", J::Direction::Either}});
  f.enumeration("nanStrategy", metric.nan_strategy,
                EnumValues<J::NanStrategy>{{"remove", J::NanStrategy::Remove},
                                           {"replace", J::NanStrategy::Replace}});
  if (auto o = f.get("outliers")) {
    const Fields of(r, *o, {"strategy", "factor"});
    if (of.isMap()) {
      of.enumeration("strategy", metric.remove_outliers,
                     EnumValues<bool>{{"keep", false}, {"remove", true}});
      if (auto factor = of.get("factor")) {
        if (auto value = detail::readNumber(r, *factor, 0.0, 1000.0)) {
          if (*value <= 0) {
            error(factor->location, factor->path, "must be more than 0");
          } else {
            metric.outlier_factor = *value;
          }
        }
      }
    }
  }
  f.boolean("critical", metric.critical);
  f.boolean("mustHaveData", metric.must_have_data);
  if (auto e = f.get("effectSize")) {
    const Fields ef(r, *e,
                    {"measure", "allowedIncrease", "allowedDecrease", "criticalIncrease",
                     "criticalDecrease"});
    if (ef.isMap()) {
      ef.enumeration("measure", metric.effect_size,
                     EnumValues<J::EffectSize>{{"meanRatio", J::EffectSize::MeanRatio},
                                               {"cles", J::EffectSize::Cles}});
      if (metric.effect_size == J::EffectSize::Cles) {
        // CLES is a probability: its neutral value is 0.5, not the mean ratio's 1.0.
        metric.allowed_increase = metric.allowed_decrease = 0.5;
        metric.critical_increase = metric.critical_decrease = 0.5;
      }
      const double max = metric.effect_size == J::EffectSize::Cles ? 1.0 : 1000.0;
      ef.number("allowedIncrease", metric.allowed_increase, 0.0, max);
      ef.number("allowedDecrease", metric.allowed_decrease, 0.0, max);
      ef.number("criticalIncrease", metric.critical_increase, 0.0, max);
      ef.number("criticalDecrease", metric.critical_decrease, 0.0, max);
    }
  }
  return metric;
}

// ---------------------------------------------------------------------------------------------
// Checks and hooks

const std::vector<std::string> kHttpMethods{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                            "OPTIONS"};

std::string configDir(const Reader& r) {
  std::error_code ec;
  auto parent = std::filesystem::path(r.file()).parent_path();
  if (parent.empty()) parent = ".";
  auto base = std::filesystem::absolute(parent, ec);
  std::string dir = ec ? std::string() : base.lexically_normal().string();
  if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

void Loader::parseSmoke(Reader& r, const Val& v, Application& app) {
  if (!v.node.IsMap()) {
    error(v.location, v.path,
          fmt::format("expected a mapping of suite names to lists of checks, got {}",
                      detail::describe(v.node)));
    return;
  }
  for (const auto& kv : v.node) {
    const auto key_location = r.locate(kv.first, v.location);
    const auto name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    const Val suite_val{kv.second, r.locate(kv.second, key_location),
                        fmt::format("{}.{}", v.path, name)};
    if (!isValidName(name)) {
      error(key_location, suite_val.path,
            fmt::format("invalid suite name \"{}\": {}", name, nameRules()));
      continue;
    }
    if (app.findSuite(name) != nullptr) {
      error(key_location, suite_val.path, fmt::format("duplicate suite \"{}\"", name));
      continue;
    }
    SmokeSuite suite;
    suite.name = name;
    suite.location = key_location;
    auto items = detail::readList(r, suite_val);
    if (!items) continue;
    if (items->empty()) {
      error(suite_val.location, suite_val.path, "a suite must list at least one check");
    }
    std::map<std::string, SourceLocation> names;
    for (const auto& item : *items) {
      auto check = parseSmokeCheck(r, item);
      if (!check.name.empty()) {
        if (auto [it, inserted] = names.emplace(check.name, item.location); !inserted) {
          error(item.location, item.path + ".name",
                fmt::format("duplicate check \"{}\" (first defined at {})", check.name,
                            where(it->second)));
        }
      }
      suite.checks.push_back(std::move(check));
    }
    app.smoke.push_back(std::move(suite));
  }
}

SmokeCheck Loader::parseSmokeCheck(Reader& r, const Val& v) {
  SmokeCheck check;
  check.location = v.location;
  const Fields f(r, v, {"name", "service", "method", "path", "headers", "body", "timeout", "expect"});
  if (!f.isMap()) return check;
  f.str("name", check.name, true);
  if (f.str("service", check.service)) {
    smoke_services_.back().push_back(NameUse{check.service, f.get("service")->location,
                                             f.path("service")});
  }
  f.enumeration("method", check.method, [] {
    EnumValues<std::string> values;
    for (const auto& m : kHttpMethods) values.emplace_back(m, m);
    return values;
  }());
  if (auto p = f.require("path")) {
    if (auto text = detail::readString(r, *p)) {
      if (text->front() == '/') {
        check.path = *text;
      } else {
        error(p->location, p->path, fmt::format("must start with '/', got \"{}\"", *text));
      }
    }
  }
  f.stringMap("headers", check.headers);
  if (auto b = f.get("body")) {
    if (auto text = detail::scalarText(r, *b, "a string")) check.body = *text;
  }
  f.duration("timeout", check.timeout, Duration{1});
  if (auto e = f.get("expect")) {
    const Fields ef(r, *e, {"status", "bodyContains", "json", "maxLatency"});
    if (ef.isMap()) {
      ef.integer("status", check.expect_status, 100, 599);
      ef.str("bodyContains", check.body_contains);
      if (auto j = ef.get("json")) {
        if (auto values = detail::readStringMap(r, *j)) {
          for (const auto& [pointer, expected] : *values) {
            if (!pointer.empty() && pointer.front() != '/') {
              error(j->location, fmt::format("{}.{}", j->path, pointer),
                    fmt::format("a JSON pointer starts with '/' (RFC 6901), got \"{}\"", pointer));
              continue;
            }
            check.json_equals.emplace(pointer, expected);
          }
        }
      }
      ef.duration("maxLatency", check.max_latency, Duration{1});
    }
  }
  return check;
}

std::vector<std::string> Loader::parseCommand(Reader& r, const Fields& f) {
  std::vector<std::string> out;
  if (auto command = f.get("command")) {
    if (auto items = detail::readList(r, *command)) {
      if (items->empty()) error(command->location, command->path, "must not be empty");
      for (const auto& item : *items) {
        if (auto text = detail::readString(r, item)) out.push_back(*text);
      }
    }
  }
  return out;
}

Dependency Loader::parseDependency(Reader& r, const Val& v) {
  Dependency dep;
  dep.location = v.location;
  const Fields f(r, v, {"name", "http", "tcp", "command", "expectStatus", "timeout"});
  if (!f.isMap()) return dep;
  if (auto n = f.require("name")) {
    if (auto text = detail::readString(r, *n)) {
      if (isValidName(*text)) {
        dep.name = *text;
      } else {
        error(n->location, n->path, fmt::format("invalid name \"{}\": {}", *text, nameRules()));
      }
    }
  }
  const int kinds = (f.has("http") ? 1 : 0) + (f.has("tcp") ? 1 : 0) + (f.has("command") ? 1 : 0);
  if (kinds != 1) {
    error(v.location, v.path,
          "set exactly one of http (a URL answered with 2xx), tcp (host:port accepting a "
          "connection) or command (exits 0)");
  }
  if (auto h = f.get("http")) {
    dep.kind = Dependency::Kind::Http;
    if (auto text = detail::readString(r, *h)) {
      if (isHttpUrl(*text)) {
        dep.url = *text;
      } else {
        error(h->location, h->path, fmt::format("expected an http:// or https:// URL, got \"{}\"", *text));
      }
    }
  }
  if (auto t = f.get("tcp")) {
    dep.kind = Dependency::Kind::Tcp;
    if (auto text = detail::readString(r, *t)) {
      const auto colon = text->rfind(':');
      int port = 0;
      bool ok = colon != std::string::npos && colon > 0 && colon + 1 < text->size();
      if (ok) {
        const auto digits = text->substr(colon + 1);
        ok = digits.size() <= 5 &&
             std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (ok) port = std::stoi(digits);
        ok = ok && port >= 1 && port <= 65535;
      }
      if (ok) {
        dep.host = text->substr(0, colon);
        dep.port = port;
      } else {
        error(t->location, t->path, fmt::format("expected host:port with a port 1-65535, got \"{}\"", *text));
      }
    }
  }
  if (f.has("command")) {
    dep.kind = Dependency::Kind::Command;
    dep.command = parseCommand(r, f);
  }
  f.integer("expectStatus", dep.expect_status, 100, 599);
  f.duration("timeout", dep.timeout, Duration{1});
  return dep;
}

Hook Loader::parseHook(Reader& r, const Val& v, bool command_only) {
  Hook hook;
  hook.location = v.location;
  hook.base_dir = configDir(r);
  std::vector<std::string> keys{"name", "command", "env", "timeout", "retries", "retryDelay"};
  if (!command_only) {
    for (const auto* k : {"http", "method", "headers", "body", "onFailure"}) keys.emplace_back(k);
  }
  const Fields f(r, v, keys);
  if (!f.isMap()) return hook;
  f.str("name", hook.name);
  if (command_only) {
    if (!f.require("command")) return hook;
  } else if (f.has("command") == f.has("http")) {
    error(v.location, v.path, "set exactly one of command (argv list) or http (a URL)");
  }
  if (f.has("command")) {
    hook.kind = Hook::Kind::Command;
    hook.command = parseCommand(r, f);
  }
  if (auto h = command_only ? std::nullopt : f.get("http")) {
    hook.kind = Hook::Kind::Http;
    if (auto text = detail::readString(r, *h)) {
      if (isHttpUrl(*text)) {
        hook.url = *text;
      } else {
        error(h->location, h->path, fmt::format("expected an http:// or https:// URL, got \"{}\"", *text));
      }
    }
    f.enumeration("method", hook.method, [] {
      EnumValues<std::string> values;
      for (const auto& m : kHttpMethods) values.emplace_back(m, m);
      return values;
    }());
    f.stringMap("headers", hook.headers);
    if (auto b = f.get("body")) {
      if (auto text = detail::scalarText(r, *b, "a string")) hook.body = *text;
    }
  }
  if (auto env = f.get("env")) {
    if (auto values = detail::readStringMap(r, *env)) {
      for (const auto& [key, value] : *values) {
        if (!isEnvVarName(key)) {
          error(env->location, fmt::format("{}.{}", env->path, key),
                fmt::format("invalid environment variable name \"{}\"", key));
          continue;
        }
        hook.env.emplace(key, value);
      }
    }
  }
  f.duration("timeout", hook.timeout, Duration{1});
  f.integer("retries", hook.retries, 0, 100);
  f.duration("retryDelay", hook.retry_delay);
  if (!command_only) {
    f.enumeration("onFailure", hook.on_failure,
                  EnumValues<Hook::OnFailure>{{"fail", Hook::OnFailure::Fail},
                                              {"continue", Hook::OnFailure::Continue},
                                              {"rollback", Hook::OnFailure::Rollback}});
  }
  if (hook.name.empty()) {
    hook.name = hook.kind == Hook::Kind::Command
                    ? (hook.command.empty() ? std::string("command") : hook.command.front())
                    : hook.url;
  }
  return hook;
}

Hooks Loader::parseHooks(Reader& r, const Val& v) {
  Hooks hooks;
  const Fields f(r, v, {"preDeploy", "postDeploy", "preRollback", "postRollback", "onAbort"});
  if (!f.isMap()) return hooks;
  const std::pair<const char*, std::vector<Hook>*> points[] = {
      {"preDeploy", &hooks.pre_deploy},     {"postDeploy", &hooks.post_deploy},
      {"preRollback", &hooks.pre_rollback}, {"postRollback", &hooks.post_rollback},
      {"onAbort", &hooks.on_abort}};
  for (const auto& [key, list] : points) {
    auto value = f.get(key);
    if (!value) continue;
    auto items = detail::readList(r, *value);
    if (!items) continue;
    for (const auto& item : *items) {
      auto hook = parseHook(r, item, false);
      if (hook.on_failure == Hook::OnFailure::Rollback &&
          (std::string_view(key) == "preRollback" || std::string_view(key) == "postRollback" ||
           std::string_view(key) == "onAbort")) {
        error(item.location, item.path + ".onFailure",
              fmt::format("\"rollback\" makes no sense in {} (use fail or continue)", key));
      }
      list->push_back(std::move(hook));
    }
  }
  return hooks;
}

BackupSpec Loader::parseBackup(Reader& r, const Val& v) {
  BackupSpec backup;
  backup.location = v.location;
  const Fields f(r, v, {"command", "env", "timeout", "retries", "retryDelay", "directory", "keep",
                        "suffix", "beforeDeploy"});
  if (!f.isMap()) return backup;
  backup.hook.location = v.location;
  backup.hook.base_dir = configDir(r);
  backup.hook.name = "backup";
  if (f.require("command")) backup.hook.command = parseCommand(r, f);
  if (auto env = f.get("env")) {
    if (auto values = detail::readStringMap(r, *env)) backup.hook.env = *values;
  }
  f.duration("timeout", backup.hook.timeout, Duration{1});
  f.integer("retries", backup.hook.retries, 0, 100);
  f.duration("retryDelay", backup.hook.retry_delay);
  if (f.str("directory", backup.directory) && !backup.directory.empty()) {
    std::filesystem::path dir(backup.directory);
    if (dir.is_relative()) dir = std::filesystem::path(configDir(r)) / dir;
    backup.directory = dir.lexically_normal().string();
  }
  f.integer("keep", backup.keep, 1, 10000);
  if (f.str("suffix", backup.suffix) && backup.suffix.find('/') != std::string::npos) {
    error(f.get("suffix")->location, f.path("suffix"), "must not contain '/'");
  }
  f.boolean("beforeDeploy", backup.before_deploy);
  return backup;
}

PreflightSpec Loader::parsePreflight(Reader& r, const Val& v) {
  PreflightSpec pre;
  pre.location = v.location;
  const Fields f(r, v, {"env", "files", "metrics", "registry", "beforeDeploy"});
  if (!f.isMap()) return pre;
  if (auto e = f.get("env")) {
    if (auto names = detail::readStringList(r, *e)) {
      for (const auto& name : *names) {
        if (!isEnvVarName(name)) {
          error(e->location, e->path, fmt::format("invalid environment variable name \"{}\"", name));
        }
      }
      pre.env = *names;
    }
  }
  f.strings("files", pre.files);
  if (auto m = f.get("metrics")) {
    if (auto text = detail::readString(r, *m)) {
      if (isHttpUrl(*text)) {
        pre.metrics = *text;
      } else {
        error(m->location, m->path, fmt::format("expected an http:// or https:// URL, got \"{}\"", *text));
      }
    }
  }
  if (auto reg = f.get("registry")) {
    const Fields rf(r, *reg, {"insecure", "usernameEnv", "passwordEnv"});
    if (rf.isMap()) {
      pre.registry.location = reg->location;
      rf.boolean("insecure", pre.registry.insecure);
      rf.str("usernameEnv", pre.registry.username_env);
      rf.str("passwordEnv", pre.registry.password_env);
      if (pre.registry.username_env.empty() != pre.registry.password_env.empty()) {
        error(reg->location, reg->path, "set both usernameEnv and passwordEnv, or neither");
      }
    }
  }
  f.enumeration("beforeDeploy", pre.before_deploy,
                EnumValues<std::string>{{"basic", "basic"}, {"comprehensive", "comprehensive"}});
  return pre;
}

// The pre-deployment checklist (docs/checklist.md): the SaaS settings and the items.
Checklist Loader::parseChecklist(Reader& r, const Val& v) {
  Checklist list;
  list.location = v.location;
  const Fields f(r, v, {"github", "pagerduty", "codeReview", "ciChecks", "vulnerabilities", "tests", "semver",
                        "onCall", "backupVerified", "notified"});
  if (!f.isMap()) return list;
  const auto roles = [&](const Fields& item, std::vector<std::string>& out) {
    if (!item.strings("waivableBy", out)) return;
    for (const auto& role : out) {
      if (role.empty()) error(item.get("waivableBy")->location, item.path("waivableBy"), "a role name is empty");
    }
  };
  // A SaaS API's settings: apiUrl (http or https, no trailing slash), tokenFile, tokenEnv.
  const auto api = [&](const char* key, SourceLocation& location, std::string& url, std::string& file,
                       std::string& env_var) {
    auto x = f.get(key);
    if (!x) return;
    location = x->location;
    const Fields xf(r, *x, {"apiUrl", "tokenFile", "tokenEnv"});
    if (!xf.isMap()) return;
    if (xf.str("apiUrl", url)) {
      while (!url.empty() && url.back() == '/') url.pop_back();
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        error(xf.get("apiUrl")->location, xf.path("apiUrl"), fmt::format("\"{}\" is not an http:// or https:// URL", url));
      }
    }
    xf.str("tokenFile", file);
    xf.str("tokenEnv", env_var);
  };
  api("github", list.github.location, list.github.api_url, list.github.token_file, list.github.token_env);
  api("pagerduty", list.pagerduty.location, list.pagerduty.api_url, list.pagerduty.token_file,
      list.pagerduty.token_env);
  if (auto x = f.get("backupVerified")) {
    BackupVerifiedItem item;
    item.location = x->location;
    const Fields xf(r, *x, {"maxAge", "requireRestoreTest", "waivableBy"});
    if (xf.isMap()) {
      xf.duration("maxAge", item.max_age, Duration{60'000});
      xf.boolean("requireRestoreTest", item.require_restore_test);
      roles(xf, item.waivable_by);
    }
    list.backup_verified = std::move(item);
  }
  if (auto x = f.get("notified")) {
    NotifiedItem item;
    item.location = x->location;
    const Fields xf(r, *x, {"channel", "events", "within", "waivableBy"});
    if (xf.isMap()) {
      xf.str("channel", item.channel, true);
      if (xf.strings("events", item.events)) {
        const auto& known = notificationEvents();
        for (const auto& e : item.events) {
          if (std::find(known.begin(), known.end(), e) == known.end()) {
            error(xf.get("events")->location, xf.path("events"), fmt::format("unknown notification event \"{}\"", e));
          }
        }
      }
      xf.duration("within", item.within, Duration{60'000});
      roles(xf, item.waivable_by);
    }
    list.notified = std::move(item);
  }
  if (auto x = f.get("onCall")) {
    OnCallItem item;
    item.location = x->location;
    const Fields xf(r, *x, {"schedule", "waivableBy"});
    if (xf.isMap()) {
      xf.str("schedule", item.schedule, true);
      roles(xf, item.waivable_by);
    }
    list.on_call = std::move(item);
  }
  if (auto x = f.get("codeReview")) {
    CodeReviewItem item;
    item.location = x->location;
    const Fields xf(r, *x, {"minApprovals", "noChangesRequested", "waivableBy"});
    if (xf.isMap()) {
      xf.integer("minApprovals", item.min_approvals, 1, 100);
      xf.boolean("noChangesRequested", item.no_changes_requested);
      roles(xf, item.waivable_by);
    }
    list.code_review = std::move(item);
  }
  if (auto x = f.get("ciChecks")) {
    CiChecksItem item;
    item.location = x->location;
    const Fields xf(r, *x, {"required", "waivableBy"});
    if (xf.isMap()) {
      if (xf.require("required") && xf.strings("required", item.required) && item.required.empty()) {
        error(xf.get("required")->location, xf.path("required"),
              "name at least one check run or commit status context");
      }
      roles(xf, item.waivable_by);
    }
    list.ci_checks = std::move(item);
  }
  if (auto x = f.get("vulnerabilities")) {
    VulnerabilitiesItem item;
    item.location = x->location;
    const Fields xf(r, *x, {"failAt", "allow", "waivableBy"});
    if (xf.isMap()) {
      xf.enumeration("failAt", item.fail_at,
                     EnumValues<Severity>{{"critical", Severity::Critical}, {"high", Severity::High},
                                          {"medium", Severity::Medium}, {"low", Severity::Low}});
      roles(xf, item.waivable_by);
      if (auto a = xf.get("allow")) {
        if (auto entries = detail::readList(r, *a)) {
          for (const auto& e : *entries) {
            VulnerabilityAllowance allowance;
            allowance.location = e.location;
            const Fields ef(r, e, {"id", "expires", "reason"});
            if (!ef.isMap()) continue;
            ef.str("id", allowance.id, true);
            ef.str("reason", allowance.reason, true);
            if (auto ex = ef.require("expires")) {
              if (auto text = detail::scalarText(r, *ex, "a date (2027-01-31) or an RFC 3339 time")) {
                // A date alone is its first instant in UTC: the allowance holds before that day.
                const std::string stamp = text->size() == 10 ? *text + "T00:00:00Z" : *text;
                if (auto t = parseTimestamp(stamp)) {
                  allowance.expires = *t;
                } else {
                  error(ex->location, ex->path,
                        fmt::format("invalid expiry \"{}\": write a date (2027-01-31) or an RFC 3339 time",
                                    *text));
                }
              }
            }
            item.allow.push_back(std::move(allowance));
          }
        }
      }
    }
    list.vulnerabilities = std::move(item);
  }
  if (auto x = f.get("tests")) {
    TestsItem item;
    item.location = x->location;
    const Fields xf(r, *x, {"minTests", "waivableBy"});
    if (xf.isMap()) {
      xf.integer("minTests", item.min_tests, 1, 100000000);
      roles(xf, item.waivable_by);
    }
    list.tests = std::move(item);
  }
  if (auto x = f.get("semver")) {
    SemverItem item;
    item.location = x->location;
    const Fields xf(r, *x, {"requireNewer", "waivableBy"});
    if (xf.isMap()) {
      xf.boolean("requireNewer", item.require_newer);
      roles(xf, item.waivable_by);
    }
    list.semver = std::move(item);
  }
  return list;
}

PerformanceSpec Loader::parsePerformance(Reader& r, const Val& v) {
  PerformanceSpec perf;
  perf.location = v.location;
  const Fields f(r, v, {"service", "method", "path", "rate", "duration", "timeout", "tolerance",
                        "maxErrorRate"});
  if (!f.isMap()) return perf;
  f.str("service", perf.service);
  f.enumeration("method", perf.method, [] {
    EnumValues<std::string> values;
    for (const auto& m : kHttpMethods) values.emplace_back(m, m);
    return values;
  }());
  if (auto p = f.get("path")) {
    if (auto text = detail::readString(r, *p)) {
      if (text->front() == '/') {
        perf.path = *text;
      } else {
        error(p->location, p->path, fmt::format("must start with '/', got \"{}\"", *text));
      }
    }
  }
  f.number("rate", perf.rate, 0.1, 100000);
  f.duration("duration", perf.duration, Duration{100});
  f.duration("timeout", perf.timeout, Duration{1});
  if (auto t = f.get("tolerance")) {
    const Fields tf(r, *t, {"p95", "p99", "throughput", "noise"});
    if (tf.isMap()) {
      tf.duration("noise", perf.latency_noise);
      for (const auto& [key, out] : {std::pair<const char*, double*>{"p95", &perf.p95_tolerance},
                                     {"p99", &perf.p99_tolerance},
                                     {"throughput", &perf.throughput_tolerance}}) {
        auto value = tf.get(key);
        if (!value) continue;
        auto text = detail::scalarText(r, *value, "a percentage such as \"10%\"");
        if (!text) continue;
        std::string number = *text;
        const bool percent = !number.empty() && number.back() == '%';
        if (percent) number.pop_back();
        auto parsed = detail::parseNumber(number);
        if (!parsed || *parsed < 0 || (percent ? *parsed > 1000 : *parsed > 10)) {
          error(value->location, value->path,
                fmt::format("expected a percentage such as \"10%\" (or a fraction such as 0.1), "
                            "got \"{}\"",
                            *text));
          continue;
        }
        *out = percent ? *parsed / 100.0 : *parsed;
      }
    }
  }
  f.number("maxErrorRate", perf.max_error_rate, 0.0, 1.0);
  return perf;
}

// ---------------------------------------------------------------------------------------------
// Cross-document checks

void Loader::checkEnvironments() {
  std::vector<std::string> app_names;
  for (const auto& app : config_.applications) {
    if (!app.name.empty()) app_names.push_back(app.name);
  }
  std::vector<std::string> env_names;
  for (const auto& env : config_.environments) {
    if (!env.name.empty()) env_names.push_back(env.name);
  }
  for (std::size_t i = 0; i < config_.environments.size(); ++i) {
    const auto& env = config_.environments[i];
    const auto& refs = env_refs_[i];
    const Application* app = nullptr;
    if (refs.application) {
      app = config_.findApplication(refs.application->name);
      if (app == nullptr) {
        error(refs.application->location, refs.application->path,
              unknownReference("Application", refs.application->name, app_names));
      }
    } else if (config_.applications.size() == 1) {
      app = &config_.applications.front();
    } else if (config_.applications.empty()) {
      error(refs.spec, "spec.application",
            "no Application is defined in this configuration, so there is nothing to deploy");
    } else {
      error(refs.spec, "spec.application",
            fmt::format("required when the configuration defines more than one Application ({})",
                        joined(app_names)));
    }
    if (refs.promotes_from) {
      const auto& use = *refs.promotes_from;
      if (use.name == env.name) {
        error(use.location, use.path, "an environment cannot promote from itself");
      } else if (config_.findEnvironment(use.name) == nullptr) {
        error(use.location, use.path, unknownReference("Environment", use.name, env_names));
      }
    }
    if (app == nullptr) continue;
    std::vector<std::string> services;
    for (const auto& svc : app->services) {
      if (!svc.name.empty()) services.push_back(svc.name);
    }
    std::vector<std::string> suites;
    for (const auto& suite : app->smoke) suites.push_back(suite.name);
    for (const auto& use : refs.smoke) {
      if (app->findSuite(use.name) == nullptr) {
        error(use.location, use.path,
              unknownReference(fmt::format("smoke suite of Application \"{}\":", app->name),
                               use.name, suites));
      }
    }
    if (const auto& use = refs.performance_service;
        use && std::find(services.begin(), services.end(), use->name) == services.end()) {
      error(use->location, use->path,
            unknownReference(fmt::format("service of Application \"{}\":", app->name),
                             use->name, services));
    }
    for (const auto& use : refs.ports) {
      if (std::find(services.begin(), services.end(), use.name) == services.end()) {
        error(use.location, use.path,
              unknownReference(fmt::format("service of Application \"{}\":", app->name), use.name,
                               services));
      }
    }
    for (const auto& svc : app->services) {
      if (svc.name.empty()) continue;
      if (env.runtime.kind == RuntimeSpec::Kind::Local && !svc.local) {
        error(refs.runtime, refs.runtime_path,
              fmt::format("service \"{}\" has no local.command, which the local runtime needs",
                          svc.name));
      } else if (env.runtime.kind == RuntimeSpec::Kind::Kubernetes && svc.image.empty() &&
                 !svc.kubernetes) {
        error(refs.runtime, refs.runtime_path,
              fmt::format("service \"{}\" has no kubernetes.image, which the kubernetes runtime "
                          "needs",
                          svc.name));
      }
    }
  }
}

void Loader::checkPromotionCycles() {
  // Follow promotesFrom from each environment; a walk that comes back to where it started is a
  // cycle, reported once, at the member written first.
  std::vector<bool> reported(config_.environments.size(), false);
  for (std::size_t start = 0; start < config_.environments.size(); ++start) {
    if (reported[start] || !env_refs_[start].promotes_from) continue;
    std::vector<std::size_t> chain{start};
    std::size_t current = start;
    while (true) {
      const auto& from = config_.environments[current].promotes_from;
      if (from.empty() || from == config_.environments[current].name) break;
      std::size_t next = config_.environments.size();
      for (std::size_t j = 0; j < config_.environments.size(); ++j) {
        if (config_.environments[j].name == from) {
          next = j;
          break;
        }
      }
      if (next == config_.environments.size()) break;
      if (next == start) {
        std::vector<std::string> names;
        for (const auto index : chain) {
          names.push_back(config_.environments[index].name);
          reported[index] = true;
        }
        names.push_back(config_.environments[start].name);
        const auto& use = *env_refs_[start].promotes_from;
        error(use.location, use.path,
              fmt::format("promotesFrom cycle: {} (each promotes from the next; one of them must "
                          "deploy anything)",
                          joined(names, " -> ")));
        break;
      }
      if (std::find(chain.begin(), chain.end(), next) != chain.end()) break;  // cycle elsewhere
      chain.push_back(next);
      current = next;
    }
  }
}

LoadResult Loader::finish() {
  for (const auto& check : deferred_) check();
  for (std::size_t i = 0; i < config_.applications.size() && i < smoke_services_.size(); ++i) {
    const auto& app = config_.applications[i];
    std::vector<std::string> services;
    for (const auto& svc : app.services) services.push_back(svc.name);
    for (const auto& use : smoke_services_[i]) {
      if (std::find(services.begin(), services.end(), use.name) == services.end()) {
        error(use.location, use.path, unknownReference("service", use.name, services));
      }
    }
  }
  checkEnvironments();
  checkPromotionCycles();
  detail::checkNotificationRoutes(config_, diagnostics_);
  detail::checkAlertRules(config_, diagnostics_);
  detail::checkIncidentSeverities(config_, diagnostics_);
  // File order: files in reading order, then line and column. Errors found by cross-document
  // checks therefore sit beside the line they point at.
  std::map<std::string, std::size_t> file_order;
  for (std::size_t i = 0; i < config_.files.size(); ++i) file_order.emplace(config_.files[i], i);
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) {
                     const auto fa = file_order[a.location.file];
                     const auto fb = file_order[b.location.file];
                     if (fa != fb) return fa < fb;
                     if (a.location.line != b.location.line) {
                       return a.location.line < b.location.line;
                     }
                     return a.location.column < b.location.column;
                   });
  LoadResult result;
  if (diagnostics_.empty()) result.config = std::move(config_);
  result.diagnostics = std::move(diagnostics_);
  return result;
}

}  // namespace

LoadResult loadConfigText(const std::string& text, const std::string& file_name) {
  Loader loader;
  loader.loadText(text, file_name);
  return loader.finish();
}

LoadResult loadConfigSources(const std::vector<SourceFile>& sources) {
  Loader loader;
  for (const auto& source : sources) loader.loadText(source.text, source.name);
  return loader.finish();
}

LoadResult loadConfig(const std::string& path) {
  namespace fs = std::filesystem;
  Loader loader;
  std::error_code ec;
  const auto read = [&](const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      loader.addFile(file);
      loader.fileError(file, fmt::format("cannot read: {}", std::strerror(errno)));
      return;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      loader.addFile(file);
      loader.fileError(file, "cannot read: I/O error");
      return;
    }
    loader.loadText(text.str(), file);
  };
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      const auto extension = entry.path().extension().string();
      if ((extension == ".yaml" || extension == ".yml") && !entry.is_directory()) {
        files.push_back(entry.path().string());
      }
    }
    if (ec) {
      loader.addFile(path);
      loader.fileError(path, fmt::format("cannot read directory: {}", ec.message()));
      return loader.finish();
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      loader.addFile(path);
      loader.fileError(path, "no *.yaml or *.yml files in this directory");
    }
    for (const auto& file : files) read(file);
    return loader.finish();
  }
  if (!fs::exists(path, ec)) {
    loader.addFile(path);
    loader.fileError(path, "cannot read: no such file or directory");
    return loader.finish();
  }
  read(path);
  return loader.finish();
}

}  // namespace runway::config
