// Reading an object's columns and checking literals with PostgreSQL's type input functions.
#include "pg/relation_schema.hpp"

#include <algorithm>

#include "core/binder.hpp"
#include "core/printer.hpp"
#include "pg/boundary.hpp"
#include "pg/spi.hpp"

namespace pgseg::pg {

namespace {

// One column as read inside a guarded section (C data only: nothing there may throw).
struct RawColumn {
  char* name;
  char* type_name;
  PgColumn pg;
  TypeCategory category;
  TypeCategory element_category;
  bool deterministic;
  bool collation_is_c;
  char* collation_sql;  // NULL when the column has no collation
};

struct RawRelation {
  char* name;
  char* qualified_sql_name;
  int natts;
  int ncolumns;
  RawColumn* columns;
  bool default_collation_is_c;
};

// A collation's schema-qualified, quoted name (SQL built from it runs under any search_path).
char* collation_sql_name(Oid collation) {
  HeapTuple tuple = SearchSysCache1(COLLOID, ObjectIdGetDatum(collation));
  if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for collation %u", collation);
  auto* form = reinterpret_cast<Form_pg_collation>(GETSTRUCT(tuple));
  char* name = pstrdup(
      quote_qualified_identifier(get_namespace_name(form->collnamespace), NameStr(form->collname)));
  ReleaseSysCache(tuple);
  return name;
}

RawRelation* read_relation(Oid relid) {
  Relation rel = relation_open(relid, AccessShareLock);
  TupleDesc desc = RelationGetDescr(rel);
  auto* raw = static_cast<RawRelation*>(palloc0(sizeof(RawRelation)));
  char* nspname = get_namespace_name(RelationGetNamespace(rel));
  raw->qualified_sql_name =
      pstrdup(quote_qualified_identifier(nspname, RelationGetRelationName(rel)));
  raw->name = pstrdup(raw->qualified_sql_name);
  raw->natts = desc->natts;
  raw->columns = static_cast<RawColumn*>(palloc0(sizeof(RawColumn) * (desc->natts + 1)));
  raw->default_collation_is_c = lc_collate_is_c(DEFAULT_COLLATION_OID);
  for (int i = 0; i < desc->natts; ++i) {
    Form_pg_attribute attr = TupleDescAttr(desc, i);
    if (attr->attisdropped) continue;
    RawColumn& column = raw->columns[raw->ncolumns++];
    column.name = pstrdup(NameStr(attr->attname));
    column.type_name = format_type_be(attr->atttypid);
    column.pg.attnum = attr->attnum;
    column.pg.type = attr->atttypid;
    column.pg.base_type = getBaseType(attr->atttypid);
    column.pg.collation = attr->attcollation;
    column.category = classify_type(column.pg.base_type);
    column.element_category = TypeCategory::kUnsupported;
    if (column.category == TypeCategory::kArray) {
      column.pg.element_type = getBaseType(get_element_type(column.pg.base_type));
      column.element_category = classify_type(column.pg.element_type);
    }
    column.deterministic = true;
    column.collation_is_c = false;
    if (OidIsValid(attr->attcollation)) {
      column.deterministic = get_collation_isdeterministic(attr->attcollation);
      column.collation_is_c = lc_collate_is_c(attr->attcollation);
      column.collation_sql = collation_sql_name(attr->attcollation);
    }
  }
  relation_close(rel, NoLock);
  return raw;
}

// A literal's text as the type input function reads it.
const char* literal_text(const Literal& literal) {
  if (literal.kind == LiteralKind::kBoolean) return literal.boolean ? "true" : "false";
  return literal.text.c_str();
}

// One column pair of a foreign key from or to the relation, as read by SPI.
struct RawKey {
  Oid constraint_oid;
  char* constraint;
  char* table;
  bool to_many;
  Oid other;
  AttrNumber local;
  AttrNumber remote;
};

// Column pairs of the foreign keys of relid (many-to-one) and of those referencing it
// (one-to-many, self-references left out), in constraint and key order.
RawKey* read_foreign_keys(Oid relid, int* count) {
  MemoryContext caller = CurrentMemoryContext;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  Oid types[1] = {OIDOID};
  Datum values[1] = {ObjectIdGetDatum(relid)};
  const char* query =
      "SELECT c.oid, c.conname::pg_catalog.text, cl.relname::pg_catalog.text, "
      "       c.conrelid OPERATOR(pg_catalog.<>) $1, cl.oid, k.local, k.remote "
      "  FROM pg_catalog.pg_constraint c "
      "  JOIN pg_catalog.pg_class cl ON cl.oid OPERATOR(pg_catalog.=) "
      "       CASE WHEN c.conrelid OPERATOR(pg_catalog.=) $1 THEN c.confrelid ELSE c.conrelid END "
      "  CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest("
      "       CASE WHEN c.conrelid OPERATOR(pg_catalog.=) $1 THEN c.conkey ELSE c.confkey END), "
      "       pg_catalog.unnest("
      "       CASE WHEN c.conrelid OPERATOR(pg_catalog.=) $1 THEN c.confkey ELSE c.conkey END)) "
      "       WITH ORDINALITY AS k(local, remote, n) "
      " WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conparentid OPERATOR(pg_catalog.=) 0 "
      "   AND (c.conrelid OPERATOR(pg_catalog.=) $1 OR (c.confrelid OPERATOR(pg_catalog.=) $1 "
      "        AND c.conrelid OPERATOR(pg_catalog.<>) $1)) "
      " ORDER BY c.conrelid OPERATOR(pg_catalog.<>) $1, c.conname, c.oid, k.n";
  if (execute_catalog_query(query, 1, types, values, 0) != SPI_OK_SELECT) {
    elog(ERROR, "pg_segments: reading foreign keys failed");
  }
  const int rows = static_cast<int>(SPI_processed);
  auto* keys = static_cast<RawKey*>(MemoryContextAllocZero(caller, sizeof(RawKey) * (rows + 1)));
  for (int i = 0; i < rows; ++i) {
    HeapTuple tuple = SPI_tuptable->vals[i];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull;
    RawKey& key = keys[i];
    key.constraint_oid = DatumGetObjectId(SPI_getbinval(tuple, desc, 1, &isnull));
    MemoryContext spi = MemoryContextSwitchTo(caller);
    key.constraint = TextDatumGetCString(SPI_getbinval(tuple, desc, 2, &isnull));
    key.table = TextDatumGetCString(SPI_getbinval(tuple, desc, 3, &isnull));
    MemoryContextSwitchTo(spi);
    key.to_many = DatumGetBool(SPI_getbinval(tuple, desc, 4, &isnull));
    key.other = DatumGetObjectId(SPI_getbinval(tuple, desc, 5, &isnull));
    key.local = DatumGetInt16(SPI_getbinval(tuple, desc, 6, &isnull));
    key.remote = DatumGetInt16(SPI_getbinval(tuple, desc, 7, &isnull));
  }
  SPI_finish();
  *count = rows;
  return keys;
}

// System names of the segments over object, for a did-you-mean.
std::vector<std::string> segment_names(Oid object) {
  std::vector<std::string> names;
  for (const auto& row : text_rows("SELECT s.system_name FROM segments.segment s WHERE s.object "
                                   "OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
                                   OIDOID, ObjectIdGetDatum(object), InvalidOid)) {
    names.push_back(row[0]);
  }
  return names;
}

}  // namespace

TypeCategory classify_type(Oid base_type) {
  switch (base_type) {
    case TEXTOID:
    case VARCHAROID:
      return TypeCategory::kText;
    case BPCHAROID:
      return TypeCategory::kBpchar;
    case INT2OID:
    case INT4OID:
    case INT8OID:
      return TypeCategory::kInteger;
    case NUMERICOID:
      return TypeCategory::kNumeric;
    case FLOAT4OID:
    case FLOAT8OID:
      return TypeCategory::kFloat;
    case BOOLOID:
      return TypeCategory::kBool;
    case DATEOID:
      return TypeCategory::kDate;
    case TIMESTAMPOID:
      return TypeCategory::kTimestamp;
    case TIMESTAMPTZOID:
      return TypeCategory::kTimestampTz;
    case JSONBOID:
      return TypeCategory::kJsonb;
    default:
      break;
  }
  if (type_is_enum(base_type)) return TypeCategory::kEnum;
  if (OidIsValid(get_element_type(base_type))) return TypeCategory::kArray;
  TypeCacheEntry* entry = lookup_type_cache(base_type, TYPECACHE_CMP_PROC);
  return OidIsValid(entry->cmp_proc) ? TypeCategory::kOther : TypeCategory::kUnsupported;
}

std::unique_ptr<RelationSchema> RelationSchema::load(Oid relid) {
  RawRelation* raw = pg_guard([&] { return read_relation(relid); });
  auto schema = std::make_unique<RelationSchema>();
  schema->relid_ = relid;
  schema->name_ = raw->name;
  schema->qualified_sql_name_ = raw->qualified_sql_name;
  schema->natts_ = raw->natts;
  schema->default_collation_is_c_ = raw->default_collation_is_c;
  for (int i = 0; i < raw->ncolumns; ++i) {
    const RawColumn& r = raw->columns[i];
    Column column;
    column.name = r.name;
    column.index = r.pg.attnum;
    column.type.category = r.category;
    column.type.element = r.element_category;
    column.type.name = r.type_name;
    column.type.collation_deterministic = r.deterministic;
    column.type.collation_is_c = r.collation_is_c;
    if (r.collation_sql != nullptr) column.type.collation_sql = r.collation_sql;
    schema->columns_.push_back(std::move(column));
    schema->pg_columns_.push_back(r.pg);
  }
  return schema;
}

const Column* RelationSchema::find_column(std::string_view name) const {
  for (const Column& column : columns_) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

std::vector<std::string> RelationSchema::column_names() const {
  std::vector<std::string> names;
  names.reserve(columns_.size());
  for (const Column& column : columns_) names.push_back(column.name);
  return names;
}

const PgColumn& RelationSchema::pg_column(const Column& column) const {
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].index == column.index) return pg_columns_[i];
  }
  throw Error(sqlstate::kInternalError, "column " + quoted(column.name) + " is not in the schema");
}

