// The controller's small parts on their own: release bookkeeping, gates, folding actions into
// the persisted intent, the deployment repository's compare-and-swap.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "deployment_repository.hpp"
#include "due_index.hpp"
#include "gates.hpp"
#include "loop.hpp"
#include "intent.hpp"
#include "release_book.hpp"
#include "runway/store/store.hpp"
#include "support/temp_dir.hpp"
#include "test_config.hpp"

namespace runway::controller::testing {
namespace {

using engine::Phase;

TimePoint at(std::int64_t ms) { return fromUnixMillis(1'700'000'000'000 + ms); }

engine::DeploymentState stateOf(const std::string& version, const std::string& stable) {
  engine::DeploymentState s;
  s.id = "dep-" + version;
  s.environment = "production";
  s.version = version;
  s.stable_version = stable;
  return s;
}

TEST(ReleaseBookTest, PromotionAndRollbackCompletionSetWhatServes) {
  auto promoted = ReleaseBook::servingAfter(stateOf("v2", "v1"), {Phase::Promoting, Phase::Succeeded}, at(1));
  ASSERT_TRUE(promoted.has_value());
  EXPECT_EQ(promoted->version, "v2");
  EXPECT_EQ(promoted->deployment_id, "dep-v2");
  auto rolled_back = ReleaseBook::servingAfter(stateOf("v2", "v1"), {Phase::Aborting, Phase::RolledBack}, at(1));
  ASSERT_TRUE(rolled_back.has_value());
  EXPECT_EQ(rolled_back->version, "v1");
  EXPECT_FALSE(ReleaseBook::servingAfter(stateOf("v2", "v1"), {Phase::Aborting, Phase::Superseded}, at(1)));
  EXPECT_FALSE(ReleaseBook::servingAfter(stateOf("v2", "v1"), {Phase::Progressing}, at(1)));
  // A first release rolled back has nothing to give traffic back to: nothing serves (also when
  // it had succeeded before its post-deploy watch failed, so the record must be replaced).
  auto first = ReleaseBook::servingAfter(stateOf("v1", ""), {Phase::Aborting, Phase::RolledBack}, at(1));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->version, "");
}

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openSqliteStore((dir_ / "runway.db").string());
    ASSERT_TRUE(opened.has_value());
    store_ = std::move(*opened);
  }
  store::DeploymentRecord record(const std::string& id, const std::string& version, const std::string& phase,
                                 std::int64_t ms) {
    store::DeploymentRecord r;
    r.id = id;
    r.environment = "production";
    r.application = "shop";
    r.version = version;
    r.phase = phase;
    PersistedDeployment doc;
    doc.state = stateOf(version, "");
    r.state_json = toJson(doc);
    r.created_at = at(ms);
    r.updated_at = at(ms);
    return r;
  }
  test::TempDir dir_{"controller-parts"};
  std::shared_ptr<store::Store> store_;
};

// A store from before serving records: the newest Succeeded deployment stands in.
TEST_F(StoreFixture, WithoutAServingRecordTheNewestSucceededStandsIn) {
  ReleaseBook book(*store_);
  EXPECT_EQ(book.current("production")->version, "");
  ASSERT_TRUE(store_->createDeployment(record("dep-1", "v1", "Succeeded", 1), {}));
  ASSERT_TRUE(store_->createDeployment(record("dep-2", "v2", "Succeeded", 2), {}));
  ASSERT_TRUE(store_->createDeployment(record("dep-3", "v3", "RolledBack", 3), {}));
  EXPECT_EQ(book.current("production")->version, "v2");
  EXPECT_EQ(*book.successfulReleases("production"), (std::vector<std::string>{"v2", "v1"}));
  // Once a commit wrote what serves, that is the answer.
  auto dep1 = *store_->getDeployment("dep-1");
  ASSERT_TRUE(store_->updateDeployment(dep1, {}, {}, store::ServingRecord{"production", "v1", "dep-1", "green", at(4)}));
  EXPECT_EQ(book.current("production")->version, "v1");
  EXPECT_EQ(book.current("production")->colour, engine::Colour::Green);
}

