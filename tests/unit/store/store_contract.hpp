#pragma once

// The Store contract: every Store implementation must pass these tests unchanged.
// Instantiate it once per implementation with a factory that opens a fresh, empty store whose
// files (if any) live in the given directory:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Values(StoreFactory{
//       "Sqlite", [](const std::string& dir) { ... return a std::unique_ptr<Store>; }}),
//       storeFactoryName);
//
// Include this header in exactly one .cpp of a test executable (it defines the tests).

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::store::testing {

struct StoreFactory {
  std::string name;  // used in the test names
  // Opens a new, empty store keeping its files in `dir`; nullptr when it cannot.
  std::function<std::unique_ptr<Store>(const std::string& dir)> open;
};

// Prints the factory by name in test failure messages.
inline void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

// Names the instantiated tests after the factory (StoreContract/Sqlite.ReleasePutThenGet/...).
inline std::string storeFactoryName(const ::testing::TestParamInfo<StoreFactory>& param_info) {
  return param_info.param.name;
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/runway-store-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    const char* made = ::mkdtemp(buffer.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Lowercase hex SHA-256, computed independently of the store module.
inline std::string testSha256Hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

inline const std::string kZeroHash(64, '0');

inline TimePoint at(std::int64_t ms) { return fromUnixMillis(1'700'000'000'000 + ms); }

inline NewEvent event(std::string kind, std::string subject = "", std::int64_t ms = 0,
                      std::string data_json = "{}") {
  return NewEvent{at(ms), "alice", std::move(kind), std::move(subject), "test", std::move(data_json)};
}

inline DeploymentRecord deployment(std::string id, std::string environment = "staging",
                                   std::string version = "v1.0.0", std::int64_t ms = 0) {
  DeploymentRecord record;
  record.id = std::move(id);
  record.environment = std::move(environment);
  record.application = "shop";
  record.version = std::move(version);
  record.phase = "Pending";
  record.state_json = R"({"step":0})";
  record.created_at = at(ms);
  record.updated_at = at(ms);
  return record;
}

inline TokenRecord token(std::string id, std::string name = "alice", std::int64_t ms = 0,
                         std::vector<std::string> roles = {"deployer", "tech-lead"}) {
  TokenRecord record;
  record.id = std::move(id);
  record.name = std::move(name);
  record.roles = std::move(roles);
  record.salt = "00112233445566778899aabbccddeeff";
  record.hash = testSha256Hex(record.id);
  record.created_by = "bootstrap";
  record.created_at = at(ms);
  return record;
}

class StoreContract : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().open(dir_.path());
    ASSERT_NE(store_, nullptr) << "factory " << GetParam().name << " could not open a store";
  }

  std::int64_t eventCount() {
    auto events = store_->listEvents(EventFilter{0, "", 100000});
    EXPECT_TRUE(events.has_value());
    return events ? static_cast<std::int64_t>(events->size()) : -1;
  }

  std::vector<std::string> ids(const DeploymentFilter& filter) {
    auto records = store_->listDeployments(filter);
    EXPECT_TRUE(records.has_value()) << (records ? "" : records.error().message);
    std::vector<std::string> out;
    if (records) {
      for (const auto& r : *records) out.push_back(r.id);
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

// ---- canonical form -----------------------------------------------------------------------

// Pins the byte form every implementation hashes; the hash was computed with Python's hashlib.
TEST(CanonicalEvent, IsACompactJsonArrayOfTheFields) {
  NewEvent e{fromUnixMillis(1'700'000'000'123), "alice", "deployment.created", "dep-1",
             "because \"x\"\n", R"({"a":1})"};
  const std::string canonical = canonicalEvent(7, e);
  EXPECT_EQ(canonical,
            R"([7,1700000000123,"alice","deployment.created","dep-1","because \"x\"\n","{\"a\":1}"])");
  EXPECT_EQ(testSha256Hex(kZeroHash + canonical),
            "bef834f523cd27cb044993fa3bada496efd3a9fed79d198ff044b5c2f9a49922");
}

TEST(CanonicalEvent, FieldBoundariesAreUnambiguous) {
  NewEvent a{at(0), "ab", "c", "", "", "{}"};
  NewEvent b{at(0), "a", "bc", "", "", "{}"};
  EXPECT_NE(canonicalEvent(1, a), canonicalEvent(1, b));
  EXPECT_NE(canonicalEvent(1, a), canonicalEvent(2, a));
}

// ---- releases ---------------------------------------------------------------------------------

TEST_P(StoreContract, ReleasePutThenGet) {
  Release release{"shop", "v1.2.3", {{"api", "registry/api:v1.2.3"}, {"web", "/srv/web"}}, at(5)};
  ASSERT_TRUE(store_->putRelease(release).has_value());
  auto got = store_->getRelease("shop", "v1.2.3");
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->application, "shop");
  EXPECT_EQ(got->version, "v1.2.3");
  EXPECT_EQ(got->artifacts, release.artifacts);
  EXPECT_EQ(got->created_at, at(5));
}

TEST_P(StoreContract, ReleasePutIdenticalIsIdempotent) {
  Release release{"shop", "v1", {{"api", "api:v1"}}, at(0)};
  ASSERT_TRUE(store_->putRelease(release).has_value());
  ASSERT_TRUE(store_->putRelease(release).has_value());
  auto all = store_->listReleases("shop");
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 1u);
}

TEST_P(StoreContract, ReleaseWithDifferentArtifactsConflictsAndKeepsTheOriginal) {
  ASSERT_TRUE(store_->putRelease(Release{"shop", "v1", {{"api", "api:v1"}}, at(0)}).has_value());
  auto again = store_->putRelease(Release{"shop", "v1", {{"api", "api:other"}}, at(1)});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_THAT(again.error().message, ::testing::HasSubstr("shop@v1"));
  EXPECT_EQ(store_->getRelease("shop", "v1")->artifacts.at("api"), "api:v1");
}

TEST_P(StoreContract, ReleaseUnknownIsNotFound) {
  auto got = store_->getRelease("shop", "v9");
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, ErrorCode::NotFound);
}

