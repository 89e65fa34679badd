#include "deployment_repository.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "runway/engine/engine.hpp"

namespace runway::controller {

bool onlyHooksLeft(const PersistedDeployment& doc) {
  if (doc.hooks.empty()) return false;
  PersistedDeployment without = doc;
  without.hooks.clear();
  return !without.live();
}

bool trafficHeld(const PersistedDeployment& doc) {
  return std::any_of(doc.hooks.begin(), doc.hooks.end(), [](const PersistedDeployment::HookIntent& h) {
    return h.point == config::HookPoint::PreRollback;
  });
}

DeploymentRepository::DeploymentRepository(std::shared_ptr<store::Store> store)
    : store_(std::move(store)) {}

Result<void> DeploymentRepository::loadLive(
    const std::shared_ptr<const config::Config>& live_config) {
  // Every page: live deployments can be older than the newest thousand (thousands of
  // concurrent canaries, or one old deployment still watching or running its hooks).
  store::DeploymentFilter filter;
  filter.limit = 1000;
  for (;; filter.offset += filter.limit) {
    auto records = store_->listDeployments(filter);
    if (!records) return fail(records.error());
    const bool last = records->size() < static_cast<std::size_t>(filter.limit);
    for (auto& record : *records) {
      auto doc = parsePersisted(record.state_json);
      if (!doc) {
        spdlog::error("deployment {}: cannot read its stored state: {}", record.id, doc.error().message);
        continue;
      }
      if (!doc->live()) continue;
      LiveDeployment d;
      d.record = std::move(record);
      d.doc = std::move(*doc);
      restoreConfig(d, live_config);
      if (!d.snapshot_error.empty()) spdlog::error("deployment {}: {}", d.record.id, d.snapshot_error);
      const std::string id = d.record.id;
      live_.insert_or_assign(id, std::move(d));
      changed(id);
    }
    if (last) return {};
  }
}

Result<std::string> DeploymentRepository::storeSnapshot(
    const std::shared_ptr<const std::vector<config::SourceFile>>& sources) {
  if (!sources || sources->empty()) return std::string();
  if (sources == last_sources_) return last_key_;
  auto key = store_->putConfigSnapshot(sourcesToJson(*sources));
  if (!key) return fail(key.error());
  last_sources_ = sources;
  last_key_ = *key;
  by_key_[*key] = sources;
  return *key;
}

void DeploymentRepository::restoreConfig(LiveDeployment& d,
                                         const std::shared_ptr<const config::Config>& live_config) {
  auto& doc = d.doc;
  if (!doc.spec_sources && !doc.spec_key.empty()) {
    std::erase_if(by_key_, [](const auto& entry) { return entry.second.expired(); });
    if (auto it = by_key_.find(doc.spec_key); it != by_key_.end()) doc.spec_sources = it->second.lock();
    if (!doc.spec_sources) {
      auto text = store_->getConfigSnapshot(doc.spec_key);
      auto files = text ? sourcesFromJson(*text) : fail(text.error());
      if (!files) {
        // As a snapshot that no longer loads: the live configuration, good only for stopping it.
        d.snapshot_error = "its configuration snapshot " + doc.spec_key + " cannot be read: " + files.error().message;
        d.config = live_config;
        return;
      }
      doc.spec_sources = std::make_shared<const std::vector<config::SourceFile>>(std::move(*files));
      by_key_[doc.spec_key] = doc.spec_sources;
    }
  }
  d.config = snapshots_.restore(doc.spec_sources, live_config, &d.snapshot_error);
}

Result<LiveDeployment*> DeploymentRepository::create(const store::DeploymentRecord& record,
                                                     PersistedDeployment doc,
                                                     const std::vector<store::NewEvent>& events,
                                                     std::shared_ptr<const config::Config> config) {
  auto created = store_->createDeployment(record, events);
  if (!created) return fail(created.error());
  LiveDeployment d;
  d.record = std::move(*created);
  d.doc = std::move(doc);
  d.config = std::move(config);
  auto [it, inserted] = live_.insert_or_assign(record.id, std::move(d));
  (void)inserted;
  changed(record.id);
  return &it->second;
}

Result<LiveDeployment*> DeploymentRepository::load(
    const std::string& id, const std::shared_ptr<const config::Config>& live_config) {
  if (auto* d = find(id)) return d;
  auto record = store_->getDeployment(id);
  if (!record) return fail(record.error());
  auto doc = parsePersisted(record->state_json);
  if (!doc) return fail(doc.error());
  LiveDeployment d;
  d.record = std::move(*record);
  d.doc = std::move(*doc);
  restoreConfig(d, live_config);
  auto [it, inserted] = live_.emplace(id, std::move(d));
  (void)inserted;
  changed(id);
  return &it->second;
}

Result<void> DeploymentRepository::commit(const std::string& id, PersistedDeployment doc,
                                          TimePoint now, const std::vector<store::NewEvent>& events,
                                          const std::vector<store::ApprovalRecord>& approvals,
                                          const std::optional<store::ServingRecord>& serving,
                                          const std::vector<store::NewNotification>& notifications) {
  LiveDeployment& d = at(id);
  store::DeploymentRecord record = d.record;
  record.phase = !doc.queued ? std::string(engine::toString(doc.state.phase))
                 : doc.checklist && doc.checklist->status == ChecklistState::Status::Blocked ? "Blocked"
                                                                                               : "Queued";
  record.state_json = toJson(doc);
  record.updated_at = now;
  auto updated = store_->updateDeployment(record, events, approvals, serving, notifications);
  if (!updated) return fail(updated.error());
  d.record = std::move(*updated);
  d.doc = std::move(doc);
  changed(id);
  return {};
}

void DeploymentRepository::retimeRetirements(const std::string& id,
                                             std::vector<engine::RetireVersion> retirements) {
  at(id).doc.retirements = std::move(retirements);
  changed(id);
}

LiveDeployment* DeploymentRepository::find(const std::string& id) {
  auto it = live_.find(id);
  return it == live_.end() ? nullptr : &it->second;
}

LiveDeployment& DeploymentRepository::at(const std::string& id) { return live_.at(id); }

void DeploymentRepository::erase(const std::string& id) {
  if (live_.erase(id) != 0) changed(id);
}

void DeploymentRepository::evictIfIdle(const std::string& id) {
  auto it = live_.find(id);
  if (it != live_.end() && !it->second.doc.live()) erase(id);
}

const std::set<std::string>& DeploymentRepository::inEnvironment(const std::string& environment) const {
  static const std::set<std::string> kNone;
  auto it = by_environment_.find(environment);
  return it == by_environment_.end() ? kNone : it->second;
}

void DeploymentRepository::changed(const std::string& id) {
  if (auto it = indexed_.find(id); it != indexed_.end()) {
    if (auto env = by_environment_.find(it->second.environment); env != by_environment_.end()) {
      env->second.erase(id);
      if (env->second.empty()) by_environment_.erase(env);
    }
    if (auto phase = by_phase_.find(it->second.phase); phase != by_phase_.end() && --phase->second == 0) {
      by_phase_.erase(phase);
    }
    indexed_.erase(it);
  }
  if (const auto* d = find(id)) {
    Indexed entry{d->record.environment,
                  d->doc.queued ? std::string("Queued") : std::string(engine::toString(d->doc.state.phase))};
    by_environment_[entry.environment].insert(id);
    ++by_phase_[entry.phase];
    indexed_.emplace(id, std::move(entry));
  }
  if (observer_) observer_(id);
}

}  // namespace runway::controller
