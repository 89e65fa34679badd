#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include <gtest/gtest.h>

#include "runway/analysis/prometheus.hpp"
#include "runway/analysis/provider.hpp"

namespace runway::analysis {
namespace {

using namespace std::chrono_literals;

// ---- Prometheus response envelope -----------------------------------------------------------

Result<MetricValue> promValue(const std::string& body, long status = 200) {
  auto parsed = parsePrometheusResponse(body, status);
  if (!parsed) return fail(parsed.error());
  return prometheusValue(*parsed);
}

TEST(PrometheusResponse, VectorOfOneSeriesIsItsValue) {
  auto v = promValue(R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"job":"api","version":"v2"},"value":[1700000000.123,"0.0125"]}]}})");
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_TRUE(v->value.has_value());
  EXPECT_DOUBLE_EQ(*v->value, 0.0125);
  EXPECT_NE(v->message.find("version=\"v2\""), std::string::npos);
}

TEST(PrometheusResponse, EmptyVectorIsNoData) {
  auto v = promValue(R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->value.has_value());
  EXPECT_EQ(v->message, "empty vector");
}

TEST(PrometheusResponse, SeveralSeriesIsAnErrorSayingToAggregate) {
  auto v = promValue(R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"route":"/a"},"value":[1,"1"]},{"metric":{"route":"/b"},"value":[1,"2"]}]}})");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(v.error().message.find("returned 2 series"), std::string::npos);
  EXPECT_NE(v.error().message.find("aggregate"), std::string::npos);
  EXPECT_NE(v.error().message.find("route=\"/b\""), std::string::npos);
}

TEST(PrometheusResponse, ScalarIsItsValue) {
  auto v = promValue(R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->value, 42.0);
}

TEST(PrometheusResponse, MatrixOfOneSeriesIsItsLastValue) {
  auto v = promValue(R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{},"values":[[1,"1"],[2,"2"],[3,"3.5"]]}]}})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->value, 3.5);
  EXPECT_NE(v->message.find("last of 3 samples"), std::string::npos);
}

TEST(PrometheusResponse, EmptyMatrixIsNoData) {
  auto v = promValue(R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->value.has_value());
}

TEST(PrometheusResponse, MatrixKeepsEverySample) {
  auto r = parsePrometheusResponse(R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"a":"1"},"values":[[1,"1"],[2,"NaN"]]},{"metric":{"a":"2"},"values":[[1,"5"]]}]}})",
                                   200);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->series.size(), 2u);
  EXPECT_EQ(r->series[0].labels.at("a"), "1");
  ASSERT_EQ(r->series[0].samples.size(), 2u);
  EXPECT_TRUE(std::isnan(r->series[0].samples[1].value));
  EXPECT_EQ(r->series[0].samples[1].time, 2.0);
}

TEST(PrometheusResponse, ScalarWithoutValueIsAnError) {
  PromResult r;
  r.type = "scalar";
  EXPECT_FALSE(prometheusValue(r));
}

TEST(PrometheusResponse, StringResultIsAnError) {
  auto v = promValue(R"({"status":"success","data":{"resultType":"string","result":[1,"hello"]}})");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("hello"), std::string::npos);
}

TEST(PrometheusResponse, SpecialFloatStrings) {
  const auto one = [](const char* s) {
    return promValue(std::string(R"({"status":"success","data":{"resultType":"scalar","result":[1,")") +
                     s + "\"]}}");
  };
  auto nan = one("NaN");
  ASSERT_TRUE(nan && nan->value);
  EXPECT_TRUE(std::isnan(*nan->value));
  auto inf = one("+Inf");
  ASSERT_TRUE(inf && inf->value);
  EXPECT_TRUE(std::isinf(*inf->value) && *inf->value > 0);
  auto minus = one("-Inf");
  ASSERT_TRUE(minus && minus->value);
  EXPECT_TRUE(std::isinf(*minus->value) && *minus->value < 0);
  auto exp = one("1e-3");
  ASSERT_TRUE(exp && exp->value);
  EXPECT_DOUBLE_EQ(*exp->value, 0.001);
  EXPECT_FALSE(one("12abc"));
}

TEST(PrometheusResponse, BadDataErrorIsVerbatim) {
  auto v = promValue(R"({"status":"error","errorType":"bad_data","error":"1:6: parse error: unexpected \")\""})",
                     400);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(v.error().message, "bad_data: 1:6: parse error: unexpected \")\"");
}

