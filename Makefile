# pg_segments: PGXS build of the extension (make, make install, make installcheck).
# The core library's unit tests, fuzzers and benchmarks are built by CMakeLists.txt.

EXTENSION = pg_segments
MODULE_big = pg_segments
# Install scripts of released versions stay as they were released, and every update script is
# kept. The current version's install script is built: the first release's script, each update
# script in order, then segments.post_upgrade(), which makes the table changes update scripts
# leave out (at CREATE EXTENSION no table can be distributed yet). A new installation and an
# updated one therefore run the same code. See docs/upgrades.md.
EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'$$/\1/p" pg_segments.control)
FIRST_SCRIPT = extension/pg_segments--1.0.sql
UPDATE_SCRIPTS = extension/pg_segments--1.0--1.1.sql
DATA = $(FIRST_SCRIPT) $(UPDATE_SCRIPTS)
DATA_built = pg_segments--$(EXTVERSION).sql
PGFILEDESC = "pg_segments - customer segments kept true inside PostgreSQL"

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
GLUE_SRCS = $(sort $(wildcard src/pg/*.cpp) $(wildcard src/functions/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)

# Regression tests: every file in sql/ runs, in the order of test/regress_schedule.
REGRESS = $(shell sed -n 's/^test: *//p' test/regress_schedule | tr '\n' ' ')
REGRESS_OPTS = --load-extension=plpgsql
ISOLATION_SPECS = $(wildcard test/isolation/specs/*.spec)
ifneq ($(ISOLATION_SPECS),)
ISOLATION = $(basename $(notdir $(ISOLATION_SPECS)))
ISOLATION_OPTS = --inputdir=test/isolation
endif

PG_CONFIG ?= pg_config
PG_INCLUDEDIR_SERVER := $(shell $(PG_CONFIG) --includedir-server)

# Same strict warnings as the CMake build; PostgreSQL's headers are system headers.
PGSEG_WERROR ?= 1
PG_CPPFLAGS = -Isrc -isystem $(PG_INCLUDEDIR_SERVER)
# -MMD -MP: every object is rebuilt when a header it includes changes.
PG_CXXFLAGS = -std=c++17 -fPIC -Wall -Wextra -Wshadow -MMD -MP
ifeq ($(PGSEG_WERROR),1)
PG_CXXFLAGS += -Werror
endif
SHLIB_LINK = -lstdc++

# Core sources are checked to stay free of PostgreSQL headers (see src/core/no_postgres.hpp).
$(CORE_SRCS:.cpp=.o): override CPPFLAGS += -DPGSEG_CORE_SOURCE

# No LLVM bitcode for C++ sources: the JIT inlining it enables is of no use here.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

pg_segments--$(EXTVERSION).sql: $(FIRST_SCRIPT) $(UPDATE_SCRIPTS) pg_segments.control
	{ cat $(FIRST_SCRIPT) $(UPDATE_SCRIPTS); \
	  echo "SELECT segments.post_upgrade();"; } >$@

-include $(OBJS:.o=.d)
EXTRA_CLEAN += $(OBJS:.o=.d)
