// Entry points used only by the regression tests of the error boundary. They are not part of
// the extension's SQL surface; the tests declare them with CREATE FUNCTION ... LANGUAGE C.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pg/boundary.hpp"

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
PGSEG_FUNCTION(pgseg_test_destroyed) { return Int32GetDatum(destroyed_sentinels); }
