// SQL generation. Every literal is quoted here and every identifier by the dialect, so no
// text from a filter can change the statement's structure.
#include "core/sql_compiler.hpp"

#include <algorithm>

#include "core/json.hpp"

namespace pgseg {

// The referenced side of a relationship's i-th column pair (the foreign key compares in its
// collation): the target's for many-to-one, the object's own for one-to-many.
const Column& referenced_column(const Relationship& relationship, std::size_t i) {
  return relationship.to_many ? *relationship.local_columns[i] : *relationship.target_columns[i];
}

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
  // The column as written at the current depth: the object's own (depth 0) or the alias of
  // the related row being read.
  std::string column_ref(const Column& column, int depth) const {
    if (depth > 0) {
      return "seg_r" + std::to_string(depth) + "." + dialect_.quote_identifier(column.name);
    }
    if (options_.parameters != nullptr) {
      auto& parameters = *options_.parameters;
      for (std::size_t i = 0; i < parameters.size(); ++i) {
        if (parameters[i] == &column) return "$" + std::to_string(i + 1);
      }
      parameters.push_back(&column);
      return "$" + std::to_string(parameters.size());
    }
    std::string ref = dialect_.quote_identifier(column.name);
    if (!options_.row_alias.empty()) {
      ref = dialect_.quote_identifier(options_.row_alias) + "." + ref;
    }
    return ref;
  }

