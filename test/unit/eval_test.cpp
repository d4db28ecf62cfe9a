// The evaluator: three-valued logic, native predicates and relative time.
#include <gtest/gtest.h>

#include "core/parser.hpp"
#include "mock_schema.hpp"

namespace pgseg {
namespace {

using testing::MockHost;
using testing::MockSchema;
using testing::Row;
using testing::RowFiller;

constexpr std::int64_t kDay = 86400000000LL;
constexpr std::int64_t kNow = 9000 * kDay;

Tri eval(const std::string& text, const Row& row, int* host_predicates = nullptr) {
  MockSchema schema;
  MockHost host;
  NodePtr node = parse_filter(text);
  BoundFilter bound = bind_filter(*node, schema);
  std::unique_ptr<Program> program = compile_program(*node, bound, schema, host);
  if (host_predicates) *host_predicates = host.host_predicates;
  RowFiller filler(*program, schema, kNow);
  return filler.eval(row);
}

Row customer() {
  Row r;
  r.values["id"] = std::int64_t{42};
  r.values["tier"] = std::string("gold");
  r.values["country"] = std::string("OM");
  r.values["code"] = std::string("b");
  r.values["score"] = 3.5;
  r.values["opted_out"] = false;
  r.values["created_at"] = kNow - 2 * kDay;
  r.values["tags"] = std::vector<std::string>{"vip", "lead"};
  r.values["nums"] = std::vector<std::int64_t>{1, 2, 3};
  r.values["status"] = std::int64_t{1};
  r.json["plan"] = std::string("pro");
  r.json["flag"] = true;
  r.json["seen"] = kNow - 40 * kDay;
  return r;
}

TEST(Eval, ThreeValuedLogic) {
  Row r = customer();
  EXPECT_EQ(eval("tier = 'gold'", r), Tri::kTrue);
  EXPECT_EQ(eval("TRUE AND FALSE", r), Tri::kFalse);
  EXPECT_EQ(eval("FALSE OR NOT FALSE", r), Tri::kTrue);
  r.values.erase("country");
  // Unknown AND true is unknown; unknown AND false is false; unknown OR true is true.
  EXPECT_EQ(eval("country = 'OM' AND tier = 'gold'", r), Tri::kUnknown);
  EXPECT_EQ(eval("country = 'OM' AND tier = 'x'", r), Tri::kFalse);
  EXPECT_EQ(eval("country = 'OM' OR tier = 'gold'", r), Tri::kTrue);
  EXPECT_EQ(eval("country = 'OM' OR tier = 'x'", r), Tri::kUnknown);
  EXPECT_EQ(eval("NOT country = 'OM'", r), Tri::kUnknown);
}

TEST(Eval, NullsFollowSql) {
  Row r = customer();
  r.values.erase("tier");
  EXPECT_EQ(eval("tier = 'gold'", r), Tri::kUnknown);
  EXPECT_EQ(eval("tier <> 'gold'", r), Tri::kUnknown);
  EXPECT_EQ(eval("NOT (tier = 'gold' AND id = 42)", r), Tri::kUnknown);
  EXPECT_EQ(eval("tier = 'gold' AND id = 1", r), Tri::kFalse);
  EXPECT_EQ(eval("tier = 'gold' OR id = 42", r), Tri::kTrue);
  EXPECT_EQ(eval("tier IS NULL", r), Tri::kTrue);
  EXPECT_EQ(eval("tier NOT IN ('x')", r), Tri::kUnknown);
  EXPECT_EQ(eval("tier IN ('gold')", r), Tri::kUnknown);
}

TEST(Eval, IntegerComparisonsWithDecimals) {
  Row r = customer();
  EXPECT_EQ(eval("id > 41.5", r), Tri::kTrue);
  EXPECT_EQ(eval("id < 42.5", r), Tri::kTrue);
  EXPECT_EQ(eval("id <= 41.99", r), Tri::kFalse);
  EXPECT_EQ(eval("id = 42.0", r), Tri::kTrue);
  EXPECT_EQ(eval("id = 42.5", r), Tri::kFalse);
  EXPECT_EQ(eval("id <> 42.5", r), Tri::kTrue);
  EXPECT_EQ(eval("id < 1e30", r), Tri::kTrue);
  EXPECT_EQ(eval("id > -1e30", r), Tri::kTrue);
  EXPECT_EQ(eval("id IN (42.5, 7)", r), Tri::kFalse);
  EXPECT_EQ(eval("id NOT IN (42.5)", r), Tri::kTrue);
  EXPECT_EQ(eval("id BETWEEN 41.5 AND 42.5", r), Tri::kTrue);
  r.values.erase("id");
  EXPECT_EQ(eval("id = 42.5", r), Tri::kUnknown);
  EXPECT_EQ(eval("id < 1e30", r), Tri::kUnknown);
}

TEST(Eval, FloatsOrderNanLast) {
  Row r = customer();
  r.values["score"] = std::nan("");
  EXPECT_EQ(eval("score > 1e300", r), Tri::kTrue);
  EXPECT_EQ(eval("score = 1", r), Tri::kFalse);
  r.values["score"] = -0.0;
  EXPECT_EQ(eval("score = 0", r), Tri::kTrue);
}

TEST(Eval, TextEnumsAndBooleans) {
  Row r = customer();
  int host = 0;
  EXPECT_EQ(eval("tier IN ('silver', 'gold') AND country <> 'AE'", r, &host), Tri::kTrue);
  EXPECT_EQ(host, 0) << "equality on deterministic text is native";
  EXPECT_EQ(eval("code < 'c'", r, &host), Tri::kTrue);
  EXPECT_EQ(host, 0) << "ordering under the C collation is native";
  EXPECT_EQ(eval("tier > 'a'", r, &host), Tri::kTrue);
  EXPECT_EQ(host, 1) << "ordering under a linguistic collation goes to the host";
  EXPECT_EQ(eval("status = 'active'", r), Tri::kTrue);
  EXPECT_EQ(eval("status > 'new'", r), Tri::kTrue);
  EXPECT_EQ(eval("opted_out", r), Tri::kFalse);
  EXPECT_EQ(eval("NOT opted_out", r), Tri::kTrue);
  EXPECT_EQ(eval("opted_out = FALSE", r), Tri::kTrue);
  EXPECT_EQ(eval("tier LIKE 'g%'", r), Tri::kTrue);
  EXPECT_EQ(eval("tier ILIKE 'G_LD'", r), Tri::kTrue);
}

TEST(Eval, ArraysTreatNullAsEmpty) {
  Row r = customer();
  EXPECT_EQ(eval("tags CONTAINS 'vip'", r), Tri::kTrue);
  EXPECT_EQ(eval("tags CONTAINS ALL ('vip', 'lead')", r), Tri::kTrue);
  EXPECT_EQ(eval("tags CONTAINS ALL ('vip', 'x')", r), Tri::kFalse);
  EXPECT_EQ(eval("tags CONTAINS ANY ('x', 'lead')", r), Tri::kTrue);
  EXPECT_EQ(eval("tags NOT CONTAINS 'x'", r), Tri::kTrue);
  EXPECT_EQ(eval("nums CONTAINS ANY (3, 9)", r), Tri::kTrue);
  r.values.erase("tags");
  EXPECT_EQ(eval("tags CONTAINS 'vip'", r), Tri::kFalse);
  EXPECT_EQ(eval("tags NOT CONTAINS 'vip'", r), Tri::kTrue);
  r.values["tags"] = std::vector<std::string>{};
  EXPECT_EQ(eval("tags CONTAINS ANY ('vip')", r), Tri::kFalse);
}

TEST(Eval, JsonKeysByLiteralType) {
  Row r = customer();
  EXPECT_EQ(eval("attrs.plan = 'pro'", r), Tri::kTrue);
  EXPECT_EQ(eval("attrs.plan IN ('free', 'pro')", r), Tri::kTrue);
  EXPECT_EQ(eval("attrs.flag", r), Tri::kTrue);
  EXPECT_EQ(eval("attrs.flag = FALSE", r), Tri::kFalse);
  EXPECT_EQ(eval("attrs.missing = 'x'", r), Tri::kUnknown);
  EXPECT_EQ(eval("NOT attrs.missing = 'x'", r), Tri::kUnknown);
  EXPECT_EQ(eval("attrs.missing IS NULL", r), Tri::kTrue);
  EXPECT_EQ(eval("attrs.plan IS NOT NULL", r), Tri::kTrue);
  EXPECT_EQ(eval("attrs.seen OLDER THAN 30 DAYS", r), Tri::kTrue);
}

TEST(Eval, RelativeTime) {
  Row r = customer();
  EXPECT_EQ(eval("created_at WITHIN LAST 7 DAYS", r), Tri::kTrue);
  EXPECT_EQ(eval("created_at WITHIN LAST 1 DAY", r), Tri::kFalse);
  EXPECT_EQ(eval("created_at OLDER THAN 1 DAY", r), Tri::kTrue);
  EXPECT_EQ(eval("created_at WITHIN NEXT 7 DAYS", r), Tri::kFalse);
  r.values["created_at"] = kNow + 3 * kDay;
  EXPECT_EQ(eval("created_at WITHIN NEXT 7 DAYS", r), Tri::kTrue);
  EXPECT_EQ(eval("created_at WITHIN LAST 7 DAYS", r), Tri::kFalse);
  r.values.erase("created_at");
  EXPECT_EQ(eval("created_at WITHIN LAST 7 DAYS", r), Tri::kUnknown);
  EXPECT_EQ(eval("NOT created_at WITHIN LAST 7 DAYS", r), Tri::kUnknown);
}

TEST(Eval, ProgramReportsColumnsRead) {
  MockSchema schema;
  MockHost host;
  NodePtr node = parse_filter("tier = 'a' AND (id > 1 OR tier LIKE 'x%') AND attrs.k = 1");
  BoundFilter bound = bind_filter(*node, schema);
  auto program = compile_program(*node, bound, schema, host);
  std::vector<int> expected = {1, 2, 12};
  EXPECT_EQ(program->columns_read(), expected);
}

TEST(Eval, ProgramReportsColumnsComparedWithRelativeTime) {
  MockSchema schema;
  MockHost host;
  NodePtr node = parse_filter(
      "tier = 'a' AND created_at WITHIN LAST 7 DAYS AND (score > 1 OR created_at OLDER THAN 1 "
      "DAY)");
  BoundFilter bound = bind_filter(*node, schema);
  auto program = compile_program(*node, bound, schema, host);
  std::vector<int> expected = {8};
  EXPECT_EQ(program->time_columns(), expected);
  NodePtr plain = parse_filter("tier = 'a' AND score > 1");
  BoundFilter plain_bound = bind_filter(*plain, schema);
  EXPECT_TRUE(compile_program(*plain, plain_bound, schema, host)->time_columns().empty());
}

}  // namespace
}  // namespace pgseg

