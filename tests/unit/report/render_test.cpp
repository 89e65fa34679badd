// The reports as people read them: the release report's figures over the seeded history, and
// both HTML pages rendered by Debian's headless Chromium without a console message (the pages
// carry no script, so any message is something wrong: a failed load, a parse error).
// RUNWAY_REPORT_SCREENSHOTS=DIR also writes a PNG of each page there (docs/reports.md's).

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runway/report/delivery.hpp"
#include "runway/report/release.hpp"
#include "seeded_history.hpp"
#include "support/temp_dir.hpp"

namespace runway::report {
namespace {

namespace json = boost::json;
using testing::at;

struct Rendered {
  int exit_code = -1;
  std::string dom;
  std::string log;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Renders `page` with headless Chromium: its DOM after load and its log (console messages are
// logged as ":CONSOLE" lines).
Rendered render(const std::filesystem::path& page, const std::filesystem::path& dir, const std::string& extra = "") {
  const auto out = dir / (page.filename().string() + ".dom");
  const auto err = dir / (page.filename().string() + ".log");
  const std::string cmd = fmt::format(
      "timeout 120 chromium --headless=new --no-sandbox --disable-gpu --no-first-run --enable-logging=stderr "
      "--v=0 {} --dump-dom 'file://{}' > '{}' 2> '{}'",
      extra, page.string(), out.string(), err.string());
  Rendered r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.dom = slurp(out);
  r.log = slurp(err);
  return r;
}

std::string consoleLines(const std::string& log) {
  std::string lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos) lines += line + "\n";
  }
  return lines;
}

class RenderTest : public testing::SeededHistoryTest {
 protected:
  json::value release(std::size_t which) {
    auto r = releaseReport(*h_->store, ids_.at(which), cfg_.get(), h_->clock->now());
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : json::value();
  }
  std::shared_ptr<const config::Config> cfg_ = [] {
    auto loaded = config::loadConfigText(testing::kConfig, "/tmp/runway-report-test/runway.yaml");
    return std::make_shared<const config::Config>(std::move(*loaded.config));
  }();
  test::TempDir dir_{"report-render"};
};

// E (production v3, error rate 0.5): approved by bob at 12:00, its analysis measured once, 0.5
// against "result > 0.1", failed, rolled back. No traffic snapshots exist in the harness (no
// server took them), so the comparison says it is unavailable.
TEST_F(RenderTest, TheReleaseReportOfARolledBackCanary) {
  seed();
  const auto r = release(4);
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r.at("phase"), "RolledBack");
  EXPECT_EQ(r.at("endedAt"), "2026-11-04T12:00:00.000Z");
  ASSERT_EQ(r.at("approvals").as_array().size(), 1u);
  EXPECT_EQ(r.at("approvals").at(0).at("actor"), "bob");
  EXPECT_EQ(r.at("approvals").at(0).at("role"), "tech-lead");
  EXPECT_EQ(r.at("approvals").at(0).at("at"), "2026-11-04T12:00:00.000Z");
  ASSERT_EQ(r.at("analysis").as_array().size(), 1u);
  const auto& metric = r.at("analysis").at(0);
  EXPECT_EQ(metric.at("metric"), "error-rate");
  EXPECT_EQ(metric.at("service"), "web");
  EXPECT_EQ(metric.at("failureCondition"), "result > 0.1");
  ASSERT_EQ(metric.at("measurements").as_array().size(), 1u);
  EXPECT_DOUBLE_EQ(metric.at("measurements").at(0).at("value").to_number<double>(), 0.5);
  EXPECT_EQ(metric.at("measurements").at(0).at("outcome"), "Failed");
  EXPECT_EQ(r.at("comparison").at("verdict"), "unavailable");
  bool aborted = false;
  for (const auto& e : r.at("timeline").as_array()) {
    if (e.at("kind") == "analysis.failed") aborted = e.at("to") == "Aborting";
  }
  EXPECT_TRUE(aborted);
  EXPECT_NE(releaseMarkdown(r).find("| 2026-11-04T12:00:00.000Z | 0.5 | Failed |"), std::string::npos)
      << releaseMarkdown(r);
}

TEST_F(RenderTest, BothPagesRenderInChromiumWithoutAConsoleMessage) {
  ASSERT_EQ(std::system("command -v chromium > /dev/null"), 0) << "chromium is not installed (scripts/install-deps.sh)";
  seed();
  // The detector itself: a page with a script error is caught.
  const auto bad = dir_.path() / "bad.html";
  std::ofstream(bad) << "<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>";
  const auto caught = render(bad, dir_.path());
  ASSERT_EQ(caught.exit_code, 0) << caught.log;
  EXPECT_NE(consoleLines(caught.log), "") << "a script error was not seen: the check below would prove nothing";

  DeliveryOptions o;
  o.environment = "production";
  o.since = at("2026-11-02T00:00:00Z");
  o.until = at("2026-11-16T00:00:00Z");
  o.by = Grouping::Week;
  o.now = h_->clock->now();
  auto history = loadHistory(*h_->store);
  ASSERT_TRUE(history);
  auto delivery = deliveryReport(*history, o);
  ASSERT_TRUE(delivery);
  const std::pair<std::string, std::string> pages[] = {{"delivery.html", deliveryHtml(*delivery)},
                                                       {"release.html", releaseHtml(release(4))}};
  const char* shots = std::getenv("RUNWAY_REPORT_SCREENSHOTS");
  for (const auto& [name, html] : pages) {
    SCOPED_TRACE(name);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("https://"), std::string::npos);
    const auto page = dir_.path() / name;
    std::ofstream(page) << html;
    const auto r = render(page, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.log;
    EXPECT_EQ(consoleLines(r.log), "");
    EXPECT_NE(r.dom.find("<svg"), std::string::npos) << r.dom.substr(0, 500);
    if (shots != nullptr) {
      const auto png = std::filesystem::path(shots) / ("report-" + name.substr(0, name.size() - 5) + ".png");
      const auto s = render(page, dir_.path(), fmt::format("--window-size=1100,1500 --screenshot='{}'", png.string()));
      EXPECT_EQ(s.exit_code, 0) << s.log;
    }
  }
}

}  // namespace
}  // namespace runway::report
