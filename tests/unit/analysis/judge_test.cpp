#include "runway/analysis/judge.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "runway/core/ids.hpp"

namespace runway::analysis {
namespace {

using config::JudgeMetric;
using config::JudgeProvider;

JudgeMetric jm(std::string name, std::vector<std::string> groups = {}) {
  JudgeMetric m;
  m.name = std::move(name);
  m.groups = std::move(groups);
  return m;
}

std::vector<double> seq(double from, double step, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(from + step * i);
  return v;
}

// ---- R's wilcox.test -----------------------------------------------------------------------

TEST(RankSum, MatchesAKnownRResult) {
  // wilcox.test(c(1.1,2.2,3.3,4.4,2.2), c(0.5,1.1,1.5,2.0), conf.int=TRUE, conf.level=0.98,
  //             exact=FALSE, correct=TRUE) in R 4.2.2
  const std::vector<double> x{1.1, 2.2, 3.3, 4.4, 2.2};
  const std::vector<double> y{0.5, 1.1, 1.5, 2.0};
  auto r = wilcoxonRankSum(x, y, 0.98);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->w, 17.5);
  EXPECT_NEAR(r->p_value, 0.083788938042391403, 1e-12);
  EXPECT_NEAR(r->estimate, 1.2456373997448593, 1e-9);
  EXPECT_NEAR(r->lower, -0.89999999999999991, 1e-9);
  EXPECT_NEAR(r->upper, 3.9000000000000004, 1e-9);
}

TEST(RankSum, RejectsEmptyAndNaNAndAllTied) {
  const std::vector<double> empty;
  const std::vector<double> one{1.0};
  EXPECT_FALSE(wilcoxonRankSum(empty, one));
  const std::vector<double> nan{std::nan("")};
  EXPECT_FALSE(wilcoxonRankSum(nan, one));
  const std::vector<double> same{2.0, 2.0};
  EXPECT_FALSE(wilcoxonRankSum(same, same));
}

TEST(NormalDistribution, QuantileInvertsCdf) {
  EXPECT_NEAR(normalQuantile(0.99), 2.3263478740408408, 1e-14);
  EXPECT_NEAR(normalQuantile(0.01), -2.3263478740408408, 1e-14);
  EXPECT_NEAR(normalCdf(1.959963984540054), 0.975, 1e-15);
}

// Writes seeded data sets (with ties, sizes 3..45, shifts of either sign), runs ONE Rscript
// process over all of them and compares W, the p-value, the Hodges-Lehmann estimate and the
// confidence bounds.
TEST(RankSum, AgreesWithRWilcoxTestOnGeneratedDataSets) {
  if (std::system("command -v Rscript > /dev/null 2>&1") != 0) {
    FAIL() << "Rscript is not installed, so the judge cannot be checked against R's "
              "wilcox.test: run scripts/install-deps.sh (Debian package r-base-core)";
  }
  constexpr int kSets = 60;
  auto random = seededRandom(20261126);
  const auto uniform = [&] {
    return (static_cast<double>(random->next() >> 11) + 0.5) / 9007199254740992.0;
  };
  const auto normal = [&] {
    return std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * M_PI * uniform());
  };
  std::vector<std::pair<std::vector<double>, std::vector<double>>> sets;
  for (int k = 0; k < kSets; ++k) {
    const int nx = 3 + static_cast<int>(random->next() % 43);
    const int ny = 3 + static_cast<int>(random->next() % 43);
    const double shift = (static_cast<double>(k % 7) - 3.0) * 0.4;
    const double scale = k % 3 == 0 ? 100.0 : 1.0;  // latency-like and rate-like magnitudes
    // Every third set is rounded to integers (heavy ties), every other to one decimal.
    const auto round = [&](double v) {
      if (k % 3 == 1) return std::round(v);
      if (k % 2 == 0) return std::round(v * 10) / 10;
      return v;
    };
    std::vector<double> x;
    std::vector<double> y;
    for (int i = 0; i < nx; ++i) x.push_back(round(scale * (normal() + shift)));
    for (int i = 0; i < ny; ++i) y.push_back(round(scale * normal()));
    sets.emplace_back(std::move(x), std::move(y));
  }

