// Schedules: parsing of cron and readable forms, errors, and next run times across time zones,
// daylight-saving changes, month ends and leap years.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/error.hpp"
#include "core/schedule.hpp"

namespace pgseg {
namespace {

std::int64_t utc(std::int64_t y, int mo, int d, int h = 0, int mi = 0) {
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

// The day of month of the n-th (1-based) weekday wd (0 = Sunday) in a month, or of the last one.
int nth_weekday(std::int64_t year, int month, int wd, int n) {
  const std::int64_t first = days_from_civil(year, month, 1);
  const int first_wd = static_cast<int>(((first % 7) + 11) % 7);
  int day = 1 + (wd - first_wd + 7) % 7;
  if (n > 0) return day + 7 * (n - 1);
  while (day + 7 <= days_in_month(year, month)) day += 7;
  return day;
}

std::int64_t year_of(std::int64_t t) {
  std::int64_t y = 1970 + t / (365 * 86400 + 20000);
  while (utc(y + 1, 1, 1) <= t) ++y;
  while (utc(y, 1, 1) > t) --y;
  return y;
}

class FixedZone : public Zone {
 public:
  explicit FixedZone(std::int64_t offset) : offset_(offset) {}
  std::int64_t offset_at(std::int64_t) const override { return offset_; }

 private:
  std::int64_t offset_;
};

// Central European rules: +1, +2 from the last Sunday of March 01:00 UTC to the last Sunday
// of October 01:00 UTC.
class EuropeZone : public Zone {
 public:
  std::int64_t offset_at(std::int64_t t) const override {
    const std::int64_t y = year_of(t);
    const std::int64_t start = utc(y, 3, nth_weekday(y, 3, 0, -1), 1);
    const std::int64_t end = utc(y, 10, nth_weekday(y, 10, 0, -1), 1);
    return t >= start && t < end ? 7200 : 3600;
  }
};

// United States Eastern rules: -5, -4 from the second Sunday of March 07:00 UTC to the first
// Sunday of November 06:00 UTC.
class NewYorkZone : public Zone {
 public:
  std::int64_t offset_at(std::int64_t t) const override {
    const std::int64_t y = year_of(t);
    const std::int64_t start = utc(y, 3, nth_weekday(y, 3, 0, 2), 7);
    const std::int64_t end = utc(y, 11, nth_weekday(y, 11, 0, 1), 6);
    return t >= start && t < end ? -14400 : -18000;
  }
};

const FixedZone kUtc(0);

std::int64_t next(const std::string& text, const Zone& zone, std::int64_t after) {
  std::optional<std::int64_t> run = next_run(parse_schedule(text), zone, after);
  EXPECT_TRUE(run.has_value()) << text;
  return run.value_or(0);
}

std::string refused(const std::string& text) {
  try {
    parse_schedule(text);
  } catch (const Error& e) {
    EXPECT_STREQ(e.sqlstate(), "22023") << text;
    EXPECT_FALSE(e.hint().empty()) << text;
    return std::string(e.what()) + " | " + e.detail();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(Schedule, CronBasics) {
  EXPECT_EQ(next("0 3 * * *", kUtc, utc(2026, 1, 10, 12)), utc(2026, 1, 11, 3));
  EXPECT_EQ(next("0 3 * * *", kUtc, utc(2026, 1, 10, 2, 59)), utc(2026, 1, 10, 3));
  // Strictly after: a run at exactly `after` is the next day's.
  EXPECT_EQ(next("0 3 * * *", kUtc, utc(2026, 1, 10, 3)), utc(2026, 1, 11, 3));
  EXPECT_EQ(next("*/15 9-17 * * mon-fri", kUtc, utc(2026, 1, 9, 17, 50)),  // a Friday
            utc(2026, 1, 12, 9));
  EXPECT_EQ(next("*/15 9-17 * * 1-5", kUtc, utc(2026, 1, 12, 9, 1)), utc(2026, 1, 12, 9, 15));
  EXPECT_EQ(next("0 0 1,15 * *", kUtc, utc(2026, 1, 2)), utc(2026, 1, 15));
  EXPECT_EQ(next("30 4 * jan,jul sun", kUtc, utc(2026, 2, 1)), utc(2026, 7, 5, 4, 30));
  EXPECT_EQ(next("0 12 * * 7", kUtc, utc(2026, 1, 5)), utc(2026, 1, 11, 12));  // 7 is Sunday
  // Ranges may end on Sunday as 7 or by name: Friday, Saturday and Sunday.
  for (const char* text : {"0 12 * * fri-sun", "0 12 * * 5-7"}) {
    EXPECT_EQ(next(text, kUtc, utc(2026, 1, 9, 13)), utc(2026, 1, 10, 12)) << text;
    EXPECT_EQ(next(text, kUtc, utc(2026, 1, 10, 13)), utc(2026, 1, 11, 12)) << text;
    EXPECT_EQ(next(text, kUtc, utc(2026, 1, 11, 13)), utc(2026, 1, 16, 12)) << text;
  }
  EXPECT_EQ(next("0 12 * * 1-7", kUtc, utc(2026, 1, 10, 13)), utc(2026, 1, 11, 12));
  EXPECT_EQ(next("0 12 * * 0-7", kUtc, utc(2026, 1, 5, 13)), utc(2026, 1, 6, 12));
  EXPECT_EQ(next("5/20 * * * *", kUtc, utc(2026, 1, 1, 0, 30)), utc(2026, 1, 1, 0, 45));
  EXPECT_EQ(next("@daily", kUtc, utc(2026, 1, 1, 1)), utc(2026, 1, 2));
  EXPECT_EQ(next("@hourly", kUtc, utc(2026, 1, 1, 1, 1)), utc(2026, 1, 1, 2));
  EXPECT_EQ(next("@weekly", kUtc, utc(2026, 1, 1)), utc(2026, 1, 4));
  EXPECT_EQ(next("@monthly", kUtc, utc(2026, 1, 1)), utc(2026, 2, 1));
  EXPECT_EQ(next("@yearly", kUtc, utc(2026, 1, 1)), utc(2027, 1, 1));
}

TEST(Schedule, DayOfMonthOrWeekdayMeansEither) {
  // Thursday 2026-01-01 is the 1st; the next Monday is the 5th.
  EXPECT_EQ(next("0 9 1 * mon", kUtc, utc(2026, 1, 1, 10)), utc(2026, 1, 5, 9));
  EXPECT_EQ(next("0 9 1 * mon", kUtc, utc(2026, 1, 30, 10)), utc(2026, 2, 1, 9));
}

TEST(Schedule, MonthEndsAndLeapYears) {
  EXPECT_EQ(next("0 23 $ * *", kUtc, utc(2026, 2, 10)), utc(2026, 2, 28, 23));
  EXPECT_EQ(next("0 23 $ * *", kUtc, utc(2028, 2, 10)), utc(2028, 2, 29, 23));
  EXPECT_EQ(next("every month on last at 23:00", kUtc, utc(2026, 4, 30, 23)), utc(2026, 5, 31, 23));
  EXPECT_EQ(next("0 0 31 * *", kUtc, utc(2026, 4, 1)), utc(2026, 5, 31));
  EXPECT_EQ(next("0 0 29 2 *", kUtc, utc(2026, 3, 1)), utc(2028, 2, 29));
  EXPECT_EQ(next("0 0 29 2 *", kUtc, utc(2096, 3, 1)), utc(2104, 2, 29));  // 2100 is not leap
  EXPECT_EQ(next("0 0 1 1 *", kUtc, utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1));
}

TEST(Schedule, ReadableForms) {
  const std::int64_t t = utc(2026, 1, 7, 12);  // a Wednesday
  EXPECT_EQ(next("every day at 03:00", kUtc, t), next("0 3 * * *", kUtc, t));
  EXPECT_EQ(next("Every Day At 3:00", kUtc, t), utc(2026, 1, 8, 3));
  EXPECT_EQ(next("every monday, thursday at 09:30", kUtc, t), utc(2026, 1, 8, 9, 30));
  EXPECT_EQ(next("every mon and thu at 09:30", kUtc, utc(2026, 1, 8, 10)), utc(2026, 1, 12, 9, 30));
  EXPECT_EQ(next("every month on 1, 15 at 02:00", kUtc, t), utc(2026, 1, 15, 2));
  EXPECT_EQ(next("every month on 1st and 15th at 02:00", kUtc, utc(2026, 1, 15, 3)),
            utc(2026, 2, 1, 2));
  EXPECT_EQ(next("every weekday at 8am", kUtc, utc(2026, 1, 9, 9)), utc(2026, 1, 12, 8));
  EXPECT_EQ(next("every weekend at 12:30 pm", kUtc, t), utc(2026, 1, 10, 12, 30));
  EXPECT_EQ(next("every day at 09:00, 17:30", kUtc, t), utc(2026, 1, 7, 17, 30));
  EXPECT_EQ(next("every day at 09:00, 17:30", kUtc, utc(2026, 1, 7, 18)), utc(2026, 1, 8, 9));
  EXPECT_EQ(next("every day at noon", kUtc, t), utc(2026, 1, 8, 12));
  EXPECT_EQ(next("every day at 12am", kUtc, t), utc(2026, 1, 8, 0));
  EXPECT_EQ(next("every hour", kUtc, utc(2026, 1, 7, 12, 1)), utc(2026, 1, 7, 13));
  EXPECT_EQ(next("every hour at :15", kUtc, utc(2026, 1, 7, 12, 20)), utc(2026, 1, 7, 13, 15));
  EXPECT_EQ(next("every 15 minutes", kUtc, utc(2026, 1, 7, 12, 1)), utc(2026, 1, 7, 12, 15));
  EXPECT_EQ(next("every 6 hours", kUtc, utc(2026, 1, 7, 12, 1)), utc(2026, 1, 7, 18));
  EXPECT_EQ(next("every minute", kUtc, utc(2026, 1, 7, 12, 1)), utc(2026, 1, 7, 12, 2));
}

TEST(Schedule, ErrorsSayWhereAndWhy) {
  EXPECT_NE(refused("every mondy at 09:00").find("\"mondy\" is not a weekday"), std::string::npos);
  EXPECT_NE(refused("every mondy at 09:00").find("at character 7"), std::string::npos);
  EXPECT_NE(refused("0 25 * * *").find("hour 25 is out of range (0-23)"), std::string::npos);
  EXPECT_NE(refused("0 0 * * 8").find("day of week 8 is out of range (0-7)"), std::string::npos);
  EXPECT_NE(refused("0 3 * *").find("five fields"), std::string::npos);
  EXPECT_NE(refused("0 3 * * * *").find("five fields"), std::string::npos);
  EXPECT_NE(refused("every day at 25:00").find("time of day"), std::string::npos);
  EXPECT_NE(refused("every day at 9:5").find("two digits"), std::string::npos);
  EXPECT_NE(refused("every day at 13pm").find("1 to 12"), std::string::npos);
  EXPECT_NE(refused("every day").find("expected \"at\""), std::string::npos);
  EXPECT_NE(refused("every 90 minutes").find("1 to 59"), std::string::npos);
  EXPECT_NE(refused("30 seconds").find("once a minute"), std::string::npos);
  EXPECT_NE(refused("0 0 30 2 *").find("never runs"), std::string::npos);
  EXPECT_NE(refused("0 0 31 4,6 *").find("never runs"), std::string::npos);
  EXPECT_NE(refused("0 0 * foo *").find("\"foo\" is not a valid month"), std::string::npos);
  EXPECT_NE(refused("0 0 5-1 * *").find("backwards"), std::string::npos);
  EXPECT_NE(refused("*/0 * * * *").find("invalid step"), std::string::npos);
  EXPECT_NE(refused("@sometimes").find("unknown macro"), std::string::npos);
  EXPECT_NE(refused("").find("empty"), std::string::npos);
  EXPECT_NE(refused("   ").find("empty"), std::string::npos);
  EXPECT_NE(refused("every day at 03:00 please").find("unexpected text"), std::string::npos);
  EXPECT_NE(refused("every day at 03:00!").find("unexpected character"), std::string::npos);
  EXPECT_NE(refused("0 3 * * * ;DROP").find("five fields"), std::string::npos);
}

TEST(Schedule, FixedOffsetZones) {
  const FixedZone muscat(4 * 3600);
  EXPECT_EQ(next("every day at 03:00", muscat, utc(2026, 1, 7, 12)), utc(2026, 1, 7, 23));
  const FixedZone kolkata(5 * 3600 + 1800);
  EXPECT_EQ(next("0 9 * * *", kolkata, utc(2026, 1, 7, 12)), utc(2026, 1, 8, 3, 30));
  EXPECT_EQ(next("every hour", kolkata, utc(2026, 1, 7, 12)), utc(2026, 1, 7, 12, 30));
  // The local date decides the day: Monday 00:30 in Muscat is Sunday 20:30 UTC.
  EXPECT_EQ(next("30 0 * * mon", muscat, utc(2026, 1, 10)), utc(2026, 1, 11, 20, 30));
}

TEST(Schedule, DaylightSavingSpringForward) {
  const EuropeZone berlin;
  // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC; 02:30 does not exist.
  EXPECT_EQ(next("30 2 * * *", berlin, utc(2026, 3, 28, 2)), utc(2026, 3, 29, 1, 30));
  EXPECT_EQ(next("30 2 * * *", berlin, utc(2026, 3, 29, 1, 30)), utc(2026, 3, 30, 0, 30));
  EXPECT_EQ(next("0 3 * * *", berlin, utc(2026, 3, 28, 3)), utc(2026, 3, 29, 1));
  // Every hour keeps running every real hour.
  EXPECT_EQ(next("0 * * * *", berlin, utc(2026, 3, 29, 0, 30)), utc(2026, 3, 29, 1));
  EXPECT_EQ(next("0 * * * *", berlin, utc(2026, 3, 29, 1)), utc(2026, 3, 29, 2));
  const NewYorkZone new_york;
  EXPECT_EQ(next("0 9 * * *", new_york, utc(2026, 3, 7, 12)), utc(2026, 3, 7, 14));
  EXPECT_EQ(next("0 9 * * *", new_york, utc(2026, 3, 7, 14)), utc(2026, 3, 8, 13));
  EXPECT_EQ(next("30 2 * * *", new_york, utc(2026, 3, 8, 0)), utc(2026, 3, 8, 7, 30));
}

TEST(Schedule, DaylightSavingFallBack) {
  const EuropeZone berlin;
  // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:30 happens twice.
  const std::int64_t first = next("30 2 * * *", berlin, utc(2026, 10, 24, 12));
  EXPECT_EQ(first, utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(next("30 2 * * *", berlin, first), utc(2026, 10, 26, 1, 30));  // once only
  // Every hour runs in the repeated hour too.
  EXPECT_EQ(next("0 * * * *", berlin, utc(2026, 10, 24, 23, 30)), utc(2026, 10, 25, 0));
  EXPECT_EQ(next("0 * * * *", berlin, utc(2026, 10, 25, 0)), utc(2026, 10, 25, 1));
  EXPECT_EQ(next("0 * * * *", berlin, utc(2026, 10, 25, 1)), utc(2026, 10, 25, 2));
  const NewYorkZone new_york;
  EXPECT_EQ(next("0 9 * * *", new_york, utc(2026, 10, 31, 14)), utc(2026, 11, 1, 14));
  EXPECT_EQ(next("30 1 * * *", new_york, utc(2026, 10, 31, 12)), utc(2026, 11, 1, 5, 30));
  EXPECT_EQ(next("30 1 * * *", new_york, utc(2026, 11, 1, 5, 30)), utc(2026, 11, 2, 6, 30));
}

// Next runs agree with a minute-by-minute scan in fixed-offset zones, for random schedules.
TEST(Schedule, AgreesWithBruteForce) {
  std::mt19937_64 random(12345);
  auto pick = [&](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random);
  };
  auto field = [&](int low, int high) -> std::string {
    switch (pick(0, 4)) {
      case 0:
        return "*";
      case 1:
        return "*/" + std::to_string(pick(2, 7));
      case 2:
        return std::to_string(pick(low, high));
      case 3: {
        int a = pick(low, high);
        int b = pick(a, high);
        return std::to_string(a) + "-" + std::to_string(b);
      }
      default:
        return std::to_string(pick(low, high)) + "," + std::to_string(pick(low, high));
    }
  };
  const FixedZone zones[] = {FixedZone(0), FixedZone(19800), FixedZone(-36000)};
  int compared = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string text = field(0, 59) + " " + field(0, 23) + " " + field(1, 28) + " " +
                             field(1, 12) + " " + field(0, 6);
    const Schedule s = parse_schedule(text);
    const Zone& zone = zones[i % 3];
    const std::int64_t after = utc(2026, 1, 1) + pick(0, 400) * 86400 + pick(0, 86399);
    const std::optional<std::int64_t> got = next_run(s, zone, after);
    std::optional<std::int64_t> expected;
    for (std::int64_t u = (after / 60 + 1) * 60; u < after + 3 * 366 * 86400; u += 60) {
      const std::int64_t local = u + zone.offset_at(u);
      const std::int64_t days = local / 86400;
      const std::int64_t y = year_of(local);
      int month = 12;
      while (days_from_civil(y, month, 1) > days) --month;
      const int day = static_cast<int>(days - days_from_civil(y, month, 1)) + 1;
      const int wd = static_cast<int>(((days % 7) + 11) % 7);
      const bool by_day = s.days[static_cast<std::size_t>(day)];
      const bool by_wd = s.weekdays[static_cast<std::size_t>(wd)];
      const bool day_ok = (s.days_star && s.weekdays_star) ? true
                          : s.days_star                    ? by_wd
                          : s.weekdays_star                ? by_day
                                                           : (by_day || by_wd);
      if (s.months[static_cast<std::size_t>(month)] && day_ok &&
          s.times[static_cast<std::size_t>((local % 86400) / 60)]) {
        expected = u;
        break;
      }
    }
    if (!expected) continue;  // beyond the scan window
    ++compared;
    ASSERT_EQ(got, expected) << text << " after " << after << " offset " << zone.offset_at(0);
  }
  EXPECT_GT(compared, 250);
}

}  // namespace
}  // namespace pgseg