void RelationSchema::check_literal(const Column& column, const Literal& literal,
                                   bool element) const {
  const PgColumn& pg = pg_column(column);
  const TypeCategory category = element ? column.type.element : column.type.category;
  // Integers and numerics are compared exactly whatever their size; booleans need no check.
  if (category == TypeCategory::kInteger && !element) return;
  if (category == TypeCategory::kNumeric || category == TypeCategory::kBool) return;
  const Oid type = element                            ? pg.element_type
                   : category == TypeCategory::kFloat ? FLOAT8OID
                                                      : pg.type;
  const char* input_text = literal_text(literal);
  try {
    pg_guard([&] {
      Oid input;
      Oid ioparam;
      getTypeInputInfo(type, &input, &ioparam);
      OidInputFunctionCall(input, const_cast<char*>(input_text), ioparam, -1);
    });
  } catch (const PgError& e) {
    Error error = to_core_error(e);
    std::string message = std::string("invalid value for ") + (element ? "elements of " : "") +
                          "column " + quoted(column.name) + " of type " + column.type.name + ": " +
                          error.what();
    throw Error(error.sqlstate(), message, error.detail(), error.hint());
  }
}

const Column* RelationSchema::column_by_attnum(AttrNumber attnum) const {
  for (const Column& column : columns_) {
    if (column.index == attnum) return &column;
  }
  return nullptr;
}

