// Randomised differential test: for thousands of generated filters over rows full of NULLs,
// empty and NULL arrays, unicode, wrong-typed and missing jsonb values and extreme numbers,
// segments.matches() (the C++ evaluator) and the SQL from segments.to_sql() must give the same
// three-valued answer on every row. Also checks canonical text, JSON and binary round trips.
// Filters also cross relationships: many-to-one steps through foreign keys (diff_parent,
// diff_parent.diff_grand, diff_label over a text key of another collation, also by constraint
// name), aggregates over the rows that reference a row (diff_children.count/sum/avg/min/max/
// exists, diff_parent.diff_rows.count(...) over siblings) with conditions that may cross
// relationships again, and [NOT] IN SEGMENT over stored memberships of static and scheduled
// segments. A related condition that fails at run time is reported with each engine's outcome.
//
// Usage: differential [--filters N] [--rows N] [--seed S] [--database NAME]
// The seed defaults to PGSEG_SEED or a fixed value; the server comes from PGHOST/PGPORT/PGUSER.
#include <algorithm>
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

// Related tables. Their columns share names with diff_rows' (and diff_children has a plain
// parent_id column) so that a subquery reading the wrong row's column shows up as a
// disagreement or an error.
const std::vector<ColumnDef> kParentColumns = {{"t", "text", Kind::kText},
                                               {"i4", "integer", Kind::kInt},
                                               {"n", "numeric", Kind::kNumeric},
                                               {"b", "boolean", Kind::kBool},
                                               {"tstz", "timestamptz", Kind::kTimestampTz},
                                               {"attrs", "jsonb", Kind::kJson}};
const std::vector<ColumnDef> kGrandColumns = {{"t", "text COLLATE \"C\"", Kind::kText},
                                              {"i8", "bigint", Kind::kInt},
                                              {"d", "date", Kind::kDate},
                                              {"e", "mood", Kind::kEnum},
                                              {"tags", "text[]", Kind::kTextArray}};
const std::vector<ColumnDef> kLabelColumns = {
    {"t", "text", Kind::kText}, {"i4", "integer", Kind::kInt}, {"e", "mood", Kind::kEnum}};
const std::vector<ColumnDef> kChildColumns = {{"t", "text", Kind::kText},
                                              {"i4", "integer", Kind::kInt},
                                              {"i8", "bigint", Kind::kInt},
                                              {"n", "numeric", Kind::kNumeric},
                                              {"f8", "double precision", Kind::kFloat},
                                              {"ts", "timestamp", Kind::kTimestamp},
                                              {"tstz", "timestamptz", Kind::kTimestampTz},
                                              {"d", "date", Kind::kDate},
                                              {"b", "boolean", Kind::kBool},
                                              {"e", "mood", Kind::kEnum},
                                              {"ints", "integer[]", Kind::kIntArray},
                                              {"parent_id", "integer", Kind::kInt}};
// Keys of diff_label: text, with values equal under a case-insensitive collation but distinct
// in the key's own (deterministic) one.
const std::vector<std::string> kLabelCodes = {"'gold'",   "'Gold'", "'GOLD'", "'silver'",
                                              "'ü'",      "'Ü'",    "'x'",    "'e\u0301'",
                                              "'\u00e9'", "'日本'"};

enum TableId { kRows = 0, kParent = 1, kGrand = 2, kChildren = 3, kLabel = 4 };

// A foreign key as a filter walks it: by the other table's name or by the constraint's name.
struct Edge {
  std::string name;
  std::string constraint;
  TableId target;
  int weight;  // how often a many-to-one step takes it, against the table's other keys
};

struct Table {
  std::string name;
  std::string key;  // the primary key column's definition
  std::vector<ColumnDef> columns;
  std::vector<std::string> foreign_keys;  // definitions of the foreign key columns, last
  std::vector<Edge> to_one;               // this table references target
  std::vector<Edge> to_many;              // target references this table
  std::vector<std::string> segments;      // system names of segments over this table
};

