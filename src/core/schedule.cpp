// Schedule parsing (cron and readable forms) and next-run arithmetic in local time.
#include "core/schedule.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "core/error.hpp"

namespace pgseg {

namespace {

constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kSearchDays = 3660;  // ten years and a bit

const char* const kHint =
    "Use a cron expression such as '0 3 * * *' (minute hour day-of-month month day-of-week) or "
    "a readable form: 'every day at 03:00', 'every monday, thursday at 09:30', 'every month on "
    "1, 15 at 02:00', 'every hour', 'every 15 minutes'.";

const std::array<const char*, 7> kWeekdayNames = {"sunday",   "monday", "tuesday", "wednesday",
                                                  "thursday", "friday", "saturday"};
const std::array<const char*, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};

[[noreturn]] void fail(std::string_view text, std::size_t offset, const std::string& message) {
  throw Error(sqlstate::kInvalidParameterValue, "invalid schedule: " + message,
              caret_excerpt(text, std::min(offset, text.size())), kHint);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// ---- cron --------------------------------------------------------------------------------

struct Field {
  std::string_view text;
  std::size_t offset;  // in the whole schedule
};

// Names accepted in a field: month names (jan..dec = 1..12) or weekday names (sun..sat = 0..6).
int name_value(std::string_view word, bool months) {
  const std::string w = lower(word);
  if (months) {
    for (std::size_t i = 0; i < kMonthNames.size(); ++i) {
      if (w == kMonthNames[i]) return static_cast<int>(i) + 1;
    }
  } else {
    for (std::size_t i = 0; i < kWeekdayNames.size(); ++i) {
      if (w == std::string(kWeekdayNames[i]).substr(0, 3)) return static_cast<int>(i);
    }
  }
  return -1;
}

struct Range {
  int low;
  int high;
  const char* what;
  bool months;
  bool weekdays;
};

// Parses one cron field into bits [low, high]; returns whether it was unrestricted ('*').
template <std::size_t N>
bool parse_cron_field(std::string_view whole, const Field& field, const Range& range,
                      std::bitset<N>& bits, bool* last_day) {
  std::string_view text = field.text;
  std::size_t i = 0;
  bool star = true;
  bool any = false;
  auto at = [&](std::size_t k) { return field.offset + k; };
  auto read_value = [&](std::size_t& k) {
    const std::size_t start = k;
    if (k < text.size() && std::isdigit(static_cast<unsigned char>(text[k]))) {
      long value = 0;
      while (k < text.size() && std::isdigit(static_cast<unsigned char>(text[k]))) {
        value = value * 10 + (text[k] - '0');
        if (value > 1000) fail(whole, at(start), std::string(range.what) + " out of range");
        ++k;
      }
      if (value < range.low || value > range.high) {
        fail(whole, at(start),
             std::string(range.what) + " " + std::to_string(value) + " is out of range (" +
                 std::to_string(range.low) + "-" + std::to_string(range.high) + ")");
      }
      return static_cast<int>(value);
    }
    if (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) {
      while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
      int value = (range.months || range.weekdays)
                      ? name_value(text.substr(start, k - start), range.months)
                      : -1;
      if (value < 0) {
        fail(whole, at(start),
             "\"" + std::string(text.substr(start, k - start)) + "\" is not a valid " + range.what);
      }
      return value;
    }
    fail(whole, at(start), std::string("expected a ") + range.what);
  };
  while (true) {
    const std::size_t item_start = i;
    int low = range.low;
    int high = range.high;
    bool whole_range = false;
    if (i < text.size() && text[i] == '*') {
      ++i;
      whole_range = true;
    } else if (i < text.size() && text[i] == '$' && last_day != nullptr) {
      ++i;
      *last_day = true;
      star = false;
      any = true;
      if (i < text.size() && text[i] != ',') fail(whole, at(i), "unexpected character after '$'");
      if (i == text.size()) break;
      ++i;
      continue;
    } else {
      low = read_value(i);
      high = low;
      if (i < text.size() && text[i] == '-') {
        ++i;
        high = read_value(i);
        if (range.weekdays && high == 0 && low > 0) high = 7;  // "fri-sun": Sunday as 7
        if (high < low) fail(whole, at(item_start), "range goes backwards");
      }
    }
    int step = 1;
    if (i < text.size() && text[i] == '/') {
      ++i;
      const std::size_t step_start = i;
      long value = 0;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        value = value * 10 + (text[i] - '0');
        if (value > 1000) break;
        ++i;
      }
      if (i == step_start || value < 1 || value > 1000) {
        fail(whole, at(step_start), "invalid step");
      }
      step = static_cast<int>(value);
      if (!whole_range && high == low) high = range.high;  // "5/10": from 5 on
    }
    if (!whole_range || step != 1) star = false;
    for (int v = low; v <= high; v += step) bits.set(static_cast<std::size_t>(v));
    any = true;
    if (i == text.size()) break;
    if (text[i] != ',')
      fail(whole, at(i), "unexpected character '" + std::string(1, text[i]) + "'");
    ++i;
  }
  if (!any) fail(whole, field.offset, std::string("empty ") + range.what);
  return star;
}

Schedule from_macro(std::string_view whole, std::string_view word, std::size_t offset);

Schedule parse_cron(std::string_view text) {
  std::vector<Field> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    fields.push_back({text.substr(start, i - start), start});
  }
  if (fields.size() == 1 && fields[0].text.size() > 1 && fields[0].text[0] == '@') {
    return from_macro(text, fields[0].text, fields[0].offset);
  }
  if (fields.size() == 2 && lower(fields[1].text).rfind("second", 0) == 0) {
    fail(text, fields[0].offset,
         "schedules run at most once a minute (use '* * * * *' for every minute)");
  }
  if (fields.size() != 5) {
    fail(text, fields.size() > 5 ? fields[5].offset : text.size(),
         "a cron schedule has five fields (minute, hour, day of month, month, day of week), this "
         "one has " +
             std::to_string(fields.size()));
  }
  Schedule schedule;
  std::bitset<60> minutes;
  std::bitset<24> hours;
  parse_cron_field(text, fields[0], {0, 59, "minute", false, false}, minutes, nullptr);
  parse_cron_field(text, fields[1], {0, 23, "hour", false, false}, hours, nullptr);
  schedule.days_star = parse_cron_field(text, fields[2], {1, 31, "day of month", false, false},
                                        schedule.days, &schedule.last_day);
  parse_cron_field(text, fields[3], {1, 12, "month", true, false}, schedule.months, nullptr);
  // Days of the week are 0-7, both 0 and 7 being Sunday.
  std::bitset<8> weekdays;
  schedule.weekdays_star =
      parse_cron_field(text, fields[4], {0, 7, "day of week", false, true}, weekdays, nullptr);
  for (std::size_t d = 0; d < 7; ++d) schedule.weekdays[d] = weekdays[d];
  if (weekdays[7]) schedule.weekdays.set(0);
  for (std::size_t h = 0; h < 24; ++h) {
    if (!hours[h]) continue;
    for (std::size_t m = 0; m < 60; ++m) {
      if (minutes[m]) schedule.times.set(h * 60 + m);
    }
  }
  return schedule;
}

