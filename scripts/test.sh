#!/usr/bin/env bash
# scripts/test.sh - everything CI runs ("make test", called by .ci/run).
#
#   deps -> build with warnings as errors -> install -> unit tests
#   -> fresh throwaway cluster -> regress -> isolation -> pgTAP
#   -> scripts/extra-tests/*.sh -> stop the cluster -> summary
#
# Every suite runs even when an earlier one failed (not after a failed
# build).  Suites without files are reported as skipped.  The last lines
# are one "<suite>: ok|FAILED|skipped" line per suite, a count line, and
# "ALL TESTS PASSED" or "TESTS FAILED: <suites>"; the exit status is 0
# only when nothing failed.
#
# Environment:
#   ALLOC_TEST_CFLAGS   PG_CFLAGS of the build (default below)
#   ALLOC_TEST_SUITES   run only these suites (space-separated: unit,
#                       regress, isolation, pgtap, or an extra suite's
#                       NAME); the others are not run nor listed.  Default:
#                       all.  "make test-cassert" runs "regress isolation
#                       pgtap" on an assertion-enabled server.
#   ALLOC_TEST_MAKEFLAGS more arguments for make (e.g. WITH_RELAY=no)
#   ALLOC_TEST_LOG      where the server log is kept after the run
#                       (default log/postgresql-test.log)
#   ALLOC_TEST_CASSERT  yes: suite "cassert", which runs make
#                       test-cassert (skipped when the mirror serves no
#                       PostgreSQL source); default yes, "no" skips it
#   ALLOC_CASSERT_MAJORS the majors of the assertion-enabled suites
#                       (default "15": suite "cassert"; "15 18" adds
#                       "cassert-pg18", not by default: docs/testing.md)
#   ALLOC_TEST_PLPROXY  yes (default): build PL/Proxy with the router's
#                       patch into PG_CONFIG's server before the suites
#                       (scripts/build-plproxy.sh --pg-config); "no" when
#                       the caller did
#
# A packaged PG_CONFIG (Debian's /usr/lib/postgresql/15, whose files dpkg
# owns) is never written into: the run builds, installs and tests on a
# private copy of that server (scripts/private-pg.sh).  The suite
# "packaged-files" fails when dpkg --verify of the system's PostgreSQL,
# PL/Proxy or pgTAP package says something else at the end than at the
# start.
#   ALLOC_TEST_MAJORS   the other PostgreSQL majors to test, each as the
#                       last suites "pg<N>" (scripts/test-major.sh: the
#                       server suites on a release build of N from
#                       Debian's source).  Default "17 18"; "" runs 15
#                       alone.  A major whose source the mirror does not
#                       serve is reported "SKIPPED", with the files that
#                       were not served listed under it in the summary,
#                       and its sources compiled against its headers (a
#                       compile error fails it).
#   ALLOC_PGPORT, ALLOC_CLUSTER_DIR, PG_CONFIG: see scripts/cluster.sh
#
# The cluster is the one of "make run" (scripts/cluster.sh): make test
# starts it afresh and removes it at the end, demo database included.
#
# Extra suites: each scripts/extra-tests/NAME.sh runs with bash, in the
# repository's top directory, with the cluster's PGHOST, PGPORT, PGUSER,
# PGDATABASE, ALLOC_PGDATA, ALLOC_PGLOG, PG_CONFIG and PG_BINDIR exported;
# exit 0 means "NAME: ok", 77 "NAME: skipped" (with the reason as its
# last line of output), anything else "NAME: FAILED".  If it leaves the
# server down, the cluster is started again (same data) before the next
# suite.
set -uo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit 1
mkdir -p "$ROOT/log"

TEST_CFLAGS=${ALLOC_TEST_CFLAGS:--Wall -Wextra -Wno-unused-parameter -Werror -DUSE_ASSERT_CHECKING}
JOBS=$(nproc 2>/dev/null || echo 2)
DIFF_LINES=1000   # print at most this much of a diffs file

SUITES=${ALLOC_TEST_SUITES:-}
read -r -a MAKE_EXTRA <<< "${ALLOC_TEST_MAKEFLAGS:-}"
SERVER_LOG=${ALLOC_TEST_LOG:-log/postgresql-test.log}

# wanted SUITE: is SUITE selected (ALLOC_TEST_SUITES)?
wanted() { [ -z "$SUITES" ] || [[ " $SUITES " == *" $1 "* ]]; }

summary=()
failed=()
why=()   # what each failed suite said, printed last (explain)
npassed=0 nfailed=0 nskipped=0

# (each suite's line in the summary ends with the seconds since its section began)
section_start=$SECONDS
section() { section_start=$SECONDS; printf '\n======== %s ========\n' "$*"; }

