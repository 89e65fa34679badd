#include "runway/runtime/local_runtime.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/config/substitute.hpp"
#include "runway/core/child_environment.hpp"
#include "runway/core/duration.hpp"
#include "runway/core/ids.hpp"
#include "runway/core/pattern.hpp"
#include "runway/core/spawn.hpp"
#include "runway/core/suggest.hpp"
#include "runway/router/routing_table.hpp"
#include "runway/runtime/records.hpp"

namespace runway::runtime {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Free helpers

Duration backoffDelay(const RestartPolicy& policy, int recent_restarts) {
  Duration delay = policy.initial_backoff;
  for (int i = 0; i < recent_restarts && delay < policy.max_backoff; ++i) delay *= 2;
  return std::min(delay, policy.max_backoff);
}

Result<std::string> substitute(std::string_view text, const Substitutions& values,
                               std::string_view where) {
  // The syntax is the configuration's (config/substitute.hpp: "$$" is a literal "$"), so what
  // `runway validate` accepts is what runs.
  auto names = config::referencedNames(text);
  if (!names) {
    return fail(ErrorCode::InvalidArgument, fmt::format("{}: {}", where, names.error().message));
  }
  const auto& known = config::substitutionNames();
  for (const auto& name : *names) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string message = fmt::format(
        "{}: unknown substitution ${{{}}} (known: ${{PORT}}, ${{VERSION}}, ${{SERVICE}}, "
        "${{ENVIRONMENT}}, ${{ARTIFACT}})",
        where, name);
    if (auto guess = closestMatch(name, known)) {
      message += fmt::format("; did you mean ${{{}}}?", *guess);
    }
    return fail(ErrorCode::InvalidArgument, std::move(message));
  }
  const std::map<std::string, std::string> vars{{"PORT", std::to_string(values.port)},
                                                {"VERSION", values.version},
                                                {"SERVICE", values.service},
                                                {"ENVIRONMENT", values.environment},
                                                {"ARTIFACT", values.artifact.empty()
                                                                 ? values.version
                                                                 : values.artifact}};
  auto out = config::substitute(text, vars);
  if (!out) {
    return fail(ErrorCode::InvalidArgument, fmt::format("{}: {}", where, out.error().message));
  }
  return out;
}

std::string artifactOf(const VersionRecord& record) {
  auto it = record.artifacts.find(record.service);
  return it != record.artifacts.end() && !it->second.empty() ? it->second : record.version;
}

std::string artifactVariable(std::string_view service) {
  std::string name = "RUNWAY_ARTIFACT_";
  for (const char c : service) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

Result<bool> rotateLogIfLarger(const fs::path& path, std::uint64_t max_bytes, int keep) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size <= max_bytes) return false;
  if (keep < 1) {
    fs::resize_file(path, 0, ec);
    if (ec) return fail(ErrorCode::Internal, "cannot truncate " + path.string());
    return true;
  }
  auto numbered = [&](int n) { return fs::path(path.string() + "." + std::to_string(n)); };
  fs::remove(numbered(keep), ec);
  for (int n = keep - 1; n >= 1; --n) {
    if (fs::exists(numbered(n), ec)) fs::rename(numbered(n), numbered(n + 1), ec);
  }
  // Copy and truncate rather than rename: the instance holds the file open with O_APPEND and
  // may outlive us, so it must keep writing to the same name without being told.
  fs::copy_file(path, numbered(1), fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return fail(ErrorCode::Internal,
                fmt::format("cannot copy {} for rotation: {}", path.string(), ec.message()));
  }
  fs::resize_file(path, 0, ec);
  if (ec) return fail(ErrorCode::Internal, "cannot truncate " + path.string());
  return true;
}

