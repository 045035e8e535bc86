# test/stress/lib.bash - helpers of scripts/extra-tests/*.sh (sourced).
#
# The suites run against a server described by the usual libpq variables
# (PGHOST, PGPORT, PGUSER), as "make test" exports them; PG_BINDIR or
# PG_CONFIG names the PostgreSQL binaries.  ALLOC_PGDATA and ALLOC_PGLOG
# (data directory, server log) are needed by the crash test only.
#
# Defines:
#   STRESS_DIR       this directory
#   PSQL, PGBENCH... the client programs, as arrays
#   step MSG         print a progress line
#   fail MSG         print "FAILED: MSG" and exit 1
#   q DB ARGS...     psql -X -At -v ON_ERROR_STOP=1 -d DB ARGS...
#   fresh_db DB      drop (if any) and create DB, CREATE EXTENSION allocation
#   drop_db DB       drop DB (forcefully)
#   cleanup_dbs      drop every database given to fresh_db (EXIT trap)
#   log_offset       the server log's current size (for log_since)
#   log_since OFF    the server log from byte OFF on

# shellcheck disable=SC2034   # used by the scripts that source this file
STRESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
fi
export PGUSER=${PGUSER:-postgres}
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
PGBENCH=("$PG_BINDIR/pgbench")

SUITE_NAME=$(basename "$0" .sh)
step() { printf '%s: %s\n' "$SUITE_NAME" "$*"; }
fail() { printf '%s: FAILED: %s\n' "$SUITE_NAME" "$*" >&2; exit 1; }

q() {
	local db=$1
	shift
	"${PSQL[@]}" -At -d "$db" "$@"
}

CREATED_DBS=()
drop_db() {
	"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
		-c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
}
fresh_db() {
	drop_db "$1"
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE \"$1\""
	CREATED_DBS+=("$1")
	"${PSQL[@]}" -d "$1" -c 'CREATE EXTENSION allocation'
}
cleanup_dbs() {
	local db
	for db in "${CREATED_DBS[@]}"; do
		drop_db "$db" >/dev/null 2>&1 || true
	done
}

log_offset() {
	if [ -n "${ALLOC_PGLOG:-}" ] && [ -r "$ALLOC_PGLOG" ]; then
		stat -c %s "$ALLOC_PGLOG"
	else
		echo 0
	fi
}
log_since() {
	if [ -n "${ALLOC_PGLOG:-}" ] && [ -r "$ALLOC_PGLOG" ]; then
		tail -c +"$(($1 + 1))" "$ALLOC_PGLOG"
	fi
}

# check_log_clean OFFSET: no backend crash or assertion failure in the
# server log since OFFSET.
check_log_clean() {
	local bad
	bad=$(log_since "$1" | grep -E 'terminated by signal|PANIC|TRAP:' || true)
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad" | head -n 20 >&2
		fail "the server log shows a crash"
	fi
}
