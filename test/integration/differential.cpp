// Randomised differential test: for thousands of generated filters over rows full of NULLs,
// empty and NULL arrays, unicode, wrong-typed and missing jsonb values and extreme numbers,
// segments.matches() (the C++ evaluator) and the SQL from segments.to_sql() must give the same
// three-valued answer on every row. Also checks canonical text, JSON and binary round trips.
//
// Usage: differential [--filters N] [--rows N] [--seed S] [--database NAME]
// The seed defaults to PGSEG_SEED or a fixed value; the server comes from PGHOST/PGPORT/PGUSER.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pg_client.hpp"

using pgseg::integration::Connection;
using pgseg::integration::Result;

namespace {

enum class Kind {
  kText,
  kBpchar,
  kInt,
  kNumeric,
  kFloat,
  kBool,
  kDate,
  kTimestamp,
  kTimestampTz,
  kEnum,
  kUuid,
  kTextArray,
  kIntArray,
  kNumericArray,
  kEnumArray,
  kJson
};

struct ColumnDef {
  const char* name;
  const char* sql_type;
  Kind kind;
};

std::vector<ColumnDef> columns(bool nondeterministic) {
  std::vector<ColumnDef> c = {
      {"t", "text", Kind::kText},
      {"tc", "text COLLATE \"C\"", Kind::kText},
      {"v", "varchar(20)", Kind::kText},
      {"ch", "char(6)", Kind::kBpchar},
      {"dom", "short_text", Kind::kText},
      {"i2", "smallint", Kind::kInt},
      {"i4", "integer", Kind::kInt},
      {"i8", "bigint", Kind::kInt},
      {"n", "numeric", Kind::kNumeric},
      {"f4", "real", Kind::kFloat},
      {"f8", "double precision", Kind::kFloat},
      {"b", "boolean", Kind::kBool},
      {"d", "date", Kind::kDate},
      {"ts", "timestamp", Kind::kTimestamp},
      {"tstz", "timestamptz", Kind::kTimestampTz},
      {"e", "mood", Kind::kEnum},
      {"u", "uuid", Kind::kUuid},
      {"tags", "text[]", Kind::kTextArray},
      {"ints", "integer[]", Kind::kIntArray},
      {"nums", "numeric[]", Kind::kNumericArray},
      {"moods", "mood[]", Kind::kEnumArray},
      {"attrs", "jsonb", Kind::kJson},
  };
  if (nondeterministic) c.push_back({"tn", "text COLLATE case_insensitive", Kind::kText});
  return c;
}

// Values stored in rows (SQL expressions) and literals used in filters (filter syntax).
const std::vector<std::string> kTextValues = {
    "''",       "'gold'", "'Gold'", "'GOLD'", "'gold '", "'silver'", "'ü'", "'Ü'",
    "'日本'",   "'a''b'", "'a\\b'", "'%'",    "'_'",     "'x%y'",    "'😀'", "'e\u0301'",
    "'\u00e9'", "'zz'",   "'Z'",    "'abc'",  "'ab'",    "'b'"};
const std::vector<std::string> kTextLiterals = {
    "''",    "'gold'", "'Gold'", "'GOLD'",    "'gold '",  "'silver'", "'ü'",
    "'Ü'",   "'日本'", "'a''b'", "'a\\b'",    "'%'",      "'zz'",     "'Z'",
    "'abc'", "'ab'",   "'b'",    "'e\u0301'", "'\u00e9'", "'😀'",      "'m'"};
const std::vector<std::string> kLikePatterns = {
    "'g%'",  "'%d'",   "'%o%'", "'_old'", "'G%'", "'%'",     "''",     "'a\\%%'",
    "'%😀%'", "'%''%'", "'ü%'",  "'_'",    "'__'", "'%\\_%'", "'GOLD'", "'%B%'"};
const std::vector<std::string> kIntValues = {"0", "1", "-1", "2", "3", "100", "32767", "-32768"};
const std::vector<std::string> kBigValues = {"2147483647", "-2147483648", "9223372036854775807",
                                             "-9223372036854775808"};
const std::vector<std::string> kNumericValues = {"0",
                                                 "1",
                                                 "-1",
                                                 "2.5",
                                                 "-2.5",
                                                 "100",
                                                 "1e20",
                                                 "0.000001",
                                                 "123.456",
                                                 "'NaN'",
                                                 "'Infinity'",
                                                 "'-Infinity'",
                                                 "9223372036854775808",
                                                 "-1e30",
                                                 "2.50"};
const std::vector<std::string> kFloatValues = {
    "0",     "'-0'",   "1",   "2.5", "'NaN'",    "'Infinity'", "'-Infinity'",
    "1e300", "1e-300", "0.1", "100", "'3.4e38'", "-2.5"};
const std::vector<std::string> kRealValues = {
    "0",   "'-0'", "1",        "2.5",  "'NaN'",   "'Infinity'", "'-Infinity'",
    "0.1", "100",  "'3.4e38'", "-2.5", "'1e-30'", "16777217"};
const std::vector<std::string> kNumberLiterals = {"0",
                                                  "1",
                                                  "-1",
                                                  "2",
                                                  "2.5",
                                                  "-2.5",
                                                  "3",
                                                  "100",
                                                  "0.1",
                                                  "32767",
                                                  "32768",
                                                  "2147483647",
                                                  "2147483648",
                                                  "9223372036854775807",
                                                  "9223372036854775808",
                                                  "-9223372036854775809",
                                                  "1e20",
                                                  "0.000001",
                                                  "123.456",
                                                  "1e300",
                                                  "-1e30",
                                                  "1e400",
                                                  "3.4e38",
                                                  "1e-300",
                                                  "99.99"};
const std::vector<std::string> kDateValues = {
    "'infinity'",       "'-infinity'",       "'2024-01-01'",    "'1999-12-31'",
    "'4000-01-01'",     "'0044-03-15 BC'",   "current_date",    "current_date - 3",
    "current_date + 3", "current_date - 40", "'5874897-12-31'", "current_date - 7",
    "current_date - 8"};
const std::vector<std::string> kTimeValues = {"'infinity'",
                                              "'-infinity'",
                                              "'2024-01-01 10:00'",
                                              "now() - interval '5 minutes'",
                                              "now() - interval '1 hour'",
                                              "now() - interval '2 days'",
                                              "now() - interval '10 days'",
                                              "now() - interval '45 days'",
                                              "now() + interval '1 hour'",
                                              "now() + interval '3 days'",
                                              "now() - interval '1 month' + interval '1 second'",
                                              "now() - interval '1 month' - interval '1 second'",
                                              "'294276-12-31 20:00'",
                                              "now()",
                                              "now() - interval '7 days'",
                                              "now() + interval '14 days'"};
const std::vector<std::string> kTimeLiterals = {
    "'2024-01-01'", "'2024-01-01 10:00'", "'1999-12-31 23:59:59+04'",
    "'infinity'",   "'-infinity'",        "'4000-01-01'",
    "'2026-11-22'", "'0044-03-15 BC'",    "'2100-02-28 12:00'"};
const std::vector<std::string> kEnumLabels = {"'sad'", "'ok'", "'happy'"};
const std::vector<std::string> kUuidValues = {"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
                                              "'00000000-0000-0000-0000-000000000000'",
                                              "'ffffffff-ffff-ffff-ffff-ffffffffffff'"};
const std::vector<std::string> kTextArrays = {
    "'{}'",          "'{gold}'", "'{gold,silver}'", "'{NULL}'", "'{gold,NULL}'",
    "'{\"a b\",😀}'", "'{Gold}'", "'{gold,gold}'",   "'{\"\"}'", "'{ü,日本}'"};
const std::vector<std::string> kIntArrays = {"'{}'",       "'{1}'",          "'{1,2,3}'",
                                             "'{NULL,2}'", "'{2147483647}'", "'{-1,0}'"};
const std::vector<std::string> kNumericArrays = {"'{}'",  "'{1.0}'",  "'{2.5,NaN}'",
                                                 "'{1}'", "'{NULL}'", "'{100,-2.5}'"};
const std::vector<std::string> kEnumArrays = {"'{}'", "'{sad}'", "'{ok,happy}'", "'{NULL,ok}'"};
const std::vector<std::string> kJsonValues = {
    "'{}'",
    "'[]'",
    "'\"scalar\"'",
    "'null'",
    "'{\"plan\":\"pro\"}'",
    "'{\"plan\":\"free\",\"n\":5}'",
    "'{\"plan\":5,\"n\":\"5\"}'",
    "'{\"plan\":null,\"n\":null}'",
    "'{\"n\":2.50,\"flag\":true}'",
    "'{\"flag\":\"true\"}'",
    "'{\"flag\":false,\"seen\":\"2024-01-01\"}'",
    "jsonb_build_object('seen', (now() - interval '2 days')::text, 'plan', 'Pro')",
    "jsonb_build_object('seen', (now() - interval '40 days')::text, 'n', -1)",
    "jsonb_build_object('seen', (now() + interval '2 hours')::text)",
    "'{\"seen\":\"not a date\"}'",
    "'{\"seen\":\"now\"}'",
    "'{\"seen\":\"2024-02-30\"}'",
    "'{\"seen\":\"2024-01-01 10:00 Foo/Bar\"}'",
    "'{\"seen\":20240101}'",
    "'{\"seen\":\"infinity\"}'",
    "'{\"list\":[\"a\",\"b\"]}'",
    "'{\"list\":[1,2.0]}'",
    "'{\"list\":\"a\"}'",
    "'{\"list\":[[\"a\"]]}'",
    "'{\"list\":[true]}'",
    "'{\"nested\":{\"k\":\"v\"}}'",
    "'{\"nested\":{\"k\":1}}'",
    "'{\"nested\":\"k\"}'",
    "'{\"odd key\":\"x\"}'",
    "'{\"plan\":\"ü\",\"list\":[]}'",
    "'{\"n\":1e20,\"plan\":\"gold\"}'",
    "'{\"n\":\"NaN\",\"flag\":null}'"};

class Generator {
 public:
  Generator(std::uint64_t seed, std::vector<ColumnDef> cols)
      : rng_(seed), columns_(std::move(cols)) {}

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < percent; }
  const std::string& one(const std::vector<std::string>& v) {
    return v[static_cast<std::size_t>(pick(static_cast<int>(v.size())))];
  }

