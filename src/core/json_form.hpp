// The structured JSON form of filters, for form-builder UIs.
//
//   {"groups": [{"conditions": [c, ...]}, ...]}   OR between groups, AND inside a group
//   c = {"field": "tier", "op": "=", "value": "gold"}
//     | {"field": "tags", "op": "contains any", "values": ["a", "b"]}
//     | {"field": "created_at", "op": "within last", "amount": 7, "unit": "days"}
//     | {"field": "opted_out"}                       a boolean field on its own
//     | {"aggregate": {"relation": "orders", "function": "count", "where": c}, "op": ">=",
//        "value": 3}
//     | {"op": "in segment", "segment": "vip"}
//     | {"not": c} | {"constant": true} | {"groups": [...]}   (nesting)
#pragma once

#include "core/no_postgres.hpp"

#include <string>
#include <string_view>

#include "core/ast.hpp"
#include "core/json.hpp"

namespace pgseg {

Json filter_to_json(const Node& root);
std::string filter_to_json_text(const Node& root);

// Builds a normalised filter from the JSON form. Throws Error (22023 with the JSON path of the
// offending element in DETAIL, 22032 for malformed JSON, 42601 for a bad field path).
NodePtr filter_from_json(const Json& document);
NodePtr filter_from_json_text(std::string_view text);

}  // namespace pgseg
