#include "runway/analysis/condition.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace runway::analysis {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

bool eval(const char* text, double result) {
  auto c = parseCondition(text);
  EXPECT_TRUE(c.has_value()) << text << ": " << (c ? "" : c.error().message);
  return c && c->evaluate(result);
}

// The column a parse error names, and that the error is an InvalidArgument.
int errorColumn(const char* text) {
  auto c = parseCondition(text);
  EXPECT_FALSE(c.has_value()) << text << " parsed";
  if (c) return -1;
  EXPECT_EQ(c.error().code, ErrorCode::InvalidArgument);
  return conditionErrorColumn(c.error());
}

TEST(Condition, GreaterThan) {
  EXPECT_TRUE(eval("result > 0.005", 0.01));
  EXPECT_FALSE(eval("result > 0.005", 0.005));
}

TEST(Condition, GreaterOrEqual) {
  EXPECT_TRUE(eval("result >= 0.99", 0.99));
  EXPECT_FALSE(eval("result >= 0.99", 0.98));
}

TEST(Condition, LessThan) {
  EXPECT_TRUE(eval("result < 1.0", 0.5));
  EXPECT_FALSE(eval("result < 1.0", 1.0));
}

TEST(Condition, LessOrEqual) {
  EXPECT_TRUE(eval("result <= 2", 2));
  EXPECT_FALSE(eval("result <= 2", 2.0001));
}

TEST(Condition, EqualAndNotEqual) {
  EXPECT_TRUE(eval("result == 1", 1));
  EXPECT_FALSE(eval("result == 1", 0));
  EXPECT_TRUE(eval("result != 1", 0));
  EXPECT_FALSE(eval("result != 1", 1));
}

TEST(Condition, AndBindsTighterThanOr) {
  EXPECT_TRUE(eval("result < 1.0 && result > 0", 0.5));
  EXPECT_FALSE(eval("result < 1.0 && result > 0", 0));
  EXPECT_TRUE(eval("result < 0 || result > 10 && result < 20", -1));
  EXPECT_FALSE(eval("result < 0 || result > 10 && result < 20", 25));
  EXPECT_TRUE(eval("result > 0 and result < 1 or result == 5", 5));
}

TEST(Condition, NotAndParentheses) {
  EXPECT_TRUE(eval("!(result >= 0.99)", 0.5));
  EXPECT_FALSE(eval("!(result >= 0.99)", 1));
  EXPECT_TRUE(eval("not (result > 1)", 0));
  EXPECT_FALSE(eval("(result < 0 || result > 10) && result < 20", 5));
}

TEST(Condition, Arithmetic) {
  EXPECT_TRUE(eval("result * 100 > 1", 0.02));
  EXPECT_TRUE(eval("result / 1000 < 2", 1500));
  EXPECT_TRUE(eval("1 - result < 0.01", 0.995));
  EXPECT_TRUE(eval("2 + 3 * result == 11", 3));   // precedence: 2 + (3 * 3)
  EXPECT_TRUE(eval("(2 + 3) * result == 15", 3));
  EXPECT_TRUE(eval("-result > 0", -1));
  EXPECT_TRUE(eval("result > 1e-3", 0.002));
  EXPECT_TRUE(eval("result / 0 > 1000", 1));  // IEEE: +Inf
}

TEST(Condition, IsNaN) {
  EXPECT_TRUE(eval("isNaN(result)", kNaN));
  EXPECT_FALSE(eval("isNaN(result)", 0));
  EXPECT_TRUE(eval("isNaN(result) || result > 0.01", kNaN));
  EXPECT_TRUE(eval("isNaN(result) == false", 1));
}

TEST(Condition, IsInf) {
  EXPECT_TRUE(eval("isInf(result)", kInf));
  EXPECT_TRUE(eval("isInf(result)", -kInf));
  EXPECT_FALSE(eval("isInf(result)", 1e308));
}

