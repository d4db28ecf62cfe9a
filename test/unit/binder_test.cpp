// Binding against an object: errors with did-you-mean, typing rules, compiled SQL.
#include <algorithm>
#include <gtest/gtest.h>

#include <deque>

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

// Looking back further than PostgreSQL's earliest timestamp is refused when bound, with the
// limits in the hint; looking forward that far, and the largest amounts back, are accepted.
TEST(Binder, PastReachStaysInTheTimestampRange) {
  Error e = bind_error("created_at OLDER THAN 1000000 MONTHS");
  EXPECT_STREQ(e.sqlstate(), "22008");
  EXPECT_NE(e.hint().find("60000 months or 260000 weeks"), std::string::npos) << e.hint();
  EXPECT_STREQ(bind_error("attrs.seen WITHIN LAST 260001 WEEKS").sqlstate(), "22008");
  EXPECT_STREQ(bind_error("NOT (created_at WITHIN LAST 60001 MONTHS)").sqlstate(), "22008");
  EXPECT_NO_THROW(sql("created_at WITHIN LAST 60000 MONTHS OR created_at OLDER THAN 260000 WEEKS"));
  EXPECT_NO_THROW(
      sql("created_at WITHIN NEXT 1000000 MONTHS OR created_at OLDER THAN 1000000 DAYS"));
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

TEST(Binder, UnknownRelationshipsAndSegmentsAreRefusedClearly) {
  Error aggregate = bind_error("orders.count() > 1");
  EXPECT_STREQ(aggregate.sqlstate(), "42703");
  EXPECT_NE(aggregate.hint().find("foreign keys"), std::string::npos) << aggregate.hint();
  EXPECT_STREQ(bind_error("IN SEGMENT 'vip'").sqlstate(), "42704");
  Error e = bind_error("organizations.industry = 'x'");
  EXPECT_STREQ(e.sqlstate(), "42703");
}

// A small object graph: customers reference organizations (which reference regions); orders
// reference customers.
class GraphSchema : public ObjectSchema {
 public:
  explicit GraphSchema(std::string name) : name_(std::move(name)) {}
  Column& add(const char* name, TypeCategory category, const char* type_name) {
    Column c;
    c.name = name;
    c.index = static_cast<int>(columns_.size()) + 1;
    c.type.category = category;
    c.type.name = type_name;
    columns_.push_back(std::move(c));
    return columns_.back();
  }
  void relate(const char* name, bool to_many, const GraphSchema& target, const char* local,
              const char* remote) {
    Relationship r;
    r.name = name;
    r.to_many = to_many;
    r.sql_name = "public." + target.name_;
    r.target = &target;
    r.local_columns.push_back(find_column(local));
    r.target_columns.push_back(target.find_column(remote));
    relationships_.push_back(std::move(r));
  }
  std::string object_name() const override { return "public." + name_; }
  const Column* find_column(std::string_view name) const override {
    for (const Column& c : columns_) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }
  std::vector<std::string> column_names() const override {
    std::vector<std::string> names;
    for (const Column& c : columns_) names.push_back(c.name);
    return names;
  }
  void check_literal(const Column&, const Literal&, bool) const override {}
  bool default_collation_is_c() const override { return false; }
  const Relationship* find_relationship(std::string_view name) const override {
    for (const Relationship& r : relationships_) {
      if (r.name == name) return &r;
    }
    return nullptr;
  }
  std::vector<std::string> relationship_names() const override {
    std::vector<std::string> names;
    for (const Relationship& r : relationships_) names.push_back(r.name);
    return names;
  }
  SegmentRef find_segment(std::string_view name) const override {
    if (name != "vip") return ObjectSchema::find_segment(name);
    SegmentRef ref;
    ref.id = 7;
    ref.membership_sql = "segments.customers_members";
    ref.key = find_column("id");
    return ref;
  }

 private:
  std::string name_;
  std::deque<Column> columns_;
  std::vector<Relationship> relationships_;
};

struct Graph {
  GraphSchema customers{"customers"};
  GraphSchema organizations{"organizations"};
  GraphSchema regions{"regions"};
  GraphSchema orders{"orders"};
  Graph() {
    customers.add("id", TypeCategory::kInteger, "bigint");
    customers.add("org_id", TypeCategory::kInteger, "integer");
    customers.add("tier", TypeCategory::kText, "text");
    organizations.add("id", TypeCategory::kInteger, "integer");
    organizations.add("industry", TypeCategory::kText, "text");
    organizations.add("region", TypeCategory::kText, "text");
    regions.add("code", TypeCategory::kText, "text");
    regions.add("name", TypeCategory::kText, "text");
    orders.add("id", TypeCategory::kInteger, "bigint");
    orders.add("customer_id", TypeCategory::kInteger, "bigint");
    orders.add("status", TypeCategory::kText, "text");
    orders.add("quantity", TypeCategory::kInteger, "integer");
    orders.add("note", TypeCategory::kUnsupported, "point");
    customers.relate("organizations", false, organizations, "org_id", "id");
    organizations.relate("regions", false, regions, "region", "code");
    customers.relate("orders", true, orders, "id", "customer_id");
  }
  std::string sql(const std::string& text, std::vector<const Column*>* parameters = nullptr) {
    NodePtr node = parse_filter(text);
    BoundFilter bound = bind_filter(*node, customers);
    SqlOptions options;
    options.parameters = parameters;
    return compile_sql(*node, bound, QuoteAlways(), options);
  }
  Error error(const std::string& text) {
    NodePtr node = parse_filter(text);
    try {
      bind_filter(*node, customers);
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "no error for " << text;
    return Error("00000", "none");
  }
};

TEST(Relationships, ManyToOneIsAScalarSubqueryPerStep) {
  Graph g;
  EXPECT_EQ(g.sql("organizations.industry = 'software'"),
            "(SELECT seg_r1.\"industry\" = 'software' FROM (VALUES (\"org_id\")) AS seg_k1 (v1) "
            "JOIN public.organizations AS seg_r1 ON seg_r1.\"id\" OPERATOR(pg_catalog.=) "
            "seg_k1.v1)");
  // IS NULL tests the value the subqueries return: no organization means NULL.
  EXPECT_EQ(g.sql("organizations.regions.name IS NULL"),
            "(SELECT (SELECT seg_r2.\"name\" FROM (VALUES (seg_r1.\"region\")) AS seg_k2 (v1) "
            "JOIN public.regions AS seg_r2 ON seg_r2.\"code\" OPERATOR(pg_catalog.=) seg_k2.v1) "
            "FROM (VALUES (\"org_id\")) AS seg_k1 (v1) JOIN public.organizations AS seg_r1 ON "
            "seg_r1.\"id\" OPERATOR(pg_catalog.=) seg_k1.v1) IS NULL");
}

TEST(Relationships, AggregatesReadTheReferencingRows) {
  Graph g;
  EXPECT_EQ(g.sql("orders.count(status = 'paid') >= 3"),
            "(SELECT pg_catalog.count(*) FROM (VALUES (\"id\")) AS seg_k1 (v1) JOIN "
            "public.orders AS seg_r1 ON seg_r1.\"customer_id\" OPERATOR(pg_catalog.=) seg_k1.v1 "
            "WHERE seg_r1.\"status\" = 'paid') >= 3");
  // sum of integers is taken as numeric, so that it never overflows.
  EXPECT_NE(g.sql("orders.sum(quantity) > 10")
                .find("pg_catalog.sum(seg_r1.\"quantity\"::"
                      "pg_catalog.numeric)"),
            std::string::npos);
  EXPECT_EQ(g.sql("NOT orders.exists()").substr(0, 19), "NOT (EXISTS (SELECT");
}

TEST(Relationships, ParametersReplaceTheObjectsColumns) {
  Graph g;
  std::vector<const Column*> parameters;
  std::string text =
      g.sql("organizations.industry = 'x' AND orders.count() > 1 AND tier = 'gold' AND org_id > 3",
            &parameters);
  ASSERT_EQ(parameters.size(), 3u);
  EXPECT_EQ(parameters[0]->name, "org_id");
  EXPECT_EQ(parameters[1]->name, "id");
  EXPECT_EQ(parameters[2]->name, "tier");
  EXPECT_NE(text.find("(VALUES ($1))"), std::string::npos) << text;
  EXPECT_NE(text.find("(VALUES ($2))"), std::string::npos) << text;
  EXPECT_NE(text.find("$3 = 'gold' AND $1 > 3"), std::string::npos) << text;
}

TEST(Relationships, InSegmentIsASemiJoinWithMembership) {
  Graph g;
  EXPECT_EQ(g.sql("NOT IN SEGMENT 'vip'"),
            "NOT (\"id\" IN (SELECT seg_m.member FROM segments.customers_members AS seg_m WHERE "
            "seg_m.segment_id OPERATOR(pg_catalog.=) 7))");
  EXPECT_STREQ(g.error("IN SEGMENT 'vipp'").sqlstate(), "42704");
}

TEST(Relationships, ReverseLookupsFindTheObjectRowsThatReachAChangedRow) {
  Graph g;
  NodePtr node = parse_filter(
      "organizations.regions.name = 'x' AND orders.count(status = 'a') > 1 AND IN SEGMENT 'vip'");
  BoundFilter bound = bind_filter(*node, g.customers);
  RelatedReads reads = related_reads(*node, bound);
  ASSERT_EQ(reads.paths.size(), 2u);
  EXPECT_TRUE(reads.segments);
  EXPECT_FALSE(reads.nested_segments);
  const RelationshipPath& chain = reads.paths[0];
  ASSERT_EQ(chain.size(), 2u);
  const Column& key = *g.customers.find_column("id");
  EXPECT_EQ(reverse_key_sql({chain[0]}, "public.customers", key, QuoteAlways()),
            "SELECT seg_t0.\"id\" FROM public.customers AS seg_t0 WHERE (seg_t0.\"org_id\") = "
            "($1)");
  EXPECT_EQ(reverse_key_sql(chain, "public.customers", key, QuoteAlways()),
            "SELECT seg_t0.\"id\" FROM public.customers AS seg_t0 WHERE (seg_t0.\"org_id\") IN "
            "(SELECT seg_t1.\"id\" FROM public.organizations AS seg_t1 WHERE "
            "(seg_t1.\"region\") = ($1))");
  EXPECT_EQ(reverse_key_sql(reads.paths[1], "public.customers", key, QuoteAlways()),
            "SELECT seg_t0.\"id\" FROM public.customers AS seg_t0 WHERE (seg_t0.\"id\") = ($1)");
}

TEST(Relationships, RelatedReadsNameEveryColumnReadOrJoinedOn) {
  Graph g;
  NodePtr node = parse_filter(
      "organizations.regions.name = 'x' AND orders.sum(quantity WHERE status = 'a') > 1");
  BoundFilter bound = bind_filter(*node, g.customers);
  RelatedReads reads = related_reads(*node, bound);
  std::vector<std::string> names;
  for (const auto& [table, column] : reads.columns) {
    names.push_back(table->object_name() + "." + column->name);
  }
  std::sort(names.begin(), names.end());
  // Not organizations.industry, orders.id or orders.note: a change of those changes nothing.
  const std::vector<std::string> expected = {
      "public.orders.customer_id", "public.orders.quantity",      "public.orders.status",
      "public.organizations.id",   "public.organizations.region", "public.regions.code",
      "public.regions.name"};
  EXPECT_EQ(names, expected);
}

TEST(Relationships, AChangedRowLocksTheRowsThatReachIt) {
  Graph g;
  NodePtr node = parse_filter("organizations.regions.name = 'x'");
  BoundFilter bound = bind_filter(*node, g.customers);
  RelatedReads reads = related_reads(*node, bound);
  ASSERT_EQ(reads.paths.size(), 1u);
  // A region's change locks the organizations in it (depth 1 of customers -> organizations ->
  // regions).
  EXPECT_EQ(reaching_rows_lock_sql(reads.paths[0], 1, QuoteAlways()),
            "SELECT FROM public.organizations AS seg_t1 WHERE (seg_t1.\"region\") = ($1) ORDER "
            "BY seg_t1.\"id\" FOR UPDATE OF seg_t1");
}

TEST(Relationships, DueTimesFollowEveryRelativeTimeCondition) {
  Graph g;
  const Column& key = *g.customers.find_column("id");
  NodePtr none = parse_filter("orders.count(status = 'paid') >= 3");
  BoundFilter none_bound = bind_filter(*none, g.customers);
  EXPECT_EQ(due_times_sql(*none, none_bound, "public.customers", key, "", QuoteAlways()), "");
  g.orders.add("placed_at", TypeCategory::kTimestampTz, "timestamp with time zone");
  NodePtr node = parse_filter("orders.count(placed_at WITHIN LAST 30 DAYS) >= 3");
  BoundFilter bound = bind_filter(*node, g.customers);
  const std::string sql = due_times_sql(*node, bound, "public.customers", key, "$1", QuoteAlways());
  EXPECT_NE(sql.find("JOIN public.orders AS seg_t1 ON seg_t1.\"customer_id\" "
                     "OPERATOR(pg_catalog.=) seg_t0.\"id\""),
            std::string::npos)
      << sql;
  // Exact calendar arithmetic where it cannot overflow, epoch-second bounds beyond that.
  EXPECT_NE(sql.find("EXTRACT(EPOCH FROM (seg_t1.\"placed_at\")::pg_catalog.timestamptz "
                     "OPERATOR(pg_catalog.-) '30 days'::pg_catalog.interval) ELSE seg_e.e "
                     "OPERATOR(pg_catalog.-) 2700000 END)"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("ELSE seg_e.e OPERATOR(pg_catalog.+) 2484000 END)"), std::string::npos) << sql;
  EXPECT_NE(sql.find("seg_t0.\"id\" = ANY ($1)"), std::string::npos) << sql;
  EXPECT_EQ(sql.rfind("SELECT d.member, pg_catalog.min(d.t) AS due_at FROM (", 0), 0u) << sql;
}

TEST(Relationships, MisusesAreClearErrors) {
  Graph g;
  EXPECT_STREQ(g.error("orders.status = 'paid'").sqlstate(), "42804");
  EXPECT_STREQ(g.error("organizations.count() > 1").sqlstate(), "42804");
  EXPECT_STREQ(g.error("organizations = 1").sqlstate(), "42804");
  EXPECT_STREQ(g.error("orders.sum(status) > 1").sqlstate(), "42883");
  EXPECT_STREQ(g.error("orders.min(note) > 'x'").sqlstate(), "42883");
  EXPECT_STREQ(g.error("orders.count() > 'x'").sqlstate(), "42804");
  Error typo = g.error("organizations.industri = 'x'");
  EXPECT_STREQ(typo.sqlstate(), "42703");
  EXPECT_EQ(typo.hint(), "Perhaps you meant \"organizations.industry\".");
  Error condition = g.error("orders.count(statos = 'paid') > 1");
  EXPECT_EQ(condition.hint(), "Perhaps you meant \"status\".");
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
