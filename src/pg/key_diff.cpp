// A refresh that compares keys in memory: the stored members and the new keys arrive from one
// query (both sets read in one snapshot, with parallel workers where the planner takes them),
// are radix-sorted in memory and compared in one pass, and only keys on one side are written
// (each write statement with a snapshot of its own, as any statement of the refresh). A refresh
// that changes nothing is then one scan of the object and one of the membership, with no join
// and no SQL sort.
#include "pg/key_diff.hpp"

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <type_traits>

#include "core/key_sets.hpp"
#include "pg/boundary.hpp"
#include "pg/spi.hpp"

namespace pgseg::pg {

namespace {

// The core sorts and splits std::int64_t arrays in place of PostgreSQL's int64 ones.
static_assert(sizeof(int64) == sizeof(std::int64_t) && std::is_signed_v<int64>);

constexpr int32 kStored = 1;
constexpr int32 kNew = 2;

// A growing array of keys, palloc'd in a work context (freed with it, or with the
// transaction on error).
struct KeyArray {
  int64* keys;
  uint64 count;
  uint64 capacity;
};

// Both sides of a refresh, as read; full once they would pass max_keys together.
struct KeySides {
  KeyArray stored;
  KeyArray fresh;
  uint64 max_keys;
  bool overflow;
  MemoryContext context;
};

void allocate_keys(KeySides* sides, KeyArray* array, uint64 capacity) {
  const std::size_t bytes = capacity * sizeof(int64);
  array->keys = static_cast<int64*>(
      array->keys == nullptr ? MemoryContextAllocExtended(sides->context, bytes, MCXT_ALLOC_HUGE)
                             : repalloc_huge(array->keys, bytes));
  array->capacity = capacity;
}

bool add_key(KeySides* sides, KeyArray* array, int64 key) {
  if (array->count == array->capacity) {
    if (sides->stored.count + sides->fresh.count >= sides->max_keys) {
      sides->overflow = true;
      return false;
    }
    allocate_keys(sides, array, array->capacity * 2);
  }
  array->keys[array->count++] = key;
  return true;
}

// Receives the read query's rows by side; stops the query when the keys would not fit.
struct KeyReceiver {
  DestReceiver base;  // first, so a DestReceiver* is a KeyReceiver*
  KeySides* sides;
};

// Called by the executor: raises PostgreSQL errors, never throws.
bool receive_key(TupleTableSlot* slot, DestReceiver* self) noexcept {
  auto* receiver = reinterpret_cast<KeyReceiver*>(self);
  slot_getsomeattrs(slot, 2);
  if (slot->tts_isnull[0] || slot->tts_isnull[1]) {
    ereport(ERROR,
            (errcode(ERRCODE_INTERNAL_ERROR), errmsg("pg_segments: a refresh read a NULL key")));
  }
  const int32 side = DatumGetInt32(slot->tts_values[1]);
  if (side != kStored && side != kNew) {
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("pg_segments: a refresh read an unknown side %d", side)));
  }
  KeySides* sides = receiver->sides;
  return add_key(sides, side == kStored ? &sides->stored : &sides->fresh,
                 DatumGetInt64(slot->tts_values[0]));
}

void check_read_shape(DestReceiver*, int, TupleDesc description) noexcept {
  if (description->natts != 2 || TupleDescAttr(description, 0)->atttypid != INT8OID ||
      TupleDescAttr(description, 1)->atttypid != INT4OID) {
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("pg_segments: a refresh's key query must return (bigint, integer)")));
  }
}

void receiver_done(DestReceiver*) noexcept {}

// Runs statement with $1 = keys[0..count) as bigint[]; returns its single bigint result.
int64 write_keys(const char* statement, const int64* keys, uint64 count) {
  auto* elements = static_cast<Datum*>(
      MemoryContextAllocExtended(CurrentMemoryContext, count * sizeof(Datum), MCXT_ALLOC_HUGE));
  for (uint64 i = 0; i < count; ++i) elements[i] = Int64GetDatum(keys[i]);
  Oid types[1] = {INT8ARRAYOID};
  Datum values[1] = {PointerGetDatum(construct_array(elements, static_cast<int>(count), INT8OID, 8,
                                                     FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))};
  const int rc = SPI_execute_with_args(statement, 1, types, values, nullptr, false, 0);
  if (rc < 0) elog(ERROR, "pg_segments: SPI_execute failed: %s", SPI_result_code_string(rc));
  if (SPI_tuptable == nullptr || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != 1 ||
      TupleDescAttr(SPI_tuptable->tupdesc, 0)->atttypid != INT8OID) {
    elog(ERROR, "pg_segments: a refresh's write must return one bigint");
  }
  bool isnull;
  const Datum written = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  return isnull ? 0 : DatumGetInt64(written);
}

