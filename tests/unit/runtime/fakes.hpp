#pragma once

// Fakes for the runtime's seams: processes, health probes and the data plane. Each records what
// it was asked into a shared journal, so tests can assert the order of effects.

#include <signal.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runway/runtime/health.hpp"
#include "runway/runtime/process.hpp"
#include "runway/runtime/traffic.hpp"

namespace runway::runtime::testing {

using Journal = std::vector<std::string>;

class FakeLauncher final : public ProcessLauncher {
 public:
  struct Process {
    LaunchSpec spec;
    ProcessIdentity identity;
    bool running = true;
    std::string exit;
    std::vector<int> signals;
    bool released = false;
  };

  explicit FakeLauncher(std::shared_ptr<Journal> journal) : journal_(std::move(journal)) {}

  // ProcessLauncher
  Result<ProcessIdentity> launch(const LaunchSpec& spec) override {
    if (fail_launch) return fail(ErrorCode::InvalidArgument, "cannot start: test says no");
    const int pid = next_pid_++;
    Process p;
    p.spec = spec;
    p.identity = ProcessIdentity{pid, pid, static_cast<std::uint64_t>(pid) * 7};
    processes[pid] = p;
    journal_->push_back(fmt::format("launch {}", pid));
    return p.identity;
  }
  ProcessStatus status(const ProcessIdentity& id) override {
    auto it = processes.find(id.pid);
    if (it == processes.end() || it->second.identity.start_ticks != id.start_ticks) {
      return {ProcessStatus::Kind::Gone, "gone"};
    }
    if (!it->second.running) return {ProcessStatus::Kind::Exited, it->second.exit};
    return {ProcessStatus::Kind::Running, {}};
  }
  void signalGroup(const ProcessIdentity& id, int signal) override {
    auto it = processes.find(id.pid);
    if (it == processes.end() || it->second.identity.start_ticks != id.start_ticks) return;
    it->second.signals.push_back(signal);
    journal_->push_back(fmt::format("{} {}", signal == SIGTERM ? "SIGTERM" : "SIGKILL", id.pid));
    if (signal == SIGKILL || (signal == SIGTERM && exit_on_sigterm)) {
      it->second.running = false;
      it->second.exit = fmt::format("killed by signal {}", signal);
    }
  }
  void release(const ProcessIdentity& id) override {
    auto it = processes.find(id.pid);
    if (it != processes.end()) it->second.released = true;
  }
  std::optional<ProcessIdentity> identify(int pid) override {
    auto it = processes.find(pid);
    if (it == processes.end() || !it->second.running) return std::nullopt;
    return it->second.identity;
  }

  // Test controls.
  void crash(int pid, std::string how = "exited with status 1") {
    processes.at(pid).running = false;
    processes.at(pid).exit = std::move(how);
  }
  std::vector<int> runningPids() const {
    std::vector<int> out;
    for (const auto& [pid, p] : processes) {
      if (p.running) out.push_back(pid);
    }
    return out;
  }

  std::map<int, Process> processes;
  bool fail_launch = false;
  bool exit_on_sigterm = true;

 private:
  std::shared_ptr<Journal> journal_;
  int next_pid_ = 1000;
};

class FakeProber final : public HealthProber {
 public:
  struct Pending {
    ProbeRequest request;
    std::function<void(ProbeResult)> done;
  };

  // HealthProber
  void probe(const ProbeRequest& request, std::function<void(ProbeResult)> done) override {
    std::lock_guard lock(mutex_);
    pending_.push_back(Pending{request, std::move(done)});
    ++probes_started;
  }

  // Answers every pending probe (of one port, or all when port is 0). Returns how many.
  int answer(bool ok, int port = 0) {
    std::vector<Pending> now;
    {
      std::lock_guard lock(mutex_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (port == 0 || it->request.port == port) {
          now.push_back(std::move(*it));
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& p : now) p.done(ProbeResult{ok, ok ? "status 200" : "status 503"});
    return static_cast<int>(now.size());
  }
  std::size_t pendingCount() {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  std::vector<ProbeRequest> pendingRequests() {
    std::lock_guard lock(mutex_);
    std::vector<ProbeRequest> out;
    for (const auto& p : pending_) out.push_back(p.request);
    return out;
  }

  int probes_started = 0;

 private:
  std::mutex mutex_;
  std::vector<Pending> pending_;
};

class FakeTraffic final : public TrafficBackend {
 public:
  explicit FakeTraffic(std::shared_ptr<Journal> journal) : journal_(std::move(journal)) {}

  // TrafficBackend
  Result<void> setTable(const TrafficTable& table) override {
    if (unavailable) return fail(ErrorCode::Unavailable, "router down (test)");
    tables.push_back(table);
    std::string entry = "table";
    for (const auto& s : table.services) {
      for (const auto& e : s.endpoints) {
        entry += fmt::format(" {}:{}{}", e.version, e.port, e.draining ? "(draining)" : "");
      }
    }
    journal_->push_back(entry);
    return {};
  }
  Result<std::vector<VersionStatistics>> statistics(std::string_view, std::string_view,
                                                    Duration) override {
    if (unavailable) return fail(ErrorCode::Unavailable, "router down (test)");
    return stats;
  }
  Result<std::int64_t> inFlight(std::string_view, std::string_view, int port) override {
    journal_->push_back(fmt::format("inFlight {}", port));
    auto it = in_flight.find(port);
    return it == in_flight.end() ? 0 : it->second;
  }

  // The endpoints of the last table for one service.
  std::vector<TrafficEndpoint> endpoints(const std::string& service) const {
    if (tables.empty()) return {};
    for (const auto& s : tables.back().services) {
      if (s.service == service) return s.endpoints;
    }
    return {};
  }

  std::vector<TrafficTable> tables;
  std::map<int, std::int64_t> in_flight;
  std::vector<VersionStatistics> stats;
  bool unavailable = false;

 private:
  std::shared_ptr<Journal> journal_;
};

}  // namespace runway::runtime::testing
