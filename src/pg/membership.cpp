// Buffers of membership changes per object, discarded with aborted (sub)transactions, and the
// set-wise statements that apply them.
#include "pg/membership.hpp"

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

struct Pending {
  std::vector<PendingKey> deleted;
  std::vector<PendingMove> moved;
  bool empty() const { return deleted.empty() && moved.empty(); }
};

struct State {
  std::unordered_map<Oid, ObjectInfo> objects;
  std::unordered_map<Oid, Pending> pending;
  MemoryContext pending_memory = nullptr;  // child of TopTransactionContext
};

State& state() {
  static State* instance = new State();
  return *instance;
}

void on_relcache_invalidation(Datum, Oid relid) {
  State& s = state();
  if (relid == InvalidOid) {
    s.objects.clear();
  } else {
    s.objects.erase(relid);
  }
}

void on_transaction_end(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
      state().pending.clear();
      state().pending_memory = nullptr;  // freed with TopTransactionContext
      return;
    default:
      return;
  }
}

// Changes buffered inside an aborted subtransaction never happened.
void on_subtransaction_event(SubXactEvent event, SubTransactionId subtransaction,
                             SubTransactionId, void*) {
  if (event != SUBXACT_EVENT_ABORT_SUB) return;
  for (auto& item : state().pending) {
    auto& deleted = item.second.deleted;
    while (!deleted.empty() && deleted.back().subtransaction >= subtransaction) deleted.pop_back();
    auto& moved = item.second.moved;
    while (!moved.empty() && moved.back().subtransaction >= subtransaction) moved.pop_back();
  }
}

// Copies a key into transaction memory so it outlives the trigger call.
Datum keep_key(const ObjectInfo& info, Datum key) {
  State& s = state();
  return pg_guard([&] {
    if (s.pending_memory == nullptr) {
      s.pending_memory =
          AllocSetContextCreate(TopTransactionContext, "pg_segments pending membership changes",
                                ALLOCSET_DEFAULT_SIZES);
    }
    MemoryContext old = MemoryContextSwitchTo(s.pending_memory);
    int16 length;
    bool by_value;
    get_typlenbyval(info.key_type, &length, &by_value);
    Datum copy = datumCopy(key, by_value, length);
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
    char* key_column;
    Oid key_type;
  };
  // The registry is read as its owner: writers of an object have no grant on it.
  Oid registry = pg_guard([] { return get_relname_relid("object", get_namespace_oid("segments", false)); });
  if (!OidIsValid(registry)) return info;
  Raw raw = as_role(relation_owner(registry), [&] { return pg_guard([&] {
    Raw r{false, InvalidOid, nullptr, InvalidOid};
    MemoryContext caller = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(relid)};
    int rc = SPI_execute_with_args(
        "SELECT membership::pg_catalog.oid, key_column::pg_catalog.text, "
        "key_type::pg_catalog.oid FROM segments.object "
        "WHERE object::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
        1, types, values, nullptr, true, 1);
    if (rc == SPI_OK_SELECT && SPI_processed == 1) {
      bool isnull;
      HeapTuple row = SPI_tuptable->vals[0];
      TupleDesc desc = SPI_tuptable->tupdesc;
      r.found = true;
      r.membership = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
      r.key_column = MemoryContextStrdup(caller, SPI_getvalue(row, desc, 2));
      r.key_type = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
    }
    SPI_finish();
    return r;
  }); });
  if (!raw.found) return info;
  info.registered = true;
  info.membership = raw.membership;
  info.key_type = raw.key_type;
  struct Names {
    char* membership_sql;
    char* equals_schema;
    Oid array_type;
    AttrNumber attnum;
  };
  Names names = pg_guard([&] {
    Names n{};
    n.membership_sql = quote_qualified_identifier(
        get_namespace_name(get_rel_namespace(raw.membership)), get_rel_name(raw.membership));
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
  info.key_equals = std::string("OPERATOR(") + names.equals_schema + ".=)";
  info.key_array_type = names.array_type;
  info.key_attnum = names.attnum;
  info.writer = relation_owner(raw.membership);
  return info;
}

// Builds an array of the key type from buffered keys (in the current memory context).
Datum key_array(const ObjectInfo& info, const std::vector<Datum>& keys) {
  return pg_guard([&] {
    int16 length;
    bool by_value;
    char align;
    get_typlenbyvalalign(info.key_type, &length, &by_value, &align);
    auto* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (keys.size() + 1)));
    for (std::size_t i = 0; i < keys.size(); ++i) elements[i] = keys[i];
    return PointerGetDatum(construct_array(elements, static_cast<int>(keys.size()),
                                           info.key_type, length, by_value, align));
  });
}

const char* kNotify =
    " SELECT pg_catalog.pg_notify('segments_changes', segment_id::pg_catalog.text)"
    " FROM (SELECT DISTINCT segment_id FROM feed) AS touched";