Schedule every_day_at(std::size_t hour, std::size_t minute) {
  Schedule s;
  s.days.set();
  s.days.reset(0);
  s.months.set();
  s.months.reset(0);
  s.weekdays.set();
  s.times.set(hour * 60 + minute);
  return s;
}

Schedule from_macro(std::string_view whole, std::string_view word, std::size_t offset) {
  const std::string w = lower(word);
  Schedule s = every_day_at(0, 0);
  if (w == "@daily" || w == "@midnight") return s;
  if (w == "@hourly") {
    for (std::size_t h = 0; h < 24; ++h) s.times.set(h * 60);
    return s;
  }
  if (w == "@weekly") {
    s.weekdays.reset();
    s.weekdays.set(0);
    s.weekdays_star = false;
    return s;
  }
  if (w == "@monthly" || w == "@yearly" || w == "@annually") {
    s.days.reset();
    s.days.set(1);
    s.days_star = false;
    if (w != "@monthly") {
      s.months.reset();
      s.months.set(1);
    }
    return s;
  }
  fail(whole, offset,
       "unknown macro \"" + std::string(word) +
           "\" (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)");
}

// ---- readable forms ------------------------------------------------------------------------

struct Token {
  enum class Kind { kWord, kNumber, kColon, kComma, kEnd } kind;
  std::string text;  // lower case
  long number = 0;
  std::size_t offset = 0;
};