  const auto dir = std::filesystem::temp_directory_path() /
                   ("runway-wilcox-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto input = dir / "samples.txt";
  const auto script = dir / "wilcox.R";
  const auto output = dir / "results.txt";
  {
    std::ofstream in(input);
    char buf[64];
    for (const auto& [x, y] : sets) {
      for (std::size_t i = 0; i < x.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%a", x[i]);
        in << (i ? "," : "") << buf;
      }
      in << ";";
      for (std::size_t i = 0; i < y.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%a", y[i]);
        in << (i ? "," : "") << buf;
      }
      in << "\n";
    }
    std::ofstream r(script);
    r << "args <- commandArgs(trailingOnly = TRUE)\n"
         "lines <- readLines(args[1])\n"
         "out <- character(length(lines))\n"
         "for (i in seq_along(lines)) {\n"
         "  parts <- strsplit(lines[i], ';', fixed = TRUE)[[1]]\n"
         "  x <- as.numeric(strsplit(parts[1], ',', fixed = TRUE)[[1]])\n"
         "  y <- as.numeric(strsplit(parts[2], ',', fixed = TRUE)[[1]])\n"
         "  t <- suppressWarnings(wilcox.test(x, y, conf.int = TRUE, conf.level = 0.98,\n"
         "                                   exact = FALSE, correct = TRUE))\n"
         "  out[i] <- sprintf('%.17g %.17g %.17g %.17g %.17g', t$statistic, t$p.value,\n"
         "                    t$estimate, t$conf.int[1], t$conf.int[2])\n"
         "}\n"
         "writeLines(out, args[2])\n";
  }
  const std::string command = "Rscript --vanilla '" + script.string() + "' '" + input.string() +
                              "' '" + output.string() + "' 2> '" + (dir / "stderr.txt").string() +
                              "'";
  const int rc = std::system(command.c_str());
  std::ifstream err(dir / "stderr.txt");
  std::stringstream err_text;
  err_text << err.rdbuf();
  ASSERT_EQ(rc, 0) << "Rscript failed: " << err_text.str();

  std::ifstream results(output);
  std::string line;
  int compared = 0;
  double max_p = 0, max_est = 0, max_ci = 0;
  for (std::size_t k = 0; k < sets.size(); ++k) {
    ASSERT_TRUE(std::getline(results, line)) << "R printed only " << k << " results";
    std::istringstream fields(line);
    double w = 0, p = 0, est = 0, lo = 0, hi = 0;
    ASSERT_TRUE(fields >> w >> p >> est >> lo >> hi) << line;
    auto ours = wilcoxonRankSum(sets[k].first, sets[k].second, 0.98);
    ASSERT_TRUE(ours) << "set " << k << ": " << ours.error().message;
    SCOPED_TRACE("data set " + std::to_string(k) + " (nx=" + std::to_string(sets[k].first.size()) +
                 ", ny=" + std::to_string(sets[k].second.size()) + ")");
    EXPECT_EQ(ours->w, w);
    EXPECT_NEAR(ours->p_value, p, 1e-6);
    EXPECT_NEAR(ours->estimate, est, 1e-6);
    EXPECT_NEAR(ours->lower, lo, 1e-6);
    EXPECT_NEAR(ours->upper, hi, 1e-6);
    max_p = std::max(max_p, std::fabs(ours->p_value - p));
    max_est = std::max(max_est, std::fabs(ours->estimate - est));
    max_ci = std::max({max_ci, std::fabs(ours->lower - lo), std::fabs(ours->upper - hi)});
    ++compared;
  }
  EXPECT_GE(compared, 50);
  std::printf("compared %d data sets with R: max |diff| p-value %.3g, estimate %.3g, bounds %.3g\n",
              compared, max_p, max_est, max_ci);
  std::filesystem::remove_all(dir);
}

// ---- classification (Kayenta's edge cases) ----------------------------------------------------

TEST(JudgeClassify, IdenticalSamplesPass) {
  const auto v = seq(10, 1, 20);
  auto r = classifyMetric(jm("latency"), v, v);
  EXPECT_EQ(r.classification, MetricClass::Pass);
  EXPECT_FALSE(r.test.has_value());
  auto shuffled = v;
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(classifyMetric(jm("latency"), v, shuffled).classification, MetricClass::Pass);
}

TEST(JudgeClassify, OneValueEverywherePasses) {
  auto r = classifyMetric(jm("errors"), {0, 0, 0}, {0, 0, 0, 0});
  EXPECT_EQ(r.classification, MetricClass::Pass);
}

TEST(JudgeClassify, EmptySideIsNodata) {
  auto r = classifyMetric(jm("latency"), {}, seq(1, 1, 10));
  EXPECT_EQ(r.classification, MetricClass::Nodata);
  EXPECT_NE(r.reason.find("no baseline data"), std::string::npos);
  auto nan_only = classifyMetric(jm("latency"), seq(1, 1, 10), {std::nan(""), std::nan("")});
  EXPECT_EQ(nan_only.classification, MetricClass::Nodata);
}

TEST(JudgeClassify, MustHaveDataMakesNodataAFailure) {
  auto m = jm("requests");
  m.must_have_data = true;
  EXPECT_EQ(classifyMetric(m, seq(1, 1, 10), {}).classification, MetricClass::NodataFailMetric);
  m.critical = true;  // a critical metric stays Nodata, and carries the critical flag
  auto r = classifyMetric(m, seq(1, 1, 10), {});
  EXPECT_EQ(r.classification, MetricClass::Nodata);
  EXPECT_TRUE(r.critical);
}

TEST(JudgeClassify, NanReplaceTurnsNaNIntoZero) {
  auto m = jm("errors");
  m.nan_strategy = JudgeMetric::NanStrategy::Replace;
  const double nan = std::nan("");
  auto r = classifyMetric(m, {nan, nan, nan, nan, nan, nan}, {5, 6, 7, 5, 6, 7});
  EXPECT_EQ(r.control.count, 6u);
  EXPECT_EQ(r.classification, MetricClass::High);
  EXPECT_EQ(classifyMetric(m, {}, {}).classification, MetricClass::Pass);
}

TEST(JudgeClassify, ClearIncreaseIsHigh) {
  auto r = classifyMetric(jm("latency"), seq(100, 1, 30), seq(150, 1, 30));
  EXPECT_EQ(r.classification, MetricClass::High);
  ASSERT_TRUE(r.test.has_value());
  EXPECT_NEAR(r.test->estimate, 50, 1e-3);
  EXPECT_GT(r.ratio, 1.3);
  EXPECT_NE(r.reason.find("higher"), std::string::npos);
}

TEST(JudgeClassify, ClearDecreaseIsLow) {
  auto r = classifyMetric(jm("throughput"), seq(100, 1, 30), seq(50, 1, 30));
  EXPECT_EQ(r.classification, MetricClass::Low);
}

TEST(JudgeClassify, DirectionLimitsWhatCounts) {
  auto m = jm("latency");
  m.direction = JudgeMetric::Direction::Increase;
  EXPECT_EQ(classifyMetric(m, seq(100, 1, 30), seq(50, 1, 30)).classification, MetricClass::Pass);
  m.direction = JudgeMetric::Direction::Decrease;
  EXPECT_EQ(classifyMetric(m, seq(100, 1, 30), seq(150, 1, 30)).classification, MetricClass::Pass);
}

TEST(JudgeClassify, SmallShiftWithinTolerancePasses) {
  // Overlapping noisy samples: the interval includes 0.
  std::vector<double> c{10, 12, 9, 11, 10, 13, 8, 10, 11, 12};
  std::vector<double> e{11, 10, 12, 9, 10, 11, 13, 9, 12, 10};
  EXPECT_EQ(classifyMetric(jm("latency"), c, e).classification, MetricClass::Pass);
}

TEST(JudgeClassify, EffectSizeGateAllowsSmallIncreases) {
  auto m = jm("latency");
  m.allowed_increase = 1.6;  // a 50 % rise is tolerated
  auto r = classifyMetric(m, seq(100, 1, 30), seq(150, 1, 30));
  EXPECT_LT(r.ratio, 1.6);
  EXPECT_EQ(r.classification, MetricClass::Pass);
}

TEST(JudgeClassify, CriticalOnlyBeyondCriticalIncrease) {
  auto m = jm("errors");
  m.critical = true;
  m.critical_increase = 2.0;
  auto mild = classifyMetric(m, seq(100, 1, 30), seq(150, 1, 30));  // ratio ~1.4
  EXPECT_EQ(mild.classification, MetricClass::High);
  EXPECT_FALSE(mild.critical);
  auto severe = classifyMetric(m, seq(100, 1, 30), seq(300, 1, 30));
  EXPECT_EQ(severe.classification, MetricClass::High);
  EXPECT_TRUE(severe.critical);
}

TEST(JudgeClassify, ClesEffectSize) {
  auto m = jm("latency");
  m.effect_size = JudgeMetric::EffectSize::Cles;
  m.allowed_increase = 0.5;
  auto r = classifyMetric(m, seq(100, 1, 30), seq(150, 1, 30));
  EXPECT_DOUBLE_EQ(r.effect, 1.0);  // every canary sample beats every baseline sample
  EXPECT_EQ(r.classification, MetricClass::High);
}

TEST(JudgeClassify, ConstantSidesAreJitteredNotAnError) {
  auto r = classifyMetric(jm("cpu"), std::vector<double>(10, 1.0), std::vector<double>(10, 2.0));
  EXPECT_EQ(r.classification, MetricClass::High);
}

TEST(JudgeOutliers, IqrFencesWithReducedSensitivity) {
  std::vector<double> v = seq(10, 1, 200);  // 10..209
  v.push_back(1000);
  auto kept = removeOutliers(v, 3.0);
  EXPECT_EQ(kept.size(), 200u);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), 1000.0), 0);
  // With few points P1 and P99 are the extremes, so nothing is dropped (reduceSensitivity).
  auto few = removeOutliers(std::vector<double>{1, 2, 3, 100}, 3.0);
  EXPECT_EQ(few.size(), 4u);
}

