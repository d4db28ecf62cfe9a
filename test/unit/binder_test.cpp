// Binding against an object: errors with did-you-mean, typing rules, compiled SQL.
#include <gtest/gtest.h>

#include "core/binder.hpp"
#include "core/parser.hpp"
#include "core/sql_compiler.hpp"
#include "mock_schema.hpp"

namespace pgseg {
namespace {

using testing::MockSchema;
using testing::QuoteAlways;

Error bind_error(const std::string& text) {
  MockSchema schema;
  NodePtr node = parse_filter(text);
  try {
    bind_filter(*node, schema);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << text;
  return Error("00000", "none");
}

std::string sql(const std::string& text) {
  MockSchema schema;
  NodePtr node = parse_filter(text);
  BoundFilter bound = bind_filter(*node, schema);
  return compile_sql(*node, bound, QuoteAlways());
}

TEST(Binder, UnknownColumnSuggestsClosestName) {
  Error e = bind_error("tierr = 'gold'");
  EXPECT_STREQ(e.sqlstate(), "42703");
  EXPECT_EQ(std::string(e.what()), "column \"tierr\" does not exist in public.customers");
  EXPECT_EQ(e.hint(), "Perhaps you meant \"tier\".");
  EXPECT_EQ(e.detail(), "in condition: tierr = 'gold'");
  e = bind_error("atrs.plan = 'x'");
  EXPECT_EQ(e.hint(), "Perhaps you meant \"attrs.plan\".");
  e = bind_error("zzzzzzzz = 1");
  EXPECT_NE(e.hint().find("Columns of public.customers: id, tier"), std::string::npos);
  EXPECT_NE(e.hint().find("\"Mixed Case\""), std::string::npos);
}

TEST(Binder, TypeMismatches) {
  Error e = bind_error("tier = 5");
  EXPECT_STREQ(e.sqlstate(), "42804");
  EXPECT_EQ(e.hint(), "Write the value in single quotes, as in '5'.");
  e = bind_error("lifetime_value > '500'");
  EXPECT_STREQ(e.sqlstate(), "42804");
  EXPECT_EQ(e.hint(), "Write the number without quotes.");
  e = bind_error("opted_out = 'yes'");
  EXPECT_STREQ(e.sqlstate(), "42804");
  e = bind_error("tier");
  EXPECT_STREQ(e.sqlstate(), "42804");
  e = bind_error("tier.sub = 'x'");
  EXPECT_STREQ(e.sqlstate(), "42804");
  EXPECT_NE(e.hint().find("jsonb"), std::string::npos);
  e = bind_error("attrs.a IN ('x', 1)");
  EXPECT_STREQ(e.sqlstate(), "42804");
  e = bind_error("birthday = '2024-13-45'");
  EXPECT_STREQ(e.sqlstate(), "22007");
  e = bind_error("status = 'gone'");
  EXPECT_STREQ(e.sqlstate(), "22P02");
  e = bind_error("nums CONTAINS 2.5");
  EXPECT_STREQ(e.sqlstate(), "22P02");
}

TEST(Binder, OperatorsNotValidForType) {
  Error e = bind_error("lifetime_value LIKE '5%'");
  EXPECT_STREQ(e.sqlstate(), "42883");
  EXPECT_EQ(std::string(e.what()),
            "operator LIKE is not supported for column \"lifetime_value\" of type numeric");
  EXPECT_NE(e.hint().find("BETWEEN"), std::string::npos);
  EXPECT_STREQ(bind_error("tags = 'x'").sqlstate(), "42883");
  EXPECT_NE(bind_error("tags = 'x'").hint().find("CONTAINS"), std::string::npos);
  EXPECT_STREQ(bind_error("tier CONTAINS 'x'").sqlstate(), "42883");
  EXPECT_STREQ(bind_error("tier WITHIN LAST 3 DAYS").sqlstate(), "42883");
  EXPECT_STREQ(bind_error("opted_out < TRUE").sqlstate(), "42883");
  EXPECT_STREQ(bind_error("shape = 'x'").sqlstate(), "42883");
  EXPECT_STREQ(bind_error("attrs = 'x'").sqlstate(), "42883");
  EXPECT_STREQ(bind_error("attrs.flag > TRUE").sqlstate(), "42883");
}

TEST(Binder, LaterFeaturesAreRefusedClearly) {
  EXPECT_STREQ(bind_error("orders.count() > 1").sqlstate(), "0A000");
  EXPECT_STREQ(bind_error("IN SEGMENT 'vip'").sqlstate(), "0A000");
  Error e = bind_error("organizations.industry = 'x'");
  EXPECT_STREQ(e.sqlstate(), "42703");
}

TEST(SqlCompiler, ComparisonsAndLists) {
  EXPECT_EQ(sql("tier = 'gold' AND country = 'OM'"), "\"tier\" = 'gold' AND \"country\" = 'OM'");
  EXPECT_EQ(sql("score > 1.5"), "\"score\" > '1.5'::double precision");
  EXPECT_EQ(sql("id IN (1, 2) OR id NOT BETWEEN -5 AND 5"),
            "\"id\" IN (1, 2) OR \"id\" NOT BETWEEN -5 AND 5");
  EXPECT_EQ(sql("(id = 1 OR id = 2) AND NOT opted_out"),
            "(\"id\" = 1 OR \"id\" = 2) AND NOT (\"opted_out\")");
  EXPECT_EQ(sql("tier LIKE 'a\\%' AND tier NOT ILIKE 'it''s'"),
            "\"tier\" LIKE E'a\\\\%' AND \"tier\" NOT ILIKE 'it''s'");
  EXPECT_EQ(sql("tier IS NULL"), "\"tier\" IS NULL");
  EXPECT_EQ(sql("TRUE"), "TRUE");
}

TEST(SqlCompiler, ArraysJsonAndTime) {
  EXPECT_EQ(sql("tags CONTAINS 'vip'"), "COALESCE(\"tags\" @> '{\"vip\"}', FALSE)");
  EXPECT_EQ(sql("tags NOT CONTAINS ANY ('a', 'b\"c')"),
            "NOT COALESCE(\"tags\" && E'{\"a\",\"b\\\\\"c\"}', FALSE)");
  EXPECT_EQ(sql("attrs.plan.tier = 'pro'"),
            "segments.jsonb_text(\"attrs\", 'plan', 'tier') = 'pro'");
  EXPECT_EQ(sql("attrs.n > 5"), "segments.jsonb_number(\"attrs\", 'n') > 5");
  EXPECT_EQ(sql("attrs.flag"), "segments.jsonb_bool(\"attrs\", 'flag')");
  EXPECT_EQ(sql("attrs.k IS NULL"), "segments.jsonb_value(\"attrs\", 'k') IS NULL");
  EXPECT_EQ(sql("attrs.list CONTAINS ANY (1, 2)"),
            "COALESCE(segments.jsonb_array(\"attrs\", 'list') @> '[1]' OR "
            "segments.jsonb_array(\"attrs\", 'list') @> '[2]', FALSE)");
  EXPECT_EQ(sql("created_at WITHIN LAST 7 DAYS"),
            "(\"created_at\" >= now() - '7 days'::interval AND \"created_at\" <= now())");
  EXPECT_EQ(sql("created_at OLDER THAN 1 MONTH"), "\"created_at\" < now() - '1 months'::interval");
  EXPECT_EQ(sql("attrs.seen WITHIN NEXT 2 HOURS"),
            "(segments.jsonb_timestamptz(\"attrs\", 'seen') >= now() AND "
            "segments.jsonb_timestamptz(\"attrs\", 'seen') <= now() + '2 hours'::interval)");
}

TEST(SqlCompiler, HostileNamesAndValuesStayQuoted) {
  EXPECT_EQ(sql("tier = ''' OR 1=1 --'"), "\"tier\" = ''' OR 1=1 --'");
  EXPECT_EQ(sql("attrs.\"'); DROP TABLE x; --\" = 'a'"),
            "segments.jsonb_text(\"attrs\", '''); DROP TABLE x; --') = 'a'");
}

TEST(SqlCompiler, ClosestName) {
  EXPECT_EQ(closest_name("country", {"tier", "country"}), "country");
  EXPECT_EQ(closest_name("xyz", {"tier", "country"}), "");
}

}  // namespace
}  // namespace pgseg