Result<void> validateVersionName(std::string_view version) {
  const bool ok_size = !version.empty() && version.size() <= 128;
  const bool ok_chars = std::all_of(version.begin(), version.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
  if (!ok_size || !ok_chars || version.front() == '.' || version.front() == '-') {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("invalid version \"{}\": use 1..128 letters, digits, '.', '_' or "
                            "'-', not starting with '.' or '-'",
                            version));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// LocalRuntimeImpl

namespace {

using ServiceKey = std::pair<std::string, std::string>;  // environment, service

enum class StopPhase { Unroute, Drain, Term, Kill };

struct Instance {
  int index = 0;
  InstanceState state = InstanceState::Starting;
  std::optional<ProcessIdentity> process;
  int port = 0;
  std::vector<std::string> command;
  TimePoint started_at{};
  int restarts = 0;
  std::deque<TimePoint> recent_restarts;
  std::string last_exit;
  // Health.
  TimePoint next_probe_at{};
  bool probe_in_flight = false;
  std::uint64_t probe_token = 0;
  int consecutive_failures = 0;
  // Restart.
  TimePoint restart_at{};
  // Stop.
  StopPhase stop_phase = StopPhase::Unroute;
  bool was_routed = false;
  std::uint64_t stop_seq = 0;  // the table built after this seq no longer routes new requests
  Duration grace{0};
  TimePoint phase_deadline{};
};

struct Version {
  VersionRecord record;
  std::map<int, Instance> instances;
  Duration retire_grace{0};
  bool ready_reported = false;
  bool failed_reported = false;
};

struct Service {
  TrafficRecord traffic;
  std::map<std::string, Version> versions;
};

struct ProbeOutcome {
  std::string environment;
  std::string service;
  std::string version;
  int index = 0;
  std::uint64_t token = 0;
  ProbeResult result;
};

// Where probe results land; shared with the callbacks so it outlives a destroyed runtime.
struct ProbeInbox {
  std::mutex mutex;
  std::vector<ProbeOutcome> outcomes;
};

bool hasProcessState(InstanceState s) {
  return s == InstanceState::Starting || s == InstanceState::Ready ||
         s == InstanceState::Unhealthy;
}

std::vector<fs::path> defaultExtraPath() {
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return {self.parent_path()};
}

std::string instanceName(std::string_view env, std::string_view service, std::string_view version,
                         int index) {
  return fmt::format("{}/{}/{}-{}", env, service, version, index);
}

class LocalRuntimeImpl final : public LocalRuntime {
 public:
  explicit LocalRuntimeImpl(LocalRuntimeOptions options) : options_(std::move(options)) {
    search_path_ = searchPath(options_.extra_path);
    std::string path_env;
    for (const auto& p : search_path_) {
      if (!path_env.empty()) path_env += ':';
      path_env += p.string();
    }
    path_env_ = "PATH=" + path_env;
  }

  ~LocalRuntimeImpl() override {
    {
      std::lock_guard lock(thread_mutex_);
      stop_thread_ = true;
    }
    thread_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  LocalRuntimeImpl(const LocalRuntimeImpl&) = delete;
  LocalRuntimeImpl& operator=(const LocalRuntimeImpl&) = delete;

  Result<void> adoptFromDisk();

  void startThread() {
    thread_ = std::thread([this] {
      std::unique_lock lock(thread_mutex_);
      while (!stop_thread_) {
        lock.unlock();
        tick();
        lock.lock();
        thread_cv_.wait_for(lock, options_.tick_period, [this] { return stop_thread_; });
      }
    });
  }

  // Runtime
  using Runtime::startVersion;
  Result<void> startVersion(const config::Environment& environment,
                            const config::Service& service, std::string_view version,
                            int instances,
                            const std::map<std::string, std::string>& artifacts) override;
  Result<void> setTraffic(std::string_view environment, std::string_view service,
                          const TrafficSplit& split) override;
  Result<TrafficSplit> traffic(std::string_view environment,
                               std::string_view service) const override;
  Result<std::string> serviceAddress(std::string_view environment,
                                     std::string_view service) const override;
  Result<void> scale(std::string_view environment, std::string_view service,
                     std::string_view version, int instances) override;
  Result<std::vector<InstanceInfo>> instances(std::string_view environment,
                                              std::string_view service) const override;
  Result<VersionStatus> versionStatus(std::string_view environment, std::string_view service,
                                      std::string_view version) const override;
  Result<void> retireVersion(std::string_view environment, std::string_view service,
                             std::string_view version, Duration grace) override;
  Result<std::vector<VersionStatistics>> statistics(std::string_view environment,
                                                    std::string_view service,
                                                    Duration window) override;
  Result<void> stopAll(Duration grace) override;
  void setEventHandler(EventHandler handler) override {
    std::lock_guard lock(handler_mutex_);
    handler_ = std::move(handler);
  }
  Result<void> retainOnly(std::string_view environment,
                          const std::vector<std::pair<std::string, std::string>>& keep,
                          Duration grace) override;
  std::optional<std::string> instanceLogPath(std::string_view environment,
                                             std::string_view service, std::string_view version,
                                             int index) const override {
    return logFilePath(environment, service, version, index).string();
  }

  // LocalRuntime
  void tick() override;
  void requestStopAll(Duration grace) override;
  bool allStopped() const override {
    std::lock_guard lock(mutex_);
    return services_.empty();
  }
  fs::path pidFilePath(std::string_view environment, std::string_view service,
                       std::string_view version, int index) const override {
    return options_.data_dir / "run" / std::string(environment) / std::string(service) /
           fmt::format("{}-{}.pid", version, index);
  }
  fs::path logFilePath(std::string_view environment, std::string_view service,
                       std::string_view version, int index) const override {
    return options_.data_dir / "logs" / std::string(environment) / std::string(service) /
           fmt::format("{}-{}.log", version, index);
  }

 private:
  fs::path versionFilePath(std::string_view env, std::string_view service,
                           std::string_view version) const {
    return options_.data_dir / "run" / std::string(env) / std::string(service) /
           fmt::format("{}.version.json", version);
  }
  fs::path trafficFilePath(std::string_view env, std::string_view service) const {
    return options_.data_dir / "run" / std::string(env) / std::string(service) / "traffic.json";
  }

  // All below: REQUIRES mutex_ held.
  Service* findService(std::string_view env, std::string_view service) {
    auto it = services_.find(ServiceKey{std::string(env), std::string(service)});
    return it == services_.end() ? nullptr : &it->second;
  }
  const Service* findService(std::string_view env, std::string_view service) const {
    auto it = services_.find(ServiceKey{std::string(env), std::string(service)});
    return it == services_.end() ? nullptr : &it->second;
  }
  Result<Version*> findVersion(std::string_view env, std::string_view service,
                               std::string_view version);
  void emit(RuntimeEvent::Kind kind, const VersionRecord& v, int index, std::string message) {
    events_.push_back(RuntimeEvent{kind, v.environment, v.service, v.version, index,
                                   std::move(message), options_.clock->now()});
  }
  void persistVersion(const Version& v);
  void persistInstance(const Version& v, const Instance& in);
  void persistTraffic(const Service& s);
  Result<void> spawn(Version& v, Instance& in);
  void reconcileCount(Version& v);
  void beginStop(Instance& in, Duration grace);
  void handleExit(Version& v, Instance& in, const std::string& description);
  void applyProbeOutcome(const ProbeOutcome& outcome);
  void advance(Version& v, Instance& in, TimePoint now);
  void updateVersionEvents(Version& v);
  void removeFinished();
  TrafficTable buildTable() const;
  void rotateLogs(TimePoint now);

  // Pushes the current table if it differs from the last one pushed. REQUIRES push_mutex_ held
  // and mutex_ NOT held.
  Result<void> pushTableLocked();
  void deliverEvents();

  LocalRuntimeOptions options_;
  std::vector<fs::path> search_path_;
  std::string path_env_;

  mutable std::mutex mutex_;  // guards everything below up to push state
  std::map<ServiceKey, Service> services_;
  std::vector<RuntimeEvent> events_;
  std::uint64_t next_probe_token_ = 0;
  std::uint64_t build_seq_ = 0;      // seq of the last table built
  std::uint64_t confirmed_seq_ = 0;  // the data plane has a table at least this new
  TimePoint next_log_check_{};
  bool stopping_all_ = false;

  std::mutex push_mutex_;  // serialises table pushes; taken before mutex_
  std::optional<TrafficTable> last_pushed_;

  std::shared_ptr<ProbeInbox> inbox_ = std::make_shared<ProbeInbox>();

  std::mutex handler_mutex_;
  EventHandler handler_;

  std::mutex tick_mutex_;  // tick() is not reentrant; the thread and stopAll() both call it

  std::mutex thread_mutex_;
  std::condition_variable thread_cv_;
  bool stop_thread_ = false;
  std::thread thread_;
};

Result<Version*> LocalRuntimeImpl::findVersion(std::string_view env, std::string_view service,
                                               std::string_view version) {
  Service* s = findService(env, service);
  if (s == nullptr) {
    return fail(ErrorCode::NotFound,
                fmt::format("service '{}' runs no version in environment '{}'", service, env));
  }
  auto it = s->versions.find(std::string(version));
  if (it == s->versions.end()) {
    std::vector<std::string> names;
    for (const auto& [name, v] : s->versions) names.push_back(name);
    std::string message =
        fmt::format("version '{}' of service '{}' is not running in environment '{}'", version,
                    service, env);
    if (auto guess = closestMatch(version, names)) message += "; did you mean " + *guess + "?";
    return fail(ErrorCode::NotFound, std::move(message));
  }
  return &it->second;
}

void LocalRuntimeImpl::persistVersion(const Version& v) {
  const auto& r = v.record;
  if (auto ok = writeFileAtomically(versionFilePath(r.environment, r.service, r.version),
                                    toJson(r));
      !ok) {
    spdlog::warn("runtime: {}", ok.error().message);
  }
}

void LocalRuntimeImpl::persistInstance(const Version& v, const Instance& in) {
  if (!in.process) return;
  InstanceRecord r;
  r.environment = v.record.environment;
  r.service = v.record.service;
  r.version = v.record.version;
  r.index = in.index;
  r.process = *in.process;
  r.port = in.port;
  r.command = in.command;
  r.started_at = in.started_at;
  r.restarts = in.restarts;
  r.ready = in.state == InstanceState::Ready;
  if (auto ok = writeFileAtomically(
          pidFilePath(r.environment, r.service, r.version, r.index), toJson(r));
      !ok) {
    spdlog::warn("runtime: {}", ok.error().message);
  }
}

void LocalRuntimeImpl::persistTraffic(const Service& s) {
  if (auto ok = writeFileAtomically(trafficFilePath(s.traffic.environment, s.traffic.service),
                                    toJson(s.traffic));
      !ok) {
    spdlog::warn("runtime: {}", ok.error().message);
  }
}

Result<void> LocalRuntimeImpl::spawn(Version& v, Instance& in) {
  const auto& r = v.record;
  std::set<int> used_ports;
  for (const auto& [key, s] : services_) {
    for (const auto& [name, ver] : s.versions) {
      for (const auto& [i, other] : ver.instances) {
        if (other.process) used_ports.insert(other.port);
      }
    }
  }
  int port = 0;
  for (int attempt = 0; attempt < 20 && port == 0; ++attempt) {
    auto candidate = options_.port_allocator();
    if (!candidate) return fail(candidate.error());
    if (used_ports.count(*candidate) == 0) port = *candidate;
  }
  if (port == 0) return fail(ErrorCode::Unavailable, "no free loopback port");

  const Substitutions values{port, r.version, r.service, r.environment, artifactOf(r)};
  std::vector<std::string> argv;
  for (std::size_t i = 0; i < r.command.size(); ++i) {
    auto arg = substitute(r.command[i], values, fmt::format("command[{}]", i));
    if (!arg) return fail(arg.error());
    argv.push_back(std::move(*arg));
  }
  auto resolved = findExecutable(argv[0], r.working_dir, search_path_);
  if (!resolved) return fail(resolved.error());

  // An explicit environment, not runway's: that holds runway's own credentials
  // (child_environment.hpp).
  std::map<std::string, std::string> env = baseChildEnvironment();
  env["PATH"] = path_env_.substr(5);
  env["PORT"] = std::to_string(port);
  env["RUNWAY_ENVIRONMENT"] = r.environment;
  env["RUNWAY_SERVICE"] = r.service;
  env["RUNWAY_VERSION"] = r.version;
  env["RUNWAY_INSTANCE"] = std::to_string(in.index);
  env["RUNWAY_ARTIFACT"] = artifactOf(r);
  for (const auto& [service, artifact] : r.artifacts) env[artifactVariable(service)] = artifact;
  for (const auto& [key, value] : r.env) {
    auto substituted = substitute(value, values, "env." + key);
    if (!substituted) return fail(substituted.error());
    env[key] = std::move(*substituted);
  }

  LaunchSpec spec;
  spec.argv = argv;
  spec.argv[0] = resolved->string();
  for (const auto& [key, value] : env) spec.env.push_back(key + "=" + value);
  spec.working_dir = r.working_dir;
  const auto log_path = logFilePath(r.environment, r.service, r.version, in.index);
  std::error_code ec;
  fs::create_directories(log_path.parent_path(), ec);
  if (ec) {
    return fail(ErrorCode::Internal, fmt::format("cannot create {}: {}",
                                                 log_path.parent_path().string(), ec.message()));
  }
  spec.log_path = log_path.string();

  auto process = options_.launcher->launch(spec);
  if (!process) return fail(process.error());

  const auto now = options_.clock->now();
  in.process = *process;
  in.port = port;
  in.command = std::move(argv);
  in.started_at = now;
  in.state = InstanceState::Starting;
  in.consecutive_failures = 0;
  in.probe_in_flight = false;
  in.probe_token = 0;
  in.next_probe_at = now + r.health.initial_delay;
  persistInstance(v, in);
  emit(RuntimeEvent::Kind::InstanceStarted, r, in.index,
       fmt::format("pid {} on port {}", process->pid, port));
  return {};
}

void LocalRuntimeImpl::beginStop(Instance& in, Duration grace) {
  if (in.state == InstanceState::Stopping || in.state == InstanceState::Stopped) return;
  in.was_routed = in.state == InstanceState::Ready;
  in.state = InstanceState::Stopping;
  in.grace = grace;
  in.stop_seq = build_seq_;
  in.probe_in_flight = false;
  in.probe_token = 0;
  const auto now = options_.clock->now();
  if (!in.process) {
    in.state = InstanceState::Stopped;
  } else if (in.was_routed) {
    // Marked draining in the next table; drained once the data plane has that table.
    in.stop_phase = StopPhase::Unroute;
    in.phase_deadline = now + grace;
  } else {
    in.stop_phase = StopPhase::Term;
    in.phase_deadline = now;
  }
}

// Keeps the number of live (not stopping) instances at the desired count.
void LocalRuntimeImpl::reconcileCount(Version& v) {
  if (v.record.retiring) return;
  std::vector<int> live;
  for (auto& [index, in] : v.instances) {
    if (in.state != InstanceState::Stopping && in.state != InstanceState::Stopped) {
      live.push_back(index);
    }
  }
  const auto desired = static_cast<std::size_t>(v.record.desired);
  while (live.size() > desired) {
    beginStop(v.instances.at(live.back()), options_.scale_down_grace);
    live.pop_back();
  }
  int next_index = 0;
  while (live.size() < desired) {
    while (v.instances.count(next_index) != 0) ++next_index;
    Instance& in = v.instances[next_index];
    in.index = next_index;
    live.push_back(next_index);
    if (auto ok = spawn(v, in); !ok) {
      handleExit(v, in, ok.error().message);
    }
  }
}

void LocalRuntimeImpl::handleExit(Version& v, Instance& in, const std::string& description) {
  const auto now = options_.clock->now();
  if (in.process) {
    options_.launcher->release(*in.process);
    in.process.reset();
  }
  std::error_code ec;
  fs::remove(pidFilePath(v.record.environment, v.record.service, v.record.version, in.index), ec);
  in.last_exit = description;
  in.probe_in_flight = false;
  in.probe_token = 0;
  if (in.state == InstanceState::Stopping) {
    in.state = InstanceState::Stopped;
    return;
  }
  while (!in.recent_restarts.empty() &&
         in.recent_restarts.front() + options_.restart.window <= now) {
    in.recent_restarts.pop_front();
  }
  const int recent = static_cast<int>(in.recent_restarts.size());
  if (recent >= options_.restart.max_restarts) {
    in.state = InstanceState::Failed;
    emit(RuntimeEvent::Kind::InstanceFailed, v.record, in.index,
         fmt::format("{}; restarted {} times within {}: giving up", description, recent,
                     formatDuration(options_.restart.window)));
    return;
  }
  in.state = InstanceState::Restarting;
  const auto delay = backoffDelay(options_.restart, recent);
  in.restart_at = now + delay;
  emit(RuntimeEvent::Kind::InstanceExited, v.record, in.index,
       fmt::format("{}; restarting in {}", description, formatDuration(delay)));
}

void LocalRuntimeImpl::applyProbeOutcome(const ProbeOutcome& outcome) {
  Service* s = findService(outcome.environment, outcome.service);
  if (s == nullptr) return;
  auto vit = s->versions.find(outcome.version);
  if (vit == s->versions.end()) return;
  Version& v = vit->second;
  auto iit = v.instances.find(outcome.index);
  if (iit == v.instances.end()) return;
  Instance& in = iit->second;
  if (in.probe_token != outcome.token || !hasProcessState(in.state)) return;  // stale
  in.probe_in_flight = false;
  in.next_probe_at = options_.clock->now() + v.record.health.period;
  if (outcome.result.ok) {
    in.consecutive_failures = 0;
    if (in.state != InstanceState::Ready) {
      in.state = InstanceState::Ready;
      persistInstance(v, in);
      emit(RuntimeEvent::Kind::InstanceReady, v.record, in.index,
           fmt::format("port {}: {}", in.port, outcome.result.detail));
    }
    return;
  }
  ++in.consecutive_failures;
  if (in.state == InstanceState::Ready &&
      in.consecutive_failures >= v.record.health.failure_threshold) {
    in.state = InstanceState::Unhealthy;
    persistInstance(v, in);
    emit(RuntimeEvent::Kind::InstanceUnhealthy, v.record, in.index,
         fmt::format("{} consecutive failed probes, last: {}", in.consecutive_failures,
                     outcome.result.detail));
  }
}

void LocalRuntimeImpl::advance(Version& v, Instance& in, TimePoint now) {
  // Exits first: a process that is gone needs no probe and no signal.
  if (in.process) {
    const auto status = options_.launcher->status(*in.process);
    if (status.kind != ProcessStatus::Kind::Running) {
      const bool stopping = in.state == InstanceState::Stopping;
      handleExit(v, in, status.description);
      if (stopping) {
        emit(RuntimeEvent::Kind::InstanceStopped, v.record, in.index, status.description);
      }
      return;
    }
  }
  switch (in.state) {
    case InstanceState::Starting:
    case InstanceState::Ready:
    case InstanceState::Unhealthy:
      if (!in.probe_in_flight && now >= in.next_probe_at) {
        in.probe_in_flight = true;
        in.probe_token = ++next_probe_token_;
        ProbeRequest request;
        request.port = in.port;
        request.path = v.record.health.path;
        request.timeout = v.record.health.timeout;
        std::weak_ptr<ProbeInbox> inbox = inbox_;
        ProbeOutcome tag{v.record.environment, v.record.service, v.record.version, in.index,
                         in.probe_token, {}};
        options_.prober->probe(request, [inbox, tag](ProbeResult result) mutable {
          if (auto box = inbox.lock()) {
            tag.result = std::move(result);
            std::lock_guard lock(box->mutex);
            box->outcomes.push_back(std::move(tag));
          }
        });
      }
      break;
    case InstanceState::Restarting:
      if (now >= in.restart_at) {
        in.recent_restarts.push_back(now);
        ++in.restarts;
        if (auto ok = spawn(v, in); !ok) handleExit(v, in, ok.error().message);
      }
      break;
    case InstanceState::Stopping:
      if (in.stop_phase == StopPhase::Unroute) {
        if (confirmed_seq_ > in.stop_seq) {
          in.stop_phase = StopPhase::Drain;
        } else if (now >= in.phase_deadline) {
          // The data plane could not be told within the grace period; stop anyway.
          in.stop_phase = StopPhase::Term;
        }
      }
      if (in.stop_phase == StopPhase::Drain && now >= in.phase_deadline) {
        in.stop_phase = StopPhase::Term;
      }
      if (in.stop_phase == StopPhase::Term) {
        options_.launcher->signalGroup(*in.process, SIGTERM);
        in.stop_phase = StopPhase::Kill;
        in.phase_deadline = now + options_.kill_timeout;
      } else if (in.stop_phase == StopPhase::Kill && now >= in.phase_deadline) {
        options_.launcher->signalGroup(*in.process, SIGKILL);
        // Once more after another kill timeout, should the group not be gone by then.
        in.phase_deadline = now + options_.kill_timeout;
      }
      break;
    case InstanceState::Failed:
    case InstanceState::Stopped:
      break;
  }
}

void LocalRuntimeImpl::updateVersionEvents(Version& v) {
  int ready = 0;
  bool failed = false;
  for (const auto& [i, in] : v.instances) {
    if (in.state == InstanceState::Ready) ++ready;
    if (in.state == InstanceState::Failed) failed = true;
  }
  if (failed && !v.failed_reported) {
    v.failed_reported = true;
    emit(RuntimeEvent::Kind::VersionFailed, v.record, -1,
         "an instance restarted too often; the version is Failed");
  }
  const bool all_ready = !v.record.retiring && v.record.desired > 0 && ready == v.record.desired;
  if (all_ready && !v.ready_reported) {
    emit(RuntimeEvent::Kind::VersionReady, v.record, -1,
         fmt::format("{} of {} instances ready", ready, v.record.desired));
  }
  v.ready_reported = all_ready;
}

void LocalRuntimeImpl::removeFinished() {
  for (auto sit = services_.begin(); sit != services_.end();) {
    Service& s = sit->second;
    for (auto vit = s.versions.begin(); vit != s.versions.end();) {
      Version& v = vit->second;
      std::erase_if(v.instances, [](const auto& entry) {
        return entry.second.state == InstanceState::Stopped;
      });
      if (v.record.retiring && v.instances.empty()) {
        std::error_code ec;
        fs::remove(versionFilePath(v.record.environment, v.record.service, v.record.version), ec);
        emit(RuntimeEvent::Kind::VersionRetired, v.record, -1, "all instances stopped");
        s.traffic.split.weights.erase(v.record.version);
        persistTraffic(s);
        vit = s.versions.erase(vit);
      } else {
        ++vit;
      }
    }
    if (stopping_all_ && s.versions.empty()) {
      std::error_code ec;
      fs::remove(trafficFilePath(s.traffic.environment, s.traffic.service), ec);
      sit = services_.erase(sit);
    } else {
      ++sit;
    }
  }
}

TrafficTable LocalRuntimeImpl::buildTable() const {
  TrafficTable table;
  for (const auto& [key, s] : services_) {
    ServiceTraffic st;
    st.environment = s.traffic.environment;
    st.service = s.traffic.service;
    st.listen_address = s.traffic.listen_address;
    st.listen_port = s.traffic.listen_port;
    st.limits = s.traffic.limits;
    st.tls = s.traffic.tls;
    st.split = s.traffic.split;
    for (const auto& [name, v] : s.versions) {
      for (const auto& [index, in] : v.instances) {
        const bool draining = in.state == InstanceState::Stopping && in.was_routed &&
                              (in.stop_phase == StopPhase::Unroute ||
                               in.stop_phase == StopPhase::Drain);
        if (in.state == InstanceState::Ready || draining) {
          st.endpoints.push_back(TrafficEndpoint{name, index, "127.0.0.1", in.port, draining});
        }
      }
    }
    table.services.push_back(std::move(st));
  }
  return table;
}

void LocalRuntimeImpl::rotateLogs(TimePoint now) {
  if (now < next_log_check_) return;
  next_log_check_ = now + options_.log_check_period;
  for (const auto& [key, s] : services_) {
    for (const auto& [name, v] : s.versions) {
      for (const auto& [index, in] : v.instances) {
        if (!in.process) continue;
        auto rotated = rotateLogIfLarger(
            logFilePath(key.first, key.second, name, index), options_.log_max_bytes,
            options_.log_keep);
        if (!rotated) spdlog::warn("runtime: {}", rotated.error().message);
      }
    }
  }
}

Result<void> LocalRuntimeImpl::pushTableLocked() {
  TrafficTable table;
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(mutex_);
    table = buildTable();
    seq = ++build_seq_;
  }
  if (last_pushed_ && last_pushed_->services == table.services) {
    std::lock_guard lock(mutex_);
    confirmed_seq_ = std::max(confirmed_seq_, seq);
    return {};
  }
  table.generation = last_pushed_ ? last_pushed_->generation + 1 : 1;
  auto ok = options_.traffic->setTable(table);
  if (!ok) return ok;
  last_pushed_ = std::move(table);
  std::lock_guard lock(mutex_);
  confirmed_seq_ = std::max(confirmed_seq_, seq);
  return {};
}

void LocalRuntimeImpl::deliverEvents() {
  std::vector<RuntimeEvent> events;
  {
    std::lock_guard lock(mutex_);
    events.swap(events_);
  }
  if (events.empty()) return;
  EventHandler handler;
  {
    std::lock_guard lock(handler_mutex_);
    handler = handler_;
  }
  for (const auto& e : events) {
    spdlog::debug("runtime: {} {}/{}/{} #{}: {}", toString(e.kind), e.environment, e.service,
                  e.version, e.index, e.message);
    if (handler) handler(e);
  }
}

void LocalRuntimeImpl::tick() {
  std::lock_guard tick_lock(tick_mutex_);
  std::vector<ProbeOutcome> outcomes;
  {
    std::lock_guard lock(inbox_->mutex);
    outcomes.swap(inbox_->outcomes);
  }
  std::vector<std::tuple<ServiceKey, std::string, int, int>> drains;  // key, version, index, port
  {
    std::lock_guard lock(mutex_);
    for (const auto& o : outcomes) applyProbeOutcome(o);
    const auto now = options_.clock->now();
    for (auto& [key, s] : services_) {
      for (auto& [name, v] : s.versions) {
        reconcileCount(v);
        for (auto& [index, in] : v.instances) {
          advance(v, in, now);
          if (in.state == InstanceState::Stopping && in.stop_phase == StopPhase::Drain) {
            drains.emplace_back(key, name, index, in.port);
          }
        }
        updateVersionEvents(v);
      }
    }
    removeFinished();
    rotateLogs(now);
  }
  // Ask the data plane whether draining instances are idle (outside the lock: it is I/O).
  std::vector<std::tuple<ServiceKey, std::string, int>> idle;
  for (const auto& [key, version, index, port] : drains) {
    auto in_flight = options_.traffic->inFlight(key.first, key.second, port);
    if (in_flight && *in_flight == 0) idle.emplace_back(key, version, index);
  }
  if (!idle.empty()) {
    std::lock_guard lock(mutex_);
    const auto now = options_.clock->now();
    for (const auto& [key, version, index] : idle) {
      auto sit = services_.find(key);
      if (sit == services_.end()) continue;
      auto vit = sit->second.versions.find(version);
      if (vit == sit->second.versions.end()) continue;
      auto iit = vit->second.instances.find(index);
      if (iit == vit->second.instances.end()) continue;
      Instance& in = iit->second;
      if (in.state == InstanceState::Stopping && in.stop_phase == StopPhase::Drain) {
        in.phase_deadline = now;  // drained: SIGTERM on this tick
        advance(vit->second, in, now);
      }
    }
  }
  {
    std::lock_guard push_lock(push_mutex_);
    if (auto ok = pushTableLocked(); !ok) {
      spdlog::warn("runtime: cannot update the router: {}", ok.error().message);
    }
  }
  deliverEvents();
}

// ---------------------------------------------------------------------------------------------
// Runtime operations

Result<void> LocalRuntimeImpl::startVersion(const config::Environment& environment,
                                            const config::Service& service,
                                            std::string_view version, int instances,
                                            const std::map<std::string, std::string>& artifacts) {
  if (auto ok = validateName("environment", environment.name); !ok) return ok;
  if (auto ok = validateName("service", service.name); !ok) return ok;
  if (auto ok = validateVersionName(version); !ok) return ok;
  if (environment.runtime.kind != config::RuntimeSpec::Kind::Local) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("environment '{}' does not use the local runtime", environment.name));
  }
  if (!service.local || service.local->command.empty()) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("service '{}' has no local command to run", service.name));
  }
  if (instances < 0 || instances > 1000) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("instance count {} is outside 0..1000", instances));
  }

  VersionRecord record;
  record.environment = environment.name;
  record.service = service.name;
  record.version = std::string(version);
  record.desired = instances;
  record.command = service.local->command;
  record.env = service.env;
  record.artifacts = artifacts;
  record.health = service.health;
  fs::path wd(service.local->working_dir);
  if (wd.is_relative()) {
    const std::string& file =
        !service.local->location.file.empty() ? service.local->location.file : service.location.file;
    std::error_code ec;
    const fs::path base = file.empty() ? fs::current_path(ec) : fs::absolute(file, ec).parent_path();
    wd = base / wd;
  }
  record.working_dir = wd.lexically_normal().string();
  if (!record.working_dir.empty() && record.working_dir.size() > 1 &&
      record.working_dir.back() == '/') {
    record.working_dir.pop_back();
  }

  // Check the command before touching anything, so a typo fails the call, not the instances.
  const Substitutions probe_values{1, record.version, record.service, record.environment,
                                   artifactOf(record)};
  for (std::size_t i = 0; i < record.command.size(); ++i) {
    auto arg = substitute(record.command[i], probe_values, fmt::format("command[{}]", i));
    if (!arg) return fail(arg.error());
    if (i == 0) {
      if (auto found = findExecutable(*arg, record.working_dir, search_path_); !found) {
        return fail(found.error());
      }
    }
  }
  for (const auto& [key, value] : record.env) {
    if (auto ok = substitute(value, probe_values, "env." + key); !ok) return fail(ok.error());
  }
  // The listener's TLS files, loaded as the router will load them: a pair it cannot use fails
  // this call rather than the router's next table, which it would refuse whole (every
  // service's traffic with it).
  std::optional<ListenerTlsFiles> tls;
  if (const auto& l = environment.traffic.listener; l && l->tls) {
    tls = ListenerTlsFiles{l->tls->certificate, l->tls->key};
    if (auto usable = router::checkListenerTls(router::ListenerTls{tls->certificate_file, tls->key_file});
        !usable) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("traffic.listener.tls of environment '{}': {}", environment.name,
                              usable.error().message));
    }
  }

  {
    std::lock_guard lock(mutex_);
    if (stopping_all_) {
      return fail(ErrorCode::FailedPrecondition, "the runtime is stopping everything");
    }
    const ServiceKey key{environment.name, service.name};
    auto [sit, created] = services_.try_emplace(key);
    Service& s = sit->second;
    const auto configured = environment.runtime.local.ports.find(service.name);
    const int wanted_port =
        configured != environment.runtime.local.ports.end() ? configured->second : 0;
    bool traffic_changed = created;
    if (created) {
      s.traffic.environment = environment.name;
      s.traffic.service = service.name;
    }
    if (s.traffic.listen_address != environment.runtime.local.bind_address) {
      s.traffic.listen_address = environment.runtime.local.bind_address;
      traffic_changed = true;
    }
    ListenerLimits limits;
    if (const auto& l = environment.traffic.listener) {
      limits = ListenerLimits{l->header_timeout, l->idle_timeout, l->request_timeout,
                              l->max_request_body};
    }
    if (s.traffic.limits != limits) {
      s.traffic.limits = limits;
      traffic_changed = true;
    }
    if (s.traffic.tls != tls) {
      s.traffic.tls = tls;
      traffic_changed = true;
    }
    if (wanted_port != 0 && s.traffic.listen_port != wanted_port) {
      s.traffic.listen_port = wanted_port;
      traffic_changed = true;
    } else if (s.traffic.listen_port == 0) {
      auto port = options_.port_allocator();
      if (!port) {
        if (created) services_.erase(sit);
        return fail(port.error());
      }
      s.traffic.listen_port = *port;
      traffic_changed = true;
    }
    if (traffic_changed) persistTraffic(s);

    auto [vit, new_version] = s.versions.try_emplace(record.version);
    Version& v = vit->second;
    if (!new_version && v.record.retiring) {
      return fail(ErrorCode::FailedPrecondition,
                  fmt::format("version '{}' of '{}' is being retired; start it again once it "
                              "has stopped",
                              version, service.name));
    }
    if (new_version || !(v.record == record)) {
      v.record = record;
      persistVersion(v);
    }
    reconcileCount(v);
  }
  return {};
}