void RelationSchema::load_foreign_keys() const {
  if (keys_loaded_) return;
  int count = 0;
  RawKey* raw = pg_guard([&] { return read_foreign_keys(relid_, &count); });
  Oid current = InvalidOid;
  bool current_to_many = false;
  for (int i = 0; i < count; ++i) {
    const RawKey& r = raw[i];
    if (keys_.empty() || r.constraint_oid != current || r.to_many != current_to_many) {
      ForeignKey key;
      key.constraint = r.constraint;
      key.table = r.table;
      key.to_many = r.to_many;
      key.other = r.other;
      keys_.push_back(std::move(key));
      current = r.constraint_oid;
      current_to_many = r.to_many;
    }
    keys_.back().local.push_back(r.local);
    keys_.back().remote.push_back(r.remote);
  }
  relationship_of_key_.assign(keys_.size(), -1);
  keys_loaded_ = true;
}

const Relationship& RelationSchema::relationship(const ForeignKey& key) const {
  const std::size_t position = static_cast<std::size_t>(&key - keys_.data());
  if (relationship_of_key_[position] >= 0) return relationships_[relationship_of_key_[position]];
  auto found = related_.find(key.other);
  if (found == related_.end()) {
    found = related_.emplace(key.other, key.other == relid_ ? nullptr : load(key.other)).first;
  }
  const RelationSchema* target = key.other == relid_ ? this : found->second.get();
  Relationship relationship;
  relationship.name = key.table;
  relationship.to_many = key.to_many;
  relationship.target = target;
  relationship.sql_name = target->qualified_sql_name();
  for (std::size_t i = 0; i < key.local.size(); ++i) {
    const Column* local = column_by_attnum(key.local[i]);
    const Column* remote = target->column_by_attnum(key.remote[i]);
    if (local == nullptr || remote == nullptr) {
      throw Error(sqlstate::kInternalError,
                  "foreign key " + quoted(key.constraint) + " names a column that does not exist");
    }
    relationship.local_columns.push_back(local);
    relationship.target_columns.push_back(remote);
  }
  relationships_.push_back(std::move(relationship));
  relationship_of_key_[position] = static_cast<int>(relationships_.size() - 1);
  return relationships_.back();
}

