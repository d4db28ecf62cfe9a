// An object's columns as the core binder sees them, read from PostgreSQL's catalogs.
#pragma once

#include "pg/postgres.hpp"

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
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
  const Relationship* find_relationship(std::string_view name) const override;
  std::vector<std::string> relationship_names() const override;
  SegmentRef find_segment(std::string_view name) const override;

  // Schemas of the tables reached through relationships so far (this one's and theirs).
  std::vector<const RelationSchema*> related_schemas() const;

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

  // Foreign keys from and to this relation, read on first use.
  struct ForeignKey {
    std::string constraint;
    std::string table;  // the other table's name
    bool to_many = false;
    Oid other = InvalidOid;
    std::vector<AttrNumber> local;
    std::vector<AttrNumber> remote;
  };
  void load_foreign_keys() const;
  const Relationship& relationship(const ForeignKey& key) const;
  const Column* column_by_attnum(AttrNumber attnum) const;

  mutable bool keys_loaded_ = false;
  mutable std::vector<ForeignKey> keys_;
  mutable std::deque<Relationship> relationships_;  // by position in keys_
  mutable std::vector<int> relationship_of_key_;    // -1 until built
  mutable std::unordered_map<Oid, std::unique_ptr<RelationSchema>> related_;
  mutable std::string key_column_;  // the object's key column (IN SEGMENT), read on first use
};

// Category of a (base) type in the filter language.
TypeCategory classify_type(Oid base_type);

}  // namespace pgseg::pg
