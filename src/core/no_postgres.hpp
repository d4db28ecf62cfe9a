// Guard included by every core header: core sources (compiled with PGSEG_CORE_SOURCE by both
// builds) must stay free of PostgreSQL, so that they are unit-tested and fuzzed on their own.
#pragma once

#if defined(PGSEG_CORE_SOURCE) && (defined(PG_VERSION_NUM) || defined(POSTGRES_H))
#error "src/core must not include PostgreSQL headers; put PostgreSQL glue in src/pg"
#endif
