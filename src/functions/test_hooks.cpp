// Entry points used only by the regression tests of the error boundary. They are not part of
// the extension's SQL surface; the tests declare them with CREATE FUNCTION ... LANGUAGE C.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pg/boundary.hpp"
#include "pg/filter_cache.hpp"
#include "pg/filter_datum.hpp"
#include "pg/realtime.hpp"

extern "C" {
#include "portability/instr_time.h"
}

using pgseg::pg::pg_guard;

namespace {

int destroyed_sentinels = 0;

// Counts its own destruction, to show that an error unwound C++ frames properly.
struct Sentinel {
  std::vector<std::string> payload{"kept", "alive", "until", "unwound"};
  ~Sentinel() { ++destroyed_sentinels; }
};

void run_query_deep(const std::string& query, int depth) {
  Sentinel sentinel;
  auto owned = std::make_unique<std::string>(query);
  if (depth > 0) {
    run_query_deep(query, depth - 1);
    return;
  }
  pg_guard([&] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    SPI_execute(owned->c_str(), false, 0);
    SPI_finish();
  });
}

void throw_deep(const std::string& kind, int depth) {
  Sentinel sentinel;
  if (depth > 0) {
    throw_deep(kind, depth - 1);
    return;
  }
  if (kind == "runtime_error") throw std::runtime_error("deliberate failure deep in C++");
  if (kind == "bad_alloc") throw std::bad_alloc();
  if (kind == "core_error") {
    throw pgseg::Error("22023", "deliberate core error", "raised 5 frames deep", "none needed");
  }
  if (kind == "integer") throw 42;
}

}  // namespace

// pgseg_test_throw(kind text): throws a C++ exception of the given kind five frames deep.
PGSEG_FUNCTION(pgseg_test_throw) {
  std::string kind = pg_guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
  throw_deep(kind, 5);
  return BoolGetDatum(true);
}

// pgseg_test_postgres_error(query text): runs query via SPI five C++ frames deep.
PGSEG_FUNCTION(pgseg_test_postgres_error) {
  std::string query = pg_guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
  run_query_deep(query, 5);
  return BoolGetDatum(true);
}

// pgseg_test_destroyed(): how many sentinel objects the failures above destroyed.
PGSEG_FUNCTION(pgseg_test_destroyed) {
  return Int32GetDatum(destroyed_sentinels);
}

// pgseg_test_evaluate_loop(filter, row, iterations): evaluates filter on row iterations times
// inside the backend (tuple deform, cell fill and evaluation, as triggers will) and returns
// the mean nanoseconds per evaluation. Used by bench/evaluator_in_server.sh.
PGSEG_FUNCTION(pgseg_test_evaluate_loop) {
  const struct varlena* filter = pg_guard([&] { return PG_GETARG_VARLENA_PP(0); });
  HeapTupleHeader row = pg_guard([&] { return PG_GETARG_HEAPTUPLEHEADER(1); });
  const int64 iterations = PG_GETARG_INT64(2);
  Oid relid = pg_guard([&] { return typeidTypeRelid(HeapTupleHeaderGetTypeId(row)); });
  TupleDesc desc = pg_guard([&] {
    return lookup_rowtype_tupdesc_copy(HeapTupleHeaderGetTypeId(row),
                                       HeapTupleHeaderGetTypMod(row));
  });
  pgseg::pg::CompiledFilter& compiled =
      pgseg::pg::compiled_filter(relid, pgseg::pg::filter_text(filter));
  HeapTupleData tuple;
  tuple.t_len = HeapTupleHeaderGetDatumLength(row);
  ItemPointerSetInvalid(&tuple.t_self);
  tuple.t_tableOid = InvalidOid;
  tuple.t_data = row;
  MemoryContext scratch = pg_guard([] {
    return AllocSetContextCreate(CurrentMemoryContext, "evaluate loop", ALLOCSET_DEFAULT_SIZES);
  });
  MemoryContext caller = MemoryContextSwitchTo(scratch);
  int matched = 0;
  instr_time start;
  instr_time elapsed;
  INSTR_TIME_SET_CURRENT(start);
  for (int64 i = 0; i < iterations; ++i) {
    if (compiled.evaluator->eval(&tuple, desc) == pgseg::Tri::kTrue) ++matched;
    if ((i & 1023) == 0) {
      pg_guard([&] { MemoryContextReset(scratch); });
      pgseg::pg::check_for_interrupts();
    }
  }
  INSTR_TIME_SET_CURRENT(elapsed);
  INSTR_TIME_SUBTRACT(elapsed, start);
  MemoryContextSwitchTo(caller);
  (void)matched;
  double nanoseconds = INSTR_TIME_GET_DOUBLE(elapsed) * 1e9 / static_cast<double>(iterations);
  return Float8GetDatum(nanoseconds);
}

// pgseg_test_realtime_evaluations(): how many segment evaluations realtime triggers made in
// this session, to show that an UPDATE evaluates only segments reading a changed column.
PGSEG_FUNCTION(pgseg_test_realtime_evaluations) {
  return Int64GetDatum(pgseg::pg::realtime_evaluations());
}
