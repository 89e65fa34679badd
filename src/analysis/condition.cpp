#include "runway/analysis/condition.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace runway::analysis {
namespace detail {

enum class NodeKind {
  Number,
  Bool,
  Result,
  Not,
  Negate,
  And,
  Or,
  Less,
  LessEqual,
  Greater,
  GreaterEqual,
  Equal,
  NotEqual,
  Add,
  Subtract,
  Multiply,
  Divide,
  IsNaN,
  IsInf,
  Abs,
  Default,
};

struct ConditionNode {
  NodeKind kind = NodeKind::Number;
  double number = 0;
  std::shared_ptr<const ConditionNode> left;
  std::shared_ptr<const ConditionNode> right;
};

}  // namespace detail

namespace {

using detail::ConditionNode;
using detail::NodeKind;
using NodePtr = std::shared_ptr<const ConditionNode>;

enum class Type { Number, Bool };

std::string_view typeName(Type t) { return t == Type::Number ? "a number" : "a boolean"; }

struct Typed {
  NodePtr node;
  Type type = Type::Number;
};

NodePtr makeNode(NodeKind kind, NodePtr left = nullptr, NodePtr right = nullptr, double n = 0) {
  auto node = std::make_shared<ConditionNode>();
  node->kind = kind;
  node->left = std::move(left);
  node->right = std::move(right);
  node->number = n;
  return node;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Typed> parseAll() {
    skipSpace();
    if (pos_ == text_.size()) return error(pos_, "empty condition; write e.g. 'result > 0.01'");
    auto expr = parseOr();
    if (!expr) return expr;
    skipSpace();
    if (pos_ != text_.size()) return error(pos_, fmt::format("unexpected {}", describeHere()));
    if (expr->type != Type::Bool) {
      return error(0, "the condition is a number, not true/false; compare it, e.g. 'result > 0.01'");
    }
    return expr;
  }

 private:
  tl::unexpected<Error> error(std::size_t at, const std::string& message) const {
    return fail(ErrorCode::InvalidArgument, fmt::format("column {}: {}", at + 1, message));
  }

  std::string describeHere() const {
    if (pos_ >= text_.size()) return "end of condition";
    std::size_t end = pos_;
    if (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_') {
      while (end < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) {
        ++end;
      }
    } else {
      end = pos_ + 1;
    }
    return fmt::format("'{}'", text_.substr(pos_, end - pos_));
  }

  void skipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  // Consumes `token` (after whitespace) if it is next. Word tokens must not be followed by an
  // identifier character ("and" does not match "android").
  bool accept(std::string_view token) {
    skipSpace();
    if (text_.substr(pos_, token.size()) != token) return false;
    const bool word = std::isalpha(static_cast<unsigned char>(token.front())) != 0;
    if (word && pos_ + token.size() < text_.size()) {
      const char next = text_[pos_ + token.size()];
      if (std::isalnum(static_cast<unsigned char>(next)) || next == '_') return false;
    }
    pos_ += token.size();
    return true;
  }

  Result<void> expectType(const Typed& t, Type want, std::size_t at, std::string_view what) const {
    if (t.type == want) return {};
    return error(at, fmt::format("{} needs {}, but this is {}", what, typeName(want),
                                 typeName(t.type)));
  }

  Result<Typed> parseOr() {
    skipSpace();
    const std::size_t start = pos_;
    auto left = parseAnd();
    if (!left) return left;
    for (;;) {
      if (!accept("||") && !accept("or")) return left;
      const std::size_t right_at = (skipSpace(), pos_);
      auto right = parseAnd();
      if (!right) return right;
      if (auto ok = expectType(*left, Type::Bool, start, "'||'"); !ok) return fail(ok.error());
      if (auto ok = expectType(*right, Type::Bool, right_at, "'||'"); !ok) return fail(ok.error());
      left = Typed{makeNode(NodeKind::Or, left->node, right->node), Type::Bool};
    }
  }

  Result<Typed> parseAnd() {
    skipSpace();
    const std::size_t start = pos_;
    auto left = parseComparison();
    if (!left) return left;
    for (;;) {
      if (!accept("&&") && !accept("and")) return left;
      const std::size_t right_at = (skipSpace(), pos_);
      auto right = parseComparison();
      if (!right) return right;
      if (auto ok = expectType(*left, Type::Bool, start, "'&&'"); !ok) return fail(ok.error());
      if (auto ok = expectType(*right, Type::Bool, right_at, "'&&'"); !ok) return fail(ok.error());
      left = Typed{makeNode(NodeKind::And, left->node, right->node), Type::Bool};
    }
  }

  Result<Typed> parseComparison() {
    skipSpace();
    const std::size_t start = pos_;
    auto left = parseSum();
    if (!left) return left;
    skipSpace();
    struct Op {
      std::string_view token;
      NodeKind kind;
    };
    // Two-character operators first so "<=" is not read as "<".
    static constexpr Op kOps[] = {{"<=", NodeKind::LessEqual}, {">=", NodeKind::GreaterEqual},
                                  {"==", NodeKind::Equal},     {"!=", NodeKind::NotEqual},
                                  {"<", NodeKind::Less},       {">", NodeKind::Greater}};
    for (const auto& op : kOps) {
      if (!accept(op.token)) continue;
      const std::size_t right_at = (skipSpace(), pos_);
      auto right = parseSum();
      if (!right) return right;
      const std::string what = fmt::format("'{}'", op.token);
      // == and != also compare booleans (isNaN(result) == false).
      const bool equality = op.kind == NodeKind::Equal || op.kind == NodeKind::NotEqual;
      if (equality && left->type == right->type) {
        // `number` marks an equality between booleans.
        const double booleans = left->type == Type::Bool ? 1 : 0;
        return Typed{makeNode(op.kind, left->node, right->node, booleans), Type::Bool};
      }
      if (auto ok = expectType(*left, Type::Number, start, what); !ok) return fail(ok.error());
      if (auto ok = expectType(*right, Type::Number, right_at, what); !ok) return fail(ok.error());
      skipSpace();
      for (const auto& again : kOps) {
        if (text_.substr(pos_, again.token.size()) == again.token) {
          return error(pos_, "comparisons cannot be chained; join them with '&&'");
        }
      }
      return Typed{makeNode(op.kind, left->node, right->node), Type::Bool};
    }
    return left;
  }

  Result<Typed> parseSum() {
    skipSpace();
    const std::size_t start = pos_;
    auto left = parseProduct();
    if (!left) return left;
    for (;;) {
      skipSpace();
      NodeKind kind;
      if (pos_ < text_.size() && text_[pos_] == '+') {
        kind = NodeKind::Add;
      } else if (pos_ < text_.size() && text_[pos_] == '-') {
        kind = NodeKind::Subtract;
      } else {
        return left;
      }
      const std::string what = fmt::format("'{}'", text_[pos_]);
      ++pos_;
      const std::size_t right_at = (skipSpace(), pos_);
      auto right = parseProduct();
      if (!right) return right;
      if (auto ok = expectType(*left, Type::Number, start, what); !ok) return fail(ok.error());
      if (auto ok = expectType(*right, Type::Number, right_at, what); !ok) return fail(ok.error());
      left = Typed{makeNode(kind, left->node, right->node), Type::Number};
    }
  }

  Result<Typed> parseProduct() {
    skipSpace();
    const std::size_t start = pos_;
    auto left = parseUnary();
    if (!left) return left;
    for (;;) {
      skipSpace();
      NodeKind kind;
      if (pos_ < text_.size() && text_[pos_] == '*') {
        kind = NodeKind::Multiply;
      } else if (pos_ < text_.size() && text_[pos_] == '/') {
        kind = NodeKind::Divide;
      } else {
        return left;
      }
      const std::string what = fmt::format("'{}'", text_[pos_]);
      ++pos_;
      const std::size_t right_at = (skipSpace(), pos_);
      auto right = parseUnary();
      if (!right) return right;
      if (auto ok = expectType(*left, Type::Number, start, what); !ok) return fail(ok.error());
      if (auto ok = expectType(*right, Type::Number, right_at, what); !ok) return fail(ok.error());
      left = Typed{makeNode(kind, left->node, right->node), Type::Number};
    }
  }

  Result<Typed> parseUnary() {
    skipSpace();
    const std::size_t at = pos_;
    if ((text_.substr(pos_, 2) != "!=" && accept("!")) || accept("not")) {
      auto operand = parseUnary();
      if (!operand) return operand;
      if (auto ok = expectType(*operand, Type::Bool, at, "'!'"); !ok) return fail(ok.error());
      return Typed{makeNode(NodeKind::Not, operand->node), Type::Bool};
    }
    if (accept("-")) {
      auto operand = parseUnary();
      if (!operand) return operand;
      if (auto ok = expectType(*operand, Type::Number, at, "'-'"); !ok) return fail(ok.error());
      return Typed{makeNode(NodeKind::Negate, operand->node), Type::Number};
    }
    return parsePrimary();
  }

  Result<Typed> parseNumber() {
    const std::size_t start = pos_;
    std::size_t end = pos_;
    while (end < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[end])) || text_[end] == '.')) {
      ++end;
    }
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      std::size_t exp = end + 1;
      if (exp < text_.size() && (text_[exp] == '+' || text_[exp] == '-')) ++exp;
      if (exp < text_.size() && std::isdigit(static_cast<unsigned char>(text_[exp]))) {
        end = exp;
        while (end < text_.size() && std::isdigit(static_cast<unsigned char>(text_[end]))) ++end;
      }
    }
    double value = 0;
    const auto* first = text_.data() + start;
    const auto* last = text_.data() + end;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last) {
      return error(start, fmt::format("invalid number '{}'", text_.substr(start, end - start)));
    }
    pos_ = end;
    return Typed{makeNode(NodeKind::Number, nullptr, nullptr, value), Type::Number};
  }

  Result<Typed> parseCall(std::string_view name, std::size_t at) {
    if (!accept("(")) return error(pos_, fmt::format("expected '(' after '{}'", name));
    std::vector<Typed> args;
    std::vector<std::size_t> arg_at;
    skipSpace();
    if (!accept(")")) {
      for (;;) {
        arg_at.push_back((skipSpace(), pos_));
        auto arg = parseOr();
        if (!arg) return arg;
        args.push_back(*arg);
        if (accept(")")) break;
        if (!accept(",")) {
          return error((skipSpace(), pos_),
                       fmt::format("expected ',' or ')' in call to '{}', found {}", name,
                                   describeHere()));
        }
      }
    }
    const std::size_t want = name == "default" ? 2 : 1;
    if (args.size() != want) {
      return error(at, fmt::format("'{}' takes {} argument{}, got {}", name, want,
                                   want == 1 ? "" : "s", args.size()));
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string what = fmt::format("'{}'", name);
      if (auto ok = expectType(args[i], Type::Number, arg_at[i], what); !ok) {
        return fail(ok.error());
      }
    }
    if (name == "isNaN") return Typed{makeNode(NodeKind::IsNaN, args[0].node), Type::Bool};
    if (name == "isInf") return Typed{makeNode(NodeKind::IsInf, args[0].node), Type::Bool};
    if (name == "abs") return Typed{makeNode(NodeKind::Abs, args[0].node), Type::Number};
    return Typed{makeNode(NodeKind::Default, args[0].node, args[1].node), Type::Number};
  }

  Result<Typed> parsePrimary() {
    skipSpace();
    const std::size_t at = pos_;
    if (pos_ >= text_.size()) return error(pos_, "expected a number or 'result', found the end");
    const char c = text_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return parseNumber();
    if (accept("(")) {
      auto inner = parseOr();
      if (!inner) return inner;
      if (!accept(")")) {
        return error((skipSpace(), pos_), fmt::format("expected ')', found {}", describeHere()));
      }
      return inner;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t end = pos_;
      while (end < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) {
        ++end;
      }
      const std::string_view word = text_.substr(pos_, end - pos_);
      pos_ = end;
      if (word == "result") {
        if (accept("[")) {
          skipSpace();
          const std::size_t index_at = pos_;
          if (!accept("0") || !accept("]")) {
            return error(index_at, "result is a single number; only result[0] may be indexed");
          }
        }
        return Typed{makeNode(NodeKind::Result), Type::Number};
      }
      if (word == "true" || word == "false") {
        return Typed{makeNode(NodeKind::Bool, nullptr, nullptr, word == "true" ? 1 : 0),
                     Type::Bool};
      }
      if (word == "isNaN" || word == "isInf" || word == "abs" || word == "default") {
        return parseCall(word, at);
      }
      if (word == "NaN") {
        return Typed{makeNode(NodeKind::Number, nullptr, nullptr, std::nan("")), Type::Number};
      }
      if (word == "Inf") {
        return Typed{makeNode(NodeKind::Number, nullptr, nullptr, HUGE_VAL), Type::Number};
      }
      return error(at, fmt::format("unknown name '{}'; the value is 'result' and the functions "
                                   "are isNaN, isInf, abs and default",
                                   word));
    }
    if (c == '$') {
      return error(at, "a ${...} placeholder was not substituted (conditions take ${threshold} "
                       "from the environment's analysis thresholds)");
    }
    return error(at, fmt::format("expected a number or 'result', found {}", describeHere()));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

double evalNumber(const ConditionNode& n, double result);

bool evalBool(const ConditionNode& n, double result) {
  switch (n.kind) {
    case NodeKind::Bool: return n.number != 0;
    case NodeKind::Not: return !evalBool(*n.left, result);
    case NodeKind::And: return evalBool(*n.left, result) && evalBool(*n.right, result);
    case NodeKind::Or: return evalBool(*n.left, result) || evalBool(*n.right, result);
    case NodeKind::Less: return evalNumber(*n.left, result) < evalNumber(*n.right, result);
    case NodeKind::LessEqual: return evalNumber(*n.left, result) <= evalNumber(*n.right, result);
    case NodeKind::Greater: return evalNumber(*n.left, result) > evalNumber(*n.right, result);
    case NodeKind::GreaterEqual:
      return evalNumber(*n.left, result) >= evalNumber(*n.right, result);
    case NodeKind::Equal:
    case NodeKind::NotEqual: {
      const bool numbers = n.number == 0;
      const bool equal = numbers ? evalNumber(*n.left, result) == evalNumber(*n.right, result)
                                 : evalBool(*n.left, result) == evalBool(*n.right, result);
      return n.kind == NodeKind::Equal ? equal : !equal;
    }
    case NodeKind::IsNaN: return std::isnan(evalNumber(*n.left, result));
    case NodeKind::IsInf: return std::isinf(evalNumber(*n.left, result));
    default: RUNWAY_ASSERT(false && "number node evaluated as boolean");
  }
  return false;
}

double evalNumber(const ConditionNode& n, double result) {
  switch (n.kind) {
    case NodeKind::Number: return n.number;
    case NodeKind::Result: return result;
    case NodeKind::Negate: return -evalNumber(*n.left, result);
    case NodeKind::Add: return evalNumber(*n.left, result) + evalNumber(*n.right, result);
    case NodeKind::Subtract: return evalNumber(*n.left, result) - evalNumber(*n.right, result);
    case NodeKind::Multiply: return evalNumber(*n.left, result) * evalNumber(*n.right, result);
    case NodeKind::Divide: return evalNumber(*n.left, result) / evalNumber(*n.right, result);
    case NodeKind::Abs: return std::fabs(evalNumber(*n.left, result));
    case NodeKind::Default: {
      const double v = evalNumber(*n.left, result);
      return std::isnan(v) ? evalNumber(*n.right, result) : v;
    }
    default: RUNWAY_ASSERT(false && "boolean node evaluated as number");
  }
  return 0;
}

}  // namespace

bool Condition::evaluate(double result) const { return evalBool(*root_, result); }

Result<Condition> parseCondition(std::string_view text) {
  Parser parser(text);
  auto parsed = parser.parseAll();
  if (!parsed) return fail(parsed.error());
  return Condition(std::string(text), parsed->node);
}

int conditionErrorColumn(const Error& error) {
  constexpr std::string_view kPrefix = "column ";
  if (error.message.rfind(kPrefix, 0) != 0) return 0;
  int column = 0;
  const char* first = error.message.data() + kPrefix.size();
  const char* last = error.message.data() + error.message.size();
  std::from_chars(first, last, column);
  return column;
}

}  // namespace runway::analysis
