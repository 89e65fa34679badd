// The checklist items judged on what runway recorded (issue 25): backupVerified on the
// environment's backup directory (the latest backup's age from its name, the restore test the
// backup hook wrote to $RUNWAY_RESTORE_TEST_FILE), notified on the notification outbox (a
// delivered notification about the version to the configured channel). Whatever is missing or
// unreadable fails.

#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/checks/checklist.hpp"
#include "runway/checks/hooks.hpp"
#include "runway/config/loader.hpp"
#include "runway/store/store.hpp"

namespace runway::checks {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TimePoint stamp(const char* text) { return *parseTimestamp(text); }

class ChecklistRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("checklist-records-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    env_.name = "production";
    env_.backup = config::BackupSpec{};
    input_.version = "v1.4.0";
    input_.application = "shop";
    input_.now = stamp("2026-12-07T12:00:00Z");
    input_.environment = &env_;
    input_.data_dir = dir_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A backup file as runBackup names it, with a restore test line (none when empty).
  std::string backup(const char* stamp, const std::string& restore = "") {
    const auto d = backupDirectory(env_, dir_);
    fs::create_directories(d);
    const auto path = (d / fmt::format("production-{}.dump", stamp)).string();
    std::ofstream(path) << "dump";
    if (!restore.empty()) std::ofstream(restoreTestFile(path)) << restore << "\n";
    return path;
  }

  ChecklistItem judgeBackup(Duration max_age = Duration{26 * 3600 * 1000LL}) {
    config::BackupVerifiedItem item;
    item.max_age = max_age;
    return judgeBackupVerified(item, input_);
  }

  fs::path dir_;
  config::Environment env_;
  ChecklistInput input_;
};

TEST_F(ChecklistRecordsTest, ARecentBackupWhoseRestoreTestPassedPasses) {
  backup("20261206T020000000Z", "passed: restored into scratch, 1204 rows in leads");
  backup("20261207T020000000Z");  // tonight's, not tested yet
  const auto item = judgeBackup();
  EXPECT_EQ(item.status, ChecklistStatus::Passed) << item.reason;
  EXPECT_EQ(item.reason,
            "the latest backup of production (production-20261207T020000000Z.dump) is 10h old; the last restore "
            "test (production-20261206T020000000Z.dump) passed");
}

TEST_F(ChecklistRecordsTest, AnOldBackupAFailedRestoreOrNoneFail) {
  auto item = judgeBackup();
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_THAT(item.reason, HasSubstr("no backup of production in "));

  backup("20261201T020000000Z", "passed");
  item = judgeBackup();
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason, "the latest backup of production (production-20261201T020000000Z.dump) is 6d10h old, older "
                         "than 1d2h");

  backup("20261207T020000000Z", "failed: pg_restore: relation \"leads\" does not exist");
  item = judgeBackup();
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason, "the last restore test (production-20261207T020000000Z.dump) failed: pg_restore: relation "
                         "\"leads\" does not exist");

  backup("20261207T030000000Z", "maybe");
  item = judgeBackup();
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_THAT(item.reason, HasSubstr("production-20261207T030000000Z.dump.restore-test: the first line is \"maybe\""));
}

TEST_F(ChecklistRecordsTest, ABackupNeverRestoreTestedFailsUnlessNotRequired) {
  backup("20261207T020000000Z");
  auto item = judgeBackup();
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_THAT(item.reason, HasSubstr("no restore test of its backups is recorded"));
  config::BackupVerifiedItem lenient;
  lenient.require_restore_test = false;
  EXPECT_EQ(judgeBackupVerified(lenient, input_).status, ChecklistStatus::Passed);
}

