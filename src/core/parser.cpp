// Recursive-descent parser: precedence OR < AND < NOT < predicate, as in SQL.
#include "core/parser.hpp"

#include "core/error.hpp"
#include "core/lexer.hpp"
#include "core/limits.hpp"
#include "core/number.hpp"

namespace pgseg {

namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), tokens_(tokenize(text)) {}

  NodePtr parse_whole() {
    if (peek().kind == TokenKind::kEnd) {
      throw_syntax_error(text_, 0, "segment filter is empty",
                         "Write a condition such as tier = 'gold', or TRUE for every row.");
    }
    NodePtr node = or_expr();
    expect_end();
    return node;
  }

  std::vector<std::string> parse_path_only() {
    std::vector<std::string> path = path_expr();
    expect_end();
    return path;
  }

 private:
  const Token& peek(std::size_t ahead = 0) const {
    std::size_t i = index_ + ahead;
    return i < tokens_.size() ? tokens_[i] : tokens_.back();
  }
  const Token& advance() { return tokens_[index_ < tokens_.size() - 1 ? index_++ : index_]; }
  bool at_keyword(std::string_view kw, std::size_t ahead = 0) const {
    return is_keyword(peek(ahead), kw);
  }
  bool accept_keyword(std::string_view kw) {
    if (!at_keyword(kw)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail_at(const Token& token, const std::string& expected,
                            std::string hint = {}) {
    std::string message =
        "syntax error at or near " + describe_token(text_, token) + " in segment filter";
    if (token.kind == TokenKind::kEnd) message = "syntax error at end of segment filter";
    if (!expected.empty()) message += ": expected " + expected;
    throw_syntax_error(text_, token.offset, std::move(message), std::move(hint));
  }

  void expect(TokenKind kind, const char* what) {
    if (peek().kind != kind) fail_at(peek(), what);
    advance();
  }

  void expect_keyword(std::string_view kw, const char* what) {
    if (!accept_keyword(kw)) fail_at(peek(), what);
  }

  void expect_end() {
    if (peek().kind == TokenKind::kEnd) return;
    if (peek().kind == TokenKind::kRightParen) fail_at(peek(), "", "Remove the unmatched \")\".");
    std::string hint;
    if (peek().kind == TokenKind::kIdentifier || peek().kind == TokenKind::kQuotedIdentifier) {
      hint = "Combine conditions with AND or OR.";
    }
    fail_at(peek(), "AND, OR or the end of the filter", hint);
  }

  // Tracks nesting so that hostile input cannot exhaust the stack.
  struct DepthGuard {
    DepthGuard(Parser& p, const Token& at) : parser(p) {
      if (++parser.depth_ > limits::kMaxNestingDepth) {
        throw Error(sqlstate::kStatementTooComplex, "segment filter is nested too deeply",
                    caret_excerpt(parser.text_, at.offset),
                    "At most " + std::to_string(limits::kMaxNestingDepth) +
                        " levels of parentheses, NOT and aggregate conditions are allowed.");
      }
    }
    ~DepthGuard() { --parser.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Parser& parser;
  };

  NodePtr or_expr() {
    std::vector<NodePtr> parts;
    parts.push_back(and_expr());
    while (accept_keyword("or")) parts.push_back(and_expr());
    return make_group(NodeKind::kOr, std::move(parts));
  }

  NodePtr and_expr() {
    std::vector<NodePtr> parts;
    parts.push_back(not_expr());
    while (accept_keyword("and")) parts.push_back(not_expr());
    return make_group(NodeKind::kAnd, std::move(parts));
  }

  NodePtr not_expr() {
    if (at_keyword("not") && !at_keyword("in", 1)) {
      DepthGuard guard(*this, peek());
      std::size_t offset = advance().offset;
      NodePtr inner = not_expr();
      NodePtr node = make_not(std::move(inner));
      node->offset = offset;
      return node;
    }
    return primary();
  }

  NodePtr primary() {
    const Token& token = peek();
    if (token.kind == TokenKind::kLeftParen) {
      DepthGuard guard(*this, token);
      advance();
      NodePtr inner = or_expr();
      if (peek().kind != TokenKind::kRightParen) {
        fail_at(peek(), "\")\"", "Every \"(\" needs a matching \")\".");
      }
      advance();
      return inner;
    }
    if (at_keyword("true") || at_keyword("false")) {
      NodePtr node = make_const(at_keyword("true"));
      node->offset = advance().offset;
      return node;
    }
    if (at_keyword("not") || at_keyword("in")) return segment_membership();
    if (at_keyword("null")) {
      fail_at(token, "a condition", "NULL is not a condition; test a column with IS NULL.");
    }
    if (token.kind == TokenKind::kIdentifier || token.kind == TokenKind::kQuotedIdentifier) {
      if (token.kind == TokenKind::kIdentifier && is_reserved_word(token.text)) {
        fail_at(token, "a condition",
                "To use " + quoted(token.text) + " as a column name, write it in double quotes.");
      }
      return predicate();
    }
    if (token.kind == TokenKind::kString || token.kind == TokenKind::kNumber) {
      fail_at(token, "a column name", "A condition starts with a column, as in tier = 'gold'.");
    }
    fail_at(token, "a condition");
  }

  // [NOT] IN SEGMENT 'system-name'
  NodePtr segment_membership() {
    std::size_t offset = peek().offset;
    bool negated = accept_keyword("not");
    expect_keyword("in", "IN SEGMENT");
    if (!accept_keyword("segment")) fail_at(peek(), "SEGMENT after IN");
    if (peek().kind != TokenKind::kString) {
      fail_at(peek(), "the segment's system name as a string", "Write IN SEGMENT 'system-name'.");
    }
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kInSegment;
    node->negated = negated;
    node->segment = advance().text;
    node->offset = offset;
    if (node->segment.empty()) fail_at(tokens_[index_ - 1], "a non-empty segment name");
    return node;
  }

  std::string identifier(const char* what) {
    const Token& token = peek();
    if (token.kind != TokenKind::kIdentifier && token.kind != TokenKind::kQuotedIdentifier) {
      fail_at(token, what);
    }
    return advance().text;
  }

  std::vector<std::string> path_expr() {
    std::vector<std::string> path;
    path.push_back(identifier("a column name"));
    while (peek().kind == TokenKind::kDot) {
      advance();
      path.push_back(identifier("a name after \".\""));
    }
    return path;
  }

  static bool aggregate_func(const Token& token, AggregateFunc* out) {
    if (token.kind != TokenKind::kIdentifier) return false;
    static const struct {
      const char* name;
      AggregateFunc func;
    } kFuncs[] = {{"count", AggregateFunc::kCount}, {"sum", AggregateFunc::kSum},
                  {"min", AggregateFunc::kMin},     {"max", AggregateFunc::kMax},
                  {"avg", AggregateFunc::kAvg},     {"exists", AggregateFunc::kExists}};
    for (const auto& f : kFuncs) {
      if (token.text == f.name) {
        *out = f.func;
        return true;
      }
    }
    return false;
  }

  // path, or relation.func(args): the thing a predicate tests.
  Operand operand() {
    Operand result;
    result.path.push_back(identifier("a column name"));
    while (peek().kind == TokenKind::kDot) {
      advance();
      AggregateFunc func;
      if (aggregate_func(peek(), &func) && peek(1).kind == TokenKind::kLeftParen) {
        result.aggregate = aggregate_call(func);
        return result;
      }
      result.path.push_back(identifier("a name after \".\""));
    }
    if (peek().kind == TokenKind::kLeftParen) {
      fail_at(peek(), "an operator",
              "Aggregates are written relation.count(...), relation.sum(column), "
              "relation.exists(...).");
    }
    return result;
  }

  std::unique_ptr<Aggregate> aggregate_call(AggregateFunc func) {
    DepthGuard guard(*this, peek());
    advance();  // function name
    advance();  // (
    auto aggregate = std::make_unique<Aggregate>();
    aggregate->func = func;
    bool takes_column = func != AggregateFunc::kCount && func != AggregateFunc::kExists;
    if (takes_column) {
      if (peek().kind == TokenKind::kRightParen) {
        fail_at(peek(), "a column to aggregate",
                std::string("Write ") + aggregate_func_name(func) + "(column WHERE condition).");
      }
      aggregate->column = path_expr();
      if (accept_keyword("where")) aggregate->condition = or_expr();
    } else if (peek().kind != TokenKind::kRightParen) {
      aggregate->condition = or_expr();
    }
    if (peek().kind != TokenKind::kRightParen) fail_at(peek(), "\")\"");
    advance();
    return aggregate;
  }

  Literal literal(const char* what) {
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::kString:
        return Literal::string(advance().text);
      case TokenKind::kNumber:
        return Literal::number(advance().text);
      case TokenKind::kIdentifier:
        if (token.text == "true" || token.text == "false") {
          return Literal::boolean_value(advance().text == "true");
        }
        if (token.text == "null") {
          fail_at(token, what, "Comparisons with NULL are never true; use IS NULL or IS NOT NULL.");
        }
        fail_at(token, what, "Write text values in single quotes, as in 'gold'.");
      case TokenKind::kQuotedIdentifier:
        fail_at(token, what, "Text values take single quotes; double quotes name columns.");
      default:
        fail_at(token, what);
    }
  }

  std::vector<Literal> literal_list() {
    if (peek().kind != TokenKind::kLeftParen) {
      fail_at(peek(), "\"(\" starting a list of values", "Write lists as ('a', 'b').");
    }
    advance();
    std::vector<Literal> values;
    if (peek().kind == TokenKind::kRightParen) {
      fail_at(peek(), "a value", "A list needs at least one value.");
    }
    values.push_back(literal("a value"));
    while (peek().kind == TokenKind::kComma) {
      advance();
      values.push_back(literal("a value"));
    }
    if (peek().kind != TokenKind::kRightParen) fail_at(peek(), "\",\" or \")\"");
    advance();
    return values;
  }

  NodePtr predicate() {
    auto node = std::make_unique<Node>();
    node->offset = peek().offset;
    node->operand = operand();
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::kEq:
      case TokenKind::kNe:
      case TokenKind::kLt:
      case TokenKind::kLe:
      case TokenKind::kGt:
      case TokenKind::kGe:
        advance();
        node->kind = NodeKind::kCompare;
        node->op = token.kind == TokenKind::kEq   ? CompareOp::kEq
                   : token.kind == TokenKind::kNe ? CompareOp::kNe
                   : token.kind == TokenKind::kLt ? CompareOp::kLt
                   : token.kind == TokenKind::kLe ? CompareOp::kLe
                   : token.kind == TokenKind::kGt ? CompareOp::kGt
                                                  : CompareOp::kGe;
        node->literals.push_back(literal("a value to compare with"));
        return node;
      case TokenKind::kEnd:
      case TokenKind::kRightParen:
        node->kind = NodeKind::kTruth;
        return node;
      default:
        break;
    }
    if (at_keyword("and") || at_keyword("or")) {
      node->kind = NodeKind::kTruth;
      return node;
    }
    if (accept_keyword("is")) {
      node->kind = NodeKind::kIsNull;
      node->negated = accept_keyword("not");
      if (!accept_keyword("null")) {
        fail_at(peek(), "NULL", "Write IS NULL or IS NOT NULL; compare booleans with = true.");
      }
      return node;
    }
    node->negated = accept_keyword("not");
    if (accept_keyword("in")) {
      node->kind = NodeKind::kIn;
      node->literals = literal_list();
    } else if (accept_keyword("between")) {
      node->kind = NodeKind::kBetween;
      node->literals.push_back(literal("the lower bound"));
      expect_keyword("and", "AND between the two bounds");
      node->literals.push_back(literal("the upper bound"));
    } else if (at_keyword("like") || at_keyword("ilike")) {
      node->kind = NodeKind::kLike;
      node->case_insensitive = advance().text == "ilike";
      const Token& pattern = peek();
      if (pattern.kind != TokenKind::kString) {
        fail_at(pattern, "a pattern in single quotes", "Write LIKE '%text%'.");
      }
      check_like_pattern(pattern);
      node->literals.push_back(Literal::string(advance().text));
    } else if (accept_keyword("contains")) {
      node->kind = NodeKind::kContains;
      if (accept_keyword("any")) {
        node->mode = ContainsMode::kAny;
        node->literals = literal_list();
      } else if (accept_keyword("all")) {
        node->mode = ContainsMode::kAll;
        node->literals = literal_list();
      } else {
        node->mode = ContainsMode::kOne;
        node->literals.push_back(literal("a value"));
      }
    } else if (node->negated) {
      fail_at(peek(), "IN, BETWEEN, LIKE, ILIKE or CONTAINS after NOT");
    } else if (accept_keyword("within")) {
      node->kind = NodeKind::kRelTime;
      if (accept_keyword("last")) {
        node->rel_kind = RelTimeKind::kWithinLast;
      } else if (accept_keyword("next")) {
        node->rel_kind = RelTimeKind::kWithinNext;
      } else {
        fail_at(peek(), "LAST or NEXT after WITHIN", "Write WITHIN LAST 7 DAYS.");
      }
      relative_amount(*node);
    } else if (accept_keyword("older")) {
      node->kind = NodeKind::kRelTime;
      node->rel_kind = RelTimeKind::kOlderThan;
      expect_keyword("than", "THAN after OLDER");
      relative_amount(*node);
    } else {
      std::string hint;
      if (token.kind == TokenKind::kString || token.kind == TokenKind::kNumber) {
        hint = "Put an operator such as = between the column and the value.";
      } else if (token.kind == TokenKind::kIdentifier ||
                 token.kind == TokenKind::kQuotedIdentifier) {
        hint = "Combine conditions with AND or OR.";
      }
      fail_at(token, "an operator (=, <>, <, IN, BETWEEN, IS NULL, LIKE, CONTAINS, WITHIN ...)",
              hint);
    }
    return node;
  }

  void relative_amount(Node& node) {
    const Token& amount = peek();
    if (amount.kind != TokenKind::kNumber) {
      fail_at(amount, "a whole number", "Write WITHIN LAST 7 DAYS or OLDER THAN 30 DAYS.");
    }
    std::optional<std::int64_t> value = parse_int64(amount.text);
    if (!value || *value < 1 || *value > limits::kMaxRelativeAmount) {
      throw Error(
          sqlstate::kNumericValueOutOfRange,
          "time amount " + amount.text + " is out of range in segment filter",
          caret_excerpt(text_, amount.offset),
          "Use a whole number from 1 to " + std::to_string(limits::kMaxRelativeAmount) + ".");
    }
    advance();
    node.amount = *value;
    const Token& unit = peek();
    static const struct {
      const char* name;
      TimeUnit unit;
    } kUnits[] = {{"minute", TimeUnit::kMinute}, {"minutes", TimeUnit::kMinute},
                  {"hour", TimeUnit::kHour},     {"hours", TimeUnit::kHour},
                  {"day", TimeUnit::kDay},       {"days", TimeUnit::kDay},
                  {"week", TimeUnit::kWeek},     {"weeks", TimeUnit::kWeek},
                  {"month", TimeUnit::kMonth},   {"months", TimeUnit::kMonth}};
    if (unit.kind == TokenKind::kIdentifier) {
      for (const auto& u : kUnits) {
        if (unit.text == u.name) {
          node.unit = u.unit;
          advance();
          return;
        }
      }
    }
    fail_at(unit, "a time unit", "Units are MINUTES, HOURS, DAYS, WEEKS and MONTHS.");
  }

  // LIKE patterns may not end with the escape character: PostgreSQL would raise at match time.
  void check_like_pattern(const Token& pattern) {
    if (like_pattern_ends_with_escape(pattern.text)) {
      throw_syntax_error(text_, pattern.offset,
                         "LIKE pattern must not end with the escape character in segment filter",
                         "Write \\\\ to match a backslash.");
    }
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  std::size_t index_ = 0;
  std::size_t depth_ = 0;
};

void check_length(std::string_view text) {
  if (text.size() > limits::kMaxFilterBytes) {
    throw Error(sqlstate::kProgramLimitExceeded, "segment filter is too long",
                "The filter has " + std::to_string(text.size()) + " bytes; the limit is " +
                    std::to_string(limits::kMaxFilterBytes) + ".",
                "Split long value lists into a static segment or a lookup column.");
  }
}

}  // namespace

bool like_pattern_ends_with_escape(std::string_view pattern) {
  std::size_t trailing_backslashes = 0;
  for (auto it = pattern.rbegin(); it != pattern.rend() && *it == '\\'; ++it) {
    ++trailing_backslashes;
  }
  return trailing_backslashes % 2 == 1;
}

NodePtr parse_filter(std::string_view text) {
  check_length(text);
  return Parser(text).parse_whole();
}

std::vector<std::string> parse_path(std::string_view text) {
  check_length(text);
  return Parser(text).parse_path_only();
}

}  // namespace pgseg
