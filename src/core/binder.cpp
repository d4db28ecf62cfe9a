// Validation of filters against an object's columns and the typing rules of the language.
#include "core/binder.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/printer.hpp"

namespace pgseg {

const char* category_name(TypeCategory category) {
  switch (category) {
    case TypeCategory::kText:
      return "text";
    case TypeCategory::kBpchar:
      return "character";
    case TypeCategory::kInteger:
      return "integer";
    case TypeCategory::kNumeric:
      return "numeric";
    case TypeCategory::kFloat:
      return "floating-point";
    case TypeCategory::kBool:
      return "boolean";
    case TypeCategory::kDate:
      return "date";
    case TypeCategory::kTimestamp:
      return "timestamp";
    case TypeCategory::kTimestampTz:
      return "timestamptz";
    case TypeCategory::kEnum:
      return "enum";
    case TypeCategory::kJsonb:
      return "jsonb";
    case TypeCategory::kArray:
      return "array";
    case TypeCategory::kOther:
      return "other";
    case TypeCategory::kUnsupported:
      return "unsupported";
  }
  return "unsupported";
}

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const std::string& candidate : candidates) {
    // Levenshtein distance with one row of memory.
    std::vector<std::size_t> row(candidate.size() + 1);
    for (std::size_t j = 0; j <= candidate.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= name.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= candidate.size(); ++j) {
        std::size_t above = row[j];
        std::size_t cost = name[i - 1] == candidate[j - 1] ? 0 : 1;
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
        diagonal = above;
      }
    }
    if (row[candidate.size()] < best_distance) {
      best_distance = row[candidate.size()];
      best = candidate;
    }
  }
  return best;
}

namespace {

enum class LiteralNeed { kString, kNumber, kBoolean, kNone };

LiteralNeed literal_need(TypeCategory category) {
  switch (category) {
    case TypeCategory::kText:
    case TypeCategory::kBpchar:
    case TypeCategory::kEnum:
    case TypeCategory::kDate:
    case TypeCategory::kTimestamp:
    case TypeCategory::kTimestampTz:
    case TypeCategory::kOther:
      return LiteralNeed::kString;
    case TypeCategory::kInteger:
    case TypeCategory::kNumeric:
    case TypeCategory::kFloat:
      return LiteralNeed::kNumber;
    case TypeCategory::kBool:
      return LiteralNeed::kBoolean;
    default:
      return LiteralNeed::kNone;
  }
}

const char* literal_kind_name(LiteralKind kind) {
  switch (kind) {
    case LiteralKind::kString:
      return "a string";
    case LiteralKind::kNumber:
      return "a number";
    case LiteralKind::kBoolean:
      return "a boolean";
  }
  return "a value";
}

std::string operator_name(const Node& node) {
  switch (node.kind) {
    case NodeKind::kCompare:
      return compare_op_text(node.op);
    case NodeKind::kIn:
      return node.negated ? "NOT IN" : "IN";
    case NodeKind::kBetween:
      return node.negated ? "NOT BETWEEN" : "BETWEEN";
    case NodeKind::kLike:
      return node.case_insensitive ? "ILIKE" : "LIKE";
    case NodeKind::kContains:
      return node.mode == ContainsMode::kOne   ? "CONTAINS"
             : node.mode == ContainsMode::kAny ? "CONTAINS ANY"
                                               : "CONTAINS ALL";
    case NodeKind::kRelTime:
      return node.rel_kind == RelTimeKind::kWithinLast   ? "WITHIN LAST"
             : node.rel_kind == RelTimeKind::kWithinNext ? "WITHIN NEXT"
                                                         : "OLDER THAN";
    case NodeKind::kIsNull:
      return "IS NULL";
    default:
      return "?";
  }
}

const char* supported_operators(TypeCategory category) {
  switch (category) {
    case TypeCategory::kText:
    case TypeCategory::kBpchar:
      return "=, <>, <, <=, >, >=, IN, BETWEEN, LIKE, ILIKE and IS NULL";
    case TypeCategory::kBool:
      return "=, <>, IN, IS NULL, or the column alone as a condition";
    case TypeCategory::kDate:
    case TypeCategory::kTimestamp:
    case TypeCategory::kTimestampTz:
      return "=, <>, <, <=, >, >=, IN, BETWEEN, IS NULL, WITHIN LAST, WITHIN NEXT and OLDER "
             "THAN";
    case TypeCategory::kArray:
      return "CONTAINS, CONTAINS ANY, CONTAINS ALL (and their NOT forms) and IS NULL";
    case TypeCategory::kJsonb:
      return "IS NULL; compare a key instead, as in attrs.plan = 'pro'";
    case TypeCategory::kUnsupported:
      return "IS NULL only";
    default:
      return "=, <>, <, <=, >, >=, IN, BETWEEN and IS NULL";
  }
}

class Binder {
 public:
  Binder(const ObjectSchema& schema, BoundFilter& out) : schema_(schema), out_(out) {}