// A commit that loses the compare-and-swap changes neither the store nor the copy in memory.
TEST_F(StoreFixture, AStaleCommitChangesNothing) {
  DeploymentRepository repo(store_);
  auto cfg = loadTestConfig();
  PersistedDeployment doc;
  doc.state = stateOf("v1", "");
  doc.queued = true;
  auto created = repo.create(record("dep-1", "v1", "Queued", 1), doc, {}, cfg);
  ASSERT_TRUE(created.has_value());
  // Someone else writes the deployment behind the repository's back.
  auto behind = *store_->getDeployment("dep-1");
  ASSERT_TRUE(store_->updateDeployment(behind, {}));
  PersistedDeployment next = doc;
  next.queued = false;
  next.state.phase = Phase::Progressing;
  auto r = repo.commit("dep-1", next, at(2), {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  EXPECT_TRUE(repo.at("dep-1").doc.queued);
  EXPECT_EQ(store_->getDeployment("dep-1")->phase, "Queued");
}

// A deployment read back from the store gets the configuration it was requested under: from
// the files in its document (as written before snapshots were stored by key)...
TEST_F(StoreFixture, ALoadedDeploymentGetsItsSpecSnapshot) {
  auto requested_under = loadTestConfig();
  ConfigKnobs changed;
  changed.web = "web-v2";
  auto live = loadTestConfig(changed);
  PersistedDeployment doc;
  doc.state = stateOf("v1", "");
  doc.spec_sources = std::make_shared<const std::vector<config::SourceFile>>(requested_under->sources);
  auto rec = record("dep-1", "v1", "Progressing", 1);
  rec.state_json = toJson(doc);
  ASSERT_TRUE(store_->createDeployment(rec, {}));
  DeploymentRepository repo(store_);
  ASSERT_TRUE(repo.loadLive(live));
  const auto* d = repo.find("dep-1");
  ASSERT_NE(d, nullptr);
  const auto* app = d->config->applicationFor(*d->config->findEnvironment("canary"));
  EXPECT_EQ(app->services.front().local->command.front(), "web-v1");
}

// ... or from the store by its key: the document holds the key, not the configuration, and
// deployments requested under one configuration share one stored copy and one in memory.
TEST_F(StoreFixture, ASnapshotIsStoredOnceByKeyAndRestoredFromIt) {
  auto requested_under = loadTestConfig();
  ConfigKnobs changed;
  changed.web = "web-v2";
  auto live = loadTestConfig(changed);
  auto sources = std::make_shared<const std::vector<config::SourceFile>>(requested_under->sources);
  DeploymentRepository writer(store_);
  auto key = writer.storeSnapshot(sources);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(*writer.storeSnapshot(sources), *key);
  for (const char* id : {"dep-1", "dep-2"}) {
    PersistedDeployment doc;
    doc.state = stateOf("v1", "");
    doc.spec_sources = sources;
    doc.spec_key = *key;
    auto rec = record(id, "v1", "Progressing", 1);
    rec.state_json = toJson(doc);
    EXPECT_EQ(rec.state_json.find("web-v1"), std::string::npos);  // the key, not the files
    ASSERT_TRUE(store_->createDeployment(rec, {}));
  }
  DeploymentRepository repo(store_);
  ASSERT_TRUE(repo.loadLive(live));
  const auto* d1 = repo.find("dep-1");
  const auto* d2 = repo.find("dep-2");
  ASSERT_NE(d1, nullptr);
  ASSERT_NE(d2, nullptr);
  EXPECT_TRUE(d1->snapshot_error.empty()) << d1->snapshot_error;
  const auto* app = d1->config->applicationFor(*d1->config->findEnvironment("canary"));
  EXPECT_EQ(app->services.front().local->command.front(), "web-v1");
  EXPECT_EQ(d1->doc.spec_sources, d2->doc.spec_sources);  // one copy
  EXPECT_EQ(d1->config, d2->config);
}

// A key the store does not have is a snapshot that cannot be restored: the deployment gets the
// live configuration only to be stopped (LiveDeployment::snapshot_error), never to go on.
TEST_F(StoreFixture, ASnapshotKeyTheStoreLacksIsASnapshotError) {
  PersistedDeployment doc;
  doc.state = stateOf("v1", "");
  doc.spec_key = std::string(64, 'a');
  auto rec = record("dep-1", "v1", "Progressing", 1);
  rec.state_json = toJson(doc);
  ASSERT_TRUE(store_->createDeployment(rec, {}));
  DeploymentRepository repo(store_);
  ASSERT_TRUE(repo.loadLive(loadTestConfig()));
  const auto* d = repo.find("dep-1");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->snapshot_error.find("cannot be read"), std::string::npos) << d->snapshot_error;
}

// A restart (or a new leader) drives every live deployment, not only those among the newest
// thousand: here the one live deployment is older than 1,001 that ended.
TEST_F(StoreFixture, ALiveDeploymentOlderThanTheNewestThousandIsLoaded) {
  auto make = [&](const std::string& id, Phase phase, std::int64_t ms) {
    auto r = record(id, "v1", std::string(engine::toString(phase)), ms);
    PersistedDeployment doc;
    doc.state = stateOf("v1", "");
    doc.state.phase = phase;
    r.state_json = toJson(doc);
    return store_->createDeployment(r, {}).has_value();
  };
  ASSERT_TRUE(make("dep-0000-live", Phase::Progressing, 1));
  for (int i = 1; i <= 1001; ++i) ASSERT_TRUE(make(fmt::format("dep-{:04d}", i), Phase::Succeeded, 1 + i));
  DeploymentRepository repo(store_);
  ASSERT_TRUE(repo.loadLive(loadTestConfig()));
  EXPECT_NE(repo.find("dep-0000-live"), nullptr);
  EXPECT_EQ(repo.all().size(), 1u);
}

TEST(DueIndexTest, KeysComeDueInTimeOrderAndMoveWhenSetAgain) {
  DueIndex<std::string> index;
  EXPECT_FALSE(index.earliest().has_value());
  index.set("b", at(200));
  index.set("a", at(100));
  index.set("c", at(300));
  EXPECT_EQ(index.earliest(), at(100));
  EXPECT_EQ(index.due(at(99)), std::vector<std::string>{});
  EXPECT_EQ(index.due(at(200)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(index.due(at(300), 1), std::vector<std::string>{"a"});
  index.set("a", at(400));  // moved, not added
  EXPECT_EQ(index.due(at(300)), (std::vector<std::string>{"b", "c"}));
  index.erase("b");
  index.set("c", std::nullopt);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.earliest(), at(400));
}

TEST_F(StoreFixture, TheRepositoryIndexesItsDeploymentsByEnvironmentAndPhase) {
  DeploymentRepository repo(store_);
  auto cfg = loadTestConfig();
  std::vector<std::string> seen;
  repo.observe([&seen](const std::string& id) { seen.push_back(id); });
  const auto make = [&](const std::string& id, const std::string& environment, bool queued, std::int64_t ms) {
    auto r = record(id, "v1", "Queued", ms);
    r.environment = environment;
    PersistedDeployment doc;
    doc.state = stateOf("v1", "");
    doc.state.id = id;
    doc.state.environment = environment;
    doc.state.phase = Phase::Progressing;
    doc.queued = queued;
    EXPECT_TRUE(repo.create(r, doc, {}, cfg).has_value());
  };
  make("dep-1", "canary", false, 1);
  make("dep-2", "canary", true, 2);
  make("dep-3", "rolling", false, 3);
  EXPECT_EQ(repo.inEnvironment("canary"), (std::set<std::string>{"dep-1", "dep-2"}));
  EXPECT_EQ(repo.inEnvironment("rolling"), (std::set<std::string>{"dep-3"}));
  EXPECT_TRUE(repo.inEnvironment("nowhere").empty());
  EXPECT_EQ(repo.countByPhase(), (std::map<std::string, std::uint64_t>{{"Progressing", 2}, {"Queued", 1}}));
  PersistedDeployment done = repo.at("dep-1").doc;
  done.state.phase = Phase::Succeeded;
  ASSERT_TRUE(repo.commit("dep-1", done, at(10), {}).has_value());
  EXPECT_EQ(repo.countByPhase(),
            (std::map<std::string, std::uint64_t>{{"Progressing", 1}, {"Queued", 1}, {"Succeeded", 1}}));
  repo.erase("dep-1");
  repo.erase("dep-3");
  EXPECT_EQ(repo.inEnvironment("canary"), std::set<std::string>{"dep-2"});
  EXPECT_TRUE(repo.inEnvironment("rolling").empty());
  EXPECT_EQ(repo.countByPhase(), (std::map<std::string, std::uint64_t>{{"Queued", 1}}));
  EXPECT_EQ(seen, (std::vector<std::string>{"dep-1", "dep-2", "dep-3", "dep-1", "dep-1", "dep-3"}));
}

// A request (call()) runs before the tasks queued ahead of it: it waits for the task in
// progress, not for the queue.
TEST(LoopTest, ARequestRunsBeforeTheTasksQueuedAheadOfIt) {
  Loop loop(1, std::chrono::milliseconds(20));
  std::mutex mu;
  std::vector<std::string> order;
  const auto note = [&](const std::string& what) {
    std::lock_guard lock(mu);
    order.push_back(what);
  };
  std::promise<void> started;
  std::promise<void> release;
  auto released = release.get_future().share();
  loop.run([](bool) { return false; });
  loop.post([&] {
    started.set_value();
    released.wait();
    note("first");
  });
  started.get_future().wait();
  for (int i = 0; i < 100; ++i) loop.post([&, i] { note(fmt::format("task {}", i)); });
  std::thread caller([&] {
    const int answer = loop.call<int>([&] {
      note("request");
      return 7;
    }, [] { return -1; });
    EXPECT_EQ(answer, 7);
  });
  // Released once the request waits behind the 100 tasks (polled, with a deadline).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (loop.waitingRequests() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  const std::size_t waiting = loop.waitingRequests();
  release.set_value();
  caller.join();
  loop.stop();
  EXPECT_EQ(waiting, 1u);
  std::lock_guard lock(mu);
  ASSERT_EQ(order.size(), 102u);
  EXPECT_EQ(order[0], "first");
  EXPECT_EQ(order[1], "request");
  EXPECT_EQ(order[2], "task 0");
}

TEST(GatesTest, ABusyEnvironmentQueuesRejectsOrSupersedesByPolicy) {
  LiveDeployment active;
  active.record.id = "dep-1";
  active.record.version = "v1";
  active.doc.state.phase = Phase::Progressing;
  EXPECT_EQ(*admitTo("production", nullptr, false, config::ConcurrencyPolicy::Reject), engine::Admission::StartNow);
  auto rejected = admitTo("production", &active, false, config::ConcurrencyPolicy::Reject);
  ASSERT_FALSE(rejected.has_value());
  EXPECT_EQ(rejected.error().code, ErrorCode::Conflict);
  EXPECT_NE(rejected.error().message.find("dep-1"), std::string::npos);
  EXPECT_EQ(*admitTo("production", &active, false, config::ConcurrencyPolicy::Queue), engine::Admission::Queue);
  EXPECT_EQ(*admitTo("production", &active, false, config::ConcurrencyPolicy::Supersede), engine::Admission::Supersede);
  // A rollback always takes precedence.
  EXPECT_EQ(*admitTo("production", &active, true, config::ConcurrencyPolicy::Reject), engine::Admission::Supersede);
}

TEST(GatesTest, ARetryWaitsForTheEnvironment) {
  LiveDeployment retried;
  retried.record.id = "dep-1";
  LiveDeployment other;
  other.record.id = "dep-2";
  EXPECT_FALSE(retryBlocked(retried, nullptr));
  EXPECT_FALSE(retryBlocked(retried, &retried));
  auto blocked = retryBlocked(retried, &other);
  ASSERT_TRUE(blocked.has_value());
  EXPECT_EQ(blocked->code, ErrorCode::Conflict);
}

TEST(GatesTest, AnApprovalCountsForARoleTheActorHolds) {
  auto spec = std::make_shared<engine::DeploymentSpec>();
  spec->approval_roles = {"tech-lead", "product-manager"};
  engine::DeploymentState s;
  s.spec.ptr = spec;
  s.approval_gate = engine::kStartGate;
  ApprovalRequest request;
  request.actor = Actor{"bob", {"product-manager"}};
  EXPECT_EQ(*approvalRole(s, "dep-1", request), "product-manager");
  request.role = "tech-lead";
  EXPECT_EQ(approvalRole(s, "dep-1", request).error().code, ErrorCode::PermissionDenied);
  request.role.clear();
  request.actor.roles = {"viewer"};
  EXPECT_EQ(approvalRole(s, "dep-1", request).error().code, ErrorCode::PermissionDenied);
}

TEST(IntentTest, StartingAVersionAgainCancelsItsRetirement) {
  PersistedDeployment doc;
  std::vector<store::NewEvent> events;
  foldAction(doc, engine::RetireVersion{"web", "v1", at(10)}, "dep-1", events);
  ASSERT_EQ(doc.retirements.size(), 1u);
  engine::StartVersion start;
  start.service = "web";
  start.version = "v1";
  start.instances = 2;
  foldAction(doc, start, "dep-1", events);
  EXPECT_TRUE(doc.retirements.empty());
  ASSERT_EQ(doc.starts.size(), 1u);
  foldAction(doc, engine::RetireVersion{"web", "v1", at(20)}, "dep-1", events);
  EXPECT_TRUE(doc.starts.empty());
  EXPECT_TRUE(events.empty());
}

TEST(IntentTest, ASwitchIsASplitWithAllTrafficOnOneVersion) {
  PersistedDeployment doc;
  std::vector<store::NewEvent> events;
  engine::SetTraffic half;
  half.service = "web";
  half.weights = {{"v1", 50}, {"v2", 50}};
  foldAction(doc, half, "dep-1", events);
  foldAction(doc, engine::SwitchColour{"web", engine::Colour::Green, "v2"}, "dep-1", events);
  ASSERT_EQ(doc.traffic.size(), 1u);
  ASSERT_EQ(doc.traffic[0].weights.size(), 1u);
  EXPECT_EQ(doc.traffic[0].weights[0].version, "v2");
  EXPECT_EQ(doc.traffic[0].weights[0].weight, 100);
}

}  // namespace
}  // namespace runway::controller::testing