# record SUITE ok|failed|skipped [note]
record() {
	local line="$1: $2"
	case $2 in
		ok) npassed=$((npassed + 1)) ;;
		failed) nfailed=$((nfailed + 1)); failed+=("$1"); line="$1: FAILED" ;;
		skipped) nskipped=$((nskipped + 1)) ;;
		SKIPPED) nskipped=$((nskipped + 1)) ;;
	esac
	[ -z "${3:-}" ] || line="$line ($3)"
	line="$line [$((SECONDS - section_start)) s]"
	summary+=("$line")
	printf '%s\n' "$line"
}

# detail LINE...: lines shown under the last suite's line in the summary.
detail() {
	local l
	for l in "$@"; do
		summary+=("    $l")
		printf '    %s\n' "$l"
	done
}

# packaged_state: dpkg --verify of the packages of the system's PostgreSQL
# $PG_MAJOR and its PL/Proxy and pgTAP (empty where there is no dpkg).
packaged_state() {
	command -v dpkg >/dev/null 2>&1 || return 0
	local p
	for p in postgresql-$PG_MAJOR postgresql-$PG_MAJOR-plproxy postgresql-$PG_MAJOR-pgtap; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q ' installed$' || continue
		printf '%s:\n' "$p"
		dpkg --verify "$p" 2>&1 || true
	done
}

have_files() { compgen -G "$1" >/dev/null; }