  std::string operand_sql(const Binding& binding, const std::string& column) const {
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

  static std::string contains_sql(const Node& node, const Binding& binding,
                                  const std::string& operand) {
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

  static std::string relative_time_sql(const Node& node, const std::string& operand) {
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

  // The predicate over operand, the SQL of the value it tests.
  static std::string test_sql(const Node& node, const Binding& binding,
                              const std::string& operand) {
    switch (node.kind) {
      case NodeKind::kCompare:
        return operand + " " + compare_op_text(node.op) + " " +
               literal_sql(node.literals.front(), binding);
      case NodeKind::kIn:
        return operand + (node.negated ? " NOT IN " : " IN ") + list_sql(node.literals, binding);
      case NodeKind::kBetween:
        return operand + (node.negated ? " NOT BETWEEN " : " BETWEEN ") +
               literal_sql(node.literals[0], binding) + " AND " +
               literal_sql(node.literals[1], binding);
      case NodeKind::kIsNull:
        return operand + (node.negated ? " IS NOT NULL" : " IS NULL");
      case NodeKind::kLike:
        return operand + (node.negated ? " NOT" : "") +
               (node.case_insensitive ? " ILIKE " : " LIKE ") +
               sql_string_literal(node.literals.front().text);
      case NodeKind::kContains:
        return contains_sql(node, binding, operand);
      case NodeKind::kRelTime:
        return relative_time_sql(node, operand);
      case NodeKind::kTruth:
        return operand;
      default:
        return "FALSE";
    }
  }

  static std::string collate(const Column& column) {
    return column.type.collation_sql.empty() ? std::string()
                                             : " COLLATE " + column.type.collation_sql;
  }

  // FROM (VALUES (the current row's columns)) AS seg_kN (v1, ...) JOIN other AS seg_rN ON ...:
  // the rows of relationship's other table that go with the row at depth - 1.
  std::string related_rows(const Relationship& relationship, int depth) const {
    const std::string n = std::to_string(depth);
    std::string values;
    std::string names;
    std::string on;
    for (std::size_t i = 0; i < relationship.local_columns.size(); ++i) {
      const std::string v = "v" + std::to_string(i + 1);
      if (i > 0) {
        values += ", ";
        names += ", ";
        on += " AND ";
      }
      values += column_ref(*relationship.local_columns[i], depth - 1);
      names += v;
      // Compared as the foreign key compares: in the referenced column's collation.
      const Column& target = *relationship.target_columns[i];
      on += "seg_r" + n + "." + dialect_.quote_identifier(target.name) +
            " OPERATOR(pg_catalog.=) seg_k" + n + "." + v +
            collate(referenced_column(relationship, i));
    }
    return " FROM (VALUES (" + values + ")) AS seg_k" + n + " (" + names + ") JOIN " +
           relationship.sql_name + " AS seg_r" + n + " ON " + on;
  }

  // The aggregate function applied to the rows of its relationship (at depth): COUNT(*) for
  // count and exists; sums and averages as numeric: exact, and no overflow (floating-point sums
  // and averages can overflow).
  std::string aggregate_call(const Binding& binding, int depth) {
    const std::string argument =
        binding.argument ? column_ref(*binding.argument, depth) : std::string();
    switch (binding.aggregate->func) {
      case AggregateFunc::kExists:
      case AggregateFunc::kCount:
        return "pg_catalog.count(*)";
      case AggregateFunc::kSum:
        return "pg_catalog.sum(" + argument + "::pg_catalog.numeric)";
      case AggregateFunc::kAvg:
        return "pg_catalog.avg(" + argument + "::pg_catalog.numeric)";
      case AggregateFunc::kMin:
        return "pg_catalog.min(" + argument + ")";
      case AggregateFunc::kMax:
        return "pg_catalog.max(" + argument + ")";
    }
    return "NULL";
  }

  // The aggregate's condition over the rows of its relationship (at depth), empty if none.
  std::string aggregate_condition(const Binding& binding, int depth) {
    if (!binding.aggregate->condition) return std::string();
    const int saved = depth_;
    depth_ = depth;
    std::string condition = compile(*binding.aggregate->condition);
    depth_ = saved;
    return condition;
  }

  // An aggregate as one column of a pass over its related rows shared with others: the rows
  // (FROM ... without the condition) and the aggregate with its condition as a FILTER.
  std::pair<std::string, std::string> shared_aggregate_sql(const Binding& binding, int depth) {
    const std::string condition = aggregate_condition(binding, depth);
    const std::string filter = condition.empty() ? "" : " FILTER (WHERE " + condition + ")";
    std::string column = aggregate_call(binding, depth) + filter;
    if (binding.aggregate->func == AggregateFunc::kExists) {
      column = "(" + column + " OPERATOR(pg_catalog.>) 0)";
    }
    return {related_rows(*binding.path.back(), depth), column};
  }

  std::string aggregate_sql(const Binding& binding, int depth) {
    // The rows first: their object columns take parameter numbers before the condition's.
    std::string from = related_rows(*binding.path.back(), depth);
    const std::string condition = aggregate_condition(binding, depth);
    if (!condition.empty()) from += " WHERE " + condition;
    if (binding.aggregate->func == AggregateFunc::kExists) return "EXISTS (SELECT 1" + from + ")";
    return "(SELECT " + aggregate_call(binding, depth) + from + ")";
  }

  std::string predicate(const Node& node) {
    const Binding& binding = bound_.binding(node);
    if (node.kind == NodeKind::kInSegment) {
      std::string test = column_ref(*binding.column, depth_) + " IN (SELECT seg_m.member FROM " +
                         binding.segment.membership_sql +
                         " AS seg_m WHERE seg_m.segment_id OPERATOR(pg_catalog.=) " +
                         std::to_string(binding.segment.id) + ")";
      return node.negated ? "NOT (" + test + ")" : test;
    }
    // Many-to-one steps walked before the column (or before the aggregated relationship).
    const std::size_t steps = binding.path.size() - (binding.aggregate != nullptr ? 1 : 0);
    const int inner = depth_ + static_cast<int>(steps);
    std::string value;
    if (binding.aggregate != nullptr && steps == 0 && depth_ == 0 &&
        options_.shared_aggregates != nullptr) {
      // Computed once per row for every filter compiled with the same list, in one pass over
      // the related rows with the other aggregates over them.
      const std::pair<std::string, std::string> parts = shared_aggregate_sql(binding, inner + 1);
      const std::string& from = parts.first;
      const std::string& column = parts.second;
      auto& groups = options_.shared_aggregates->groups;
      auto group = std::find_if(
          groups.begin(), groups.end(),
          [&](const SqlOptions::SharedAggregates::Group& g) { return g.from == from; });
      if (group == groups.end()) group = groups.insert(groups.end(), {from, {}});
      auto found = std::find(group->columns.begin(), group->columns.end(), column);
      const std::size_t index = static_cast<std::size_t>(found - group->columns.begin());
      if (found == group->columns.end()) group->columns.push_back(column);
      value =
          "seg_a" + std::to_string(group - groups.begin() + 1) + ".a" + std::to_string(index + 1);
    } else {
      value = binding.aggregate != nullptr
                  ? aggregate_sql(binding, inner + 1)
                  : operand_sql(binding, column_ref(*binding.column, inner));
    }
    // Each step reads the one row referenced, NULL when there is none (as a LEFT JOIN would).
    auto walk = [&](std::string sql) {
      for (std::size_t i = steps; i > 0; --i) {
        sql = "(SELECT " + sql + related_rows(*binding.path[i - 1], depth_ + static_cast<int>(i)) +
              ")";
      }
      return sql;
    };
    // Tests that are NULL on a NULL value run inside the subqueries (one subquery, however
    // often the test reads the value); IS NULL and CONTAINS, which answer for a NULL value, test
    // the value the subqueries return.
    if (node.kind == NodeKind::kIsNull || node.kind == NodeKind::kContains) {
      return test_sql(node, binding, walk(value));
    }
    return walk(test_sql(node, binding, value));
  }

  int depth_ = 0;
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

namespace pgseg {

namespace {

void add_column(RelatedReads& out, const ObjectSchema* table, const Column* column) {
  if (table == nullptr || column == nullptr) return;
  const std::pair<const ObjectSchema*, const Column*> read{table, column};
  if (std::find(out.columns.begin(), out.columns.end(), read) == out.columns.end()) {
    out.columns.push_back(read);
  }
}

void collect_reads(const Node& node, const BoundFilter& bound, const RelationshipPath& prefix,
                   RelatedReads& out) {
  if (!node.is_predicate()) {
    for (const auto& child : node.children) collect_reads(*child, bound, prefix, out);
    return;
  }
  const Binding& binding = bound.binding(node);
  if (node.kind == NodeKind::kInSegment) {
    (prefix.empty() ? out.segments : out.nested_segments) = true;
    return;
  }
  if (binding.path.empty()) {
    // A condition of an aggregate on the aggregated row's own column.
    if (!prefix.empty()) add_column(out, prefix.back()->target, binding.column);
    return;
  }
  RelationshipPath path = prefix;
  path.insert(path.end(), binding.path.begin(), binding.path.end());
  if (std::find(out.paths.begin(), out.paths.end(), path) == out.paths.end()) {
    out.paths.push_back(path);
  }
  // The keys each step joins on, in the tables on both sides (the object's own are left out:
  // the object's writes are followed by its own triggers).
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i > 0) {
      for (const Column* column : path[i]->local_columns) {
        add_column(out, path[i - 1]->target, column);
      }
    }
    for (const Column* column : path[i]->target_columns) add_column(out, path[i]->target, column);
  }
  if (binding.aggregate != nullptr) {
    add_column(out, path.back()->target, binding.argument);
    if (binding.aggregate->condition) {
      collect_reads(*binding.aggregate->condition, bound, path, out);
    }
  } else {
    add_column(out, path.back()->target, binding.column);
  }
}

}  // namespace

std::string SqlOptions::SharedAggregates::lateral_sql() const {
  std::string sql;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::string select;
    for (std::size_t i = 0; i < groups[g].columns.size(); ++i) {
      select +=
          std::string(i > 0 ? ", " : "") + groups[g].columns[i] + " AS a" + std::to_string(i + 1);
    }
    // An aggregate without GROUP BY returns one row, also over no rows.
    sql += " CROSS JOIN LATERAL (SELECT " + select + groups[g].from + ") AS seg_a" +
           std::to_string(g + 1);
  }
  return sql;
}

RelatedReads related_reads(const Node& root, const BoundFilter& bound) {
  RelatedReads out;
  collect_reads(root, bound, {}, out);
  return out;
}

namespace {

// The condition on alias seg_t<stop> (the object for 0) that its row reaches, through
// path[stop, path.size()), the row of path.back()->target whose target columns are $1, $2, ...
std::string reaching_condition(const RelationshipPath& path, std::size_t stop,
                               const SqlDialect& dialect) {
  // From the changed row inwards: the rows of each table that reference (or are referenced by)
  // the rows of the next.
  // collated: compare in the referenced columns' collations, as the foreign key does.
  auto columns = [&](const std::vector<const Column*>& list, const std::string& alias,
                     const Relationship* collated) {
    std::string out;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out += ", ";
      out += alias + "." + dialect.quote_identifier(list[i]->name);
      if (collated != nullptr) {
        const std::string& collation = referenced_column(*collated, i).type.collation_sql;
        if (!collation.empty()) out += " COLLATE " + collation;
      }
    }
    return out;
  };
  const std::size_t depth = path.size();
  std::string parameters;
  for (std::size_t i = 0; i < path.back()->target_columns.size(); ++i) {
    if (i > 0) parameters += ", ";
    parameters += "$" + std::to_string(i + 1);
  }
  // Innermost condition: the last step's local columns equal the changed row's columns.
  std::string condition =
      "(" + columns(path.back()->local_columns, "seg_t" + std::to_string(depth - 1), path.back()) +
      ") = (" + parameters + ")";
  for (std::size_t i = depth - 1; i > stop; --i) {
    const std::string alias = "seg_t" + std::to_string(i);
    const Relationship& step = *path[i - 1];
    condition = "(" + columns(step.local_columns, "seg_t" + std::to_string(i - 1), &step) +
                ") IN (SELECT " + columns(step.target_columns, alias, nullptr) + " FROM " +
                step.sql_name + " AS " + alias + " WHERE " + condition + ")";
  }
  return condition;
}

}  // namespace

std::string reverse_key_sql(const RelationshipPath& path, const std::string& object_sql,
                            const Column& key, const SqlDialect& dialect) {
  return "SELECT seg_t0." + dialect.quote_identifier(key.name) + " FROM " + object_sql +
         " AS seg_t0 WHERE " + reaching_condition(path, 0, dialect);
}

std::string reaching_rows_lock_sql(const RelationshipPath& path, std::size_t stop,
                                   const SqlDialect& dialect) {
  const std::string alias = "seg_t" + std::to_string(stop);
  // In the order of the key the step into the table references (its primary key, as a rule):
  // writers updating several of these rows by key lock them in that order too, so the two do
  // not deadlock.
  std::string order;
  for (const Column* column : path[stop - 1]->target_columns) {
    order += (order.empty() ? "" : ", ") + alias + "." + dialect.quote_identifier(column->name);
  }
  return "SELECT FROM " + path[stop - 1]->sql_name + " AS " + alias + " WHERE " +
         reaching_condition(path, stop, dialect) + " ORDER BY " + order + " FOR UPDATE OF " + alias;
}

}  // namespace pgseg