  std::string row_value(const ColumnDef& c) {
    if (chance(15)) return "NULL";
    switch (c.kind) {
      case Kind::kText:
      case Kind::kBpchar:
        return one(kTextValues);
      case Kind::kInt:
        if (std::strcmp(c.name, "i8") == 0 && chance(30)) return one(kBigValues);
        if (std::strcmp(c.name, "i4") == 0 && chance(20))
          return chance(50) ? "2147483647" : "-2147483648";
        return one(kIntValues);
      case Kind::kNumeric:
        return one(kNumericValues);
      case Kind::kFloat:
        if (std::strcmp(c.name, "f4") == 0) return one(kRealValues);
        return one(kFloatValues);
      case Kind::kBool:
        return chance(50) ? "true" : "false";
      case Kind::kDate:
        return one(kDateValues);
      case Kind::kTimestamp:
        return "(" + one(kTimeValues) + ")::timestamp";
      case Kind::kTimestampTz:
        return one(kTimeValues);
      case Kind::kEnum:
        return one(kEnumLabels);
      case Kind::kUuid:
        return one(kUuidValues);
      case Kind::kTextArray:
        return one(kTextArrays);
      case Kind::kIntArray:
        return one(kIntArrays);
      case Kind::kNumericArray:
        return one(kNumericArrays);
      case Kind::kEnumArray:
        return one(kEnumArrays);
      case Kind::kJson:
        return one(kJsonValues);
    }
    return "NULL";
  }