TEST(JudgeOutliers, OutliersAreDroppedBeforeTheTest) {
  auto m = jm("latency");
  std::vector<double> control = seq(100, 1, 200);
  std::vector<double> canary = seq(100, 1, 200);
  canary[0] = 99.5;  // not identical
  canary.push_back(100000);
  canary.push_back(100000);
  EXPECT_EQ(classifyMetric(m, control, canary).experiment.count, 202u);
  m.remove_outliers = true;
  auto r = classifyMetric(m, control, canary);
  EXPECT_EQ(r.experiment.count, 200u);
  EXPECT_EQ(r.control.count, 200u);
  EXPECT_EQ(r.classification, MetricClass::Pass);
  EXPECT_NEAR(r.ratio, 1.0, 1e-3);
}

// ---- scoring --------------------------------------------------------------------------------

MetricJudgement result(std::string name, MetricClass c, std::vector<std::string> groups,
                       bool critical = false) {
  MetricJudgement r;
  r.name = std::move(name);
  r.classification = c;
  r.groups = std::move(groups);
  r.critical = critical;
  return r;
}

TEST(JudgeScore, GroupScoreIsPassShare) {
  JudgeProvider j;
  auto s = scoreJudgement(j, {result("a", MetricClass::Pass, {"g"}), result("b", MetricClass::High, {"g"}),
                              result("c", MetricClass::Pass, {"g"}), result("d", MetricClass::Pass, {"g"})});
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].score, 75.0);
  EXPECT_EQ(s.score, 75.0);
  EXPECT_EQ(s.classification, ScoreClass::Pass);  // pass threshold 75 is inclusive
}

