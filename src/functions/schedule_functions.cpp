// Schedules of scheduled segments: validation and next run times in a PostgreSQL time zone.
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/schedule.hpp"
#include "pg/boundary.hpp"

using pgseg::pg::pg_guard;

namespace {

// Seconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
constexpr std::int64_t kEpochShift = 946684800;

// A PostgreSQL time zone (from its tz database) seen through the core's Zone interface.
class PgZone final : public pgseg::Zone {
 public:
  explicit PgZone(const pg_tz* zone) : zone_(zone) {}
  std::int64_t offset_at(std::int64_t utc_seconds) const override {
    const pg_time_t t = static_cast<pg_time_t>(utc_seconds);
    // pg_localtime only reads the zone's tables; it reports failure with NULL, never raises.
    const struct pg_tm* local = pg_localtime(&t, zone_);
    return local == nullptr ? 0 : static_cast<std::int64_t>(local->tm_gmtoff);
  }

 private:
  const pg_tz* zone_;
};

// The named zone, or the session's when name is null.
const pg_tz* zone_named(const std::optional<std::string>& name) {
  if (!name) return session_timezone;
  const pg_tz* zone = pg_guard([&] {
    pg_tz* found = pg_tzset(name->c_str());
    return found != nullptr && pg_tz_acceptable(found) ? found : nullptr;
  });
  if (zone == nullptr) {
    throw pgseg::Error(pgseg::sqlstate::kInvalidParameterValue,
                       "time zone \"" + *name + "\" is not recognized", {},
                       "Use a name from pg_timezone_names, such as 'Asia/Muscat' or "
                       "'Europe/Berlin'.");
  }
  return zone;
}

std::optional<std::string> optional_text(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return pg_guard([&] { return std::string(text_to_cstring(PG_GETARG_TEXT_PP(n))); });
}

}  // namespace

// _next_run(schedule text, timezone text, after timestamptz): the first run of the schedule
// strictly after `after`, in the zone (the session's when NULL); NULL for a NULL schedule or
// when it has no run in ten years. Raises 22023 for an invalid schedule or zone.
PGSEG_FUNCTION(pgseg_next_run) {
  const std::optional<std::string> source = optional_text(fcinfo, 0);
  if (!source || PG_ARGISNULL(2)) PG_RETURN_NULL();
  const pgseg::Schedule schedule = pgseg::parse_schedule(*source);
  const PgZone zone(zone_named(optional_text(fcinfo, 1)));
  const TimestampTz after = PG_GETARG_TIMESTAMPTZ(2);
  if (TIMESTAMP_NOT_FINITE(after)) PG_RETURN_NULL();
  // Whole seconds, rounded down: runs fall on minutes.
  std::int64_t seconds = after / USECS_PER_SEC;
  if (after < 0 && after % USECS_PER_SEC != 0) --seconds;
  const std::optional<std::int64_t> run = pgseg::next_run(schedule, zone, seconds + kEpochShift);
  if (!run) PG_RETURN_NULL();
  PG_RETURN_TIMESTAMPTZ(static_cast<TimestampTz>(*run - kEpochShift) * USECS_PER_SEC);
}

// _check_time_zone(name text): raises 22023 unless name is a time zone PostgreSQL knows.
PGSEG_FUNCTION(pgseg_check_time_zone) {
  (void)zone_named(optional_text(fcinfo, 0));
  PG_RETURN_VOID();
}
