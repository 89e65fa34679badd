#include "values.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runway/config/model.hpp"
#include "runway/config/substitute.hpp"
#include "runway/config/summary.hpp"

namespace runway::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

TEST(ValuesTest, Integers) {
  EXPECT_EQ(detail::parseInteger("12"), 12);
  EXPECT_EQ(detail::parseInteger("-3"), -3);
  EXPECT_FALSE(detail::parseInteger("").has_value());
  EXPECT_FALSE(detail::parseInteger("1.5").has_value());
  EXPECT_FALSE(detail::parseInteger("ten").has_value());
  EXPECT_FALSE(detail::parseInteger("99999999999999999999").has_value());
}

TEST(ValuesTest, Numbers) {
  EXPECT_EQ(detail::parseNumber("0.005"), 0.005);
  EXPECT_EQ(detail::parseNumber("1e-3"), 0.001);
  EXPECT_EQ(detail::parseNumber("+7"), 7.0);
  EXPECT_FALSE(detail::parseNumber("inf").has_value());
  EXPECT_FALSE(detail::parseNumber("nan").has_value());
  EXPECT_FALSE(detail::parseNumber("1%").has_value());
}

TEST(ValuesTest, ClockTimes) {
  EXPECT_EQ(detail::parseClockTime("00:00", false).value(), 0);
  EXPECT_EQ(detail::parseClockTime("23:59", false).value(), 1439);
  EXPECT_EQ(detail::parseClockTime("24:00", true).value(), 1440);
  EXPECT_FALSE(detail::parseClockTime("24:00", false));
  EXPECT_FALSE(detail::parseClockTime("10:60", false));
  EXPECT_FALSE(detail::parseClockTime("1000", false));
  EXPECT_FALSE(detail::parseClockTime("9:00", false));
}

TEST(ValuesTest, UtcOffsets) {
  EXPECT_EQ(detail::parseUtcOffset("UTC").value(), 0);
  EXPECT_EQ(detail::parseUtcOffset("+02:00").value(), 120);
  EXPECT_EQ(detail::parseUtcOffset("-05:30").value(), -330);
  EXPECT_EQ(detail::parseUtcOffset("+14:00").value(), 840);
  EXPECT_FALSE(detail::parseUtcOffset("+15:00"));
  EXPECT_FALSE(detail::parseUtcOffset("utc"));
  EXPECT_FALSE(detail::parseUtcOffset("Europe/Berlin"));
  EXPECT_FALSE(detail::parseUtcOffset("+2"));
}

TEST(ValuesTest, Quantities) {
  EXPECT_EQ(detail::parseMemoryMiB("256Mi").value(), 256);
  EXPECT_EQ(detail::parseMemoryMiB("2Gi").value(), 2048);
  EXPECT_EQ(detail::parseMemoryMiB("512Ki").value(), 1);  // rounded up
  EXPECT_EQ(detail::parseMemoryMiB("1G").value(), 954);
  EXPECT_EQ(detail::parseMemoryMiB("1048576").value(), 1);
  EXPECT_FALSE(detail::parseMemoryMiB("Mi"));
  EXPECT_FALSE(detail::parseMemoryMiB("1.5Gi"));
  EXPECT_EQ(detail::parseByteSize("64Mi").value(), 64u * 1024 * 1024);
  EXPECT_EQ(detail::parseByteSize("1500").value(), 1500u);
  EXPECT_EQ(detail::parseByteSize("2K").value(), 2000u);
  EXPECT_EQ(detail::parseByteSize("0").value(), 0u);
  EXPECT_FALSE(detail::parseByteSize("64MB"));
  EXPECT_FALSE(detail::parseByteSize("-1"));
  EXPECT_FALSE(detail::parseByteSize("99999999999999999999"));
  EXPECT_FALSE(detail::parseByteSize("20000000Ti"));  // over 2^64
  EXPECT_EQ(detail::parseCpu("500m").value(), 0.5);
  EXPECT_EQ(detail::parseCpu("2").value(), 2.0);
  EXPECT_FALSE(detail::parseCpu("half"));
  EXPECT_EQ(detail::parseIntOrPercent("25%").value().value, 25);
  EXPECT_TRUE(detail::parseIntOrPercent("25%").value().percent);
  EXPECT_FALSE(detail::parseIntOrPercent("3").value().percent);
  EXPECT_FALSE(detail::parseIntOrPercent("101%"));
  EXPECT_FALSE(detail::parseIntOrPercent("-1"));
}

