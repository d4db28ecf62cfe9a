// Realtime segments: evaluating row changes against an object's active realtime segments, and
// the relative-time rechecks that keep them exact as time passes.
#pragma once

#include "pg/postgres.hpp"

#include <cstdint>

namespace pgseg::pg {

// Row events of an object (called from its row trigger, after key bookkeeping).
void realtime_row_inserted(Relation relation, HeapTuple tuple);
void realtime_row_updated(Relation relation, HeapTuple old_tuple, HeapTuple new_tuple);

// Whether this transaction changed or deleted the row again after this version (a statement
// run by another trigger before this row's event fired). Such an event's tuples are stale.
bool realtime_row_superseded(HeapTuple tuple);
// Brings the row's memberships to the truth of its newest version instead: everything buffered
// is written first, then every realtime segment's answer for the newest version (and the move
// of memberships from old_key, when given, to the newest key). Used for superseded events.
void realtime_row_resync(Relation relation, HeapTuple tuple, const Datum* old_key);

// Merges the recheck times of one realtime segment (just created, activated or altered) into
// those of relid: the earlier time wins. Times of segments that are gone are left in place: a
// row rechecked early is simply evaluated again and gets its real next time. Returns the
// number of rows that have a time from this segment.
std::int64_t merge_rechecks(Oid relid, std::int64_t segment_id);

// Re-evaluates rows whose recheck time has come (at most limit), locking them first so that a
// concurrent writer is waited for. Returns the number of rows rechecked.
std::int64_t recheck_due_rows(Oid relid, int limit);

// Segment evaluations made by row triggers in this session (for tests of the changed-column
// filtering).
std::int64_t realtime_evaluations();

// Registers invalidation callbacks; called once from _PG_init.
void register_realtime_callbacks();

}  // namespace pgseg::pg
