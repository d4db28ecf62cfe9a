// Sorting and splitting sets of integer keys, against the standard library.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "core/key_sets.hpp"

namespace pgseg {
namespace {

std::vector<std::int64_t> sorted_copy(std::vector<std::int64_t> keys) {
  std::vector<std::int64_t> scratch(keys.size());
  sort_keys(keys.data(), keys.size(), scratch.data());
  return keys;
}

TEST(KeySets, SortsAnyIntegers) {
  std::mt19937_64 random(20261123);
  const std::vector<std::vector<std::int64_t>> cases = {
      {},
      {7},
      {3, 1, 2},
      {1, 2, 3, 4},
      {std::numeric_limits<std::int64_t>::max(), -1, 0, std::numeric_limits<std::int64_t>::min(), 1,
       -256, 256, 65536, -65536},
  };
  for (const auto& keys : cases) {
    auto expected = keys;
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(sorted_copy(keys), expected);
  }
  // Small ids (low bytes vary), wide ones (every byte varies), negative and mixed.
  for (std::int64_t range : {std::int64_t{1000}, std::int64_t{1} << 40, std::int64_t{-1}}) {
    std::vector<std::int64_t> keys(5000);
    for (auto& k : keys) {
      const auto r = static_cast<std::int64_t>(random());
      k = range < 0 ? r : (r % range) - (range / 3);
    }
    auto expected = keys;
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(sorted_copy(keys), expected);
  }
}

TEST(KeySets, KeysThatDifferInOneHighByteOnly) {
  std::vector<std::int64_t> keys;
  for (std::int64_t b = 9; b >= 0; --b) keys.push_back((b << 48) | 5);
  auto expected = keys;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sorted_copy(keys), expected);
}

TEST(KeySets, SplitsLikeSetDifference) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 50; ++round) {
    std::set<std::int64_t> first_set;
    std::set<std::int64_t> second_set;
    const int n = static_cast<int>(random() % 300);
    for (int i = 0; i < n; ++i) {
      first_set.insert(static_cast<std::int64_t>(random() % 400) - 200);
      second_set.insert(static_cast<std::int64_t>(random() % 400) - 200);
    }
    const std::vector<std::int64_t> first(first_set.begin(), first_set.end());
    const std::vector<std::int64_t> second(second_set.begin(), second_set.end());
    std::vector<std::int64_t> only_first(first.size());
    std::vector<std::int64_t> only_second(second.size());
    const KeySplit split = split_sorted_keys(first.data(), first.size(), second.data(),
                                             second.size(), only_first.data(), only_second.data());
    std::vector<std::int64_t> expected_first;
    std::vector<std::int64_t> expected_second;
    std::vector<std::int64_t> expected_both;
    std::set_difference(first.begin(), first.end(), second.begin(), second.end(),
                        std::back_inserter(expected_first));
    std::set_difference(second.begin(), second.end(), first.begin(), first.end(),
                        std::back_inserter(expected_second));
    std::set_intersection(first.begin(), first.end(), second.begin(), second.end(),
                          std::back_inserter(expected_both));
    only_first.resize(split.only_first);
    only_second.resize(split.only_second);
    EXPECT_EQ(only_first, expected_first);
    EXPECT_EQ(only_second, expected_second);
    EXPECT_EQ(split.both, expected_both.size());
  }
}

TEST(KeySets, OneSideEmpty) {
  const std::vector<std::int64_t> keys = {1, 5, 9};
  std::vector<std::int64_t> out(3);
  std::int64_t none = 0;
  KeySplit split = split_sorted_keys(keys.data(), keys.size(), nullptr, 0, out.data(), &none);
  EXPECT_EQ(split.only_first, 3u);
  EXPECT_EQ(split.only_second, 0u);
  EXPECT_EQ(out, keys);
  split = split_sorted_keys(nullptr, 0, keys.data(), keys.size(), &none, out.data());
  EXPECT_EQ(split.only_second, 3u);
  EXPECT_EQ(split.both, 0u);
}

}  // namespace
}  // namespace pgseg