const Relationship* RelationSchema::find_relationship(std::string_view name) const {
  load_foreign_keys();
  // A constraint's name picks one foreign key; a table's name must pick exactly one.
  std::vector<const ForeignKey*> matches;
  for (const ForeignKey& key : keys_) {
    if (key.constraint == name) matches.push_back(&key);
  }
  bool by_constraint = !matches.empty();
  if (!by_constraint) {
    for (const ForeignKey& key : keys_) {
      if (key.table == name) matches.push_back(&key);
    }
  }
  if (matches.empty()) return nullptr;
  if (matches.size() > 1) {
    std::string names;
    for (const ForeignKey* key : matches) {
      if (!names.empty()) names += ", ";
      names += print_identifier(key->constraint) + (key->to_many ? " (one-to-many, on " : " (to ") +
               print_identifier(key->table) + ")";
    }
    throw Error(sqlstate::kAmbiguousColumn,
                "relationship " + quoted(std::string(name)) + " of " + name_ + " is ambiguous", {},
                by_constraint ? "Foreign keys with that name: " + names + "."
                              : "Name the foreign key constraint instead: " + names + ".");
  }
  return &relationship(*matches.front());
}

std::vector<std::string> RelationSchema::relationship_names() const {
  load_foreign_keys();
  std::vector<std::string> names;
  for (const ForeignKey& key : keys_) {
    if (std::find(names.begin(), names.end(), key.table) == names.end()) {
      names.push_back(key.table);
    }
  }
  return names;
}

SegmentRef RelationSchema::find_segment(std::string_view name) const {
  std::string copy(name);
  // The segment, its object, and the object's membership relation and key column.
  const auto rows = text_rows(
      "SELECT s.id, s.object::pg_catalog.oid, o.membership::pg_catalog.text, "
      "       o.key_column::pg_catalog.text "
      "  FROM segments.segment s LEFT JOIN segments.object o ON o.object OPERATOR(pg_catalog.=) "
      "       s.object WHERE s.system_name OPERATOR(pg_catalog.=) $1",
      TEXTOID, pg_guard([&] { return CStringGetTextDatum(copy.c_str()); }), InvalidOid);
  if (rows.empty()) {
    std::string suggestion = closest_name(copy, segment_names(relid_));
    throw Error(sqlstate::kUndefinedObject, "segment " + quoted(copy) + " does not exist", {},
                suggestion.empty() ? "IN SEGMENT names a segment's system name."
                                   : "Perhaps you meant " + quoted(suggestion) + ".");
  }
  const std::vector<std::string>& row = rows.front();
  if (static_cast<Oid>(std::stoul(row[1])) != relid_ || row[2].empty()) {
    throw Error(sqlstate::kInvalidParameterValue,
                "segment " + quoted(copy) + " is not a segment of " + name_, {},
                "IN SEGMENT reads segments of the same object only.");
  }
  SegmentRef ref;
  ref.id = std::stoll(row[0]);
  ref.membership_sql = row[2];
  ref.key = find_column(row[3]);
  if (ref.key == nullptr) {
    throw Error(sqlstate::kInternalError, "key column of " + name_ + " not found");
  }
  return ref;
}

std::vector<const RelationSchema*> RelationSchema::related_schemas() const {
  std::vector<const RelationSchema*> out;
  for (const auto& item : related_) {
    if (!item.second) continue;
    out.push_back(item.second.get());
    for (const RelationSchema* nested : item.second->related_schemas()) out.push_back(nested);
  }
  return out;
}

}  // namespace pgseg::pg