Result<void> LocalRuntimeImpl::scale(std::string_view environment, std::string_view service,
                                     std::string_view version, int instances) {
  if (instances < 0 || instances > 1000) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("instance count {} is outside 0..1000", instances));
  }
  std::lock_guard lock(mutex_);
  auto v = findVersion(environment, service, version);
  if (!v) return fail(v.error());
  if ((*v)->record.retiring) {
    return fail(ErrorCode::FailedPrecondition,
                fmt::format("version '{}' of '{}' is being retired", version, service));
  }
  if ((*v)->record.desired != instances) {
    (*v)->record.desired = instances;
    persistVersion(**v);
  }
  reconcileCount(**v);
  return {};
}

Result<void> LocalRuntimeImpl::setTraffic(std::string_view environment,
                                          std::string_view service, const TrafficSplit& split) {
  std::lock_guard push_lock(push_mutex_);
  {
    std::lock_guard lock(mutex_);
    Service* s = findService(environment, service);
    if (s == nullptr) {
      return fail(ErrorCode::NotFound,
                  fmt::format("service '{}' runs no version in environment '{}'", service,
                              environment));
    }
    auto known = [&](const std::string& version) -> Result<void> {
      auto v = findVersion(environment, service, version);
      if (!v) return fail(v.error());
      if ((*v)->record.retiring) {
        return fail(ErrorCode::FailedPrecondition,
                    fmt::format("version '{}' is being retired", version));
      }
      return {};
    };
    int sum = 0;
    for (const auto& [version, weight] : split.weights) {
      if (weight < 0 || weight > 1000) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("weight {} of version '{}' is outside 0..1000 per mille", weight,
                                version));
      }
      if (weight > 0) {
        if (auto ok = known(version); !ok) return ok;
      }
      sum += weight;
    }
    if (!split.weights.empty() && sum != 1000) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("weights sum to {} per mille; they must sum to 1000", sum));
    }
    for (std::size_t i = 0; i < split.routes.size(); ++i) {
      const auto& route = split.routes[i];
      if (route.header.empty() == route.cookie.empty()) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("routes[{}]: set exactly one of header and cookie", i));
      }
      if (route.match == TrafficRoute::Match::Regex) {
        if (auto compiled = Pattern::compile(route.value); !compiled) {
          return fail(ErrorCode::InvalidArgument,
                      fmt::format("routes[{}]: {}", i, compiled.error().message));
        }
      }
      if (auto ok = known(route.version); !ok) return ok;
    }
    TrafficSplit cleaned = split;
    std::erase_if(cleaned.weights, [](const auto& entry) { return entry.second == 0; });
    // Keep explicit zero weights of running versions: the router lists them with weight 0.
    for (const auto& [version, weight] : split.weights) {
      if (weight == 0 && s->versions.count(version) != 0) cleaned.weights[version] = 0;
    }
    if (!(s->traffic.split == cleaned)) {
      s->traffic.split = std::move(cleaned);
      persistTraffic(*s);
    }
  }
  return pushTableLocked();
}