std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (is_space(c)) {
      ++i;
      continue;
    }
    Token token{Token::Kind::kEnd, {}, 0, i};
    if (std::isalpha(static_cast<unsigned char>(c))) {
      while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      token.kind = Token::Kind::kWord;
      token.text = lower(text.substr(token.offset, i - token.offset));
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (token.number < 100000) token.number = token.number * 10 + (text[i] - '0');
        ++i;
      }
      token.kind = Token::Kind::kNumber;
      token.text = std::string(text.substr(token.offset, i - token.offset));
    } else if (c == ':') {
      token.kind = Token::Kind::kColon;
      ++i;
    } else if (c == ',') {
      token.kind = Token::Kind::kComma;
      ++i;
    } else {
      fail(text, i, "unexpected character '" + std::string(1, c) + "'");
    }
    tokens.push_back(token);
  }
  tokens.push_back({Token::Kind::kEnd, {}, 0, text.size()});
  return tokens;
}

class Readable {
 public:
  explicit Readable(std::string_view text) : text_(text), tokens_(tokenize(text)) {}

  Schedule parse() {
    expect_word("every");
    Schedule s = every_day_at(0, 0);
    s.times.reset();
    const Token& t = peek();
    if (t.kind == Token::Kind::kNumber) {
      const Token count = next();
      const Token unit = next();
      if (unit.kind == Token::Kind::kWord && (unit.text == "minutes" || unit.text == "minute")) {
        if (count.number < 1 || count.number > 59) {
          fail(text_, count.offset, "every N minutes needs N from 1 to 59");
        }
        // As cron's */N: counted from the start of every hour.
        for (std::size_t h = 0; h < 24; ++h) {
          for (std::size_t m = 0; m < 60; m += static_cast<std::size_t>(count.number)) {
            s.times.set(h * 60 + m);
          }
        }
      } else if (unit.kind == Token::Kind::kWord && (unit.text == "hours" || unit.text == "hour")) {
        if (count.number < 1 || count.number > 23) {
          fail(text_, count.offset, "every N hours needs N from 1 to 23");
        }
        for (std::size_t h = 0; h < 24; h += static_cast<std::size_t>(count.number)) {
          s.times.set(h * 60);
        }
      } else {
        fail(text_, unit.offset, "expected \"minutes\" or \"hours\" after the number");
      }
      expect_end();
      return s;
    }
    if (t.kind != Token::Kind::kWord) fail(text_, t.offset, "expected what follows \"every\"");
    const Token what = next();
    if (what.text == "minute") {
      s.times.set();
      expect_end();
      return s;
    }
    if (what.text == "hour") {
      std::size_t minute = 0;
      if (peek_word("at")) {
        next();
        if (peek().kind == Token::Kind::kColon) next();
        const Token m = next();
        if (m.kind != Token::Kind::kNumber || m.number > 59 || m.text.size() > 2) {
          fail(text_, m.offset, "expected the minute past the hour (\"every hour at :15\")");
        }
        minute = static_cast<std::size_t>(m.number);
      }
      for (std::size_t h = 0; h < 24; ++h) s.times.set(h * 60 + minute);
      expect_end();
      return s;
    }
    if (what.text == "day") {
      at_clause(s);
      return s;
    }
    if (what.text == "weekday" || what.text == "weekdays" || what.text == "weekend" ||
        what.text == "weekends") {
      s.weekdays.reset();
      s.weekdays_star = false;
      if (what.text.rfind("weekday", 0) == 0) {
        for (std::size_t d = 1; d <= 5; ++d) s.weekdays.set(d);
      } else {
        s.weekdays.set(0);
        s.weekdays.set(6);
      }
      at_clause(s);
      return s;
    }
    if (what.text == "month") {
      expect_word("on");
      s.days.reset();
      s.days_star = false;
      bool first = true;
      while (first || list_separator()) {
        first = false;
        const Token day = next();
        if (day.kind == Token::Kind::kWord && day.text == "last") {
          s.last_day = true;
          continue;
        }
        if (day.kind != Token::Kind::kNumber || day.number < 1 || day.number > 31) {
          fail(text_, day.offset, "expected a day of the month (1 to 31, or \"last\")");
        }
        s.days.set(static_cast<std::size_t>(day.number));
        // ordinal suffixes: "1st", "15th"
        if (peek().kind == Token::Kind::kWord && (peek().text == "st" || peek().text == "nd" ||
                                                  peek().text == "rd" || peek().text == "th")) {
          next();
        }
      }
      at_clause(s);
      return s;
    }
    // A list of weekdays.
    s.weekdays.reset();
    s.weekdays_star = false;
    back();
    bool first = true;
    while (first || list_separator()) {
      first = false;
      const Token day = next();
      const int value = day.kind == Token::Kind::kWord ? weekday(day.text) : -1;
      if (value < 0) {
        if (day.kind != Token::Kind::kWord) {
          fail(text_, day.offset, "expected a weekday");
        }
        fail(text_, day.offset,
             "\"" + day.text + "\" is not a weekday" +
                 (first_word_seen_ ? std::string()
                                   : std::string(" (after \"every\" come day, weekday, weekend, "
                                                 "month, hour, minute, N minutes, N hours or "
                                                 "weekdays)")));
      }
      first_word_seen_ = true;
      s.weekdays.set(static_cast<std::size_t>(value));
    }
    at_clause(s);
    return s;
  }