TEST_P(StoreContract, ReleaseWithoutVersionIsInvalid) {
  auto put = store_->putRelease(Release{"shop", "", {}, at(0)});
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, ErrorCode::InvalidArgument);
}

TEST_P(StoreContract, AConfigSnapshotIsStoredOncePerContentUnderItsSha256) {
  const std::string text = R"([{"name":"a.yaml","text":"x"}])";
  auto k1 = store_->putConfigSnapshot(text);
  ASSERT_TRUE(k1) << k1.error().message;
  EXPECT_EQ(k1->size(), 64u);
  EXPECT_EQ(*store_->putConfigSnapshot(text), *k1);  // again: the same key, nothing new
  auto k2 = store_->putConfigSnapshot("second");
  ASSERT_TRUE(k2);
  EXPECT_NE(*k2, *k1);
  EXPECT_EQ(*store_->getConfigSnapshot(*k1), text);
  EXPECT_EQ(*store_->getConfigSnapshot(*k2), "second");
  EXPECT_EQ(store_->putConfigSnapshot("").error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(store_->getConfigSnapshot(std::string(64, '0')).error().code, ErrorCode::NotFound);
}

TEST_P(StoreContract, ReleasesListNewestFirstPerApplication) {
  ASSERT_TRUE(store_->putRelease(Release{"shop", "v1", {}, at(10)}).has_value());
  ASSERT_TRUE(store_->putRelease(Release{"shop", "v3", {}, at(30)}).has_value());
  ASSERT_TRUE(store_->putRelease(Release{"shop", "v2", {}, at(20)}).has_value());
  ASSERT_TRUE(store_->putRelease(Release{"blog", "v7", {}, at(40)}).has_value());
  auto all = store_->listReleases("shop");
  ASSERT_TRUE(all.has_value());
  std::vector<std::string> versions;
  for (const auto& r : *all) versions.push_back(r.version);
  EXPECT_THAT(versions, ::testing::ElementsAre("v3", "v2", "v1"));
  EXPECT_TRUE(store_->listReleases("nothing")->empty());
}

// ---- deployments ------------------------------------------------------------------------------

TEST_P(StoreContract, DeploymentCreateThenGetHasRevisionOneAndItsEvents) {
  DeploymentRecord input = deployment("dep-1");
  input.revision = 42;  // ignored: a new deployment starts at 1
  auto created = store_->createDeployment(
      input, {event("deployment.created", "dep-1"), event("step.started", "dep-1")});
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_EQ(created->revision, 1);

  auto got = store_->getDeployment("dep-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->environment, "staging");
  EXPECT_EQ(got->application, "shop");
  EXPECT_EQ(got->version, "v1.0.0");
  EXPECT_EQ(got->phase, "Pending");
  EXPECT_EQ(got->state_json, R"({"step":0})");
  EXPECT_EQ(got->revision, 1);
  EXPECT_EQ(got->created_at, at(0));

  auto events = store_->listEvents(EventFilter{0, "dep-1", 10});
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kind, "deployment.created");
  EXPECT_EQ((*events)[1].kind, "step.started");
}

TEST_P(StoreContract, DeploymentDuplicateIdConflictsAndWritesNothing) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("a")}).has_value());
  auto again = store_->createDeployment(deployment("dep-1", "production"), {event("b")});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_EQ(store_->getDeployment("dep-1")->environment, "staging");
  EXPECT_EQ(eventCount(), 1);
}

TEST_P(StoreContract, DeploymentUnknownIsNotFound) {
  auto got = store_->getDeployment("dep-x");
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, ErrorCode::NotFound);
  EXPECT_THAT(got.error().message, ::testing::HasSubstr("dep-x"));
}