  std::string insert_rows(int count) {
    std::string sql;
    for (int id = 1; id <= count; ++id) {
      sql += "INSERT INTO diff_rows VALUES (" + std::to_string(id);
      for (const ColumnDef& c : columns_) sql += ", " + row_value(c);
      sql += ");\n";
    }
    return sql;
  }

  std::string list(const std::vector<std::string>& pool, int max) {
    int n = 1 + pick(max);
    std::string out = "(";
    for (int i = 0; i < n; ++i) out += (i ? ", " : "") + one(pool);
    return out + ")";
  }

  std::string relative() {
    static const std::vector<std::string> kSpans = {"1 MINUTE", "2 HOURS",  "1 DAY",
                                                    "7 DAYS",   "2 WEEKS",  "1 MONTH",
                                                    "3 MONTHS", "400 DAYS", "30 MINUTES"};
    static const std::vector<std::string> kOps = {"WITHIN LAST", "WITHIN NEXT", "OLDER THAN"};
    std::string op = one(kOps);
    last_op_ = op;
    return " " + op + " " + one(kSpans);
  }

  // A comparison-family tail (=, IN, BETWEEN, IS NULL ...) with literals from pool.
  std::string scalar_tail(const std::vector<std::string>& pool, bool with_like,
                          bool with_order = true) {
    static const std::vector<std::string> kCompare = {"=", "<>", "<", "<=", ">", ">=", "!="};
    int r = pick(with_like ? 10 : 8);
    if (!with_order && r < 6 && r > 1) r = 0;
    switch (r) {
      case 0:
      case 1:
      case 2:
      case 3: {
        std::string op = with_order ? one(kCompare) : (chance(50) ? "=" : "<>");
        last_op_ = op == "!=" ? "<>" : op;
        return " " + op + " " + one(pool);
      }
      case 4: {
        bool neg = chance(40);
        last_op_ = neg ? "NOT IN" : "IN";
        return std::string(neg ? " NOT IN " : " IN ") + list(pool, 4);
      }
      case 5: {
        bool neg = chance(40);
        last_op_ = neg ? "NOT BETWEEN" : "BETWEEN";
        return std::string(neg ? " NOT BETWEEN " : " BETWEEN ") + one(pool) + " AND " + one(pool);
      }
      case 6:
      case 7: {
        bool neg = chance(50);
        last_op_ = neg ? "IS NOT NULL" : "IS NULL";
        return neg ? " IS NOT NULL" : " IS NULL";
      }
      default: {
        bool neg = chance(40);
        bool ci = chance(50);
        last_op_ = std::string(neg ? "NOT " : "") + (ci ? "ILIKE" : "LIKE");
        return std::string(neg ? " NOT" : "") + (ci ? " ILIKE " : " LIKE ") + one(kLikePatterns);
      }
    }
  }

