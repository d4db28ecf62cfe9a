// Library entry: module magic and one-time initialisation.
#include "pg/filter_cache.hpp"
#include "pg/membership.hpp"
#include "pg/realtime.hpp"
#include "pg/related.hpp"
#include "pg/postgres.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);

// Registers cache callbacks. No shared memory and no preload needed, so the library also
// works where it cannot be preloaded (for example on every node of a distributed cluster).
void _PG_init(void) {
  pgseg::pg::register_filter_cache_callbacks();
  pgseg::pg::register_membership_callbacks();
  pgseg::pg::register_realtime_callbacks();
  pgseg::pg::register_related_callbacks();
}
}