TEST_P(StoreContract, DeploymentInvalidInputIsRejected) {
  auto no_id = store_->createDeployment(deployment(""), {});
  ASSERT_FALSE(no_id.has_value());
  EXPECT_EQ(no_id.error().code, ErrorCode::InvalidArgument);
  DeploymentRecord bad = deployment("dep-1");
  bad.state_json = "{not json";
  auto bad_state = store_->createDeployment(bad, {});
  ASSERT_FALSE(bad_state.has_value());
  EXPECT_EQ(bad_state.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(store_->getDeployment("dep-1").error().code, ErrorCode::NotFound);
}

TEST_P(StoreContract, DeploymentCreateWithAnInvalidEventWritesNothing) {
  // The second event fails after the deployment row and the first event were written.
  auto created = store_->createDeployment(
      deployment("dep-1"), {event("deployment.created", "dep-1"),
                            event("step.started", "dep-1", 0, "{broken")});
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(store_->getDeployment("dep-1").error().code, ErrorCode::NotFound);
  EXPECT_EQ(eventCount(), 0);
  // The log still works and starts at seq 1.
  auto next = store_->appendEvent(event("after"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->seq, 1);
}

TEST_P(StoreContract, DeploymentsListNewestFirstWithFilters) {
  ASSERT_TRUE(store_->createDeployment(deployment("d1", "staging", "v1", 10), {}).has_value());
  ASSERT_TRUE(store_->createDeployment(deployment("d2", "production", "v1", 20), {}).has_value());
  ASSERT_TRUE(store_->createDeployment(deployment("d3", "staging", "v2", 30), {}).has_value());
  DeploymentRecord d4 = deployment("d4", "production", "v2", 40);
  d4.phase = "Succeeded";
  ASSERT_TRUE(store_->createDeployment(d4, {}).has_value());

  EXPECT_THAT(ids({}), ::testing::ElementsAre("d4", "d3", "d2", "d1"));
  EXPECT_THAT(ids({"staging", "", "", 100}), ::testing::ElementsAre("d3", "d1"));
  EXPECT_THAT(ids({"", "Succeeded", "", 100}), ::testing::ElementsAre("d4"));
  EXPECT_THAT(ids({"", "", "v1", 100}), ::testing::ElementsAre("d2", "d1"));
  EXPECT_THAT(ids({"production", "Pending", "v1", 100}), ::testing::ElementsAre("d2"));
  EXPECT_THAT(ids({"", "", "", 2}), ::testing::ElementsAre("d4", "d3"));
  EXPECT_THAT(ids({"", "", "", 2, 2}), ::testing::ElementsAre("d2", "d1"));  // the next page
  EXPECT_THAT(ids({"", "", "", 2, 3}), ::testing::ElementsAre("d1"));
  EXPECT_TRUE(ids({"", "", "", 2, 4}).empty());
  EXPECT_TRUE(ids({"development", "", "", 100}).empty());

  auto bad = store_->listDeployments({"", "", "", 0});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(store_->listDeployments({"", "", "", 10, -1}).error().code, ErrorCode::InvalidArgument);
}

TEST_P(StoreContract, DeploymentUpdateWithCurrentRevisionBumpsIt) {
  auto created = store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")});
  ASSERT_TRUE(created.has_value());
  DeploymentRecord change = *created;
  change.phase = "Progressing";
  change.state_json = R"({"step":1})";
  change.updated_at = at(100);
  auto updated = store_->updateDeployment(change, {event("step.started", "dep-1", 100)});
  ASSERT_TRUE(updated.has_value()) << updated.error().message;
  EXPECT_EQ(updated->revision, 2);

  auto got = store_->getDeployment("dep-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->revision, 2);
  EXPECT_EQ(got->phase, "Progressing");
  EXPECT_EQ(got->state_json, R"({"step":1})");
  EXPECT_EQ(got->updated_at, at(100));
  EXPECT_EQ(got->created_at, at(0));
  EXPECT_EQ(eventCount(), 2);

  change = *got;
  change.phase = "Paused";
  auto third = store_->updateDeployment(change, {});
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->revision, 3);
}

TEST_P(StoreContract, DeploymentUpdateWithStaleRevisionConflictsAndWritesNothing) {
  auto created = store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")});
  ASSERT_TRUE(created.has_value());
  DeploymentRecord first = *created;
  DeploymentRecord second = *created;  // a concurrent writer read the same revision
  first.phase = "Progressing";
  ASSERT_TRUE(store_->updateDeployment(first, {event("first", "dep-1")}).has_value());

  second.phase = "Aborting";
  second.state_json = R"({"stale":true})";
  auto stale = store_->updateDeployment(second, {event("second", "dep-1")});
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::Conflict);
  EXPECT_THAT(stale.error().message, ::testing::HasSubstr("dep-1"));

  auto got = store_->getDeployment("dep-1");
  EXPECT_EQ(got->phase, "Progressing");
  EXPECT_EQ(got->revision, 2);
  EXPECT_EQ(got->state_json, R"({"step":0})");
  EXPECT_EQ(eventCount(), 2);  // "created" and "first"; not "second"
}

TEST_P(StoreContract, DeploymentUpdateWithAnInvalidEventWritesNothing) {
  auto created = store_->createDeployment(deployment("dep-1"), {});
  ASSERT_TRUE(created.has_value());
  DeploymentRecord change = *created;
  change.phase = "Progressing";
  auto updated = store_->updateDeployment(change, {event("ok"), event("bad", "", 0, "[")});
  ASSERT_FALSE(updated.has_value());
  EXPECT_EQ(updated.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(store_->getDeployment("dep-1")->revision, 1);
  EXPECT_EQ(store_->getDeployment("dep-1")->phase, "Pending");
  EXPECT_EQ(eventCount(), 0);
}

TEST_P(StoreContract, DeploymentUpdateUnknownIsNotFound) {
  DeploymentRecord ghost = deployment("dep-ghost");
  ghost.revision = 1;
  auto updated = store_->updateDeployment(ghost, {event("x")});
  ASSERT_FALSE(updated.has_value());
  EXPECT_EQ(updated.error().code, ErrorCode::NotFound);
  EXPECT_EQ(eventCount(), 0);
}

// ---- serving ----------------------------------------------------------------------------------

// Issue 14 lead 8: what an environment serves is written with the commit that made it serve.
TEST_P(StoreContract, ServingIsWrittenWithTheDeploymentCommitOrNotAtAll) {
  EXPECT_FALSE(store_->getServing("production")->has_value());
  auto created = store_->createDeployment(deployment("dep-1"), {});
  ASSERT_TRUE(created.has_value());
  DeploymentRecord change = *created;
  change.phase = "Succeeded";
  ServingRecord serving{created->environment, "v2", "dep-1", "green", at(10)};
  auto updated = store_->updateDeployment(change, {event("promoted", "dep-1")}, {}, serving);
  ASSERT_TRUE(updated.has_value()) << updated.error().message;
  auto got = store_->getServing(created->environment);
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_EQ((*got)->version, "v2");
  EXPECT_EQ((*got)->deployment_id, "dep-1");
  EXPECT_EQ((*got)->colour, "green");

  // A stale revision does not move it; a later commit replaces it.
  ServingRecord older{created->environment, "v1", "dep-1", "", at(20)};
  auto stale = store_->updateDeployment(change, {}, {}, older);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ((*store_->getServing(created->environment))->version, "v2");
  ASSERT_TRUE(store_->updateDeployment(*updated, {}, {}, older).has_value());
  EXPECT_EQ((*store_->getServing(created->environment))->version, "v1");

  // Another environment's record cannot ride on this deployment's commit.
  ServingRecord elsewhere{"elsewhere", "v9", "dep-1", "", at(30)};
  auto wrong = store_->updateDeployment(*store_->getDeployment("dep-1"), {}, {}, elsewhere);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(store_->getServing("elsewhere")->has_value());
}

// ---- approvals --------------------------------------------------------------------------------

// Lead 10: a decision and the state it produced are one transaction.
TEST_P(StoreContract, ApprovalsCommitWithTheStateOrNotAtAll) {
  auto created = store_->createDeployment(deployment("dep-1"), {});
  ASSERT_TRUE(created.has_value());
  DeploymentRecord change = *created;
  change.phase = "PreFlight";
  ApprovalRecord lead{"dep-1", "bob", "tech-lead", true, "ok", at(10)};
  auto updated = store_->updateDeployment(change, {event("approval.granted", "dep-1")}, {lead});
  ASSERT_TRUE(updated.has_value()) << updated.error().message;
  auto approvals = store_->listApprovals("dep-1");
  ASSERT_TRUE(approvals.has_value());
  ASSERT_EQ(approvals->size(), 1u);
  EXPECT_EQ((*approvals)[0].actor, "bob");

  // A stale revision writes neither the state nor the approval.
  ApprovalRecord pm{"dep-1", "carol", "product-manager", true, "", at(20)};
  auto stale = store_->updateDeployment(change, {}, {pm});
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::Conflict);
  EXPECT_EQ(store_->listApprovals("dep-1")->size(), 1u);

  // A second decision by the same person for the same role writes neither either.
  DeploymentRecord next = *updated;
  next.phase = "Progressing";
  auto twice = store_->updateDeployment(next, {event("approval.granted", "dep-1")}, {lead});
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, ErrorCode::Conflict);
  EXPECT_EQ(store_->getDeployment("dep-1")->phase, "PreFlight");
  EXPECT_EQ(store_->getDeployment("dep-1")->revision, 2);
  EXPECT_EQ(store_->listApprovals("dep-1")->size(), 1u);
  EXPECT_EQ(eventCount(), 1);
}