  std::string contains_tail(const std::vector<std::string>& pool) {
    if (chance(10)) {
      last_op_ = "IS NULL";
      return " IS NULL";
    }
    bool neg = chance(35);
    int mode = pick(3);
    static const char* kModes[] = {"CONTAINS", "CONTAINS ANY", "CONTAINS ALL"};
    last_op_ = std::string(neg ? "NOT " : "") + kModes[mode];
    std::string out = std::string(neg ? " NOT " : " ") + kModes[mode];
    if (mode == 0) return out + " " + one(pool);
    return out + " " + list(pool, 3);
  }

  std::string json_leaf() {
    static const std::vector<std::string> kStringKeys = {"attrs.plan",        "attrs.nested.k",
                                                         "attrs.\"odd key\"", "attrs.missing",
                                                         "attrs.n",           "attrs.seen"};
    static const std::vector<std::string> kNumberKeys = {"attrs.n", "attrs.plan", "attrs.nested.k"};
    static const std::vector<std::string> kBoolKeys = {"attrs.flag", "attrs.plan"};
    static const std::vector<std::string> kJsonText = {"'pro'",  "'free'",       "'Pro'", "'5'",
                                                       "'gold'", "'ü'",          "'v'",   "'x'",
                                                       "'true'", "'2024-01-01'", "''"};
    static const std::vector<std::string> kJsonNumbers = {"5",    "2.5", "1",  "-1",
                                                          "1e20", "0",   "5.0"};
    static const std::vector<std::string> kBools = {"TRUE", "FALSE"};
    static const std::vector<std::string> kListValues = {"'a'", "'b'", "1", "2", "TRUE", "'x'"};
    int r = pick(9);
    switch (r) {
      case 0:
      case 1:
        return one(kStringKeys) + scalar_tail(kJsonText, true);
      case 2:
      case 3:
        return one(kNumberKeys) + scalar_tail(kJsonNumbers, false);
      case 4:
        if (chance(40)) {
          last_op_ = "bare";
          return one(kBoolKeys);
        }
        return one(kBoolKeys) + scalar_tail(kBools, false, false);
      case 5:
        return "attrs.seen" + relative();
      case 6: {
        // CONTAINS family: all strings, all numbers or all booleans.
        int kind = pick(3);
        const std::vector<std::string>& pool =
            kind == 0   ? std::vector<std::string>{"'a'", "'b'", "'x'"}
            : kind == 1 ? std::vector<std::string>{"1", "2", "2.0", "3"}
                        : std::vector<std::string>{"TRUE", "FALSE"};
        return "attrs.list" + contains_tail(pool);
      }
      case 7:
        last_op_ = chance(50) ? "IS NULL" : "IS NOT NULL";
        return one(kStringKeys) + " " + last_op_;
      default:
        return "attrs.list" + contains_tail(kListValues);  // mixed kinds: refused at bind
    }
  }

