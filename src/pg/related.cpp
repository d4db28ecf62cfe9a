// Realtime segments over related rows: key marks per object, reverse lookups from related
// tables to object keys, and the set-wise recompute of marked keys at statement end.
#include "pg/related.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/sql_compiler.hpp"
#include "pg/boundary.hpp"
#include "pg/filter_cache.hpp"
#include "pg/membership.hpp"
#include "pg/spi.hpp"

namespace pgseg::pg {

namespace {

// The statement that recomputes one segment for some keys, prepared on first use.
struct SegmentPlans {
  SPIPlanPtr diff = nullptr;
  bool timed = false;               // relative time: recheck times are kept for its rows
  SPIPlanPtr due_delete = nullptr;  // forgets the recheck times of some keys
  SPIPlanPtr due_insert = nullptr;  // records them again
};

// An object's active realtime segments that read related rows, in dependency order.
struct ObjectRelated {
  bool stale = false;
  std::vector<std::int64_t> segments;
  std::vector<std::unique_ptr<CompiledFilter>> compiled;  // parallel to segments
  std::vector<SegmentPlans> plans;                        // parallel to segments
  SPIPlanPtr lock = nullptr;  // locks the object rows of some keys, prepared on first use
  SPIPlanPtr all = nullptr;   // every segment's answers for some keys, prepared on first use
  // Write exits (1), entries (2) or both (3) with their feed; prepared on first use.
  SPIPlanPtr changes[4] = {nullptr, nullptr, nullptr, nullptr};
};

// From a changed row of a related table to the keys of one object's rows.
struct Reverse {
  Oid object = InvalidOid;
  bool member_column = false;             // a membership relation: the row's member is the key
  std::string sql;                        // otherwise: the reverse lookup, $n = the row's columns
  AttrNumber direct = InvalidAttrNumber;  // a column holding the object's key itself
  Oid direct_type = InvalidOid;
  std::vector<AttrNumber> columns;  // attribute numbers of the row's columns, in $n order
  std::vector<Oid> types;
  SPIPlanPtr plan = nullptr;
  std::vector<std::int64_t> segments;  // the object's segments that read the row this way
  // A membership relation: the segments IN SEGMENT reads (only their rows matter).
  std::vector<std::int64_t> read_segments;
};

// For a segment that reads a table only through aggregates over its rows (orders.count(...),
// orders.sum(... WHERE ...)): a changed row that satisfies none of their conditions, before or
// after the change, is counted by none of them, so the segment's answer cannot change.
struct RowTest {
  std::int64_t segment = 0;
  std::unique_ptr<CompiledFilter> compiled;  // owned: the programs point into it
  std::unique_ptr<PgHost> host;
  std::vector<std::unique_ptr<Program>> programs;
  std::vector<std::unique_ptr<RowEvaluator>> evaluators;

