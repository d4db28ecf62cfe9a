// Sets of integer keys as sorted arrays: sorting them and splitting two sets into what is in
// one only and what is in both (a refresh's stored members against its new keys).
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>

namespace pgseg {

// Sorts keys[0..count) in ascending order: an LSD radix sort over the bytes in which the keys
// differ (ids usually differ in their low three only), with scratch of count elements. Keys
// already in order are left as they are after one pass. Allocates nothing and never throws.
void sort_keys(std::int64_t* keys, std::size_t count, std::int64_t* scratch) noexcept;

// How two sorted sets of distinct keys compare.
struct KeySplit {
  std::size_t only_first = 0;
  std::size_t only_second = 0;
  std::size_t both = 0;
};

// Writes the keys of first that are not in second to only_first and those of second not in
// first to only_second, both ascending; each output has room for its input's count. The
// inputs are sorted and free of duplicates.
KeySplit split_sorted_keys(const std::int64_t* first, std::size_t first_count,
                           const std::int64_t* second, std::size_t second_count,
                           std::int64_t* only_first, std::int64_t* only_second) noexcept;

}  // namespace pgseg
