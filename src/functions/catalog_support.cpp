// Internal helpers of the catalog functions (schema segments, names starting with "_").
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/binder.hpp"
#include "core/json.hpp"
#include "core/parser.hpp"
#include "core/sql_compiler.hpp"
#include "pg/boundary.hpp"
#include "pg/filter_cache.hpp"
#include "pg/filter_datum.hpp"
#include "pg/key_diff.hpp"
#include "pg/spi.hpp"

using pgseg::pg::pg_guard;

namespace {

std::string text_arg(FunctionCallInfo fcinfo, int n) {
  return pg_guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
}

std::vector<std::string> text_array_arg(FunctionCallInfo fcinfo, int n) {
  struct Raw {
    char** items;
    int count;
  };
  Raw raw = pg_guard([&] {
    ArrayType* array = PG_GETARG_ARRAYTYPE_P(n);
    Datum* elements;
    bool* nulls;
    int count;
    deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
    auto** items = static_cast<char**>(palloc0(sizeof(char*) * (count + 1)));
    for (int i = 0; i < count; ++i)
      items[i] = nulls[i] ? nullptr : TextDatumGetCString(elements[i]);
    return Raw{items, count};
  });
  std::vector<std::string> result;
  for (int i = 0; i < raw.count; ++i) {
    if (raw.items[i] != nullptr) result.emplace_back(raw.items[i]);
  }
  return result;
}

Datum text_array_datum(const std::vector<std::string>& items) {
  return pgseg::pg::text_array(items);
}

}  // namespace

// _outer_role(): the role calling from outside any SECURITY DEFINER function, i.e. the role
// a segment created now belongs to.
PGSEG_FUNCTION(pgseg_outer_role) {
  return ObjectIdGetDatum(GetOuterUserId());
}

// _closest_name(name, candidates): the candidate within a small edit distance, else NULL.
PGSEG_FUNCTION(pgseg_closest_name) {
  std::string closest = pgseg::closest_name(text_arg(fcinfo, 0), text_array_arg(fcinfo, 1));
  if (closest.empty()) {
    fcinfo->isnull = true;
    return Datum(0);
  }
  return pg_guard([&] { return PointerGetDatum(cstring_to_text(closest.c_str())); });
}

namespace {

// The columns a bound filter reads, per table: the object's own, and those of every related
// table (keys walked, columns compared, aggregate arguments and conditions).
class ReadColumns {
 public:
  void collect(const pgseg::Node& node, const pgseg::BoundFilter& bound,
               const pgseg::ObjectSchema* schema) {
    if (!node.is_predicate()) {
      for (const auto& child : node.children) collect(*child, bound, schema);
      return;
    }
    const pgseg::Binding& binding = bound.binding(node);
    if (node.kind == pgseg::NodeKind::kInSegment || binding.path.empty()) {
      add(schema, binding.column);
      return;
    }
    const pgseg::ObjectSchema* current = schema;
    for (const pgseg::Relationship* step : binding.path) {
      for (const pgseg::Column* column : step->local_columns) add(current, column);
      for (const pgseg::Column* column : step->target_columns) add(step->target, column);
      current = step->target;
    }
    if (binding.aggregate == nullptr) {
      add(current, binding.column);
      return;
    }
    if (binding.argument != nullptr) add(current, binding.argument);
    if (binding.aggregate->condition) collect(*binding.aggregate->condition, bound, current);
  }

  std::vector<std::pair<const pgseg::ObjectSchema*, std::vector<std::string>>> tables;

 private:
  void add(const pgseg::ObjectSchema* schema, const pgseg::Column* column) {
    if (column == nullptr) return;
    for (auto& table : tables) {
      if (table.first != schema) continue;
      for (const std::string& name : table.second) {
        if (name == column->name) return;
      }
      table.second.push_back(column->name);
      return;
    }
    tables.push_back({schema, {column->name}});
  }
};

ReadColumns read_columns(FunctionCallInfo fcinfo, pgseg::pg::CompiledFilter** out) {
  const struct varlena* filter = pg_guard([&] { return PG_GETARG_VARLENA_PP(0); });
  Oid relid = PG_GETARG_OID(1);
  pgseg::pg::CompiledFilter& compiled =
      pgseg::pg::compiled_filter(relid, pgseg::pg::filter_text(filter));
  ReadColumns reads;
  reads.collect(*compiled.ast, *compiled.bound, compiled.schema.get());
  *out = &compiled;
  return reads;
}

}  // namespace

