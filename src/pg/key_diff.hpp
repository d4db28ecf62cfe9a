// A refresh's comparison of new keys with stored membership, in memory, for integer keys.
#pragma once

#include "pg/postgres.hpp"

#include <cstddef>
#include <optional>

namespace pgseg::pg {

// What a refresh wrote: members added, members removed, members after it.
struct RefreshCounts {
  int64 added = 0;
  int64 removed = 0;
  int64 total = 0;
};

// The statements of a refresh by keys, built by the caller with every name quoted.
struct KeyDiffStatements {
  // Returns (key bigint, side integer) rows, both sets in one snapshot: side 1 for each stored
  // member, side 2 for each key of the new set.
  const char* read;
  // Each takes $1 bigint[], the keys (sorted) to remove or add, writes them with their change
  // feed, and returns the number of members it removed or added.
  const char* remove;
  const char* add;
};

// How many keys (both sets together) a refresh compares in memory with max_bytes: about 32
// bytes each, at most 64 million.
uint64 refresh_key_limit(std::size_t max_bytes);

// Reads both sets with one query, keeping at most refresh_key_limit(max_bytes) keys (the
// memory used is about max_bytes, briefly up to twice that while an array grows), and runs
// remove and add with the keys on one side only (nothing at all when the sets are equal).
// Returns nothing, having written nothing, when the keys do not fit, and without reading
// anything when the object's estimated row count (reltuples; negative: unknown) alone does
// not fit.
std::optional<RefreshCounts> refresh_by_integer_keys(const KeyDiffStatements& statements,
                                                     std::size_t max_bytes, double estimated_rows);

}  // namespace pgseg::pg