  // Frees what points into compiled, then hands compiled to the filter cache's retirement.
  void release() {
    evaluators.clear();
    programs.clear();
    host.reset();
    retire_compiled(std::move(compiled));
  }
};

struct TableRelated {
  bool stale = false;
  std::vector<Oid> objects;  // objects whose segments read the table (invalidate this entry)
  std::vector<Reverse> reverses;
  // Object rows reach the table's rows through many-to-one keys: an UPDATE locks the row FOR
  // UPDATE (see related_row_updating).
  bool referenced = false;
  SPIPlanPtr lock = nullptr;
  // Rows between the object and this table that an UPDATE of a row here also locks FOR UPDATE
  // (see related_row_updating).
  struct ReachingLock {
    std::string sql;                  // $n = the changed row's columns
    Oid writer = InvalidOid;          // runs as this role
    std::vector<AttrNumber> columns;  // in $n order
    std::vector<Oid> types;
    SPIPlanPtr plan = nullptr;
  };
  std::vector<ReachingLock> reaching_locks;
  // The columns of this table that segments read or join on (attribute numbers, sorted): an
  // UPDATE changing none of them changes no answer and is not followed. every_column: a
  // membership relation, followed on every change.
  std::vector<AttrNumber> read_columns;
  bool every_column = false;
  std::vector<std::unique_ptr<RowTest>> tests;
};

struct State {
  std::unordered_map<Oid, std::unique_ptr<ObjectRelated>> objects;
  std::unordered_map<Oid, std::unique_ptr<TableRelated>> tables;
  // Marked keys (text form) per object, until the statement's end.
  std::unordered_map<Oid, std::vector<std::string>> marks;
  // Objects whose segment definitions are being changed, with the subtransaction that began
  // the change: their marks wait for the new definitions (related_release).
  std::unordered_map<Oid, SubTransactionId> holds;
  std::vector<std::unique_ptr<ObjectRelated>> retired_objects;
  std::vector<std::unique_ptr<TableRelated>> retired_tables;
};

State& state() {
  static State* instance = new State();
  return *instance;
}

void on_relcache_invalidation(Datum, Oid relid) {
  State& s = state();
  for (auto& item : s.objects) {
    ObjectRelated& object = *item.second;
    if (relid == InvalidOid || item.first == relid) object.stale = true;
    for (const auto& compiled : object.compiled) {
      for (Oid related : compiled->related_relids) {
        if (related == relid) object.stale = true;
      }
    }
  }
  for (auto& item : s.tables) {
    TableRelated& table = *item.second;
    if (relid == InvalidOid || item.first == relid) table.stale = true;
    for (Oid object : table.objects) {
      if (object == relid) table.stale = true;
    }
  }
}

void free_plans(TableRelated& table) {
  if (table.lock != nullptr) {
    SPIPlanPtr plan = table.lock;
    table.lock = nullptr;
    pg_guard([&] { SPI_freeplan(plan); });
  }
  for (TableRelated::ReachingLock& lock : table.reaching_locks) {
    if (lock.plan == nullptr) continue;
    SPIPlanPtr plan = lock.plan;
    lock.plan = nullptr;
    pg_guard([&] { SPI_freeplan(plan); });
  }
  for (Reverse& reverse : table.reverses) {
    if (reverse.plan == nullptr) continue;
    SPIPlanPtr plan = reverse.plan;
    reverse.plan = nullptr;
    pg_guard([&] { SPI_freeplan(plan); });
  }
}

void on_transaction_end(XactEvent event, void*) {
  if (!ends_transaction(event)) return;
  State& s = state();
  s.marks.clear();
  s.holds.clear();
  for (auto& object : s.retired_objects) {
    for (auto& compiled : object->compiled) retire_compiled(std::move(compiled));
    std::vector<SPIPlanPtr> plans{object->lock, object->all, object->changes[1], object->changes[2],
                                  object->changes[3]};
    for (const SegmentPlans& segment : object->plans) {
      plans.insert(plans.end(), {segment.diff, segment.due_delete, segment.due_insert});
    }
    for (SPIPlanPtr plan : plans) {
      if (plan == nullptr) continue;
      try {
        pg_guard([&] { SPI_freeplan(plan); });
      } catch (...) {
        // Freeing a saved plan does not fail; a callback must not throw in any case.
      }
    }
  }
  s.retired_objects.clear();
  try {
    for (auto& table : s.retired_tables) {
      free_plans(*table);
      for (auto& test : table->tests) test->release();
    }
  } catch (...) {
    // Freeing saved plans does not fail; a callback must not throw in any case.
  }
  s.retired_tables.clear();
}

// The owner of the segment catalog (the extension's tables): the role that reads definitions
// and compiles them for triggers, whoever writes.
Oid catalog_owner() {
  Oid catalog =
      pg_guard([] { return get_relname_relid("segment", get_namespace_oid("segments", false)); });
  return relation_owner(catalog);
}

// Runs a catalog query as the catalog's owner, returning the rows' columns as text.
std::vector<std::vector<std::string>> catalog_rows(const char* query, Oid argument) {
  return text_rows(query, OIDOID, ObjectIdGetDatum(argument), catalog_owner());
}

// The entry of relid in map, after pending invalidations; a stale one is retired (freed at the
// end of the transaction: a caller up the stack may still use it) and load() builds a new one.
template <typename Entry, typename Load>
Entry& cached(std::unordered_map<Oid, std::unique_ptr<Entry>>& map,
              std::vector<std::unique_ptr<Entry>>& retired, Oid relid, Load&& load) {
  auto found = map.find(relid);
  if (found != map.end() && !found->second->stale) return *found->second;
  pg_guard([] { AcceptInvalidationMessages(); });
  found = map.find(relid);
  if (found != map.end() && !found->second->stale) return *found->second;
  if (found != map.end()) {
    retired.push_back(std::move(found->second));
    map.erase(found);
  }
  std::unique_ptr<Entry> entry = load_current<Entry>(
      load, [&](std::unique_ptr<Entry> replaced) { retired.push_back(std::move(replaced)); });
  return *map.emplace(relid, std::move(entry)).first->second;
}

std::unique_ptr<ObjectRelated> load_object_related(Oid relid) {
  auto object = std::make_unique<ObjectRelated>();
  const Oid owner = catalog_owner();
  for (const auto& row :
       catalog_rows("SELECT s.id, s.filter::pg_catalog.text, segments._is_time_relative(s.filter) "
                    "  FROM segments.segment s "
                    " WHERE s.object OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
                    "   AND s.kind OPERATOR(pg_catalog.=) 'realtime' AND s.active "
                    "   AND s.filter IS NOT NULL AND segments._is_related(s.filter, s.object) "
                    " ORDER BY segments._segment_level(s.filter), s.id",
                    relid)) {
    std::unique_ptr<CompiledFilter> compiled;
    try {
      compiled = as_role(owner, [&] { return compile_filter(relid, row[1]); });
    } catch (const Error& e) {
      // As for the object's own realtime segments: a definition that no longer compiles must
      // not make writes fail; it is skipped with a warning.
      std::string message = e.what();
      pg_guard([&] {
        ereport(WARNING, (errmsg("pg_segments: realtime segment %s skipped: %s", row[0].c_str(),
                                 message.c_str())));
      });
      continue;
    }
    object->segments.push_back(std::stoll(row[0]));
    SegmentPlans plans;
    plans.timed = !compiled->program->time_bounds().empty() || row[2] == "t";
    object->compiled.push_back(std::move(compiled));
    object->plans.push_back(plans);
  }
  return object;
}

ObjectRelated& object_related(Oid relid) {
  State& s = state();
  return cached(s.objects, s.retired_objects, relid, [&] { return load_object_related(relid); });
}

// The row test of a segment over the table relid, or nullptr when some aggregate over the
// table has no condition (every row counts).
// Compiles the conditions of test's segment over the table relid; false when the segment must
// see every row (see RowTest).
bool build_row_test(RowTest& test, Oid relid) {
  const CompiledFilter& compiled = *test.compiled;
  std::vector<const Node*> conditions;
  const RelationSchema* table = nullptr;
  std::vector<const Node*> pending{compiled.ast.get()};
  bool every_row = false;
  while (!pending.empty()) {
    const Node* node = pending.back();
    pending.pop_back();
    if (!node->is_predicate()) {
      for (const auto& child : node->children) pending.push_back(child.get());
      continue;
    }
    if (node->kind == NodeKind::kInSegment) continue;
    const Binding& binding = compiled.bound->binding(*node);
    if (binding.aggregate == nullptr || binding.path.size() != 1) continue;
    const auto* target = static_cast<const RelationSchema*>(binding.path[0]->target);
    if (target->relid() != relid) continue;
    table = target;
    if (!binding.aggregate->condition) {
      every_row = true;
      break;
    }
    conditions.push_back(binding.aggregate->condition.get());
  }
  // A condition with relative time can become true later with no write (an order placed in the
  // future enters WITHIN NEXT ...): rows that fail it now still need their recheck times.
  // So can a condition that reads other rows (its answer is not the row's alone).
  bool timed = false;
  for (const Node* condition : conditions) {
    for_each_predicate(*condition, [&](const Node& predicate) {
      timed = timed || predicate.kind == NodeKind::kRelTime ||
              compiled.bound->binding(predicate).related();
    });
  }
  if (every_row || timed || table == nullptr || conditions.empty()) return false;
  MemoryContext memory = pg_guard([&] {
    return AllocSetContextCreate(compiled.memory, "pg_segments related row test",
                                 ALLOCSET_SMALL_SIZES);
  });
  test.host = std::make_unique<PgHost>(*table, memory);
  for (const Node* condition : conditions) {
    test.programs.push_back(compile_program(*condition, *compiled.bound, *table, *test.host));
    test.evaluators.push_back(std::make_unique<RowEvaluator>(*test.programs.back(), *table));
  }
  return true;
}

std::unique_ptr<RowTest> row_test(Oid object, std::int64_t segment, const std::string& canonical,
                                  Oid relid) {
  auto test = std::make_unique<RowTest>();
  test->segment = segment;
  test->compiled = as_role(catalog_owner(), [&] { return compile_filter(object, canonical); });
  bool usable = false;
  try {
    usable = build_row_test(*test, relid);
  } catch (...) {
    test->release();  // the compiled filter's memory goes with the filter cache's retirement
    throw;
  }
  if (!usable) {
    test->release();
    return nullptr;
  }
  return test;
}

// The object's key column in a compiled filter's schema.
const Column* key_column(const ObjectInfo& info, const CompiledFilter& compiled) {
  for (const std::string& name : compiled.schema->column_names()) {
    const Column* column = compiled.schema->find_column(name);
    if (column != nullptr && column->index == info.key_attnum) return column;
  }
  return nullptr;
}

// A transaction that links an object row to a row of this table through rows it writes (a new
// order of an existing customer, for orders -> customers -> organizations) holds a KEY SHARE
// lock (its foreign key check) on the row its written row references, not on this table's row.
// An UPDATE here therefore also locks FOR UPDATE, at every depth entered through a many-to-one
// step, the rows that reach the changed row: it waits for such a transaction, and its reverse
// look-up (latest snapshot) then finds the new object rows. Depth 0 is the object (the writer
// of an object row locks it itself), and the changed row is locked by related_row_updating.
void add_reaching_locks(TableRelated& table, const RelationshipPath& path, Oid writer) {
  const auto* target = static_cast<const RelationSchema*>(path.back()->target);
  // Deepest first: an UPDATE of a row at a shallower depth holds that row before its own trigger
  // locks the rows nearer the object, so every transaction takes these locks outside in.
  for (std::size_t stop = path.size() - 1; stop >= 1; --stop) {
    if (path[stop - 1]->to_many) continue;
    TableRelated::ReachingLock lock;
    lock.sql = reaching_rows_lock_sql(path, stop, PgDialect());
    lock.writer = writer;
    bool known = false;
    for (const TableRelated::ReachingLock& other : table.reaching_locks) {
      if (other.sql == lock.sql && other.writer == writer) known = true;
    }
    if (known) continue;
    for (const Column* column : path.back()->target_columns) {
      lock.columns.push_back(static_cast<AttrNumber>(column->index));
      lock.types.push_back(target->pg_column(*column).type);
    }
    table.reaching_locks.push_back(std::move(lock));
  }
}

std::unique_ptr<TableRelated> load_table_related(Oid relid) {
  auto table = std::make_unique<TableRelated>();
  for (const auto& row :
       catalog_rows("SELECT r.object::pg_catalog.oid FROM segments.related_source r "
                    " WHERE r.related OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
                    relid)) {
    const Oid object = static_cast<Oid>(std::stoul(row[0]));
    const ObjectInfo info = object_info(object);
    if (!info.registered) continue;
    table->objects.push_back(object);
    ObjectRelated& related = object_related(object);
    if (info.membership == relid) {
      table->every_column = true;
      Reverse reverse;
      reverse.object = object;
      reverse.member_column = true;
      for (std::size_t i = 0; i < related.compiled.size(); ++i) {
        const CompiledFilter& compiled = *related.compiled[i];
        if (related_reads(*compiled.ast, *compiled.bound).segments) {
          reverse.segments.push_back(related.segments[i]);
          for (std::int64_t read : compiled.bound->segments()) {
            if (std::find(reverse.read_segments.begin(), reverse.read_segments.end(), read) ==
                reverse.read_segments.end()) {
              reverse.read_segments.push_back(read);
            }
          }
        }
      }
      table->reverses.push_back(std::move(reverse));
      continue;
    }
    for (std::size_t i = 0; i < related.compiled.size(); ++i) {
      const CompiledFilter& compiled = *related.compiled[i];
      const std::int64_t segment = related.segments[i];
      const Column* key = key_column(info, compiled);
      if (key == nullptr) continue;
      const RelatedReads reads = related_reads(*compiled.ast, *compiled.bound);
      for (const auto& [schema, column] : reads.columns) {
        if (static_cast<const RelationSchema*>(schema)->relid() == relid) {
          table->read_columns.push_back(static_cast<AttrNumber>(column->index));
        }
      }
      bool reads_table = false;
      bool only_aggregated = true;  // the table appears only as the first step, one-to-many
      for (const RelationshipPath& path : reads.paths) {
        for (std::size_t depth = 1; depth <= path.size(); ++depth) {
          const Relationship& step = *path[depth - 1];
          const auto* target = static_cast<const RelationSchema*>(step.target);
          if (target->relid() != relid) continue;
          reads_table = true;
          only_aggregated = only_aggregated && depth == 1 && step.to_many;
          RelationshipPath prefix(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(depth));
          add_reaching_locks(*table, prefix, info.writer);
          const std::string sql = reverse_key_sql(prefix, info.object_sql, *key, PgDialect());
          Reverse* existing = nullptr;
          for (Reverse& other : table->reverses) {
            if (other.object == object && other.sql == sql) existing = &other;
          }
          if (existing != nullptr) {
            if (std::find(existing->segments.begin(), existing->segments.end(), segment) ==
                existing->segments.end()) {
              existing->segments.push_back(segment);
            }
            continue;
          }
          Reverse reverse;
          reverse.object = object;
          reverse.sql = sql;
          reverse.segments.push_back(segment);
          // A child row whose foreign key is the object's key names the object row itself.
          if (depth == 1 && step.local_columns.size() == 1 && step.local_columns[0] == key) {
            reverse.direct = static_cast<AttrNumber>(step.target_columns[0]->index);
            reverse.direct_type = target->pg_column(*step.target_columns[0]).type;
          }
          for (const Column* column : step.target_columns) {
            reverse.columns.push_back(static_cast<AttrNumber>(column->index));
            reverse.types.push_back(target->pg_column(*column).type);
          }
          table->reverses.push_back(std::move(reverse));
        }
      }
      if (reads_table && !only_aggregated) table->referenced = true;
      if (reads_table && only_aggregated) {
        std::unique_ptr<RowTest> test = row_test(object, segment, compiled.canonical, relid);
        if (test) table->tests.push_back(std::move(test));
      }
    }
  }
  std::sort(table->read_columns.begin(), table->read_columns.end());
  table->read_columns.erase(std::unique(table->read_columns.begin(), table->read_columns.end()),
                            table->read_columns.end());
  return table;
}

// Whether an UPDATE changed a column the segments read or join on; one that did not cannot
// change any answer and is not followed (no lock, no look-up).
bool update_matters(const TableRelated& table, Relation relation, HeapTuple old_tuple,
                    HeapTuple new_tuple) {
  if (table.every_column) return true;
  TupleDesc desc = RelationGetDescr(relation);
  const std::vector<AttrNumber>& columns = table.read_columns;
  // Byte comparison: an unchanged value keeps its bytes (a toasted one its pointer); a value set
  // again to an equal one may compare as changed, which only costs a look-up.
  return pg_guard([&] {
    for (AttrNumber attnum : columns) {
      if (attnum < 1 || attnum > desc->natts) return true;  // not understood: followed
      Form_pg_attribute attr = TupleDescAttr(desc, attnum - 1);
      bool old_null = false;
      bool new_null = false;
      Datum old_value = heap_getattr(old_tuple, attnum, desc, &old_null);
      Datum new_value = heap_getattr(new_tuple, attnum, desc, &new_null);
      if (old_null != new_null) return true;
      if (!old_null && !datumIsEqual(old_value, new_value, attr->attbyval, attr->attlen)) {
        return true;
      }
    }
    return false;
  });
}

TableRelated& table_related(Oid relid) {
  State& s = state();
  return cached(s.tables, s.retired_tables, relid, [&] { return load_table_related(relid); });
}

std::string key_text(Oid type, Datum key) {
  char* text = pg_guard([&] {
    Oid output;
    bool varlena;
    getTypeOutputInfo(type, &output, &varlena);
    return OidOutputFunctionCall(output, key);
  });
  return std::string(text);
}

void mark(Oid object, std::string key) {
  state().marks[object].push_back(std::move(key));
}

// Whether a changed row of the table can change segment's answer (see RowTest).
bool row_matters(TableRelated& table, std::int64_t segment, HeapTuple tuple, TupleDesc desc) {
  for (const auto& test : table.tests) {
    if (test->segment != segment) continue;
    for (const auto& evaluator : test->evaluators) {
      if (evaluator->eval(tuple, desc) == Tri::kTrue) return true;
    }
    return false;
  }
  return true;
}

// The object keys reverse finds for a changed row, marked.
void mark_reverse(TableRelated& table, Reverse& reverse, Relation relation, HeapTuple tuple) {
  const ObjectInfo info = object_info(reverse.object);
  if (!info.registered) return;
  TupleDesc desc = RelationGetDescr(relation);
  // A row that can affect none of the segments reading this way needs no look-up.
  const bool affects =
      reverse.member_column ||
      std::any_of(reverse.segments.begin(), reverse.segments.end(),
                  [&](std::int64_t segment) { return row_matters(table, segment, tuple, desc); });
  if (!affects) return;
  auto mark_key = [&](const std::string& key) { mark(reverse.object, key); };
  if (reverse.member_column) {
    // Only the membership of segments that IN SEGMENT reads changes an answer.
    bool isnull;
    Datum segment = pg_guard([&] { return heap_getattr(tuple, 1, desc, &isnull); });
    if (isnull || std::find(reverse.read_segments.begin(), reverse.read_segments.end(),
                            DatumGetInt64(segment)) == reverse.read_segments.end()) {
      return;
    }
    Datum member = pg_guard([&] { return heap_getattr(tuple, 2, desc, &isnull); });
    if (!isnull) mark_key(key_text(info.key_type, member));
    return;
  }
  if (reverse.direct != InvalidAttrNumber) {
    bool isnull;
    Datum value = pg_guard([&] { return heap_getattr(tuple, reverse.direct, desc, &isnull); });
    if (!isnull) mark_key(key_text(reverse.direct_type, value));
    return;
  }
  const int count = static_cast<int>(reverse.columns.size());
  std::vector<Datum> values(reverse.columns.size());
  for (int i = 0; i < count; ++i) {
    bool isnull;
    values[static_cast<std::size_t>(i)] = pg_guard([&] {
      return heap_getattr(tuple, reverse.columns[static_cast<std::size_t>(i)], desc, &isnull);
    });
    if (isnull) return;  // a NULL foreign key reaches no row
  }
  struct Keys {
    int count;
    char** texts;
  };
  Keys keys = as_role(info.writer, [&] {
    return pg_guard([&] {
      MemoryContext caller = CurrentMemoryContext;
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
      if (reverse.plan == nullptr) {
        SPIPlanPtr plan = SPI_prepare(reverse.sql.c_str(), count, reverse.types.data());
        if (plan == nullptr) elog(ERROR, "pg_segments: preparing a related lookup failed");
        SPI_keepplan(plan);
        reverse.plan = plan;
      }
      // The latest snapshot: an object row committed while this statement waited for a lock
      // (see related_row_updating) must be found.
      PushActiveSnapshot(GetLatestSnapshot());
      const int rc = SPI_execute_plan(reverse.plan, values.data(), nullptr, true, 0);
      PopActiveSnapshot();
      if (rc != SPI_OK_SELECT) elog(ERROR, "pg_segments: a related lookup failed");
      Keys k{static_cast<int>(SPI_processed), nullptr};
      k.texts = static_cast<char**>(MemoryContextAllocZero(caller, sizeof(char*) * (k.count + 1)));
      for (int i = 0; i < k.count; ++i) {
        char* value = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
        if (value != nullptr) k.texts[i] = MemoryContextStrdup(caller, value);
      }
      SPI_finish();
      return k;
    });
  });
  for (int i = 0; i < keys.count; ++i) {
    if (keys.texts[i] != nullptr) mark_key(keys.texts[i]);
  }
}

// Recomputes one segment whole (segments._recompute_whole) as the object's membership writer.
void recompute_whole(const ObjectInfo& info, std::int64_t segment) {
  as_role(info.writer, [&] {
    pg_guard([&] {
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
      Oid types[1] = {INT8OID};
      Datum values[1] = {Int64GetDatum(segment)};
      if (SPI_execute_with_args("SELECT segments._recompute_whole($1)", 1, types, values, nullptr,
                                false, 0) != SPI_OK_SELECT) {
        elog(ERROR, "pg_segments: recomputing a related segment failed");
      }
      SPI_finish();
    });
    return 0;
  });
}

// The keys parameter ($1, text[]) as the object's key type.
std::string keys_parameter(const ObjectInfo& info) {
  const std::string key_type =
      pg_guard([&] { return std::string(format_type_be_qualified(info.key_type)); });
  return "$1::pg_catalog.text[]::" + key_type + "[]";
}

// A saved statement with a generic plan; by default its one parameter is the keys ($1, text[]).
SPIPlanPtr prepare_kept(const std::string& sql, int count = 1, const Oid* types = nullptr) {
  return pg_guard([&] {
    Oid keys[1] = {TEXTARRAYOID};
    SPIPlanPtr plan =
        SPI_prepare_cursor(sql.c_str(), count, const_cast<Oid*>(types != nullptr ? types : keys),
                           CURSOR_OPT_GENERIC_PLAN);
    if (plan == nullptr) elog(ERROR, "pg_segments: preparing a related recompute failed");
    SPI_keepplan(plan);
    return plan;
  });
}

// Locks the object rows of the keys in key order (FOR NO KEY UPDATE), so that transactions
// recomputing the same rows take turns. Inside an SPI connection.
void lock_keys(const ObjectInfo& info, ObjectRelated& object, Datum* keys) {
  if (object.lock == nullptr) {
    const std::string& key = info.key_column_sql;
    object.lock = prepare_kept("SELECT FROM " + info.object_sql + " AS o WHERE o." + key + " " +
                               info.key_equals + " ANY (" + keys_parameter(info) + ") ORDER BY o." +
                               key + " FOR NO KEY UPDATE OF o");
  }
  pg_guard([&] {
    if (SPI_execute_plan(object.lock, keys, nullptr, false, 0) != SPI_OK_SELECT) {
      elog(ERROR, "pg_segments: locking rows for a related recompute failed");
    }
  });
}

// The statement that writes the difference between a segment's truth and its stored membership
// for some keys, with the change feed, and returns the number of changes.
SPIPlanPtr prepare_diff(const ObjectInfo& info, CompiledFilter& compiled, std::int64_t segment) {
  const std::string keys = keys_parameter(info);
  const std::string id = std::to_string(segment);
  const std::string& key = info.key_column_sql;
  const std::string& equals = info.key_equals;
  return prepare_kept(
      "WITH target AS (SELECT o." + key + " AS member FROM " + info.object_sql + " AS o WHERE o." +
      key + " " + equals + " ANY (" + keys + ") AND (" + compiled.where_sql() +
      ")), held AS (SELECT m.member FROM " + info.membership_sql +
      " AS m WHERE m.segment_id OPERATOR(pg_catalog.=) " + id + " AND m.member " + equals +
      " ANY (" + keys + ")), removed AS (DELETE FROM " + info.membership_sql +
      " AS m WHERE m.segment_id OPERATOR(pg_catalog.=) " + id +
      " AND m.member IN (SELECT h.member FROM held h WHERE NOT EXISTS (SELECT FROM target t "
      "WHERE t.member " +
      equals + " h.member)) RETURNING m.member), added AS (INSERT INTO " + info.membership_sql +
      " (segment_id, member) SELECT " + id +
      ", t.member FROM target t WHERE NOT EXISTS (SELECT FROM held h WHERE h.member " + equals +
      " t.member) ON CONFLICT DO NOTHING RETURNING member), feed AS (INSERT INTO "
      "segments.changes (segment_id, member, change) SELECT " +
      id + ", removed.member::pg_catalog.text, 'exited' FROM removed UNION ALL SELECT " + id +
      ", added.member::pg_catalog.text, 'entered' FROM added) SELECT (SELECT pg_catalog.count(*) "
      "FROM added) OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM removed)");
}

// The statement recording the recheck times of the segment at index for some keys (keys_expr;
// empty: every row), after those keys' old times are deleted.
std::string due_insert_sql(const ObjectInfo& info, ObjectRelated& object, std::size_t index,
                           const std::string& keys_expr) {
  const CompiledFilter& compiled = *object.compiled[index];
  const Column* key = key_column(info, compiled);
  if (key == nullptr) return {};
  return "INSERT INTO segments.related_rechecks AS r (segment_id, member, due_at) SELECT " +
         std::to_string(object.segments[index]) + ", d.member::pg_catalog.text, d.due_at FROM (" +
         due_times_sql(*compiled.ast, *compiled.bound, info.object_sql, *key, keys_expr,
                       PgDialect(), info.key_equals) +
         ") AS d ON CONFLICT (segment_id, member) DO UPDATE SET due_at = EXCLUDED.due_at";
}

// Records when the answers of some keys may next change as time passes, for a segment with
// relative time (segments.refresh_due() rechecks them then). Inside an SPI connection.
void update_due(const ObjectInfo& info, ObjectRelated& object, std::size_t index, Datum* keys) {
  SegmentPlans& plans = object.plans[index];
  if (!plans.timed) return;
  if (plans.due_insert == nullptr) {
    const std::string insert = due_insert_sql(info, object, index, keys_parameter(info));
    if (insert.empty()) return;
    plans.due_delete = prepare_kept(
        "DELETE FROM segments.related_rechecks r WHERE r.segment_id OPERATOR(pg_catalog.=) " +
        std::to_string(object.segments[index]) + " AND r.member OPERATOR(pg_catalog.=) ANY ($1)");
    plans.due_insert = prepare_kept(insert);
  }
  pg_guard([&] {
    if (SPI_execute_plan(plans.due_delete, keys, nullptr, false, 0) != SPI_OK_DELETE ||
        SPI_execute_plan(plans.due_insert, keys, nullptr, false, 0) != SPI_OK_INSERT) {
      elog(ERROR, "pg_segments: recording recheck times failed");
    }
  });
}

// The statement reading, for some keys ($1), whether each object row exists, its answer to
// every segment (an array in the order of object.segments) and the segments among them that
// hold it now. Aggregates that several segments read (orders.count(status = 'paid') >= 3 and
// >= 5) are computed once per row, and all aggregates over one relationship in one pass over
// its rows. One row per key and no join with the segments: the executor does little besides
// the reads themselves.
SPIPlanPtr prepare_answers(const ObjectInfo& info, ObjectRelated& object) {
  if (object.segments.empty()) {
    pg_guard([] { elog(ERROR, "pg_segments: no related segment to recompute"); });
  }
  const std::string keys = keys_parameter(info);
  const std::string& key = info.key_column_sql;
  const std::string& equals = info.key_equals;
  SqlOptions::SharedAggregates shared;
  std::string answers;
  std::string ids;
  for (std::size_t i = 0; i < object.segments.size(); ++i) {
    SqlOptions options;
    options.shared_aggregates = &shared;
    options.row_alias = "o";  // never resolved against seg_k's or seg_aG's columns
    const CompiledFilter& compiled = *object.compiled[i];
    answers += std::string(i > 0 ? ", " : "") + "(" +
               compile_sql(*compiled.ast, *compiled.bound, PgDialect(), options) + ")";
    ids += std::string(i > 0 ? "," : "") + std::to_string(object.segments[i]);
  }
  // The member as the object row holds it: a key marked through a foreign key of another type
  // may print differently and still be equal.
  return prepare_kept("SELECT COALESCE(o." + key + ", seg_k.seg_key), o." + key +
                      " IS NOT NULL, ARRAY[" + answers +
                      "]::pg_catalog.bool[], ARRAY(SELECT m.segment_id FROM " +
                      info.membership_sql + " AS m WHERE m.member " + equals +
                      " seg_k.seg_key AND m.segment_id OPERATOR(pg_catalog.=) ANY ('{" + ids +
                      "}'::pg_catalog.int8[])) FROM pg_catalog.unnest(" + keys +
                      ") AS seg_k (seg_key) LEFT JOIN " + info.object_sql + " AS o ON o." + key +
                      " " + equals + " seg_k.seg_key" + shared.lateral_sql());
}

// Membership pairs to write, (segment, member), in palloc'd arrays that grow as pairs come.
struct Pairs {
  Datum* segments;
  Datum* keys;
  int count;
  int capacity;
};

// Appends a pair. PostgreSQL code: call inside pg_guard.
void add_pair(Pairs& pairs, std::int64_t segment, Datum key) {
  if (pairs.count == pairs.capacity) {
    // The arrays handed to SQL hold at most MaxAllocSize / sizeof(Datum) elements.
    if (pairs.capacity >= static_cast<int>(MaxAllocSize / sizeof(Datum) / 2)) {
      elog(ERROR, "pg_segments: a related recompute changed too many memberships at once");
    }
    const int capacity = pairs.capacity == 0 ? 16 : pairs.capacity * 2;
    const std::size_t bytes = sizeof(Datum) * static_cast<std::size_t>(capacity);
    pairs.segments = static_cast<Datum*>(
        pairs.segments == nullptr ? palloc(bytes) : repalloc(pairs.segments, bytes));
    pairs.keys =
        static_cast<Datum*>(pairs.keys == nullptr ? palloc(bytes) : repalloc(pairs.keys, bytes));
    pairs.capacity = capacity;
  }
  pairs.segments[pairs.count] = Int64GetDatum(segment);
  pairs.keys[pairs.count++] = key;
}

// Exits and entries.
struct Flips {
  Pairs exits;
  Pairs entries;
};

// The pairs whose answer differs from stored membership, from the rows of the answers
// statement. PostgreSQL code: call inside pg_guard, with those rows in SPI_tuptable.
Flips read_flips(const std::int64_t* segments, int count) {
  Flips flips{};
  const uint64 rows = SPI_processed;
  TupleDesc desc = SPI_tuptable->tupdesc;
  for (uint64 r = 0; r < rows; ++r) {
    HeapTuple tuple = SPI_tuptable->vals[r];
    bool isnull;
    const Datum key = SPI_getbinval(tuple, desc, 1, &isnull);
    if (isnull) continue;
    const bool present = DatumGetBool(SPI_getbinval(tuple, desc, 2, &isnull)) && !isnull;
    Datum* answers = nullptr;
    bool* answer_nulls = nullptr;
    int answer_count = 0;
    const Datum answer_array = SPI_getbinval(tuple, desc, 3, &isnull);
    if (present && !isnull) {
      deconstruct_array(DatumGetArrayTypeP(answer_array), BOOLOID, 1, true, TYPALIGN_CHAR, &answers,
                        &answer_nulls, &answer_count);
    }
    if (present && answer_count != count) {
      elog(ERROR, "pg_segments: a related recompute read %d answers for %d segments", answer_count,
           count);
    }
    Datum* held = nullptr;
    bool* held_nulls = nullptr;
    int held_count = 0;
    const Datum held_array = SPI_getbinval(tuple, desc, 4, &isnull);
    if (!isnull) {
      deconstruct_array(DatumGetArrayTypeP(held_array), INT8OID, 8, FLOAT8PASSBYVAL,
                        TYPALIGN_DOUBLE, &held, &held_nulls, &held_count);
    }
    for (int i = 0; i < count; ++i) {
      // Only TRUE makes a member; a row that no longer exists is a member of nothing.
      const bool truth = present && !answer_nulls[i] && DatumGetBool(answers[i]);
      bool stored = false;
      for (int h = 0; h < held_count && !stored; ++h) {
        stored = !held_nulls[h] && DatumGetInt64(held[h]) == segments[i];
      }
      if (truth != stored) add_pair(truth ? flips.entries : flips.exits, segments[i], key);
    }
  }
  return flips;
}

// Writes flips, with the change feed and a NOTIFY per segment changed. Inside an SPI
// connection, the flips' keys still valid.
void write_flips(const ObjectInfo& info, ObjectRelated& object, const Flips& flips) {
  const bool exits = flips.exits.count > 0;
  const bool entries = flips.entries.count > 0;
  if (!exits && !entries) return;
  SPIPlanPtr& plan = object.changes[(exits ? 1 : 0) | (entries ? 2 : 0)];
  if (plan == nullptr) {
    const Oid types[4] = {INT8ARRAYOID, info.key_array_type, INT8ARRAYOID, info.key_array_type};
    plan = prepare_kept(membership_changes_sql(info, exits, entries), 4, types);
  }
  pg_guard([&] {
    auto build = [&](Datum* items, int count, bool keys) {
      return PointerGetDatum(
          keys ? construct_array(items, count, info.key_type, info.key_length, info.key_by_value,
                                 info.key_align)
               : construct_array(items, count, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    };
    Datum values[4] = {build(flips.exits.segments, flips.exits.count, false),
                       build(flips.exits.keys, flips.exits.count, true),
                       build(flips.entries.segments, flips.entries.count, false),
                       build(flips.entries.keys, flips.entries.count, true)};
    if (SPI_execute_plan(plan, values, nullptr, false, 0) != SPI_OK_SELECT) {
      elog(ERROR, "pg_segments: writing a related recompute failed");
    }
  });
}

// Recomputes every segment of object for keys: their answers are read in one statement,
// compared with stored membership here, and only the pairs that differ are written. Then their
// recheck times. Inside an SPI connection.
void recompute_all(const ObjectInfo& info, ObjectRelated& object, Datum* keys) {
  if (object.all == nullptr) object.all = prepare_answers(info, object);
  const std::int64_t* segments = object.segments.data();
  const int count = static_cast<int>(object.segments.size());
  const Flips flips = pg_guard([&] {
    if (SPI_execute_plan(object.all, keys, nullptr, false, 0) != SPI_OK_SELECT) {
      elog(ERROR, "pg_segments: a related recompute failed");
    }
    return read_flips(segments, count);
  });
  write_flips(info, object, flips);
  for (std::size_t i = 0; i < object.segments.size(); ++i) update_due(info, object, i, keys);
}

// Recomputes the segment at position index of object for keys. Inside an SPI connection.
void recompute(const ObjectInfo& info, ObjectRelated& object, std::size_t index, Datum* keys) {
  const std::int64_t segment = object.segments[index];
  SegmentPlans& plans = object.plans[index];
  if (plans.diff == nullptr) plans.diff = prepare_diff(info, *object.compiled[index], segment);
  pg_guard([&] {
    if (SPI_execute_plan(plans.diff, keys, nullptr, false, 0) != SPI_OK_SELECT ||
        SPI_processed != 1) {
      elog(ERROR, "pg_segments: a related recompute failed");
    }
    bool isnull;
    int64 changed =
        DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    if (!isnull && changed > 0) {
      Oid types[1] = {TEXTOID};
      char id[32];
      snprintf(id, sizeof(id), "%lld", static_cast<long long>(segment));
      Datum channel[1] = {CStringGetTextDatum(id)};
      if (SPI_execute_with_args("SELECT pg_catalog.pg_notify('segments_changes', $1)", 1, types,
                                channel, nullptr, false, 0) != SPI_OK_SELECT) {
        elog(ERROR, "pg_segments: notifying a membership change failed");
      }
    }
  });
  update_due(info, object, index, keys);
}

// Waits for the transactions still holding a lock on the row version an UPDATE replaced, other
// than this one: a FOR KEY SHARE taken on that version after the UPDATE (allowed: it does not
// conflict with a change of other columns) is meant to reach the new version too, as
// PostgreSQL walks the update chain, but a locker whose walk met a version that another
// transaction created and then rolled back stops there and keeps its lock on the old version
// alone (docs/realtime.md, "Known race"). Its transaction is adding a reference this UPDATE's
// look-up must find. PostgreSQL code: call inside pg_guard.
void wait_for_old_version_lockers(Relation relation, ItemPointer old_tid) {
  HeapTupleData old_version;
  old_version.t_self = *old_tid;
  Buffer buffer = InvalidBuffer;
  if (!heap_fetch(relation, SnapshotAny, &old_version, &buffer, true)) {
    if (BufferIsValid(buffer)) ReleaseBuffer(buffer);
    return;
  }
  LockBuffer(buffer, BUFFER_LOCK_SHARE);
  const uint16 infomask = old_version.t_data->t_infomask;
  const TransactionId xmax = HeapTupleHeaderGetRawXmax(old_version.t_data);
  LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
  ReleaseBuffer(buffer);
  // This UPDATE is the old version's updater; other transactions' locks make it a MultiXact.
  if ((infomask & HEAP_XMAX_INVALID) != 0 || (infomask & HEAP_XMAX_IS_MULTI) == 0) return;
  MultiXactMember* members = nullptr;
  const int count = GetMultiXactIdMembers(xmax, &members, false, false);
  for (int i = 0; i < count; ++i) {
    if (members[i].status > MultiXactStatusForUpdate) continue;  // an update, not a lock
    const TransactionId locker = members[i].xid;
    if (TransactionIdIsCurrentTransactionId(locker) || !TransactionIdIsInProgress(locker)) continue;
    XactLockTableWait(locker, relation, old_tid, XLTW_Lock);
  }
  if (members != nullptr) pfree(members);
}

// An UPDATE of a row that object rows may reference through many-to-one keys, before its
// versions are marked: waits for transactions adding references.
void lock_for_update(TableRelated& table, Relation relation, HeapTuple old_tuple,
                     HeapTuple new_tuple) {
  if (!table.referenced) return;
  // A transaction that is adding an object row referencing this row holds a KEY SHARE lock on
  // it (its foreign key check) and will recompute that object row with the row as it saw it.
  // FOR UPDATE waits for it to end, so that the reverse look-up (latest snapshot) finds its
  // object row and recomputes it with this change.
  // The statement text is built before any PostgreSQL call that may raise an error.
  std::string sql;
  if (table.lock == nullptr) {
    const char* name = pg_guard([&] {
      return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(relation)),
                                        RelationGetRelationName(relation));
    });
    sql = std::string("SELECT 1 FROM ONLY ") + name +
          " WHERE ctid OPERATOR(pg_catalog.=) $1 FOR UPDATE";
  }
  as_role(relation->rd_rel->relowner, [&] {
    return pg_guard([&] {
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
      if (table.lock == nullptr) {
        Oid types[1] = {TIDOID};
        SPIPlanPtr plan = SPI_prepare(sql.c_str(), 1, types);
        if (plan == nullptr) elog(ERROR, "pg_segments: preparing a row lock failed");
        SPI_keepplan(plan);
        table.lock = plan;
      }
      Datum values[1] = {PointerGetDatum(&new_tuple->t_self)};
      if (SPI_execute_plan(table.lock, values, nullptr, false, 0) != SPI_OK_SELECT) {
        elog(ERROR, "pg_segments: locking a referenced row failed");
      }
      SPI_finish();
      return 0;
    });
  });
  pg_guard([&] { wait_for_old_version_lockers(relation, &old_tuple->t_self); });
  // Then the rows that reach it through many-to-one steps (see add_reaching_locks), by its old
  // key and, if the UPDATE changed it, its new one, as the membership writer of the object whose
  // segments read them: the role that reads these tables (the extension's owner, who may also
  // lock them).
  for (TableRelated::ReachingLock& lock : table.reaching_locks) {
    as_role(lock.writer, [&] {
      return pg_guard([&] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
        TupleDesc desc = RelationGetDescr(relation);
        const int count = static_cast<int>(lock.columns.size());
        Datum* old_keys = static_cast<Datum*>(palloc(sizeof(Datum) * (count + 1)));
        Datum* new_keys = static_cast<Datum*>(palloc(sizeof(Datum) * (count + 1)));
        bool old_null = false;
        bool new_null = false;
        bool same = true;
        for (int i = 0; i < count; ++i) {
          const AttrNumber attnum = lock.columns[static_cast<std::size_t>(i)];
          Form_pg_attribute attr = TupleDescAttr(desc, attnum - 1);
          bool was_null = false;
          bool is_null = false;
          old_keys[i] = heap_getattr(old_tuple, attnum, desc, &was_null);
          new_keys[i] = heap_getattr(new_tuple, attnum, desc, &is_null);
          old_null = old_null || was_null;
          new_null = new_null || is_null;
          if (was_null != is_null ||
              (!is_null && !datumIsEqual(old_keys[i], new_keys[i], attr->attbyval, attr->attlen))) {
            same = false;
          }
        }
        if (lock.plan == nullptr) {
          SPIPlanPtr plan = SPI_prepare(lock.sql.c_str(), count, lock.types.data());
          if (plan == nullptr) elog(ERROR, "pg_segments: preparing a row lock failed");
          SPI_keepplan(plan);
          lock.plan = plan;
        }
        // No row references a null key.
        if (!old_null &&
            SPI_execute_plan(lock.plan, old_keys, nullptr, false, 0) != SPI_OK_SELECT) {
          elog(ERROR, "pg_segments: locking rows that reach a referenced row failed");
        }
        if (!same && !new_null &&
            SPI_execute_plan(lock.plan, new_keys, nullptr, false, 0) != SPI_OK_SELECT) {
          elog(ERROR, "pg_segments: locking rows that reach a referenced row failed");
        }
        SPI_finish();
        return 0;
      });
    });
  }
}

void mark_row(Relation relation, HeapTuple tuple) {
  TableRelated& table = table_related(RelationGetRelid(relation));
  for (Reverse& reverse : table.reverses) mark_reverse(table, reverse, relation, tuple);
}

void sort_unique(std::vector<std::string>& keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}

}  // namespace

