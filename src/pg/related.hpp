// Realtime segments that read other rows than the object's own (related tables through foreign
// keys, other segments' membership). They are kept true set-wise: row triggers mark the object
// keys a change may affect, and at the end of the statement each such segment is recomputed for
// the marked keys only (segments._refresh_keys), in dependency order.
#pragma once

#include "pg/postgres.hpp"

#include <cstdint>

namespace pgseg::pg {

// The object's row with this key was inserted or updated: marks the key when the object has
// realtime segments over related rows.
void related_mark_object_row(Oid relid, Oid key_type, Datum key);

// A row of a related table (or of a membership relation) was inserted or deleted (tuple), or
// updated (tuple the old version, new_tuple the new one; nullptr otherwise): marks the keys of
// the object rows that reach either version, for every object with realtime segments reading
// the table. An UPDATE that changes no column the segments read or join on is not followed;
// one that does, of a row object rows reach through many-to-one keys, first locks it (and the
// rows that reach it) so that it waits for transactions adding references to it.
void related_row_event(Relation relation, HeapTuple tuple, HeapTuple new_tuple);

// A definition of one of relid's segments is being changed (segments.segment's BEFORE
// triggers): until related_release (its AFTER triggers, where the new definition is in the
// catalog), marks for relid are kept instead of being recomputed with the old definitions.
void related_hold(Oid relid);
void related_release(Oid relid);

// Recomputes the marked keys of one object (after its own statement), or of every object.
void related_flush(Oid relid);
void related_flush_all();

// TRUNCATE of a related table: the realtime segments reading it are recomputed whole.
void related_truncated(Oid relid);

// Recomputes one realtime segment over related rows for some keys (text[]): what
// segments.refresh_due() does for rows whose recheck time has come. Returns the keys' count.
std::int64_t related_recheck(Oid relid, std::int64_t segment, Datum keys);

// Records the recheck times of every row for one realtime segment over related rows with
// relative time (after it is created, activated or its filter changes). Returns the rows.
std::int64_t related_due_all(Oid relid, std::int64_t segment);

// Registers invalidation and transaction callbacks; called once from _PG_init.
void register_related_callbacks();

}  // namespace pgseg::pg
