// Binding a filter to an object: resolves operands, checks operators and literal types.
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ast.hpp"
#include "core/schema.hpp"

namespace pgseg {

// What an operand reads from a row.
enum class ValueKind : std::uint8_t {
  kColumn,      // the column itself
  kJsonString,  // jsonb key compared as a JSON string
  kJsonNumber,  // jsonb key compared as a JSON number
  kJsonBool,    // jsonb key compared as a JSON boolean
  kJsonTime,    // jsonb key read as a JSON string holding a timestamp
  kJsonArray,   // jsonb key holding a JSON array (CONTAINS family)
  kJsonAny,     // jsonb key, any non-null JSON value (IS NULL)
};

struct Binding {
  // The column read; for an aggregate, its result (a column of the binding's own); for IN
  // SEGMENT, the object's key column.
  const Column* column = nullptr;
  std::vector<std::string> json_path;  // keys below the jsonb column
  ValueKind kind = ValueKind::kColumn;
  // The schema whose check_literal reads literals compared with column; nullptr when literals
  // need no check (numbers and booleans compared with counts, sums, averages and EXISTS).
  const ObjectSchema* schema = nullptr;
  // Relationships walked from the object: many-to-one steps, then (for an aggregate) the
  // one-to-many relationship aggregated. Empty for the object's own columns.
  std::vector<const Relationship*> path;
  const Aggregate* aggregate = nullptr;
  const Column* argument = nullptr;  // sum/min/max/avg: column of path.back()->target
  SegmentRef segment;                // IN SEGMENT

  // The value comes from other rows than the object's own (related tables or membership).
  bool related() const { return !path.empty() || segment.id != 0; }
};

class BoundFilter {
 public:
  const Binding& binding(const Node& node) const { return bindings_.at(&node); }
  void add(const Node& node, Binding binding) { bindings_[&node] = std::move(binding); }
  // A column that only this filter knows (an aggregate's result type).
  const Column* own_column(Column column) {
    owned_columns_.push_back(std::move(column));
    return &owned_columns_.back();
  }
  // Relationships and segments the filter reads, each once, in the order first bound.
  const std::vector<const Relationship*>& relationships() const { return relationships_; }
  const std::vector<std::int64_t>& segments() const { return segments_; }
  void note_relationship(const Relationship* relationship);
  void note_segment(std::int64_t id);
  bool related() const { return !relationships_.empty() || !segments_.empty(); }

 private:
  std::unordered_map<const Node*, Binding> bindings_;
  std::deque<Column> owned_columns_;  // stable addresses
  std::vector<const Relationship*> relationships_;
  std::vector<std::int64_t> segments_;
};

// Binds every predicate of root to schema. Throws Error: 42703 unknown column (with a
// did-you-mean hint), 42804 type mismatch, 42883 operator not valid for the type, 42702 for an
// ambiguous relationship, 42704 for an unknown segment. The tree and the schema (with the
// schemas of related tables it hands out) must outlive the result.
BoundFilter bind_filter(const Node& root, const ObjectSchema& schema);

// Closest name within a small edit distance, or empty.
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace pgseg
