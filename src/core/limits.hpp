// Resource limits on filters, checked wherever a filter enters the system.
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>

namespace pgseg::limits {

// Longest filter text accepted (bytes); a longer one is refused, never truncated.
inline constexpr std::size_t kMaxFilterBytes = 1024 * 1024;
// Longest JSON form accepted (bytes).
inline constexpr std::size_t kMaxJsonBytes = 4 * 1024 * 1024;
// Deepest nesting of parentheses, NOT and aggregate conditions.
inline constexpr std::size_t kMaxNestingDepth = 200;
// Deepest nesting of JSON arrays and objects in the JSON form: a nested group costs four
// levels ({"groups": [{"conditions": [...]}]}) where the text form needs one parenthesis.
inline constexpr std::size_t kMaxJsonDepth = 4 * kMaxNestingDepth + 8;
// Longest canonical number literal (characters).
inline constexpr std::size_t kMaxNumberChars = 1000;
// Largest amount in WITHIN LAST / WITHIN NEXT / OLDER THAN: keeps now +/- the interval inside
// PostgreSQL's timestamp range (1,000,000 months is about 83,000 years).
inline constexpr std::int64_t kMaxRelativeAmount = 1000000;
// Looking back (WITHIN LAST, OLDER THAN), now - amount must stay after PostgreSQL's earliest
// timestamp (4713 BC): at most 5,000 years, that is 260,000 weeks or 60,000 months. Minutes,
// hours and days stay within it at any amount above.
inline constexpr std::int64_t kMaxPastWeeks = 260000;
inline constexpr std::int64_t kMaxPastMonths = 60000;

}  // namespace pgseg::limits
