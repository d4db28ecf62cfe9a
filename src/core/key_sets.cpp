// Sorting and comparing sets of integer keys.
#include "core/key_sets.hpp"

#include <cstring>
#include <utility>

namespace pgseg {

void sort_keys(std::int64_t* keys, std::size_t count, std::int64_t* scratch) noexcept {
  if (count < 2) return;
  bool sorted = true;
  for (std::size_t i = 1; i < count && sorted; ++i) sorted = keys[i - 1] <= keys[i];
  if (sorted) return;
  // With the sign bit flipped, signed order is unsigned order.
  constexpr std::uint64_t kSign = std::uint64_t{1} << 63;
  auto* from = reinterpret_cast<std::uint64_t*>(keys);
  auto* to = reinterpret_cast<std::uint64_t*>(scratch);
  std::uint64_t any_set = 0;
  std::uint64_t all_set = ~std::uint64_t{0};
  for (std::size_t i = 0; i < count; ++i) {
    from[i] ^= kSign;
    any_set |= from[i];
    all_set &= from[i];
  }
  // A byte that is the same in every key does not change the order.
  const std::uint64_t varying = any_set ^ all_set;
  std::size_t counts[256];
  for (int shift = 0; shift < 64; shift += 8) {
    if (((varying >> shift) & 0xff) == 0) continue;
    std::memset(counts, 0, sizeof(counts));
    for (std::size_t i = 0; i < count; ++i) counts[(from[i] >> shift) & 0xff]++;
    std::size_t offset = 0;
    for (std::size_t& c : counts) {
      const std::size_t n = c;
      c = offset;
      offset += n;
    }
    for (std::size_t i = 0; i < count; ++i) to[counts[(from[i] >> shift) & 0xff]++] = from[i];
    std::swap(from, to);
  }
  for (std::size_t i = 0; i < count; ++i) from[i] ^= kSign;
  if (from != reinterpret_cast<std::uint64_t*>(keys)) {
    std::memcpy(keys, from, count * sizeof(std::int64_t));
  }
}

KeySplit split_sorted_keys(const std::int64_t* first, std::size_t first_count,
                           const std::int64_t* second, std::size_t second_count,
                           std::int64_t* only_first, std::int64_t* only_second) noexcept {
  KeySplit split;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < first_count && j < second_count) {
    if (first[i] < second[j]) {
      only_first[split.only_first++] = first[i++];
    } else if (second[j] < first[i]) {
      only_second[split.only_second++] = second[j++];
    } else {
      ++split.both;
      ++i;
      ++j;
    }
  }
  while (i < first_count) only_first[split.only_first++] = first[i++];
  while (j < second_count) only_second[split.only_second++] = second[j++];
  return split;
}

}  // namespace pgseg
