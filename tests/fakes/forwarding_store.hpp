#pragma once

// A store::Store that forwards every call to another one (leveldb's EnvWrapper, for the store):
// a test derives from it and overrides only the calls it wants to watch or break.

#include <memory>

#include "runway/store/store.hpp"

namespace runway::testing {

class ForwardingStore : public store::Store {
 public:
  explicit ForwardingStore(std::shared_ptr<store::Store> inner) : inner_(std::move(inner)) {}
  store::Store& inner() { return *inner_; }

  // store::Store
  Result<void> putRelease(const store::Release& r) override { return inner_->putRelease(r); }
  Result<store::Release> getRelease(const std::string& a, const std::string& v) override {
    return inner_->getRelease(a, v);
  }
  Result<std::vector<store::Release>> listReleases(const std::string& a) override { return inner_->listReleases(a); }
  Result<store::DeploymentRecord> createDeployment(const store::DeploymentRecord& r,
                                                   const std::vector<store::NewEvent>& e) override {
    return inner_->createDeployment(r, e);
  }
  using store::Store::updateDeployment;
  Result<store::DeploymentRecord> updateDeployment(const store::DeploymentRecord& r,
                                                   const std::vector<store::NewEvent>& e,
                                                   const std::vector<store::ApprovalRecord>& a,
                                                   const std::optional<store::ServingRecord>& s,
                                                   const std::vector<store::NewNotification>& n) override {
    return inner_->updateDeployment(r, e, a, s, n);
  }
  Result<std::optional<store::ServingRecord>> getServing(const std::string& env) override {
    return inner_->getServing(env);
  }
  Result<store::DeploymentRecord> getDeployment(const std::string& id) override { return inner_->getDeployment(id); }
  Result<std::string> putConfigSnapshot(const std::string& t) override { return inner_->putConfigSnapshot(t); }
  Result<std::string> getConfigSnapshot(const std::string& k) override { return inner_->getConfigSnapshot(k); }
  Result<std::vector<store::DeploymentRecord>> listDeployments(const store::DeploymentFilter& f) override {
    return inner_->listDeployments(f);
  }
  Result<void> addApproval(const store::ApprovalRecord& a, const std::vector<store::NewEvent>& e) override {
    return inner_->addApproval(a, e);
  }
  Result<std::vector<store::ApprovalRecord>> listApprovals(const std::string& id) override {
    return inner_->listApprovals(id);
  }
  Result<store::EventRecord> appendEvent(const store::NewEvent& e) override { return inner_->appendEvent(e); }
  Result<std::vector<store::EventRecord>> listEvents(const store::EventFilter& f) override {
    return inner_->listEvents(f);
  }
  Result<store::ChainReport> verifyChain() override { return inner_->verifyChain(); }
  Result<bool> acquireLease(const std::string& n, const std::string& h, Duration ttl, TimePoint now) override {
    return inner_->acquireLease(n, h, ttl, now);
  }
  Result<void> releaseLease(const std::string& n, const std::string& h) override { return inner_->releaseLease(n, h); }
  Result<std::optional<store::Lease>> getLease(const std::string& n) override { return inner_->getLease(n); }
  void setFence(std::optional<store::Fence> f) override { inner_->setFence(std::move(f)); }
  Result<void> createToken(const store::TokenRecord& t, const std::vector<store::NewEvent>& e) override {
    return inner_->createToken(t, e);
  }
  Result<store::TokenRecord> getToken(const std::string& id) override { return inner_->getToken(id); }
  Result<std::vector<store::TokenRecord>> listTokens() override { return inner_->listTokens(); }
  Result<void> revokeToken(const std::string& id, TimePoint at, const std::vector<store::NewEvent>& e) override {
    return inner_->revokeToken(id, at, e);
  }
  Result<void> enqueueNotifications(const std::vector<store::NewNotification>& n,
                                    const std::vector<store::NewEvent>& e) override {
    return inner_->enqueueNotifications(n, e);
  }
  Result<std::vector<store::NotificationRecord>> dueNotifications(TimePoint now, int limit) override {
    return inner_->dueNotifications(now, limit);
  }
  Result<store::NotificationRecord> recordDeliveryAttempt(const store::DeliveryAttempt& a) override {
    return inner_->recordDeliveryAttempt(a);
  }
  Result<std::vector<store::NotificationRecord>> listNotifications(
      const store::NotificationFilter& f) override {
    return inner_->listNotifications(f);
  }
  Result<std::map<std::string, std::int64_t>> countNotifications() override {
    return inner_->countNotifications();
  }

 private:
  std::shared_ptr<store::Store> inner_;
};

}  // namespace runway::testing
