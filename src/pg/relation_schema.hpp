// An object's columns as the core binder sees them, read from PostgreSQL's catalogs.
#pragma once

#include "pg/postgres.hpp"

#include <memory>
#include <string>
#include <vector>

#include "core/schema.hpp"

namespace pgseg::pg {

// PostgreSQL facts about one column, parallel to the core Column.
struct PgColumn {
  AttrNumber attnum = 0;
  Oid type = InvalidOid;          // declared type (possibly a domain)
  Oid base_type = InvalidOid;     // the domain's base type, or the type itself
  Oid element_type = InvalidOid;  // arrays: base type of the elements
  Oid collation = InvalidOid;
};

class RelationSchema final : public ObjectSchema {
 public:
  // Reads relid's columns (takes AccessShareLock until the end of the transaction).
  static std::unique_ptr<RelationSchema> load(Oid relid);

  Oid relid() const { return relid_; }
  std::string object_name() const override { return name_; }
  const std::string& qualified_sql_name() const { return qualified_sql_name_; }
  const Column* find_column(std::string_view name) const override;
  std::vector<std::string> column_names() const override;
  void check_literal(const Column& column, const Literal& literal, bool element) const override;
  bool default_collation_is_c() const override { return default_collation_is_c_; }

  // PostgreSQL facts for a core column (Column::index is the attribute number).
  const PgColumn& pg_column(const Column& column) const;
  // Highest attribute number of the relation, dropped columns included.
  int natts() const { return natts_; }

 private:
  Oid relid_ = InvalidOid;
  std::string name_;
  std::string qualified_sql_name_;
  std::vector<Column> columns_;
  std::vector<PgColumn> pg_columns_;
  int natts_ = 0;
  bool default_collation_is_c_ = false;
};

// Category of a (base) type in the filter language.
TypeCategory classify_type(Oid base_type);

}  // namespace pgseg::pg