namespace pgseg {
namespace {

constexpr std::int64_t kHourUs = 3600000000LL;

TEST(NextFlip, WithinLastEndsAfterTheInterval) {
  // created_at WITHIN LAST 7 DAYS, created 2 days ago: lower bound now - 7d < value.
  const std::int64_t now = 9000 * kDay;
  const std::int64_t value = now - 2 * kDay;
  ParamSpec lower{-1, 7, TimeUnit::kDay};
  Flip f = next_flip(value, lower, now - 7 * kDay, now);
  ASSERT_EQ(f.kind, Flip::Kind::kAt);
  EXPECT_LE(f.at, value + 7 * kDay + 1);            // never late
  EXPECT_GE(f.at, value + 7 * kDay - 3 * kHourUs);  // and close
  // Already past the bound: no further change.
  EXPECT_EQ(next_flip(now - 9 * kDay, lower, now - 7 * kDay, now).kind, Flip::Kind::kNever);
}

TEST(NextFlip, FutureValuesBecomeTrueWhenReached) {
  const std::int64_t now = 9000 * kDay;
  ParamSpec at_now{0, 0, TimeUnit::kDay};
  Flip f = next_flip(now + 5 * kHourUs, at_now, now, now);
  ASSERT_EQ(f.kind, Flip::Kind::kAt);
  EXPECT_EQ(f.at, now + 5 * kHourUs);
  EXPECT_EQ(next_flip(now - 1, at_now, now, now).kind, Flip::Kind::kNever);
  ParamSpec upper{1, 2, TimeUnit::kWeek};  // WITHIN NEXT 2 WEEKS: true once now + 2w >= value
  f = next_flip(now + 20 * kDay, upper, now + 14 * kDay, now);
  ASSERT_EQ(f.kind, Flip::Kind::kAt);
  EXPECT_LE(f.at, now + 6 * kDay);
}

TEST(NextFlip, PassedLowerBoundAsksForExactTime) {
  // OLDER THAN 1 MONTH: the 28-day lower bound has passed but a 31-day month has not.
  const std::int64_t now = 9000 * kDay;
  ParamSpec month{-1, 1, TimeUnit::kMonth};
  const std::int64_t value = now - 29 * kDay;
  EXPECT_EQ(next_flip(value, month, now - 30 * kDay, now).kind, Flip::Kind::kExactNeeded);
  EXPECT_EQ(next_flip(value, month, now - 28 * kDay, now).kind, Flip::Kind::kNever);
}

// value >= now (WITHIN NEXT) is true while now has not passed value, so a value equal to now is
// looked at again one microsecond later; value <= now (WITHIN LAST) is true from value on and
// never changes again once reached.
TEST(NextFlip, ValueEqualToNow) {
  const std::int64_t now = 9000 * kDay;
  ParamSpec at_now{0, 0, TimeUnit::kDay};
  Flip flip = next_flip(now, at_now, now, now, true);
  EXPECT_EQ(flip.kind, Flip::Kind::kAt);
  EXPECT_EQ(flip.at, now + 1);
  EXPECT_EQ(next_flip(now + 5, at_now, now, now, true).at, now + 6);
  EXPECT_EQ(next_flip(now - 1, at_now, now, now, true).kind, Flip::Kind::kNever);
  EXPECT_EQ(next_flip(INT64_MAX, at_now, now, now, true).kind, Flip::Kind::kNever);
  EXPECT_EQ(next_flip(now, at_now, now, now, false).kind, Flip::Kind::kNever);
  EXPECT_EQ(next_flip(now + 5, at_now, now, now, false).at, now + 5);
}

TEST(NextFlip, ExtremeValuesDoNotOverflow) {
  ParamSpec lower{-1, 1000000, TimeUnit::kMonth};
  EXPECT_EQ(next_flip(INT64_MAX - 5, lower, 0, 0).kind, Flip::Kind::kNever);
  ParamSpec upper{1, 1000000, TimeUnit::kMonth};
  EXPECT_EQ(next_flip(INT64_MIN + 5, upper, INT64_MIN + 1, 0).kind, Flip::Kind::kNever);
}

}  // namespace
}  // namespace pgseg
