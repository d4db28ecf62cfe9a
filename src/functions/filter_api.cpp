// segments.to_sql, segments.matches and segments.estimate.
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/printer.hpp"
#include "core/sql_compiler.hpp"
#include "pg/boundary.hpp"
#include "pg/filter_cache.hpp"
#include "pg/filter_datum.hpp"

using pgseg::pg::compiled_filter;
using pgseg::pg::CompiledFilter;
using pgseg::pg::filter_text;
using pgseg::pg::pg_guard;

namespace {

const struct varlena* filter_arg(FunctionCallInfo fcinfo, int n) {
  return pg_guard([&] { return PG_GETARG_VARLENA_PP(n); });
}

Datum text_datum(const std::string& s) {
  return pg_guard([&] {
    return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
  });
}

// What segments.matches keeps between calls of one query (palloc'd in fn_mcxt, plain data).
struct MatchesState {
  Oid row_type;
  Oid relid;
  TupleDesc desc;
  CompiledFilter* compiled;
  char* filter;
  int filter_length;
};

MatchesState* matches_state(FunctionCallInfo fcinfo, Oid row_type, int32 row_typmod) {
  auto* state = static_cast<MatchesState*>(fcinfo->flinfo->fn_extra);
  if (state != nullptr && state->row_type == row_type) return state;
  Oid relid = pg_guard([&] { return typeidTypeRelid(row_type); });
  if (!OidIsValid(relid)) {
    throw pgseg::Error(
        pgseg::sqlstate::kDatatypeMismatch, "segments.matches needs a row of a table",
        "The argument is of a type that is not a table's row type.",
        "Pass the whole row, as in segments.matches(filter, c) ... FROM customers c.");
  }
  return pg_guard([&] {
    MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
    auto* s = static_cast<MatchesState*>(palloc0(sizeof(MatchesState)));
    s->row_type = row_type;
    s->relid = relid;
    TupleDesc desc = lookup_rowtype_tupdesc(row_type, row_typmod);
    s->desc = CreateTupleDescCopy(desc);
    ReleaseTupleDesc(desc);
    MemoryContextSwitchTo(old);
    fcinfo->flinfo->fn_extra = s;
    return s;
  });
}

}  // namespace

// to_sql(filter, object): the WHERE clause the filter compiles to over object.
PGSEG_FUNCTION(pgseg_to_sql) {
  std::string_view canonical = filter_text(filter_arg(fcinfo, 0));
  Oid relid = PG_GETARG_OID(1);
  return text_datum(compiled_filter(relid, canonical).where_sql());
}

// matches(filter, row): the filter's three-valued answer for one row of its object.
PGSEG_FUNCTION(pgseg_matches) {
  std::string_view canonical = filter_text(filter_arg(fcinfo, 0));
  HeapTupleHeader row = pg_guard([&] { return PG_GETARG_HEAPTUPLEHEADER(1); });
  MatchesState* state =
      matches_state(fcinfo, HeapTupleHeaderGetTypeId(row), HeapTupleHeaderGetTypMod(row));
  if (state->compiled == nullptr || pgseg::pg::is_outdated(*state->compiled) ||
      std::string_view(state->filter, static_cast<std::size_t>(state->filter_length)) !=
          canonical) {
    state->compiled = &compiled_filter(state->relid, canonical);
    pg_guard([&] {
      if (state->filter != nullptr) pfree(state->filter);
      state->filter = static_cast<char*>(
          MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, canonical.size() > 0 ? canonical.size() : 1));
      memcpy(state->filter, canonical.data(), canonical.size());
      state->filter_length = static_cast<int>(canonical.size());
    });
  }
  HeapTupleData tuple;
  tuple.t_len = HeapTupleHeaderGetDatumLength(row);
  ItemPointerSetInvalid(&tuple.t_self);
  tuple.t_tableOid = InvalidOid;
  tuple.t_data = row;
  pgseg::Tri answer = state->compiled->evaluator->eval(&tuple, state->desc);
  if (answer == pgseg::Tri::kUnknown) {
    fcinfo->isnull = true;
    return Datum(0);
  }
  return BoolGetDatum(answer == pgseg::Tri::kTrue);
}

// estimate(filter, object): rows matching now, and per top-level condition.
PGSEG_FUNCTION(pgseg_estimate) {
  std::string_view canonical = filter_text(filter_arg(fcinfo, 0));
  Oid relid = PG_GETARG_OID(1);
  CompiledFilter& compiled = compiled_filter(relid, canonical);
  const pgseg::Node& root = *compiled.ast;
  std::vector<const pgseg::Node*> parts;
  if (root.kind == pgseg::NodeKind::kAnd || root.kind == pgseg::NodeKind::kOr) {
    for (const auto& child : root.children) parts.push_back(child.get());
  } else {
    parts.push_back(&root);
  }
  std::string sql = "SELECT count(*) FILTER (WHERE " + compiled.where_sql() + ")";
  for (const pgseg::Node* part : parts) {
    sql += ", count(*) FILTER (WHERE " +
           pgseg::compile_sql(*part, *compiled.bound, pgseg::pg::PgDialect()) + ")";
  }
  sql += " FROM " + compiled.schema->qualified_sql_name();

  const int columns = static_cast<int>(parts.size()) + 1;
  int64* counts = pg_guard([&] {
    auto* result = static_cast<int64*>(palloc0(sizeof(int64) * columns));
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    if (SPI_execute(sql.c_str(), true, 1) != SPI_OK_SELECT || SPI_processed != 1) {
      elog(ERROR, "pg_segments: estimate query failed");
    }
    for (int i = 0; i < columns; ++i) {
      bool isnull;
      Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);
      result[i] = isnull ? 0 : DatumGetInt64(value);
    }
    SPI_finish();
    return result;
  });

  pgseg::Json by_condition = pgseg::Json::object();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    by_condition.set(pgseg::print_filter(*parts[i]),
                     pgseg::Json::number(std::to_string(counts[i + 1])));
  }
  std::string json = pgseg::to_json_text(by_condition);
  return pg_guard([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
      elog(ERROR, "estimate must return a record");
    }
    desc = BlessTupleDesc(desc);
    Datum values[2] = {Int64GetDatum(counts[0]),
                       DirectFunctionCall1(jsonb_in, CStringGetDatum(json.c_str()))};
    bool nulls[2] = {false, false};
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
}
