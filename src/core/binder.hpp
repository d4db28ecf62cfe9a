// Binding a filter to an object: resolves operands, checks operators and literal types.
#pragma once

#include "core/no_postgres.hpp"

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
  const Column* column = nullptr;
  std::vector<std::string> json_path;  // keys below the jsonb column
  ValueKind kind = ValueKind::kColumn;
};

class BoundFilter {
 public:
  const Binding& binding(const Node& node) const { return bindings_.at(&node); }
  void add(const Node& node, Binding binding) { bindings_[&node] = std::move(binding); }

 private:
  std::unordered_map<const Node*, Binding> bindings_;
};

// Binds every predicate of root to schema. Throws Error: 42703 unknown column (with a
// did-you-mean hint), 42804 type mismatch, 42883 operator not valid for the type, 0A000 for
// constructs this version cannot evaluate. The tree must outlive the result.
BoundFilter bind_filter(const Node& root, const ObjectSchema& schema);

// Closest name within a small edit distance, or empty.
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace pgseg