Result<TrafficSplit> LocalRuntimeImpl::traffic(std::string_view environment,
                                               std::string_view service) const {
  std::lock_guard lock(mutex_);
  const Service* s = findService(environment, service);
  if (s == nullptr) {
    return fail(ErrorCode::NotFound, fmt::format("service '{}' runs no version in environment '{}'",
                                                 service, environment));
  }
  return s->traffic.split;
}

Result<std::string> LocalRuntimeImpl::serviceAddress(std::string_view environment,
                                                     std::string_view service) const {
  std::lock_guard lock(mutex_);
  const Service* s = findService(environment, service);
  if (s == nullptr || s->traffic.listen_port == 0) {
    return fail(ErrorCode::NotFound, fmt::format("service '{}' runs no version in environment '{}'",
                                                 service, environment));
  }
  return fmt::format("{}:{}", s->traffic.listen_address, s->traffic.listen_port);
}

Result<std::vector<InstanceInfo>> LocalRuntimeImpl::instances(std::string_view environment,
                                                              std::string_view service) const {
  std::lock_guard lock(mutex_);
  std::vector<InstanceInfo> out;
  for (const auto& [key, s] : services_) {
    if (key.first != environment || (!service.empty() && key.second != service)) continue;
    for (const auto& [name, v] : s.versions) {
      for (const auto& [index, in] : v.instances) {
        InstanceInfo info;
        info.environment = key.first;
        info.service = key.second;
        info.version = name;
        info.index = index;
        info.state = in.state;
        info.pid = in.process ? in.process->pid : 0;
        info.pgid = in.process ? in.process->pgid : 0;
        info.port = in.port;
        info.restarts = in.restarts;
        info.started_at = in.started_at;
        info.last_exit = in.last_exit;
        info.log_path = logFilePath(key.first, key.second, name, index).string();
        out.push_back(std::move(info));
      }
    }
  }
  return out;
}