TEST(SubstituteTest, ReplacesKnownNames) {
  const std::map<std::string, std::string> vars{{"PORT", "8080"}, {"SERVICE", "api"}};
  EXPECT_EQ(substitute("--port=${PORT}", vars).value(), "--port=8080");
  EXPECT_EQ(substitute("${SERVICE}-${PORT}", vars).value(), "api-8080");
  EXPECT_EQ(substitute("cost: $$5 and $HOME", vars).value(), "cost: $5 and $HOME");
  EXPECT_EQ(substitute("$${PORT}", vars).value(), "${PORT}");
  EXPECT_EQ(substitute("trailing $", vars).value(), "trailing $");
  EXPECT_FALSE(substitute("${VERSION}", vars));
  EXPECT_FALSE(substitute("${PORT", vars));
  EXPECT_THAT(referencedNames("${A}x${B}${A}").value(), ElementsAre("A", "B", "A"));
  EXPECT_FALSE(referencedNames("${}"));
  EXPECT_THAT(substitutionNames(),
              ElementsAre("PORT", "VERSION", "SERVICE", "ENVIRONMENT", "ARTIFACT"));
}

TEST(ModelTest, FindAndApplicationFor) {
  Config config;
  config.applications.push_back(Application{"shop", {}, {}, {}});
  Environment env;
  env.name = "dev";
  config.environments.push_back(env);
  config.templates.push_back(AnalysisTemplate{"t", {}, {}});
  EXPECT_EQ(config.findApplication("shop"), &config.applications[0]);
  EXPECT_EQ(config.findApplication("nope"), nullptr);
  EXPECT_EQ(config.findEnvironment("dev"), &config.environments[0]);
  EXPECT_EQ(config.findTemplate("t"), &config.templates[0]);
  EXPECT_EQ(config.findTemplate("x"), nullptr);
  EXPECT_EQ(config.applicationFor(env), &config.applications[0]);
  env.application = "other";
  EXPECT_EQ(config.applicationFor(env), nullptr);
  config.applications.push_back(Application{"other", {}, {}, {}});
  EXPECT_EQ(config.applicationFor(env), &config.applications[1]);
  env.application.clear();
  EXPECT_EQ(config.applicationFor(env), nullptr);  // ambiguous
}

TEST(ModelTest, Names) {
  EXPECT_EQ(toString(StrategyKind::BlueGreen), "blue-green");
  EXPECT_EQ(toString(NoDataPolicy::Inconclusive), "inconclusive");
  EXPECT_EQ(toString(MetricSpec::Provider::Judge), "judge");
  EXPECT_EQ(toString(CanaryStep::Kind::SetHeaderRoute), "setHeaderRoute");
  EXPECT_EQ(toString(Weekday::Thu), "Thu");
  EXPECT_EQ(toString(ForceDeployPolicy::Forbidden), "forbidden");
  EXPECT_EQ(toString(ProgressDeadlineAction::Degrade), "degrade");
  EXPECT_EQ(toString(ConcurrencyPolicy::Supersede), "supersede");
  EXPECT_EQ(toString(HeaderRoute::Match::Regex), "regex");
  EXPECT_EQ(toString(JudgeMetric::Direction::Increase), "increase");
}

TEST(SummaryTest, DescribesEachStepKind) {
  CanaryStep step;
  step.kind = CanaryStep::Kind::SetWeight;
  step.weight = 10;
  EXPECT_EQ(describeStep(step), "setWeight 10%");
  step.kind = CanaryStep::Kind::Pause;
  EXPECT_EQ(describeStep(step), "pause until promoted");
  step.pause = 90min;
  EXPECT_EQ(describeStep(step), "pause 1h30m");
  step.kind = CanaryStep::Kind::Analysis;
  step.analysis.templates = {"a", "b"};
  step.analysis.interval = 30s;
  EXPECT_EQ(describeStep(step), "analysis a, b every 30s");
  step.kind = CanaryStep::Kind::Approval;
  step.approval = {"tech-lead"};
  EXPECT_EQ(describeStep(step), "approval tech-lead");
  step.kind = CanaryStep::Kind::Checks;
  step.checks.smoke = "critical";
  step.checks.health = "basic";
  EXPECT_EQ(describeStep(step), "checks smoke=critical health=basic");
  step.kind = CanaryStep::Kind::SetHeaderRoute;
  step.header_route.header = "X-Canary";
  step.header_route.value = "1";
  EXPECT_EQ(describeStep(step), "setHeaderRoute header X-Canary exact \"1\"");
}

}  // namespace
}  // namespace runway::config