TEST(JudgeScore, GroupWeights) {
  JudgeProvider j;
  j.group_weights = {{"latency", 70}, {"errors", 30}};
  auto s = scoreJudgement(j, {result("p95", MetricClass::High, {"latency"}),
                              result("p50", MetricClass::Pass, {"latency"}),
                              result("5xx", MetricClass::Pass, {"errors"})});
  EXPECT_DOUBLE_EQ(s.score, 50 * 0.7 + 100 * 0.3);
  EXPECT_EQ(s.classification, ScoreClass::Marginal);
}

TEST(JudgeScore, UnweightedGroupsShareTheRemainder) {
  JudgeProvider j;
  j.group_weights = {{"latency", 50}};
  // "errors" and "saturation" share the remaining 50 equally.
  auto s = scoreJudgement(j, {result("p95", MetricClass::Pass, {"latency"}),
                              result("5xx", MetricClass::High, {"errors"}),
                              result("cpu", MetricClass::Pass, {"saturation"})});
  EXPECT_DOUBLE_EQ(s.score, 100 * 0.5 + 0 * 0.25 + 100 * 0.25);
}

TEST(JudgeScore, RoundedToTwoDecimals) {
  JudgeProvider j;
  auto s = scoreJudgement(j, {result("a", MetricClass::Pass, {"g"}), result("b", MetricClass::Pass, {"g"}),
                              result("c", MetricClass::Low, {"g"})});
  EXPECT_EQ(s.score, 66.67);
  EXPECT_EQ(s.classification, ScoreClass::Marginal);
}