TEST(PrometheusResponse, TimeoutErrorType) {
  auto v = promValue(R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})",
                     503);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::Timeout);
  EXPECT_EQ(v.error().message, "timeout: query timed out in expression evaluation");
}

TEST(PrometheusResponse, ExecutionAndUnavailableErrorTypes) {
  auto exec = promValue(R"({"status":"error","errorType":"execution","error":"many-to-many matching not allowed"})", 422);
  ASSERT_FALSE(exec);
  EXPECT_EQ(exec.error().code, ErrorCode::InvalidArgument);
  auto unavailable = promValue(R"({"status":"error","errorType":"unavailable","error":"TSDB not ready"})", 503);
  ASSERT_FALSE(unavailable);
  EXPECT_EQ(unavailable.error().code, ErrorCode::Unavailable);
}

TEST(PrometheusResponse, NonJsonBodyNamesTheStatus) {
  auto v = promValue("<html>502 Bad Gateway</html>", 502);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::Unavailable);
  EXPECT_NE(v.error().message.find("HTTP 502"), std::string::npos);
  EXPECT_NE(v.error().message.find("Bad Gateway"), std::string::npos);
}

TEST(PrometheusResponse, MalformedSuccessIsAnError) {
  EXPECT_FALSE(promValue(R"({"status":"success","data":{}})"));
  EXPECT_FALSE(promValue(R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})"));
  EXPECT_FALSE(promValue(R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}})"));
}

TEST(PrometheusResponse, WarningsAreKept) {
  auto r = parsePrometheusResponse(R"({"status":"success","warnings":["PromQL info: metric might not be a counter"],
      "data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}})", 200);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->warnings.size(), 1u);
  auto v = prometheusValue(*r);
  ASSERT_TRUE(v);
  EXPECT_NE(v->message.find("might not be a counter"), std::string::npos);
}

// A loopback port nothing listens on (bound, read back, closed).
int closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(PrometheusProvider, UnreachableServerIsAnError) {
  config::MetricSpec m;
  m.name = "errors";
  m.provider = config::MetricSpec::Provider::Prometheus;
  m.prometheus.address = "http://127.0.0.1:" + std::to_string(closedPort());
  m.prometheus.query = "up";
  m.prometheus.timeout = 2s;
  auto v = makePrometheusProvider()->measure(m, MeasureContext{});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::Unavailable);
  EXPECT_NE(v.error().message.find(m.prometheus.address), std::string::npos);
}

TEST(PrometheusProvider, MissingBearerTokenVariableIsAnError) {
  config::MetricSpec m;
  m.provider = config::MetricSpec::Provider::Prometheus;
  m.prometheus.address = "http://127.0.0.1:1";
  m.prometheus.query = "up";
  m.prometheus.bearer_token_env = "RUNWAY_TEST_SURELY_UNSET_TOKEN";
  ::unsetenv("RUNWAY_TEST_SURELY_UNSET_TOKEN");
  auto v = makePrometheusProvider()->measure(m, MeasureContext{});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::Unauthenticated);
  EXPECT_NE(v.error().message.find("RUNWAY_TEST_SURELY_UNSET_TOKEN"), std::string::npos);
}

TEST(PrometheusProvider, UnknownPlaceholderIsAnError) {
  config::MetricSpec m;
  m.provider = config::MetricSpec::Provider::Prometheus;
  m.prometheus.address = "http://127.0.0.1:1";
  m.prometheus.query = "up{zone=\"${zone}\"}";
  auto v = makePrometheusProvider()->measure(m, MeasureContext{});
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("${zone}"), std::string::npos);
}

TEST(WebProvider, UnreachableServerIsAnError) {
  config::MetricSpec m;
  m.provider = config::MetricSpec::Provider::Web;
  m.web.url = "http://127.0.0.1:" + std::to_string(closedPort()) + "/score";
  m.web.json_pointer = "/score";
  auto v = makeWebProvider()->measure(m, MeasureContext{});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::Unavailable);
}

// ---- substitution -------------------------------------------------------------------------------