TEST(Condition, Abs) {
  EXPECT_TRUE(eval("abs(result - 1) < 0.05", 0.97));
  EXPECT_FALSE(eval("abs(result - 1) < 0.05", 1.1));
}

TEST(Condition, DefaultReplacesNaN) {
  EXPECT_TRUE(eval("default(result, 0) <= 0.01", kNaN));
  EXPECT_FALSE(eval("default(result, 1) <= 0.01", kNaN));
  EXPECT_FALSE(eval("default(result, 0) <= 0.01", 0.5));
}

TEST(Condition, ComparisonsWithNaNAreFalse) {
  EXPECT_FALSE(eval("result > 0.01", kNaN));
  EXPECT_FALSE(eval("result <= 0.01", kNaN));
  EXPECT_TRUE(eval("result != 0.01", kNaN));
}

TEST(Condition, ResultIndexZeroIsAccepted) {
  EXPECT_TRUE(eval("result[0] >= 0.95", 0.99));
}

TEST(Condition, BooleanLiterals) {
  EXPECT_TRUE(eval("true", 0));
  EXPECT_FALSE(eval("false || result > 1", 0));
}

TEST(Condition, TextIsKept) {
  auto c = parseCondition("result > 1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->text(), "result > 1");
}

TEST(ConditionParseError, Empty) { EXPECT_EQ(errorColumn("   "), 4); }

TEST(ConditionParseError, MissingOperand) {
  auto c = parseCondition("result >");
  ASSERT_FALSE(c);
  EXPECT_EQ(conditionErrorColumn(c.error()), 9);
  EXPECT_NE(c.error().message.find("expected a number or 'result'"), std::string::npos);
}

TEST(ConditionParseError, TrailingToken) { EXPECT_EQ(errorColumn("result > 0.01 )"), 15); }

TEST(ConditionParseError, UnknownName) {
  auto c = parseCondition("reslt > 1");
  ASSERT_FALSE(c);
  EXPECT_EQ(conditionErrorColumn(c.error()), 1);
  EXPECT_NE(c.error().message.find("unknown name 'reslt'"), std::string::npos);
}

TEST(ConditionParseError, UnknownOperator) { EXPECT_EQ(errorColumn("result >> 1"), 9); }

TEST(ConditionParseError, UnbalancedParenthesis) { EXPECT_EQ(errorColumn("(result > 1"), 12); }

TEST(ConditionParseError, ChainedComparison) { EXPECT_EQ(errorColumn("0 < result < 1"), 12); }

TEST(ConditionParseError, NumberIsNotACondition) {
  auto c = parseCondition("result * 100");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("not true/false"), std::string::npos);
}

TEST(ConditionParseError, BooleanInArithmetic) { EXPECT_EQ(errorColumn("isNaN(result) + 1 > 0"), 1); }

TEST(ConditionParseError, AndOfNumbers) { EXPECT_EQ(errorColumn("result > 1 && 5"), 15); }

TEST(ConditionParseError, WrongArgumentCount) {
  auto c = parseCondition("abs(result, 2) > 1");
  ASSERT_FALSE(c);
  EXPECT_EQ(conditionErrorColumn(c.error()), 1);
  EXPECT_NE(c.error().message.find("takes 1 argument"), std::string::npos);
}

TEST(ConditionParseError, MissingCallParenthesis) { EXPECT_EQ(errorColumn("isNaN result"), 7); }

TEST(ConditionParseError, ResultIndexOtherThanZero) { EXPECT_EQ(errorColumn("result[1] > 0"), 8); }

TEST(ConditionParseError, UnsubstitutedPlaceholder) {
  auto c = parseCondition("result > ${threshold}");
  ASSERT_FALSE(c);
  EXPECT_EQ(conditionErrorColumn(c.error()), 10);
  EXPECT_NE(c.error().message.find("not substituted"), std::string::npos);
}

TEST(ConditionParseError, InvalidNumber) { EXPECT_EQ(errorColumn("result > 1.2.3"), 10); }

}  // namespace
}  // namespace runway::analysis
