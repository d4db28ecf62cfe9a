// SQL helpers that read typed values under jsonb keys; compiled filters call them, and the
// evaluator reads keys with the same code, so both engines agree.
#include "pg/boundary.hpp"
#include "pg/jsonb_access.hpp"

using pgseg::pg::pg_guard;

namespace {

// Finds the value under the variadic keys of (jsonb, VARIADIC text[]).
bool find_argument(FunctionCallInfo fcinfo, JsonbValue* out) {
  return pg_guard([&] {
    Jsonb* document = PG_GETARG_JSONB_P(0);
    ArrayType* keys = PG_GETARG_ARRAYTYPE_P(1);
    Datum* elements;
    bool* nulls;
    int count;
    deconstruct_array(keys, TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
    auto** pointers = static_cast<const char**>(palloc(sizeof(char*) * (count + 1)));
    auto* lengths = static_cast<int*>(palloc(sizeof(int) * (count + 1)));
    for (int i = 0; i < count; ++i) {
      if (nulls[i]) return false;
      text* key = DatumGetTextPP(elements[i]);
      pointers[i] = VARDATA_ANY(key);
      lengths[i] = static_cast<int>(VARSIZE_ANY_EXHDR(key));
    }
    return pgseg::pg::jsonb_find(&document->root, pointers, lengths, count, out);
  });
}

Datum null_result(FunctionCallInfo fcinfo) {
  fcinfo->isnull = true;
  return Datum(0);
}

}  // namespace

// jsonb_text(doc, VARIADIC keys): the JSON string under keys, else NULL.
PGSEG_FUNCTION(pgseg_jsonb_text) {
  JsonbValue value;
  if (!find_argument(fcinfo, &value) || value.type != jbvString) return null_result(fcinfo);
  return pg_guard([&] {
    return PointerGetDatum(cstring_to_text_with_len(value.val.string.val, value.val.string.len));
  });
}

// jsonb_number(doc, VARIADIC keys): the JSON number under keys, else NULL.
PGSEG_FUNCTION(pgseg_jsonb_number) {
  JsonbValue value;
  if (!find_argument(fcinfo, &value) || value.type != jbvNumeric) return null_result(fcinfo);
  return pg_guard(
      [&] { return NumericGetDatum(DatumGetNumericCopy(NumericGetDatum(value.val.numeric))); });
}

// jsonb_bool(doc, VARIADIC keys): the JSON boolean under keys, else NULL.
PGSEG_FUNCTION(pgseg_jsonb_bool) {
  JsonbValue value;
  if (!find_argument(fcinfo, &value) || value.type != jbvBool) return null_result(fcinfo);
  return BoolGetDatum(value.val.boolean);
}

// jsonb_timestamptz(doc, VARIADIC keys): the JSON string under keys read as a timestamp with
// time zone, else NULL (never an error).
PGSEG_FUNCTION(pgseg_jsonb_timestamptz) {
  JsonbValue value;
  TimestampTz time;
  if (!find_argument(fcinfo, &value) || value.type != jbvString ||
      !pgseg::pg::parse_timestamptz_quietly(value.val.string.val, value.val.string.len, &time)) {
    return null_result(fcinfo);
  }
  return TimestampTzGetDatum(time);
}

// jsonb_array(doc, VARIADIC keys): the JSON array under keys, else NULL.
PGSEG_FUNCTION(pgseg_jsonb_array) {
  JsonbValue value;
  if (!find_argument(fcinfo, &value) || value.type != jbvBinary ||
      !JsonContainerIsArray(value.val.binary.data) ||
      JsonContainerIsScalar(value.val.binary.data)) {
    return null_result(fcinfo);
  }
  return pg_guard([&] { return JsonbPGetDatum(JsonbValueToJsonb(&value)); });
}

// jsonb_value(doc, VARIADIC keys): the JSON value under keys; NULL when missing or null.
PGSEG_FUNCTION(pgseg_jsonb_value) {
  JsonbValue value;
  if (!find_argument(fcinfo, &value)) return null_result(fcinfo);
  return pg_guard([&] { return JsonbPGetDatum(JsonbValueToJsonb(&value)); });
}