TEST_P(StoreContract, ApprovalsAreAddedAndListedInOrder) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {}).has_value());
  ApprovalRecord lead{"dep-1", "bob", "tech-lead", true, "looks good", at(10)};
  ApprovalRecord pm{"dep-1", "carol", "product-manager", false, "not this week", at(20)};
  ASSERT_TRUE(store_->addApproval(lead, {event("approval.granted", "dep-1")}).has_value());
  ASSERT_TRUE(store_->addApproval(pm, {event("approval.rejected", "dep-1")}).has_value());

  auto approvals = store_->listApprovals("dep-1");
  ASSERT_TRUE(approvals.has_value());
  ASSERT_EQ(approvals->size(), 2u);
  EXPECT_EQ((*approvals)[0].actor, "bob");
  EXPECT_EQ((*approvals)[0].role, "tech-lead");
  EXPECT_TRUE((*approvals)[0].approved);
  EXPECT_EQ((*approvals)[0].comment, "looks good");
  EXPECT_EQ((*approvals)[0].at, at(10));
  EXPECT_EQ((*approvals)[1].actor, "carol");
  EXPECT_FALSE((*approvals)[1].approved);
  EXPECT_EQ(eventCount(), 2);
}

TEST_P(StoreContract, ApprovalDuplicateConflictsAndWritesNothing) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {}).has_value());
  ApprovalRecord approval{"dep-1", "bob", "tech-lead", true, "", at(10)};
  ASSERT_TRUE(store_->addApproval(approval, {event("approval.granted")}).has_value());
  approval.approved = false;
  auto again = store_->addApproval(approval, {event("approval.rejected")});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_THAT(again.error().message, ::testing::HasSubstr("bob"));
  EXPECT_EQ(eventCount(), 1);
  // The same person in another role is a different decision.
  approval.role = "product-manager";
  EXPECT_TRUE(store_->addApproval(approval, {}).has_value());
  EXPECT_EQ(store_->listApprovals("dep-1")->size(), 2u);
}

TEST_P(StoreContract, ApprovalForUnknownDeploymentIsNotFound) {
  auto added = store_->addApproval({"dep-x", "bob", "tech-lead", true, "", at(0)}, {event("x")});
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::NotFound);
  EXPECT_EQ(eventCount(), 0);
  auto listed = store_->listApprovals("dep-x");
  ASSERT_FALSE(listed.has_value());
  EXPECT_EQ(listed.error().code, ErrorCode::NotFound);
}

// ---- events -----------------------------------------------------------------------------------

TEST_P(StoreContract, EventsGetSequentialSeqAndLinkedHashes) {
  std::vector<EventRecord> appended;
  for (int i = 0; i < 3; ++i) {
    NewEvent e = event("kind." + std::to_string(i), "dep-1", i, R"({"i":)" + std::to_string(i) + "}");
    auto record = store_->appendEvent(e);
    ASSERT_TRUE(record.has_value()) << record.error().message;
    EXPECT_EQ(record->seq, i + 1);
    // The hash formula is part of the contract: SHA-256(prev_hash || canonicalEvent).
    EXPECT_EQ(record->hash, testSha256Hex(record->prev_hash + canonicalEvent(record->seq, e)));
    appended.push_back(*record);
  }
  EXPECT_EQ(appended[0].prev_hash, kZeroHash);
  EXPECT_EQ(appended[1].prev_hash, appended[0].hash);
  EXPECT_EQ(appended[2].prev_hash, appended[1].hash);

  auto listed = store_->listEvents({});
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*listed)[i].seq, appended[i].seq);
    EXPECT_EQ((*listed)[i].hash, appended[i].hash);
    EXPECT_EQ((*listed)[i].prev_hash, appended[i].prev_hash);
    EXPECT_EQ((*listed)[i].kind, appended[i].kind);
    EXPECT_EQ((*listed)[i].actor, "alice");
    EXPECT_EQ((*listed)[i].reason, "test");
    EXPECT_EQ((*listed)[i].subject, "dep-1");
    EXPECT_EQ((*listed)[i].data_json, appended[i].data_json);
    EXPECT_EQ((*listed)[i].at, at(static_cast<std::int64_t>(i)));
  }
}