void related_mark_object_row(Oid relid, Oid key_type, Datum key) {
  if (object_related(relid).segments.empty()) return;
  mark(relid, key_text(key_type, key));
}

void related_row_event(Relation relation, HeapTuple tuple, HeapTuple new_tuple) {
  if (new_tuple != nullptr) {
    TableRelated& table = table_related(RelationGetRelid(relation));
    if (!update_matters(table, relation, tuple, new_tuple)) return;
    lock_for_update(table, relation, tuple, new_tuple);
  }
  // Looked up again: waiting for a lock reads pending invalidations, which may have replaced
  // the entry.
  mark_row(relation, tuple);
  if (new_tuple != nullptr) mark_row(relation, new_tuple);
}

void related_hold(Oid relid) {
  SubTransactionId current = pg_guard([] { return GetCurrentSubTransactionId(); });
  state().holds.emplace(relid, current);
}

void related_release(Oid relid) {
  state().holds.erase(relid);
  related_flush(relid);
}

void related_flush(Oid relid) {
  State& s = state();
  if (s.holds.count(relid) != 0) return;  // flushed by related_release
  auto found = s.marks.find(relid);
  if (found == s.marks.end() || found->second.empty()) return;
  std::vector<std::string> every;  // every key marked, for any segment
  every.swap(found->second);
  // The lock a writer of the object holds: definition changes (SHARE ROW EXCLUSIVE) wait for
  // this transaction, and one that committed while this transaction did not hold it yet is
  // seen now (taking the lock reads pending invalidations), so the definitions below are the
  // current ones. A writer of a related table would otherwise recompute with the definitions
  // its session loaded before the change.
  pg_guard([&] { LockRelationOid(relid, RowExclusiveLock); });
  const ObjectInfo info = object_info(relid);
  if (!info.registered) return;
  // Held for the whole flush: a nested lookup may replace the cache entry, but a replaced entry
  // lives until the end of the transaction.
  ObjectRelated& object = object_related(relid);
  if (object.segments.empty()) return;
  sort_unique(every);
  // As the membership writer; on an error the statement fails and the transaction's end
  // unwinds SPI's stack.
  as_role(info.writer, [&] {
    pg_guard([] {
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
    });
    Datum keys = text_array(every);
    lock_keys(info, object, &keys);
    // Every segment for every marked key, in one statement (a segment not marked for a key
    // gets its own answer again: correct, and cheaper than one statement per segment).
    recompute_all(info, object, &keys);
    pg_guard([] { SPI_finish(); });
    return 0;
  });
}

