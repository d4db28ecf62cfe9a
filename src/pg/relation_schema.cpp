// Reading an object's columns and checking literals with PostgreSQL's type input functions.
#include "pg/relation_schema.hpp"

#include "pg/boundary.hpp"

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
};

struct RawRelation {
  char* name;
  char* qualified_sql_name;
  int natts;
  int ncolumns;
  RawColumn* columns;
  bool default_collation_is_c;
};

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

}  // namespace pgseg::pg