  std::string leaf() {
    const ColumnDef& c =
        columns_[static_cast<std::size_t>(pick(static_cast<int>(columns_.size())))];
    std::string name = c.name;
    switch (c.kind) {
      case Kind::kText:
      case Kind::kBpchar:
        return name + scalar_tail(kTextLiterals, true);
      case Kind::kInt:
      case Kind::kNumeric:
      case Kind::kFloat:
        return name + scalar_tail(kNumberLiterals, false);
      case Kind::kBool:
        if (chance(35)) {
          last_op_ = "bare";
          return name;
        }
        return name + scalar_tail({"TRUE", "FALSE"}, false, false);
      case Kind::kDate:
      case Kind::kTimestamp:
      case Kind::kTimestampTz:
        if (chance(45)) return name + relative();
        return name + scalar_tail(kTimeLiterals, false);
      case Kind::kEnum:
        return name + scalar_tail(kEnumLabels, false);
      case Kind::kUuid:
        return name + scalar_tail(kUuidValues, false);
      case Kind::kTextArray:
        return name + contains_tail(kTextLiterals);
      case Kind::kIntArray:
        return name + contains_tail({"1", "2", "3", "-1", "0", "2147483647"});
      case Kind::kNumericArray:
        return name + contains_tail({"1", "2.5", "1.0", "100", "-2.5"});
      case Kind::kEnumArray:
        return name + contains_tail(kEnumLabels);
      case Kind::kJson:
        return json_leaf();
    }
    return "TRUE";
  }

  std::string node(int depth) {
    if (depth <= 0 || chance(45)) {
      std::string l = leaf();
      if (chance(12)) return "NOT " + l;
      return l;
    }
    int n = 2 + pick(3);
    const char* joiner = chance(50) ? " AND " : " OR ";
    std::string out = "(";
    for (int i = 0; i < n; ++i) out += (i ? joiner : "") + node(depth - 1);
    out += ")";
    if (chance(12)) return "NOT " + out;
    return out;
  }

