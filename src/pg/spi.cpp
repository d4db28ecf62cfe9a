// SPI execution with role switching and a pinned search_path.
#include "pg/spi.hpp"

#include "pg/boundary.hpp"

namespace pgseg::pg {

int execute_catalog_query(const char* query, int nargs, Oid* types, Datum* values, long count) {
  PushActiveSnapshot(GetLatestSnapshot());
  const int rc = SPI_execute_with_args(query, nargs, types, values, nullptr, true, count);
  PopActiveSnapshot();
  return rc;
}

namespace {

struct RunResult {
  int64* values;
  int count;
};

RunResult execute(const char* statement, int nparams, Oid* types, Datum* values) {
  RunResult result{nullptr, 0};
  MemoryContext caller = CurrentMemoryContext;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
  int rc = nparams > 0 ? SPI_execute_with_args(statement, nparams, types, values, nullptr, false, 0)
                       : SPI_execute(statement, false, 0);
  if (rc < 0) elog(ERROR, "pg_segments: SPI_execute failed: %s", SPI_result_code_string(rc));
  if (SPI_tuptable != nullptr && SPI_processed > 0) {
    TupleDesc desc = SPI_tuptable->tupdesc;
    result.count = desc->natts;
    result.values =
        static_cast<int64*>(MemoryContextAllocZero(caller, sizeof(int64) * (desc->natts + 1)));
    for (int i = 0; i < desc->natts; ++i) {
      bool isnull;
      Datum d = SPI_getbinval(SPI_tuptable->vals[0], desc, i + 1, &isnull);
      if (isnull) continue;
      Oid type = TupleDescAttr(desc, i)->atttypid;
      result.values[i] = type == INT4OID   ? DatumGetInt32(d)
                         : type == INT2OID ? DatumGetInt16(d)
                         : type == INT8OID ? DatumGetInt64(d)
                                           : 0;
    }
  }
  SPI_finish();
  return result;
}

}  // namespace

Datum* copy_first_row(MemoryContext into, int* count) {
  TupleDesc desc = SPI_tuptable->tupdesc;
  *count = desc->natts;
  auto* values =
      static_cast<Datum*>(MemoryContextAllocZero(into, sizeof(Datum) * (desc->natts + 1)));
  for (int i = 0; i < desc->natts; ++i) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[0], desc, i + 1, &isnull);
    if (isnull) continue;
    Form_pg_attribute attr = TupleDescAttr(desc, i);
    MemoryContext old = MemoryContextSwitchTo(into);
    values[i] = datumCopy(d, attr->attbyval, attr->attlen);
    MemoryContextSwitchTo(old);
  }
  return values;
}

namespace {

struct RowResult {
  Datum* values;
  int count;
};

RowResult execute_row(const char* statement, int nparams, Oid* types, Datum* values) {
  RowResult result{nullptr, 0};
  MemoryContext caller = CurrentMemoryContext;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
  int rc = SPI_execute_with_args(statement, nparams, types, values, nullptr, false, 0);
  if (rc < 0) elog(ERROR, "pg_segments: SPI_execute failed: %s", SPI_result_code_string(rc));
  if (SPI_tuptable != nullptr && SPI_processed > 0) {
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool first_null;
    (void)SPI_getbinval(SPI_tuptable->vals[0], desc, 1, &first_null);
    if (!first_null) result.values = copy_first_row(caller, &result.count);
  }
  SPI_finish();
  return result;
}

}  // namespace

std::vector<Datum> run_sql_row(const std::string& statement, Oid role, int nparams, Oid* types,
                               Datum* values) {
  RowResult result = as_role(role, [&] {
    return pg_guard([&] { return execute_row(statement.c_str(), nparams, types, values); });
  });
  return std::vector<Datum>(result.values, result.values + result.count);
}

std::vector<int64> run_sql(const std::string& statement, Oid role, int nparams, Oid* types,
                           Datum* values) {
  RunResult result = as_role(role, [&] {
    return pg_guard([&] { return execute(statement.c_str(), nparams, types, values); });
  });
  return std::vector<int64>(result.values, result.values + result.count);
}

Oid relation_owner(Oid relid) {
  return pg_guard([&] {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "pg_segments: relation %u does not exist", relid);
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
  });
}

Datum text_array(const std::vector<std::string>& items) {
  return pg_guard([&] {
    auto* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (items.size() + 1)));
    for (std::size_t i = 0; i < items.size(); ++i) {
      elements[i] = PointerGetDatum(
          cstring_to_text_with_len(items[i].data(), static_cast<int>(items[i].size())));
    }
    return PointerGetDatum(construct_array(elements, static_cast<int>(items.size()), TEXTOID, -1,
                                           false, TYPALIGN_INT));
  });
}

std::vector<std::vector<std::string>> text_rows(const char* query, Oid type, Datum value,
                                                Oid role) {
  struct Raw {
    int rows;
    int columns;
    char** values;  // rows * columns, NULL as nullptr
  };
  Raw raw = as_role(role, [&] {
    return pg_guard([&] {
      MemoryContext caller = CurrentMemoryContext;
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_segments: SPI_connect failed");
      Oid types[1] = {type};
      Datum values[1] = {value};
      if (execute_catalog_query(query, 1, types, values, 0) != SPI_OK_SELECT) {
        elog(ERROR, "pg_segments: a catalog query failed");
      }
      Raw r{static_cast<int>(SPI_processed), SPI_tuptable->tupdesc->natts, nullptr};
      r.values = static_cast<char**>(
          MemoryContextAllocZero(caller, sizeof(char*) * (r.rows * r.columns + 1)));
      for (int i = 0; i < r.rows; ++i) {
        for (int j = 0; j < r.columns; ++j) {
          char* text = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, j + 1);
          if (text != nullptr) r.values[i * r.columns + j] = MemoryContextStrdup(caller, text);
        }
      }
      SPI_finish();
      return r;
    });
  });
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < raw.rows; ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < raw.columns; ++j) {
      const char* text = raw.values[i * raw.columns + j];
      row.emplace_back(text != nullptr ? text : "");
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace pgseg::pg