 private:
  static int weekday(const std::string& word) {
    std::string w = word;
    if (w.size() > 1 && w.back() == 's') w.pop_back();  // "mondays"
    for (std::size_t i = 0; i < kWeekdayNames.size(); ++i) {
      const std::string name = kWeekdayNames[i];
      if (w == name || w == name.substr(0, 3)) return static_cast<int>(i);
    }
    if (w == "tue" || w == "tues") return 2;
    if (w == "thu" || w == "thur" || w == "thurs") return 4;
    return -1;
  }

  const Token& peek() const { return tokens_[position_]; }
  bool peek_word(const char* word) const {
    return peek().kind == Token::Kind::kWord && peek().text == word;
  }
  Token next() {
    const Token& t = tokens_[position_];
    if (t.kind != Token::Kind::kEnd) ++position_;
    return t;
  }
  void back() { --position_; }

  void expect_word(const char* word) {
    const Token t = next();
    if (t.kind != Token::Kind::kWord || t.text != word) {
      fail(text_, t.offset, std::string("expected \"") + word + "\"");
    }
  }
  void expect_end() {
    if (peek().kind != Token::Kind::kEnd) fail(text_, peek().offset, "unexpected text at the end");
  }
  // ",", "and" or ", and" between list items.
  bool list_separator() {
    bool found = false;
    if (peek().kind == Token::Kind::kComma) {
      next();
      found = true;
    }
    if (peek_word("and")) {
      next();
      found = true;
    }
    return found;
  }

  // "at" followed by one or more times of day.
  void at_clause(Schedule& s) {
    expect_word("at");
    bool first = true;
    while (first || list_separator()) {
      first = false;
      const Token h = next();
      std::size_t hour = 0;
      std::size_t minute = 0;
      if (h.kind == Token::Kind::kWord && (h.text == "noon" || h.text == "midnight")) {
        hour = h.text == "noon" ? 12 : 0;
      } else {
        if (h.kind != Token::Kind::kNumber || h.number > 23 || h.text.size() > 2) {
          fail(text_, h.offset, "expected a time of day (HH:MM)");
        }
        hour = static_cast<std::size_t>(h.number);
        if (peek().kind == Token::Kind::kColon) {
          next();
          const Token m = next();
          if (m.kind != Token::Kind::kNumber || m.number > 59 || m.text.size() != 2) {
            fail(text_, m.offset, "expected two digits of minutes after ':'");
          }
          minute = static_cast<std::size_t>(m.number);
        }
        if (peek_word("am") || peek_word("pm")) {
          const Token meridiem = next();
          if (hour < 1 || hour > 12) fail(text_, h.offset, "with am or pm the hour is 1 to 12");
          hour = hour % 12 + (meridiem.text == "pm" ? 12 : 0);
        } else if (peek().kind != Token::Kind::kEnd && peek().kind != Token::Kind::kComma &&
                   !peek_word("and")) {
          fail(text_, peek().offset, "unexpected text after the time");
        }
      }
      s.times.set(hour * 60 + minute);
    }
    expect_end();
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  std::size_t position_ = 0;
  bool first_word_seen_ = false;
};

// ---- calendar and time zones -----------------------------------------------------------------

struct Civil {
  std::int64_t year;
  int month;
  int day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {y + (m <= 2 ? 1 : 0), m, d};
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int weekday_of(std::int64_t days) {  // 1970-01-01 was a Thursday
  return static_cast<int>(((days % 7) + 11) % 7);
}

bool day_matches(const Schedule& s, std::int64_t days) {
  const Civil c = civil_from_days(days);
  if (!s.months[static_cast<std::size_t>(c.month)]) return false;
  const bool by_day = s.days[static_cast<std::size_t>(c.day)] ||
                      (s.last_day && c.day == days_in_month(c.year, c.month));
  const bool by_weekday = s.weekdays[static_cast<std::size_t>(weekday_of(days))];
  if (s.days_star && s.weekdays_star) return true;
  if (s.days_star) return by_weekday;
  if (s.weekdays_star) return by_day;
  return by_day || by_weekday;
}

// The instant a local wall-clock time (seconds since 1970 as if local were UTC) happens: the
// first of two when clocks go back; for a time clocks skip, the time read with the offset in
// effect before the change (as PostgreSQL reads such a time).
std::int64_t resolve_local(const Zone& zone, std::int64_t local) {
  const std::int64_t before = zone.offset_at(local - kDay);
  const std::int64_t after = zone.offset_at(local + kDay);
  const std::int64_t early = local - before;
  const std::int64_t late = local - after;
  const bool early_ok = zone.offset_at(early) == before;
  const bool late_ok = zone.offset_at(late) == after;
  if (early_ok && late_ok) return std::min(early, late);
  if (early_ok) return early;
  if (late_ok) return late;
  return early;  // skipped
}

void validate(std::string_view text, const Schedule& s) {
  if (s.times.none()) fail(text, 0, "no time of day");
  if (s.days_star || !s.weekdays_star || s.last_day) return;
  // Only days of the month restrict: at least one month must have one of them.
  for (int month = 1; month <= 12; ++month) {
    if (!s.months[static_cast<std::size_t>(month)]) continue;
    for (int day = 1; day <= days_in_month(2024, month); ++day) {  // 2024: February has 29
      if (s.days[static_cast<std::size_t>(day)]) return;
    }
  }
  fail(text, 0, "this schedule never runs (no month has the days it names)");
}

}  // namespace

std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const std::int64_t yoe = year - era * 400;
  const std::int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int days_in_month(std::int64_t year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2) {
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return leap ? 29 : 28;
  }
  return kDays[month - 1];
}