TEST_P(StoreContract, EventsListAfterSeqBySubjectWithLimit) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(store_->appendEvent(event("k", i % 2 == 0 ? "dep-a" : "dep-b", i)).has_value());
  }
  auto seqs = [&](const EventFilter& filter) {
    std::vector<std::int64_t> out;
    auto listed = store_->listEvents(filter);
    EXPECT_TRUE(listed.has_value());
    if (listed) {
      for (const auto& r : *listed) out.push_back(r.seq);
    }
    return out;
  };
  EXPECT_THAT(seqs({}), ::testing::ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_THAT(seqs({4, "", 1000}), ::testing::ElementsAre(5, 6));
  EXPECT_THAT(seqs({0, "dep-a", 1000}), ::testing::ElementsAre(1, 3, 5));
  EXPECT_THAT(seqs({1, "dep-b", 1000}), ::testing::ElementsAre(2, 4, 6));
  EXPECT_THAT(seqs({0, "", 2}), ::testing::ElementsAre(1, 2));
  EXPECT_THAT(seqs({2, "dep-b", 1}), ::testing::ElementsAre(4));
  EXPECT_TRUE(seqs({6, "", 1000}).empty());
  auto bad = store_->listEvents({0, "", 0});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
}

TEST_P(StoreContract, EventsInvalidAreRejectedAndNotWritten) {
  auto no_kind = store_->appendEvent(event(""));
  ASSERT_FALSE(no_kind.has_value());
  EXPECT_EQ(no_kind.error().code, ErrorCode::InvalidArgument);
  auto bad_json = store_->appendEvent(event("k", "", 0, "{\"a\":"));
  ASSERT_FALSE(bad_json.has_value());
  EXPECT_EQ(bad_json.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(eventCount(), 0);
}

TEST_P(StoreContract, EmptyLogIsIntact) {
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->intact());
  EXPECT_EQ(report->events, 0);
}

TEST_P(StoreContract, ChainIsIntactForManyEventsFromAllWrites) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}).has_value());
  ASSERT_TRUE(store_->addApproval({"dep-1", "bob", "tech-lead", true, "", at(1)},
                                  {event("approved", "dep-1", 1)})
                  .has_value());
  constexpr int kEvents = 500;
  for (int i = 0; i < kEvents; ++i) {
    NewEvent e = event("tick", "", i, R"({"n":)" + std::to_string(i) + R"(,"s":"ü\u0001"})");
    e.reason = "reason with \"quotes\", \\ and\nnewline " + std::to_string(i);
    ASSERT_TRUE(store_->appendEvent(e).has_value());
  }
  auto report = store_->verifyChain();
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_TRUE(report->intact()) << report->first_break->reason << " at "
                                << report->first_break->seq;
  EXPECT_EQ(report->events, kEvents + 2);
}

TEST_P(StoreContract, VerifyChainSeesWritesMadeAfterAnEarlierVerify) {
  ASSERT_TRUE(store_->appendEvent(event("one")).has_value());
  auto first = store_->verifyChain();
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->events, 1);
  ASSERT_TRUE(store_->appendEvent(event("two")).has_value());
  ASSERT_TRUE(store_->appendEvent(event("three")).has_value());
  auto second = store_->verifyChain();
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_TRUE(second->intact());
  EXPECT_EQ(second->events, 3);
}

// ---- leases -----------------------------------------------------------------------------------

