#!/usr/bin/env bash
# scripts/extra-tests/dump_restore.sh - pg_dump / pg_restore round trip.
#
# A database with the extension and domain data of every kind
# (test/stress/dump_data.sql: batches, allocations, out-of-stock answers,
# reallocation, tracked orders with subscribers, a plugin subscribed by a
# role of its own, outbox consumers, handled messages) is dumped with
# pg_dump -Fc and restored with pg_restore:
#   1. into a new database of the same cluster;
#   2. into a new, freshly made cluster, after its roles were copied with
#      pg_dumpall --globals-only: the way a database moves to another
#      server or major version (DUMP_RESTORE_OTHER_CLUSTER=no skips it).
# For each restored database:
#   - every table and view of the extension (found in the catalog, not
#     listed here) and the plugin's own table hold the same rows as the
#     source (row count and md5 of the ordered rows);
#   - the identity columns' sequences are above the restored rows;
#   - check_invariants() is empty;
#   - it keeps working (test/stress/dump_after.sql): new commands succeed,
#     versions and per-aggregate event numbers continue without a gap,
#     identity columns go on above the restored values, the outbox
#     consumers resume where they were and see the new events, a plugin
#     runs as the role that subscribed it, a handled message_id is still
#     recognised.
# Every check runs; the failures are listed together at the end.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or PG_CONFIG;
# DUMP_RESTORE_OTHER_CLUSTER (yes).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

SRC=allocation_dump_src
DST=allocation_dump_dst
ROLE=alloc_stress_plugin	# subscribes the plugin (dump_data.sql)
MAIN_HOST=${PGHOST:-}
MAIN_PORT=${PGPORT:-5432}
WORK=$(mktemp -d)
OTHER=	# the other cluster's directory, while it exists

to_main() { export PGHOST=$MAIN_HOST PGPORT=$MAIN_PORT; }