  void bind(const Node& node) {
    switch (node.kind) {
      case NodeKind::kAnd:
      case NodeKind::kOr:
      case NodeKind::kNot:
        for (const auto& child : node.children) bind(*child);
        return;
      case NodeKind::kConst:
        return;
      case NodeKind::kInSegment:
        throw Error(sqlstate::kFeatureNotSupported,
                    "IN SEGMENT conditions are not supported by this version of pg_segments",
                    "in condition: " + print_filter(node));
      default:
        bind_predicate(node);
    }
  }

 private:
  [[noreturn]] void fail(const char* code, const Node& node, std::string message,
                         std::string hint = {}) const {
    throw Error(code, std::move(message), "in condition: " + print_filter(node), std::move(hint));
  }

  std::string column_label(const Binding& binding) const {
    std::string label = "column " + quoted(binding.column->name);
    if (!binding.json_path.empty()) {
      std::vector<std::string> path{binding.column->name};
      path.insert(path.end(), binding.json_path.begin(), binding.json_path.end());
      return "key " + quoted(print_path(path));
    }
    return label + " of type " + binding.column->type.name;
  }

  Binding resolve(const Node& node) const {
    const Operand& operand = node.operand;
    if (operand.aggregate) {
      fail(sqlstate::kFeatureNotSupported, node,
           "aggregates over related tables are not supported by this version of pg_segments");
    }
    const Column* column = schema_.find_column(operand.path.front());
    if (column == nullptr) {
      std::string message =
          "column " + quoted(operand.path.front()) + " does not exist in " + schema_.object_name();
      std::string suggestion = closest_name(operand.path.front(), schema_.column_names());
      std::string hint;
      if (!suggestion.empty()) {
        std::vector<std::string> fixed = operand.path;
        fixed.front() = suggestion;
        hint = "Perhaps you meant " + quoted(print_path(fixed)) + ".";
      } else if (operand.path.size() > 1) {
        hint = "Filters over related tables are not supported by this version of pg_segments.";
      } else {
        std::string list;
        std::vector<std::string> names = schema_.column_names();
        for (std::size_t i = 0; i < names.size() && i < 20; ++i) {
          if (i > 0) list += ", ";
          list += print_identifier(names[i]);
        }
        if (names.size() > 20) list += ", ...";
        hint = "Columns of " + schema_.object_name() + ": " + list + ".";
      }
      fail(sqlstate::kUndefinedColumn, node, std::move(message), std::move(hint));
    }
    Binding binding;
    binding.column = column;
    if (operand.path.size() > 1) {
      if (column->type.category != TypeCategory::kJsonb) {
        fail(sqlstate::kDatatypeMismatch, node,
             "column " + quoted(column->name) + " is of type " + column->type.name +
                 " and has no keys",
             "Keys can be read from jsonb columns only, as in attrs.plan.");
      }
      binding.json_path.assign(operand.path.begin() + 1, operand.path.end());
    }
    return binding;
  }

  void bind_predicate(const Node& node) {
    Binding binding = resolve(node);
    if (binding.json_path.empty()) {
      check_column_predicate(node, binding);
    } else {
      binding.kind = json_value_kind(node, binding);
    }
    out_.add(node, std::move(binding));
  }

  void require_literals(const Node& node, const Binding& binding, TypeCategory category,
                        bool element) const {
    LiteralNeed need = literal_need(category);
    for (const Literal& literal : node.literals) {
      bool ok = (need == LiteralNeed::kString && literal.kind == LiteralKind::kString) ||
                (need == LiteralNeed::kNumber && literal.kind == LiteralKind::kNumber) ||
                (need == LiteralNeed::kBoolean && literal.kind == LiteralKind::kBoolean);
      if (!ok) {
        std::string hint;
        if (need == LiteralNeed::kString) {
          hint = "Write the value in single quotes, as in '" +
                 (literal.kind == LiteralKind::kNumber
                      ? literal.text
                      : std::string(literal.boolean ? "true" : "false")) +
                 "'.";
        } else if (need == LiteralNeed::kNumber) {
          hint = "Write the number without quotes.";
        } else if (need == LiteralNeed::kBoolean) {
          hint = "Compare booleans with TRUE or FALSE.";
        }
        fail(sqlstate::kDatatypeMismatch, node,
             std::string("cannot compare ") + (element ? "elements of " : "") +
                 column_label(binding) + " with " + literal_kind_name(literal.kind),
             std::move(hint));
      }
      try {
        schema_.check_literal(*binding.column, literal, element);
      } catch (const Error& e) {
        std::string detail = e.detail().empty() ? "" : e.detail() + "\n";
        throw Error(e.sqlstate(), e.what(), detail + "in condition: " + print_filter(node),
                    e.hint());
      }
    }
  }

