// The stored form of segment_filter values: a varlena holding a format version byte and the
// filter's canonical text.
#pragma once

#include "pg/postgres.hpp"

#include <string>
#include <string_view>

namespace pgseg::pg {

inline constexpr char kStorageVersion = 1;

// A new segment_filter datum (palloc'd in CurrentMemoryContext) holding canonical text.
Datum make_filter_datum(const std::string& canonical);

// The canonical text inside a detoasted segment_filter value. Throws for an unknown version.
std::string_view filter_text(const struct varlena* value);

}  // namespace pgseg::pg
