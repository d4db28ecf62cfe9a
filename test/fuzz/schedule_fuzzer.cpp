// libFuzzer target: schedule text (cron and readable forms) and next-run arithmetic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "core/schedule.hpp"

namespace {

// A zone that moves its clock by an hour twice a year (at fixed instants), to exercise skipped
// and repeated local times.
class ShiftingZone : public pgseg::Zone {
 public:
  std::int64_t offset_at(std::int64_t t) const override {
    const std::int64_t year = 31556952;
    std::int64_t in_year = t % year;
    if (in_year < 0) in_year += year;
    return in_year > year / 4 && in_year < 3 * (year / 4) ? 7200 : 3600;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  pgseg::Schedule schedule;
  try {
    schedule = pgseg::parse_schedule(input);
  } catch (const pgseg::Error&) {
    return 0;
  }
  const ShiftingZone zone;
  std::int64_t after = 1790000000 + static_cast<std::int64_t>(size) * 7919;
  for (int i = 0; i < 3; ++i) {
    std::optional<std::int64_t> run = pgseg::next_run(schedule, zone, after);
    if (!run) break;
    if (*run <= after || *run % 60 != 0) std::abort();  // strictly later, on a minute
    after = *run;
  }
  return 0;
}
