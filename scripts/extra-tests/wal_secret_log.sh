#!/usr/bin/env bash
# scripts/extra-tests/wal_secret_log.sh - the secret of the events in the
# WAL (allocation.wal_secret) is drawn by the first event written to the
# WAL, in the session of whoever writes it; it must not show in what that
# session, or the server's log, can see of the statements that draw it.
# With the token, anyone can sign a logical message as the extension does.
#
#   client   a role with allocation_user only (no allocation_admin, no
#            REPLICATION) writes the database's first event with
#            debug_print_plan = on and client_min_messages = log (both
#            settable by any role): the plans sent to its client, Const
#            values decoded, must not hold the token
#   log      a DBA logs the plans of nested statements with auto_explain
#            (log_nested_statements, log_verbose: common when hunting a
#            slow command): the server's log must not hold the token
#            (skipped without ALLOC_PGLOG or auto_explain)
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or
# PG_CONFIG, ALLOC_PGLOG (as "make test" exports them).  About 2 s.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"
cd "$ROOT"
command -v python3 >/dev/null 2>&1 || fail "python3 is needed (make deps)"

DB=allocation_wal_secret_log
ROLE=allocation_wal_secret_log_app
WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-wal-secret-log.XXXXXX")
problems=0
problem() { printf '%s: FAILED: %s\n' "$SUITE_NAME" "$*" >&2; problems=$((problems + 1)); }
cleanup() {
	cleanup_dbs
	"${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
fresh_db "$DB" >/dev/null
"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' -c "DROP ROLE IF EXISTS $ROLE" \
	-c "CREATE ROLE $ROLE LOGIN IN ROLE allocation_user" >/dev/null
"${PSQL[@]}" -d postgres -c "ALTER DATABASE $DB SET allocation.outbox_mode = 'wal'" >/dev/null

# --- client: the first event, written by an application role ---------------------
q "$DB" -c "SET allocation.outbox_mode = 'table'" -c "SELECT allocation.add_batch('WL-b1', 'WL-SKU', 10)" >/dev/null
# (a token drawn before any event, by CREATE EXTENSION say, leaves the
# application role nothing to see: the check below holds trivially)
drawn_before=$(q "$DB" -c "SELECT count(*) FROM allocation.wal_secret")
"$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1 -U "$ROLE" -d "$DB" > "$WORK/client.out" 2>&1 <<'SQL' || { cat "$WORK/client.out" >&2; fail "the application role's allocate failed"; }
SET debug_print_plan = on;
SET debug_pretty_print = off;
SET client_min_messages = log;
SELECT allocation.allocate('WL-order', 'WL-SKU', 1);
SQL
token=$(q "$DB" -c "SELECT token FROM allocation.wal_secret")
[ "${#token}" -eq 32 ] || fail "the first event written to the WAL drew no token"
grep -q 'PLANNEDSTMT' "$WORK/client.out" || fail "no plan reached the client (the test would prove nothing)"
[ "$drawn_before" = 0 ] || step "client: the token was drawn before the first event"
# the plans as printed, and every Const's bytes decoded
seen=$(python3 - "$WORK/client.out" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
flat = " ".join(text.split())
out = [flat]
for m in re.finditer(r":constvalue \d+ \[([-0-9 ]*)\]", flat):
	out.append(bytes(int(x) & 255 for x in m.group(1).split()).decode("latin-1").replace("\0", " "))
print("\n".join(out))
PY
)
if grep -qF "$token" <<< "$seen"; then
	problem "client: a role with allocation_user only reads the token in the plan sent to it (debug_print_plan)"
else
	step "client: the token is in no plan sent to the application role"
fi

# --- log: auto_explain of nested statements --------------------------------------
if [ -z "${ALLOC_PGLOG:-}" ] || [ ! -r "$ALLOC_PGLOG" ]; then
	step "log: skipped: no server log (ALLOC_PGLOG)"
elif [ ! -f "$("$PG_BINDIR/pg_config" --pkglibdir)/auto_explain.so" ]; then
	step "log: skipped: auto_explain is not installed"
else
	# the extension created again in the logged session, so that the token
	# is drawn there however it is drawn (by the script or by the first
	# event); then, the row removed, a draw by an event as well
	offset=$(log_offset)
	q "$DB" >/dev/null <<'SQL'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_verbose = on;
SET client_min_messages = warning;
DROP EXTENSION allocation CASCADE;
CREATE EXTENSION allocation;
SELECT allocation.add_batch('WL-b2', 'WL-SKU', 10);
SQL
	first=$(q "$DB" -c "SELECT token FROM allocation.wal_secret")
	q "$DB" >/dev/null <<'SQL'
DELETE FROM allocation.wal_secret;
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_verbose = on;
SELECT allocation.add_batch('WL-b3', 'WL-SKU', 10);
SQL
	token=$(q "$DB" -c "SELECT token FROM allocation.wal_secret")
	[ "${#token}" -eq 32 ] || fail "the first event written to the WAL drew no token"
	sleep 0.5
	logged=$(log_since "$offset")
	grep -q 'Query Text:' <<< "$logged" ||
		fail "auto_explain logged no plan (the test would prove nothing)"
	if grep -qF "$token" <<< "$logged" || { [ "${#first}" -eq 32 ] && grep -qF "$first" <<< "$logged"; }; then
		problem "log: the server's log holds the token (auto_explain, log_verbose, nested statements)"
	else
		step "log: the token is not in the server's log"
	fi
fi
[ "$problems" -eq 0 ] || exit 1