TEST(SubstituteQuery, FillsContextWindowAndArgs) {
  MeasureContext ctx;
  ctx.service = "api";
  ctx.version = "v1.2.3";
  ctx.baseline_version = "v1.2.2";
  ctx.environment = "production";
  ctx.args["threshold"] = "0.01";
  auto q = substituteQuery(
      R"(rate(x{service="${service}",version="${version}",env="${environment}"}[${window}]) > ${threshold} and ${baseline})",
      ctx, 5min);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(*q,
            R"(rate(x{service="api",version="v1.2.3",env="production"}[5m]) > 0.01 and v1.2.2)");
  auto odd = substituteQuery("x[${window}]", ctx, 90s);
  ASSERT_TRUE(odd);
  EXPECT_EQ(*odd, "x[1m30s]");
}

TEST(SubstituteQuery, UnterminatedPlaceholder) {
  auto quoted = substituteQuery("x{a=\"${version\"}", MeasureContext{}, 1min);
  ASSERT_FALSE(quoted);
  EXPECT_NE(quoted.error().message.find("unknown placeholder"), std::string::npos);
  auto q = substituteQuery("rate(x[${window)", MeasureContext{}, 1min);
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message.find("unterminated"), std::string::npos);
}

// ---- builtin ---------------------------------------------------------------------------------

class FakeStats final : public TrafficStatistics {
 public:
  TrafficSnapshot snap;
  mutable std::vector<std::tuple<std::string, std::string, TimePoint, TimePoint>> calls;

  std::optional<Error> error;

  Result<TrafficSnapshot> snapshot(const std::string& service, const std::string& version,
                                   TimePoint from, TimePoint to) const override {
    calls.emplace_back(service, version, from, to);
    if (error) return fail(*error);
    return snap;
  }
};

TrafficSnapshot sampleSnapshot() {
  TrafficSnapshot s;
  s.requests = 1000;
  s.responses_by_class = {0, 950, 0, 20, 30};
  s.gateway_errors = 10;
  // 500 requests <= 0.1 s, 900 <= 0.5 s, 990 <= 1 s, all <= +Inf
  s.latency = {{0.1, 500}, {0.5, 900}, {1.0, 990}, {HUGE_VAL, 1000}};
  s.covered = 1min;
  return s;
}

Result<MetricValue> builtin(const std::string& query, const TrafficSnapshot& s) {
  return evaluateBuiltinQuery(query, s, 1min);
}

TEST(BuiltinQuery, ErrorRateIs5xxShare) {
  auto v = builtin("error_rate", sampleSnapshot());
  ASSERT_TRUE(v && v->value);
  EXPECT_DOUBLE_EQ(*v->value, 0.03);
}

TEST(BuiltinQuery, AvailabilityCountsRouterGatewayErrors) {
  auto v = builtin("availability", sampleSnapshot());
  ASSERT_TRUE(v && v->value);
  EXPECT_DOUBLE_EQ(*v->value, 0.99);
}

TEST(BuiltinQuery, RequestRateIsPerSecondOverTheWindow) {
  auto v = builtin("request_rate", sampleSnapshot());
  ASSERT_TRUE(v && v->value);
  EXPECT_NEAR(*v->value, 1000.0 / 60.0, 1e-12);
  auto young = sampleSnapshot();
  young.covered = 10s;  // the router has only 10 s of history
  auto y = builtin("request_rate", young);
  ASSERT_TRUE(y && y->value);
  EXPECT_NEAR(*y->value, 100.0, 1e-12);
}

TEST(BuiltinQuery, LatencyQuantilesInterpolateLikePrometheus) {
  auto p50 = builtin("latency_p50", sampleSnapshot());
  ASSERT_TRUE(p50 && p50->value);
  EXPECT_NEAR(*p50->value, 0.1, 1e-12);  // rank 500 is the top of the first bucket
  auto p95 = builtin("latency_p95", sampleSnapshot());
  ASSERT_TRUE(p95 && p95->value);
  EXPECT_NEAR(*p95->value, 0.5 + 0.5 * (50.0 / 90.0), 1e-12);
  auto p99 = builtin("latency_p99", sampleSnapshot());
  ASSERT_TRUE(p99 && p99->value);
  EXPECT_NEAR(*p99->value, 1.0, 1e-12);
}

TEST(BuiltinQuery, QuantileInTheInfBucketIsTheLargestFiniteBound) {
  const std::vector<LatencyBucket> b{{0.1, 1}, {0.5, 2}, {HUGE_VAL, 10}};
  EXPECT_EQ(histogramQuantile(0.99, b), 0.5);
  EXPECT_FALSE(histogramQuantile(0.5, {}).has_value());
}

