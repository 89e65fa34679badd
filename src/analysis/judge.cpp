#include "runway/analysis/judge.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "runway/core/ids.hpp"

namespace runway::analysis {
namespace {

constexpr double kConfLevel = 0.98;  // hard-coded in NetflixACAJudge
constexpr double kTolerance = 0.25;  // fraction of |estimate|
constexpr double kRootTolerance = 1e-4;  // R's wilcox.test tol.root
constexpr int kRootMaxIterations = 1000;  // R's uniroot maxiter

// Average ranks (1-based), as R's rank(ties.method = "average"), and the tie term
// sum(t^3 - t) over groups of equal values.
struct Ranking {
  std::vector<double> ranks;
  double tie_term = 0;
};

Ranking rankValues(const std::vector<double>& v) {
  const std::size_t n = v.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  Ranking out;
  out.ranks.resize(n);
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i + 1;
    while (j < n && v[order[j]] == v[order[i]]) ++j;
    // Ranks i+1 .. j share their mean.
    const double avg = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k) out.ranks[order[k]] = avg;
    const double t = static_cast<double>(j - i);
    out.tie_term += t * t * t - t;
    i = j;
  }
  return out;
}

double sign(double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }

// R's R_zeroin2 (src/library/stats/src/zeroin.c), Brent's method, ported line by line so the
// roots agree with R's to the last bit the iteration allows. Returns NaN if f yields NaN.
double zeroin2(double ax, double bx, double fa, double fb, const std::function<double(double)>& f,
               double tol, int max_iterations) {
  double a = ax;
  double b = bx;
  double c = a;
  double fc = fa;
  int maxit = max_iterations + 1;
  if (fa == 0.0) return a;
  if (fb == 0.0) return b;
  while (maxit--) {
    const double prev_step = b - a;
    double p;
    double q;
    if (std::fabs(fc) < std::fabs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const double tol_act = 2 * DBL_EPSILON * std::fabs(b) + tol / 2;
    double new_step = (c - b) / 2;
    if (std::fabs(new_step) <= tol_act || fb == 0.0) return b;
    if (std::fabs(prev_step) >= tol_act && std::fabs(fa) > std::fabs(fb)) {
      double t1;
      double t2;
      const double cb = c - b;
      if (a == c) {
        t1 = fb / fa;
        p = cb * t1;
        q = 1.0 - t1;
      } else {
        q = fa / fc;
        t1 = fb / fc;
        t2 = fb / fa;
        p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0));
        q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0);
      }
      if (p > 0) {
        q = -q;
      } else {
        p = -p;
      }
      if (p < (0.75 * cb * q - std::fabs(tol_act * q) / 2) && p < std::fabs(prev_step * q / 2)) {
        new_step = p / q;
      }
    }
    if (std::fabs(new_step) < tol_act) new_step = new_step > 0 ? tol_act : -tol_act;
    a = b;
    fa = fb;
    b += new_step;
    fb = f(b);
    if (std::isnan(fb)) return std::nan("");
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
      c = a;
      fc = fa;
    }
  }
  return b;  // R warns "iteration limit reached" and returns the last approximation
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return std::nan("");
  double sum = 0;
  for (const double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

SampleStats describe(const std::vector<double>& v) {
  SampleStats s;
  s.count = v.size();
  s.mean = mean(v);
  s.min = v.empty() ? std::nan("") : *std::min_element(v.begin(), v.end());
  s.max = v.empty() ? std::nan("") : *std::max_element(v.begin(), v.end());
  return s;
}

// Apache Commons Math Percentile, EstimationType.LEGACY: pos = p(n+1)/100.
double percentile(std::vector<double> sorted, double p) {
  const auto n = static_cast<double>(sorted.size());
  const double pos = p * (n + 1) / 100;
  const double fpos = std::floor(pos);
  const double dif = pos - fpos;
  if (pos < 1) return sorted.front();
  if (pos >= n) return sorted.back();
  const auto i = static_cast<std::size_t>(fpos);
  const double lower = sorted[i - 1];
  const double upper = sorted[i];
  return lower + dif * (upper - lower);
}

// Box-Muller over a seeded generator: the judge stays deterministic.
std::vector<double> withNoise(const std::vector<double>& v, double sd, Random& random) {
  std::vector<double> out;
  out.reserve(v.size());
  for (const double x : v) {
    const double u1 = (static_cast<double>(random.next() >> 11) + 1.0) / 9007199254740993.0;
    const double u2 = static_cast<double>(random.next() >> 11) / 9007199254740992.0;
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    out.push_back(x + sd * z);
  }
  return out;
}

bool isConstant(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); });
}

}  // namespace

double normalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double normalQuantile(double p) {
  if (p <= 0) return -HUGE_VAL;
  if (p >= 1) return HUGE_VAL;
  if (p == 0.5) return 0;
  // Start from the Abramowitz-Stegun 26.2.23 approximation, then polish with Newton steps on
  // the accurate erfc-based normalCdf (quadratic convergence to full double precision).
  const double pp = p < 0.5 ? p : 1 - p;
  const double t = std::sqrt(-2.0 * std::log(pp));
  double x = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                     (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
  if (p < 0.5) x = -x;
  for (int i = 0; i < 50; ++i) {
    const double density = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
    const double step = (normalCdf(x) - p) / density;
    x -= step;
    if (std::fabs(step) < 1e-16 * std::max(1.0, std::fabs(x))) break;
  }
  return x;
}

Result<RankSumResult> wilcoxonRankSum(std::span<const double> x, std::span<const double> y,
                                      double conf_level) {
  if (x.empty() || y.empty()) {
    return fail(ErrorCode::InvalidArgument, "rank-sum test needs observations on both sides");
  }
  if (!(conf_level > 0 && conf_level < 1)) {
    return fail(ErrorCode::InvalidArgument, "confidence level must be between 0 and 1");
  }
  for (const double v : x) {
    if (std::isnan(v)) return fail(ErrorCode::InvalidArgument, "rank-sum test input holds NaN");
  }
  for (const double v : y) {
    if (std::isnan(v)) return fail(ErrorCode::InvalidArgument, "rank-sum test input holds NaN");
  }
  const auto nx = static_cast<double>(x.size());
  const auto ny = static_cast<double>(y.size());

  std::vector<double> all(x.begin(), x.end());
  all.insert(all.end(), y.begin(), y.end());
  const auto sigma_of = [&](double tie_term) {
    return std::sqrt((nx * ny / 12) * ((nx + ny + 1) - tie_term / ((nx + ny) * (nx + ny - 1))));
  };

  RankSumResult out;
  {
    const Ranking r = rankValues(all);
    double rank_sum = 0;
    for (std::size_t i = 0; i < x.size(); ++i) rank_sum += r.ranks[i];
    out.w = rank_sum - nx * (nx + 1) / 2;
    double z = out.w - nx * ny / 2;
    const double sigma = sigma_of(r.tie_term);
    const double correction = sign(z) * 0.5;
    z = (z - correction) / sigma;
    out.p_value = 2 * std::min(normalCdf(z), normalCdf(-z));
  }

  // The standardized statistic of the shifted samples x - d and y (R's W(d)).
  bool tied = false;
  const auto w_of = [&](double d, bool correct) {
    std::vector<double> shifted(all);
    for (std::size_t i = 0; i < x.size(); ++i) shifted[i] = x[i] - d;
    const Ranking r = rankValues(shifted);
    double rank_sum = 0;
    for (std::size_t i = 0; i < x.size(); ++i) rank_sum += r.ranks[i];
    const double dz = rank_sum - nx * (nx + 1) / 2 - nx * ny / 2;
    const double correction = correct ? sign(dz) * 0.5 : 0.0;
    const double sigma = sigma_of(r.tie_term);
    if (sigma == 0) tied = true;
    return (dz - correction) / sigma;
  };

  const double alpha = 1 - conf_level;
  const double mumin = *std::min_element(x.begin(), x.end()) - *std::max_element(y.begin(), y.end());
  const double mumax = *std::max_element(x.begin(), x.end()) - *std::min_element(y.begin(), y.end());
  if (!(mumin < mumax)) {
    return fail(ErrorCode::InvalidArgument,
                "cannot compute a confidence interval when all observations are tied");
  }
  const double w_min = w_of(mumin, true);
  const double w_max = w_of(mumax, true);
  const auto root = [&](double zq) {
    const double f_lower = w_min - zq;
    if (f_lower <= 0) return mumin;
    const double f_upper = w_max - zq;
    if (f_upper >= 0) return mumax;
    return zeroin2(mumin, mumax, f_lower, f_upper, [&](double d) { return w_of(d, true) - zq; },
                   kRootTolerance, kRootMaxIterations);
  };
  out.lower = root(normalQuantile(1 - alpha / 2));
  out.upper = root(normalQuantile(alpha / 2));

  const double e_lower = w_of(mumin, false);
  const double e_upper = w_of(mumax, false);
  if (std::isnan(e_lower) || std::isnan(e_upper) || e_lower * e_upper > 0) {
    return fail(ErrorCode::InvalidArgument,
                "cannot estimate the shift: the statistic does not change sign");
  }
  out.estimate = zeroin2(mumin, mumax, e_lower, e_upper, [&](double d) { return w_of(d, false); },
                         kRootTolerance, kRootMaxIterations);
  if (tied || std::isnan(out.lower) || std::isnan(out.upper) || std::isnan(out.estimate)) {
    return fail(ErrorCode::InvalidArgument,
                "cannot compute a confidence interval when all observations are tied");
  }
  return out;
}

std::vector<double> removeOutliers(std::span<const double> values, double factor) {
  if (values.empty()) return {};
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  const double q1 = percentile(sorted, 25);
  const double q3 = percentile(sorted, 75);
  const double iqr = q3 - q1;
  const double lower = std::min(percentile(sorted, 1), q1 - factor * iqr);
  const double upper = std::max(percentile(sorted, 99), q3 + factor * iqr);
  std::vector<double> kept;
  for (const double v : values) {
    if (v >= lower && v <= upper) kept.push_back(v);
  }
  return kept;
}

std::string_view toString(MetricClass c) {
  switch (c) {
    case MetricClass::Pass: return "Pass";
    case MetricClass::High: return "High";
    case MetricClass::Low: return "Low";
    case MetricClass::Nodata: return "Nodata";
    case MetricClass::NodataFailMetric: return "NodataFailMetric";
    case MetricClass::Error: return "Error";
  }
  return "Error";
}

std::string_view toString(ScoreClass c) {
  switch (c) {
    case ScoreClass::Pass: return "Pass";
    case ScoreClass::Marginal: return "Marginal";
    case ScoreClass::Fail: return "Fail";
  }
  return "Fail";
}

MetricJudgement classifyMetric(const config::JudgeMetric& metric, std::vector<double> control,
                               std::vector<double> experiment) {
  using config::JudgeMetric;
  MetricJudgement out;
  out.name = metric.name;
  out.groups = metric.groups;

  // 1. NaN strategy, then outliers.
  const auto clean = [&](std::vector<double>& v) {
    if (metric.nan_strategy == JudgeMetric::NanStrategy::Replace) {
      for (double& x : v) {
        if (std::isnan(x)) x = 0.0;
      }
    } else {
      std::erase_if(v, [](double x) { return std::isnan(x); });
    }
    if (metric.remove_outliers) v = removeOutliers(v, metric.outlier_factor);
  };
  clean(control);
  clean(experiment);
  out.control = describe(control);
  out.experiment = describe(experiment);
  const double mc = out.control.mean;
  const double me = out.experiment.mean;
  out.ratio = (control.empty() || experiment.empty() || mc == 0 || me == 0) ? std::nan("")
                                                                            : me / mc;

  // 2. No data on a side.
  if (control.empty() || experiment.empty()) {
    const std::string side = control.empty() && experiment.empty() ? "baseline and canary"
                             : control.empty()                     ? "baseline"
                                                                   : "canary";
    if (metric.nan_strategy == JudgeMetric::NanStrategy::Replace) {
      out.classification = MetricClass::Pass;
      out.reason = fmt::format("no {} data (nanStrategy replace: counted as a pass)", side);
      return out;
    }
    if (metric.must_have_data && !metric.critical) {
      out.classification = MetricClass::NodataFailMetric;
      out.reason = fmt::format("no {} data and the metric must have data", side);
    } else {
      out.classification = MetricClass::Nodata;
      out.reason = fmt::format("no {} data", side);
      out.critical = metric.critical;
    }
    return out;
  }

  // 3. Identical samples, or one value everywhere.
  {
    std::vector<double> a = control;
    std::vector<double> b = experiment;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a == b) {
      out.classification = MetricClass::Pass;
      out.reason = "the canary and baseline samples are identical";
      return out;
    }
    if (isConstant(control) && isConstant(experiment) && control.front() == experiment.front()) {
      out.classification = MetricClass::Pass;
      out.reason = "every sample has the same value";
      return out;
    }
  }

  // Two constant sides have no interval; Kayenta jitters them (sd = value x 1e-5). A zero
  // value gets a tiny absolute sd so the jitter still separates ties.
  std::vector<double> x = experiment;
  std::vector<double> y = control;
  if (isConstant(x) && isConstant(y)) {
    auto random = seededRandom(0x6b6179656e7461);
    x = withNoise(x, std::max(std::fabs(x.front()) * 1e-5, 1e-12), *random);
    y = withNoise(y, std::max(std::fabs(y.front()) * 1e-5, 1e-12), *random);
  }

  // Effect size.
  if (metric.effect_size == JudgeMetric::EffectSize::Cles) {
    std::vector<double> all(x);
    all.insert(all.end(), y.begin(), y.end());
    const Ranking r = rankValues(all);
    double r1 = 0;
    for (std::size_t i = 0; i < x.size(); ++i) r1 += r.ranks[i];
    const auto m = static_cast<double>(x.size());
    const auto n = static_cast<double>(y.size());
    out.effect = (2 * r1 - m * (m + 1)) / (2 * n * m);
  } else {
    out.effect = out.ratio;
  }

  auto test = wilcoxonRankSum(x, y, kConfLevel);
  if (!test) {
    out.classification = MetricClass::Error;
    out.reason = fmt::format("Metric Classification Failed: {}", test.error().message);
    return out;
  }
  out.test = *test;
  const double bound = kTolerance * std::fabs(test->estimate);
  const bool effect_nan = std::isnan(out.effect);
  const auto dir = metric.direction;
  const bool high = (dir == JudgeMetric::Direction::Increase ||
                     dir == JudgeMetric::Direction::Either) &&
                    test->lower > bound && (effect_nan || out.effect >= metric.allowed_increase);
  const bool low = !high &&
                   (dir == JudgeMetric::Direction::Decrease ||
                    dir == JudgeMetric::Direction::Either) &&
                   test->upper < -bound && (effect_nan || out.effect <= metric.allowed_decrease);
  if (high) {
    out.classification = MetricClass::High;
    out.reason = fmt::format(
        "canary is higher: shift estimate {:.6g}, 98% interval [{:.6g}, {:.6g}] above +{:.6g}",
        test->estimate, test->lower, test->upper, bound);
    out.critical = metric.critical && (effect_nan || out.effect >= metric.critical_increase);
  } else if (low) {
    out.classification = MetricClass::Low;
    out.reason = fmt::format(
        "canary is lower: shift estimate {:.6g}, 98% interval [{:.6g}, {:.6g}] below -{:.6g}",
        test->estimate, test->lower, test->upper, bound);
    out.critical = metric.critical && (effect_nan || out.effect <= metric.critical_decrease);
  } else {
    out.classification = MetricClass::Pass;
  }
  return out;
}

