#pragma once

// The deployment repository: the deployments the controller drives, in memory, and the only
// code that writes them to the store. Every write is one compare-and-swap transaction on the
// deployment's revision (store::Store::updateDeployment); the in-memory copy changes only once
// the write has succeeded, so memory never runs ahead of the store.
//
// Strand only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/controller/controller.hpp"
#include "runway/store/store.hpp"
#include "spec_snapshot.hpp"

namespace runway::controller {

struct LiveDeployment {
  store::DeploymentRecord record;
  PersistedDeployment doc;
  // The configuration the deployment was requested under (its spec snapshot); never null.
  std::shared_ptr<const config::Config> config;
  // Non-empty when the snapshot no longer loads: `config` is then the live configuration, good
  // only for stopping the deployment (Reconciler::recover() aborts it; a retry is refused).
  std::string snapshot_error;
};

// True when a deployment has ended and only its lifecycle hooks keep it live: its runtime intent
// is history and must not be executed again.
bool onlyHooksLeft(const PersistedDeployment& doc);

// True while a deployment's preRollback hooks (the down-migration) are committed and not yet
// confirmed: the traffic its intent gives back to the old version waits for them, and the
// deployment holds its environment meanwhile.
bool trafficHeld(const PersistedDeployment& doc);

class DeploymentRepository {
 public:
  explicit DeploymentRepository(std::shared_ptr<store::Store> store);

  // Loads every live deployment from the store (PersistedDeployment::live()), restoring each
  // one's spec snapshot (LiveDeployment::snapshot_error when it no longer loads). A document that cannot be read is
  // logged and skipped. Errors: the store's.
  Result<void> loadLive(const std::shared_ptr<const config::Config>& live_config);

  // Stores the configuration snapshot `sources` (store::Store::putConfigSnapshot) unless it was
  // stored already, and returns its key: once per configuration, not once per deployment.
  // Errors: the store's.
  Result<std::string> storeSnapshot(const std::shared_ptr<const std::vector<config::SourceFile>>& sources);

  // Stores a new deployment (revision 1) with `events`, and keeps it. Errors: the store's.
  Result<LiveDeployment*> create(const store::DeploymentRecord& record, PersistedDeployment doc,
                                 const std::vector<store::NewEvent>& events,
                                 std::shared_ptr<const config::Config> config);

  // A deployment by id: the one kept in memory, or read from the store and kept (evictIfIdle()
  // lets it go again). Errors: NotFound, the store's, an unreadable document.
  Result<LiveDeployment*> load(const std::string& id,
                               const std::shared_ptr<const config::Config>& live_config);

  // Writes `doc` as the next revision of deployment `id` (updated at `now`) with `events`, `approvals`,
  // `serving` and the outbox rows `notifications`, in one transaction; then replaces the in-memory copy. The record's phase is the
  // state's ("Queued" while queued, "Blocked" while its checklist blocks it). REQUIRES: `id` is kept. Errors: Conflict (someone else
  // wrote it; nothing written), the store's.
  Result<void> commit(const std::string& id, PersistedDeployment doc, TimePoint now,
                      const std::vector<store::NewEvent>& events,
                      const std::vector<store::ApprovalRecord>& approvals = {},
                      const std::optional<store::ServingRecord>& serving = std::nullopt,
                      const std::vector<store::NewNotification>& notifications = {});

  // Replaces the in-memory retirements of a kept deployment (retirements tried again later are
  // re-timed without a commit: what is committed stays due). REQUIRES: `id` is kept.
  void retimeRetirements(const std::string& id, std::vector<engine::RetireVersion> retirements);

  // A kept deployment; change it only through commit() and retimeRetirements(), which keep the
  // indexes below and tell the observer.
  LiveDeployment* find(const std::string& id);
  // REQUIRES: `id` is kept.
  LiveDeployment& at(const std::string& id);
  bool contains(const std::string& id) const { return live_.count(id) != 0; }
  void erase(const std::string& id);
  // Lets a deployment go once nothing is left to drive (PersistedDeployment::live()).
  void evictIfIdle(const std::string& id);

  // Oldest first (ids sort by creation time).
  const std::map<std::string, LiveDeployment>& all() const { return live_; }
  // The ids of the kept deployments of one environment (the same order).
  const std::set<std::string>& inEnvironment(const std::string& environment) const;
  // How many kept deployments are in each phase ("Queued" while queued): the phase gauge.
  const std::map<std::string, std::uint64_t>& countByPhase() const { return by_phase_; }

  // Called with the id after every change of a kept deployment: created, loaded, committed,
  // re-timed, let go (then find() is null). The reconciler keeps its schedules with it.
  void observe(std::function<void(const std::string& id)> observer) { observer_ = std::move(observer); }

  store::Store& store() { return *store_; }

 private:
  // A stored document's configuration: its files, read from the store by key (shared by every
  // deployment with that key) when the document names one, then loaded (SpecSnapshots).
  void restoreConfig(LiveDeployment& d, const std::shared_ptr<const config::Config>& live_config);

  std::shared_ptr<store::Store> store_;
  SpecSnapshots snapshots_;
  // Snapshots by key, shared while some deployment holds them.
  std::map<std::string, std::weak_ptr<const std::vector<config::SourceFile>>> by_key_;
  // The sources stored last and their key: admissions under one configuration store it once.
  std::shared_ptr<const std::vector<config::SourceFile>> last_sources_;
  std::string last_key_;
  std::map<std::string, LiveDeployment> live_;

  // After any change of `id` (or its removal): the indexes, then the observer.
  void changed(const std::string& id);
  struct Indexed {
    std::string environment;
    std::string phase;
  };
  std::map<std::string, Indexed> indexed_;
  std::map<std::string, std::set<std::string>> by_environment_;
  std::map<std::string, std::uint64_t> by_phase_;
  std::function<void(const std::string& id)> observer_;
};

}  // namespace runway::controller