TEST_P(StoreContract, LeaseAcquireFreeThenHeldByOther) {
  auto first = store_->acquireLease("controller", "node-a", Duration{10'000}, at(0));
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_TRUE(*first);
  auto lease = store_->getLease("controller");
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(lease->has_value());
  EXPECT_EQ((*lease)->holder, "node-a");
  EXPECT_EQ((*lease)->expires_at, at(10'000));

  auto other = store_->acquireLease("controller", "node-b", Duration{10'000}, at(9'999));
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(*other);
  EXPECT_EQ((*store_->getLease("controller"))->holder, "node-a");
  EXPECT_EQ((*store_->getLease("controller"))->expires_at, at(10'000));
}

TEST_P(StoreContract, LeaseExpiredCanBeTakenOver) {
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(0)));
  auto taken = store_->acquireLease("controller", "node-b", Duration{5'000}, at(10'000));
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(*taken);
  auto lease = store_->getLease("controller");
  EXPECT_EQ((*lease)->holder, "node-b");
  EXPECT_EQ((*lease)->expires_at, at(15'000));
  // The old holder lost it.
  EXPECT_FALSE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(11'000)));
}

TEST_P(StoreContract, LeaseRenewByHolderExtendsIt) {
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(0)));
  auto renewed = store_->acquireLease("controller", "node-a", Duration{10'000}, at(8'000));
  ASSERT_TRUE(renewed.has_value());
  EXPECT_TRUE(*renewed);
  EXPECT_EQ((*store_->getLease("controller"))->expires_at, at(18'000));
  EXPECT_FALSE(*store_->acquireLease("controller", "node-b", Duration{10'000}, at(12'000)));
}

TEST_P(StoreContract, LeaseReleaseFreesItOnlyForItsHolder) {
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(0)));
  auto wrong = store_->releaseLease("controller", "node-b");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, ErrorCode::Conflict);
  EXPECT_THAT(wrong.error().message, ::testing::HasSubstr("node-a"));

  ASSERT_TRUE(store_->releaseLease("controller", "node-a").has_value());
  EXPECT_FALSE(store_->getLease("controller")->has_value());
  EXPECT_TRUE(*store_->acquireLease("controller", "node-b", Duration{10'000}, at(1)));
  // Releasing a free lease is a no-op.
  EXPECT_TRUE(store_->releaseLease("other", "node-a").has_value());
}

TEST_P(StoreContract, LeasesAreIndependentByName) {
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(0)));
  EXPECT_TRUE(*store_->acquireLease("janitor", "node-b", Duration{10'000}, at(0)));
  EXPECT_FALSE(store_->getLease("unknown")->has_value());
}

TEST_P(StoreContract, LeaseInvalidArgumentsAreRejected) {
  auto zero = store_->acquireLease("controller", "node-a", Duration{0}, at(0));
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code, ErrorCode::InvalidArgument);
  auto no_holder = store_->acquireLease("controller", "", Duration{1'000}, at(0));
  ASSERT_FALSE(no_holder.has_value());
  EXPECT_EQ(no_holder.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(store_->getLease("controller")->has_value());
}

TEST_P(StoreContract, LeaseTermIsNewEachTimeTheLeaseChangesHands) {
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(0)));
  EXPECT_EQ((*store_->getLease("controller"))->term, 1);
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(5'000)));
  EXPECT_EQ((*store_->getLease("controller"))->term, 1);  // a renewal keeps the term
  ASSERT_TRUE(*store_->acquireLease("controller", "node-b", Duration{10'000}, at(15'000)));
  EXPECT_EQ((*store_->getLease("controller"))->term, 2);
  ASSERT_TRUE(store_->releaseLease("controller", "node-b").has_value());
  EXPECT_TRUE(store_->releaseLease("controller", "node-a").has_value());  // free: a no-op
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(16'000)));
  EXPECT_EQ((*store_->getLease("controller"))->term, 3);  // released and taken again: new term
}

// Fencing (issue 18): a server that lost its lease has every write refused, and nothing of it
// is visible; under the current term the same writes go through.
TEST_P(StoreContract, FencedWritesUnderAStaleTermAreRefusedAndWriteNothing) {
  ASSERT_TRUE(*store_->acquireLease("controller", "node-a", Duration{10'000}, at(0)));
  const std::int64_t term_a = (*store_->getLease("controller"))->term;
  store_->setFence(Fence{"controller", "node-a", term_a});
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {event("created", "dep-1")}));
  ASSERT_TRUE(store_->enqueueNotifications(
      {{at(1), "slack", "deployment.started", "dep-1", "staging", "dep-1", "{}"}}, {}));
  ASSERT_TRUE(store_->createToken(token("0000000000000001"), {}));

  // node-a is paused past its lease; node-b takes over.
  ASSERT_TRUE(*store_->acquireLease("controller", "node-b", Duration{10'000}, at(20'000)));
  const std::int64_t events_before = eventCount();
  DeploymentRecord change = *store_->getDeployment("dep-1");
  change.phase = "Progressing";
  const auto notification = (*store_->listNotifications({}))[0];
  std::vector<Error> refusals;
  auto expectRefused = [&](auto result) {
    ASSERT_FALSE(result.has_value());
    refusals.push_back(result.error());
  };
  expectRefused(store_->updateDeployment(change, {event("progressing", "dep-1")}));
  expectRefused(store_->createDeployment(deployment("dep-2"), {event("created", "dep-2")}));
  expectRefused(store_->appendEvent(event("late")));
  expectRefused(store_->putRelease({"shop", "v9", {{"api", "api:v9"}}, at(2)}));
  expectRefused(store_->addApproval({"dep-1", "bob", "tech-lead", true, "", at(2)}, {}));
  expectRefused(store_->createToken(token("0000000000000002"), {}));
  expectRefused(store_->revokeToken("0000000000000001", at(2), {}));
  expectRefused(store_->enqueueNotifications(
      {{at(2), "slack", "deployment.paused", "dep-1", "staging", "dep-1", "{}"}}, {}));
  expectRefused(store_->recordDeliveryAttempt(
      {notification.id, std::string(kNotificationDelivered), at(2), 200, "", at(2)}));
  ASSERT_EQ(refusals.size(), 9u);
  for (const Error& e : refusals) {
    EXPECT_EQ(e.code, ErrorCode::FailedPrecondition) << e.message;
    EXPECT_THAT(e.message, ::testing::HasSubstr("node-a no longer holds lease controller"));
  }
  // Nothing of it is visible.
  EXPECT_EQ(store_->getDeployment("dep-1")->revision, 1);
  EXPECT_EQ(store_->getDeployment("dep-2").error().code, ErrorCode::NotFound);
  EXPECT_EQ(eventCount(), events_before);
  EXPECT_EQ(store_->getRelease("shop", "v9").error().code, ErrorCode::NotFound);
  EXPECT_TRUE(store_->listApprovals("dep-1")->empty());
  EXPECT_EQ(store_->listTokens()->size(), 1u);
  EXPECT_FALSE(store_->getToken("0000000000000001")->revoked_at.has_value());
  EXPECT_EQ(store_->listNotifications({})->size(), 1u);
  EXPECT_EQ((*store_->listNotifications({}))[0].status, kNotificationPending);
  EXPECT_TRUE(store_->verifyChain()->intact());

  // node-b, at its term, writes.
  store_->setFence(Fence{"controller", "node-b", (*store_->getLease("controller"))->term});
  EXPECT_TRUE(store_->updateDeployment(change, {event("progressing", "dep-1")}).has_value());
  // Unfenced again, as a single server is.
  store_->setFence(std::nullopt);
  EXPECT_TRUE(store_->appendEvent(event("unfenced")).has_value());
}

// ---- tokens -----------------------------------------------------------------------------------

TEST_P(StoreContract, TokenCreateThenGetRoundTripsEveryField) {
  TokenRecord input = token("0123456789abcdef", "alice", 5, {"tech-lead", "deployer"});
  input.created_by = "bob";
  ASSERT_TRUE(store_->createToken(input, {event("token.created", input.id)}).has_value());
  auto got = store_->getToken("0123456789abcdef");
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->id, input.id);
  EXPECT_EQ(got->name, "alice");
  EXPECT_THAT(got->roles, ::testing::ElementsAre("tech-lead", "deployer"));  // order kept
  EXPECT_EQ(got->salt, input.salt);
  EXPECT_EQ(got->hash, input.hash);
  EXPECT_EQ(got->created_by, "bob");
  EXPECT_EQ(got->created_at, at(5));
  EXPECT_FALSE(got->revoked_at.has_value());
  auto events = store_->listEvents(EventFilter{0, input.id, 10});
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, "token.created");
}

TEST_P(StoreContract, TokenUnknownIsNotFound) {
  auto got = store_->getToken("ffffffffffffffff");
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, ErrorCode::NotFound);
  EXPECT_THAT(got.error().message, ::testing::HasSubstr("ffffffffffffffff"));
}

TEST_P(StoreContract, TokenDuplicateIdConflictsAndWritesNothing) {
  ASSERT_TRUE(store_->createToken(token("aaaaaaaaaaaaaaaa", "alice"), {event("a")}).has_value());
  auto again = store_->createToken(token("aaaaaaaaaaaaaaaa", "mallory", 1, {"admin"}),
                                   {event("b")});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  auto got = store_->getToken("aaaaaaaaaaaaaaaa");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->name, "alice");
  EXPECT_THAT(got->roles, ::testing::ElementsAre("deployer", "tech-lead"));
  EXPECT_EQ(eventCount(), 1);
}

TEST_P(StoreContract, TokenInvalidInputIsRejectedAndWritesNothing) {
  TokenRecord no_roles = token("aaaaaaaaaaaaaaaa");
  no_roles.roles.clear();
  TokenRecord no_hash = token("bbbbbbbbbbbbbbbb");
  no_hash.hash.clear();
  for (const TokenRecord& bad : {token(""), token("cccccccccccccccc", ""), no_roles, no_hash}) {
    auto created = store_->createToken(bad, {event("token.created")});
    ASSERT_FALSE(created.has_value()) << "id '" << bad.id << "' name '" << bad.name << "'";
    EXPECT_EQ(created.error().code, ErrorCode::InvalidArgument);
  }
  EXPECT_TRUE(store_->listTokens()->empty());
  EXPECT_EQ(eventCount(), 0);
}

TEST_P(StoreContract, TokenCreateWithAnInvalidEventWritesNothing) {
  auto created = store_->createToken(token("aaaaaaaaaaaaaaaa"),
                                     {event("token.created"), event("bad", "", 0, "{x")});
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(store_->getToken("aaaaaaaaaaaaaaaa").error().code, ErrorCode::NotFound);
  EXPECT_EQ(eventCount(), 0);
}

TEST_P(StoreContract, TokensListOldestFirstIncludingRevokedAndSameNames) {
  ASSERT_TRUE(store_->createToken(token("3333333333333333", "alice", 30), {}).has_value());
  ASSERT_TRUE(store_->createToken(token("1111111111111111", "alice", 10), {}).has_value());
  ASSERT_TRUE(store_->createToken(token("2222222222222222", "bob", 20), {}).has_value());
  ASSERT_TRUE(store_->createToken(token("0000000000000000", "carol", 20), {}).has_value());
  ASSERT_TRUE(store_->revokeToken("1111111111111111", at(40), {}).has_value());
  auto all = store_->listTokens();
  ASSERT_TRUE(all.has_value()) << all.error().message;
  std::vector<std::string> listed;
  for (const auto& t : *all) listed.push_back(t.id);
  // Equal times keep insertion order.
  EXPECT_THAT(listed, ::testing::ElementsAre("1111111111111111", "2222222222222222",
                                             "0000000000000000", "3333333333333333"));
  ASSERT_TRUE((*all)[0].revoked_at.has_value());
  EXPECT_EQ(*(*all)[0].revoked_at, at(40));
  EXPECT_FALSE((*all)[1].revoked_at.has_value());
}

TEST_P(StoreContract, TokenRevokeSetsTheTimeOnceAndAppendsEvents) {
  ASSERT_TRUE(store_->createToken(token("aaaaaaaaaaaaaaaa"), {}).has_value());
  ASSERT_TRUE(
      store_->revokeToken("aaaaaaaaaaaaaaaa", at(100), {event("token.revoked", "aaaaaaaaaaaaaaaa")})
          .has_value());
  auto got = store_->getToken("aaaaaaaaaaaaaaaa");
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->revoked_at.has_value());
  EXPECT_EQ(*got->revoked_at, at(100));
  EXPECT_EQ(eventCount(), 1);

  // A second revoke succeeds and keeps the first time.
  ASSERT_TRUE(store_->revokeToken("aaaaaaaaaaaaaaaa", at(200), {}).has_value());
  got = store_->getToken("aaaaaaaaaaaaaaaa");
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->revoked_at.has_value());
  EXPECT_EQ(*got->revoked_at, at(100));
}

TEST_P(StoreContract, TokenRevokeUnknownIsNotFoundAndWritesNothing) {
  auto revoked = store_->revokeToken("ffffffffffffffff", at(0), {event("token.revoked")});
  ASSERT_FALSE(revoked.has_value());
  EXPECT_EQ(revoked.error().code, ErrorCode::NotFound);
  EXPECT_EQ(eventCount(), 0);
}

TEST_P(StoreContract, TokenRevokeWithAnInvalidEventWritesNothing) {
  ASSERT_TRUE(store_->createToken(token("aaaaaaaaaaaaaaaa"), {}).has_value());
  auto revoked = store_->revokeToken("aaaaaaaaaaaaaaaa", at(100),
                                     {event("token.revoked"), event("bad", "", 0, "[")});
  ASSERT_FALSE(revoked.has_value());
  EXPECT_EQ(revoked.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(store_->getToken("aaaaaaaaaaaaaaaa")->revoked_at.has_value());
  EXPECT_EQ(eventCount(), 0);
}

// ---- notification outbox --------------------------------------------------------------------

inline NewNotification notification(std::string channel, std::string subject, std::int64_t ms = 0,
                                    std::string message_json = R"({"title":"t"})") {
  std::string dedup_key = "runway/" + subject;
  return NewNotification{at(ms), std::move(channel), "deployment.rolled_back", std::move(subject),
                         "staging", std::move(dedup_key), std::move(message_json)};
}

TEST_P(StoreContract, NotificationsCommittedWithTheDeploymentAreDueAtTheirTime) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {}));
  DeploymentRecord change = *store_->getDeployment("dep-1");
  change.phase = "RolledBack";
  ASSERT_TRUE(store_->updateDeployment(change, {event("rolled_back", "dep-1")}, {}, std::nullopt,
                                       {notification("slack", "dep-1", 10), notification("pd", "dep-1", 10)}));
  EXPECT_TRUE(store_->dueNotifications(at(9), 10)->empty());
  auto due = store_->dueNotifications(at(10), 10);
  ASSERT_TRUE(due.has_value());
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].channel, "slack");
  EXPECT_EQ((*due)[0].status, kNotificationPending);
  EXPECT_EQ((*due)[0].attempts, 0);
  EXPECT_EQ((*due)[0].dedup_key, "runway/dep-1");
  EXPECT_EQ((*due)[1].channel, "pd");
  EXPECT_LT((*due)[0].id, (*due)[1].id);
  EXPECT_EQ(store_->dueNotifications(at(10), 1)->size(), 1u);
}

TEST_P(StoreContract, AStaleDeploymentCommitWritesNoNotification) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {}));
  DeploymentRecord stale = *store_->getDeployment("dep-1");
  ASSERT_TRUE(store_->updateDeployment(stale, {}).has_value());
  auto refused = store_->updateDeployment(stale, {}, {}, std::nullopt, {notification("slack", "dep-1")});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::Conflict);
  EXPECT_TRUE(store_->listNotifications({})->empty());
}