Result<VersionStatus> LocalRuntimeImpl::versionStatus(std::string_view environment,
                                                      std::string_view service,
                                                      std::string_view version) const {
  std::lock_guard lock(mutex_);
  auto v = const_cast<LocalRuntimeImpl*>(this)->findVersion(environment, service, version);
  if (!v) return fail(v.error());
  VersionStatus status;
  status.environment = std::string(environment);
  status.service = std::string(service);
  status.version = std::string(version);
  status.desired = (*v)->record.desired;
  bool failed = false;
  for (const auto& [index, in] : (*v)->instances) {
    if (in.state == InstanceState::Ready) ++status.ready;
    if (in.state == InstanceState::Failed) failed = true;
  }
  if ((*v)->record.retiring) {
    status.state = VersionState::Retiring;
  } else if (failed) {
    status.state = VersionState::Failed;
  } else if (status.ready == status.desired) {
    status.state = VersionState::Ready;
  } else {
    status.state = VersionState::Progressing;
  }
  return status;
}

Result<void> LocalRuntimeImpl::retireVersion(std::string_view environment,
                                             std::string_view service, std::string_view version,
                                             Duration grace) {
  std::lock_guard lock(mutex_);
  Service* s = findService(environment, service);
  if (s == nullptr) return {};
  auto vit = s->versions.find(std::string(version));
  if (vit == s->versions.end()) return {};
  const auto w = s->traffic.split.weights.find(std::string(version));
  if (w != s->traffic.split.weights.end() && w->second > 0) {
    return fail(ErrorCode::FailedPrecondition,
                fmt::format("version '{}' of '{}' still receives {} per mille of the traffic; "
                            "move its traffic to another version first",
                            version, service, w->second));
  }
  for (const auto& route : s->traffic.split.routes) {
    if (route.version == version) {
      return fail(ErrorCode::FailedPrecondition,
                  fmt::format("version '{}' of '{}' is the target of a {} route; remove the "
                              "route first",
                              version, service, route.header.empty() ? "cookie" : "header"));
    }
  }
  Version& v = vit->second;
  if (v.record.retiring) return {};
  v.record.retiring = true;
  v.retire_grace = grace;
  persistVersion(v);
  for (auto& [index, in] : v.instances) beginStop(in, grace);
  return {};
}

