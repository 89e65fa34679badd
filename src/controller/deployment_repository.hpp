#pragma once

// The deployment repository: the deployments the controller drives, in memory, and the only
// code that writes them to the store. Every write is one compare-and-swap transaction on the
// deployment's revision (store::Store::updateDeployment); the in-memory copy changes only once
// the write has succeeded, so memory never runs ahead of the store.
//
// Strand only.

#include <map>
#include <memory>
#include <optional>
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

  LiveDeployment* find(const std::string& id);
  // REQUIRES: `id` is kept.
  LiveDeployment& at(const std::string& id);
  bool contains(const std::string& id) const { return live_.count(id) != 0; }
  void erase(const std::string& id) { live_.erase(id); }
  // Lets a deployment go once nothing is left to drive (PersistedDeployment::live()).
  void evictIfIdle(const std::string& id);

  // Oldest first (ids sort by creation time).
  std::map<std::string, LiveDeployment>& all() { return live_; }
  const std::map<std::string, LiveDeployment>& all() const { return live_; }

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
};

}  // namespace runway::controller
