#pragma once

// successCondition / failureCondition: a small, safe expression language over `result`.
//
//   result > 0.005            result < 1.0 && result > 0          isNaN(result)
//   !(result >= 0.99)         abs(result - 1) * 100 < 5           default(result, 0) <= 0.01
//
// Grammar (lowest precedence first):
//   or      := and  (("||" | "or")  and)*
//   and     := cmp  (("&&" | "and") cmp)*
//   cmp     := sum  (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
//   sum     := prod (("+" | "-") prod)*
//   prod    := unary (("*" | "/") unary)*
//   unary   := ("!" | "not" | "-") unary | primary
//   primary := number | "result" | "result[0]" | "true" | "false" | "(" or ")"
//            | isNaN(x) | isInf(x) | abs(x) | default(x, fallback)
// Expressions are typed (number or boolean) when parsed; a condition must be boolean. Arithmetic
// follows IEEE 754 (x/0 is ±Inf, comparisons with NaN are false except !=). `default(x, d)` is
// d when x is NaN. Evaluation cannot fail and has no side effects.

#include <memory>
#include <string>
#include <string_view>

#include "runway/core/error.hpp"

namespace runway::analysis {

namespace detail {
struct ConditionNode;
}

class Condition {
 public:
  // Evaluates the condition with `result` bound to the measured value.
  bool evaluate(double result) const;
  // The text it was parsed from.
  const std::string& text() const { return text_; }

 private:
  friend Result<Condition> parseCondition(std::string_view text);
  Condition(std::string text, std::shared_ptr<const detail::ConditionNode> root)
      : text_(std::move(text)), root_(std::move(root)) {}

  std::string text_;
  std::shared_ptr<const detail::ConditionNode> root_;
};

// Parses a condition. On failure: InvalidArgument with a message that starts with the 1-based
// column of the offending character, e.g. "column 10: expected a number or 'result', found ')'".
Result<Condition> parseCondition(std::string_view text);

// The column a parseCondition() error message names (0 if it names none).
int conditionErrorColumn(const Error& error);

}  // namespace runway::analysis
