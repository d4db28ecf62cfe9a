// Triggers the extension installs on objects with segments (never written by users).
#include "pg/boundary.hpp"
#include "pg/membership.hpp"
#include "pg/realtime.hpp"
#include "pg/related.hpp"

using pgseg::pg::pg_guard;

namespace {

TriggerData* trigger_data(FunctionCallInfo fcinfo, const char* name) {
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw pgseg::Error("39P01", std::string(name) + " must be called as a trigger");
  }
  return reinterpret_cast<TriggerData*>(fcinfo->context);
}

Datum key_of(const pgseg::pg::ObjectInfo& info, HeapTuple tuple, TupleDesc desc, bool* isnull) {
  return pg_guard([&] { return heap_getattr(tuple, info.key_attnum, desc, isnull); });
}

}  // namespace

// _object_row_trigger: AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW. Buffers what the row
// change means for membership; the statement trigger writes it.
PGSEG_FUNCTION(pgseg_object_row_trigger) {
  TriggerData* data = trigger_data(fcinfo, "_object_row_trigger");
  const Oid relid = RelationGetRelid(data->tg_relation);
  const pgseg::pg::ObjectInfo& info = pgseg::pg::object_info(relid);
  if (!info.registered || info.key_attnum == InvalidAttrNumber) return PointerGetDatum(nullptr);
  TupleDesc desc = RelationGetDescr(data->tg_relation);
  const TriggerEvent event = data->tg_event;
  if (TRIGGER_FIRED_BY_INSERT(event)) {
    bool isnull;
    Datum key = key_of(info, data->tg_trigtuple, desc, &isnull);
    if (!isnull) pgseg::pg::related_mark_object_row(relid, info.key_type, key);
    if (pgseg::pg::realtime_row_superseded(data->tg_trigtuple)) {
      pgseg::pg::realtime_row_resync(data->tg_relation, data->tg_trigtuple, nullptr);
      return PointerGetDatum(nullptr);
    }
    pgseg::pg::realtime_row_inserted(data->tg_relation, data->tg_trigtuple);
  } else if (TRIGGER_FIRED_BY_DELETE(event)) {
    bool isnull;
    Datum key = key_of(info, data->tg_trigtuple, desc, &isnull);
    if (!isnull) pgseg::pg::buffer_deleted_key(info, key);
  } else if (TRIGGER_FIRED_BY_UPDATE(event)) {
    bool old_null;
    bool new_null;
    Datum old_key = key_of(info, data->tg_trigtuple, desc, &old_null);
    Datum new_key = key_of(info, data->tg_newtuple, desc, &new_null);
    if (!new_null) pgseg::pg::related_mark_object_row(relid, info.key_type, new_key);
    if (pgseg::pg::realtime_row_superseded(data->tg_newtuple)) {
      pgseg::pg::realtime_row_resync(data->tg_relation, data->tg_newtuple,
                                     old_null ? nullptr : &old_key);
      return PointerGetDatum(nullptr);
    }
    Form_pg_attribute attr = TupleDescAttr(desc, info.key_attnum - 1);
    bool same = !old_null && !new_null && pg_guard([&] {
      return datumIsEqual(old_key, new_key, attr->attbyval, attr->attlen);
    });
    if (!same && !old_null && !new_null) pgseg::pg::buffer_moved_key(info, old_key, new_key);
    pgseg::pg::realtime_row_updated(data->tg_relation, data->tg_trigtuple, data->tg_newtuple);
  }
  return PointerGetDatum(nullptr);
}

// _object_statement_trigger: AFTER INSERT OR UPDATE OR DELETE ... FOR EACH STATEMENT. Writes the
// statement's membership changes set-wise.
PGSEG_FUNCTION(pgseg_object_statement_trigger) {
  TriggerData* data = trigger_data(fcinfo, "_object_statement_trigger");
  const Oid relid = RelationGetRelid(data->tg_relation);
  pgseg::pg::flush_object(relid);
  // Realtime segments over related rows (and other segments) follow the plain ones.
  pgseg::pg::related_flush(relid);
  return PointerGetDatum(nullptr);
}

