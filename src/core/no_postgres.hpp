// Guard included by every core header: the core must stay free of PostgreSQL.
#pragma once

#if defined(PG_VERSION_NUM) || defined(POSTGRES_H)
#error "src/core must not include PostgreSQL headers; put PostgreSQL glue in src/pg"
#endif
