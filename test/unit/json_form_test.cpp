// The JSON form: lossless both ways, strict validation with JSON paths in errors.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/json_form.hpp"
#include "core/parser.hpp"
#include "core/printer.hpp"

namespace pgseg {
namespace {

Error json_error(const std::string& json) {
  try {
    filter_from_json_text(json);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << json;
  return Error("00000", "none");
}

TEST(JsonForm, GroupsAreOrOfAnds) {
  NodePtr node = filter_from_json_text(R"({"groups": [
      {"conditions": [{"field": "tier", "op": "=", "value": "gold"},
                      {"field": "country", "op": "in", "values": ["OM", "AE"]}]},
      {"conditions": [{"field": "tags", "op": "contains", "value": "vip"}]}]})");
  EXPECT_EQ(print_filter(*node),
            "tier = 'gold' AND country IN ('OM', 'AE') OR tags CONTAINS 'vip'");
}

TEST(JsonForm, RoundTripsEveryConstruct) {
  const char* filters[] = {
      "tier = 'gold' AND country = 'OM'",
      "(lifetime_value > 500 OR tier IN ('gold', 'platinum')) AND NOT opted_out",
      "a <> 1 AND b <= 2.5 AND c > -3 AND d >= 0 AND e < 1",
      "x NOT IN ('a') OR y BETWEEN 1 AND 2 OR y NOT BETWEEN 3 AND 4",
      "x IS NULL AND y IS NOT NULL AND z LIKE 'a%' AND z NOT ILIKE 'b_'",
      "tags CONTAINS 'a' AND tags NOT CONTAINS ANY ('b', 'c') AND tags CONTAINS ALL ('d')",
      "c WITHIN LAST 7 DAYS OR c WITHIN NEXT 1 HOUR OR c OLDER THAN 2 MONTHS",
      "NOT c WITHIN LAST 3 WEEKS",
      "attrs.\"first name\".x = TRUE",
      "TRUE",
      "FALSE OR a = 1",
      "IN SEGMENT 'vip' AND NOT IN SEGMENT 'churned'",
      "orders.count(status = 'paid' AND created_at WITHIN LAST 30 DAYS) >= 3",
      "orders.sum(amount WHERE status = 'paid') > 500 AND orders.exists()",
      "NOT (a = 1 OR b = 2) AND (c = 3 OR d = 4 AND (e = 5 OR f = 6))",
  };
  for (const char* text : filters) {
    NodePtr original = parse_filter(text);
    std::string json = filter_to_json_text(*original);
    NodePtr back = filter_from_json_text(json);
    EXPECT_TRUE(equal(*original, *back)) << text << "\n" << json << "\n" << print_filter(*back);
    EXPECT_EQ(filter_to_json_text(*back), json);
  }
}

TEST(JsonForm, Shape) {
  EXPECT_EQ(filter_to_json_text(*parse_filter("a = 1")),
            R"({"groups": [{"conditions": [{"field": "a", "op": "=", "value": 1}]}]})");
  EXPECT_EQ(filter_to_json_text(*parse_filter("NOT flag")),
            R"({"groups": [{"conditions": [{"not": {"field": "flag"}}]}]})");
  EXPECT_EQ(
      filter_to_json_text(*parse_filter("c WITHIN LAST 1 DAY")),
      R"({"groups": [{"conditions": [{"field": "c", "op": "within last", "amount": 1, "unit": "days"}]}]})");
}

TEST(JsonForm, AcceptsFriendlyVariants) {
  EXPECT_EQ(print_filter(*filter_from_json_text(
                R"({"field": ["attrs", "First Name"], "op": "NOT_IN", "values": ["a"]})")),
            "attrs.\"First Name\" NOT IN ('a')");
  EXPECT_EQ(print_filter(*filter_from_json_text(R"({"field": "x", "op": "!=", "value": 1.50})")),
            "x <> 1.5");
  EXPECT_EQ(
      print_filter(*filter_from_json_text(R"({"not": {"field": "x", "op": "in", "values": [1]}})")),
      "x NOT IN (1)");
}

TEST(JsonForm, ErrorsNameThePath) {
  Error e = json_error(R"({"groups": [{"conditions": [{"field": "a", "op": "=", "vaule": 1}]}]})");
  EXPECT_STREQ(e.sqlstate(), "22023");
  EXPECT_EQ(e.detail(), "at $.groups[0].conditions[0]");
  EXPECT_NE(std::string(e.what()).find("unknown key \"vaule\""), std::string::npos);
  e = json_error(R"({"groups": []})");
  EXPECT_NE(e.hint().find("constant"), std::string::npos);
  e = json_error(R"({"groups": [{"conditions": [{"field": "a", "op": "~", "value": 1}]}]})");
  EXPECT_EQ(e.detail(), "at $.groups[0].conditions[0].op");
  e = json_error(R"({"field": "a", "op": "=", "value": null})");
  EXPECT_NE(e.hint().find("is null"), std::string::npos);
  e = json_error(R"({"field": "a", "op": "between", "values": [1]})");
  EXPECT_NE(std::string(e.what()).find("exactly 2"), std::string::npos);
  e = json_error(R"({"field": "a b", "op": "=", "value": 1})");
  EXPECT_STREQ(e.sqlstate(), "42601");
  EXPECT_NE(e.detail().find("at $.field"), std::string::npos);
  e = json_error(R"({"field": "a", "op": "within last", "amount": 1.5, "unit": "days"})");
  EXPECT_EQ(e.detail(), "at $.amount");
  e = json_error(R"([1, 2])");
  EXPECT_STREQ(e.sqlstate(), "22023");
  e = json_error(R"({"field": "a", "op": "=", "value": 1)");
  EXPECT_STREQ(e.sqlstate(), "22032");
  e = json_error(R"({"a": 1, "a": 2})");
  EXPECT_STREQ(e.sqlstate(), "22032");
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += R"({"not": )";
  deep += R"({"field": "a"})";
  for (int i = 0; i < 5000; ++i) deep += "}";
  e = json_error(deep);
  EXPECT_STREQ(e.sqlstate(), "54001");
}

TEST(Json, ParsesEscapesAndRejectsBadInput) {
  Json j = parse_json(R"({"s": "a\u00e9\ud83d\ude00\n", "n": -1.5e3, "b": [true, null]})");
  EXPECT_EQ(j.find("s")->text(), "a\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_EQ(j.find("n")->text(), "-1.5e3");
  EXPECT_THROW(parse_json("\"\\u0000\""), Error);
  EXPECT_THROW(parse_json("\"\\ud800\""), Error);
  EXPECT_THROW(parse_json("01"), Error);
  EXPECT_THROW(parse_json("[1,]"), Error);
  EXPECT_THROW(parse_json("\"a\x01\""), Error);
  EXPECT_EQ(to_json_text(parse_json(R"(["a\"b\\c\u0001"])")), R"(["a\"b\\c\u0001"])");
}

}  // namespace
}  // namespace pgseg
