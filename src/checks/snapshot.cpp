#include "runway/checks/snapshot.hpp"

#include <algorithm>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "runway/runtime/process.hpp"
#include "runway/runtime/records.hpp"

namespace runway::checks {
namespace {

namespace fs = std::filesystem;

class RuntimeSnapshot final : public runtime::Runtime {
 public:
  explicit RuntimeSnapshot(fs::path data_dir)
      : data_dir_(std::move(data_dir)), launcher_(runtime::posixProcessLauncher()) {}

  // runtime::Runtime
  using runtime::Runtime::startVersion;
  Result<void> startVersion(const config::Environment&, const config::Service&, std::string_view,
                            int, const std::map<std::string, std::string>&) override {
    return readOnly();
  }
  Result<void> setTraffic(std::string_view, std::string_view,
                          const runtime::TrafficSplit&) override {
    return readOnly();
  }
  Result<runtime::TrafficSplit> traffic(std::string_view environment,
                                        std::string_view service) const override {
    const auto path = data_dir_ / "run" / std::string(environment) / std::string(service) /
                      "traffic.json";
    auto text = runtime::readWholeFile(path);
    if (!text) {
      return fail(ErrorCode::NotFound,
                  fmt::format("no traffic recorded for service \"{}\" in \"{}\"", service,
                              environment));
    }
    auto record = runtime::parseTrafficRecord(*text);
    if (!record) return fail(record.error());
    return record->split;
  }
  Result<void> scale(std::string_view, std::string_view, std::string_view, int) override {
    return readOnly();
  }
  Result<std::vector<runtime::InstanceInfo>> instances(std::string_view environment,
                                                       std::string_view service) const override {
    std::vector<runtime::InstanceInfo> out;
    const auto env_dir = data_dir_ / "run" / std::string(environment);
    std::error_code ec;
    if (!fs::is_directory(env_dir, ec)) return out;
    for (const auto& service_dir : fs::directory_iterator(env_dir, ec)) {
      if (!service_dir.is_directory()) continue;
      const auto service_name = service_dir.path().filename().string();
      if (!service.empty() && service_name != service) continue;
      std::error_code ec2;
      for (const auto& file : fs::directory_iterator(service_dir.path(), ec2)) {
        const auto name = file.path().filename().string();
        if (!name.ends_with(".pid")) continue;
        auto text = runtime::readWholeFile(file.path());
        if (!text) continue;  // removed while we looked
        auto record = runtime::parseInstanceRecord(*text);
        if (!record) continue;
        runtime::InstanceInfo info;
        info.environment = record->environment;
        info.service = record->service;
        info.version = record->version;
        info.index = record->index;
        info.port = record->port;
        info.restarts = record->restarts;
        info.started_at = record->started_at;
        info.log_path = (data_dir_ / "logs" / record->environment / record->service /
                         fmt::format("{}-{}.log", record->version, record->index))
                            .string();
        if (runtime::describesLiveProcess(*record, *launcher_)) {
          info.pid = record->process.pid;
          info.pgid = record->process.pgid;
          info.state = record->ready ? runtime::InstanceState::Ready
                                     : runtime::InstanceState::Starting;
        } else {
          info.state = runtime::InstanceState::Restarting;
          info.last_exit = "process is not running";
        }
        out.push_back(std::move(info));
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.service, a.version, a.index) < std::tie(b.service, b.version, b.index);
    });
    return out;
  }
  Result<runtime::VersionStatus> versionStatus(std::string_view environment,
                                               std::string_view service,
                                               std::string_view version) const override {
    const auto path = data_dir_ / "run" / std::string(environment) / std::string(service) /
                      fmt::format("{}.version.json", version);
    auto text = runtime::readWholeFile(path);
    if (!text) {
      return fail(ErrorCode::NotFound, fmt::format("version \"{}\" of \"{}\" is not running in "
                                                   "\"{}\"",
                                                   version, service, environment));
    }
    auto record = runtime::parseVersionRecord(*text);
    if (!record) return fail(record.error());
    runtime::VersionStatus status;
    status.environment = record->environment;
    status.service = record->service;
    status.version = record->version;
    status.desired = record->desired;
    auto list = instances(environment, service);
    if (list) {
      for (const auto& i : *list) {
        if (i.version == version && i.state == runtime::InstanceState::Ready) ++status.ready;
      }
    }
    status.state = record->retiring ? runtime::VersionState::Retiring
                   : status.ready >= status.desired ? runtime::VersionState::Ready
                                                    : runtime::VersionState::Progressing;
    return status;
  }
  Result<void> retireVersion(std::string_view, std::string_view, std::string_view,
                             Duration) override {
    return readOnly();
  }
  Result<std::vector<runtime::VersionStatistics>> statistics(std::string_view, std::string_view,
                                                             Duration) override {
    return fail(ErrorCode::Unavailable, "a runtime snapshot has no router statistics");
  }
  Result<void> retainOnly(std::string_view, const std::vector<std::pair<std::string, std::string>>&,
                          Duration) override {
    return readOnly();
  }
  Result<void> stopAll(Duration) override { return readOnly(); }
  void setEventHandler(runtime::EventHandler) override {}

 private:
  static Result<void> readOnly() {
    return fail(ErrorCode::FailedPrecondition,
                "a runtime snapshot is read-only (the server's runtime owns the instances)");
  }

  fs::path data_dir_;
  std::unique_ptr<runtime::ProcessLauncher> launcher_;
};

}  // namespace

std::unique_ptr<runtime::Runtime> openRuntimeSnapshot(std::filesystem::path data_dir) {
  return std::make_unique<RuntimeSnapshot>(std::move(data_dir));
}

std::optional<Listener> recordedListener(const std::filesystem::path& data_dir,
                                         std::string_view environment, std::string_view service) {
  const auto path =
      data_dir / "run" / std::string(environment) / std::string(service) / "traffic.json";
  auto text = runtime::readWholeFile(path);
  if (!text) return std::nullopt;
  auto record = runtime::parseTrafficRecord(*text);
  if (!record || record->listen_port <= 0) return std::nullopt;
  return Listener{record->listen_address, record->listen_port};
}

}  // namespace runway::checks