  [[noreturn]] void unsupported_operator(const Node& node, const Binding& binding,
                                         TypeCategory category) const {
    fail(sqlstate::kUndefinedFunction, node,
         "operator " + operator_name(node) + " is not supported for " + column_label(binding),
         std::string("Operators for this type: ") + supported_operators(category) + ".");
  }

  void check_column_predicate(const Node& node, const Binding& binding) const {
    const ColumnType& type = binding.column->type;
    const TypeCategory category = type.category;
    switch (node.kind) {
      case NodeKind::kIsNull:
        return;
      case NodeKind::kCompare:
      case NodeKind::kIn:
      case NodeKind::kBetween:
        if (literal_need(category) == LiteralNeed::kNone)
          unsupported_operator(node, binding, category);
        if (category == TypeCategory::kBool &&
            (node.kind == NodeKind::kBetween ||
             (node.kind == NodeKind::kCompare && node.op != CompareOp::kEq &&
              node.op != CompareOp::kNe))) {
          unsupported_operator(node, binding, category);
        }
        require_literals(node, binding, category, false);
        return;
      case NodeKind::kLike:
        if (category != TypeCategory::kText && category != TypeCategory::kBpchar) {
          unsupported_operator(node, binding, category);
        }
        if (!type.collation_deterministic) {
          // PostgreSQL refuses LIKE under such collations when the query runs.
          fail(sqlstate::kFeatureNotSupported, node,
               "LIKE and ILIKE are not supported for " + column_label(binding) +
                   " because its collation is nondeterministic");
        }
        return;
      case NodeKind::kContains:
        if (category != TypeCategory::kArray || literal_need(type.element) == LiteralNeed::kNone) {
          unsupported_operator(node, binding, category);
        }
        require_literals(node, binding, type.element, true);
        return;
      case NodeKind::kRelTime:
        if (category != TypeCategory::kDate && category != TypeCategory::kTimestamp &&
            category != TypeCategory::kTimestampTz) {
          unsupported_operator(node, binding, category);
        }
        return;
      case NodeKind::kTruth:
        if (category != TypeCategory::kBool) {
          fail(sqlstate::kDatatypeMismatch, node,
               column_label(binding) + " is not a boolean condition",
               "Compare it with a value, as in " + print_identifier(binding.column->name) +
                   " = ....");
        }
        return;
      default:
        unsupported_operator(node, binding, category);
    }
  }

  // The literal's kind decides how a jsonb key is compared; all literals must agree.
  ValueKind json_value_kind(const Node& node, const Binding& binding) const {
    switch (node.kind) {
      case NodeKind::kIsNull:
        return ValueKind::kJsonAny;
      case NodeKind::kRelTime:
        return ValueKind::kJsonTime;
      case NodeKind::kTruth:
        return ValueKind::kJsonBool;
      case NodeKind::kLike:
        return ValueKind::kJsonString;
      default:
        break;
    }
    const LiteralKind kind = node.literals.front().kind;
    for (const Literal& literal : node.literals) {
      if (literal.kind != kind) {
        fail(sqlstate::kDatatypeMismatch, node,
             "values compared with " + column_label(binding) +
                 " must all be strings, all numbers or all booleans",
             "The value's type decides how a JSON key is compared.");
      }
    }
    if (node.kind == NodeKind::kContains) return ValueKind::kJsonArray;
    if (kind == LiteralKind::kBoolean &&
        (node.kind == NodeKind::kBetween ||
         (node.kind == NodeKind::kCompare && node.op != CompareOp::kEq &&
          node.op != CompareOp::kNe))) {
      fail(sqlstate::kUndefinedFunction, node,
           "operator " + operator_name(node) + " is not supported for booleans in " +
               column_label(binding),
           "Compare JSON booleans with = or <>.");
    }
    return kind == LiteralKind::kString   ? ValueKind::kJsonString
           : kind == LiteralKind::kNumber ? ValueKind::kJsonNumber
                                          : ValueKind::kJsonBool;
  }

  const ObjectSchema& schema_;
  BoundFilter& out_;
};

}  // namespace

BoundFilter bind_filter(const Node& root, const ObjectSchema& schema) {
  BoundFilter bound;
  Binder(schema, bound).bind(root);
  return bound;
}

}  // namespace pgseg
