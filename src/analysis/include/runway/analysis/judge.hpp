#pragma once

// The statistical canary judge: a port of Kayenta's NetflixACAJudge (see docs/analysis.md and
// /work/shared/reference/judges-and-formats.md §1). Per metric it compares canary
// ("experiment") samples against baseline ("control") samples with the Mann-Whitney U /
// Wilcoxon rank-sum test, classifies the metric Pass/High/Low/Nodata/..., and scores the
// canary 0..100 from weighted metric groups.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/error.hpp"

namespace runway::analysis {

// Two-sample Wilcoxon rank-sum test of x against y with a confidence interval for the
// location shift x - y, computed as R's
//   wilcox.test(x, y, conf.int = TRUE, conf.level = conf_level, exact = FALSE, correct = TRUE)
// does: normal approximation with tie and continuity correction, interval bounds and
// Hodges-Lehmann estimate by R's uniroot (Brent, tol 1e-4) on the standardized statistic.
struct RankSumResult {
  double w = 0;         // R's W statistic: rank sum of x minus nx(nx+1)/2
  double p_value = 1;   // two-sided
  double estimate = 0;  // "difference in location" (Hodges-Lehmann)
  double lower = 0;     // confidence interval for the shift
  double upper = 0;
};

// InvalidArgument when a side is empty or holds a NaN, when every observation is tied (no
// interval exists), or when conf_level is outside (0, 1).
Result<RankSumResult> wilcoxonRankSum(std::span<const double> x, std::span<const double> y,
                                      double conf_level = 0.98);

// Standard normal distribution function and its inverse (R's pnorm, qnorm).
double normalCdf(double z);
double normalQuantile(double p);

// Kayenta's IQR outlier fences with reduceSensitivity=true: lower = min(P1, Q1 - f*IQR),
// upper = max(P99, Q3 + f*IQR), percentiles as Apache Commons Math's Percentile (legacy).
// Returns the values inside [lower, upper], in their original order.
std::vector<double> removeOutliers(std::span<const double> values, double factor);

enum class MetricClass { Pass, High, Low, Nodata, NodataFailMetric, Error };
std::string_view toString(MetricClass c);

struct SampleStats {
  std::size_t count = 0;
  double mean = 0;  // NaN when empty
  double min = 0;
  double max = 0;
};

struct MetricJudgement {
  std::string name;
  std::vector<std::string> groups;
  MetricClass classification = MetricClass::Pass;
  std::string reason;     // why; empty for a plain Pass
  bool critical = false;  // a failure of this result sets the score to 0
  double ratio = 0;       // mean(experiment) / mean(control); NaN if a mean is 0 or no data
  double effect = 0;      // the configured effect size measure (mean ratio or CLES)
  std::optional<RankSumResult> test;
  SampleStats control;
  SampleStats experiment;
};

// Classifies one metric: NaN strategy, outlier removal, then the rank-sum test at confidence
// 0.98 with tolerance 0.25 x |estimate| and the effect-size gates.
MetricJudgement classifyMetric(const config::JudgeMetric& metric, std::vector<double> control,
                               std::vector<double> experiment);

enum class ScoreClass { Pass, Marginal, Fail };
std::string_view toString(ScoreClass c);

struct GroupScore {
  std::string name;
  double score = 0;  // 0..100
  bool no_data = false;
};

struct Judgement {
  double score = 0;  // 0..100, two decimals
  ScoreClass classification = ScoreClass::Fail;
  std::string reason;
  std::vector<MetricJudgement> metrics;
  std::vector<GroupScore> groups;
};

// Scores classified metrics with the judge's group weights and thresholds. Metrics without
// groups form the group "default".
Judgement scoreJudgement(const config::JudgeProvider& judge, std::vector<MetricJudgement> results);

// Classifies judge.metrics[i] with control[i] / experiment[i] and scores the lot.
// REQUIRES: control.size() == experiment.size() == judge.metrics.size().
Judgement runJudge(const config::JudgeProvider& judge, std::vector<std::vector<double>> control,
                   std::vector<std::vector<double>> experiment);

}  // namespace runway::analysis
