// Printer of the canonical text form: upper-case keywords, minimal parentheses.
#include "core/printer.hpp"

#include <algorithm>

#include "core/lexer.hpp"

namespace pgseg {

namespace {

// Binding strength, as in the parser: OR < AND < NOT < predicate.
int precedence(const Node& node) {
  switch (node.kind) {
    case NodeKind::kOr:
      return 0;
    case NodeKind::kAnd:
      return 1;
    case NodeKind::kNot:
      return 2;
    default:
      return 3;
  }
}

void print_node(const Node& node, std::string& out);

void print_child(const Node& child, int min_precedence, std::string& out) {
  if (precedence(child) < min_precedence) {
    out += '(';
    print_node(child, out);
    out += ')';
  } else {
    print_node(child, out);
  }
}

void print_list(const std::vector<Literal>& literals, std::string& out) {
  out += '(';
  for (std::size_t i = 0; i < literals.size(); ++i) {
    if (i > 0) out += ", ";
    out += print_literal(literals[i]);
  }
  out += ')';
}

void print_operand(const Operand& operand, std::string& out) {
  out += print_path(operand.path);
  if (!operand.aggregate) return;
  const Aggregate& aggregate = *operand.aggregate;
  out += '.';
  out += aggregate_func_name(aggregate.func);
  out += '(';
  if (!aggregate.column.empty()) {
    out += print_path(aggregate.column);
    if (aggregate.condition) out += " WHERE ";
  }
  if (aggregate.condition) print_node(*aggregate.condition, out);
  out += ')';
}

void print_node(const Node& node, std::string& out) {
  switch (node.kind) {
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      const char* joiner = node.kind == NodeKind::kAnd ? " AND " : " OR ";
      for (std::size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) out += joiner;
        // A nested group of the same kind cannot occur (groups are flattened), so a child
        // needs parentheses only when it binds more loosely.
        print_child(*node.children[i], precedence(node) + 1, out);
      }
      return;
    }
    case NodeKind::kNot:
      out += "NOT ";
      print_child(*node.children.front(), 3, out);
      return;
    case NodeKind::kConst:
      out += node.value ? "TRUE" : "FALSE";
      return;
    case NodeKind::kInSegment:
      out += node.negated ? "NOT IN SEGMENT " : "IN SEGMENT ";
      out += print_literal(Literal::string(node.segment));
      return;
    default:
      break;
  }
  print_operand(node.operand, out);
  switch (node.kind) {
    case NodeKind::kCompare:
      out += ' ';
      out += compare_op_text(node.op);
      out += ' ';
      out += print_literal(node.literals.front());
      return;
    case NodeKind::kIn:
      out += node.negated ? " NOT IN " : " IN ";
      print_list(node.literals, out);
      return;
    case NodeKind::kBetween:
      out += node.negated ? " NOT BETWEEN " : " BETWEEN ";
      out += print_literal(node.literals[0]);
      out += " AND ";
      out += print_literal(node.literals[1]);
      return;
    case NodeKind::kIsNull:
      out += node.negated ? " IS NOT NULL" : " IS NULL";
      return;
    case NodeKind::kLike:
      out += node.negated ? " NOT " : " ";
      out += node.case_insensitive ? "ILIKE " : "LIKE ";
      out += print_literal(node.literals.front());
      return;
    case NodeKind::kContains:
      out += node.negated ? " NOT CONTAINS" : " CONTAINS";
      if (node.mode == ContainsMode::kOne) {
        out += ' ';
        out += print_literal(node.literals.front());
      } else {
        out += node.mode == ContainsMode::kAny ? " ANY " : " ALL ";
        print_list(node.literals, out);
      }
      return;
    case NodeKind::kRelTime:
      out += node.rel_kind == RelTimeKind::kWithinLast   ? " WITHIN LAST "
             : node.rel_kind == RelTimeKind::kWithinNext ? " WITHIN NEXT "
                                                         : " OLDER THAN ";
      out += std::to_string(node.amount);
      out += ' ';
      out += time_unit_name(node.unit, node.amount != 1);
      return;
    case NodeKind::kTruth:
      return;
    default:
      return;
  }
}

bool needs_quotes(std::string_view name) {
  if (name.empty()) return true;
  char first = name.front();
  if (!((first >= 'a' && first <= 'z') || first == '_')) return true;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$')) return true;
  }
  return is_reserved_word(name);
}

// Mirrors print_node: one level per parenthesised child, per NOT and per aggregate call.
std::size_t depth_of(const Node& node) {
  switch (node.kind) {
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      std::size_t deepest = 0;
      for (const auto& child : node.children) {
        std::size_t d = depth_of(*child) + (precedence(*child) < precedence(node) + 1 ? 1 : 0);
        deepest = std::max(deepest, d);
      }
      return deepest;
    }
    case NodeKind::kNot: {
      const Node& child = *node.children.front();
      return 1 + depth_of(child) + (precedence(child) < 3 ? 1 : 0);
    }
    default:
      break;
  }
  if (node.operand.aggregate) {
    const Aggregate& aggregate = *node.operand.aggregate;
    return 1 + (aggregate.condition ? depth_of(*aggregate.condition) : 0);
  }
  return 0;
}

}  // namespace

std::size_t nesting_depth(const Node& node) {
  return depth_of(node);
}

std::string print_filter(const Node& node) {
  std::string out;
  print_node(node, out);
  return out;
}

std::string print_identifier(std::string_view name) {
  if (!needs_quotes(name)) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string print_path(const std::vector<std::string>& path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += '.';
    out += print_identifier(path[i]);
  }
  return out;
}

std::string print_literal(const Literal& literal) {
  switch (literal.kind) {
    case LiteralKind::kNumber:
      return literal.text;
    case LiteralKind::kBoolean:
      return literal.boolean ? "TRUE" : "FALSE";
    case LiteralKind::kString:
      break;
  }
  std::string out = "'";
  for (char c : literal.text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

}  // namespace pgseg