void related_flush_all() {
  std::vector<Oid> objects;
  for (const auto& item : state().marks) {
    if (!item.second.empty()) objects.push_back(item.first);
  }
  std::sort(objects.begin(), objects.end());  // one order for every session: fewer deadlocks
  for (Oid object : objects) related_flush(object);
}

std::int64_t related_recheck(Oid relid, std::int64_t segment, Datum keys) {
  pg_guard([&] { LockRelationOid(relid, RowExclusiveLock); });  // see related_flush
  const ObjectInfo info = object_info(relid);
  if (!info.registered) return 0;
  ObjectRelated& object = object_related(relid);
  const auto found = std::find(object.segments.begin(), object.segments.end(), segment);
  if (found == object.segments.end()) return 0;  // gone or inactive: nothing to keep true
  const auto index = static_cast<std::size_t>(found - object.segments.begin());
  const int count = pg_guard([&] {
    return ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(keys)), ARR_DIMS(DatumGetArrayTypeP(keys)));
  });
  // The entry found here stays valid until the end of the transaction even if a later lookup
  // replaces it (replaced entries are retired, not freed), so positions in it stay right.
  as_role(info.writer, [&] {
    pg_guard([] {
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
    });
    Datum array = keys;
    lock_keys(info, object, &array);
    recompute(info, object, index, &array);
    pg_guard([] { SPI_finish(); });
    return 0;
  });
  return count;
}