Result<void> LocalRuntimeImpl::retainOnly(
    std::string_view environment, const std::vector<std::pair<std::string, std::string>>& keep,
    Duration grace) {
  std::vector<std::pair<std::string, std::string>> unwanted;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, s] : services_) {
      if (key.first != environment) continue;
      for (const auto& [name, v] : s.versions) {
        const std::pair<std::string, std::string> id{key.second, name};
        if (std::find(keep.begin(), keep.end(), id) == keep.end()) unwanted.push_back(id);
      }
    }
  }
  for (const auto& [service, version] : unwanted) {
    if (auto ok = retireVersion(environment, service, version, grace); !ok) return ok;
  }
  return {};
}

Result<std::vector<VersionStatistics>> LocalRuntimeImpl::statistics(std::string_view environment,
                                                                    std::string_view service,
                                                                    Duration window) {
  {
    std::lock_guard lock(mutex_);
    if (findService(environment, service) == nullptr) {
      return fail(ErrorCode::NotFound, fmt::format("service '{}' runs no version in environment "
                                                   "'{}'",
                                                   service, environment));
    }
  }
  return options_.traffic->statistics(environment, service, window);
}

void LocalRuntimeImpl::requestStopAll(Duration grace) {
  std::lock_guard lock(mutex_);
  stopping_all_ = true;
  for (auto& [key, s] : services_) {
    s.traffic.split = TrafficSplit{};
    for (auto& [name, v] : s.versions) {
      if (!v.record.retiring) {
        v.record.retiring = true;
        v.retire_grace = grace;
        persistVersion(v);
      }
      for (auto& [index, in] : v.instances) beginStop(in, grace);
    }
  }
}

