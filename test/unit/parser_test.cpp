// Parser and printer: canonical form, normalisation, syntax errors with positions, limits.
#include <gtest/gtest.h>

#include "core/ast.hpp"
#include "core/binary.hpp"
#include "core/error.hpp"
#include "core/parser.hpp"
#include "core/printer.hpp"

namespace pgseg {
namespace {

std::string canon(const std::string& text) {
  return print_filter(*parse_filter(text));
}

const Error expect_error(const std::string& text) {
  try {
    parse_filter(text);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << text;
  return Error("00000", "none");
}

TEST(Parser, CanonicalFormOfDesignExamples) {
  EXPECT_EQ(canon("tier = 'gold' and country = 'OM'"), "tier = 'gold' AND country = 'OM'");
  EXPECT_EQ(canon("tags contains 'vip' AND language = 'ar'"),
            "tags CONTAINS 'vip' AND language = 'ar'");
  EXPECT_EQ(canon("last_interaction_at older than 30 days"),
            "last_interaction_at OLDER THAN 30 DAYS");
  EXPECT_EQ(canon("created_at WITHIN LAST 1 day"), "created_at WITHIN LAST 1 DAY");
  EXPECT_EQ(canon("attrs.interest = 'enterprise' AND tags CONTAINS 'lead' -- attrs is jsonb"),
            "attrs.interest = 'enterprise' AND tags CONTAINS 'lead'");
  EXPECT_EQ(canon("(lifetime_value > 500 OR tier IN ('gold', 'platinum')) AND NOT opted_out"),
            "(lifetime_value > 500 OR tier IN ('gold', 'platinum')) AND NOT opted_out");
  EXPECT_EQ(canon("platform IN ('whatsapp','instagram') AND opted_out = false"),
            "platform IN ('whatsapp', 'instagram') AND opted_out = FALSE");
  EXPECT_EQ(canon("email ILIKE '%@example.com' AND country IS NOT NULL"),
            "email ILIKE '%@example.com' AND country IS NOT NULL");
  EXPECT_EQ(canon("organizations.industry = 'software'"), "organizations.industry = 'software'");
  EXPECT_EQ(canon("orders.count(status = 'paid' AND created_at WITHIN LAST 30 DAYS) >= 3"),
            "orders.count(status = 'paid' AND created_at WITHIN LAST 30 DAYS) >= 3");
  EXPECT_EQ(canon("orders.sum(amount where status = 'paid') > 500"),
            "orders.sum(amount WHERE status = 'paid') > 500");
  EXPECT_EQ(canon("in segment 'vip-arabic' and not in segment 'churned'"),
            "IN SEGMENT 'vip-arabic' AND NOT IN SEGMENT 'churned'");
}

TEST(Parser, NormalisesEquivalentSpellings) {
  EXPECT_EQ(canon("a != 1"), "a <> 1");
  EXPECT_EQ(canon("NOT a = 1"), "a <> 1");
  EXPECT_EQ(canon("NOT a < 1"), "a >= 1");
  EXPECT_EQ(canon("NOT NOT a = 1"), "a = 1");
  EXPECT_EQ(canon("NOT a IN (1, 2)"), "a NOT IN (1, 2)");
  EXPECT_EQ(canon("NOT a IS NULL"), "a IS NOT NULL");
  EXPECT_EQ(canon("NOT tags CONTAINS ANY ('x')"), "tags NOT CONTAINS ANY ('x')");
  EXPECT_EQ(canon("NOT true"), "FALSE");
  EXPECT_EQ(canon("((a = 1))"), "a = 1");
  EXPECT_EQ(canon("(a = 1 AND b = 2) AND c = 3"), "a = 1 AND b = 2 AND c = 3");
  EXPECT_EQ(canon("a = 1 OR (b = 2 OR c = 3)"), "a = 1 OR b = 2 OR c = 3");
  EXPECT_EQ(canon("NOT (a = 1 AND b = 2)"), "NOT (a = 1 AND b = 2)");
  EXPECT_EQ(canon("Tier = 'x'"), "tier = 'x'");
  EXPECT_EQ(canon("\"Tier\" = 'x'"), "\"Tier\" = 'x'");
  EXPECT_EQ(canon("\"select\" = 'x'"), "select = 'x'");
  EXPECT_EQ(canon("\"not\" = 'x'"), "\"not\" = 'x'");
  EXPECT_EQ(canon("a = 007.50"), "a = 7.5");
  EXPECT_EQ(canon("a = 1e3"), "a = 1000");
  EXPECT_EQ(canon("a = -0.0"), "a = 0");
  EXPECT_EQ(canon("a = 'it''s'"), "a = 'it''s'");
  EXPECT_EQ(canon("a = 'back\\slash'"), "a = 'back\\slash'");
  EXPECT_EQ(canon("a WITHIN NEXT 2 weeks"), "a WITHIN NEXT 2 WEEKS");
  EXPECT_EQ(canon("a between 1 and 5 and b = 2"), "a BETWEEN 1 AND 5 AND b = 2");
  EXPECT_EQ(canon("\"last\" = 1 and last = 2"), "last = 1 AND last = 2");
  EXPECT_EQ(canon("attrs.\"first name\" = 'x'"), "attrs.\"first name\" = 'x'");
  EXPECT_EQ(canon("unicodé = 'ü'"), "\"unicodé\" = 'ü'");
}

TEST(Parser, PrecedenceMatchesSql) {
  EXPECT_EQ(canon("a = 1 OR b = 2 AND c = 3"), "a = 1 OR b = 2 AND c = 3");
  NodePtr node = parse_filter("a = 1 OR b = 2 AND c = 3");
  ASSERT_EQ(node->kind, NodeKind::kOr);
  EXPECT_EQ(node->children[1]->kind, NodeKind::kAnd);
  EXPECT_EQ(canon("(a = 1 OR b = 2) AND c = 3"), "(a = 1 OR b = 2) AND c = 3");
  EXPECT_EQ(canon("NOT a AND b"), "NOT a AND b");
  EXPECT_EQ(canon("NOT (a OR b)"), "NOT (a OR b)");
}

TEST(Parser, RoundTripIsStable) {
  const char* filters[] = {
      "TRUE",
      "FALSE",
      "x IS NULL OR NOT (y = 1 OR z LIKE 'a\\\\%')",
      "tags NOT CONTAINS ALL ('a', 'b') AND n NOT BETWEEN -1.5 AND 2",
      "o.sum(amount WHERE status IN ('a') AND NOT x WITHIN LAST 3 MONTHS) BETWEEN 1 AND 2",
      "o.exists() AND NOT o.exists(x = 1)",
      "NOT created_at WITHIN LAST 7 DAYS",
      "attrs.a.b.c = TRUE AND attrs.\"x y\".\"\"\"q\" <> 'z'",
  };
  for (const char* text : filters) {
    NodePtr first = parse_filter(text);
    std::string printed = print_filter(*first);
    NodePtr second = parse_filter(printed);
    EXPECT_TRUE(equal(*first, *second)) << text;
    EXPECT_EQ(print_filter(*second), printed) << text;
  }
}

TEST(Parser, SyntaxErrorsCarryPositionAndCaret) {
  Error e = expect_error("tier = 'gold' ANDD country = 'OM'");
  EXPECT_STREQ(e.sqlstate(), "42601");
  EXPECT_NE(std::string(e.what()).find("\"ANDD\""), std::string::npos) << e.what();
  EXPECT_EQ(e.detail(), "at character 15:\ntier = 'gold' ANDD country = 'OM'\n              ^");
  EXPECT_EQ(e.hint(), "Combine conditions with AND or OR.");

  e = expect_error("tier = ");
  EXPECT_STREQ(e.sqlstate(), "42601");
  EXPECT_NE(std::string(e.what()).find("end of segment filter"), std::string::npos);

  e = expect_error("tier = 'gold");
  EXPECT_NE(std::string(e.what()).find("unterminated string"), std::string::npos);
  EXPECT_NE(e.detail().find("at character 8"), std::string::npos);

  e = expect_error("x = NULL");
  EXPECT_NE(e.hint().find("IS NULL"), std::string::npos);

  e = expect_error("(a = 1");
  EXPECT_NE(e.hint().find("matching"), std::string::npos);

  e = expect_error("a = 1)");
  EXPECT_NE(e.hint().find("unmatched"), std::string::npos);

  e = expect_error("a == 1");
  EXPECT_NE(e.hint().find("Use ="), std::string::npos);

  e = expect_error("a = \"gold\"");
  EXPECT_NE(e.hint().find("single quotes"), std::string::npos);

  e = expect_error("x WITHIN LAST 0 DAYS");
  EXPECT_STREQ(e.sqlstate(), "22003");
  e = expect_error("x WITHIN LAST 3 YEARS");
  EXPECT_NE(e.hint().find("MONTHS"), std::string::npos);
  e = expect_error("x LIKE 'abc\\'");
  EXPECT_STREQ(e.sqlstate(), "42601");
  e = expect_error("");
  EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos);
  e = expect_error("a = 1; DROP TABLE x");
  EXPECT_NE(e.hint().find("not an SQL statement"), std::string::npos);
  e = expect_error("a = 5days");
  EXPECT_NE(std::string(e.what()).find("trailing junk"), std::string::npos);
  e = expect_error("IN SEGMENT ''");
  EXPECT_STREQ(e.sqlstate(), "42601");
  e = expect_error("a = 1e5000");
  EXPECT_STREQ(e.sqlstate(), "22003");
}

TEST(Parser, CaretCountsCharactersNotBytes) {
  Error e = expect_error("name = 'ü' ANDD x = 1");
  EXPECT_NE(e.detail().find("at character 12"), std::string::npos) << e.detail();
  EXPECT_NE(e.detail().find("\n           ^"), std::string::npos) << e.detail();
}

TEST(Parser, LongInputExcerptIsShortened) {
  std::string text = "a = 1";
  for (int i = 0; i < 50; ++i) text += " AND a = 1";
  text += " ANDD b = 2";
  for (int i = 0; i < 50; ++i) text += " AND a = 1";
  Error e = expect_error(text);
  EXPECT_LT(e.detail().size(), 220u);
  EXPECT_NE(e.detail().find("..."), std::string::npos);
}

TEST(Parser, DeepNestingIsRefused) {
  std::string deep(10000, '(');
  deep += "a = 1";
  deep += std::string(10000, ')');
  Error e = expect_error(deep);
  EXPECT_STREQ(e.sqlstate(), "54001");
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "NOT ";
  e = expect_error(nots + "a");
  EXPECT_STREQ(e.sqlstate(), "54001");
  std::string ok(150, '(');
  ok += "a = 1" + std::string(150, ')');
  EXPECT_EQ(canon(ok), "a = 1");
}

TEST(Parser, OversizedInputIsRefused) {
  std::string big = "a IN (";
  for (int i = 0; i < 200000; ++i) big += "'value-" + std::to_string(i) + "', ";
  big += "'x')";
  Error e = expect_error(big);
  EXPECT_STREQ(e.sqlstate(), "54000");
}

TEST(Parser, LargeInListIsHandled) {
  std::string text = "a IN (";
  for (int i = 0; i < 100000; ++i) text += std::to_string(i) + ",";
  text += "-1)";
  NodePtr node = parse_filter(text);
  EXPECT_EQ(node->literals.size(), 100001u);
}

TEST(Binary, RoundTripAndStrictness) {
  NodePtr node = parse_filter("a = 1 AND b CONTAINS 'x'");
  std::string bytes = encode_binary(*node);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_TRUE(equal(*decode_binary(bytes), *node));
  EXPECT_THROW(decode_binary(""), Error);
  std::string bad = bytes;
  bad[0] = 2;
  try {
    decode_binary(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.sqlstate(), "22P03");
  }
  std::string broken = bytes.substr(0, bytes.size() - 2);
  try {
    decode_binary(broken);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.sqlstate(), "42601");
  }
}

// A received message gets the text input's limits: 10 MB and 10,000 levels are refused.
TEST(Binary, ResourceLimits) {
  auto sqlstate_of = [](const std::string& payload) -> std::string {
    try {
      decode_binary(std::string(1, static_cast<char>(kBinaryFormatVersion)) + payload);
    } catch (const Error& e) {
      return e.sqlstate();
    }
    return "accepted";
  };
  std::string huge;
  while (huge.size() < 10 * 1024 * 1024) huge += "a = 1 OR ";
  huge += "a = 1";
  EXPECT_EQ(sqlstate_of(huge), "54000");
  EXPECT_EQ(sqlstate_of(std::string(10000, '(') + "a" + std::string(10000, ')')), "54001");
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "NOT ";
  EXPECT_EQ(sqlstate_of(nots + "a"), "54001");
}

}  // namespace
}  // namespace pgseg
