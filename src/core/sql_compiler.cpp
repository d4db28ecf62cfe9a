// SQL generation. Every literal is quoted here and every identifier by the dialect, so no
// text from a filter can change the statement's structure.
#include "core/sql_compiler.hpp"

#include "core/json.hpp"

namespace pgseg {

std::string sql_string_literal(std::string_view text) {
  bool has_backslash = text.find('\\') != std::string_view::npos;
  std::string out = has_backslash ? "E'" : "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    if (c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string interval_text(std::int64_t amount, TimeUnit unit) {
  const char* name = "days";
  switch (unit) {
    case TimeUnit::kMinute:
      name = "minutes";
      break;
    case TimeUnit::kHour:
      name = "hours";
      break;
    case TimeUnit::kDay:
      name = "days";
      break;
    case TimeUnit::kWeek:
      name = "weeks";
      break;
    case TimeUnit::kMonth:
      name = "months";
      break;
  }
  return std::to_string(amount) + " " + name;
}

namespace {

class SqlCompiler {
 public:
  SqlCompiler(const BoundFilter& bound, const SqlDialect& dialect, const SqlOptions& options)
      : bound_(bound), dialect_(dialect), options_(options) {}

  std::string compile(const Node& node) {
    switch (node.kind) {
      case NodeKind::kAnd:
      case NodeKind::kOr: {
        std::string out;
        const char* joiner = node.kind == NodeKind::kAnd ? " AND " : " OR ";
        for (std::size_t i = 0; i < node.children.size(); ++i) {
          if (i > 0) out += joiner;
          const Node& child = *node.children[i];
          bool wrap = child.kind == NodeKind::kOr || child.kind == NodeKind::kAnd;
          out += wrap ? "(" + compile(child) + ")" : compile(child);
        }
        return out;
      }
      case NodeKind::kNot:
        return "NOT (" + compile(*node.children.front()) + ")";
      case NodeKind::kConst:
        return node.value ? "TRUE" : "FALSE";
      default:
        return predicate(node);
    }
  }

 private:
  std::string column_sql(const Binding& binding) const {
    std::string column = dialect_.quote_identifier(binding.column->name);
    if (!options_.row_alias.empty()) {
      column = dialect_.quote_identifier(options_.row_alias) + "." + column;
    }
    return column;
  }

  std::string operand_sql(const Binding& binding) const {
    std::string column = column_sql(binding);
    if (binding.json_path.empty()) return column;
    const char* accessor = "jsonb_value";
    switch (binding.kind) {
      case ValueKind::kJsonString:
        accessor = "jsonb_text";
        break;
      case ValueKind::kJsonNumber:
        accessor = "jsonb_number";
        break;
      case ValueKind::kJsonBool:
        accessor = "jsonb_bool";
        break;
      case ValueKind::kJsonTime:
        accessor = "jsonb_timestamptz";
        break;
      case ValueKind::kJsonArray:
        accessor = "jsonb_array";
        break;
      case ValueKind::kJsonAny:
      case ValueKind::kColumn:
        accessor = "jsonb_value";
        break;
    }
    std::string out = std::string("segments.") + accessor + "(" + column;
    for (const std::string& key : binding.json_path) out += ", " + sql_string_literal(key);
    out += ")";
    return out;
  }

  static std::string literal_sql(const Literal& literal, const Binding& binding) {
    switch (literal.kind) {
      case LiteralKind::kString:
        return sql_string_literal(literal.text);
      case LiteralKind::kBoolean:
        return literal.boolean ? "TRUE" : "FALSE";
      case LiteralKind::kNumber:
        // Floats compare in double precision (PostgreSQL's float48 and float8 operators);
        // integers and numerics compare exactly, as the evaluator does.
        if (binding.json_path.empty() && binding.column->type.category == TypeCategory::kFloat) {
          return sql_string_literal(literal.text) + "::double precision";
        }
        return literal.text;
    }
    return "NULL";
  }

  static std::string list_sql(const std::vector<Literal>& literals, const Binding& binding) {
    std::string out = "(";
    for (std::size_t i = 0; i < literals.size(); ++i) {
      if (i > 0) out += ", ";
      out += literal_sql(literals[i], binding);
    }
    return out + ")";
  }

