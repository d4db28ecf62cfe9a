// Stored representation of segment_filter.
#include "pg/filter_datum.hpp"

#include <cstring>

#include "core/error.hpp"
#include "pg/boundary.hpp"

namespace pgseg::pg {

Datum make_filter_datum(const std::string& canonical) {
  const std::size_t size = VARHDRSZ + 1 + canonical.size();
  auto* value = pg_guard([&] { return static_cast<struct varlena*>(palloc(size)); });
  SET_VARSIZE(value, size);
  char* data = VARDATA(value);
  data[0] = kStorageVersion;
  std::memcpy(data + 1, canonical.data(), canonical.size());
  return PointerGetDatum(value);
}

std::string_view filter_text(const struct varlena* value) {
  const char* data = VARDATA_ANY(value);
  const std::size_t size = VARSIZE_ANY_EXHDR(value);
  if (size < 1 || data[0] != kStorageVersion) {
    throw Error(sqlstate::kInvalidBinaryRepresentation, "corrupt segment_filter value",
                "Unknown storage version " + std::to_string(size < 1 ? -1 : data[0]) + ".");
  }
  return std::string_view(data + 1, size - 1);
}

}  // namespace pgseg::pg