TEST_P(StoreContract, AnInvalidNotificationWritesNothing) {
  ASSERT_TRUE(store_->createDeployment(deployment("dep-1"), {}));
  DeploymentRecord change = *store_->getDeployment("dep-1");
  change.phase = "Progressing";
  auto bad = store_->updateDeployment(change, {event("x", "dep-1")}, {}, std::nullopt,
                                      {notification("slack", "dep-1", 0, "{not json")});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(store_->getDeployment("dep-1")->phase, "Pending");
  auto no_channel = store_->enqueueNotifications({notification("", "dep-1")}, {event("x")});
  EXPECT_EQ(no_channel.error().code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(store_->listNotifications({})->empty());
  EXPECT_TRUE(store_->listEvents({})->empty());
}

TEST_P(StoreContract, DeliveryAttemptsRetryThenEndDeliveredOrFailedForGood) {
  ASSERT_TRUE(store_->enqueueNotifications({notification("slack", "dep-1"), notification("pd", "dep-1")},
                                           {event("queued")}));
  auto due = *store_->dueNotifications(at(0), 10);
  ASSERT_EQ(due.size(), 2u);
  auto retry = store_->recordDeliveryAttempt({due[0].id, "pending", at(500), 503, "HTTP 503", at(1)});
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->attempts, 1);
  EXPECT_EQ(retry->last_status, 503);
  // Not due again before its next attempt; the other one is.
  auto now_due = *store_->dueNotifications(at(100), 10);
  ASSERT_EQ(now_due.size(), 1u);
  EXPECT_EQ(now_due[0].id, due[1].id);
  auto delivered = store_->recordDeliveryAttempt({due[0].id, "delivered", at(500), 200, "", at(500)});
  ASSERT_TRUE(delivered.has_value());
  EXPECT_EQ(delivered->attempts, 2);
  auto failed = store_->recordDeliveryAttempt({due[1].id, "failed", at(500), 400, "HTTP 400: invalid_payload", at(500)});
  ASSERT_TRUE(failed.has_value());
  EXPECT_TRUE(store_->dueNotifications(at(10'000), 10)->empty());
  // Final states stay final.
  auto again = store_->recordDeliveryAttempt({due[1].id, "pending", at(600), 0, "", at(600)});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_EQ(store_->recordDeliveryAttempt({9999, "pending", at(0), 0, "", at(0)}).error().code,
            ErrorCode::NotFound);
  EXPECT_EQ(store_->recordDeliveryAttempt({due[0].id, "lost", at(0), 0, "", at(0)}).error().code,
            ErrorCode::InvalidArgument);
  auto failed_list = *store_->listNotifications({"failed", "", 10});
  ASSERT_EQ(failed_list.size(), 1u);
  EXPECT_EQ(failed_list[0].last_error, "HTTP 400: invalid_payload");
  EXPECT_EQ(failed_list[0].last_status, 400);
  auto counts = *store_->countNotifications();
  EXPECT_EQ(counts["delivered"], 1);
  EXPECT_EQ(counts["failed"], 1);
  EXPECT_EQ(counts.count("pending"), 0u);
  auto all = *store_->listNotifications({});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, due[1].id);  // newest first
  EXPECT_EQ(store_->listNotifications({"", "", 0}).error().code, ErrorCode::InvalidArgument);
}

}  // namespace runway::store::testing