# explain SUITE FILE: keep the lines of FILE (a failed suite's output) that
# say what failed; finish prints them last, where a CI page that shows only
# the end of the output still shows them.  A nested run (pg18, cassert)
# has its own such block: it is taken whole, each line under SUITE/.
explain() {
	local lines=() l
	[ -s "$2" ] || { why+=("$1: (no output)"); return 0; }
	mapfile -t lines < <(sed -n '/^---- why it failed ----$/,/^TESTS FAILED:/p' "$2" | sed '1d;$d')
	if [ "${#lines[@]}" -gt 0 ]; then
		for l in "${lines[@]}"; do why+=("$1/$l"); done
		return 0
	fi
	# A TAP suite's failed checks first, each with the comment under it:
	# the logs such a suite prints after failing would push them out.
	mapfile -t lines < <(awk '/^not ok /{ n++; if (n > 6) exit; print; keep = 1; next }
		keep && /^#/ { print; keep = 0; next } { keep = 0 }' "$2")
	if [ "${#lines[@]}" -gt 0 ]; then
		for l in "${lines[@]}"; do why+=("$1: ${l:0:240}"); done
		return 0
	fi
	mapfile -t lines < <(grep -a -E -i '^[+-][^+-]|fail|error|assert|timed out|timeout|panic|terminated by signal|expected|^#  +(got|wanted)' "$2" |
		grep -a -v -E -i ': ok( |$)|[^1-9]0 (expectation\(s\) )?failed|failed transactions: 0 |^ok ' | tail -n 6)
	[ "${#lines[@]}" -gt 0 ] || mapfile -t lines < <(tail -n 3 "$2")
	for l in "${lines[@]}"; do why+=("$1: ${l:0:240}"); done
}

show_file() {
	[ -s "$1" ] || return 0
	local n
	n=$(wc -l < "$1")
	printf '\n---- %s ----\n' "$1"
	head -n "$DIFF_LINES" "$1"
	if [ "$n" -gt "$DIFF_LINES" ]; then
		printf '... (%d more lines in %s)\n' $((n - DIFF_LINES)) "$1"
	fi
	printf -- '---- end of %s ----\n' "$1"
}

mk() { "$MAKE" --no-print-directory PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$TEST_CFLAGS" "${MAKE_EXTRA[@]}" "$@"; }

finish() {
	section summary
	printf '%s\n' "${summary[@]}"
	printf 'suites: %d passed, %d failed, %d skipped\n' "$npassed" "$nfailed" "$nskipped"
	if [ "$nfailed" -eq 0 ]; then
		echo "ALL TESTS PASSED"
		exit 0
	fi
	if [ "${#why[@]}" -gt 0 ]; then
		echo "---- why it failed ----"
		local from=$(( ${#why[@]} > 24 ? ${#why[@]} - 24 : 0 ))
		printf '%s\n' "${why[@]:from}"
	fi
	echo "TESTS FAILED: ${failed[*]}"
	exit 1
}

# --- dependencies and build -------------------------------------------------

section deps
if ! bash scripts/deps.sh; then
	record deps failed
	finish
fi
resolve_pg_config

# Never into a packaged server: make test installs the extension, the
# router and our patched PL/Proxy into the server it tests, and in
# Debian's that would replace files its packages own (apt puts them back
# on the next upgrade).  A packaged server is tested as a private copy
# (scripts/private-pg.sh; PG_CONFIG names the copy's from here on).
section server
if ! PG_CONFIG=$(bash scripts/private-pg.sh --pg-config "$PG_CONFIG"); then
	record build failed "no private copy of the packaged server"
	finish
fi
export PG_CONFIG
# What dpkg --verify says of the packages of the server's files now: the
# same must be said after the suites (suite "packaged-files").
packaged_before=$(packaged_state)

section build
if ! PG_BINDIR=$(pg_bindir); then
	echo "PostgreSQL server binaries not found (PG_CONFIG=$PG_CONFIG)"
	record build failed
	finish
fi
export PG_BINDIR
echo "PostgreSQL: $("$PG_CONFIG" --version) ($PG_CONFIG)"
echo "PG_CFLAGS: $TEST_CFLAGS"
if ! mk -j"$JOBS" all; then
	record build failed
	finish
fi

section install
do_install() {
	if [ "$(id -u)" -eq 0 ] ||
	   { [ -w "$("$PG_CONFIG" --pkglibdir)" ] && [ -w "$("$PG_CONFIG" --sharedir)/extension" ]; }; then
		mk install
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$MAKE" --no-print-directory PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$TEST_CFLAGS" "${MAKE_EXTRA[@]}" install
	else
		echo "cannot write PostgreSQL's extension directories and there is no sudo"
		return 1
	fi
}
if ! do_install; then
	record install failed
	finish
fi
# The router suite needs PL/Proxy with our patch (router/plproxy-timeouts.patch):
# build it into this server (scripts/test-major.sh has built it for its own).
# (PG_CONFIG is never a packaged server's here: build-plproxy.sh refuses one.)
router_wanted=no
for f in scripts/extra-tests/router*.sh scripts/extra-tests/search_path.sh; do
	! wanted "$(basename "$f" .sh)" || router_wanted=yes
done
if [ "$router_wanted" = yes ] && [ "${ALLOC_TEST_PLPROXY:-yes}" = yes ] &&
   ! bash scripts/build-plproxy.sh --pg-config "$PG_CONFIG"; then
	echo "no PL/Proxy with the router's patch: the router suites will fail"
fi

# --- unit tests: no server ----------------------------------------------------

if ! wanted unit; then
	:
elif section unit && ! have_files 'test/unit/*.c'; then
	record unit skipped "no test/unit/*.c"
elif mk unit 2>&1 | tee "$ROOT/log/unit.out"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
	record unit ok
else
	record unit failed
	explain unit "$ROOT/log/unit.out"
fi

# --- the throwaway cluster ----------------------------------------------------

cluster_up=no
any_server_failure=no
cleanup() {
	trap - EXIT INT TERM
	if [ "$cluster_up" = yes ]; then
		# Keep the server log of this run for a look after the cluster is gone.
		mkdir -p "$(dirname "$SERVER_LOG")"
		cp -f "$ALLOC_PGLOG" "$SERVER_LOG" 2>/dev/null || true
		if [ "$any_server_failure" = yes ] &&
		   grep -qE 'terminated by signal|PANIC|TRAP:' "$SERVER_LOG" 2>/dev/null; then
			printf '\n---- server crashes (%s) ----\n' "$SERVER_LOG"
			grep -n -B 2 -A 8 -E 'terminated by signal|PANIC|TRAP:' "$SERVER_LOG" | head -n 200
		fi
		bash scripts/cluster.sh stop || true
		cluster_up=no
	fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

section cluster
if bash scripts/cluster.sh start --fresh; then
	cluster_up=yes
	eval "$(bash scripts/cluster.sh env)"
	# The suites use the maintenance database, whatever env chose.
	export PGDATABASE=postgres
else
	echo "the throwaway cluster did not start: the server suites fail"
fi

# server_suite NAME: can NAME run?  Records it failed if there is no cluster.
server_suite() {
	if [ "$cluster_up" != yes ]; then
		record "$1" failed "no cluster"
		return 1
	fi
	# A suite that crashed or stopped the server must not sink the next one.
	if ! bash scripts/cluster.sh status >/dev/null 2>&1; then
		echo "the server is down; starting it again"
		bash scripts/cluster.sh start || { record "$1" failed "server down"; return 1; }
	fi
	return 0
}

suite_failed() { any_server_failure=yes; record "$1" failed; }

if ! wanted regress; then
	:
elif section regress && ! have_files 'sql/*.sql'; then
	record regress skipped "no sql/*.sql"
elif server_suite regress; then
	rm -rf results regression.diffs regression.out
	if mk installcheck ISOLATION=; then
		record regress ok
	else
		show_file regression.diffs
		explain regress regression.diffs
		suite_failed regress
	fi
fi

if ! wanted isolation; then
	:
elif section isolation && ! have_files 'test/isolation/specs/*.spec'; then
	record isolation skipped "no test/isolation/specs/*.spec"
elif server_suite isolation; then
	rm -rf output_iso
	if mk installcheck REGRESS=; then
		record isolation ok
	else
		show_file output_iso/regression.diffs
		explain isolation output_iso/regression.diffs
		suite_failed isolation
	fi
fi

if ! wanted pgtap; then
	:
elif section pgtap && ! have_files 'test/pgtap/*.sql'; then
	record pgtap skipped "no test/pgtap/*.sql"
elif server_suite pgtap; then
	psql=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
	if "${psql[@]}" -d postgres -c 'SET client_min_messages = warning' \
			-c 'DROP DATABASE IF EXISTS allocation_tap WITH (FORCE)' \
			-c 'CREATE DATABASE allocation_tap' &&
	   "${psql[@]}" -d allocation_tap \
			-c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION allocation' &&
	   pg_prove --psql-bin "$PG_BINDIR/psql" -d allocation_tap \
			--failures --comments test/pgtap/*.sql 2>&1 | tee "$ROOT/log/pgtap.out" &&
	   [ "${PIPESTATUS[0]}" -eq 0 ]; then
		record pgtap ok
	else
		explain pgtap "$ROOT/log/pgtap.out"
		suite_failed pgtap
	fi
fi

# --- extra suites (stress, crash, ...) ------------------------------------------

for f in scripts/extra-tests/*.sh; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .sh)
	wanted "$name" || continue
	section "$name ($f)"
	server_suite "$name" || continue
	mkdir -p "$ROOT/log"
	ALLOC_ROOT=$ROOT bash "$f" 2>&1 | tee "$ROOT/log/extra-$name.out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ]; then
		record "$name" ok
	elif [ "$rc" -eq 77 ]; then
		record "$name" skipped "$(tail -n 1 "$ROOT/log/extra-$name.out" | sed 's/^[^:]*: //')"
	else
		explain "$name" "$ROOT/log/extra-$name.out"
		suite_failed "$name"
	fi
done

cleanup

# --- no packaged file was replaced ---------------------------------------------

if wanted packaged-files || [ "$router_wanted" = yes ]; then
	section packaged-files
	packaged_after=$(packaged_state)
	if [ "$packaged_after" = "$packaged_before" ]; then
		record packaged-files ok
	else
		echo "dpkg --verify of the packaged server's packages changed during the run:"
		diff <(printf '%s\n' "$packaged_before") <(printf '%s\n' "$packaged_after") || true
		record packaged-files failed
	fi
fi

# --- the server suites again, on an assertion-enabled server ------------------

for major in ${ALLOC_CASSERT_MAJORS-15}; do
	[ "${ALLOC_TEST_CASSERT:-yes}" = yes ] || break
	name=cassert
	[ "$major" = 15 ] || name=cassert-pg$major
	wanted "$name" || continue
	section "$name (make test-cassert CASSERT_MAJORS=$major)"
	bash scripts/build-postgres.sh --major "$major" --flavour cassert
	rc=$?
	if [ "$rc" -eq 3 ]; then
		record "$name" SKIPPED "no PostgreSQL $major source package served"
	elif [ "$rc" -ne 0 ]; then
		record "$name" failed "PostgreSQL build"
	elif "$MAKE" --no-print-directory test-cassert CASSERT_MAJORS="$major" 2>&1 | tee "$ROOT/log/$name.out";
	     [ "${PIPESTATUS[0]}" -eq 0 ]; then
		record "$name" ok
	else
		record "$name" failed
		explain "$name" "$ROOT/log/$name.out"
	fi
done

# --- the server suites again, on the other PostgreSQL majors -------------------

# A major the mirror does not serve is not a pass: its line says SKIPPED
# and names the files, so that nobody mistakes it for a tested version.
for major in ${ALLOC_TEST_MAJORS-17 18}; do
	wanted "pg$major" || continue
	section "pg$major (make test-pg$major)"
	mkdir -p "$ROOT/log"
	bash scripts/test-major.sh "$major" 2>&1 | tee "$ROOT/log/pg$major.out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 3 ]; then
		reason=$(sed -n 's/^test-major: skipped: //p' "$ROOT/log/pg$major.out" | tail -n 1)
		record "pg$major" SKIPPED "${reason:-no PostgreSQL $major source package served}"
		mapfile -t not_served < <(sed -n 's/^build-postgres: \(not served: .*\)$/\1/p' "$ROOT/log/pg$major.out")
		[ "${#not_served[@]}" -eq 0 ] || detail "${not_served[@]}"
	elif [ "$rc" -ne 0 ]; then
		record "pg$major" failed
		explain "pg$major" "$ROOT/log/pg$major.out"
	else
		record "pg$major" ok
	fi
done

finish
