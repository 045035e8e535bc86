#!/usr/bin/env bash
# scripts/extra-tests/wal_secret_log.sh - the secret of the events in the
# WAL (allocation.wal_secret) stays out of the server's log even when a
# DBA logs the plans of nested statements with auto_explain
# (log_nested_statements, log_verbose: common when hunting a slow
# command).  The log is read by more people than the WAL; with the token a
# reader of the log can sign a logical message as the extension does.
# The token is drawn by the first event written to the WAL, in the same
# session as auto_explain, and the server's log since then must not hold
# it.  Skipped without a server log (ALLOC_PGLOG) or auto_explain.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or
# PG_CONFIG, ALLOC_PGLOG (as "make test" exports them).  About 1 s.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"
cd "$ROOT"

if [ -z "${ALLOC_PGLOG:-}" ] || [ ! -r "$ALLOC_PGLOG" ]; then
	step "skipped: no server log (ALLOC_PGLOG)"
	exit 77
fi
[ -f "$("$PG_BINDIR/pg_config" --pkglibdir 2>/dev/null || echo /nonexistent)/auto_explain.so" ] ||
	[ -f "$(dirname "$PG_BINDIR")/lib/auto_explain.so" ] || { step "skipped: auto_explain is not installed"; exit 77; }

DB=allocation_wal_secret_log
trap cleanup_dbs EXIT
fresh_db "$DB" >/dev/null

offset=$(log_offset)
q "$DB" >/dev/null <<'SQL'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_verbose = on;
SET allocation.outbox_mode = wal;
SELECT allocation.add_batch('WL-b1', 'WL-SKU', 10);
SQL
token=$(q "$DB" -c "SELECT token FROM allocation.wal_secret")
[ "${#token}" -eq 32 ] || fail "the first event written to the WAL drew no token"
sleep 0.5
logged=$(log_since "$offset")
grep -q 'Query Text:' <<< "$logged" ||
	fail "auto_explain logged no plan of the draw (the test would prove nothing)"
if grep -qF "$token" <<< "$logged"; then
	fail "the server's log holds the secret of the events in the WAL (auto_explain, log_verbose, nested statements)"
fi
step "the token is not in the server's log"