namespace pgseg {

namespace {

// One relative-time condition: the value it reads (a column, or a key of a jsonb column, of the
// row reached through path) and its interval.
struct TimedRead {
  RelationshipPath path;
  const Binding* binding = nullptr;
  const Column* column = nullptr;  // the column read (an aggregate's argument for aggregates)
  std::int64_t amount = 0;
  TimeUnit unit = TimeUnit::kDay;
  bool within_next = false;
};

void collect_timed(const Node& node, const BoundFilter& bound, const RelationshipPath& prefix,
                   std::vector<TimedRead>& out) {
  if (!node.is_predicate()) {
    for (const auto& child : node.children) collect_timed(*child, bound, prefix, out);
    return;
  }
  if (node.kind == NodeKind::kInSegment) return;
  const Binding& binding = bound.binding(node);
  RelationshipPath path = prefix;
  path.insert(path.end(), binding.path.begin(), binding.path.end());
  if (node.kind == NodeKind::kRelTime) {
    TimedRead read;
    read.path = path;
    read.binding = &binding;
    read.column = binding.aggregate != nullptr ? binding.argument : binding.column;
    read.amount = node.amount;
    read.unit = node.unit;
    read.within_next = node.rel_kind == RelTimeKind::kWithinNext;
    if (read.column != nullptr) out.push_back(std::move(read));
  }
  if (binding.aggregate != nullptr && binding.aggregate->condition) {
    collect_timed(*binding.aggregate->condition, bound, path, out);
  }
}

}  // namespace

std::string due_times_sql(const Node& root, const BoundFilter& bound, const std::string& object_sql,
                          const Column& key, const std::string& keys_expr,
                          const SqlDialect& dialect, const std::string& key_equals) {
  std::vector<TimedRead> reads;
  collect_timed(root, bound, {}, reads);
  if (reads.empty()) return {};
  std::string branches;
  for (const TimedRead& read : reads) {
    std::string from = object_sql + " AS seg_t0";
    for (std::size_t i = 0; i < read.path.size(); ++i) {
      const Relationship& step = *read.path[i];
      const std::string previous = "seg_t" + std::to_string(i);
      const std::string alias = "seg_t" + std::to_string(i + 1);
      std::string on;
      for (std::size_t c = 0; c < step.local_columns.size(); ++c) {
        if (c > 0) on += " AND ";
        const Column& target = *step.target_columns[c];
        on += alias + "." + dialect.quote_identifier(target.name) + " OPERATOR(pg_catalog.=) " +
              previous + "." + dialect.quote_identifier(step.local_columns[c]->name);
        const std::string& collation = referenced_column(step, c).type.collation_sql;
        if (!collation.empty()) on += " COLLATE " + collation;
      }
      from += " JOIN " + step.sql_name + " AS " + alias + " ON " + on;
    }
    std::string value = "seg_t" + std::to_string(read.path.size()) + "." +
                        dialect.quote_identifier(read.column->name);
    if (read.binding->aggregate == nullptr && !read.binding->json_path.empty()) {
      value = "segments.jsonb_timestamptz(" + value;
      for (const std::string& part : read.binding->json_path) {
        value += ", " + sql_string_literal(part);
      }
      value += ")";
    }
    // The flips are at x - n, x and x + n, computed exactly with PostgreSQL's own calendar
    // arithmetic (in the session's time zone, as the filter compares) for every value whose
    // arithmetic cannot leave the timestamp range; for values beyond that (dates thousands of
    // years away) at their earliest possible instant in epoch seconds, which cannot overflow:
    // intervals at their longest when subtracted and shortest when added (days of 23 to 25
    // hours, months of 28 to 31 days), dates and timestamps without time zone a day earlier.
    // x >= now (WITHIN NEXT) changes one microsecond after x, not at x: a row written with
    // x = now() is true in its own statement and false right after.
    std::int64_t shortest = 60;
    std::int64_t longest = 60;
    switch (read.unit) {
      case TimeUnit::kMinute:
        break;
      case TimeUnit::kHour:
        shortest = longest = 3600;
        break;
      case TimeUnit::kDay:
        shortest = 82800;
        longest = 90000;
        break;
      case TimeUnit::kWeek:
        shortest = 7 * 82800;
        longest = 7 * 90000;
        break;
      case TimeUnit::kMonth:
        shortest = 28 * 82800;
        longest = 31 * 90000;
        break;
    }
    const bool zoned =
        read.column->type.category == TypeCategory::kTimestampTz ||
        (read.binding->aggregate == nullptr && read.binding->kind != ValueKind::kColumn);
    const std::int64_t margin = zoned ? 0 : 86400;
    const std::int64_t reach = read.amount * longest + margin;
    const std::string interval =
        sql_string_literal(interval_text(read.amount, read.unit)) + "::pg_catalog.interval";
    const std::string exact = "(" + value + ")::pg_catalog.timestamptz";
    const std::string safe = "seg_e.e OPERATOR(pg_catalog.-) " + std::to_string(reach) +
                             " OPERATOR(pg_catalog.>) -200000000000 AND seg_e.e "
                             "OPERATOR(pg_catalog.+) " +
                             std::to_string(reach) + " OPERATOR(pg_catalog.<) 9000000000000";
    auto candidate = [&](const std::string& exact_value, const std::string& earliest) {
      return "(CASE WHEN " + safe + " THEN EXTRACT(EPOCH FROM " + exact_value + ") ELSE " +
             earliest + " END)";
    };
    if (!branches.empty()) branches += " UNION ALL ";
    branches +=
        "SELECT seg_t0." + dialect.quote_identifier(key.name) +
        " AS member, pg_catalog.to_timestamp(v.c::pg_catalog.float8) AS t FROM " + from +
        " CROSS JOIN LATERAL (SELECT EXTRACT(EPOCH FROM " + value +
        ") AS e) AS seg_e CROSS JOIN LATERAL (VALUES " +
        candidate(exact + " OPERATOR(pg_catalog.-) " + interval,
                  "seg_e.e OPERATOR(pg_catalog.-) " + std::to_string(reach)) +
        ", " +
        candidate(read.within_next
                      ? exact + " OPERATOR(pg_catalog.+) '1 microsecond'::pg_catalog.interval"
                      : exact,
                  "seg_e.e OPERATOR(pg_catalog.-) " + std::to_string(margin)) +
        ", " +
        candidate(
            exact + " OPERATOR(pg_catalog.+) " + interval,
            "seg_e.e OPERATOR(pg_catalog.+) " + std::to_string(read.amount * shortest - margin)) +
        ") AS v (c) WHERE v.c OPERATOR(pg_catalog.>) EXTRACT(EPOCH FROM pg_catalog.now()) "
        "AND v.c OPERATOR(pg_catalog.<) 9200000000000";
    if (!keys_expr.empty()) {
      branches += " AND seg_t0." + dialect.quote_identifier(key.name) + " " + key_equals +
                  " ANY (" + keys_expr + ")";
    }
  }
  return "SELECT d.member, pg_catalog.min(d.t) AS due_at FROM (" + branches +
         ") AS d GROUP BY d.member";
}

}  // namespace pgseg
