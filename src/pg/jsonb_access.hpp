// Reading keys of jsonb documents and timestamps in JSON strings, without raising errors.
#pragma once

#include "pg/postgres.hpp"

namespace pgseg::pg {

// Finds the value under keys in a jsonb container. False when a key is missing, a step is not
// an object, or the value is JSON null. Binary values in *out point into the container.
bool jsonb_find(JsonbContainer* root, const char* const* keys, const int* lengths, int nkeys,
                JsonbValue* out);

// Reads text as timestamptz input would (session TimeZone and DateStyle), but returns false
// instead of raising, and refuses the special words (now, today, epoch, infinity, ...) so that
// only real dates and times count.
bool parse_timestamptz_quietly(const char* text, int length, TimestampTz* out);

}  // namespace pgseg::pg