// diff_rows references diff_parent (which references diff_grand) and diff_label;
// diff_children reference diff_rows. diff_rows.label has the case-insensitive collation when
// there is one, diff_label.code the default: walking that key must compare as the foreign key
// does.
std::vector<Table> tables(std::vector<ColumnDef> row_columns, bool nondeterministic) {
  const std::string label = std::string(", label text COLLATE ") +
                            (nondeterministic ? "case_insensitive" : "\"C\"") +
                            " REFERENCES diff_label";
  std::vector<Table> t(5);
  t[kRows] = {"diff_rows",
              "id integer PRIMARY KEY",
              std::move(row_columns),
              {", parent_id integer REFERENCES diff_parent", label},
              {{"diff_parent", "diff_rows_parent_id_fkey", kParent, 4},
               {"diff_label", "diff_rows_label_fkey", kLabel, 1}},
              {{"diff_children", "diff_children_row_id_fkey", kChildren, 1}},
              {"diff-static", "diff-scheduled", "diff-busy", "diff-empty"}};
  t[kParent] = {"diff_parent",
                "id integer PRIMARY KEY",
                kParentColumns,
                {", grand_id integer REFERENCES diff_grand"},
                {{"diff_grand", "diff_parent_grand_id_fkey", kGrand, 1}},
                {{"diff_rows", "diff_rows_parent_id_fkey", kRows, 1}},
                {"diff-parents"}};
  t[kGrand] = {"diff_grand",
               "id integer PRIMARY KEY",
               kGrandColumns,
               {},
               {},
               {{"diff_parent", "diff_parent_grand_id_fkey", kParent, 1}},
               {}};
  t[kChildren] = {"diff_children",
                  "id integer PRIMARY KEY",
                  kChildColumns,
                  {", row_id integer REFERENCES diff_rows"},
                  {{"diff_rows", "diff_children_row_id_fkey", kRows, 1}},
                  {},
                  {"diff-kids"}};
  t[kLabel] = {"diff_label",
               "code text PRIMARY KEY",
               kLabelColumns,
               {},
               {},
               {{"diff_rows", "diff_rows_label_fkey", kRows, 1}},
               {}};
  return t;
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
  Generator(std::uint64_t seed, std::vector<ColumnDef> cols, bool nondeterministic)
      : rng_(seed), tables_(tables(std::move(cols), nondeterministic)) {}

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

  // CREATE TABLE statements, referenced tables first; foreign key columns come last.
  std::string create_tables() const {
    std::string sql;
    for (TableId id : {kGrand, kParent, kLabel, kRows, kChildren}) {
      const Table& t = tables_[id];
      sql += "CREATE TABLE " + t.name + " (" + t.key;
      for (const ColumnDef& c : t.columns) sql += std::string(", ") + c.name + " " + c.sql_type;
      for (const std::string& key : t.foreign_keys) sql += key;
      sql += ");\n";
    }
    // Foreign keys indexed, as they would be: subqueries look up related rows, not scan.
    return sql +
           "CREATE INDEX ON diff_parent (grand_id); CREATE INDEX ON diff_rows (parent_id); "
           "CREATE INDEX ON diff_rows (label); CREATE INDEX ON diff_children (row_id);\n";
  }

  // diff_grand, diff_parent (about one for every ten rows), diff_label, diff_rows and 0 to 5
  // diff_children for each row, plus a few children of no row. Foreign keys are NULL now and
  // then.
  std::string insert_rows(int count) {
    const int parents = std::max(3, count / 10);
    const int grands = std::max(2, parents / 5);
    std::string sql;
    auto insert = [&](TableId table, const std::string& key,
                      const std::vector<std::string>& references) {
      sql += "INSERT INTO " + tables_[table].name + " VALUES (" + key;
      for (const ColumnDef& c : tables_[table].columns) sql += ", " + row_value(c);
      for (const std::string& reference : references) sql += ", " + reference;
      sql += ");\n";
    };
    auto id = [&](int keys, int null_percent) {
      return chance(null_percent) ? std::string("NULL") : std::to_string(1 + pick(keys));
    };
    for (int i = 1; i <= grands; ++i) insert(kGrand, std::to_string(i), {});
    for (int i = 1; i <= parents; ++i) insert(kParent, std::to_string(i), {id(grands, 20)});
    for (const std::string& code : kLabelCodes) insert(kLabel, code, {});
    for (int i = 1; i <= count; ++i) {
      std::string label = chance(30) ? "NULL" : one(kLabelCodes);
      insert(kRows, std::to_string(i), {id(parents, 20), label});
    }
    int child = 0;
    for (int i = 1; i <= count; ++i) {
      for (int n = pick(6); n > 0; --n)
        insert(kChildren, std::to_string(++child), {std::to_string(i)});
    }
    for (int n = std::max(1, count / 50); n > 0; --n) {
      insert(kChildren, std::to_string(++child), {"NULL"});
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

  // How a filter names a foreign key: mostly by the other table's name, sometimes by the
  // constraint's, now and then misspelled (refused at binding).
  std::string edge_name(const Edge& edge) {
    int r = pick(100);
    if (r < 84) return edge.name;
    if (r < 97) return edge.constraint;
    return edge.name + "s";
  }

  // One or more many-to-one steps from the current table, then a condition over the columns
  // of the row reached (or, now and then, an aggregate over the rows that reference it).
  std::string many_to_one() {
    std::string prefix;
    TableId at = table_;
    do {
      const std::vector<Edge>& up = tables_[at].to_one;
      if (up.empty()) break;
      int total = 0;
      for (const Edge& e : up) total += e.weight;
      int r = pick(total);
      std::size_t k = 0;
      while (r >= up[k].weight) r -= up[k++].weight;
      const Edge& edge = up[k];
      prefix += edge_name(edge) + ".";
      at = edge.target;
    } while (chance(40));
    if (prefix.empty()) return "";
    if (!tables_[at].to_many.empty() && chance(15)) return aggregate(at, prefix);
    const TableId saved_table = table_;
    const int saved_budget = related_budget_;
    table_ = at;
    related_budget_ = 0;
    std::string out = prefix + leaf();
    table_ = saved_table;
    related_budget_ = saved_budget;
    last_related_ = "many-to-one";
    return out;
  }

  // A column of child that func takes; now and then any column (refused at binding).
  const ColumnDef& aggregate_column(const Table& child, const std::string& func) {
    std::vector<const ColumnDef*> fit;
    for (const ColumnDef& c : child.columns) {
      bool number = c.kind == Kind::kInt || c.kind == Kind::kNumeric || c.kind == Kind::kFloat;
      bool ordered = number || c.kind == Kind::kText || c.kind == Kind::kBpchar ||
                     c.kind == Kind::kDate || c.kind == Kind::kTimestamp ||
                     c.kind == Kind::kTimestampTz || c.kind == Kind::kEnum;
      if (func == "sum" || func == "avg" ? number : ordered) fit.push_back(&c);
    }
    if (fit.empty() || chance(6)) {
      return child.columns[static_cast<std::size_t>(pick(static_cast<int>(child.columns.size())))];
    }
    return *fit[static_cast<std::size_t>(pick(static_cast<int>(fit.size())))];
  }

  // prefix + relation.func(column WHERE condition) compared with a value, or
  // relation.exists(condition) as a condition; relation is a table referencing table at.
  std::string aggregate(TableId at, const std::string& prefix) {
    const std::vector<Edge>& down = tables_[at].to_many;
    if (down.empty()) return "";
    const Edge& edge = down[static_cast<std::size_t>(pick(static_cast<int>(down.size())))];
    static const std::vector<std::string> kFuncs = {"count", "sum", "avg", "min", "max", "exists"};
    static const std::vector<std::string> kCounts = {"0", "1", "2", "3", "4", "6"};
    static const std::vector<std::string> kAmounts = {"0", "1", "-1", "2.5", "5", "10", "100"};
    const std::string func = one(kFuncs);
    std::string condition;
    if (chance(75)) {
      // Over the related table's columns, and across its own relationships while the budget
      // lasts.
      const TableId saved_table = table_;
      const int saved_budget = related_budget_;
      const int saved_percent = related_percent_;
      table_ = edge.target;
      related_budget_ = saved_budget - 1;
      related_percent_ = 15;
      condition = node(pick(2));
      table_ = saved_table;
      related_budget_ = saved_budget;
      related_percent_ = saved_percent;
    }
    std::string call = prefix + edge_name(edge) + "." + func + "(";
    std::string tail;
    if (func == "count" || func == "exists") {
      call += condition + ")";
      if (func == "count") {
        tail = scalar_tail(chance(80) ? kCounts : kNumberLiterals, false);
      } else if (chance(80)) {
        last_op_ = "bare";
      } else {
        tail = scalar_tail({"TRUE", "FALSE"}, false, false);
      }
    } else {
      const ColumnDef& c = aggregate_column(tables_[edge.target], func);
      call += std::string(c.name) + (condition.empty() ? "" : " WHERE " + condition) + ")";
      if (func == "sum" || func == "avg") {
        tail = scalar_tail(chance(60) ? kAmounts : kNumberLiterals, false);
      } else {
        switch (c.kind) {
          case Kind::kText:
          case Kind::kBpchar:
            tail = scalar_tail(kTextLiterals, true);
            break;
          case Kind::kDate:
          case Kind::kTimestamp:
          case Kind::kTimestampTz:
            tail = chance(45) ? relative() : scalar_tail(kTimeLiterals, false);
            break;
          case Kind::kEnum:
            tail = scalar_tail(kEnumLabels, false);
            break;
          default:
            tail = scalar_tail(kNumberLiterals, false);
        }
      }
    }
    last_related_ = func;
    return call + tail;
  }

  // [NOT] IN SEGMENT over a segment of the current table; now and then an unknown segment or
  // one of another table (refused at binding).
  std::string in_segment() {
    static const std::vector<std::string> kOthers = {"diff-nope", "diff-kids", "diff-static",
                                                     "diff-parents"};
    const std::vector<std::string>& own = tables_[table_].segments;
    const std::string& name = own.empty() || chance(4) ? one(kOthers) : one(own);
    last_related_ = "in segment";
    return (chance(40) ? "NOT IN SEGMENT '" : "IN SEGMENT '") + name + "'";
  }

  // A condition over other rows than the current one; empty when the table has none of the
  // relationships picked.
  std::string related_leaf() {
    int r = pick(100);
    if (r < 30) return many_to_one();
    if (r < 85) return aggregate(table_, "");
    return in_segment();
  }

  std::string leaf() {
    if (related_budget_ > 0 && chance(related_percent_)) {
      std::string related = related_leaf();
      if (!related.empty()) return related;
    }
    const std::vector<ColumnDef>& columns = tables_[table_].columns;
    const ColumnDef& c = columns[static_cast<std::size_t>(pick(static_cast<int>(columns.size())))];
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
    last_related_.clear();
    *single_leaf = chance(35);
    if (*single_leaf) return leaf();
    if (chance(3)) {
      last_op_ = "const";
      return chance(50) ? "TRUE" : "FALSE";
    }
    return node(1 + pick(3));
  }

  const std::string& last_op() const { return last_op_; }
  // The kind of the outermost relationship condition of the last filter built by leaf():
  // many-to-one, count, sum, avg, min, max, exists, in segment; empty for none.
  const std::string& last_related() const { return last_related_; }

 private:
  std::mt19937_64 rng_;
  std::vector<Table> tables_;
  TableId table_ = kRows;     // the table conditions are written over
  int related_budget_ = 2;    // how many relationship conditions may still nest
  int related_percent_ = 25;  // how often a condition crosses a relationship
  std::string last_op_;
  std::string last_related_;
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

// "runs", or the SQLSTATE and first line of the error.
std::string outcome(const Result& result) {
  if (result.ok()) return "runs";
  std::string message = result.error();
  return result.sqlstate() + " " + message.substr(0, message.find('\n'));
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
    Generator gen(seed, columns(nondeterministic), nondeterministic);
    db.must(gen.create_tables());
    db.must("BEGIN; " + gen.insert_rows(row_count) + " COMMIT; ANALYZE;");
    // Segments that IN SEGMENT reads: static ones with members added, scheduled ones computed
    // when created (one of them over a relationship and another segment).
    db.must(
        "SELECT segments.create_segment('Diff static', 'diff_rows', kind => 'static', "
        "system_name => 'diff-static');"
        "SELECT segments.add_members('diff-static', "
        "ARRAY(SELECT id FROM diff_rows WHERE (id * 37) % 7 < 3));"
        "SELECT segments.create_segment('Diff empty', 'diff_rows', kind => 'static', "
        "system_name => 'diff-empty');"
        "SELECT segments.create_segment('Diff scheduled', 'diff_rows', 'i4 > 0 OR b', "
        "kind => 'scheduled', system_name => 'diff-scheduled');"
        "SELECT segments.create_segment('Diff busy', 'diff_rows', "
        "'diff_children.count() >= 3 OR (IN SEGMENT ''diff-static'' AND diff_parent.b)', "
        "kind => 'scheduled', system_name => 'diff-busy');"
        "SELECT segments.create_segment('Diff parents', 'diff_parent', kind => 'static', "
        "system_name => 'diff-parents');"
        "SELECT segments.add_members('diff-parents', "
        "ARRAY(SELECT id FROM diff_parent WHERE id % 2 = 0));"
        "SELECT segments.create_segment('Diff kids', 'diff_children', kind => 'static', "
        "system_name => 'diff-kids');"
        "SELECT segments.add_members('diff-kids', "
        "ARRAY(SELECT id FROM diff_children WHERE (id * 13) % 4 = 1));");

    const char* zones[] = {"UTC", "Asia/Kolkata", "America/New_York"};
    int compared = 0;
    int refused = 0;
    int failures = 0;
    std::map<std::string, Coverage> coverage;
    for (int i = 0; i < filter_count; ++i) {
      bool single = false;
      std::string filter = gen.filter(&single);
      std::string op = gen.last_op();
      std::string related = gen.last_related();
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
        // Which engine fails: each alone, over every row.
        Result by_sql = db.exec("SELECT count((" + where + ")) FROM diff_rows");
        Result by_matches = db.exec_params(
            "SELECT count(segments.matches($1::segments.segment_filter, r)) FROM diff_rows r",
            {text});
        std::printf(
            "FAIL: comparison query failed for %s\n  SQL: %s\n  %s  to_sql alone: %s\n"
            "  matches alone: %s\n",
            text.c_str(), where.c_str(), cmp.error().c_str(), outcome(by_sql).c_str(),
            outcome(by_matches).c_str());
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
        Coverage& c = coverage[related.empty() ? op : related];
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
                                      "const",
                                      "many-to-one",
                                      "count",
                                      "sum",
                                      "avg",
                                      "min",
                                      "max",
                                      "exists",
                                      "in segment"};
    std::printf(
        "differential: operator and relationship coverage (single-condition filters with true "
        "and false rows; relationship conditions count under their kind only):\n");
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
