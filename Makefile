# Makefile for the allocation extension (PGXS).
#
# The usual PGXS targets work: make, make install, make installcheck,
# make clean.  On top of them:
#
#   make deps   install the build and test dependencies (apt, Debian 12)
#   make unit   build and run the pure-C unit tests (test/unit, no server)
#   make test   what CI runs (.ci/run): -Werror build, install, unit,
#               regress, isolation and pgTAP against a throwaway cluster
#   make test-pg18
#               the server suites and a pg_upgrade from 15 on PostgreSQL
#               18 built from Debian's source (make test runs it too)
#   make test-cassert
#               regress, isolation and pgTAP against an assertion-enabled
#               PostgreSQL built from Debian's source (make test runs it
#               too unless ALLOC_TEST_CASSERT=no)
#   make run    build, install, start the throwaway cluster, run the demo
#   make stop   stop and remove the throwaway cluster
#
# Do not add a target called "check": PGXS owns that name.

EXTENSION  = allocation
EXTVERSION := $(shell sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

PG_CONFIG ?= pg_config

# C sources, one directory per layer (our house layout).  core and service
# are pure C11; adapters and entry include postgres.h.
CORE_SRCS    := $(sort $(wildcard src/core/*.c))
SERVICE_SRCS := $(sort $(wildcard src/service/*.c))
ADAPTER_SRCS := $(sort $(wildcard src/adapters/*.c))
ENTRY_SRCS   := $(sort $(wildcard src/entry/*.c))
SRCS         := $(CORE_SRCS) $(SERVICE_SRCS) $(ADAPTER_SRCS) $(ENTRY_SRCS)
# src/csv (allocate-from-csv) is a program of its own, not part of the module.
HDRS         := $(sort $(foreach d,core service adapters entry,$(wildcard src/$(d)/*.h)))

# Everything below uses ":=" on purpose: PGXS tests these with "ifdef",
# which is true for a recursively expanded variable even when it expands
# to nothing.
ifneq ($(strip $(SRCS)),)
MODULE_big := $(EXTENSION)
OBJS       := $(SRCS:.c=.o)
endif

PG_CPPFLAGS := -Isrc/core -Isrc/service -Isrc/adapters -Isrc/entry
# The library knows the version of the SQL objects it serves: a database
# still at an older version is told to run ALTER EXTENSION ... UPDATE.
PG_CPPFLAGS += -DAL_EXTVERSION='"$(EXTVERSION)"'
# Empty by default, so that a newer compiler on a user's machine does not
# break "make install"; "make test" passes -Werror and friends.
PG_CFLAGS ?=

# SQL scripts, built from src/sql/ and never edited at the top level
# (docs/architecture.md, "SQL sources"): every function, view and trigger
# is written once, in src/sql/functions.sql; the rights of a fresh install
# in src/sql/rights.sql.
#   allocation--<version>.sql       = src/sql/schema.sql + functions.sql
#                                     + rights.sql
#   allocation--<from>--<version>.sql
#                                   = src/sql/migrations/<from>--<version>.sql
#                                     + functions.sql + update-owners.sql
#                                     + migrations/<from>--<version>-rights.sql
# An upgrade never runs rights.sql: a GRANT or REVOKE on an object that
# exists already would undo the site's own changes to its rights, and
# would record the site's grants as the extension's (pg_init_privs), which
# pg_dump leaves out.  Its rights part gives the rights of the objects new
# in the version.  update-owners.sql gives the objects an update created
# to the extension's owner (the update may run as another superuser).
# Only migrations to the version of allocation.control are built: the
# scripts of a released version are frozen (copied into src/sql/) when
# the next one starts.
SQL_SCHEMA     := src/sql/schema.sql
SQL_FUNCTIONS  := src/sql/functions.sql
SQL_RIGHTS     := src/sql/rights.sql
SQL_OWNERS     := src/sql/update-owners.sql
SQL_MIGRATIONS := $(sort $(wildcard src/sql/migrations/*--$(EXTVERSION).sql))
SQL_UPGRADES   := $(patsubst src/sql/migrations/%.sql,$(EXTENSION)--%.sql,$(SQL_MIGRATIONS))
DATA_built := $(EXTENSION)--$(EXTVERSION).sql $(SQL_UPGRADES)
# Frozen scripts, installed as they are: install scripts of older versions
# (allocation--0.1.0.sql) and released upgrade scripts (allocation--A--B.sql).
DATA       := $(sort $(wildcard src/sql/$(EXTENSION)--*.sql)) \
	$(sort $(wildcard src/sql/$(EXTENSION)--*.control))

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

# A generated script names its sources in its first line; the sources'
# own "\echo ... \quit" guard follows (psql stops there).
$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SCHEMA) $(SQL_FUNCTIONS) $(SQL_RIGHTS)
	{ echo '/* $@: generated by make from $^; do not edit */'; cat $^; } > $@
$(EXTENSION)--%--$(EXTVERSION).sql: src/sql/migrations/%--$(EXTVERSION).sql $(SQL_FUNCTIONS) \
		$(SQL_OWNERS) src/sql/migrations/%--$(EXTVERSION)-rights.sql
	{ echo '/* $@: generated by make from $^; do not edit */'; cat $^; } > $@

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

# make unit also checks the layers: no include or call cycle inside src/,
# no edge up a layer (scripts/check-layers.sh, docs/architecture.md); and
# the SQL sources: every function, view and trigger defined once, in
# src/sql/functions.sql, nothing there that cannot run again, and rights
# only in src/sql/rights.sql and the migrations' rights parts
# (scripts/check-sql-sources.py).
.PHONY: unit check-layers check-sql-sources check-bench check-scripts
unit: check-layers check-sql-sources check-bench check-scripts
check-scripts:
	@bash test/scripts/apt_update_test.sh
check-bench:
	@bash test/bench/rotate_test.sh
	@bash test/bench/all_test.sh
	@bash test/bench/events_figures_test.sh
check-layers:
	@bash scripts/check-layers.sh
check-sql-sources:
	@/usr/bin/python3 scripts/check-sql-sources.py
	@/usr/bin/python3 test/sql_sources/check_sql_sources_test.py
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

.PHONY: deps test run stop deb test-deb
deps:
	@bash scripts/deps.sh
test:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/test.sh
run:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/run.sh
stop:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/cluster.sh stop
# Debian packages into build/deb/out (debian/, scripts/deb.sh); test-deb
# installs them into a clean Debian 12 root and runs the regression suite
# there against the installed files (scripts/test-deb.sh).
# Majors: 15 and 18 (PGMAJOR=18 builds one; 18's packages use the server
# that scripts/build-postgres.sh builds).
deb:
	@$(if $(PGMAJOR),ALLOC_DEB_MAJORS='$(PGMAJOR)') bash scripts/deb.sh
# The PGXN archive of the last commit, build/dist/allocation-<version>.zip,
# and its META.json checked against the PGXN meta spec and read back with
# pgxnclient (test/dist/check_meta.py).
.PHONY: dist
dist:
	@mkdir -p build/dist
	git archive --format=zip --prefix=$(EXTENSION)-$(EXTVERSION)/ \
		-o build/dist/$(EXTENSION)-$(EXTVERSION).zip HEAD
	@/usr/bin/python3 test/dist/check_meta.py META.json build/dist/$(EXTENSION)-$(EXTVERSION).zip
test-deb:
	@bash scripts/test-deb.sh

# --- the assertion-enabled server (scripts/build-postgres.sh) -------------
# make test-cassert builds PostgreSQL CASSERT_MAJOR from the upstream
# source in Debian's source package with --enable-cassert into build/pg/<major>-cassert/ (once: a
# stamp of the inputs makes later runs reuse it), installs the extension
# and pgTAP there, and runs regress, isolation and pgTAP against a cluster
# of its own (tmp_cluster_cassert/, port 5498), so that assertions and the
# overwriting of freed memory catch what the packaged server lets pass.
#
# Timing on the 2-core machine: the cold build costs about 4 minutes of
# CPU (184 s wall when the machine was lightly loaded, 611 s under a load
# average of 10); a warm run takes 20-50 s.  Beside "make test" (3-5 min)
# that keeps CI well under 30 minutes, so CI runs it: scripts/test.sh runs
# it as its last suite, "cassert" (ALLOC_TEST_CASSERT=no skips it).

#
# CASSERT_MAJOR=18 (or CASSERT_MAJORS="15 18") does the same on an
# assertion-enabled 18 (build/pg/18-cassert/, tmp_cluster_cassert_pg18/,
# port 5478): a cold build of about 6-12 minutes on the loaded 2-core
# machine, then about 1 minute a run.  make test runs only 15's by default
# (ALLOC_CASSERT_MAJORS="15 18" adds 18's: docs/testing.md says why).

CASSERT_MAJOR ?= 15
CASSERT_MAJORS ?= $(CASSERT_MAJOR)
.PHONY: test-cassert postgres-cassert
postgres-cassert:
	@for m in $(CASSERT_MAJORS); do \
		bash scripts/build-postgres.sh --major $$m --flavour cassert || exit 1; \
	done
test-cassert:
	@for m in $(CASSERT_MAJORS); do \
		if [ "$$m" = 15 ]; then name=tmp_cluster_cassert port=5498 log=cassert; \
		else name=tmp_cluster_cassert_pg$$m port=$$((5460 + m)) log=cassert-pg$$m; fi; \
		pgc=$$(bash scripts/build-postgres.sh --major $$m --flavour cassert --print-pg-config) && \
		PG_CONFIG="$$pgc" ALLOC_CLUSTER_DIR= ALLOC_CLUSTER_NAME=$$name ALLOC_PGPORT=$$port \
		ALLOC_TEST_SUITES='regress isolation pgtap' ALLOC_TEST_MAKEFLAGS='WITH_RELAY=no' \
		ALLOC_TEST_LOG=log/postgresql-$$log.log bash scripts/test.sh || exit 1; \
	done

# --- other PostgreSQL majors (scripts/test-major.sh) -------------------------
# make test-pg18 builds PostgreSQL 18 (a release build, from Debian's
# source package, into build/pg/18-release/, once), pgTAP and PL/Proxy for
# it, and runs the server suites there on a cluster of its own
# (tmp_cluster_pg18/), including the pg_upgrade from PG_CONFIG's server
# (15) to 18.  make test runs it for every major of ALLOC_TEST_MAJORS
# (default "17 18"; a major whose source the mirror does not serve is
# reported SKIPPED with the missing files, and compiled against its
# headers).  Timings: docs/versions.md.

.PHONY: postgres-pg%
test-pg%:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/test-major.sh $*
postgres-pg%:
	@bash scripts/build-postgres.sh --major $* --flavour release && \
	bash scripts/build-plproxy.sh --major $* --flavour release

# --- benchmarks (bench/README.md) ------------------------------------------

.PHONY: bench bench-large bench-events
# make bench measures everything (bench/all.sh): the extension against its
# peers (bench/run.sh: T1-T7 with PASS or MISS), the router
# (bench/router/run.sh: its cost per call and N nodes against one, in
# shorter runs; figures, no goals) and events with the relay attached
# (bench/events.sh: E1-E4 with PASS or MISS).  A
# packaged server is measured as a private copy (scripts/private-pg.sh),
# into which bench/all.sh builds our patched PL/Proxy when the router runs.
# make bench BENCH_MAJOR=18: the same against the release build of
# PostgreSQL 18 (scripts/build-postgres.sh, with PL/Proxy for the router's
# figures; its own pgbench); the reports are bench/results/latest-pg18.md,
# bench/router/results-pg18.md and bench/results/events-pg18.md, beside 15's.
BENCH_MAJOR ?=
bench_pg_config = pgc='$(PG_CONFIG)'; \
	if [ "$$pgc" = pg_config ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then \
		pgc=/usr/lib/postgresql/15/bin/pg_config; \
	fi; \
	if [ -n '$(BENCH_MAJOR)' ] && [ '$(BENCH_MAJOR)' != 15 ]; then \
		pgc=$$(bash scripts/build-postgres.sh --major '$(BENCH_MAJOR)' --flavour release --print-pg-config) || exit 1; \
	fi; \
	pgc=$$(bash scripts/private-pg.sh --pg-config "$$pgc") || exit 1
bench:
	@bash scripts/deps.sh
	@$(bench_pg_config); PG_CONFIG="$$pgc" bash bench/all.sh
# make bench-events: only the events part (BENCH_ONLY=events): round
# trips, commit -> subscriber, allocate with a consumer, backlog throughput.
bench-events:
	@bash scripts/deps.sh
	@$(bench_pg_config); PG_CONFIG="$$pgc" BENCH_ONLY=events bash bench/all.sh
bench-large:
	@bash scripts/deps.sh
	@$(bench_pg_config); PG_CONFIG="$$pgc" BENCH_LARGE=1 bash bench/run.sh

# --- long stress runs (scripts/extra-tests/, test/stress/) ----------------
# make stress: 300 s of pgbench, 6 crash rounds, 1,000,000 calls of the
# memory test, dump/restore, against a throwaway cluster of its own.
# STRESS_SECONDS, CRASH_ROUNDS, MEMORY_CALLS, STRESS_SUITES override.

.PHONY: stress
stress:
	@PG_CONFIG='$(PG_CONFIG)' bash test/stress/run-long.sh

# --- allocation-relay: the bridge to Redis (relay/Makefile, relay/README.md) --
#
# A program of its own with its own Makefile, as the router has.  "make"
# builds it and "make install" installs it into RELAY_BINDIR; WITH_RELAY=no
# builds and installs the extension alone.  PG_CFLAGS is passed on, so
# "make test" compiles it with -Werror too.

WITH_RELAY      ?= yes
RELAY_MAKE       = $(MAKE) --no-print-directory -C relay PG_CONFIG='$(PG_CONFIG)' \
	PG_CFLAGS='$(PG_CFLAGS)' UNIT_PROVE_FLAGS='$(UNIT_PROVE_FLAGS)' \
	$(if $(RELAY_BINDIR),RELAY_BINDIR='$(RELAY_BINDIR)')

.PHONY: relay relay-unit install-relay uninstall-relay relay-clean
relay:
	+$(RELAY_MAKE) all

ifeq ($(WITH_RELAY),yes)
ifeq ($(PGXS_FOUND),yes)
all: relay
install: install-relay
uninstall: uninstall-relay
endif
endif
clean: relay-clean
unit: relay-unit

relay-unit:
	+$(RELAY_MAKE) unit
install-relay:
	+$(RELAY_MAKE) install
uninstall-relay:
	+$(RELAY_MAKE) uninstall
relay-clean:
	+$(RELAY_MAKE) clean

# --- allocate-from-csv: the same core over CSV files (docs/csv.md) ---------
#
# Plain C11 on src/core, src/service and src/csv (no PostgreSQL headers,
# no library), built by "make" and installed by "make install" into
# CSV_BINDIR, which is on the PATH.  src/csv is not in the module's
# sources: the extension's source lists name their directories.
# make bench-csv measures it on generated data (bench/csv/).

CSV_BIN         := src/csv/allocate-from-csv
CSV_SRCS        := $(sort $(wildcard src/csv/*.c))
CSV_HDRS        := $(sort $(wildcard src/csv/*.h))
CSV_BINDIR      ?= /usr/local/bin
CSV_CFLAGS      ?= -std=c11 -O2 -g -Wall -Wextra
CSV_CPPFLAGS    := -Isrc/core -Isrc/service -Isrc/csv
CSV_FLAGS_STAMP := src/csv/.build-flags

.PHONY: csv install-csv uninstall-csv csv-clean bench-csv
csv: $(CSV_BIN)
all: $(CSV_BIN)
install: install-csv
uninstall: uninstall-csv
clean: csv-clean

csv_build_flags := $(CC) $(CSV_CFLAGS) $(PG_CFLAGS) $(CSV_CPPFLAGS)
$(CSV_FLAGS_STAMP): FORCE
	@flags='$(subst ','\'',$(csv_build_flags))'; \
	if [ ! -f $@ ] || [ "$$flags" != "$$(cat $@)" ]; then \
		printf '%s\n' "$$flags" > $@; \
	fi

$(CSV_BIN): $(CSV_SRCS) $(CSV_HDRS) $(CORE_SRCS) $(SERVICE_SRCS) \
		$(wildcard src/core/*.h src/service/*.h) $(CSV_FLAGS_STAMP)
	$(CC) $(CSV_CFLAGS) $(PG_CFLAGS) $(CSV_CPPFLAGS) -o $@ \
		$(CSV_SRCS) $(CORE_SRCS) $(SERVICE_SRCS)

# As the relay: a user who cannot write CSV_BINDIR still gets the rest.
install-csv: $(CSV_BIN)
	@dir='$(DESTDIR)$(CSV_BINDIR)'; \
	if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" -ne 0 ] && \
	   ! { [ -d "$$dir" ] && [ -w "$$dir" ]; }; then \
		echo "warning: cannot write $$dir: allocate-from-csv not installed" >&2; \
		echo "         (make install CSV_BINDIR=<dir on your PATH>, or run $(CSV_BIN) from here)" >&2; \
	else \
		echo "install -d $$dir && install -m 755 $(CSV_BIN) $$dir/allocate-from-csv"; \
		install -d "$$dir" && install -m 755 $(CSV_BIN) "$$dir/allocate-from-csv"; \
	fi

uninstall-csv:
	rm -f '$(DESTDIR)$(CSV_BINDIR)/allocate-from-csv'

csv-clean:
	rm -f $(CSV_BIN) $(CSV_FLAGS_STAMP)

bench-csv: $(CSV_BIN)
	@bash bench/csv/run.sh

# --- the router extension (router/: allocation_router, SQL only) -----------

.PHONY: all-router install-router uninstall-router clean-router
all: all-router
install: install-router
uninstall: uninstall-router
clean: clean-router
all-router:
	$(MAKE) --no-print-directory -C router PG_CONFIG='$(PG_CONFIG)' all
install-router:
	$(MAKE) --no-print-directory -C router PG_CONFIG='$(PG_CONFIG)' install
uninstall-router:
	$(MAKE) --no-print-directory -C router PG_CONFIG='$(PG_CONFIG)' uninstall
clean-router:
	$(MAKE) --no-print-directory -C router PG_CONFIG='$(PG_CONFIG)' clean

# --- fuzzing (test/fuzz, scripts/extra-tests/fuzz.sh) ---------------------
# make fuzz: the libFuzzer targets (clang, ASan + UBSan) for FUZZ_SECONDS
# each (default 600, both at once), growing a corpus kept in
# test/fuzz/build/long, plus the unit tests under ASan/UBSan and valgrind.
# "make test" runs the same for 10 s.  make fuzz-mutants proves that the
# fuzzers catch deliberately broken rules (scratch copies of src/).

FUZZ_SECONDS ?= 600
.PHONY: fuzz fuzz-mutants
fuzz:
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' bash scripts/extra-tests/fuzz.sh --long
fuzz-mutants:
	@bash scripts/extra-tests/fuzz.sh --mutants
