// The Stepper (controller/stepper.hpp): the reconciler driven on the test's thread with a clock
// that jumps to nextDue(), as `runway rehearse` drives it. A canary with a 10-minute pause
// completes in a handful of jumps, exactly when its pause and analysis say, and the same
// inputs give the same history.

#include "runway/controller/stepper.hpp"

#include "fake_runtime.hpp"
#include "fakes.hpp"
#include "support/temp_dir.hpp"
#include "test_config.hpp"
#include <gtest/gtest.h>

namespace runway::controller::testing {
namespace {

using namespace std::chrono_literals;

struct Run {
  std::string phase;
  Duration took{0};
  int jumps = 0;
  std::vector<std::string> kinds;  // the deployment's audit events, in order
};

// Deploys v1 (the first release: no steps), then v2, jumping the clock to nextDue() whenever
// nothing is runnable.
Run deployTwice(std::uint64_t seed) {
  test::TempDir dir("stepper");
  auto store = store::openSqliteStore((dir.path() / "runway.db").string());
  EXPECT_TRUE(store);
  std::shared_ptr<store::Store> db = std::move(*store);
  auto clock = std::make_shared<FakeClock>();
  ConfigKnobs knobs;
  knobs.canary_pause = "pause: {duration: 10m}";
  auto options = optionsFor(db, std::make_shared<runway::testing::FakeRuntime>(),
                            std::make_shared<FakeProvider>(), std::make_shared<FakeHooks>(), clock,
                            loadTestConfig(knobs));
  options.id_seed = seed;
  auto stepper = Stepper::start(std::move(options));
  EXPECT_TRUE(stepper) << (stepper ? "" : stepper.error().message);
  Run run;
  std::string id;
  for (const std::string version : {"v1", "v2"}) {
    auto admitted = (*stepper)->deploy(deployOf("canary", version));
    EXPECT_TRUE(admitted) << (admitted ? "" : admitted.error().message);
    id = admitted->deployment_id;
    const TimePoint began = clock->now();
    run.jumps = 0;
    for (int i = 0; i < 1000; ++i) {
      EXPECT_TRUE((*stepper)->settle());
      run.phase = db->getDeployment(id)->phase;
      if (run.phase == "Succeeded" || run.phase == "RolledBack" || run.phase == "Failed") break;
      const auto next = (*stepper)->nextDue();
      EXPECT_TRUE(next.has_value()) << "nothing scheduled in " << run.phase;
      if (!next) break;
      EXPECT_GT(*next, clock->now()) << "nextDue() is not in the future: the driver would spin";
      clock->set(*next);
      ++run.jumps;
    }
    run.took = clock->now() - began;
  }
  store::EventFilter f;
  f.subject = id;
  const auto events = db->listEvents(f);
  EXPECT_TRUE(events);
  if (events) {
    for (const auto& e : *events) run.kinds.push_back(e.kind);
  }
  return run;
}

TEST(StepperTest, JumpsFromOneDueThingToTheNext) {
  const auto run = deployTwice(7);
  EXPECT_EQ(run.phase, "Succeeded");
  // The 10-minute pause, then three measurements one second apart: no 20 ms polling, no
  // second-by-second stepping.
  EXPECT_GE(run.took, 10min);
  EXPECT_LE(run.took, 10min + 10s);
  EXPECT_LE(run.jumps, 12);
}

TEST(StepperTest, TheSameInputsGiveTheSameHistory) {
  const auto a = deployTwice(7);
  const auto b = deployTwice(7);
  EXPECT_EQ(a.kinds, b.kinds);
  EXPECT_EQ(a.took, b.took);
  EXPECT_FALSE(a.kinds.empty());
}

TEST(StepperTest, RefusesOptionsWithoutAStore) {
  ControllerOptions o;
  auto stepper = Stepper::start(std::move(o));
  ASSERT_FALSE(stepper);
  EXPECT_EQ(stepper.error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace runway::controller::testing
