// Compiles a bound filter to an SQL boolean expression (the WHERE clause of a refresh).
#pragma once

#include "core/no_postgres.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ast.hpp"
#include "core/binder.hpp"

namespace pgseg {

class SqlDialect {
 public:
  virtual ~SqlDialect() = default;
  // Quotes an identifier when needed (PostgreSQL: quote_identifier()).
  virtual std::string quote_identifier(std::string_view name) const = 0;
};

struct SqlOptions {
  std::string row_alias;  // qualify column references with this alias when non-empty
  // When set, the object's columns are written as parameters $1, $2, ... instead, one per
  // distinct column, appended here in parameter order (for evaluating one condition by SQL).
  std::vector<const Column*>* parameters = nullptr;
  // When set, each aggregate over the object's own related rows (orders.count(...)) is written
  // as seg_aG.aN and recorded here (shared between filters compiled with the same list): G is
  // its group, the aggregates over the same relationship, which a statement computes in one
  // pass over those rows per object row (a LATERAL subquery aliased seg_aG selecting each
  // aggregate, with its condition as a FILTER, as aN).
  struct SharedAggregates;
  SharedAggregates* shared_aggregates = nullptr;
};

struct SqlOptions::SharedAggregates {
  struct Group {
    std::string from;                  // " FROM ... JOIN ... ON ...": the related rows
    std::vector<std::string> columns;  // the aggregates over them, a1, a2, ...
  };
  std::vector<Group> groups;
  // The LATERAL subqueries, to follow the object row in a FROM list: " CROSS JOIN LATERAL
  // (SELECT <a1> AS a1, ... <from>) AS seg_a1 ...".
  std::string lateral_sql() const;
};

// SQL that is TRUE exactly when the filter is TRUE for a row, NULL when it is unknown. It reads
// no row data through casts, so it cannot raise an error for any row.
//
// Related tables are read by correlated subqueries: a many-to-one step is a scalar subquery
// (NULL when no row is referenced, as a column would be), an aggregate a subquery over the rows
// that reference this one, IN SEGMENT a semi-join with stored membership. The object's columns
// inside a subquery appear only in a VALUES list, so they never resolve to a related table's
// columns of the same name, whatever alias the caller gives the object.
std::string compile_sql(const Node& root, const BoundFilter& bound, const SqlDialect& dialect,
                        const SqlOptions& options = {});

// An SQL string literal; uses E'' form when the text holds a backslash, so the result reads
// the same whatever standard_conforming_strings is.
std::string sql_string_literal(std::string_view text);

// The referenced side of a relationship's i-th column pair: its collation is the one the
// foreign key compares in.
const Column& referenced_column(const Relationship& relationship, std::size_t i);

// Text of the interval "n units" as PostgreSQL's interval input reads it.
std::string interval_text(std::int64_t amount, TimeUnit unit);

}  // namespace pgseg

namespace pgseg {

// A chain of relationships walked from the object.
using RelationshipPath = std::vector<const Relationship*>;

// What a bound filter reads outside the object's row.
struct RelatedReads {
  std::vector<RelationshipPath> paths;  // every chain walked, aggregate conditions included
  // Every column of a related table the filter reads or joins on (the keys of each step, the
  // columns conditions compare, aggregates' arguments and their conditions' columns): a change
  // of a related row that touches none of them cannot change the filter's answer.
  std::vector<std::pair<const ObjectSchema*, const Column*>> columns;
  bool segments = false;         // IN SEGMENT over the object's own segments
  bool nested_segments = false;  // IN SEGMENT inside an aggregate's condition
};

RelatedReads related_reads(const Node& root, const BoundFilter& bound);

// SQL returning the key of every object row that reaches, through path, the row of
// path.back()->target whose path.back()->target_columns are $1, $2, ... (in that order).
std::string reverse_key_sql(const RelationshipPath& path, const std::string& object_sql,
                            const Column& key, const SqlDialect& dialect);

// SQL locking FOR UPDATE the rows at depth stop of path (1 <= stop < path.size(), the target of
// path[stop - 1]) that reach, through the rest of path, the row of path.back()->target whose
// path.back()->target_columns are $1, $2, ... In the order of path[stop - 1]->target_columns.
std::string reaching_rows_lock_sql(const RelationshipPath& path, std::size_t stop,
                                   const SqlDialect& dialect);

}  // namespace pgseg

namespace pgseg {

// SQL giving, for object rows, the earliest time after now() at which a relative-time condition
// of the filter may change its answer (a lower bound: a condition on x changes only when now()
// passes x - n, x or x + n for one of the values x it reads), as rows (member, due_at).
// keys_expr, when not empty, restricts it to the object rows whose key = ANY (keys_expr). Empty
// when the filter has no relative-time condition.
std::string due_times_sql(const Node& root, const BoundFilter& bound, const std::string& object_sql,
                          const Column& key, const std::string& keys_expr,
                          const SqlDialect& dialect, const std::string& key_equals = "=");

}  // namespace pgseg