cleanup() {
	if [ -n "$OTHER" ]; then
		as_server_user "$PG_BINDIR/pg_ctl" -D "$OTHER/data" -m immediate -w stop >/dev/null 2>&1 || true
		rm -rf "$OTHER"
	fi
	to_main
	cleanup_dbs
	"${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# as_server_user CMD...: as the user a server of ours runs as (initdb and
# postgres refuse root)
as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

failures=()
problem() {
	printf '%s: PROBLEM: %s\n' "$SUITE_NAME" "$*" >&2
	failures+=("$*")
}

# --- the source database --------------------------------------------------------

drop_db "$DST"
drop_db "$SRC"
"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' -c "DROP ROLE IF EXISTS $ROLE"
fresh_db "$SRC"		# CREATE EXTENSION makes allocation_admin if need be
"${PSQL[@]}" -d postgres -c "CREATE ROLE $ROLE NOLOGIN IN ROLE allocation_admin"

# The other cluster starts at a low transaction id; the source must be
# above it, as a server that has lived is (the commit keys of the outbox
# are transaction ids).
xid=$(q "$SRC" -c 'SELECT txid_current()')
if [ "$xid" -lt 20000 ]; then
	q "$SRC" -c "DO \$\$ BEGIN FOR i IN 1 .. $((20000 - xid)) LOOP PERFORM txid_current(); COMMIT; END LOOP; END \$\$"
fi
q "$SRC" -f "$STRESS_DIR/dump_data.sql" >/dev/null

# The extension's tables and views (all of them, not a list that could go
# stale), and the plugin's table.  Not mail_backlog nor consumer_status:
# they report ages against the clock (and consumer_status the sessions
# running now); their counts come from notifications, outbox and
# consumers, compared here.  Not wal_secret either: pg_dump leaves the
# secret of the events in the WAL out on purpose (checked below).
mapfile -t tables < <(q "$SRC" -c "SELECT format('%I.%I', n.nspname, c.relname)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
					AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation'
	WHERE c.relkind IN ('r', 'p', 'v') AND c.oid NOT IN ('allocation.mail_backlog'::regclass, 'allocation.consumer_status'::regclass, 'allocation.wal_secret'::regclass) ORDER BY 1")
tables+=(public.plugin_log)
[ "${#tables[@]}" -gt 10 ] || fail "found only ${#tables[@]} tables and views of the extension"

# fingerprint DB TABLE: "rows md5" of the table's rows in a fixed order
fingerprint() {
	q "$1" -c "SELECT count(*) || ' ' || md5(COALESCE(string_agg(t::text, E'\n' ORDER BY t::text COLLATE \"C\"), ''))
		FROM $2 t"
}

# Each table must hold rows, or the round trip proves nothing for it.
declare -A src_print
for t in "${tables[@]}"; do
	src_print[$t]=$(fingerprint "$SRC" "$t")
	[ "${src_print[$t]%% *}" -gt 0 ] ||
		fail "$t is empty in the source database: dump_data.sql must fill it"
done

# The identity columns and their sequences: "table|column|sequence".
mapfile -t identities < <(q "$SRC" -c "SELECT format('%I.%I|%I|', n.nspname, c.relname, a.attname)
		|| pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'allocation' AND a.attidentity <> '' AND NOT a.attisdropped
	ORDER BY 1")

"$PG_BINDIR/pg_dump" -Fc -f "$WORK/dump" "$SRC"
step "dumped $SRC: $(stat -c %s "$WORK/dump") bytes, ${#tables[@]} tables and views"

# The secret of the events in the WAL stays out of the dump: a dump is read
# by more people than the WAL, and a restored database draws its own.
SECRET=$(q "$SRC" -c "SELECT token FROM allocation.wal_secret")
[ "${#SECRET}" -eq 32 ] || fail "the source database has no secret of its events in the WAL"
"$PG_BINDIR/pg_restore" -f "$WORK/dump.sql" "$WORK/dump" || fail "pg_restore cannot read the dump"
if grep -qF "$SECRET" "$WORK/dump.sql"; then
	problem "the dump holds the secret of the events in the WAL"
else
	step "the dump does not hold the secret of the events in the WAL"
fi

# --- checks of a restored database -------------------------------------------------------

# check_restored WHERE DB: compare DB (on the current PGHOST) with the source
check_restored() {
	local where=$1 db=$2 t b same=0 tbl col seq last max violations after line
	for t in "${tables[@]}"; do
		b=$(fingerprint "$db" "$t")
		if [ "$b" = "${src_print[$t]}" ]; then
			same=$((same + 1))
		else
			problem "$where: $t does not round-trip: source ${src_print[$t]%% *} rows, restored ${b%% *} rows"
		fi
	done
	step "$where: $same of ${#tables[@]} tables and views hold the same rows as the source"

	# the next value of an identity column must be above the restored rows
	for t in "${identities[@]}"; do
		IFS='|' read -r tbl col seq <<< "$t"
		last=$(q "$db" -c "SELECT COALESCE(last_value, 0) FROM pg_sequences
			WHERE format('%I.%I', schemaname, sequencename) = '$seq'")
		max=$(q "$db" -c "SELECT COALESCE(max($col), 0) FROM $tbl")
		if [ "$last" -lt "$max" ]; then
			problem "$where: sequence $seq not restored: last_value $last, below max($tbl.$col) = $max"
		fi
	done

	if [ "$(q "$db" -c "SELECT count(*) FROM allocation.wal_secret WHERE token = '$SECRET'")" != 0 ]; then
		problem "$where: the restored database has the source's secret of the events in the WAL"
	elif [ "$(q "$db" -c "SELECT allocation.wal_message_prefix() <> 'allocation:$SECRET'")" != t ]; then
		problem "$where: the restored database does not draw a secret of its own"
	fi
	violations=$(q "$db" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
	if [ -n "$violations" ]; then
		while IFS= read -r line; do problem "$where: check_invariants(): $line"; done <<< "$violations"
	fi

	# each check prints nothing when it holds; errors and warnings count too
	after=$(q "$db" -v ON_ERROR_STOP=0 -f "$STRESS_DIR/dump_after.sql" 2>&1 || true)
	if [ -n "$after" ]; then
		while IFS= read -r line; do problem "$where, new commands: $line"; done <<< "$after"
	fi
}

# --- 1. same cluster ------------------------------------------------------------------------

"${PSQL[@]}" -d postgres -c "CREATE DATABASE \"$DST\""
CREATED_DBS+=("$DST")
if ! "$PG_BINDIR/pg_restore" --exit-on-error -d "$DST" "$WORK/dump" 2> "$WORK/restore.err"; then
	cat "$WORK/restore.err" >&2
	fail "pg_restore into $DST failed"
fi
[ ! -s "$WORK/restore.err" ] || problem "same cluster: pg_restore said: $(cat "$WORK/restore.err")"
check_restored "same cluster" "$DST"

# --- 2. another cluster ------------------------------------------------------------------

if [ "${DUMP_RESTORE_OTHER_CLUSTER:-yes}" = yes ]; then
	"$PG_BINDIR/pg_dumpall" --globals-only --no-role-passwords -f "$WORK/globals.sql"
	OTHER=$(mktemp -d /tmp/allocation-restore-XXXXXX)
	chmod 755 "$OTHER"
	mkdir -m 700 "$OTHER/data"
	mkdir "$OTHER/socket"
	[ "$(id -u)" -ne 0 ] || chown postgres: "$OTHER/data" "$OTHER/socket"
	as_server_user "$PG_BINDIR/initdb" -D "$OTHER/data" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C.UTF-8 --no-sync --no-instructions > "$WORK/initdb.log" 2>&1 ||
		{ cat "$WORK/initdb.log" >&2; fail "initdb of the other cluster failed"; }
	as_server_user "$PG_BINDIR/pg_ctl" -D "$OTHER/data" -l "$OTHER/socket/log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$OTHER/socket' -c port=5432 -c fsync=off" \
		start > "$WORK/pg_ctl.log" 2>&1 ||
		{ cat "$WORK/pg_ctl.log" "$OTHER/socket/log" >&2; fail "the other cluster does not start"; }
	export PGHOST=$OTHER/socket PGPORT=5432
	# the roles, as a DBA moves them (the postgres role exists already:
	# its error must not stop the file, or the memberships, granted at its
	# end, are lost, and the plugin's subscriber is no administrator here)
	"${PSQL[@]}" -v ON_ERROR_STOP=0 -d postgres -f "$WORK/globals.sql" > "$WORK/globals.out" 2>&1 || true
	if grep -E 'ERROR' "$WORK/globals.out" | grep -qv 'role "postgres" already exists'; then
		cat "$WORK/globals.out" >&2
		fail "the roles could not be copied to the other cluster"
	fi
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE \"$DST\""
	if ! "$PG_BINDIR/pg_restore" --exit-on-error -d "$DST" "$WORK/dump" 2> "$WORK/restore.err"; then
		cat "$WORK/restore.err" >&2
		fail "pg_restore into the other cluster failed"
	fi
	[ ! -s "$WORK/restore.err" ] || problem "other cluster: pg_restore said: $(cat "$WORK/restore.err")"
	check_restored "other cluster" "$DST"
	to_main
fi

if [ "${#failures[@]}" -gt 0 ]; then
	fail "${#failures[@]} problem(s) with pg_dump / pg_restore (listed above)"
fi
step "ok: all ${#tables[@]} tables and views round-trip; the restored databases keep working"
