// Exact decimal literals: canonical text and comparison against 64-bit integers.
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgseg {

// Canonical decimal text of a numeric literal ("007.50e1" -> "75"), or nullopt when the text
// is not a number. Throws an out-of-range Error when the canonical form would be too long.
std::optional<std::string> canonical_number(std::string_view raw);

// How a canonical decimal relates to the int64 range.
struct IntegerView {
  enum class Kind { kExact, kNonIntegral, kAboveRange, kBelowRange };
  Kind kind = Kind::kExact;
  std::int64_t value = 0;  // kExact: the value; kNonIntegral: floor of the value
};
IntegerView integer_view(std::string_view canonical);

// Parses a canonical integer that fits int64.
std::optional<std::int64_t> parse_int64(std::string_view canonical);

}  // namespace pgseg
