#!/usr/bin/env bash
# scripts/test-major.sh - the server suites against another PostgreSQL
# major version, built from Debian's source package ("make test-pg18";
# "make test" runs it for every major of ALLOC_TEST_MAJORS).
#
#   scripts/test-major.sh MAJOR
#
# 1. scripts/build-postgres.sh --major MAJOR --flavour release: the server,
#    psql, pg_dump, pg_upgrade, pg_regress and pgTAP in
#    build/pg/MAJOR-release/ (cached: a warm run builds nothing);
# 2. scripts/build-plproxy.sh: PL/Proxy for that server, for the router
#    suite (cached too); when it cannot be had, the router suite is left
#    out and the reason is printed;
# 3. scripts/test.sh with that server's pg_config, on a cluster of its own
#    (tmp_cluster_pgMAJOR), running ALLOC_MAJOR_SUITES.  The unit tests
#    and the suites that use no server (fuzz) are not repeated: they do
#    not depend on the server.  pg_upgrade runs here, from the server of
#    PG_CONFIG (Debian's 15, where the extension was just installed by
#    make test) to MAJOR.
#
# Environment:
#   PG_CONFIG           the server pg_upgrade starts from (default 15's)
#   ALLOC_MAJOR_SUITES  the suites to run (default below)
#
# When the mirror serves no source of MAJOR (17 today: listed, not
# served), the suites cannot run; the sources are still compiled against
# that major's headers (scripts/compile-major.sh), and the last lines say
# what was not served ("build-postgres: not served: URL (reason)") and
# "test-major: skipped: <reason>".
#
# Exit status: 0 all passed; 3 the mirror serves no source of MAJOR and
# the sources compile against its headers (make test reports it as
# skipped, with the files that were not served); 1 otherwise.
set -uo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit 1

major=${1:-}
[[ $major =~ ^[0-9]+$ ]] || die "usage: $0 MAJOR"

# Measured on the 2-core machine (see the README): every server suite
# but the fuzzers, which use no server.
suites=${ALLOC_MAJOR_SUITES:-regress isolation pgtap pg_upgrade dump_restore crash csv memory relay router router_relay search_path sql_fuzz stress wal_secret_log}

start=$(date +%s)
pgc=$(bash scripts/build-postgres.sh --major "$major" --flavour release --print-pg-config)
rc=$?
if [ "$rc" -eq 3 ]; then
	bash scripts/compile-major.sh "$major"
	case $? in
		0) say "test-major: skipped: not run, the mirror does not serve PostgreSQL $major's source; its C sources compile against its headers" ;;
		3) say "test-major: skipped: not run, the mirror does not serve PostgreSQL $major's source, nor its headers" ;;
		*) exit 1 ;;
	esac
	exit 3
fi
[ "$rc" -eq 0 ] || exit "$rc"

if [[ " $suites " == *" router "* || " $suites " == *" router_relay "* ]]; then
	bash scripts/build-plproxy.sh --major "$major" --flavour release
	rc=$?
	if [ "$rc" -eq 3 ]; then
		say "test-major: no PL/Proxy for PostgreSQL $major: the router suites are left out"
		suites=$(printf '%s\n' $suites | grep -vx 'router\|router_relay' | tr '\n' ' ')
	elif [ "$rc" -ne 0 ]; then
		exit 1
	fi
fi
# The relay is a client: built once, against the libpq of PG_CONFIG (as a
# user's is against the system's), it must work with every server.
from_pg_config=$PG_CONFIG
if [[ " $suites " == *" relay "* || " $suites " == *" router_relay "* ]]; then
	"$MAKE" --no-print-directory PG_CONFIG="$from_pg_config" relay >/dev/null || exit 1
fi
say "test-major: PostgreSQL $major ready in $(( $(date +%s) - start )) s; suites: $suites"

PG_CONFIG="$pgc" ALLOC_UPGRADE_FROM_PG_CONFIG="$from_pg_config" \
	ALLOC_CLUSTER_DIR= ALLOC_CLUSTER_NAME="tmp_cluster_pg$major" ALLOC_PGPORT="54$major" \
	ALLOC_TEST_SUITES="$suites" ALLOC_TEST_MAKEFLAGS='WITH_RELAY=no' ALLOC_TEST_CASSERT=no ALLOC_TEST_PLPROXY=no \
	ALLOC_TEST_LOG="log/postgresql-pg$major.log" bash scripts/test.sh
rc=$?
say "test-major: PostgreSQL $major took $(( $(date +%s) - start )) s"
[ "$rc" -eq 0 ] || exit 1