struct DiffResult {
  bool fitted;
  RefreshCounts counts;
};

// PostgreSQL code from here on: call inside pg_guard.
DiffResult diff_and_write(const KeyDiffStatements* statements, uint64 max_keys) {
  DiffResult result{false, {}};
  MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "pg_segments refresh keys",
                                             ALLOCSET_DEFAULT_SIZES);
  KeySides sides{};
  sides.context = work;
  sides.max_keys = max_keys;
  allocate_keys(&sides, &sides.stored, 1024);
  allocate_keys(&sides, &sides.fresh, 1024);

  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
  KeyReceiver receiver;
  memset(&receiver, 0, sizeof(receiver));
  receiver.base.receiveSlot = receive_key;
  receiver.base.rStartup = check_read_shape;
  receiver.base.rShutdown = receiver_done;
  receiver.base.rDestroy = receiver_done;
  // Not DestSPI: nothing goes to SPI_tuptable (SPI then reports SPI_OK_UTILITY for the read).
  receiver.base.mydest = DestNone;
  receiver.sides = &sides;
  SPIExecuteOptions options;
  memset(&options, 0, sizeof(options));
  options.dest = &receiver.base;
  const int rc = SPI_execute_extended(statements->read, &options);
  if (rc < 0) elog(ERROR, "pg_segments: SPI_execute failed: %s", SPI_result_code_string(rc));
  if (sides.overflow) {
    SPI_finish();
    MemoryContextDelete(work);
    return result;
  }

  // Sorted, both sides are compared in one pass; the keys on one side are written in order.
  KeyArray& stored = sides.stored;
  KeyArray& fresh = sides.fresh;
  auto* scratch = static_cast<int64*>(MemoryContextAllocExtended(
      work, (std::max(stored.count, fresh.count) + 1) * sizeof(int64), MCXT_ALLOC_HUGE));
  sort_keys(stored.keys, stored.count, scratch);
  sort_keys(fresh.keys, fresh.count, scratch);
  auto* removed = static_cast<int64*>(
      MemoryContextAllocExtended(work, (stored.count + 1) * sizeof(int64), MCXT_ALLOC_HUGE));
  int64* added = scratch;  // done sorting
  const KeySplit split =
      split_sorted_keys(stored.keys, stored.count, fresh.keys, fresh.count, removed, added);
  const uint64 n_removed = split.only_first;
  const uint64 n_added = split.only_second;
  const uint64 both = split.both;
  if (n_removed > 0) result.counts.removed = write_keys(statements->remove, removed, n_removed);
  if (n_added > 0) result.counts.added = write_keys(statements->add, added, n_added);
  SPI_finish();
  MemoryContextDelete(work);
  result.fitted = true;
  result.counts.total = static_cast<int64>(both) + result.counts.added;
  return result;
}

}  // namespace

uint64 refresh_key_limit(std::size_t max_bytes) {
  // About 32 bytes per key: 8 as read, 8 more while its array doubles, 16 to sort and write
  // it. The bigint[] of keys handed to SQL must stay well under 1GB (MaxAllocSize).
  constexpr uint64 kLargestArray = UINT64CONST(64) * 1024 * 1024;
  return std::min<uint64>(std::max<uint64>(max_bytes / 32, 1024), kLargestArray);
}

std::optional<RefreshCounts> refresh_by_integer_keys(const KeyDiffStatements& statements,
                                                     std::size_t max_bytes, double estimated_rows) {
  const uint64 max_keys = refresh_key_limit(max_bytes);
  // Reading keys only to find that they do not fit would double the refresh of a large
  // segment: a table clearly too large goes to SQL at once.
  if (estimated_rows > static_cast<double>(max_keys)) return std::nullopt;
  const DiffResult result = as_role(
      InvalidOid, [&] { return pg_guard([&] { return diff_and_write(&statements, max_keys); }); });
  if (!result.fitted) return std::nullopt;
  return result.counts;
}

}  // namespace pgseg::pg