  std::string filter(bool* single_leaf) {
    *single_leaf = chance(35);
    if (*single_leaf) return leaf();
    if (chance(3)) {
      last_op_ = "const";
      return chance(50) ? "TRUE" : "FALSE";
    }
    return node(1 + pick(3));
  }

  const std::string& last_op() const { return last_op_; }

 private:
  std::mt19937_64 rng_;
  std::vector<ColumnDef> columns_;
  std::string last_op_;
};

struct Coverage {
  bool seen_true = false;
  bool seen_false = false;
  int filters = 0;
};

bool acceptable_refusal(const std::string& sqlstate) {
  // Filters the generator makes invalid on purpose: syntax (42601), types (42804, 22xxx),
  // operators (42883), features (0A000). Never an internal error or a lost connection.
  return sqlstate.size() == 5 && sqlstate != "XX000" &&
         (sqlstate.rfind("42", 0) == 0 || sqlstate.rfind("22", 0) == 0 || sqlstate == "0A000");
}

}  // namespace

int main(int argc, char** argv) {
  int filter_count = 3000;
  int row_count = 400;
  std::uint64_t seed = 20261122;
  std::string database = "pgseg_differential";
  if (const char* env = std::getenv("PGSEG_SEED")) seed = std::strtoull(env, nullptr, 10);
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--filters") filter_count = std::atoi(argv[i + 1]);
    if (flag == "--rows") row_count = std::atoi(argv[i + 1]);
    if (flag == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--database") database = argv[i + 1];
  }
  std::printf("differential: seed %llu, %d filters, %d rows (set PGSEG_SEED to vary)\n",
              static_cast<unsigned long long>(seed), filter_count, row_count);

  try {
    {
      Connection admin(pgseg::integration::conninfo_for("postgres"));
      admin.must("DROP DATABASE IF EXISTS " + database);
      admin.must("CREATE DATABASE " + database);
    }
    Connection db(pgseg::integration::conninfo_for(database));
    db.must("CREATE EXTENSION pg_segments");
    db.must("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
    db.must("CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 50)");
    bool nondeterministic =
        db.exec(
              "CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', "
              "deterministic = false)")
            .ok();
    std::vector<ColumnDef> cols = columns(nondeterministic);
    std::string create = "CREATE TABLE diff_rows (id integer PRIMARY KEY";
    for (const ColumnDef& c : cols) create += std::string(", ") + c.name + " " + c.sql_type;
    db.must(create + ")");
    Generator gen(seed, cols);
    db.must("BEGIN; " + gen.insert_rows(row_count) + " COMMIT;");

    const char* zones[] = {"UTC", "Asia/Kolkata", "America/New_York"};
    int compared = 0;
    int refused = 0;
    int failures = 0;
    std::map<std::string, Coverage> coverage;
    for (int i = 0; i < filter_count; ++i) {
      bool single = false;
      std::string filter = gen.filter(&single);
      std::string op = gen.last_op();
      if (i % 500 == 0) db.must(std::string("SET TimeZone = '") + zones[(i / 500) % 3] + "'");

      Result canonical = db.exec_params("SELECT $1::segments.segment_filter::text", {filter});
      if (!canonical.ok()) {
        if (!acceptable_refusal(canonical.sqlstate())) {
          std::printf("FAIL: unexpected error for %s\n  %s", filter.c_str(),
                      canonical.error().c_str());
          ++failures;
        }
        ++refused;
        continue;
      }
      std::string text = canonical.get(0, 0);
      Result sql = db.exec_params("SELECT segments.to_sql($1, 'diff_rows')", {text});
      if (!sql.ok()) {
        if (!acceptable_refusal(sql.sqlstate())) {
          std::printf("FAIL: unexpected error binding %s\n  %s", text.c_str(), sql.error().c_str());
          ++failures;
        }
        ++refused;
        continue;
      }
      std::string where = sql.get(0, 0);
      std::string query =
          "SELECT count(*) FILTER (WHERE m IS TRUE), count(*) FILTER (WHERE m IS NOT TRUE), "
          "count(*) FILTER (WHERE m IS DISTINCT FROM s), "
          "string_agg(id || ': matches=' || coalesce(m::text, 'null') || ' sql=' || "
          "coalesce(s::text, 'null'), ', ') FILTER (WHERE m IS DISTINCT FROM s) "
          "FROM (SELECT id, segments.matches($1::segments.segment_filter, r) AS m, (" +
          where + ") AS s FROM diff_rows r) x";
      Result cmp = db.exec_params(query, {text});
      if (!cmp.ok()) {
        std::printf("FAIL: comparison query failed for %s\n  SQL: %s\n  %s", text.c_str(),
                    where.c_str(), cmp.error().c_str());
        ++failures;
        continue;
      }
      ++compared;
      if (cmp.get(0, 2) != "0") {
        std::printf("FAIL: engines disagree on %s rows for %s\n  SQL: %s\n  rows: %.600s\n",
                    cmp.get(0, 2).c_str(), text.c_str(), where.c_str(), cmp.get(0, 3).c_str());
        ++failures;
      }
      if (single || op == "const") {
        Coverage& c = coverage[op];
        ++c.filters;
        c.seen_true = c.seen_true || cmp.get(0, 0) != "0";
        c.seen_false = c.seen_false || cmp.get(0, 1) != "0";
      }
      // Round trips: canonical text, JSON form and binary send/recv give the same filter.
      Result again = db.exec_params("SELECT $1::segments.segment_filter::text", {text});
      Result json = db.exec_params(
          "SELECT segments.segment_filter_from_jsonb(segments.segment_filter_to_jsonb("
          "$1::segments.segment_filter))::text",
          {text});
      Result binary = db.exec_params("SELECT $1::segments.segment_filter", {text}, 1);
      bool round_trips = again.ok() && again.get(0, 0) == text && json.ok() &&
                         json.get(0, 0) == text && binary.ok();
      if (binary.ok()) {
        std::string bytes(PQgetvalue(binary.raw(), 0, 0),
                          static_cast<std::size_t>(binary.length(0, 0)));
        Result back = db.exec_binary_param("SELECT $1::segments.segment_filter::text", bytes);
        round_trips = round_trips && back.ok() && back.get(0, 0) == text;
      }
      if (!round_trips) {
        std::printf("FAIL: round trip changed %s\n", text.c_str());
        ++failures;
      }
    }

    static const char* kRequired[] = {"=",
                                      "<>",
                                      "<",
                                      "<=",
                                      ">",
                                      ">=",
                                      "IN",
                                      "NOT IN",
                                      "BETWEEN",
                                      "NOT BETWEEN",
                                      "IS NULL",
                                      "IS NOT NULL",
                                      "LIKE",
                                      "NOT LIKE",
                                      "ILIKE",
                                      "NOT ILIKE",
                                      "CONTAINS",
                                      "NOT CONTAINS",
                                      "CONTAINS ANY",
                                      "NOT CONTAINS ANY",
                                      "CONTAINS ALL",
                                      "NOT CONTAINS ALL",
                                      "WITHIN LAST",
                                      "WITHIN NEXT",
                                      "OLDER THAN",
                                      "bare",
                                      "const"};
    std::printf(
        "differential: operator coverage (single-condition filters with true and false rows):\n");
    for (const char* op : kRequired) {
      const Coverage& c = coverage[op];
      bool ok = c.filters > 0 && (std::string(op) == "const" || (c.seen_true && c.seen_false));
      std::printf("  %-18s %4d filters %s\n", op, c.filters, ok ? "" : "  <- NOT COVERED");
      if (!ok) ++failures;
    }
    std::printf(
        "differential: %d filters compared on %d rows, %d refused at input or binding, "
        "%d failures\n",
        compared, row_count, refused, failures);
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
}
