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

// A row of a related table (or of a membership relation) changed: marks the keys of the object
// rows that reach it, for every object with realtime segments reading the table.
void related_row_changed(Relation relation, HeapTuple tuple);

// Whether an UPDATE of a row of a table that segments read changed a column they read or join
// on; one that did not cannot change any answer and is not followed (no lock, no look-up).
bool related_update_matters(Relation relation, HeapTuple old_tuple, HeapTuple new_tuple);

// An UPDATE of a row that object rows may reference through many-to-one keys, before its old and
// new versions are passed to related_row_changed: waits for transactions adding references.
void related_row_updating(Relation relation, HeapTuple old_tuple, HeapTuple new_tuple);

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
