// Buffers of membership changes per object, discarded with aborted (sub)transactions, and the
// set-wise statements (prepared once per session) that apply them at the end of a statement.
#include "pg/membership.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <unordered_map>
#include <vector>

#include "pg/boundary.hpp"
#include "pg/spi.hpp"

namespace pgseg::pg {

namespace {

struct PendingKey {
  Datum key;
  SubTransactionId subtransaction;
};

struct PendingMove {
  Datum old_key;
  Datum new_key;
  SubTransactionId subtransaction;
};

struct PendingChange {
  std::int64_t segment;
  Datum key;
  bool entering;
  SubTransactionId subtransaction;
};

struct PendingDue {
  Datum key;
  TimestampTz due;
  bool has_due;
  SubTransactionId subtransaction;
};

struct Pending {
  std::vector<PendingKey> deleted;
  std::vector<PendingMove> moved;
  std::vector<PendingChange> changes;
  std::vector<PendingDue> dues;
  bool empty() const { return deleted.empty() && moved.empty() && changes.empty() && dues.empty(); }
};

// Prepared statements of one object, kept for the session.
struct Plans {
  SPIPlanPtr deleted = nullptr;
  SPIPlanPtr moved_remove = nullptr;
  SPIPlanPtr moved_add = nullptr;
  SPIPlanPtr changes = nullptr;
  SPIPlanPtr dues = nullptr;
  SPIPlanPtr dues_rechecked = nullptr;  // the same, for rechecks: every stored time is replaced
  SPIPlanPtr truncate = nullptr;
  // Netted flushes, one statement per shape (which of exits, entries and recheck times there
  // are, and whether it is a recheck), so that a flush starts only the parts it needs.
  SPIPlanPtr netted[16] = {};
};

struct CachedObject {
  ObjectInfo info;
  Plans plans;
  bool stale = false;
};

struct State {
  std::unordered_map<Oid, std::unique_ptr<CachedObject>> objects;
  // Entries replaced after an invalidation, kept (with their plans) until the transaction ends:
  // an outer frame may still hold one, or be executing one of its plans (a flush whose
  // statement fires triggers that look the object up again).
  std::vector<std::unique_ptr<CachedObject>> retired;
  std::unordered_map<Oid, Pending> pending;
  MemoryContext pending_memory = nullptr;  // child of TopTransactionContext
};

State& state() {
  static State* instance = new State();
  return *instance;
}

// Relcache callbacks may run at any invalidation point: only mark, never free.
void on_relcache_invalidation(Datum, Oid relid) {
  for (auto& item : state().objects) {
    if (relid == InvalidOid || item.first == relid) item.second->stale = true;
  }
}

void free_plans(Plans& plans);

void on_transaction_end(XactEvent event, void*) {
  if (!ends_transaction(event)) return;
  State& s = state();
  s.pending.clear();
  s.pending_memory = nullptr;  // freed with TopTransactionContext
  try {
    for (auto& object : s.retired) free_plans(object->plans);
  } catch (...) {
    // Freeing a saved plan does not fail; a callback must not throw in any case.
  }
  s.retired.clear();
}

template <typename Item>
void discard_from(std::vector<Item>& items, SubTransactionId subtransaction) {
  while (!items.empty() && items.back().subtransaction >= subtransaction) items.pop_back();
}

// Changes buffered inside an aborted subtransaction never happened.
void on_subtransaction_event(SubXactEvent event, SubTransactionId subtransaction, SubTransactionId,
                             void*) {
  if (event != SUBXACT_EVENT_ABORT_SUB) return;
  for (auto& item : state().pending) {
    discard_from(item.second.deleted, subtransaction);
    discard_from(item.second.moved, subtransaction);
    discard_from(item.second.changes, subtransaction);
    discard_from(item.second.dues, subtransaction);
  }
}

// Copies a key into transaction memory so it outlives the trigger call.
Datum keep_key(const ObjectInfo& info, Datum key) {
  State& s = state();
  return pg_guard([&] {
    if (s.pending_memory == nullptr) {
      s.pending_memory = AllocSetContextCreate(
          TopTransactionContext, "pg_segments pending membership changes", ALLOCSET_DEFAULT_SIZES);
    }
    MemoryContext old = MemoryContextSwitchTo(s.pending_memory);
    Datum copy = datumCopy(key, info.key_by_value, info.key_length);
    MemoryContextSwitchTo(old);
    return copy;
  });
}

ObjectInfo load_object_info(Oid relid) {
  ObjectInfo info;
  info.relid = relid;
  struct Raw {
    bool found;
    Oid membership;
    Oid rechecks;
    char* key_column;
    Oid key_type;
  };
  // The registry is read as its owner: writers of an object have no grant on it.
  Oid registry =
      pg_guard([] { return get_relname_relid("object", get_namespace_oid("segments", false)); });
  if (!OidIsValid(registry)) return info;
  Raw raw = as_role(relation_owner(registry), [&] {
    return pg_guard([&] {
      Raw r{false, InvalidOid, InvalidOid, nullptr, InvalidOid};
      MemoryContext caller = CurrentMemoryContext;
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
      Oid types[1] = {OIDOID};
      Datum values[1] = {ObjectIdGetDatum(relid)};
      int rc = execute_catalog_query(
          "SELECT membership::oid, rechecks::oid, key_column::text, key_type::oid "
          "FROM segments.object WHERE object::oid = $1",
          1, types, values, 1);
      if (rc == SPI_OK_SELECT && SPI_processed == 1) {
        bool isnull;
        HeapTuple row = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        r.found = true;
        r.membership = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
        r.rechecks = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
        r.key_column = MemoryContextStrdup(caller, SPI_getvalue(row, desc, 3));
        r.key_type = DatumGetObjectId(SPI_getbinval(row, desc, 4, &isnull));
      }
      SPI_finish();
      return r;
    });
  });
  if (!raw.found) return info;
  info.registered = true;
  info.membership = raw.membership;
  info.key_type = raw.key_type;
  struct Names {
    char* membership_sql;
    char* rechecks_sql;
    char* object_sql;
    char* key_column_sql;
    char* equals_schema;
    Oid array_type;
    AttrNumber attnum;
  };
  Names names = pg_guard([&] {
    Names n{};
    auto qualified = [](Oid rel) {
      return quote_qualified_identifier(get_namespace_name(get_rel_namespace(rel)),
                                        get_rel_name(rel));
    };
    n.membership_sql = qualified(raw.membership);
    n.rechecks_sql = qualified(raw.rechecks);
    n.object_sql = qualified(relid);
    n.key_column_sql = pstrdup(quote_identifier(raw.key_column));
    TypeCacheEntry* entry = lookup_type_cache(raw.key_type, TYPECACHE_EQ_OPR);
    if (!OidIsValid(entry->eq_opr)) elog(ERROR, "pg_segments: key type has no equality operator");
    HeapTuple op = SearchSysCache1(OPEROID, ObjectIdGetDatum(entry->eq_opr));
    Form_pg_operator form = reinterpret_cast<Form_pg_operator>(GETSTRUCT(op));
    n.equals_schema = pstrdup(quote_identifier(get_namespace_name(form->oprnamespace)));
    ReleaseSysCache(op);
    n.array_type = get_array_type(raw.key_type);
    n.attnum = get_attnum(relid, raw.key_column);
    return n;
  });
  info.membership_sql = names.membership_sql;
  info.rechecks_sql = names.rechecks_sql;
  info.object_sql = names.object_sql;
  info.key_column_sql = names.key_column_sql;
  info.key_equals = std::string("OPERATOR(") + names.equals_schema + ".=)";
  info.key_array_type = names.array_type;
  info.key_attnum = names.attnum;
  pg_guard([&] {
    get_typlenbyvalalign(info.key_type, &info.key_length, &info.key_by_value, &info.key_align);
  });
  info.writer = relation_owner(raw.membership);
  return info;
}

void free_plans(Plans& plans) {
  auto release = [](SPIPlanPtr* plan) {
    if (*plan != nullptr) {
      SPIPlanPtr doomed = *plan;
      *plan = nullptr;
      pg_guard([&] { SPI_freeplan(doomed); });
    }
  };
  for (SPIPlanPtr* plan : {&plans.deleted, &plans.moved_remove, &plans.moved_add, &plans.changes,
                           &plans.dues, &plans.dues_rechecked, &plans.truncate}) {
    release(plan);
  }
  for (SPIPlanPtr& plan : plans.netted) release(&plan);
}

CachedObject& cached_object(Oid relid) {
  State& s = state();
  auto found = s.objects.find(relid);
  if (found != s.objects.end() && !found->second->stale) return *found->second;
  auto object = std::make_unique<CachedObject>();
  object->info = load_object_info(relid);
  if (found != s.objects.end()) {
    s.retired.push_back(std::move(found->second));
    found->second = std::move(object);
    return *found->second;
  }
  return *s.objects.emplace(relid, std::move(object)).first->second;
}

// Builds an array of keys (in the current memory context).
Datum key_array(const ObjectInfo& info, const std::vector<Datum>& keys) {
  return pg_guard([&] {
    auto* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (keys.size() + 1)));
    for (std::size_t i = 0; i < keys.size(); ++i) elements[i] = keys[i];
    return PointerGetDatum(construct_array(elements, static_cast<int>(keys.size()), info.key_type,
                                           info.key_length, info.key_by_value, info.key_align));
  });
}

