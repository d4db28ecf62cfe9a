// The filter language's syntax tree.
//
// One node type covers every construct. Operands are paths of identifiers whose meaning (a
// column, keys inside a jsonb column, a many-to-one relationship) is decided when the filter is
// bound to an object, so relationships and aggregates need no new syntax tree shapes.
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pgseg {

enum class LiteralKind : std::uint8_t { kString, kNumber, kBoolean };

// A constant written in a filter. Numbers are kept as canonical decimal text (exact).
struct Literal {
  LiteralKind kind = LiteralKind::kString;
  std::string text;      // string contents, or canonical decimal for numbers
  bool boolean = false;  // for kBoolean

  static Literal string(std::string s) { return {LiteralKind::kString, std::move(s), false}; }
  static Literal number(std::string canonical) {
    return {LiteralKind::kNumber, std::move(canonical), false};
  }
  static Literal boolean_value(bool b) { return {LiteralKind::kBoolean, {}, b}; }
  bool operator==(const Literal& o) const {
    return kind == o.kind && text == o.text && boolean == o.boolean;
  }
};

enum class NodeKind : std::uint8_t {
  kAnd,
  kOr,
  kNot,
  kConst,      // TRUE / FALSE
  kCompare,    // operand op literal
  kIn,         // operand [NOT] IN (literals)
  kBetween,    // operand [NOT] BETWEEN literal AND literal
  kIsNull,     // operand IS [NOT] NULL
  kLike,       // operand [NOT] LIKE / ILIKE pattern
  kContains,   // operand [NOT] CONTAINS [ANY|ALL] literals
  kRelTime,    // operand WITHIN LAST / WITHIN NEXT / OLDER THAN n unit
  kTruth,      // a bare boolean operand
  kInSegment,  // [NOT] IN SEGMENT 'system-name'
};

enum class CompareOp : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
enum class ContainsMode : std::uint8_t { kOne, kAny, kAll };
enum class RelTimeKind : std::uint8_t { kWithinLast, kWithinNext, kOlderThan };
enum class TimeUnit : std::uint8_t { kMinute, kHour, kDay, kWeek, kMonth };
enum class AggregateFunc : std::uint8_t { kCount, kSum, kMin, kMax, kAvg, kExists };

struct Node;
using NodePtr = std::unique_ptr<Node>;

// relation.func(column WHERE condition): an aggregate over the rows of a related table.
struct Aggregate {
  AggregateFunc func = AggregateFunc::kCount;
  std::vector<std::string> column;  // argument of sum/min/max/avg; empty for count/exists
  NodePtr condition;                // optional filter over the related rows
};

// What a predicate tests: a path of identifiers, optionally ending in an aggregate call.
struct Operand {
  std::vector<std::string> path;
  std::unique_ptr<Aggregate> aggregate;
};

struct Node {
  NodeKind kind = NodeKind::kConst;
  bool negated = false;  // NOT IN, NOT BETWEEN, IS NOT NULL, NOT LIKE, NOT CONTAINS, NOT IN SEGMENT
  bool value = false;    // kConst
  bool case_insensitive = false;  // kLike: ILIKE
  CompareOp op = CompareOp::kEq;
  ContainsMode mode = ContainsMode::kOne;
  RelTimeKind rel_kind = RelTimeKind::kWithinLast;
  TimeUnit unit = TimeUnit::kDay;
  std::int64_t amount = 0;  // kRelTime
  Operand operand;
  std::vector<Literal> literals;
  std::vector<NodePtr> children;  // kAnd, kOr: two or more; kNot: one
  std::string segment;            // kInSegment
  std::size_t offset = 0;         // byte offset in the parsed text; diagnostics only

  bool is_predicate() const {
    return kind != NodeKind::kAnd && kind != NodeKind::kOr && kind != NodeKind::kNot &&
           kind != NodeKind::kConst;
  }
};

NodePtr make_const(bool value);
NodePtr make_group(NodeKind kind, std::vector<NodePtr> children);  // flattens nested groups
NodePtr make_not(NodePtr child);  // pushes NOT into predicates that have a negated form

NodePtr clone(const Node& node);
bool equal(const Node& a, const Node& b);  // structural equality, ignoring offsets

CompareOp negate(CompareOp op);
const char* compare_op_text(CompareOp op);
const char* aggregate_func_name(AggregateFunc f);
const char* time_unit_name(TimeUnit unit, bool plural);

// Depth of the deepest node, for checking limits after construction from JSON.
std::size_t depth(const Node& node);

// Calls visit on every predicate node of the tree (aggregate conditions included).
template <typename Visit>
void for_each_predicate(const Node& node, Visit&& visit) {
  if (node.is_predicate()) {
    visit(node);
    if (node.operand.aggregate && node.operand.aggregate->condition) {
      for_each_predicate(*node.operand.aggregate->condition, visit);
    }
    return;
  }
  for (const auto& child : node.children) for_each_predicate(*child, visit);
}

}  // namespace pgseg
