// Realtime segments of an object, compiled once per session and re-read after invalidation;
// row changes evaluated against them; relative-time rechecks.
#include "pg/realtime.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pg/boundary.hpp"
#include "pg/filter_cache.hpp"
#include "pg/membership.hpp"
#include "pg/spi.hpp"

namespace pgseg::pg {

namespace {

struct RealtimeSegment {
  std::int64_t id = 0;
  std::unique_ptr<CompiledFilter> compiled;
  bool time_relative = false;
};

// An object's active realtime segments, and which segments read which column.
struct ObjectSegments {
  bool stale = false;
  Environment environment;
  int natts = 0;
  std::vector<RealtimeSegment> segments;
  std::vector<AttrNumber> columns_read;  // read by any segment
  std::vector<int> time_segments;
  // Deformed old and new rows (reused).
  std::vector<Datum> old_values;
  std::vector<Datum> new_values;
  std::unique_ptr<bool[]> old_nulls;
  std::unique_ptr<bool[]> new_nulls;
  // Segments to evaluate for the current row, each once (candidate flags them).
  std::vector<int> candidates;
  std::vector<char> candidate;
  // The distinct conditions of all segments (segments drawn from the same building blocks
  // share most of them): an UPDATE evaluates each condition that reads a changed column once
  // on the old and once on the new row, and a segment none of whose conditions changed its
  // answer keeps its answer without being evaluated.
  struct SharedLeaf {
    RowEvaluator* evaluator = nullptr;  // of the first segment with this condition
    std::size_t leaf = 0;
  };
  std::vector<SharedLeaf> shared_leaves;
  std::vector<std::vector<int>> leaves_by_attnum;  // attnum -> shared leaves reading it
  std::vector<std::vector<int>> leaf_segments;     // shared leaf -> segments with it
  // attnum -> segments that must be evaluated when it changes whatever their conditions
  // answer: those with conditions over other rows, and relative-time segments comparing it
  // with a relative time (for their recheck time).
  std::vector<std::vector<int>> always_by_attnum;
  std::vector<AttrNumber> changed_columns;  // of the current row
};

struct State {
  std::unordered_map<Oid, std::unique_ptr<ObjectSegments>> objects;
  // Replaced after an invalidation, kept until the transaction ends: an outer frame may still
  // hold one.
  std::vector<std::unique_ptr<ObjectSegments>> retired;
  MemoryContext row_memory = nullptr;  // reset for every row event
  std::int64_t evaluations = 0;
};

State& state() {
  static State* instance = new State();
  return *instance;
}

// Relcache callbacks may run at any invalidation point: only mark.
void on_relcache_invalidation(Datum, Oid relid) {
  for (auto& item : state().objects) {
    if (relid == InvalidOid || item.first == relid) item.second->stale = true;
  }
}

Environment current_environment() {
  return Environment{session_timezone, DateStyle, DateOrder};
}

struct Definition {
  std::int64_t id;
  std::string filter;
};

std::vector<Definition> load_definitions(Oid relid) {
  struct Raw {
    int count;
    int64* ids;
    char** filters;
  };
  Oid catalog =
      pg_guard([] { return get_relname_relid("segment", get_namespace_oid("segments", false)); });
  if (!OidIsValid(catalog)) return {};
  Raw raw = as_role(relation_owner(catalog), [&] {
    return pg_guard([&] {
      Raw r{0, nullptr, nullptr};
      MemoryContext caller = CurrentMemoryContext;
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
      Oid types[1] = {OIDOID};
      Datum values[1] = {ObjectIdGetDatum(relid)};
      int rc = execute_catalog_query(
          "SELECT id, filter::text FROM segments.segment WHERE object::oid = $1 "
          "AND kind = 'realtime' AND active AND filter IS NOT NULL "
          "AND NOT segments._is_related(filter, object) ORDER BY id",
          1, types, values, 0);
      if (rc == SPI_OK_SELECT) {
        r.count = static_cast<int>(SPI_processed);
        r.ids = static_cast<int64*>(MemoryContextAlloc(caller, sizeof(int64) * (r.count + 1)));
        r.filters = static_cast<char**>(MemoryContextAlloc(caller, sizeof(char*) * (r.count + 1)));
        for (int i = 0; i < r.count; ++i) {
          bool isnull;
          HeapTuple row = SPI_tuptable->vals[i];
          r.ids[i] = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
          r.filters[i] = MemoryContextStrdup(caller, SPI_getvalue(row, SPI_tuptable->tupdesc, 2));
        }
      }
      SPI_finish();
      return r;
    });
  });
  std::vector<Definition> definitions;
  for (int i = 0; i < raw.count; ++i) definitions.push_back({raw.ids[i], raw.filters[i]});
  return definitions;
}

void retire_segments(ObjectSegments& object) {
  for (RealtimeSegment& segment : object.segments) retire_compiled(std::move(segment.compiled));
  object.segments.clear();
}

// Registers the conditions of the segment about to be appended to object.segments at position
// segment. False when one of them reads something else than the row: the segment is then
// evaluated whenever a column it reads changes.
bool share_leaves(ObjectSegments& object, CompiledFilter& compiled,
                  std::unordered_map<std::string, int>& ids, int segment) {
  std::vector<int> mine;
  const std::vector<Program::LeafInfo>& leaves = compiled.program->leaf_info();
  for (std::size_t leaf = 0; leaf < leaves.size(); ++leaf) {
    const Program::LeafInfo& info = leaves[leaf];
    if (info.column_index < 1 || info.column_index > object.natts) return false;
    auto [found, added] = ids.emplace(info.signature, static_cast<int>(ids.size()));
    if (added) {
      object.shared_leaves.push_back({compiled.evaluator.get(), leaf});
      object.leaf_segments.emplace_back();
      object.leaves_by_attnum[static_cast<std::size_t>(info.column_index)].push_back(found->second);
    }
    mine.push_back(found->second);
  }
  for (int id : mine) {
    std::vector<int>& segments = object.leaf_segments[static_cast<std::size_t>(id)];
    if (segments.empty() || segments.back() != segment) segments.push_back(segment);
  }
  return true;
}

std::unique_ptr<ObjectSegments> load_object(Oid relid) {
  auto object = std::make_unique<ObjectSegments>();
  object->environment = current_environment();
  object->natts = pg_guard([&] {
    Relation rel = relation_open(relid, AccessShareLock);
    int natts = RelationGetDescr(rel)->natts;
    relation_close(rel, NoLock);
    return natts;
  });
  const std::size_t slots = static_cast<std::size_t>(object->natts) + 1;
  object->always_by_attnum.resize(slots);
  object->leaves_by_attnum.resize(slots);
  std::unordered_map<std::string, int> leaf_ids;
  object->old_values.resize(slots);
  object->new_values.resize(slots);
  object->old_nulls = std::make_unique<bool[]>(slots);
  object->new_nulls = std::make_unique<bool[]>(slots);
  std::vector<bool> read(slots, false);
  for (const Definition& definition : load_definitions(relid)) {
    RealtimeSegment segment;
    segment.id = definition.id;
    try {
      segment.compiled = compile_filter(relid, definition.filter);
    } catch (const Error& e) {
      // A definition that no longer compiles must not make writes fail; it is skipped (the
      // catalog refuses table changes that would break a segment, so this is a race at most).
      std::string message = e.what();
      pg_guard([&] {
        ereport(WARNING, (errmsg("pg_segments: realtime segment %lld skipped: %s",
                                 static_cast<long long>(definition.id), message.c_str())));
      });
      continue;
    }
    segment.time_relative = !segment.compiled->program->time_bounds().empty();
    const int index = static_cast<int>(object->segments.size());
    for (int attnum : segment.compiled->program->columns_read()) {
      if (attnum < 1 || attnum > object->natts) continue;
      read[static_cast<std::size_t>(attnum)] = true;
    }
    // When no condition changes its answer, the evaluation takes the same path and reaches the
    // same time bounds; their flip times move only when a column compared with a relative time
    // changes.
    for (int attnum : segment.compiled->program->time_columns()) {
      if (attnum < 1 || attnum > object->natts) continue;
      object->always_by_attnum[static_cast<std::size_t>(attnum)].push_back(index);
    }
    if (segment.time_relative) object->time_segments.push_back(index);
    if (!share_leaves(*object, *segment.compiled, leaf_ids, index)) {
      for (int attnum : segment.compiled->program->columns_read()) {
        if (attnum < 1 || attnum > object->natts) continue;
        std::vector<int>& always = object->always_by_attnum[static_cast<std::size_t>(attnum)];
        if (always.empty() || always.back() != index) always.push_back(index);
      }
    }
    object->segments.push_back(std::move(segment));
  }
  for (std::size_t attnum = 1; attnum < slots; ++attnum) {
    if (read[attnum]) object->columns_read.push_back(static_cast<AttrNumber>(attnum));
  }
  object->candidate.resize(object->segments.size(), 0);
  object->candidates.reserve(object->segments.size());
  return object;
}

ObjectSegments& object_segments(Oid relid, bool reload = false) {
  State& s = state();
  auto found = s.objects.find(relid);
  if (found != s.objects.end() && !reload && !found->second->stale &&
      found->second->environment == current_environment()) {
    return *found->second;
  }
  std::unique_ptr<ObjectSegments> object = load_current<ObjectSegments>(
      [&] { return load_object(relid); },
      [&](std::unique_ptr<ObjectSegments> replaced) { s.retired.push_back(std::move(replaced)); });
  found = s.objects.find(relid);  // loading may have looked the object up again
  if (found != s.objects.end()) {
    s.retired.push_back(std::move(found->second));
    found->second = std::move(object);
    return *found->second;
  }
  return *s.objects.emplace(relid, std::move(object)).first->second;
}

// Switches to a freshly reset per-row memory context for the duration of one row event.
MemoryContext enter_row_memory() {
  State& s = state();
  return pg_guard([&] {
    if (s.row_memory == nullptr) {
      s.row_memory = AllocSetContextCreate(TopMemoryContext, "pg_segments row evaluation",
                                           ALLOCSET_DEFAULT_SIZES);
    } else {
      MemoryContextReset(s.row_memory);
    }
    return MemoryContextSwitchTo(s.row_memory);
  });
}

template <typename Body>
void in_row_memory(Body&& body) {
  MemoryContext caller = enter_row_memory();
  try {
    body();
  } catch (...) {
    MemoryContextSwitchTo(caller);
    throw;
  }
  MemoryContextSwitchTo(caller);
}

void deform(HeapTuple tuple, TupleDesc desc, std::vector<Datum>& values, bool* nulls) {
  if (values.size() < static_cast<std::size_t>(desc->natts)) {
    throw Error(sqlstate::kInternalError, "row has more columns than the compiled segments");
  }
  pg_guard([&] { heap_deform_tuple(tuple, desc, values.data(), nulls); });
}

void add_candidates(ObjectSegments& object, const std::vector<int>& segments) {
  for (int index : segments) {
    char& flag = object.candidate[static_cast<std::size_t>(index)];
    if (flag) continue;
    // Listed before flagged: a flag is never set for a segment the list does not hold (the list
    // clears the flags), even if the list could not grow.
    object.candidates.push_back(index);
    flag = 1;
  }
}

bool is_member(Tri answer) {
  return answer == Tri::kTrue;
}

void earliest(std::optional<TimestampTz>& due, std::optional<TimestampTz> candidate) {
  if (candidate && (!due || *candidate < *due)) due = candidate;
}

// Next recheck time of a deformed row over every relative-time segment, given known: the
// earliest time of the segments flagged as candidates, already evaluated on this row (only the
// other relative-time segments are evaluated here).
std::optional<TimestampTz> row_due(ObjectSegments& object, const Datum* values, const bool* nulls,
                                   int natts, std::optional<TimestampTz> known) {
  std::optional<TimestampTz> due = known;
  for (int index : object.time_segments) {
    if (object.candidate[static_cast<std::size_t>(index)]) continue;
    RowEvaluator& evaluator = *object.segments[static_cast<std::size_t>(index)].compiled->evaluator;
    (void)evaluator.eval_values(values, nulls, natts);
    earliest(due, evaluator.next_due());
  }
  return due;
}

}  // namespace

void realtime_row_inserted(Relation relation, HeapTuple tuple) {
  const Oid relid = RelationGetRelid(relation);
  ObjectSegments& object = object_segments(relid);
  if (object.segments.empty()) return;
  const ObjectInfo& info = object_info(relid);
  if (!info.registered) return;
  TupleDesc desc = RelationGetDescr(relation);
  in_row_memory([&] {
    deform(tuple, desc, object.new_values, object.new_nulls.get());
    const Datum key = object.new_values[static_cast<std::size_t>(info.key_attnum - 1)];
    std::optional<TimestampTz> due;
    state().evaluations += static_cast<std::int64_t>(object.segments.size());
    for (RealtimeSegment& segment : object.segments) {
      RowEvaluator& evaluator = *segment.compiled->evaluator;
      if (is_member(evaluator.eval_values(object.new_values.data(), object.new_nulls.get(),
                                          desc->natts))) {
        buffer_change(info, segment.id, key, true);
      }
      if (segment.time_relative) earliest(due, evaluator.next_due());
    }
    if (due) buffer_due(info, key, due);
  });
}

void realtime_row_updated(Relation relation, HeapTuple old_tuple, HeapTuple new_tuple) {
  const Oid relid = RelationGetRelid(relation);
  ObjectSegments& object = object_segments(relid);
  if (object.segments.empty()) return;
  const ObjectInfo& info = object_info(relid);
  if (!info.registered) return;
  TupleDesc desc = RelationGetDescr(relation);
  in_row_memory([&] {
    deform(old_tuple, desc, object.old_values, object.old_nulls.get());
    deform(new_tuple, desc, object.new_values, object.new_nulls.get());
    const int natts = desc->natts;
    // Only segments that read a changed column can change their answer.
    object.changed_columns.clear();
    for (AttrNumber attnum : object.columns_read) {
      if (attnum > natts) continue;
      const std::size_t i = static_cast<std::size_t>(attnum - 1);
      bool changed = object.old_nulls[i] != object.new_nulls[i];
      if (!changed && !object.old_nulls[i]) {
        Form_pg_attribute attr = TupleDescAttr(desc, attnum - 1);
        // Byte comparison, which never raises (an unchanged toasted value keeps its pointer).
        changed =
            !datumIsEqual(object.old_values[i], object.new_values[i], attr->attbyval, attr->attlen);
      }
      if (!changed) continue;
      object.changed_columns.push_back(attnum);
    }
    const std::size_t key_index = static_cast<std::size_t>(info.key_attnum - 1);
    Form_pg_attribute key_attr = TupleDescAttr(desc, info.key_attnum - 1);
    const bool key_changed =
        !datumIsEqual(object.old_values[key_index], object.new_values[key_index],
                      key_attr->attbyval, key_attr->attlen);
    if (object.changed_columns.empty() && !key_changed) return;
    const Datum key = object.new_values[key_index];
    // Earliest recheck times of the old and the new row over the evaluated relative-time
    // segments.
    std::optional<TimestampTz> marked_old;
    std::optional<TimestampTz> marked_new;
    std::optional<TimestampTz> clock_now;  // read once per row, when needed
    bool time_evaluated = false;           // a relative-time segment was evaluated
    // An evaluated segment's next change on the old row is already past on the clock: a
    // recheck with a later now() may have replaced or removed the stored recheck time since.
    bool stored_due_may_be_stale = false;
    // Each condition reading a changed column, once on each row. A segment none of whose
    // conditions changed its answer keeps its answer (same conditions reached, same answer) and
    // reaches the same time bounds: it is evaluated only when a column it compares with a
    // relative time changed (for its recheck time) or when it reads other rows.
    for (int left : object.candidates) object.candidate[static_cast<std::size_t>(left)] = 0;
    object.candidates.clear();
    for (AttrNumber attnum : object.changed_columns) {
      for (int id : object.leaves_by_attnum[static_cast<std::size_t>(attnum)]) {
        ObjectSegments::SharedLeaf& shared = object.shared_leaves[static_cast<std::size_t>(id)];
        shared.evaluator->set_row(object.old_values.data(), object.old_nulls.get(), natts);
        const Tri before = shared.evaluator->leaf(shared.leaf);
        shared.evaluator->set_row(object.new_values.data(), object.new_nulls.get(), natts);
        if (before != shared.evaluator->leaf(shared.leaf)) {
          add_candidates(object, object.leaf_segments[static_cast<std::size_t>(id)]);
        }
      }
      add_candidates(object, object.always_by_attnum[static_cast<std::size_t>(attnum)]);
    }
    // In segment order, as the segments were defined.
    std::sort(object.candidates.begin(), object.candidates.end());
    for (int candidate : object.candidates) {
      const std::size_t index = static_cast<std::size_t>(candidate);
      RealtimeSegment& segment = object.segments[index];
      ++state().evaluations;
      if (segment.time_relative) time_evaluated = true;
      RowEvaluator& evaluator = *segment.compiled->evaluator;
      const bool was =
          is_member(evaluator.eval_values(object.old_values.data(), object.old_nulls.get(), natts));
      std::optional<TimestampTz> old_due;
      if (segment.time_relative) {
        old_due = evaluator.next_due();
        earliest(marked_old, old_due);
      }
      const bool is =
          is_member(evaluator.eval_values(object.new_values.data(), object.new_nulls.get(), natts));
      if (segment.time_relative) earliest(marked_new, evaluator.next_due());
      // The old row's answer may have changed since this transaction's now() (its next change
      // is already past on the clock), and a recheck or a writer with a later now() may have
      // stored that newer answer: the new answer is then set, not derived from the old one.
      if (old_due && !clock_now) clock_now = pg_guard([] { return GetCurrentTimestamp(); });
      const bool old_answer_may_be_stale = old_due && *old_due <= *clock_now;
      if (old_answer_may_be_stale) stored_due_may_be_stale = true;
      if (was != is || old_answer_may_be_stale) buffer_change(info, segment.id, key, is);
    }
    if (object.time_segments.empty() || (!time_evaluated && !key_changed)) return;
    if (key_changed) {
      // The old key's recheck row went with the key move.
      std::optional<TimestampTz> due =
          row_due(object, object.new_values.data(), object.new_nulls.get(), natts, marked_new);
      if (due) buffer_due(info, key, due);
      return;
    }
    // The row's recheck time is the earliest over every relative-time segment. Those not
    // evaluated read no changed column, so their times are unchanged; if the evaluated ones'
    // earliest is unchanged too, so is the row's, and nothing is written. Unless the stored
    // time may no longer be the one this transaction's now() derives: a recheck that ran after
    // that now() (this writer waited for its row lock) evaluated the old row later, dropped a
    // change that had already happened for it, and stored the time after it or none. This
    // writer's answer is as of its own now(), so the time it derives (already passed) is written
    // again and the next refresh_due() applies the change.
    if (marked_old == marked_new && !stored_due_may_be_stale) return;
    buffer_due(
        info, key,
        row_due(object, object.new_values.data(), object.new_nulls.get(), natts, marked_new));
  });
}

bool realtime_row_superseded(HeapTuple tuple) {
  HeapTupleHeader header = tuple->t_data;
  if ((header->t_infomask & HEAP_XMAX_INVALID) != 0) return false;
  if (HEAP_XMAX_IS_LOCKED_ONLY(header->t_infomask)) return false;
  return pg_guard([&] {
    TransactionId updater = HeapTupleHeaderGetUpdateXid(header);
    return TransactionIdIsValid(updater) && TransactionIdIsCurrentTransactionId(updater);
  });
}

void realtime_row_resync(Relation relation, HeapTuple tuple, const Datum* old_key) {
  const Oid relid = RelationGetRelid(relation);
  const ObjectInfo& info = object_info(relid);
  if (!info.registered) return;
  // Earlier events first, in the order they happened.
  flush_object(relid);
  ObjectSegments& object = object_segments(relid);
  TupleDesc desc = RelationGetDescr(relation);
  // The newest version this transaction can see, following the update chain.
  HeapTuple latest = pg_guard([&] {
    HeapTuple found = nullptr;
    ItemPointerData tid = tuple->t_self;
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = table_beginscan_tid(relation, snapshot);
    table_tuple_get_latest_tid(scan, &tid);
    table_endscan(scan);
    TupleTableSlot* slot = table_slot_create(relation, nullptr);
    if (table_tuple_fetch_row_version(relation, &tid, snapshot, slot)) {
      found = ExecCopySlotHeapTuple(slot);
    }
    ExecDropSingleTupleTableSlot(slot);
    UnregisterSnapshot(snapshot);
    return found;
  });
  const std::size_t key_index = static_cast<std::size_t>(info.key_attnum - 1);
  Form_pg_attribute key_attr = TupleDescAttr(desc, info.key_attnum - 1);
  if (latest == nullptr) {
    // Deleted since: its memberships end (its delete event says so too; both are harmless).
    if (old_key != nullptr) buffer_deleted_key(info, *old_key);
    flush_object(relid);
    return;
  }
  in_row_memory([&] {
    deform(latest, desc, object.new_values, object.new_nulls.get());
    if (object.new_nulls[key_index]) return;
    const Datum key = object.new_values[key_index];
    if (old_key != nullptr && !pg_guard([&] {
          return datumIsEqual(*old_key, key, key_attr->attbyval, key_attr->attlen);
        })) {
      buffer_moved_key(info, *old_key, key);
    }
    // Every realtime segment's answer for the newest version; writing an answer that is
    // already stored changes nothing.
    std::optional<TimestampTz> due;
    for (RealtimeSegment& segment : object.segments) {
      ++state().evaluations;
      RowEvaluator& evaluator = *segment.compiled->evaluator;
      const bool is = is_member(
          evaluator.eval_values(object.new_values.data(), object.new_nulls.get(), desc->natts));
      buffer_change(info, segment.id, key, is);
      if (segment.time_relative) earliest(due, evaluator.next_due());
    }
    if (!object.time_segments.empty()) buffer_due(info, key, due);
  });
  flush_object(relid);
}

namespace {

// Rows of relid read whole (as the relation's own row type, dropped columns included) and
// deformed for evaluation.
struct RowBatch {
  int count;
  Datum* rows;  // composite datums
};

// Evaluates a composite row datum (the object's row type) against the object's segments.
template <typename Visit>
void with_row(Datum row, TupleDesc desc, ObjectSegments& object, Visit&& visit) {
  HeapTupleHeader header = pg_guard([&] { return DatumGetHeapTupleHeader(row); });
  HeapTupleData tuple;
  tuple.t_len = HeapTupleHeaderGetDatumLength(header);
  ItemPointerSetInvalid(&tuple.t_self);
  tuple.t_tableOid = InvalidOid;
  tuple.t_data = header;
  deform(&tuple, desc, object.new_values, object.new_nulls.get());
  visit();
}

}  // namespace

std::int64_t merge_rechecks(Oid relid, std::int64_t segment_id) {
  const ObjectInfo& info = object_info(relid);
  if (!info.registered) return 0;
  // Only this segment is compiled (not the table's whole set), so creating many segments in
  // one transaction stays linear.
  std::string filter;
  for (const Definition& definition : load_definitions(relid)) {
    if (definition.id == segment_id) filter = definition.filter;
  }
  if (filter.empty()) return 0;
  std::unique_ptr<CompiledFilter> compiled = compile_filter(relid, filter);
  if (compiled->program->time_bounds().empty()) {
    retire_compiled(std::move(compiled));
    return 0;
  }
  RowEvaluator* evaluator = compiled->evaluator.get();
  // Row buffers sized for the table; this segment is the only one evaluated.
  auto scratch = std::make_unique<ObjectSegments>();
  const std::size_t slots = static_cast<std::size_t>(pg_guard([&] {
                              Relation rel = relation_open(relid, AccessShareLock);
                              int natts = RelationGetNumberOfAttributes(rel);
                              relation_close(rel, NoLock);
                              return natts;
                            })) +
                            1;
  scratch->new_values.resize(slots);
  scratch->new_nulls = std::make_unique<bool[]>(slots);
  ObjectSegments& object = *scratch;
  TupleDesc desc = pg_guard([&] {
    Relation rel = relation_open(relid, AccessShareLock);
    TupleDesc copy = CreateTupleDescCopy(RelationGetDescr(rel));
    relation_close(rel, NoLock);
    return copy;
  });
  // Collected (key text, due) pairs, written below in one statement per batch.
  std::vector<std::string> keys;
  std::vector<TimestampTz> dues;
  const std::string query = "SELECT o FROM " + info.object_sql + " AS o";
  struct Cursor {
    Portal portal;
  };
  as_role(info.writer, [&] {
    Cursor cursor = pg_guard([&] {
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
      SPIPlanPtr plan = SPI_prepare(query.c_str(), 0, nullptr);
      if (plan == nullptr) elog(ERROR, "pg_segments: could not read the object");
      return Cursor{SPI_cursor_open(nullptr, plan, nullptr, nullptr, true)};
    });
    for (;;) {
      check_for_interrupts();
      RowBatch batch = pg_guard([&] {
        SPI_cursor_fetch(cursor.portal, true, 2000);
        RowBatch b{static_cast<int>(SPI_processed), nullptr};
        b.rows = static_cast<Datum*>(palloc(sizeof(Datum) * (b.count + 1)));
        for (int i = 0; i < b.count; ++i) {
          bool isnull;
          b.rows[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
        }
        return b;
      });
      if (batch.count == 0) break;
      for (int i = 0; i < batch.count; ++i) {
        in_row_memory([&] {
          with_row(batch.rows[i], desc, object, [&] {
            (void)evaluator->eval_values(object.new_values.data(), object.new_nulls.get(),
                                         desc->natts);
            std::optional<TimestampTz> due = evaluator->next_due();
            if (!due) return;
            const Datum key = object.new_values[static_cast<std::size_t>(info.key_attnum - 1)];
            char* text = pg_guard([&] {
              Oid output;
              bool varlena;
              getTypeOutputInfo(info.key_type, &output, &varlena);
              return OidOutputFunctionCall(output, key);
            });
            keys.emplace_back(text);
            dues.push_back(*due);
          });
        });
      }
      pg_guard([&] { SPI_freetuptable(SPI_tuptable); });
    }
    pg_guard([&] {
      SPI_cursor_close(cursor.portal);
      SPI_finish();
    });
    return 0;
  });
  const std::size_t kBatch = 50000;
  for (std::size_t start = 0; start < keys.size(); start += kBatch) {
    std::size_t end = std::min(keys.size(), start + kBatch);
    std::vector<std::string> part_keys(keys.begin() + static_cast<long>(start),
                                       keys.begin() + static_cast<long>(end));
    Datum times = pg_guard([&] {
      auto* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (end - start + 1)));
      for (std::size_t i = start; i < end; ++i) elements[i - start] = TimestampTzGetDatum(dues[i]);
      return PointerGetDatum(construct_array(elements, static_cast<int>(end - start),
                                             TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
    Oid types[2] = {TEXTARRAYOID, TIMESTAMPTZARRAYOID};
    Datum values[2] = {text_array(part_keys), times};
    run_sql("INSERT INTO " + info.rechecks_sql + " AS r (member, due_at) SELECT k::" +
                pg_guard([&] { return format_type_be_qualified(info.key_type); }) +
                ", d FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS n(k, d) "
                "ON CONFLICT (member) DO UPDATE SET due_at = EXCLUDED.due_at "
                "WHERE EXCLUDED.due_at < r.due_at",
            info.writer, 2, types, values);
  }
  retire_compiled(std::move(compiled));
  return static_cast<std::int64_t>(keys.size());
}

std::int64_t recheck_due_rows(Oid relid, int limit) {
  // A writer's lock: a definition change of the object's segments (SHARE ROW EXCLUSIVE) waits
  // for this recheck to commit, or this recheck waits for it and then uses the new definitions.
  // Without it, a filter change could recompute beside a recheck that then removes members with
  // the old filter.
  pg_guard([&] { LockRelationOid(relid, RowExclusiveLock); });
  ObjectSegments& object = object_segments(relid);
  const ObjectInfo& info = object_info(relid);
  if (!info.registered) return 0;
  if (object.time_segments.empty()) {
    run_sql("DELETE FROM " + info.rechecks_sql, info.writer);
    return 0;
  }
  TupleDesc desc = pg_guard([&] {
    Relation rel = relation_open(relid, AccessShareLock);
    TupleDesc copy = CreateTupleDescCopy(RelationGetDescr(rel));
    relation_close(rel, NoLock);
    return copy;
  });
  std::vector<std::string> segment_ids;
  for (int index : object.time_segments) {
    segment_ids.push_back(std::to_string(object.segments[static_cast<std::size_t>(index)].id));
  }
  // Due rows, locked in the object itself (a row a writer holds is skipped: that writer
  // re-evaluates it), their stored memberships in the time-relative segments.
  const std::string query =
      "WITH due AS (SELECT r.member FROM " + info.rechecks_sql +
      " r WHERE r.due_at <= pg_catalog.now() ORDER BY r.due_at LIMIT $1), "
      "locked AS (SELECT o FROM " +
      info.object_sql + " o WHERE o." + info.key_column_sql + " " + info.key_equals +
      " ANY (SELECT member FROM due) FOR UPDATE OF o SKIP LOCKED) "
      "SELECT (SELECT pg_catalog.array_agg(l.o) FROM locked l), "
      "(SELECT pg_catalog.array_agg(m.segment_id::pg_catalog.text OPERATOR(pg_catalog.||) '|' "
      "OPERATOR(pg_catalog.||) m.member::pg_catalog.text) FROM " +
      info.membership_sql + " m WHERE m.member " + info.key_equals +
      " ANY (SELECT member FROM due) "
      "AND m.segment_id::pg_catalog.text OPERATOR(pg_catalog.=) ANY ($2))";
  Oid types[2] = {INT4OID, TEXTARRAYOID};
  Datum values[2] = {Int32GetDatum(limit), text_array(segment_ids)};
  std::vector<Datum> result = run_sql_row(query, info.writer, 2, types, values);
  if (result.empty() || result[0] == Datum(0)) return 0;
  struct Rows {
    int count;
    Datum* rows;
    int stored_count;
    char** stored;
  };
  Rows rows = pg_guard([&] {
    Rows r{0, nullptr, 0, nullptr};
    ArrayType* array = DatumGetArrayTypeP(result[0]);
    bool* nulls;
    int16 length;
    bool by_value;
    char align;
    get_typlenbyvalalign(ARR_ELEMTYPE(array), &length, &by_value, &align);
    deconstruct_array(array, ARR_ELEMTYPE(array), length, by_value, align, &r.rows, &nulls,
                      &r.count);
    if (result[1] != Datum(0)) {
      Datum* items;
      bool* item_nulls;
      deconstruct_array(DatumGetArrayTypeP(result[1]), TEXTOID, -1, false, TYPALIGN_INT, &items,
                        &item_nulls, &r.stored_count);
      r.stored = static_cast<char**>(palloc(sizeof(char*) * (r.stored_count + 1)));
      for (int i = 0; i < r.stored_count; ++i) r.stored[i] = TextDatumGetCString(items[i]);
    }
    return r;
  });
  std::unordered_set<std::string> stored;
  for (int i = 0; i < rows.stored_count; ++i) stored.insert(rows.stored[i]);
  for (int i = 0; i < rows.count; ++i) {
    in_row_memory([&] {
      with_row(rows.rows[i], desc, object, [&] {
        const Datum key = object.new_values[static_cast<std::size_t>(info.key_attnum - 1)];
        std::string key_text = pg_guard([&] {
          Oid output;
          bool varlena;
          getTypeOutputInfo(info.key_type, &output, &varlena);
          return OidOutputFunctionCall(output, key);
        });
        std::optional<TimestampTz> due;
        for (int index : object.time_segments) {
          RealtimeSegment& segment = object.segments[static_cast<std::size_t>(index)];
          RowEvaluator& evaluator = *segment.compiled->evaluator;
          const bool is = is_member(
              evaluator.eval_values(object.new_values.data(), object.new_nulls.get(), desc->natts));
          const bool was = stored.count(std::to_string(segment.id) + "|" + key_text) != 0;
          if (was != is) buffer_change(info, segment.id, key, is);
          earliest(due, evaluator.next_due());
        }
        buffer_due(info, key, due);
      });
    });
  }
  flush_object(relid, true);
  return rows.count;
}

std::int64_t realtime_evaluations() {
  return state().evaluations;
}

namespace {

void on_transaction_end(XactEvent event, void*) {
  if (!ends_transaction(event)) return;
  State& s = state();
  try {
    for (auto& object : s.retired) retire_segments(*object);
  } catch (...) {
    // Handing entries to the filter cache's retirement only allocates; a callback must not
    // throw in any case.
  }
  s.retired.clear();
}

}  // namespace

void register_realtime_callbacks() {
  CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
  RegisterXactCallback(on_transaction_end, nullptr);
}

}  // namespace pgseg::pg