Result<void> LocalRuntimeImpl::stopAll(Duration grace) {
  requestStopAll(grace);
  const auto limit = std::chrono::steady_clock::now() + grace + 2 * options_.kill_timeout +
                     std::chrono::seconds(5);
  while (!allStopped() && std::chrono::steady_clock::now() < limit) {
    if (thread_.joinable()) {
      std::unique_lock lock(thread_mutex_);
      thread_cv_.wait_for(lock, options_.tick_period);
    } else {
      tick();
      std::this_thread::sleep_for(options_.tick_period);
    }
  }
  if (!allStopped()) {
    return fail(ErrorCode::Timeout, "some instances did not stop after SIGKILL");
  }
  // Tell the data plane that nothing is left.
  std::lock_guard push_lock(push_mutex_);
  auto pushed = pushTableLocked();
  {
    std::lock_guard lock(mutex_);
    stopping_all_ = false;
  }
  deliverEvents();
  return pushed;
}

// ---------------------------------------------------------------------------------------------
// Adoption

Result<void> LocalRuntimeImpl::adoptFromDisk() {
  const fs::path run = options_.data_dir / "run";
  std::error_code ec;
  if (!fs::exists(run, ec)) return {};
  const auto now = options_.clock->now();
  std::lock_guard lock(mutex_);
  for (const auto& env_dir : fs::directory_iterator(run, ec)) {
    if (!env_dir.is_directory()) continue;
    for (const auto& service_dir : fs::directory_iterator(env_dir.path(), ec)) {
      if (!service_dir.is_directory()) continue;
      const ServiceKey key{env_dir.path().filename().string(),
                           service_dir.path().filename().string()};
      std::vector<fs::path> version_files;
      std::vector<fs::path> pid_files;
      std::optional<TrafficRecord> traffic;
      for (const auto& file : fs::directory_iterator(service_dir.path(), ec)) {
        const auto name = file.path().filename().string();
        if (name == "traffic.json") {
          auto text = readWholeFile(file.path());
          auto parsed = text ? parseTrafficRecord(*text) : Result<TrafficRecord>(fail(text.error()));
          if (parsed) {
            traffic = std::move(*parsed);
          } else {
            spdlog::warn("runtime: ignoring {}: {}", file.path().string(), parsed.error().message);
          }
        } else if (name.ends_with(".version.json")) {
          version_files.push_back(file.path());
        } else if (name.ends_with(".pid")) {
          pid_files.push_back(file.path());
        }
      }
      Service s;
      if (traffic) {
        s.traffic = std::move(*traffic);
      } else {
        s.traffic.environment = key.first;
        s.traffic.service = key.second;
      }
      for (const auto& path : version_files) {
        auto text = readWholeFile(path);
        auto parsed = text ? parseVersionRecord(*text) : Result<VersionRecord>(fail(text.error()));
        if (!parsed) {
          spdlog::warn("runtime: ignoring {}: {}", path.string(), parsed.error().message);
          continue;
        }
        Version& v = s.versions[parsed->version];
        v.record = std::move(*parsed);
        v.retire_grace = options_.scale_down_grace;
      }
      for (const auto& path : pid_files) {
        auto text = readWholeFile(path);
        auto parsed =
            text ? parseInstanceRecord(*text) : Result<InstanceRecord>(fail(text.error()));
        fs::remove(path, ec);
        if (!parsed) {
          spdlog::warn("runtime: ignoring {}: {}", path.string(), parsed.error().message);
          continue;
        }
        const InstanceRecord& r = *parsed;
        if (!describesLiveProcess(r, *options_.launcher)) {
          spdlog::info("runtime: {} (pid {}) is no longer running",
                       instanceName(r.environment, r.service, r.version, r.index), r.process.pid);
          continue;
        }
        auto vit = s.versions.find(r.version);
        if (vit == s.versions.end()) {
          // Running, but nobody wants it any more: stop it with the normal machinery.
          Version& orphan = s.versions[r.version];
          orphan.record.environment = r.environment;
          orphan.record.service = r.service;
          orphan.record.version = r.version;
          orphan.record.command = r.command;
          orphan.record.retiring = true;
          vit = s.versions.find(r.version);
        }
        Version& v = vit->second;
        Instance& in = v.instances[r.index];
        in.index = r.index;
        in.process = r.process;
        in.port = r.port;
        in.command = r.command;
        in.started_at = r.started_at;
        in.restarts = r.restarts;
        // Ready instances stay routed (the router still sends them traffic); the next probe
        // confirms it or, after the failure threshold, takes them out.
        in.state = r.ready ? InstanceState::Ready : InstanceState::Starting;
        in.next_probe_at = now;
        persistInstance(v, in);
        spdlog::info("runtime: adopted {} (pid {}, port {})",
                     instanceName(r.environment, r.service, r.version, r.index), r.process.pid,
                     r.port);
      }
      for (auto& [name, v] : s.versions) {
        if (v.record.retiring) {
          for (auto& [index, in] : v.instances) beginStop(in, v.retire_grace);
        }
      }
      if (!s.versions.empty()) {
        services_.emplace(key, std::move(s));
      } else {
        fs::remove(trafficFilePath(key.first, key.second), ec);
      }
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<LocalRuntime>> LocalRuntime::open(LocalRuntimeOptions options) {
  if (!options.traffic) {
    return fail(ErrorCode::InvalidArgument, "the local runtime needs a traffic backend");
  }
  if (options.data_dir.empty()) {
    return fail(ErrorCode::InvalidArgument, "the local runtime needs a data directory");
  }
  if (!options.clock) options.clock = systemClock();
  if (!options.launcher) options.launcher = posixProcessLauncher();
  if (!options.prober) options.prober = httpHealthProber();
  if (!options.port_allocator) options.port_allocator = [] { return freeLoopbackPort(); };
  if (options.extra_path.empty()) options.extra_path = defaultExtraPath();
  std::error_code ec;
  options.data_dir = fs::absolute(options.data_dir, ec);
  for (const char* sub : {"run", "logs"}) {
    fs::create_directories(options.data_dir / sub, ec);
    if (ec) {
      return fail(ErrorCode::Internal, fmt::format("cannot create {}: {}",
                                                   (options.data_dir / sub).string(),
                                                   ec.message()));
    }
  }
  ::chmod(options.data_dir.c_str(), 0700);
  const bool thread = options.supervisor_thread;
  auto runtime = std::make_unique<LocalRuntimeImpl>(std::move(options));
  if (auto ok = runtime->adoptFromDisk(); !ok) return fail(ok.error());
  if (thread) runtime->startThread();
  return std::unique_ptr<LocalRuntime>(std::move(runtime));
}

}  // namespace runway::runtime
