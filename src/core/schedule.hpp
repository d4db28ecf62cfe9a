// Refresh schedules of scheduled segments: pg_cron's cron syntax and readable forms, and the
// next run time in a time zone, correct across daylight-saving changes and month ends.
#pragma once

#include "core/no_postgres.hpp"

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgseg {

// The minutes of local wall-clock time at which a schedule runs, as cron describes them.
struct Schedule {
  std::bitset<1440> times;    // minutes of the day (hour * 60 + minute)
  bool hourly = false;        // the same minutes in every hour: follows real time (see next_run)
  std::bitset<32> days;       // day of month, 1..31
  std::bitset<13> months;     // 1..12
  std::bitset<7> weekdays;    // 0 = Sunday
  bool last_day = false;      // '$' (or "last"): the last day of each month
  bool days_star = true;      // day of month unrestricted
  bool weekdays_star = true;  // day of week unrestricted
  // Restricting both days means either one (cron's rule): "0 9 1 * mon" runs on the 1st and on
  // every Monday.
};

// Parses a cron expression (five fields, pg_cron's syntax: numbers, ranges, lists, steps, month
// and weekday names, '$' for the last day of the month, @daily and the other macros) or a
// readable form:
//   every day at 03:00            every monday, thursday at 09:30
//   every weekday at 08:00        every month on 1, 15 at 02:00      every month on last at 23:00
//   every hour                    every hour at :15                  every 15 minutes
//   every 6 hours                 every minute
// Several times may follow "at" ("at 09:00, 17:30"); times are 24-hour or with am/pm. Throws
// Error 22023 with the position of the problem for anything else, and for schedules that can
// never run (February 30th).
Schedule parse_schedule(std::string_view text);

// A time zone: the offset from UTC, in seconds east, in effect at a UTC instant.
class Zone {
 public:
  virtual ~Zone() = default;
  virtual std::int64_t offset_at(std::int64_t utc_seconds) const = 0;
};

// The first run strictly after `after` (seconds since 1970-01-01 UTC), in zone's wall-clock
// time; nothing if the schedule has no run in the next ten years.
//
// Daylight-saving changes, as cron does them: a schedule that names its hours runs once a day
// per time it names. A time skipped when clocks go forward runs as PostgreSQL reads such a
// time (02:30 that does not exist runs at 03:30 new time); a time that happens twice when
// clocks go back runs the first time only. A schedule that runs every hour follows real time:
// every hour that happens, including the repeated one, with no hour missed.
std::optional<std::int64_t> next_run(const Schedule& schedule, const Zone& zone,
                                     std::int64_t after);

// Calendar helpers (proleptic Gregorian), exposed for tests and the PostgreSQL glue.
std::int64_t days_from_civil(std::int64_t year, int month, int day);
int days_in_month(std::int64_t year, int month);

}  // namespace pgseg