TEST(BuiltinQuery, PrecomputedQuantilesWhenNoHistogram) {
  auto s = sampleSnapshot();
  s.latency.clear();
  s.quantiles = TrafficSnapshot::Quantiles{0.01, 0.2, 0.7};
  auto v = builtin("latency_p95", s);
  ASSERT_TRUE(v && v->value);
  EXPECT_EQ(*v->value, 0.2);
}

TEST(BuiltinQuery, NoRequestsIsNoData) {
  TrafficSnapshot empty;
  empty.covered = 1min;
  for (const char* q : {"error_rate", "availability", "latency_p95"}) {
    auto v = builtin(q, empty);
    ASSERT_TRUE(v) << q;
    EXPECT_FALSE(v->value.has_value()) << q;
    EXPECT_NE(v->message.find("no requests"), std::string::npos);
  }
  auto rate = builtin("request_rate", empty);
  ASSERT_TRUE(rate && rate->value);
  EXPECT_EQ(*rate->value, 0.0);
  auto nothing = builtin("request_rate", TrafficSnapshot{});
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(nothing->value.has_value());
}

TEST(BuiltinQuery, UnknownQuerySuggests) {
  auto v = builtin("error_rat", sampleSnapshot());
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("did you mean 'error_rate'"), std::string::npos);
}

TEST(BuiltinProvider, ReadsTheSlidingWindowEndingNow) {
  auto stats = std::make_shared<FakeStats>();
  stats->snap = sampleSnapshot();
  auto provider = makeBuiltinProvider(stats);
  config::MetricSpec m;
  m.query = "error_rate";
  m.window = 2min;
  MeasureContext ctx;
  ctx.service = "api";
  ctx.version = "v2";
  ctx.now = fromUnixMillis(1'700'000'000'000);
  auto v = provider->measure(m, ctx);
  ASSERT_TRUE(v && v->value);
  ASSERT_EQ(stats->calls.size(), 1u);
  EXPECT_EQ(std::get<0>(stats->calls[0]), "api");
  EXPECT_EQ(std::get<1>(stats->calls[0]), "v2");
  EXPECT_EQ(std::get<3>(stats->calls[0]) - std::get<2>(stats->calls[0]), 2min);
}

TEST(BuiltinProvider, UnreachableStatisticsIsAnErrorNotNoData) {
  auto stats = std::make_shared<FakeStats>();
  stats->error = Error{ErrorCode::Unavailable, "no router on /run/runway/router.sock"};
  auto provider = makeBuiltinProvider(stats);
  config::MetricSpec m;
  m.query = "error_rate";
  auto v = provider->measure(m, MeasureContext{});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(v.error().message, "no router on /run/runway/router.sock");
}

TEST(BuiltinProvider, WithoutStatisticsIsAnError) {
  auto provider = makeBuiltinProvider(nullptr);
  config::MetricSpec m;
  m.query = "error_rate";
  auto v = provider->measure(m, MeasureContext{});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::Unavailable);
}

TEST(ProviderSetDispatch, MissingProviderIsUnavailable) {
  ProviderSet set;
  config::MetricSpec m;
  m.name = "x";
  m.provider = config::MetricSpec::Provider::Web;
  auto v = set.measure(m, MeasureContext{});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::Unavailable);
}

// ---- judge provider over router statistics ----------------------------------------------

// Per-version traffic: version "bad" has ~5 % errors, every other version ~0.2 %; the counts
// vary with time so samples are not all equal.
class VersionedStats final : public TrafficStatistics {
 public:
  mutable int calls = 0;
  Result<TrafficSnapshot> snapshot(const std::string& /*service*/, const std::string& version,
                                   TimePoint /*from*/, TimePoint to) const override {
    ++calls;
    const auto k = static_cast<std::uint64_t>(toUnixMillis(to) / 10000);
    TrafficSnapshot s;
    s.requests = 1000;
    const std::uint64_t errors = version == "bad" ? 45 + k % 11 : 1 + k % 3;
    s.responses_by_class = {0, 1000 - errors, 0, 0, errors};
    s.latency = {{0.1, 400 + k % 7}, {0.5, 990}, {HUGE_VAL, 1000}};
    s.covered = 10s;
    return s;
  }
};