void flush_deleted(const ObjectInfo& info, const std::vector<Datum>& keys) {
  std::string sql = "WITH gone AS (DELETE FROM " + info.membership_sql + " m WHERE m.member " +
                    info.key_equals +
                    " ANY ($1) RETURNING m.segment_id, m.member), "
                    "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
                    "SELECT segment_id, member::pg_catalog.text, 'exited' FROM gone "
                    "RETURNING segment_id)" +
                    kNotify;
  Oid types[1] = {info.key_array_type};
  Datum values[1] = {key_array(info, keys)};
  run_sql(sql, info.writer, 1, types, values);
}

// Re-keyed rows keep their memberships. Delete then insert, in two statements, because keys
// may be swapped within one statement, which an UPDATE of the primary key could not do.
void flush_moved(const ObjectInfo& info, const std::vector<Datum>& old_keys,
                 const std::vector<Datum>& new_keys) {
  std::string remove_sql =
      "WITH moves AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) "
      "AS d(old_key, new_key)), "
      "gone AS (DELETE FROM " + info.membership_sql + " m USING moves WHERE m.member " +
      info.key_equals +
      " moves.old_key RETURNING m.segment_id, moves.old_key, moves.new_key, m.entered_at), "
      "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
      "SELECT segment_id, old_key::pg_catalog.text, 'exited' FROM gone) "
      "SELECT pg_catalog.array_agg(segment_id), pg_catalog.array_agg(new_key), "
      "pg_catalog.array_agg(entered_at) FROM gone";
  Oid types[3] = {info.key_array_type, info.key_array_type, InvalidOid};
  Datum values[3] = {key_array(info, old_keys), key_array(info, new_keys), Datum(0)};
  std::vector<Datum> moved = run_sql_row(remove_sql, info.writer, 2, types, values);
  if (moved.empty()) return;  // no memberships held by the old keys
  std::string add_sql =
      "WITH added AS (INSERT INTO " + info.membership_sql +
      " (segment_id, member, entered_at) SELECT * FROM ROWS FROM (pg_catalog.unnest($1), "
      "pg_catalog.unnest($2), pg_catalog.unnest($3)) "
      "ON CONFLICT DO NOTHING RETURNING segment_id, member), "
      "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
      "SELECT segment_id, member::pg_catalog.text, 'entered' FROM added RETURNING segment_id)" +
      std::string(kNotify);
  types[0] = INT8ARRAYOID;
  types[1] = info.key_array_type;
  types[2] = TIMESTAMPTZARRAYOID;
  values[0] = moved[0];
  values[1] = moved[1];
  values[2] = moved[2];
  run_sql(add_sql, info.writer, 3, types, values);
}

}  // namespace

const ObjectInfo& object_info(Oid relid) {
  State& s = state();
  auto found = s.objects.find(relid);
  if (found != s.objects.end()) return found->second;
  ObjectInfo info = load_object_info(relid);
  return s.objects.emplace(relid, std::move(info)).first->second;
}

void buffer_deleted_key(const ObjectInfo& info, Datum key) {
  Datum kept = keep_key(info, key);
  state().pending[info.relid].deleted.push_back({kept, GetCurrentSubTransactionId()});
}

void buffer_moved_key(const ObjectInfo& info, Datum old_key, Datum new_key) {
  Datum old_kept = keep_key(info, old_key);
  Datum new_kept = keep_key(info, new_key);
  state().pending[info.relid].moved.push_back(
      {old_kept, new_kept, GetCurrentSubTransactionId()});
}

void flush_object(Oid relid) {
  State& s = state();
  auto found = s.pending.find(relid);
  if (found == s.pending.end() || found->second.empty()) return;
  Pending pending = std::move(found->second);
  s.pending.erase(found);
  const ObjectInfo& info = object_info(relid);
  if (!info.registered) return;
  if (!pending.deleted.empty()) {
    std::vector<Datum> keys;
    for (const PendingKey& k : pending.deleted) keys.push_back(k.key);
    flush_deleted(info, keys);
  }
  if (!pending.moved.empty()) {
    std::vector<Datum> old_keys;
    std::vector<Datum> new_keys;
    for (const PendingMove& m : pending.moved) {
      old_keys.push_back(m.old_key);
      new_keys.push_back(m.new_key);
    }
    flush_moved(info, old_keys, new_keys);
  }
}

void truncate_object_membership(Oid relid) {
  state().pending.erase(relid);
  const ObjectInfo& info = object_info(relid);
  if (!info.registered) return;
  std::string sql = "WITH gone AS (DELETE FROM " + info.membership_sql +
                    " RETURNING segment_id, member), "
                    "feed AS (INSERT INTO segments.changes (segment_id, member, change) "
                    "SELECT segment_id, member::pg_catalog.text, 'exited' FROM gone "
                    "RETURNING segment_id)" +
                    std::string(kNotify);
  run_sql(sql, info.writer);
}

void register_membership_callbacks() {
  CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_event, nullptr);
}

}  // namespace pgseg::pg
