// jsonb key lookup and quiet timestamp parsing shared by the SQL helpers and the evaluator.
#include "pg/jsonb_access.hpp"

#include <cstring>

namespace pgseg::pg {

bool jsonb_find(JsonbContainer* root, const char* const* keys, const int* lengths, int nkeys,
                JsonbValue* out) {
  JsonbContainer* container = root;
  JsonbValue value;
  for (int i = 0; i < nkeys; ++i) {
    if (!JsonContainerIsObject(container)) return false;
    if (getKeyJsonValueFromContainer(container, keys[i], lengths[i], &value) == nullptr) {
      return false;
    }
    if (i + 1 < nkeys) {
      if (value.type != jbvBinary) return false;
      container = value.val.binary.data;
    }
  }
  if (nkeys == 0 || value.type == jbvNull) return false;
  *out = value;
  return true;
}

namespace {

bool is_special_word(const char* field) {
  static const char* const kWords[] = {"now",      "today",     "tomorrow",  "yesterday", "epoch",
                                       "infinity", "-infinity", "+infinity", "allballs"};
  for (const char* word : kWords) {
    if (std::strcmp(field, word) == 0) return true;
  }
  return false;
}

}  // namespace

bool parse_timestamptz_quietly(const char* text, int length, TimestampTz* out) {
  if (length <= 0 || length >= MAXDATELEN) return false;
  char input[MAXDATELEN + 1];
  std::memcpy(input, text, static_cast<std::size_t>(length));
  input[length] = '\0';
  if (std::strlen(input) != static_cast<std::size_t>(length)) return false;

  char workbuf[MAXDATELEN + MAXDATEFIELDS];
  char* field[MAXDATEFIELDS];
  int ftype[MAXDATEFIELDS];
  int nfields = 0;
  int dtype = 0;
  int tz = 0;
  struct pg_tm tt;
  fsec_t fsec = 0;
  volatile bool ok = false;
  volatile TimestampTz result = 0;
  MemoryContext caller_context = CurrentMemoryContext;
  // DecodeDateTime raises for some inputs (an unknown time zone name); such text is simply
  // not a timestamp here. Parsing holds no resources, so the error state is just cleared.
  PG_TRY();
  {
    int dterr =
        ParseDateTime(input, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nfields);
    for (int i = 0; dterr == 0 && i < nfields; ++i) {
      if (is_special_word(field[i])) dterr = DTERR_BAD_FORMAT;
    }
    if (dterr == 0) dterr = DecodeDateTime(field, ftype, nfields, &dtype, &tt, &fsec, &tz);
    TimestampTz value = 0;
    if (dterr == 0 && dtype == DTK_DATE && tm2timestamp(&tt, fsec, &tz, &value) == 0 &&
        IS_VALID_TIMESTAMP(value)) {
      result = value;
      ok = true;
    }
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    FlushErrorState();
    ok = false;
  }
  PG_END_TRY();
  if (ok) *out = result;
  return ok;
}

}  // namespace pgseg::pg
