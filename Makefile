# Makefile for the allocation extension (PGXS).
#
# The usual PGXS targets work: make, make install, make installcheck,
# make clean.  On top of them:
#
#   make deps   install the build and test dependencies (apt, Debian 12)
#   make unit   build and run the pure-C unit tests (test/unit, no server)
#   make test   what CI runs (.ci/run): -Werror build, install, unit,
#               regress, isolation and pgTAP against a throwaway cluster
#   make run    build, install, start the throwaway cluster, run the demo
#   make stop   stop and remove the throwaway cluster
#
# Do not add a target called "check": PGXS owns that name.

EXTENSION  = allocation
EXTVERSION := $(shell sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

PG_CONFIG ?= pg_config

# C sources, one directory per layer (see STYLE.md 3.1).  core and service
# are pure C11; adapters and entry include postgres.h.
CORE_SRCS    := $(sort $(wildcard src/core/*.c))
SERVICE_SRCS := $(sort $(wildcard src/service/*.c))
ADAPTER_SRCS := $(sort $(wildcard src/adapters/*.c))
ENTRY_SRCS   := $(sort $(wildcard src/entry/*.c))
SRCS         := $(CORE_SRCS) $(SERVICE_SRCS) $(ADAPTER_SRCS) $(ENTRY_SRCS)
HDRS         := $(sort $(wildcard src/*/*.h))

# Everything below uses ":=" on purpose: PGXS tests these with "ifdef",
# which is true for a recursively expanded variable even when it expands
# to nothing.
ifneq ($(strip $(SRCS)),)
MODULE_big := $(EXTENSION)
OBJS       := $(SRCS:.c=.o)
endif

PG_CPPFLAGS := -Isrc/core -Isrc/service -Isrc/adapters -Isrc/entry
# Empty by default, so that a newer compiler on a user's machine does not
# break "make install"; "make test" passes -Werror and friends.
PG_CFLAGS ?=

# Install script: built from src/sql/, never edited at the top level.
SQL_SRCS   := src/sql/$(EXTENSION).sql
DATA_built := $(EXTENSION)--$(EXTVERSION).sql
# Frozen upgrade scripts, installed as they are.
DATA       := $(sort $(wildcard src/sql/$(EXTENSION)--*--*.sql))

# pg_regress: every sql/*.sql, in name order, each against the extension.
REGRESS      := $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS := --load-extension=$(EXTENSION)

# Isolation specs need their own inputdir (PG 15's pg_regress has no
# --expecteddir); ISOLATION_OPTS comes after PGXS's --inputdir and wins.
ISOLATION      := $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS := --inputdir=test/isolation --load-extension=$(EXTENSION)

# C unit tests: core + service + test/unit, plain C11, no PostgreSQL
# include path.  If anything in core or service includes postgres.h, this
# build fails: the compiler is the guard.
UNIT_SRCS         := $(sort $(wildcard test/unit/*.c))
UNIT_BIN          := test/unit/unit_tests
UNIT_CFLAGS       := -std=c11 -Wall -Wextra -Werror -g
UNIT_CPPFLAGS     := -Isrc/core -Isrc/service -Itest/unit
# e.g. make unit UNIT_EXTRA_CFLAGS='-fsanitize=address,undefined'
UNIT_EXTRA_CFLAGS ?=
UNIT_LDLIBS       ?=
# prove shows failed assertions and their diagnostics; -v shows them all
UNIT_PROVE_FLAGS  ?= --failures --comments

# Compiler flags of the last module build; objects are rebuilt when they
# change (for example between "make" and "make test", which adds -Werror).
BUILD_FLAGS_STAMP := .build-flags

EXTRA_CLEAN = $(UNIT_BIN) test/unit/*.o results/ output_iso/ \
	regression.diffs regression.out log/ tmp_check/ tmp_check_iso/ \
	$(BUILD_FLAGS_STAMP)
# The throwaway cluster is not removed by "make clean": "make stop" does it.

.DEFAULT_GOAL := all

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
PGXS_FOUND := yes
else
# No server development files yet (a fresh machine before "make deps"):
# keep the script targets usable and say what is missing for the rest.
PGXS_FOUND :=
all install installcheck uninstall:
	@echo "error: PostgreSQL server development files not found (PG_CONFIG=$(PG_CONFIG))." >&2
	@echo "       Run 'make deps' (Debian: postgresql-server-dev-15) or set PG_CONFIG." >&2
	@exit 1
clean distclean:
	rm -rf $(EXTRA_CLEAN) $(DATA_built) $(OBJS) $(OBJS:.o=.bc) $(EXTENSION).so
endif

$(DATA_built): $(SQL_SRCS)
	cat $^ > $@

ifeq ($(PGXS_FOUND),yes)
ifneq ($(strip $(OBJS)),)
# Header changes rebuild every object (PGXS's autodepend is off on Debian);
# the project is small enough for that to be cheap.
$(OBJS) $(OBJS:.o=.bc): $(HDRS) $(BUILD_FLAGS_STAMP)

# core and service are C11 code checked by the unit build; PostgreSQL's
# -Wdeclaration-after-statement is its own house rule, not theirs.
ifneq ($(strip $(CORE_SRCS)$(SERVICE_SRCS)),)
$(CORE_SRCS:.c=.o) $(SERVICE_SRCS:.c=.o): override CFLAGS += -Wno-declaration-after-statement
endif

# ":=" so that the per-directory flags above (which prerequisites inherit)
# do not leak into the stamp.
build_flags := $(CC) $(CPPFLAGS) $(CFLAGS)
$(BUILD_FLAGS_STAMP): FORCE
	@flags='$(subst ','\'',$(build_flags))'; \
	if [ ! -f $@ ] || [ "$$flags" != "$$(cat $@)" ]; then \
		printf '%s\n' "$$flags" > $@; \
	fi
endif
endif

.PHONY: FORCE
FORCE:

# --- unit tests -----------------------------------------------------------

.PHONY: unit
ifeq ($(strip $(UNIT_SRCS)),)
unit:
	@echo "unit: no test/unit/*.c, skipped"
else
unit: $(UNIT_BIN)
	prove --exec '' $(UNIT_PROVE_FLAGS) $(UNIT_BIN)

$(UNIT_BIN): $(UNIT_SRCS) $(CORE_SRCS) $(SERVICE_SRCS) \
		$(wildcard test/unit/*.h src/core/*.h src/service/*.h) Makefile
	$(CC) $(UNIT_CFLAGS) $(UNIT_EXTRA_CFLAGS) $(UNIT_CPPFLAGS) -o $@ \
		$(UNIT_SRCS) $(CORE_SRCS) $(SERVICE_SRCS) $(UNIT_LDLIBS)
endif

# --- project scripts ------------------------------------------------------

.PHONY: deps test run stop
deps:
	@bash scripts/deps.sh
test:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/test.sh
run:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/run.sh
stop:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/cluster.sh stop