// _filter_columns(filter, object): the object's columns a filter reads, for privilege checks.
PGSEG_FUNCTION(pgseg_filter_columns) {
  pgseg::pg::CompiledFilter* compiled = nullptr;
  ReadColumns reads = read_columns(fcinfo, &compiled);
  for (const auto& table : reads.tables) {
    if (table.first == compiled->schema.get()) return text_array_datum(table.second);
  }
  return text_array_datum({});
}

// _filter_related_reads(filter, object): {"<oid of a related table>": [columns read], ...}.
PGSEG_FUNCTION(pgseg_filter_related_reads) {
  pgseg::pg::CompiledFilter* compiled = nullptr;
  ReadColumns reads = read_columns(fcinfo, &compiled);
  pgseg::Json out = pgseg::Json::object();
  // A foreign key of the object to itself (an employee's manager) reads other rows of the
  // object: the object is then one of the related tables too.
  for (const pgseg::Relationship* relationship : compiled->bound->relationships()) {
    if (relationship->target != compiled->schema.get()) continue;
    pgseg::Json columns = pgseg::Json::array();
    for (const pgseg::Column* column : relationship->target_columns) {
      columns.push(pgseg::Json::string(column->name));
    }
    out.set(std::to_string(compiled->relid), std::move(columns));
  }
  for (const auto& table : reads.tables) {
    if (table.first == compiled->schema.get()) continue;
    const auto* relation = static_cast<const pgseg::pg::RelationSchema*>(table.first);
    pgseg::Json columns = pgseg::Json::array();
    for (const std::string& name : table.second) columns.push(pgseg::Json::string(name));
    out.set(std::to_string(relation->relid()), std::move(columns));
  }
  std::string json_text = pgseg::to_json_text(out);
  return pg_guard(
      [&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(json_text.c_str())); });
}

// _filter_segments(filter): the system names IN SEGMENT conditions name (parsed only).
PGSEG_FUNCTION(pgseg_filter_segments) {
  const struct varlena* filter = pg_guard([&] { return PG_GETARG_VARLENA_PP(0); });
  pgseg::NodePtr ast = pgseg::parse_filter(pgseg::pg::filter_text(filter));
  std::vector<std::string> names;
  pgseg::for_each_predicate(*ast, [&](const pgseg::Node& node) {
    if (node.kind != pgseg::NodeKind::kInSegment) return;
    for (const std::string& seen : names) {
      if (seen == node.segment) return;
    }
    names.push_back(node.segment);
  });
  return text_array_datum(names);
}

// _execute_as(role, statement): runs statement as role (restricted, search_path pinned) and
// returns the first row's integer columns.
PGSEG_FUNCTION(pgseg_execute_as) {
  Oid role = PG_GETARG_OID(0);
  std::string statement = text_arg(fcinfo, 1);
  std::vector<int64> values = pgseg::pg::run_sql(statement, role);
  return pg_guard([&] {
    auto* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (values.size() + 1)));
    for (std::size_t i = 0; i < values.size(); ++i) elements[i] = Int64GetDatum(values[i]);
    return PointerGetDatum(construct_array(elements, static_cast<int>(values.size()), INT8OID, 8,
                                           true, TYPALIGN_DOUBLE));
  });
}