config::MetricSpec judgeSpec() {
  config::MetricSpec m;
  m.name = "canary-score";
  m.provider = config::MetricSpec::Provider::Judge;
  config::JudgeMetric errors;
  errors.name = "error-rate";
  errors.query = "error_rate";
  errors.groups = {"errors"};
  errors.direction = config::JudgeMetric::Direction::Increase;
  errors.critical = true;
  config::JudgeMetric latency;
  latency.name = "latency";
  latency.query = "latency_p50";
  latency.groups = {"latency"};
  m.judge.metrics = {errors, latency};
  m.judge.lookback = 10min;
  m.judge.step = 10s;
  return m;
}

MeasureContext judgeContext(std::string canary) {
  MeasureContext ctx;
  ctx.service = "api";
  ctx.version = std::move(canary);
  ctx.baseline_version = "stable";
  ctx.now = fromUnixMillis(1'700'000'000'000);
  return ctx;
}

TEST(JudgeProvider, HealthyCanaryScores100) {
  auto stats = std::make_shared<VersionedStats>();
  auto v = makeJudgeProvider(stats)->measure(judgeSpec(), judgeContext("good"));
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_TRUE(v->value.has_value());
  EXPECT_EQ(*v->value, 100.0) << v->message;
  EXPECT_EQ(stats->calls, 2 * 2 * 60);  // 2 metrics x 2 versions x 60 steps
}

TEST(JudgeProvider, CriticalRegressionScoresZero) {
  auto stats = std::make_shared<VersionedStats>();
  auto v = makeJudgeProvider(stats)->measure(judgeSpec(), judgeContext("bad"));
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_TRUE(v->value.has_value());
  EXPECT_EQ(*v->value, 0.0);
  EXPECT_NE(v->message.find("error-rate High"), std::string::npos) << v->message;
  EXPECT_NE(v->message.find("Canary Failed"), std::string::npos) << v->message;
}

TEST(JudgeProvider, WithoutBaselineIsAnError) {
  auto ctx = judgeContext("good");
  ctx.baseline_version.clear();
  auto v = makeJudgeProvider(std::make_shared<VersionedStats>())->measure(judgeSpec(), ctx);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::FailedPrecondition);
}

TEST(JudgeProvider, UnknownBuiltinQueryIsAnError) {
  auto spec = judgeSpec();
  spec.judge.metrics[0].query = "errors";
  auto v = makeJudgeProvider(std::make_shared<VersionedStats>())->measure(spec, judgeContext("good"));
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("unknown builtin query"), std::string::npos);
}

// ---- web: JSON pointer ----------------------------------------------------------------------

TEST(JsonPointer, NumberAtPointer) {
  auto v = readJsonPointer(R"({"data":{"items":[{"value":0.25},{"value":3}]}})", "/data/items/1/value");
  ASSERT_TRUE(v && v->value);
  EXPECT_EQ(*v->value, 3.0);
}

TEST(JsonPointer, NumericStringAndSpecials) {
  auto v = readJsonPointer(R"({"v":"0.5","n":"NaN","i":"+Inf"})", "/v");
  ASSERT_TRUE(v && v->value);
  EXPECT_EQ(*v->value, 0.5);
  auto n = readJsonPointer(R"({"v":"0.5","n":"NaN","i":"+Inf"})", "/n");
  ASSERT_TRUE(n && n->value);
  EXPECT_TRUE(std::isnan(*n->value));
  auto i = readJsonPointer(R"({"v":"0.5","n":"NaN","i":"+Inf"})", "/i");
  ASSERT_TRUE(i && i->value);
  EXPECT_TRUE(std::isinf(*i->value));
}

TEST(JsonPointer, NullIsNoData) {
  auto v = readJsonPointer(R"({"v":null})", "/v");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->value.has_value());
}

TEST(JsonPointer, MissingMemberIsAnError) {
  auto v = readJsonPointer(R"({"v":1})", "/w");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("'/w' matches nothing"), std::string::npos);
}

TEST(JsonPointer, NonNumberIsAnError) {
  auto v = readJsonPointer(R"({"v":"high"})", "/v");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("not a number"), std::string::npos);
  EXPECT_FALSE(readJsonPointer(R"({"v":[1]})", "/v"));
}

TEST(JsonPointer, NotJsonIsAnError) {
  auto v = readJsonPointer("<html>", "/v");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("not JSON"), std::string::npos);
}

}  // namespace
}  // namespace runway::analysis
