// LeaderElection on a real store (SQLite in a temp dir; the same lease rows as PostgreSQL) and
// a FakeClock: the lease's expiry moves only when the test advances the clock.

#include "runway/controller/leader_election.hpp"

#include <atomic>

#include <gtest/gtest.h>

#include "support/poll.hpp"
#include "support/temp_dir.hpp"

namespace runway::controller {
namespace {

using namespace std::chrono_literals;
using test::deadlineIn;
using test::pollUntil;

struct Server {
  std::atomic<int> elected{0};
  std::atomic<int> deposed{0};
  std::atomic<std::int64_t> term{0};
  std::unique_ptr<LeaderElection> election;
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = store::openSqliteStore((dir_.path() / "runway.db").string());
    auto b = store::openSqliteStore((dir_.path() / "runway.db").string());
    ASSERT_TRUE(a && b);
    store_a_ = std::move(*a);
    store_b_ = std::move(*b);
  }

  void start(Server& server, std::shared_ptr<store::Store> store, const std::string& holder) {
    LeaderElectionOptions o;
    o.store = std::move(store);
    o.clock = clock_;
    o.holder = holder;
    o.ttl = 3s;
    o.follower_poll = 20ms;
    o.on_elected = [&server](const store::Lease& lease, LeaderElection& self) {
      server.term = lease.term;
      EXPECT_TRUE(self.leading());
      server.elected++;
    };
    o.on_deposed = [&server] { server.deposed++; };
    auto started = LeaderElection::start(std::move(o));
    ASSERT_TRUE(started) << started.error().message;
    server.election = std::move(*started);
  }

  test::TempDir dir_{"leader-election"};
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<store::Store> store_a_;
  std::shared_ptr<store::Store> store_b_;
};

TEST_F(LeaderElectionTest, AFollowerLeadsOnlyOnceTheLeaseHasExpiredByTheClock) {
  // Another server holds the lease (and then says nothing more).
  ASSERT_TRUE(store_a_->acquireLease("controller", "a", 3s, clock_->now()).value_or(false));
  Server b;
  start(b, store_b_, "b");
  ASSERT_TRUE(pollUntil([&] { return b.election->status().lease.has_value(); }, deadlineIn(10s)));
  EXPECT_EQ(b.election->status().lease->holder, "a");
  clock_->advance(2s);
  EXPECT_FALSE(b.election->leading());
  EXPECT_EQ(b.elected, 0);
  clock_->advance(1s);  // expired now
  ASSERT_TRUE(pollUntil([&] { return b.elected == 1; }, deadlineIn(10s)));
  EXPECT_TRUE(b.election->leading());
  EXPECT_EQ(b.term, 2);
}

TEST_F(LeaderElectionTest, ALeaderThatStopsGivesTheLeaseBackAndAFollowerTakesOverAtOnce) {
  Server a, b;
  start(a, store_a_, "a");
  ASSERT_TRUE(pollUntil([&] { return a.elected == 1; }, deadlineIn(10s)));
  start(b, store_b_, "b");
  ASSERT_TRUE(pollUntil([&] { return b.election->status().lease.has_value(); }, deadlineIn(10s)));
  EXPECT_FALSE(b.election->leading());
  a.election.reset();
  EXPECT_EQ(a.deposed, 1);
  // The clock does not move: b leads because the lease was released, not because it expired.
  ASSERT_TRUE(pollUntil([&] { return b.elected == 1; }, deadlineIn(10s)));
  EXPECT_GT(b.term.load(), a.term.load());
}

// Another server takes the lease once a's has expired by the clock (a renews at most every
// second of real time; b's lease is long, so that a cannot renew in between).
void takeOver(FakeClock& clock, store::Store& other) {
  ASSERT_TRUE(pollUntil(
      [&] {
        clock.advance(10s);
        return other.acquireLease("controller", "b", 600s, clock.now()).value_or(false);
      },
      deadlineIn(10s)));
}

TEST_F(LeaderElectionTest, ALeaderWhoseLeaseWasTakenStepsDownAtItsNextRenewal) {
  Server a;
  start(a, store_a_, "a");
  ASSERT_TRUE(pollUntil([&] { return a.elected == 1; }, deadlineIn(10s)));
  takeOver(*clock_, *store_b_);
  ASSERT_TRUE(pollUntil([&] { return a.deposed == 1; }, deadlineIn(10s)));
  EXPECT_FALSE(a.election->leading());
  EXPECT_EQ(a.election->status().lease->holder, "b");
}

TEST_F(LeaderElectionTest, ARefusedFencedWriteDeposesAtOnce) {
  Server a;
  start(a, store_a_, "a");
  ASSERT_TRUE(pollUntil([&] { return a.elected == 1; }, deadlineIn(10s)));
  store_a_->setFence(a.election->fence(a.term));
  ASSERT_TRUE(store_a_->appendEvent(store::NewEvent{clock_->now(), "a", "test.event", "x", "", "{}"}));
  takeOver(*clock_, *store_b_);
  // a's next write is refused, and a steps down.
  auto write = store_a_->appendEvent(store::NewEvent{clock_->now(), "a", "test.event", "x", "", "{}"});
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, ErrorCode::FailedPrecondition);
  ASSERT_TRUE(pollUntil([&] { return a.deposed == 1; }, deadlineIn(10s)));
  EXPECT_FALSE(a.election->leading());
}

TEST(LeaderElectionOptionsTest, RefusesWhatCannotWork) {
  LeaderElectionOptions o;
  o.holder = "a";
  o.ttl = 100ms;
  auto r = LeaderElection::start(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace runway::controller