// _object_truncate_trigger: AFTER TRUNCATE. Every membership of the object ends.
PGSEG_FUNCTION(pgseg_object_truncate_trigger) {
  TriggerData* data = trigger_data(fcinfo, "_object_truncate_trigger");
  pgseg::pg::truncate_object_membership(RelationGetRelid(data->tg_relation));
  return PointerGetDatum(nullptr);
}

// _related_row_trigger: AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW on a table that
// realtime segments read through relationships (or on a membership relation that IN SEGMENT
// reads). Marks the object keys the change may affect.
PGSEG_FUNCTION(pgseg_related_row_trigger) {
  TriggerData* data = trigger_data(fcinfo, "_related_row_trigger");
  pgseg::pg::related_row_event(
      data->tg_relation, data->tg_trigtuple,
      TRIGGER_FIRED_BY_UPDATE(data->tg_event) ? data->tg_newtuple : nullptr);
  return PointerGetDatum(nullptr);
}

// _related_statement_trigger: AFTER INSERT OR UPDATE OR DELETE ... FOR EACH STATEMENT. The
// marked keys are recomputed set-wise.
PGSEG_FUNCTION(pgseg_related_statement_trigger) {
  (void)trigger_data(fcinfo, "_related_statement_trigger");
  pgseg::pg::related_flush_all();
  return PointerGetDatum(nullptr);
}

// _related_truncate_trigger: AFTER TRUNCATE. The segments reading the table are recomputed.
PGSEG_FUNCTION(pgseg_related_truncate_trigger) {
  TriggerData* data = trigger_data(fcinfo, "_related_truncate_trigger");
  pgseg::pg::related_truncated(RelationGetRelid(data->tg_relation));
  return PointerGetDatum(nullptr);
}

// _related_recheck(object, segment, keys): a realtime segment over related rows recomputed for
// rows whose recheck time has come.
PGSEG_FUNCTION(pgseg_related_recheck) {
  Datum keys = pg_guard([&] { return PointerGetDatum(PG_GETARG_ARRAYTYPE_P(2)); });
  return Int64GetDatum(pgseg::pg::related_recheck(PG_GETARG_OID(0), PG_GETARG_INT64(1), keys));
}

// _related_due_all(object, segment): every row's recheck time for a realtime segment over
// related rows with relative time.
PGSEG_FUNCTION(pgseg_related_due_all) {
  return Int64GetDatum(pgseg::pg::related_due_all(PG_GETARG_OID(0), PG_GETARG_INT64(1)));
}

// _related_hold(object), _related_release(object): around a change of one of the object's
// segment definitions (the catalog's BEFORE and AFTER triggers), realtime segments over related
// rows are recomputed with the new definitions, not the old ones.
PGSEG_FUNCTION(pgseg_related_hold) {
  pgseg::pg::related_hold(PG_GETARG_OID(0));
  PG_RETURN_VOID();
}

PGSEG_FUNCTION(pgseg_related_release) {
  pgseg::pg::related_release(PG_GETARG_OID(0));
  PG_RETURN_VOID();
}

// _merge_rechecks(object, segment): a segment's recheck times merged into the object's.
PGSEG_FUNCTION(pgseg_merge_rechecks) {
  return Int64GetDatum(pgseg::pg::merge_rechecks(PG_GETARG_OID(0), PG_GETARG_INT64(1)));
}

// _recheck(object, max_rows): re-evaluates rows whose recheck time has come, in batches.
PGSEG_FUNCTION(pgseg_recheck) {
  const Oid relid = PG_GETARG_OID(0);
  const int max_rows = PG_GETARG_INT32(1);
  std::int64_t total = 0;
  while (total < max_rows) {
    pgseg::pg::check_for_interrupts();
    const int batch = static_cast<int>(std::min<std::int64_t>(1000, max_rows - total));
    const std::int64_t done = pgseg::pg::recheck_due_rows(relid, batch);
    total += done;
    if (done < batch) break;
  }
  return Int64GetDatum(total);
}