TEST_F(ChecklistRecordsTest, TheBackupHookRecordsItsRestoreTest) {
  env_.backup->hook.name = "dump";
  env_.backup->hook.command = {"sh", "-c", "echo data > \"$RUNWAY_BACKUP_FILE\" && echo passed > \"$RUNWAY_RESTORE_TEST_FILE\""};
  env_.backup->keep = 1;
  FakeClock clock(stamp("2026-12-07T11:00:00Z"));
  auto first = runBackup(env_, dir_, "v1.3.0", clock);
  ASSERT_TRUE(first && first->run.ok) << (first ? first->run.reason : first.error().message);
  EXPECT_TRUE(fs::exists(restoreTestFile(first->file)));
  clock.advance(Duration{60'000});
  auto second = runBackup(env_, dir_, "v1.3.0", clock);
  ASSERT_TRUE(second && second->run.ok);
  // Retention removed the first backup and its restore test.
  EXPECT_FALSE(fs::exists(first->file));
  EXPECT_FALSE(fs::exists(restoreTestFile(first->file)));
  const auto item = judgeBackup();
  EXPECT_EQ(item.status, ChecklistStatus::Passed) << item.reason;
  EXPECT_THAT(item.reason, HasSubstr("is 59m old; the last restore test"));
}

class NotifiedTest : public ChecklistRecordsTest {
 protected:
  void SetUp() override {
    ChecklistRecordsTest::SetUp();
    auto opened = store::openSqliteStore((dir_ / "runway.db").string());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    input_.store = store_.get();
    item_.channel = "releases";
  }
  // A notification about `version` to `channel`, delivered unless `deliver` is false.
  void notification(const std::string& channel, const std::string& event, const std::string& version, TimePoint when,
                    bool deliver = true) {
    store::NewNotification n;
    n.at = when;
    n.channel = channel;
    n.event = event;
    n.subject = "dep-1";
    n.environment = "staging";
    n.dedup_key = "runway/staging/dep-1";
    n.message_json = fmt::format(R"({{"event":"{}","application":"shop","version":"{}"}})", event, version);
    ASSERT_TRUE(store_->enqueueNotifications({n}, {}));
    if (!deliver) return;
    auto due = store_->dueNotifications(when, 10);
    ASSERT_TRUE(due && !due->empty());
    store::DeliveryAttempt a;
    a.id = due->back().id;
    a.status = std::string(store::kNotificationDelivered);
    a.last_status = 200;
    ASSERT_TRUE(store_->recordDeliveryAttempt(a));
  }

  std::shared_ptr<store::Store> store_;
  config::NotifiedItem item_;
};

TEST_F(NotifiedTest, ADeliveredNotificationAboutTheVersionPasses) {
  notification("releases", "deployment.succeeded", "v1.4.0", stamp("2026-12-05T10:00:00Z"));
  const auto item = judgeNotified(item_, input_);
  EXPECT_EQ(item.status, ChecklistStatus::Passed) << item.reason;
  EXPECT_EQ(item.reason, "deployment.succeeded of staging v1.4.0 (dep-1) delivered to releases at 2026-12-05T10:00:00.000Z");
}

TEST_F(NotifiedTest, NothingDeliveredAboutTheVersionFails) {
  notification("releases", "deployment.succeeded", "v1.3.9", stamp("2026-12-05T10:00:00Z"));  // another version
  notification("oncall", "deployment.succeeded", "v1.4.0", stamp("2026-12-05T10:00:00Z"));    // another channel
  notification("releases", "deployment.started", "v1.4.0", stamp("2026-12-05T10:00:00Z"));    // not one of events
  notification("releases", "deployment.succeeded", "v1.4.0", stamp("2026-12-06T10:00:00Z"), false);  // pending
  notification("releases", "deployment.succeeded", "v1.4.0", stamp("2026-11-01T10:00:00Z"));  // too long ago
  item_.events = {"deployment.succeeded"};
  const auto item = judgeNotified(item_, input_);
  EXPECT_EQ(item.status, ChecklistStatus::Failed);
  EXPECT_EQ(item.reason, "no notification about v1.4.0 was delivered to releases in the last 14d (events: "
                         "deployment.succeeded)");
}

}  // namespace
}  // namespace runway::checks