struct PlanResult {
  Datum* values;
  int count;
};

// Runs a statement prepared once per session, as the object's writer; returns the first row.
// It is prepared with search_path pinned; PostgreSQL's plan cache replans a prepared statement
// with the search_path it was created with, so executions need no pinning.
std::vector<Datum> run_plan(const ObjectInfo& info, SPIPlanPtr* plan, const std::string& sql,
                            int nargs, Oid* types, Datum* values, const char* nulls = nullptr) {
  if (*plan == nullptr) {
    as_role(info.writer, [&] {
      return pg_guard([&] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
        // A generic plan: replanning for every row's handful of changes would cost more than
        // writing them, and the plans (index lookups per key) suit any number of keys.
        SPIPlanPtr prepared =
            SPI_prepare_cursor(sql.c_str(), nargs, types, CURSOR_OPT_GENERIC_PLAN);
        if (prepared == nullptr) {
          elog(ERROR, "pg_segments: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
        }
        SPI_keepplan(prepared);
        *plan = prepared;
        SPI_finish();
        return 0;
      });
    });
  }
  PlanResult result = as_role(
      info.writer,
      [&] {
        return pg_guard([&] {
          PlanResult r{nullptr, 0};
          MemoryContext caller = CurrentMemoryContext;
          if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
          int rc = SPI_execute_plan(*plan, values, nulls, false, 0);
          if (rc < 0)
            elog(ERROR, "pg_segments: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
          if (SPI_tuptable != nullptr && SPI_processed > 0) {
            r.values = copy_first_row(caller, &r.count);
          }
          SPI_finish();
          return r;
        });
      },
      false);
  return std::vector<Datum>(result.values, result.values + result.count);
}

const char* kNotify =
    " SELECT pg_catalog.pg_notify('segments_changes', touched.segment_id::pg_catalog.text)"
    " FROM (SELECT DISTINCT segment_id FROM feed) AS touched";

void flush_deleted(CachedObject& object, const std::vector<Datum>& keys) {
  const ObjectInfo& info = object.info;
  std::string sql = "WITH gone AS (DELETE FROM " + info.membership_sql + " m WHERE m.member " +
                    info.key_equals +
                    " ANY ($1) RETURNING m.segment_id, m.member), "
                    "unscheduled AS (DELETE FROM " +
                    info.rechecks_sql + " r WHERE r.member " + info.key_equals +
                    " ANY ($1)), "
                    "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
                    "SELECT segment_id, member::pg_catalog.text, 'exited' FROM gone "
                    "RETURNING segment_id)" +
                    kNotify;
  Oid types[1] = {info.key_array_type};
  Datum values[1] = {key_array(info, keys)};
  run_plan(info, &object.plans.deleted, sql, 1, types, values);
}

// Re-keyed rows keep their memberships and recheck times. Delete then insert, in two
// statements, because keys may be swapped within one statement, which an UPDATE of the primary
// key could not do.
void flush_moved(CachedObject& object, const std::vector<Datum>& old_keys,
                 const std::vector<Datum>& new_keys) {
  const ObjectInfo& info = object.info;
  std::string remove_sql =
      "WITH moves AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) "
      "AS d(old_key, new_key)), "
      "gone AS (DELETE FROM " +
      info.membership_sql + " m USING moves WHERE m.member " + info.key_equals +
      " moves.old_key RETURNING m.segment_id, moves.old_key, moves.new_key, m.entered_at), "
      "unscheduled AS (DELETE FROM " +
      info.rechecks_sql + " r USING moves WHERE r.member " + info.key_equals +
      " moves.old_key RETURNING moves.new_key, r.due_at), "
      "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
      "SELECT segment_id, old_key::pg_catalog.text, 'exited' FROM gone) "
      "SELECT (SELECT pg_catalog.array_agg(segment_id) FROM gone), "
      "(SELECT pg_catalog.array_agg(new_key) FROM gone), "
      "(SELECT pg_catalog.array_agg(entered_at) FROM gone), "
      "(SELECT pg_catalog.array_agg(new_key) FROM unscheduled), "
      "(SELECT pg_catalog.array_agg(due_at) FROM unscheduled)";
  Oid types[5] = {info.key_array_type, info.key_array_type, InvalidOid, InvalidOid, InvalidOid};
  Datum values[5] = {key_array(info, old_keys), key_array(info, new_keys), Datum(0), Datum(0),
                     Datum(0)};
  std::vector<Datum> moved =
      run_plan(info, &object.plans.moved_remove, remove_sql, 2, types, values);
  if (moved.size() < 5 || (moved[0] == Datum(0) && moved[3] == Datum(0))) return;
  // A recheck time that has passed stays (see flush_dues); the earlier of two times wins.
  std::string add_sql =
      "WITH added AS (INSERT INTO " + info.membership_sql +
      " (segment_id, member, entered_at) SELECT * FROM ROWS FROM (pg_catalog.unnest($1), "
      "pg_catalog.unnest($2), pg_catalog.unnest($3)) "
      "ON CONFLICT DO NOTHING RETURNING segment_id, member), "
      "rescheduled AS (INSERT INTO " +
      info.rechecks_sql +
      " AS r (member, due_at) SELECT * FROM ROWS FROM (pg_catalog.unnest($4), "
      "pg_catalog.unnest($5)) ON CONFLICT (member) DO UPDATE SET due_at = "
      "LEAST(r.due_at, EXCLUDED.due_at)), "
      "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
      "SELECT segment_id, member::pg_catalog.text, 'entered' FROM added RETURNING segment_id)" +
      std::string(kNotify);
  types[0] = INT8ARRAYOID;
  types[1] = info.key_array_type;
  types[2] = TIMESTAMPTZARRAYOID;
  types[3] = info.key_array_type;
  types[4] = TIMESTAMPTZARRAYOID;
  char nulls[6] = "     ";
  for (int i = 0; i < 5; ++i) {
    values[i] = moved[static_cast<std::size_t>(i)];
    if (values[i] == Datum(0)) nulls[i] = 'n';
  }
  run_plan(info, &object.plans.moved_add, add_sql, 5, types, values, nulls);
}

// Realtime entries and exits. Within one flush a pair may change more than once (nested
// statements on the object): only the net change is written.
void flush_changes(CachedObject& object, const std::vector<PendingChange>& changes) {
  const ObjectInfo& info = object.info;
  std::string sql =
      "WITH c AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
      "pg_catalog.unnest($3)) WITH ORDINALITY AS c(segment_id, member, entering, ord)), "
      "net AS (SELECT segment_id, member, "
      "(pg_catalog.array_agg(entering ORDER BY ord DESC))[1] AS entering FROM c "
      "GROUP BY segment_id, member), "
      "removed AS (DELETE FROM " +
      info.membership_sql +
      " m USING net WHERE NOT net.entering "
      "AND m.segment_id = net.segment_id AND m.member " +
      info.key_equals +
      " net.member RETURNING m.segment_id, m.member), "
      "added AS (INSERT INTO " +
      info.membership_sql +
      " (segment_id, member) SELECT segment_id, member FROM net WHERE entering "
      "ON CONFLICT DO NOTHING RETURNING segment_id, member), "
      "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
      "SELECT segment_id, member::pg_catalog.text, 'exited' FROM removed UNION ALL "
      "SELECT segment_id, member::pg_catalog.text, 'entered' FROM added RETURNING segment_id)" +
      std::string(kNotify);
  Datum arrays[3] = {Datum(0), Datum(0), Datum(0)};
  pg_guard([&] {
    const int n = static_cast<int>(changes.size());
    auto* segments = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
    auto* keys = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
    auto* entering = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
    for (int i = 0; i < n; ++i) {
      segments[i] = Int64GetDatum(changes[static_cast<std::size_t>(i)].segment);
      keys[i] = changes[static_cast<std::size_t>(i)].key;
      entering[i] = BoolGetDatum(changes[static_cast<std::size_t>(i)].entering);
    }
    arrays[0] = PointerGetDatum(construct_array(segments, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
    arrays[1] = PointerGetDatum(construct_array(keys, n, info.key_type, info.key_length,
                                                info.key_by_value, info.key_align));
    arrays[2] = PointerGetDatum(construct_array(entering, n, BOOLOID, 1, true, TYPALIGN_CHAR));
  });
  Oid types[3] = {INT8ARRAYOID, info.key_array_type, BOOLARRAYOID};
  run_plan(info, &object.plans.changes, sql, 3, types, arrays);
}

// The statement parts that apply recheck times d(member, due_at), one per member (NULL: none
// any more). How a buffered time replaces the stored one: a writer evaluates only the segments
// that read a changed column, so a stored time that has passed (a change nobody has applied
// yet) is never removed or moved later by it: refresh_due() applies it. A recheck evaluates
// every relative-time segment against stored membership, and its times replace any.
std::string apply_dues_sql(const ObjectInfo& info, bool rechecked) {
  const std::string kept_if_passed =
      rechecked ? "" : " AND r.due_at OPERATOR(pg_catalog.>) pg_catalog.now()";
  const std::string replaced =
      rechecked ? "WHERE r.due_at IS DISTINCT FROM EXCLUDED.due_at"
                : "WHERE r.due_at IS DISTINCT FROM EXCLUDED.due_at AND (r.due_at "
                  "OPERATOR(pg_catalog.>) pg_catalog.now() OR EXCLUDED.due_at "
                  "OPERATOR(pg_catalog.<) r.due_at)";
  return "unscheduled AS (DELETE FROM " + info.rechecks_sql + " r USING d WHERE d.due_at IS NULL" +
         kept_if_passed + " AND r.member " + info.key_equals +
         " d.member), scheduled AS (INSERT INTO " + info.rechecks_sql +
         " AS r (member, due_at) SELECT member, due_at FROM d WHERE due_at IS NOT NULL "
         "ON CONFLICT (member) DO UPDATE SET due_at = EXCLUDED.due_at " +
         replaced + ")";
}

// Relative-time recheck times; the last one buffered for a key wins.
void flush_dues(CachedObject& object, const std::vector<PendingDue>& dues, bool rechecked) {
  const ObjectInfo& info = object.info;
  std::string sql =
      "WITH d AS (SELECT DISTINCT ON (member) member, due_at FROM ROWS FROM "
      "(pg_catalog.unnest($1), pg_catalog.unnest($2)) WITH ORDINALITY AS d(member, due_at, ord) "
      "ORDER BY member, ord DESC), " +
      apply_dues_sql(info, rechecked) + " SELECT 1";
  Datum arrays[2] = {Datum(0), Datum(0)};
  pg_guard([&] {
    const int n = static_cast<int>(dues.size());
    auto* keys = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
    auto* times = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
    auto* nulls = static_cast<bool*>(palloc(sizeof(bool) * (n + 1)));
    int dims[1] = {n};
    int lower[1] = {1};
    for (int i = 0; i < n; ++i) {
      const PendingDue& due = dues[static_cast<std::size_t>(i)];
      keys[i] = due.key;
      times[i] = TimestampTzGetDatum(due.due);
      nulls[i] = !due.has_due;
    }
    arrays[0] = PointerGetDatum(construct_array(keys, n, info.key_type, info.key_length,
                                                info.key_by_value, info.key_align));
    arrays[1] = PointerGetDatum(construct_md_array(times, nulls, 1, dims, lower, TIMESTAMPTZOID, 8,
                                                   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
  Oid types[2] = {info.key_array_type, TIMESTAMPTZARRAYOID};
  run_plan(info, rechecked ? &object.plans.dues_rechecked : &object.plans.dues, sql, 2, types,
           arrays);
}

// Key types whose equality is their bytes' equality and whose order C++ can reproduce; for
// these the net effect of a flush is computed here and applied by one simple statement.
enum class KeyOrder { kNone, kInt2, kInt4, kInt8, kBytes16 };

KeyOrder key_order(const ObjectInfo& info) {
  switch (info.key_type) {
    case INT2OID:
      return KeyOrder::kInt2;
    case INT4OID:
      return KeyOrder::kInt4;
    case INT8OID:
      return KeyOrder::kInt8;
    case UUIDOID:
      return KeyOrder::kBytes16;
    default:
      return KeyOrder::kNone;
  }
}

int compare_keys(KeyOrder order, Datum a, Datum b) {
  switch (order) {
    case KeyOrder::kInt2: {
      int16 x = DatumGetInt16(a), y = DatumGetInt16(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case KeyOrder::kInt4: {
      int32 x = DatumGetInt32(a), y = DatumGetInt32(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case KeyOrder::kInt8: {
      int64 x = DatumGetInt64(a), y = DatumGetInt64(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case KeyOrder::kBytes16:
      return std::memcmp(DatumGetPointer(a), DatumGetPointer(b), 16);
    case KeyOrder::kNone:
      break;
  }
  return 0;
}

// Entries, exits and recheck times reduced to their net effect, in (segment, key) order so
// that the membership index is written in order.
struct Netted {
  std::vector<Datum> exit_segments, exit_keys, enter_segments, enter_keys, due_keys, due_times;
  std::vector<bool> due_nulls;
};

Netted net_effect(KeyOrder order, const std::vector<PendingChange>& changes,
                  const std::vector<PendingDue>& dues) {
  Netted net;
  std::vector<std::size_t> index(changes.size());
  std::iota(index.begin(), index.end(), 0);
  std::stable_sort(index.begin(), index.end(), [&](std::size_t a, std::size_t b) {
    const PendingChange& x = changes[a];
    const PendingChange& y = changes[b];
    if (x.segment != y.segment) return x.segment < y.segment;
    return compare_keys(order, x.key, y.key) < 0;
  });
  for (std::size_t i = 0; i < index.size();) {
    std::size_t j = i + 1;
    const PendingChange& first = changes[index[i]];
    while (j < index.size() && changes[index[j]].segment == first.segment &&
           compare_keys(order, changes[index[j]].key, first.key) == 0) {
      ++j;
    }
    // The last answer wins; entries and exits are written idempotently (an entry of a member or
    // an exit of a non-member writes nothing), so a row that entered and left within one flush
    // leaves membership as it was, and an answer set again over a newer stored one (see
    // realtime_row_updated) corrects it.
    const PendingChange& last = changes[index[j - 1]];
    (last.entering ? net.enter_segments : net.exit_segments).push_back(Int64GetDatum(last.segment));
    (last.entering ? net.enter_keys : net.exit_keys).push_back(last.key);
    i = j;
  }
  index.resize(dues.size());
  std::iota(index.begin(), index.end(), 0);
  std::stable_sort(index.begin(), index.end(), [&](std::size_t a, std::size_t b) {
    return compare_keys(order, dues[a].key, dues[b].key) < 0;
  });
  for (std::size_t i = 0; i < index.size(); ++i) {
    // The last time buffered for a key wins.
    if (i + 1 < index.size() &&
        compare_keys(order, dues[index[i]].key, dues[index[i + 1]].key) == 0) {
      continue;
    }
    const PendingDue& due = dues[index[i]];
    net.due_keys.push_back(due.key);
    net.due_times.push_back(TimestampTzGetDatum(due.due));
    net.due_nulls.push_back(!due.has_due);
  }
  return net;
}

// The statement of a netted flush, made of the parts it needs: $1, $2 exits, $3, $4 entries,
// $5, $6 recheck times.
std::string netted_sql(const ObjectInfo& info, bool exits, bool entries, bool dues,
                       bool rechecked) {
  std::vector<std::string> parts;
  if (exits) {
    parts.push_back("removed AS (DELETE FROM " + info.membership_sql +
                    " m USING ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS "
                    "x(segment_id, member) WHERE m.segment_id = x.segment_id AND m.member " +
                    info.key_equals + " x.member RETURNING m.segment_id, m.member)");
  }
  if (entries) {
    parts.push_back("added AS (INSERT INTO " + info.membership_sql +
                    " (segment_id, member) SELECT * FROM ROWS FROM (pg_catalog.unnest($3), "
                    "pg_catalog.unnest($4)) ON CONFLICT DO NOTHING RETURNING segment_id, member)");
  }
  if (exits || entries) {
    std::string feed = "feed AS (INSERT INTO segments.changes (segment_id, member, change) ";
    if (exits) feed += "SELECT segment_id, member::pg_catalog.text, 'exited' FROM removed";
    if (exits && entries) feed += " UNION ALL ";
    if (entries) feed += "SELECT segment_id, member::pg_catalog.text, 'entered' FROM added";
    parts.push_back(feed + " RETURNING segment_id)");
  }
  if (dues) {
    parts.push_back(
        "d AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($5), pg_catalog.unnest($6)) "
        "AS d(member, due_at))");
    parts.push_back(apply_dues_sql(info, rechecked));
  }
  std::string sql = "WITH ";
  for (std::size_t i = 0; i < parts.size(); ++i) sql += (i == 0 ? "" : ", ") + parts[i];
  sql += (exits || entries) ? std::string(kNotify) : std::string(" SELECT 1");
  return sql;
}

// Realtime changes and recheck times of keys with a C++ order, in one statement.
void flush_netted(CachedObject& object, const Netted& net, bool rechecked) {
  const ObjectInfo& info = object.info;
  const bool exits = !net.exit_keys.empty();
  const bool entries = !net.enter_keys.empty();
  const bool dues = !net.due_keys.empty();
  if (!exits && !entries && !dues) return;
  const int shape = (exits ? 1 : 0) | (entries ? 2 : 0) | (dues ? 4 : 0) | (rechecked ? 8 : 0);
  SPIPlanPtr* plan = &object.plans.netted[shape];
  const std::string sql =
      *plan == nullptr ? netted_sql(info, exits, entries, dues, rechecked) : std::string();
  Datum arrays[6];
  pg_guard([&] {
    auto build = [&](const std::vector<Datum>& items, Oid type, int16 length, bool by_value,
                     char align) {
      auto* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (items.size() + 1)));
      for (std::size_t i = 0; i < items.size(); ++i) elements[i] = items[i];
      return PointerGetDatum(
          construct_array(elements, static_cast<int>(items.size()), type, length, by_value, align));
    };
    arrays[0] = build(net.exit_segments, INT8OID, 8, true, TYPALIGN_DOUBLE);
    arrays[1] =
        build(net.exit_keys, info.key_type, info.key_length, info.key_by_value, info.key_align);
    arrays[2] = build(net.enter_segments, INT8OID, 8, true, TYPALIGN_DOUBLE);
    arrays[3] =
        build(net.enter_keys, info.key_type, info.key_length, info.key_by_value, info.key_align);
    arrays[4] =
        build(net.due_keys, info.key_type, info.key_length, info.key_by_value, info.key_align);
    const int n = static_cast<int>(net.due_times.size());
    auto* times = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
    auto* nulls = static_cast<bool*>(palloc(sizeof(bool) * (n + 1)));
    for (int i = 0; i < n; ++i) {
      times[i] = net.due_times[static_cast<std::size_t>(i)];
      nulls[i] = net.due_nulls[static_cast<std::size_t>(i)];
    }
    int dims[1] = {n};
    int lower[1] = {1};
    arrays[5] = PointerGetDatum(construct_md_array(times, nulls, 1, dims, lower, TIMESTAMPTZOID, 8,
                                                   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
  Oid types[6] = {INT8ARRAYOID,        info.key_array_type, INT8ARRAYOID,
                  info.key_array_type, info.key_array_type, TIMESTAMPTZARRAYOID};
  run_plan(info, plan, sql, 6, types, arrays);
}

}  // namespace

const ObjectInfo& object_info(Oid relid) {
  return cached_object(relid).info;
}

std::string membership_changes_sql(const ObjectInfo& info, bool exits, bool entries) {
  return netted_sql(info, exits, entries, false, false);
}

void buffer_deleted_key(const ObjectInfo& info, Datum key) {
  Datum kept = keep_key(info, key);
  state().pending[info.relid].deleted.push_back({kept, GetCurrentSubTransactionId()});
}

void buffer_moved_key(const ObjectInfo& info, Datum old_key, Datum new_key) {
  Datum old_kept = keep_key(info, old_key);
  Datum new_kept = keep_key(info, new_key);
  state().pending[info.relid].moved.push_back({old_kept, new_kept, GetCurrentSubTransactionId()});
}

void buffer_change(const ObjectInfo& info, std::int64_t segment, Datum key, bool entering) {
  Datum kept = keep_key(info, key);
  state().pending[info.relid].changes.push_back(
      {segment, kept, entering, GetCurrentSubTransactionId()});
}

void buffer_due(const ObjectInfo& info, Datum key, std::optional<TimestampTz> due) {
  Datum kept = keep_key(info, key);
  state().pending[info.relid].dues.push_back(
      {kept, due.value_or(0), due.has_value(), GetCurrentSubTransactionId()});
}

void flush_object(Oid relid, bool rechecked) {
  State& s = state();
  auto found = s.pending.find(relid);
  if (found == s.pending.end() || found->second.empty()) return;
  Pending pending = std::move(found->second);
  s.pending.erase(found);
  CachedObject& object = cached_object(relid);
  if (!object.info.registered) return;
  // Order matters: deleted rows first, then re-keyed ones (so that changes and recheck times
  // below apply to the new keys), then realtime changes, then recheck times.
  if (!pending.deleted.empty()) {
    std::vector<Datum> keys;
    for (const PendingKey& k : pending.deleted) keys.push_back(k.key);
    flush_deleted(object, keys);
  }
  if (!pending.moved.empty()) {
    std::vector<Datum> old_keys;
    std::vector<Datum> new_keys;
    for (const PendingMove& m : pending.moved) {
      old_keys.push_back(m.old_key);
      new_keys.push_back(m.new_key);
    }
    flush_moved(object, old_keys, new_keys);
  }
  if (pending.changes.empty() && pending.dues.empty()) return;
  const KeyOrder order = key_order(object.info);
  if (order != KeyOrder::kNone) {
    flush_netted(object, net_effect(order, pending.changes, pending.dues), rechecked);
    return;
  }
  if (!pending.changes.empty()) flush_changes(object, pending.changes);
  if (!pending.dues.empty()) flush_dues(object, pending.dues, rechecked);
}

void truncate_object_membership(Oid relid) {
  state().pending.erase(relid);
  CachedObject& object = cached_object(relid);
  if (!object.info.registered) return;
  const ObjectInfo& info = object.info;
  std::string sql = "WITH gone AS (DELETE FROM " + info.membership_sql +
                    " RETURNING segment_id, member), "
                    "unscheduled AS (DELETE FROM " +
                    info.rechecks_sql +
                    "), "
                    "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
                    "SELECT segment_id, member::pg_catalog.text, 'exited' FROM gone "
                    "RETURNING segment_id)" +
                    std::string(kNotify);
  run_plan(info, &object.plans.truncate, sql, 0, nullptr, nullptr);
}

void register_membership_callbacks() {
  CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_event, nullptr);
}

}  // namespace pgseg::pg