// _refresh_by_integer_keys(read, remove, add, max_bytes, estimated_rows): a refresh whose keys
// are compared in memory (pg/key_diff.hpp); {added, removed, total}, or NULL, having written
// nothing, when the keys do not fit in max_bytes.
PGSEG_FUNCTION(pgseg_refresh_by_integer_keys) {
  const std::string read = text_arg(fcinfo, 0);
  const std::string remove = text_arg(fcinfo, 1);
  const std::string add = text_arg(fcinfo, 2);
  const int64 max_bytes = PG_GETARG_INT64(3);
  const pgseg::pg::KeyDiffStatements statements{read.c_str(), remove.c_str(), add.c_str()};
  const double estimated_rows = PG_GETARG_FLOAT8(4);
  const std::optional<pgseg::pg::RefreshCounts> counts = pgseg::pg::refresh_by_integer_keys(
      statements, max_bytes > 0 ? static_cast<std::size_t>(max_bytes) : 0, estimated_rows);
  if (!counts) PG_RETURN_NULL();
  return pg_guard([&] {
    Datum elements[3] = {Int64GetDatum(counts->added), Int64GetDatum(counts->removed),
                         Int64GetDatum(counts->total)};
    return PointerGetDatum(
        construct_array(elements, 3, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
}

// _depend_on_extension(classid, objid): makes an object created at run time (a membership
// table, a trigger on an object) go away with DROP EXTENSION, while pg_dump still dumps it.
PGSEG_FUNCTION(pgseg_depend_on_extension) {
  Oid class_id = PG_GETARG_OID(0);
  Oid object_id = PG_GETARG_OID(1);
  pg_guard([&] {
    ObjectAddress object;
    ObjectAddress extension;
    ObjectAddressSet(object, class_id, object_id);
    ObjectAddressSet(extension, ExtensionRelationId, get_extension_oid("pg_segments", false));
    recordDependencyOn(&object, &extension, DEPENDENCY_AUTO);
  });
  return Datum(0);
}

// _invalidate(object): every session drops what it cached about object's segments at its
// next statement (a relcache invalidation, sent at commit).
PGSEG_FUNCTION(pgseg_invalidate) {
  Oid relid = PG_GETARG_OID(0);
  pg_guard([&] {
    // A dropped object has nothing cached any more (DROP itself invalidated it).
    if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid))) {
      CacheInvalidateRelcacheByRelid(relid);
    }
  });
  return Datum(0);
}

// _note_use(segment): records that a segment was read, at most once an hour per session,
// without ever waiting for a lock and never in a read-only transaction.
PGSEG_FUNCTION(pgseg_note_use) {
  static auto* noted = new std::unordered_map<int64, TimestampTz>();
  const int64 segment_id = PG_GETARG_INT64(0);
  const TimestampTz now = GetCurrentTransactionStartTimestamp();
  auto found = noted->find(segment_id);
  if (found != noted->end() && now - found->second < USECS_PER_HOUR) return Datum(0);
  if (XactReadOnly || RecoveryInProgress()) return Datum(0);
  Oid owner = pg_guard([] {
    Oid catalog = get_relname_relid("segment", get_namespace_oid("segments", false));
    return OidIsValid(catalog) ? catalog : InvalidOid;
  });
  if (!OidIsValid(owner)) return Datum(0);
  Oid types[1] = {INT8OID};
  Datum values[1] = {Int64GetDatum(segment_id)};
  // run_sql pins search_path to pg_catalog, so plain operators are PostgreSQL's own.
  pgseg::pg::run_sql(
      "UPDATE segments.segment SET last_used_at = now() WHERE id = $1 "
      "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 hour') "
      "AND id IN (SELECT id FROM segments.segment WHERE id = $1 FOR UPDATE SKIP LOCKED)",
      pgseg::pg::relation_owner(owner), 1, types, values);
  (*noted)[segment_id] = now;
  return Datum(0);
}

// _is_time_relative(filter): whether the filter has WITHIN LAST/NEXT or OLDER THAN conditions.
PGSEG_FUNCTION(pgseg_is_time_relative) {
  const struct varlena* filter = pg_guard([&] { return PG_GETARG_VARLENA_PP(0); });
  pgseg::NodePtr ast = pgseg::parse_filter(pgseg::pg::filter_text(filter));
  bool relative = false;
  pgseg::for_each_predicate(*ast, [&](const pgseg::Node& node) {
    relative = relative || node.kind == pgseg::NodeKind::kRelTime;
  });
  return BoolGetDatum(relative);
}

// _filter_nested_segments(filter, object): whether IN SEGMENT appears inside an aggregate's
// condition (segments of a related table).
PGSEG_FUNCTION(pgseg_filter_nested_segments) {
  const struct varlena* filter = pg_guard([&] { return PG_GETARG_VARLENA_PP(0); });
  pgseg::pg::CompiledFilter& compiled =
      pgseg::pg::compiled_filter(PG_GETARG_OID(1), pgseg::pg::filter_text(filter));
  return BoolGetDatum(pgseg::related_reads(*compiled.ast, *compiled.bound).nested_segments);
}

// _is_related(filter, object): whether the filter reads other rows than the object row's own
// (related tables, IN SEGMENT); NULL when it no longer binds to the object (a related table or
// column dropped), so that such a segment is skipped rather than failing writes.
PGSEG_FUNCTION(pgseg_is_related) {
  const struct varlena* filter = pg_guard([&] { return PG_GETARG_VARLENA_PP(0); });
  const Oid relid = PG_GETARG_OID(1);
  try {
    pgseg::pg::CompiledFilter& compiled =
        pgseg::pg::compiled_filter(relid, pgseg::pg::filter_text(filter));
    return BoolGetDatum(compiled.bound->related());
  } catch (const pgseg::Error&) {
    fcinfo->isnull = true;
    return Datum(0);
  }
}
