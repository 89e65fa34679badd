// Watches across a kube-apiserver restart. A restarted API server's watch cache starts from the
// current revision, so a resourceVersion from before the restart (with writes after it) is too
// old: 410 Gone, and listAndWatch must list again. Runs alone (RUN_SERIAL): the restart would
// disturb the other tests.

#include <gtest/gtest.h>

#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cluster.hpp"
#include "support/poll.hpp"

namespace runway::kube {
namespace {

namespace json = boost::json;
using testing::configMap;
using testing::Recorder;
using testing::typeName;

std::string resourceVersion(const Object& o) {
  return std::string(o.at("metadata").at("resourceVersion").as_string());
}

// Records lists as "list a,b" (names sorted, kube-root-ca.crt left out) and events as
// "ADDED a".
CollectionHandlers recording(Recorder& recorder) {
  CollectionHandlers handlers;
  handlers.on_list = [&recorder](const ObjectList& list) {
    std::vector<std::string> names;
    for (const auto& item : list.items) {
      std::string name(item.at("metadata").at("name").as_string());
      if (name != "kube-root-ca.crt") names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    recorder.add(fmt::format("list {}", fmt::join(names, ",")));
  };
  handlers.on_event = [&recorder](const WatchEvent& e) {
    if (e.type == WatchEvent::Type::Bookmark) return;
    recorder.add(fmt::format("{} {}", typeName(e.type),
                             std::string(e.object.at("metadata").at("name").as_string())));
  };
  return handlers;
}

void realSleep(Duration d) { std::this_thread::sleep_for(d); }

TEST(KubeApiServerRestartTest, WatchesContinueAndOldVersionsExpire) {
  testing::TestNamespace ns("restart");
  auto kube = testing::adminClient();
  auto before = kube->create(Resource::configMaps(), ns.name(), configMap("before", "1"));
  ASSERT_TRUE(before) << before.error().message;
  const auto old_version = resourceVersion(*before);
  ASSERT_TRUE(kube->create(Resource::configMaps(), ns.name(), configMap("second", "2")));

  // An informer running through the restart.
  Recorder live;
  std::optional<Result<void>> live_done;
  std::jthread informer([&](std::stop_token stop) {
    live_done = listAndWatch(*kube, Resource::configMaps(), ns.name(), "", "", recording(live),
                             realSleep, stop);
  });
  ASSERT_TRUE(test::pollUntil([&] { return live.contains("list before,second"); },
                              test::deadlineIn(std::chrono::seconds(20))));

  ASSERT_TRUE(testing::restartComponents("kube-apiserver"));

  // A watch from before the restart: Expired.
  WatchOptions options;
  options.resource_version = old_version;
  auto expired = kube->watch(Resource::configMaps(), ns.name(), options,
                             [](const WatchEvent&) { return true; });
  ASSERT_TRUE(expired) << expired.error().message;
  EXPECT_EQ(*expired, WatchEnd::Expired);

  // listAndWatch resuming from it lists again, then follows.
  Recorder resumed;
  std::optional<Result<void>> resumed_done;
  std::jthread resuming([&](std::stop_token stop) {
    resumed_done = listAndWatch(*kube, Resource::configMaps(), ns.name(), "", old_version,
                                recording(resumed), realSleep, stop);
  });
  ASSERT_TRUE(test::pollUntil([&] { return resumed.contains("list before,second"); },
                              test::deadlineIn(std::chrono::seconds(30))))
      << fmt::format("{}", fmt::join(resumed.entries(), "; "));

  ASSERT_TRUE(kube->create(Resource::configMaps(), ns.name(), configMap("after", "3")));
  for (auto* recorder : {&live, &resumed}) {
    EXPECT_TRUE(test::pollUntil([&] { return recorder->contains("ADDED after"); },
                                test::deadlineIn(std::chrono::seconds(30))))
        << fmt::format("{}", fmt::join(recorder->entries(), "; "));
  }
  // The live informer saw nothing twice and missed nothing: before and second from its first
  // list (and again from a relist if its version expired), after once.
  const auto entries = live.entries();
  EXPECT_EQ(std::count(entries.begin(), entries.end(), "ADDED after"), 1)
      << fmt::format("{}", fmt::join(entries, "; "));
  EXPECT_EQ(std::count(entries.begin(), entries.end(), "ADDED before"), 0)
      << fmt::format("{}", fmt::join(entries, "; "));

  informer.request_stop();
  resuming.request_stop();
  informer.join();
  resuming.join();
  ASSERT_TRUE(live_done && *live_done) << (live_done ? live_done->error().message : "no result");
  ASSERT_TRUE(resumed_done && *resumed_done)
      << (resumed_done ? resumed_done->error().message : "no result");
}

}  // namespace
}  // namespace runway::kube
