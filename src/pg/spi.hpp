// Running SQL from C++ through SPI, with the caller's choice of role and a pinned search_path.
#pragma once

#include "pg/postgres.hpp"

#include "pg/boundary.hpp"

#include <string>
#include <vector>

namespace pgseg::pg {

// Runs statement (read_only: a query) with search_path pinned to pg_catalog, pg_temp, as role
// when role is valid (a restricted, local role change, as REFRESH MATERIALIZED VIEW does), and
// returns the first row's columns as int64 values (NULL as 0). Errors propagate as PgError,
// with the role and settings restored first.
std::vector<int64> run_sql(const std::string& statement, Oid role = InvalidOid, int nparams = 0,
                           Oid* types = nullptr, Datum* values = nullptr);

// Like run_sql, but returns the first row's values as Datums copied into the caller's memory
// context; empty when there is no row or its first value is NULL.
std::vector<Datum> run_sql_row(const std::string& statement, Oid role, int nparams, Oid* types,
                               Datum* values);

// SPI_execute_with_args of a read-only catalog query (call it inside pg_guard, SPI connected)
// under the latest snapshot rather than the statement's: definitions are read as committed
// now, so a writer that waited for a definition change's lock sees that change.
int execute_catalog_query(const char* query, int nargs, Oid* types, Datum* values, long count);

// Runs body with search_path pinned to pg_catalog, pg_temp and, when role is valid, the
// current user switched to role (restricted, local), restoring both afterwards.
template <typename Body>
auto as_role(Oid role, Body&& body, bool pin_search_path = true) -> decltype(body()) {
  Oid saved_user;
  int saved_context;
  GetUserIdAndSecContext(&saved_user, &saved_context);
  int nest_level = -1;
  if (pin_search_path) {
    nest_level = pg_guard([] {
      int level = NewGUCNestLevel();
      (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                              GUC_ACTION_SAVE, true, 0, false);
      return level;
    });
  }
  if (OidIsValid(role)) {
    SetUserIdAndSecContext(
        role, saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
  }
  try {
    auto result = body();
    SetUserIdAndSecContext(saved_user, saved_context);
    if (nest_level >= 0) pg_guard([&] { AtEOXact_GUC(true, nest_level); });
    return result;
  } catch (...) {
    SetUserIdAndSecContext(saved_user, saved_context);
    if (nest_level >= 0) pg_guard([&] { AtEOXact_GUC(false, nest_level); });
    throw;
  }
}

// Runs query (one parameter $1 of type, value) as role (the current user when invalid), with
// search_path pinned, and returns every row's columns as text (NULL as "").
std::vector<std::vector<std::string>> text_rows(const char* query, Oid type, Datum value, Oid role);

// A text[] of items, in the current memory context.
Datum text_array(const std::vector<std::string>& items);

// Whether a transaction callback event ends the (top-level) transaction.
inline bool ends_transaction(XactEvent event) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
      return true;
    default:
      return false;
  }
}

// Owner of a relation.
Oid relation_owner(Oid relid);

// The first row of the last SPI result, copied into `into` (NULL columns as 0), with its number
// of columns in *count. PostgreSQL code: call it inside pg_guard, with a row present.
Datum* copy_first_row(MemoryContext into, int* count);

}  // namespace pgseg::pg
