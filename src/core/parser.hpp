// Parser of the filter language's text form.
#pragma once

#include "core/no_postgres.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "core/ast.hpp"

namespace pgseg {

// Parses filter text into a normalised syntax tree. Throws Error (42601 with position and
// caret excerpt for syntax errors; 54000/54001 past the limits in limits.hpp).
NodePtr parse_filter(std::string_view text);

// Parses a dotted path such as attrs."first name".city (used by the JSON form's "field").
std::vector<std::string> parse_path(std::string_view text);

// True when a LIKE pattern ends with an unescaped backslash, which PostgreSQL rejects.
bool like_pattern_ends_with_escape(std::string_view pattern);

}  // namespace pgseg
