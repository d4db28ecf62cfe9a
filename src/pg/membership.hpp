// Membership maintenance on objects: what triggers buffer per row and write per statement.
#pragma once

#include "pg/postgres.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace pgseg::pg {

// What the registry (segments.object) says about an object with segments.
struct ObjectInfo {
  bool registered = false;
  Oid relid = InvalidOid;
  Oid membership = InvalidOid;  // the membership table
  std::string membership_sql;   // its schema-qualified, quoted name
  std::string rechecks_sql;     // the table of relative-time recheck times
  std::string object_sql;       // the object itself
  std::string key_column_sql;   // the object's key column, quoted
  AttrNumber key_attnum = InvalidAttrNumber;
  Oid key_type = InvalidOid;
  Oid key_array_type = InvalidOid;
  int16 key_length = 0;
  bool key_by_value = false;
  char key_align = 'i';
  std::string key_equals;   // OPERATOR(schema.=) for the key type
  Oid writer = InvalidOid;  // role that writes membership (the tables' owner)
};

// The registry entry of relid, cached per session and refreshed after relcache invalidation.
const ObjectInfo& object_info(Oid relid);

// Row events, buffered until the statement ends.
void buffer_deleted_key(const ObjectInfo& info, Datum key);
void buffer_moved_key(const ObjectInfo& info, Datum old_key, Datum new_key);
// A realtime segment's member enters (or leaves) because of a row change.
void buffer_change(const ObjectInfo& info, std::int64_t segment, Datum key, bool entering);
// The row's next relative-time recheck (none: no recheck needed).
void buffer_due(const ObjectInfo& info, Datum key, std::optional<TimestampTz> due);

// Writes everything buffered for relid: one set-wise statement per kind of change, with the
// change feed and a NOTIFY per segment touched. rechecked: the buffered recheck times come
// from evaluating every relative-time segment against stored membership (refresh_due()), and
// replace stored ones even where those have passed.
void flush_object(Oid relid, bool rechecked = false);

// The statement writing membership exits and entries with their change feed and a NOTIFY per
// segment touched: $1 bigint[] and $2 key[] the exits (segment, member), $3 bigint[] and $4
// key[] the entries (all four declared); exits or entries false leaves that part out.
// Entering pairs already stored and exiting pairs not stored are skipped.
std::string membership_changes_sql(const ObjectInfo& info, bool exits, bool entries);

// TRUNCATE of the object: every membership of it ends.
void truncate_object_membership(Oid relid);

// Registers invalidation and transaction callbacks; called once from _PG_init.
void register_membership_callbacks();

}  // namespace pgseg::pg
