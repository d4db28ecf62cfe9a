// Construction, normalisation, copying and comparison of syntax trees.
#include "core/ast.hpp"

#include <algorithm>

namespace pgseg {

NodePtr make_const(bool value) {
  auto node = std::make_unique<Node>();
  node->kind = NodeKind::kConst;
  node->value = value;
  return node;
}

NodePtr make_group(NodeKind kind, std::vector<NodePtr> children) {
  if (children.size() == 1) return std::move(children.front());
  auto node = std::make_unique<Node>();
  node->kind = kind;
  if (!children.empty()) node->offset = children.front()->offset;
  for (auto& child : children) {
    // (a AND b) AND c is a AND b AND c: flatten so that equal filters print equal.
    if (child->kind == kind) {
      for (auto& grandchild : child->children) node->children.push_back(std::move(grandchild));
    } else {
      node->children.push_back(std::move(child));
    }
  }
  return node;
}

CompareOp negate(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return CompareOp::kNe;
    case CompareOp::kNe:
      return CompareOp::kEq;
    case CompareOp::kLt:
      return CompareOp::kGe;
    case CompareOp::kLe:
      return CompareOp::kGt;
    case CompareOp::kGt:
      return CompareOp::kLe;
    case CompareOp::kGe:
      return CompareOp::kLt;
  }
  return op;
}

NodePtr make_not(NodePtr child) {
  // Every rewrite below keeps SQL's three-valued result: NOT x < 5 and x >= 5 are both NULL
  // when x is NULL, and all comparable types are totally ordered.
  switch (child->kind) {
    case NodeKind::kNot:
      return std::move(child->children.front());
    case NodeKind::kConst:
      child->value = !child->value;
      return child;
    case NodeKind::kCompare:
      child->op = negate(child->op);
      return child;
    case NodeKind::kIn:
    case NodeKind::kBetween:
    case NodeKind::kIsNull:
    case NodeKind::kLike:
    case NodeKind::kContains:
    case NodeKind::kInSegment:
      child->negated = !child->negated;
      return child;
    case NodeKind::kAnd:
    case NodeKind::kOr:
    case NodeKind::kRelTime:
    case NodeKind::kTruth:
      break;
  }
  auto node = std::make_unique<Node>();
  node->kind = NodeKind::kNot;
  node->offset = child->offset;
  node->children.push_back(std::move(child));
  return node;
}

NodePtr clone(const Node& node) {
  auto copy = std::make_unique<Node>();
  copy->kind = node.kind;
  copy->negated = node.negated;
  copy->value = node.value;
  copy->case_insensitive = node.case_insensitive;
  copy->op = node.op;
  copy->mode = node.mode;
  copy->rel_kind = node.rel_kind;
  copy->unit = node.unit;
  copy->amount = node.amount;
  copy->operand.path = node.operand.path;
  if (node.operand.aggregate) {
    copy->operand.aggregate = std::make_unique<Aggregate>();
    copy->operand.aggregate->func = node.operand.aggregate->func;
    copy->operand.aggregate->column = node.operand.aggregate->column;
    if (node.operand.aggregate->condition) {
      copy->operand.aggregate->condition = clone(*node.operand.aggregate->condition);
    }
  }
  copy->literals = node.literals;
  for (const auto& child : node.children) copy->children.push_back(clone(*child));
  copy->segment = node.segment;
  copy->offset = node.offset;
  return copy;
}

namespace {

bool equal_aggregates(const Aggregate* a, const Aggregate* b) {
  if (!a || !b) return a == b;
  if (a->func != b->func || a->column != b->column) return false;
  if (!a->condition || !b->condition) return a->condition == b->condition;
  return equal(*a->condition, *b->condition);
}

}  // namespace

bool equal(const Node& a, const Node& b) {
  if (a.kind != b.kind || a.negated != b.negated || a.value != b.value ||
      a.case_insensitive != b.case_insensitive || a.op != b.op || a.mode != b.mode ||
      a.rel_kind != b.rel_kind || a.unit != b.unit || a.amount != b.amount ||
      a.operand.path != b.operand.path || a.literals != b.literals || a.segment != b.segment ||
      a.children.size() != b.children.size()) {
    return false;
  }
  if (!equal_aggregates(a.operand.aggregate.get(), b.operand.aggregate.get())) return false;
  for (std::size_t i = 0; i < a.children.size(); ++i) {
    if (!equal(*a.children[i], *b.children[i])) return false;
  }
  return true;
}

const char* compare_op_text(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "<>";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "=";
}

const char* aggregate_func_name(AggregateFunc f) {
  switch (f) {
    case AggregateFunc::kCount:
      return "count";
    case AggregateFunc::kSum:
      return "sum";
    case AggregateFunc::kMin:
      return "min";
    case AggregateFunc::kMax:
      return "max";
    case AggregateFunc::kAvg:
      return "avg";
    case AggregateFunc::kExists:
      return "exists";
  }
  return "count";
}

const char* time_unit_name(TimeUnit unit, bool plural) {
  switch (unit) {
    case TimeUnit::kMinute:
      return plural ? "MINUTES" : "MINUTE";
    case TimeUnit::kHour:
      return plural ? "HOURS" : "HOUR";
    case TimeUnit::kDay:
      return plural ? "DAYS" : "DAY";
    case TimeUnit::kWeek:
      return plural ? "WEEKS" : "WEEK";
    case TimeUnit::kMonth:
      return plural ? "MONTHS" : "MONTH";
  }
  return "DAYS";
}

std::size_t depth(const Node& node) {
  std::size_t deepest = 0;
  for (const auto& child : node.children) deepest = std::max(deepest, depth(*child));
  if (node.operand.aggregate && node.operand.aggregate->condition) {
    deepest = std::max(deepest, depth(*node.operand.aggregate->condition));
  }
  return deepest + 1;
}

}  // namespace pgseg
