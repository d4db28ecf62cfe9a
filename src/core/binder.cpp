// Validation of filters against an object's columns and the typing rules of the language.
#include "core/binder.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/limits.hpp"
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
        bind_segment(node);
        return;
      default:
        bind_predicate(node);
    }
  }

 private:
  [[noreturn]] void fail(const char* code, const Node& node, std::string message,
                         std::string hint = {}) const {
    throw Error(code, std::move(message), "in condition: " + print_filter(node), std::move(hint));
  }

  // How messages name what a binding reads: column tier, key attrs.plan, column
  // organizations.industry, orders.sum(amount).
  static std::string column_label(const Binding& binding) {
    std::vector<std::string> names;
    for (const Relationship* step : binding.path) names.push_back(step->name);
    if (binding.aggregate != nullptr) {
      std::string call = print_path(names) + "." + aggregate_func_name(binding.aggregate->func) +
                         "(" + (binding.argument ? print_identifier(binding.argument->name) : "") +
                         ")";
      return quoted(call) + " of type " + binding.column->type.name;
    }
    names.push_back(binding.column->name);
    if (!binding.json_path.empty()) {
      names.insert(names.end(), binding.json_path.begin(), binding.json_path.end());
      return "key " + quoted(print_path(names));
    }
    return "column " + quoted(print_path(names)) + " of type " + binding.column->type.name;
  }

  static std::string name_list(const std::vector<std::string>& names) {
    std::string list;
    for (std::size_t i = 0; i < names.size() && i < 20; ++i) {
      if (i > 0) list += ", ";
      list += print_identifier(names[i]);
    }
    if (names.size() > 20) list += ", ...";
    return list;
  }

  [[noreturn]] void unknown_name(const Node& node, const ObjectSchema& schema,
                                 std::size_t position) const {
    const std::vector<std::string>& path = node.operand.path;
    const std::string& name = path[position];
    std::vector<std::string> candidates = schema.column_names();
    std::vector<std::string> relationships = schema.relationship_names();
    candidates.insert(candidates.end(), relationships.begin(), relationships.end());
    std::string message = "column " + quoted(name) + " does not exist in " + schema.object_name();
    std::string suggestion = closest_name(name, candidates);
    std::string hint;
    if (!suggestion.empty()) {
      std::vector<std::string> fixed = path;
      fixed[position] = suggestion;
      hint = "Perhaps you meant " + quoted(print_path(fixed)) + ".";
    } else if (position + 1 < path.size() || node.operand.aggregate) {
      message =
          quoted(name) + " is neither a column nor a related table of " + schema.object_name();
      hint = relationships.empty() ? "Related tables are reached through foreign keys; " +
                                         schema.object_name() + " has none."
                                   : "Related tables of " + schema.object_name() + ": " +
                                         name_list(relationships) + ".";
    } else {
      hint = "Columns of " + schema.object_name() + ": " + name_list(schema.column_names()) + ".";
    }
    fail(sqlstate::kUndefinedColumn, node, std::move(message), std::move(hint));
  }

  Binding resolve(const Node& node) const {
    const Operand& operand = node.operand;
    const std::vector<std::string>& path = operand.path;
    const bool aggregate = operand.aggregate != nullptr;
    Binding binding;
    const ObjectSchema* schema = &schema_;
    for (std::size_t i = 0; i < path.size(); ++i) {
      const bool last = i + 1 == path.size();
      const Column* column = schema->find_column(path[i]);
      if (column != nullptr && !(last && aggregate)) {
        binding.column = column;
        binding.schema = schema;
        if (!last) {
          if (column->type.category != TypeCategory::kJsonb) {
            fail(sqlstate::kDatatypeMismatch, node,
                 "column " + quoted(column->name) + " is of type " + column->type.name +
                     " and has no keys",
                 "Keys can be read from jsonb columns only, as in attrs.plan.");
          }
          binding.json_path.assign(path.begin() + static_cast<std::ptrdiff_t>(i) + 1, path.end());
        }
        return binding;
      }
      const Relationship* relationship = nullptr;
      try {
        relationship = schema->find_relationship(path[i]);
      } catch (const Error& e) {
        throw Error(e.sqlstate(), e.what(), "in condition: " + print_filter(node), e.hint());
      }
      if (relationship == nullptr) {
        if (column != nullptr) {
          fail(sqlstate::kDatatypeMismatch, node,
               "column " + quoted(column->name) + " is not a related table",
               "Aggregates read the rows of a table with a foreign key to " +
                   schema->object_name() + ", as in orders.count(status = 'paid') >= 3.");
        }
        unknown_name(node, *schema, i);
      }
      binding.path.push_back(relationship);
      out_.note_relationship(relationship);
      if (relationship->to_many) {
        if (!last || !aggregate) {
          fail(sqlstate::kDatatypeMismatch, node,
               quoted(relationship->name) + " has many rows for each row of " +
                   schema->object_name(),
               "Aggregate them, as in " + print_identifier(relationship->name) +
                   ".count(...) >= 3, " + print_identifier(relationship->name) +
                   ".exists(...) or " + print_identifier(relationship->name) +
                   ".sum(column WHERE ...) > 500.");
        }
        bind_aggregate(node, binding, *relationship);
        return binding;
      }
      if (last) {
        if (aggregate) {
          fail(sqlstate::kDatatypeMismatch, node,
               quoted(path[i]) + " is the one row that " + schema->object_name() +
                   " references; there is nothing to aggregate",
               "Compare its columns directly, as in " + print_identifier(path[i]) +
                   ".column = ....");
        }
        fail(sqlstate::kDatatypeMismatch, node,
             quoted(path[i]) + " is a related table, not a column",
             "Name one of its columns, as in " + print_identifier(path[i]) + "." +
                 print_identifier(relationship->target->column_names().empty()
                                      ? std::string("column")
                                      : relationship->target->column_names().front()) +
                 ".");
      }
      schema = relationship->target;
    }
    fail(sqlstate::kUndefinedColumn, node, "condition names no column");
  }

  // relation.func(argument WHERE condition): binds the condition over the related table and
  // gives the binding the aggregate's result type.
  void bind_aggregate(const Node& node, Binding& binding, const Relationship& relationship) const {
    const Aggregate& aggregate = *node.operand.aggregate;
    const ObjectSchema& child = *relationship.target;
    binding.aggregate = &aggregate;
    if (aggregate.condition) Binder(child, out_).bind(*aggregate.condition);
    Column result;
    result.name = aggregate_func_name(aggregate.func);
    if (aggregate.func == AggregateFunc::kCount) {
      result.type.category = TypeCategory::kInteger;
      result.type.name = "bigint";
      binding.column = out_.own_column(std::move(result));
      return;
    }
    if (aggregate.func == AggregateFunc::kExists) {
      result.type.category = TypeCategory::kBool;
      result.type.name = "boolean";
      binding.column = out_.own_column(std::move(result));
      return;
    }
    const std::string call = print_identifier(relationship.name) + "." +
                             aggregate_func_name(aggregate.func) + "(" +
                             print_path(aggregate.column) + ")";
    if (aggregate.column.size() != 1) {
      fail(sqlstate::kFeatureNotSupported, node,
           std::string(aggregate_func_name(aggregate.func)) + " takes a column of " +
               child.object_name() + ", not a path",
           "Write " + call.substr(0, call.find('(')) + "(column WHERE condition).");
    }
    const Column* argument = child.find_column(aggregate.column.front());
    if (argument == nullptr) {
      std::string suggestion = closest_name(aggregate.column.front(), child.column_names());
      fail(sqlstate::kUndefinedColumn, node,
           "column " + quoted(aggregate.column.front()) + " does not exist in " +
               child.object_name(),
           suggestion.empty()
               ? "Columns of " + child.object_name() + ": " + name_list(child.column_names()) + "."
               : "Perhaps you meant " + quoted(suggestion) + ".");
    }
    binding.argument = argument;
    const TypeCategory category = argument->type.category;
    const bool numeric = category == TypeCategory::kInteger || category == TypeCategory::kNumeric ||
                         category == TypeCategory::kFloat;
    if (aggregate.func == AggregateFunc::kSum || aggregate.func == AggregateFunc::kAvg) {
      if (!numeric) {
        fail(sqlstate::kUndefinedFunction, node,
             std::string(aggregate_func_name(aggregate.func)) + " is not supported for column " +
                 quoted(argument->name) + " of type " + argument->type.name,
             "sum and avg take integer, numeric or floating-point columns.");
      }
      // Summed and averaged as numeric whatever the column's type: exact, and never an
      // overflow error from row data (a double precision sum of 1e308 and 1e308 would fail).
      result.type.category = TypeCategory::kNumeric;
      result.type.name = "numeric";
      binding.column = out_.own_column(std::move(result));
      return;
    }
    switch (category) {
      case TypeCategory::kText:
      case TypeCategory::kBpchar:
      case TypeCategory::kInteger:
      case TypeCategory::kNumeric:
      case TypeCategory::kFloat:
      case TypeCategory::kDate:
      case TypeCategory::kTimestamp:
      case TypeCategory::kTimestampTz:
      case TypeCategory::kEnum:
        break;
      default:
        fail(sqlstate::kUndefinedFunction, node,
             std::string(aggregate_func_name(aggregate.func)) + " is not supported for column " +
                 quoted(argument->name) + " of type " + argument->type.name,
             "min and max take text, number, date, timestamp and enum columns.");
    }
    // min and max have the argument's type: literals are read as the column reads them.
    Column copy = *argument;
    binding.column = out_.own_column(std::move(copy));
    binding.schema = &child;
  }

  void bind_segment(const Node& node) {
    Binding binding;
    try {
      binding.segment = schema_.find_segment(node.segment);
    } catch (const Error& e) {
      throw Error(e.sqlstate(), e.what(), "in condition: " + print_filter(node), e.hint());
    }
    binding.column = binding.segment.key;
    out_.note_segment(binding.segment.id);
    out_.add(node, std::move(binding));
  }

  // now - amount must be a timestamp PostgreSQL can represent (see limits.hpp); the filter text
  // itself stays valid, so stored filters always load.
  void check_past_reach(const Node& node) const {
    if (node.kind != NodeKind::kRelTime || node.rel_kind == RelTimeKind::kWithinNext) return;
    const bool too_far = (node.unit == TimeUnit::kWeek && node.amount > limits::kMaxPastWeeks) ||
                         (node.unit == TimeUnit::kMonth && node.amount > limits::kMaxPastMonths);
    if (too_far) {
      fail(sqlstate::kDatetimeFieldOverflow, node,
           "time amount " + std::to_string(node.amount) +
               (node.unit == TimeUnit::kWeek ? " weeks" : " months") +
               " reaches back before the earliest timestamp PostgreSQL stores (4713 BC)",
           "Look back at most 5,000 years: " + std::to_string(limits::kMaxPastMonths) +
               " months or " + std::to_string(limits::kMaxPastWeeks) + " weeks.");
    }
  }

  void bind_predicate(const Node& node) {
    check_past_reach(node);
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
      if (binding.schema == nullptr) continue;
      try {
        binding.schema->check_literal(*binding.column, literal, element);
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

SegmentRef ObjectSchema::find_segment(std::string_view name) const {
  throw Error(sqlstate::kUndefinedObject,
              "segment " + quoted(std::string(name)) + " does not exist");
}

void BoundFilter::note_relationship(const Relationship* relationship) {
  if (std::find(relationships_.begin(), relationships_.end(), relationship) ==
      relationships_.end()) {
    relationships_.push_back(relationship);
  }
}

void BoundFilter::note_segment(std::int64_t id) {
  if (std::find(segments_.begin(), segments_.end(), id) == segments_.end()) segments_.push_back(id);
}

BoundFilter bind_filter(const Node& root, const ObjectSchema& schema) {
  BoundFilter bound;
  Binder(schema, bound).bind(root);
  return bound;
}

}  // namespace pgseg