Judgement scoreJudgement(const config::JudgeProvider& judge, std::vector<MetricJudgement> results) {
  Judgement out;
  // Group scores, groups in first-seen order.
  std::vector<std::string> order;
  std::map<std::string, std::map<MetricClass, int>> counts;
  for (const auto& r : results) {
    std::vector<std::string> groups = r.groups;
    if (groups.empty()) groups.emplace_back("default");
    for (const auto& g : groups) {
      if (!counts.contains(g)) order.push_back(g);
      ++counts[g][r.classification];
    }
  }
  for (const auto& name : order) {
    auto& c = counts[name];
    const int pass = c[MetricClass::Pass];
    const int total = pass + c[MetricClass::High] + c[MetricClass::Low] +
                      c[MetricClass::NodataFailMetric];
    GroupScore g;
    g.name = name;
    g.no_data = total == 0;
    g.score = g.no_data ? 100.0 : 100.0 * pass / total;
    out.groups.push_back(g);
  }
  double weight_sum = 0;
  for (const auto& [group, weight] : judge.group_weights) weight_sum += weight;
  std::size_t unweighted = 0;
  for (const auto& g : out.groups) {
    if (!judge.group_weights.contains(g.name)) ++unweighted;
  }
  const double shared = unweighted > 0 ? (100 - weight_sum) / static_cast<double>(unweighted) : 0;
  double score = 0;
  for (const auto& g : out.groups) {
    const auto it = judge.group_weights.find(g.name);
    const double weight = it != judge.group_weights.end() ? it->second : shared;
    score += g.score * (weight / 100);
  }
  score = std::round(score * 100) / 100;
  out.reason = fmt::format("weighted group score {:.2f}", score);

  // Overrides.
  std::size_t nodata = 0;
  for (const auto& r : results) {
    if (r.classification == MetricClass::Nodata) ++nodata;
  }
  const MetricJudgement* critical = nullptr;
  for (const auto& r : results) {
    if (r.critical && r.classification != MetricClass::Pass) {
      critical = &r;
      break;
    }
  }
  if (critical != nullptr) {
    score = 0;
    out.reason = fmt::format("Canary Failed: critical metric {} is {}: {}", critical->name,
                             toString(critical->classification), critical->reason);
  } else if (!results.empty() && 2 * nodata >= results.size()) {
    score = 0;
    out.reason = fmt::format("Canary Failed: {} of {} metrics have no data", nodata,
                             results.size());
  }
  out.score = score;
  out.classification = score >= judge.pass_score       ? ScoreClass::Pass
                       : score >= judge.marginal_score ? ScoreClass::Marginal
                                                       : ScoreClass::Fail;
  out.metrics = std::move(results);
  return out;
}

Judgement runJudge(const config::JudgeProvider& judge, std::vector<std::vector<double>> control,
                   std::vector<std::vector<double>> experiment) {
  RUNWAY_ASSERT(control.size() == judge.metrics.size());
  RUNWAY_ASSERT(experiment.size() == judge.metrics.size());
  std::vector<MetricJudgement> results;
  for (std::size_t i = 0; i < judge.metrics.size(); ++i) {
    results.push_back(classifyMetric(judge.metrics[i], std::move(control[i]),
                                     std::move(experiment[i])));
  }
  return scoreJudgement(judge, std::move(results));
}

}  // namespace runway::analysis