Schedule parse_schedule(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size() && is_space(text[start])) ++start;
  if (start == text.size()) fail(text, 0, "empty schedule");
  if (text.size() > 1000) fail(text, 1000, "schedule too long");
  const std::string first = lower(text.substr(start, 5));
  Schedule s = first == "every" ? Readable(text).parse() : parse_cron(text);
  validate(text, s);
  s.hourly = true;
  for (std::size_t h = 1; h < 24 && s.hourly; ++h) {
    for (std::size_t m = 0; m < 60; ++m) {
      if (s.times[h * 60 + m] != s.times[m]) {
        s.hourly = false;
        break;
      }
    }
  }
  return s;
}

std::optional<std::int64_t> next_run(const Schedule& s, const Zone& zone, std::int64_t after) {
  if (s.hourly) {
    // Real time: every minute that happens, in order, whose local time matches.
    std::int64_t u = floor_div(after, kMinute) * kMinute + kMinute;
    const std::int64_t limit = after + kSearchDays * kDay;
    while (u <= limit) {
      const std::int64_t local = u + zone.offset_at(u);
      const std::int64_t days = floor_div(local, kDay);
      const std::int64_t second_of_hour = local - floor_div(local, kHour) * kHour;
      if (!day_matches(s, days)) {
        u += kHour - second_of_hour;  // on to the next local hour (a day boundary is one)
        continue;
      }
      const std::size_t minute = static_cast<std::size_t>(second_of_hour / kMinute);
      std::size_t m = minute;
      while (m < 60 && !s.times[m]) ++m;
      if (m == minute) return u;
      u += static_cast<std::int64_t>(m - minute) * kMinute;  // m == 60: the next hour
    }
    return std::nullopt;
  }
  // Named hours: local times in order, each resolved to the instant it happens.
  const std::int64_t first_day = floor_div(after + zone.offset_at(after), kDay) - 1;
  std::optional<std::int64_t> best;
  std::int64_t best_day = 0;
  for (std::int64_t day = first_day; day <= first_day + kSearchDays; ++day) {
    if (best && day > best_day + 1) break;  // a skipped time can move a run past the next day's
    if (!day_matches(s, day)) continue;
    for (std::size_t t = 0; t < 1440; ++t) {
      if (!s.times[t]) continue;
      const std::int64_t instant =
          resolve_local(zone, day * kDay + static_cast<std::int64_t>(t) * kMinute);
      if (instant > after && (!best || instant < *best)) {
        if (!best) best_day = day;
        best = instant;
      }
    }
  }
  return best;
}

}  // namespace pgseg
