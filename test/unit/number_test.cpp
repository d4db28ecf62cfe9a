// Canonical decimal text and integer views of literals.
#include <gtest/gtest.h>

#include <limits>

#include "core/error.hpp"
#include "core/number.hpp"

namespace pgseg {
namespace {

TEST(Number, Canonical) {
  EXPECT_EQ(*canonical_number("0"), "0");
  EXPECT_EQ(*canonical_number("-0"), "0");
  EXPECT_EQ(*canonical_number("000"), "0");
  EXPECT_EQ(*canonical_number("1.500"), "1.5");
  EXPECT_EQ(*canonical_number(".5"), "0.5");
  EXPECT_EQ(*canonical_number("-.5"), "-0.5");
  EXPECT_EQ(*canonical_number("1e3"), "1000");
  EXPECT_EQ(*canonical_number("1.25E-2"), "0.0125");
  EXPECT_EQ(*canonical_number("+12"), "12");
  EXPECT_EQ(*canonical_number("120e-1"), "12");
  EXPECT_FALSE(canonical_number("1e"));
  EXPECT_FALSE(canonical_number("."));
  EXPECT_FALSE(canonical_number("1.2.3"));
  EXPECT_FALSE(canonical_number(""));
  EXPECT_THROW(canonical_number("1e100000000000"), Error);
  EXPECT_THROW(canonical_number("1e-5000"), Error);
  EXPECT_EQ(canonical_number("1e999")->size(), 1000u);
}

TEST(Number, IntegerView) {
  using K = IntegerView::Kind;
  EXPECT_EQ(integer_view("12").kind, K::kExact);
  EXPECT_EQ(integer_view("12").value, 12);
  EXPECT_EQ(integer_view("-12").value, -12);
  EXPECT_EQ(integer_view("2.5").kind, K::kNonIntegral);
  EXPECT_EQ(integer_view("2.5").value, 2);
  EXPECT_EQ(integer_view("-2.5").value, -3);
  EXPECT_EQ(integer_view("9223372036854775807").value, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(integer_view("9223372036854775808").kind, K::kAboveRange);
  EXPECT_EQ(integer_view("-9223372036854775808").value, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(integer_view("-9223372036854775808").kind, K::kExact);
  EXPECT_EQ(integer_view("-9223372036854775808.5").kind, K::kBelowRange);
  EXPECT_EQ(integer_view("-9223372036854775807.5").kind, K::kNonIntegral);
  EXPECT_EQ(integer_view("-9223372036854775807.5").value, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(integer_view("100000000000000000000000").kind, K::kAboveRange);
}

}  // namespace
}  // namespace pgseg
