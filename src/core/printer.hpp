// Canonical text form of filters: parse(print(f)) == f, and equal filters print equal.
#pragma once

#include "core/no_postgres.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "core/ast.hpp"

namespace pgseg {

std::string print_filter(const Node& node);

// Nesting the parser meets when reading print_filter(node): parentheses, NOT and aggregate
// calls, counted as the parser's depth limit counts them.
std::size_t nesting_depth(const Node& node);

// An identifier as the filter language writes it: bare when possible, else double-quoted.
std::string print_identifier(std::string_view name);
std::string print_path(const std::vector<std::string>& path);
std::string print_literal(const Literal& literal);

}  // namespace pgseg
