// The access log's writer: lines that are valid JSON whatever the request held, rotation by
// size keeping N files, nothing lost across rotations.

#include "access_log.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace runway::router {
namespace {

std::vector<std::string> linesOf(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

AccessRecord sample(std::string_view target, std::string_view request_id) {
  AccessRecord r;
  r.unix_ms = 1'796'678'005'123;  // 2026-12-07T21:13:25.123Z
  r.listener = "shop.production";
  r.client = "127.0.0.1";
  r.method = "GET";
  r.target = target;
  r.status = 200;
  r.bytes_in = 120;
  r.bytes_out = 4567;
  r.duration_us = 1500;
  r.version = "v2";
  r.instance = "shop.production.v2.0";
  r.request_id = request_id;
  return r;
}

TEST(AccessLogTest, WritesOneJsonObjectPerLineWhateverTheTargetHolds) {
  test::TempDir dir;
  const auto path = (dir / "access.log").string();
  auto log = AccessLog::open(AccessLogSettings{path, 1 << 20, 2});
  ASSERT_TRUE(log) << log.error().message;
  AccessLogBuffer buffer;
  buffer.attach(*log);
  const std::string nasty = "/a?q=\"x\"\\y\tz\x01\x7f\xff";
  buffer.append(sample(nasty, "id-1"));
  buffer.append(sample("/plain", "id-2"));
  buffer.flush();
  (*log)->flush();
  const auto lines = linesOf(path);
  ASSERT_EQ(lines.size(), 2u);
  const auto first = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(first.at("time").as_string(), "2026-12-07T21:13:25.123Z");
  EXPECT_EQ(first.at("listener").as_string(), "shop.production");
  EXPECT_EQ(first.at("client").as_string(), "127.0.0.1");
  EXPECT_EQ(first.at("method").as_string(), "GET");
  // Every byte comes back; the ones JSON cannot hold raw as \u00XX.
  const auto target = std::string(first.at("target").as_string());
  EXPECT_EQ(target, "/a?q=\"x\"\\y\tz\x01\x7f\xc3\xbf");  // 0xff read back as U+00FF
  EXPECT_EQ(first.at("status").as_int64(), 200);
  EXPECT_EQ(first.at("bytes_in").as_int64(), 120);
  EXPECT_EQ(first.at("bytes_out").as_int64(), 4567);
  EXPECT_DOUBLE_EQ(first.at("duration_ms").as_double(), 1.5);
  EXPECT_EQ(first.at("version").as_string(), "v2");
  EXPECT_EQ(first.at("instance").as_string(), "shop.production.v2.0");
  EXPECT_EQ(first.at("request_id").as_string(), "id-1");
  EXPECT_EQ(boost::json::parse(lines[1]).at("target").as_string(), "/plain");
}

TEST(AccessLogTest, RotatesBySizeAndKeepsTheNewestFiles) {
  test::TempDir dir;
  const auto path = (dir / "access.log").string();
  auto log = AccessLog::open(AccessLogSettings{path, 4096, 2});
  ASSERT_TRUE(log) << log.error().message;
  AccessLogBuffer buffer;
  buffer.attach(*log);
  constexpr int kLines = 200;  // ~240 bytes each: ~48 KB, far more than 3 files hold
  for (int i = 0; i < kLines; ++i) buffer.append(sample("/r", "id-" + std::to_string(i)));
  buffer.flush();
  (*log)->flush();
  EXPECT_TRUE(std::filesystem::exists(path + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
  // Each file is whole lines within the size; the newest lines are in `path`, and reading
  // .2, .1 and path in turn gives consecutive ids ending with the last one.
  std::vector<std::string> kept;
  for (const auto& p : {path + ".2", path + ".1", path}) {
    EXPECT_LE(std::filesystem::file_size(p), 4096u) << p;
    for (const auto& line : linesOf(p)) {
      kept.push_back(std::string(boost::json::parse(line).at("request_id").as_string()));
    }
  }
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.back(), "id-" + std::to_string(kLines - 1));
  const int first = std::stoi(kept.front().substr(3));
  for (std::size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(kept[i], "id-" + std::to_string(first + static_cast<int>(i)));
  }
}

TEST(AccessLogTest, AFileThatCannotBeOpenedIsAnError) {
  auto log = AccessLog::open(AccessLogSettings{"/nonexistent-dir/access.log", 4096, 1});
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(log.error().message.find("/nonexistent-dir/access.log"), std::string::npos);
}

}  // namespace
}  // namespace runway::router
