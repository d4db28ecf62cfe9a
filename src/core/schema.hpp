// What the core needs to know about an object (a table) to bind a filter to it.
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ast.hpp"

namespace pgseg {

// How the filter language treats a column type.
enum class TypeCategory : std::uint8_t {
  kText,         // text, varchar, name, domains over them
  kBpchar,       // character(n): comparisons ignore trailing spaces
  kInteger,      // smallint, integer, bigint
  kNumeric,      // numeric
  kFloat,        // real, double precision
  kBool,         // boolean
  kDate,         // date
  kTimestamp,    // timestamp without time zone
  kTimestampTz,  // timestamp with time zone
  kEnum,         // enum types
  kJsonb,        // jsonb: keys reached as col.key.sub
  kArray,        // one-dimensional arrays (CONTAINS family)
  kOther,        // any other type with a btree ordering: =, <>, <, IN, BETWEEN with 'text'
  kUnsupported,  // no ordering: IS NULL only
};

const char* category_name(TypeCategory category);

struct ColumnType {
  TypeCategory category = TypeCategory::kUnsupported;
  TypeCategory element = TypeCategory::kUnsupported;  // kArray: the element's category
  std::string name;                                   // SQL name for messages, e.g. "text[]"
  bool collation_deterministic = true;                // text kinds: equality is byte equality
  bool collation_is_c = false;                        // text kinds: ordering is byte order
  std::string collation_sql;  // the column's collation as SQL names it; empty if none
};

struct Column {
  std::string name;
  int index = 0;  // host's handle for the column (PostgreSQL: attribute number)
  ColumnType type;
};

class ObjectSchema;

// A foreign key seen from the object: many-to-one (the object references target) or one-to-many
// (target references the object). Columns pair up: local_columns[i] = target_columns[i].
struct Relationship {
  bool to_many = false;
  std::string name;      // the name filters use: the other table's name or the constraint's
  std::string sql_name;  // the other table, quoted and schema-qualified for SQL
  const ObjectSchema* target = nullptr;
  std::vector<const Column*> local_columns;   // columns of this object
  std::vector<const Column*> target_columns;  // columns of target
};

// A segment that IN SEGMENT names, over the same object.
struct SegmentRef {
  std::int64_t id = 0;
  std::string membership_sql;   // the membership relation, quoted and qualified for SQL
  const Column* key = nullptr;  // the object's key column, which membership rows hold
};

class ObjectSchema {
 public:
  virtual ~ObjectSchema() = default;
  // Name of the object for messages, e.g. "public.customers".
  virtual std::string object_name() const = 0;
  virtual const Column* find_column(std::string_view name) const = 0;
  virtual std::vector<std::string> column_names() const = 0;
  // Throws an Error when literal is not a valid value of the column's type (of its element
  // type when element is true), exactly as the compiled SQL would fail to read it.
  virtual void check_literal(const Column& column, const Literal& literal, bool element) const = 0;
  // Ordering of jsonb strings follows the database's default collation.
  virtual bool default_collation_is_c() const = 0;

  // The relationship name walks (a table name or a foreign key constraint's name), or nullptr.
  // Throws an Error (42702) when two foreign keys answer to the name.
  virtual const Relationship* find_relationship(std::string_view /*name*/) const { return nullptr; }
  virtual std::vector<std::string> relationship_names() const { return {}; }
  // The segment over this object with that system name. Throws an Error when there is none
  // (42704, with a did-you-mean) or when it is defined over another object.
  virtual SegmentRef find_segment(std::string_view name) const;
};

}  // namespace pgseg