TEST(JudgeScore, NodataAndErrorDoNotCount) {
  JudgeProvider j;
  auto s = scoreJudgement(j, {result("a", MetricClass::Pass, {"g"}), result("b", MetricClass::Pass, {"g"}),
                              result("c", MetricClass::Error, {"g"})});
  EXPECT_EQ(s.score, 100.0);
}

TEST(JudgeScore, NodataFailMetricCounts) {
  JudgeProvider j;
  auto s = scoreJudgement(j, {result("a", MetricClass::Pass, {"g"}),
                              result("b", MetricClass::NodataFailMetric, {"g"})});
  EXPECT_EQ(s.score, 50.0);
}

TEST(JudgeScore, CriticalFailureOverridesToZero) {
  JudgeProvider j;
  auto s = scoreJudgement(j, {result("a", MetricClass::Pass, {"g"}), result("b", MetricClass::Pass, {"g"}),
                              result("c", MetricClass::Pass, {"g"}),
                              result("errors", MetricClass::High, {"g"}, true)});
  EXPECT_EQ(s.score, 0.0);
  EXPECT_EQ(s.classification, ScoreClass::Fail);
  EXPECT_NE(s.reason.find("critical metric errors"), std::string::npos);
}

TEST(JudgeScore, HalfNodataOverridesToZero) {
  JudgeProvider j;
  auto s = scoreJudgement(j, {result("a", MetricClass::Pass, {"g"}), result("b", MetricClass::Nodata, {"h"})});
  EXPECT_EQ(s.score, 0.0);
  EXPECT_NE(s.reason.find("no data"), std::string::npos);
}

TEST(JudgeScore, MetricsWithoutGroupsFormADefaultGroup) {
  JudgeProvider j;
  auto s = scoreJudgement(j, {result("a", MetricClass::Pass, {}), result("b", MetricClass::High, {})});
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].name, "default");
  EXPECT_EQ(s.score, 50.0);
}

TEST(JudgeRun, EndToEndCanaryFails) {
  JudgeProvider j;
  j.metrics = {jm("latency", {"perf"}), jm("errors", {"errors"})};
  j.metrics[1].critical = true;
  j.metrics[1].direction = JudgeMetric::Direction::Increase;
  auto s = runJudge(j, {seq(100, 1, 30), seq(0.001, 0.0001, 30)},
                    {seq(100, 1, 30), seq(0.05, 0.0001, 30)});
  EXPECT_EQ(s.metrics[0].classification, MetricClass::Pass);
  EXPECT_EQ(s.metrics[1].classification, MetricClass::High);
  EXPECT_EQ(s.score, 0.0);
}

}  // namespace
}  // namespace runway::analysis