  // Array literal text {"a","b"}; the column's own array type reads it.
  static std::string array_literal(const std::vector<Literal>& literals) {
    std::string text = "{";
    for (std::size_t i = 0; i < literals.size(); ++i) {
      if (i > 0) text += ',';
      const Literal& literal = literals[i];
      std::string element = literal.kind == LiteralKind::kBoolean
                                ? std::string(literal.boolean ? "true" : "false")
                                : literal.text;
      text += '"';
      for (char c : element) {
        if (c == '"' || c == '\\') text += '\\';
        text += c;
      }
      text += '"';
    }
    text += '}';
    return sql_string_literal(text);
  }

  static Json json_literal(const Literal& literal) {
    switch (literal.kind) {
      case LiteralKind::kString:
        return Json::string(literal.text);
      case LiteralKind::kNumber:
        return Json::number(literal.text);
      case LiteralKind::kBoolean:
        return Json::boolean(literal.boolean);
    }
    return Json::null();
  }

  static std::string json_array_literal(const std::vector<Literal>& literals) {
    Json array = Json::array();
    for (const Literal& literal : literals) array.push(json_literal(literal));
    return sql_string_literal(to_json_text(array));
  }

  std::string contains_sql(const Node& node, const Binding& binding) const {
    std::string operand = operand_sql(binding);
    std::string test;
    if (binding.json_path.empty()) {
      const char* op = node.mode == ContainsMode::kAny ? " && " : " @> ";
      test = operand + op + array_literal(node.literals);
    } else if (node.mode == ContainsMode::kAny) {
      for (std::size_t i = 0; i < node.literals.size(); ++i) {
        if (i > 0) test += " OR ";
        test += operand + " @> " + json_array_literal({node.literals[i]});
      }
    } else {
      test = operand + " @> " + json_array_literal(node.literals);
    }
    // A NULL array (or a missing JSON array) is the empty set: CONTAINS is false, not unknown.
    std::string out = "COALESCE(" + test + ", FALSE)";
    return node.negated ? "NOT " + out : out;
  }

  std::string relative_time_sql(const Node& node, const Binding& binding) const {
    std::string operand = operand_sql(binding);
    std::string interval = sql_string_literal(interval_text(node.amount, node.unit)) + "::interval";
    switch (node.rel_kind) {
      case RelTimeKind::kWithinLast:
        return "(" + operand + " >= now() - " + interval + " AND " + operand + " <= now())";
      case RelTimeKind::kWithinNext:
        return "(" + operand + " >= now() AND " + operand + " <= now() + " + interval + ")";
      case RelTimeKind::kOlderThan:
        return operand + " < now() - " + interval;
    }
    return "FALSE";
  }

  std::string predicate(const Node& node) const {
    const Binding& binding = bound_.binding(node);
    switch (node.kind) {
      case NodeKind::kCompare:
        return operand_sql(binding) + " " + compare_op_text(node.op) + " " +
               literal_sql(node.literals.front(), binding);
      case NodeKind::kIn:
        return operand_sql(binding) + (node.negated ? " NOT IN " : " IN ") +
               list_sql(node.literals, binding);
      case NodeKind::kBetween:
        return operand_sql(binding) + (node.negated ? " NOT BETWEEN " : " BETWEEN ") +
               literal_sql(node.literals[0], binding) + " AND " +
               literal_sql(node.literals[1], binding);
      case NodeKind::kIsNull:
        return operand_sql(binding) + (node.negated ? " IS NOT NULL" : " IS NULL");
      case NodeKind::kLike:
        return operand_sql(binding) + (node.negated ? " NOT" : "") +
               (node.case_insensitive ? " ILIKE " : " LIKE ") +
               sql_string_literal(node.literals.front().text);
      case NodeKind::kContains:
        return contains_sql(node, binding);
      case NodeKind::kRelTime:
        return relative_time_sql(node, binding);
      case NodeKind::kTruth:
        return operand_sql(binding);
      default:
        return "FALSE";
    }
  }

  const BoundFilter& bound_;
  const SqlDialect& dialect_;
  const SqlOptions& options_;
};

}  // namespace

std::string compile_sql(const Node& root, const BoundFilter& bound, const SqlDialect& dialect,
                        const SqlOptions& options) {
  return SqlCompiler(bound, dialect, options).compile(root);
}

}  // namespace pgseg