std::int64_t related_due_all(Oid relid, std::int64_t segment) {
  const ObjectInfo info = object_info(relid);
  if (!info.registered) return 0;
  ObjectRelated& object = object_related(relid);
  const auto found = std::find(object.segments.begin(), object.segments.end(), segment);
  if (found == object.segments.end()) return 0;
  const auto index = static_cast<std::size_t>(found - object.segments.begin());
  if (!object.plans[index].timed) return 0;
  const std::string insert = due_insert_sql(info, object, index, "");
  if (insert.empty()) return 0;
  const std::string remove =
      "DELETE FROM segments.related_rechecks r WHERE r.segment_id OPERATOR(pg_catalog.=) " +
      std::to_string(segment);
  return as_role(info.writer, [&] {
    return pg_guard([&] {
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
      if (SPI_execute(remove.c_str(), false, 0) != SPI_OK_DELETE ||
          SPI_execute(insert.c_str(), false, 0) != SPI_OK_INSERT) {
        elog(ERROR, "pg_segments: recording recheck times failed");
      }
      auto rows = static_cast<std::int64_t>(SPI_processed);
      SPI_finish();
      return rows;
    });
  });
}

void related_truncated(Oid relid) {
  TableRelated& table = table_related(relid);
  std::vector<Oid> objects;
  for (const Reverse& reverse : table.reverses) {
    if (std::find(objects.begin(), objects.end(), reverse.object) == objects.end()) {
      objects.push_back(reverse.object);
    }
  }
  for (Oid object : objects) {
    const ObjectInfo info = object_info(object);
    if (!info.registered) continue;
    const std::vector<std::int64_t> segments = object_related(object).segments;
    for (std::int64_t segment : segments) recompute_whole(info, segment);
  }
}

namespace {

// A definition change that failed inside a savepoint releases its hold (holds taken in the
// aborted subtransaction or below it have its id or a later one).
void on_subtransaction_end(SubXactEvent event, SubTransactionId subid, SubTransactionId, void*) {
  if (event != SUBXACT_EVENT_ABORT_SUB) return;
  auto& holds = state().holds;
  for (auto it = holds.begin(); it != holds.end();) {
    it = it->second >= subid ? holds.erase(it) : std::next(it);
  }
}

}  // namespace

void register_related_callbacks() {
  CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_end, nullptr);
}

}  // namespace pgseg::pg
