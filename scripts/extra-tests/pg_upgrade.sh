#!/usr/bin/env bash
# scripts/extra-tests/pg_upgrade.sh - pg_upgrade of a database with the
# extension from an older PostgreSQL major (15) to a newer one (18): the
# way most users move to a new major.
#
#   1. a cluster of the old server (ALLOC_UPGRADE_FROM_PG_CONFIG) with a
#      database holding domain data of every kind (test/stress/
#      dump_data.sql: batches, allocations, tracked orders with
#      subscribers, a plugin subscribed by a role of its own, outbox
#      consumers part-way through the outbox, handled messages), its
#      transaction ids above 20,000 (the outbox's commit keys are
#      transaction ids, which pg_upgrade carries over);
#   2. a new cluster of the new server (PG_CONFIG: make test-pg18 passes
#      build/pg/18-release's, where the extension was installed), and
#      pg_upgrade --check, then pg_upgrade from the old to the new one;
#   3. in the upgraded database: the extension at the same version, every
#      table and view of the extension and the plugin's table with the
#      same rows (count and md5 of the ordered rows), the identity
#      sequences above the rows, check_invariants() empty, and new
#      commands working (test/stress/dump_after.sql: versions and event
#      numbers continue, the consumers resume where they were, the plugin
#      runs as the role that subscribed it).
#
# Environment: PG_CONFIG (the new server), ALLOC_UPGRADE_FROM_PG_CONFIG
# (the old one; "make test-pg18" passes make test's).  Without an old
# server of a lower major the suite is skipped (exit 77): "make test"
# runs it in the pg18 suite, not on 15.  The clusters are its own (under
# /tmp, Unix sockets only); the test cluster is not used.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

NEW_PGC=${PG_CONFIG:-}
OLD_PGC=${ALLOC_UPGRADE_FROM_PG_CONFIG:-}
major_of() { "$1" --version | awk '{ split($2, v, "."); print v[1] }'; }
if [ -z "$OLD_PGC" ] || [ -z "$NEW_PGC" ] ||
   [ "$(major_of "$OLD_PGC")" -ge "$(major_of "$NEW_PGC")" ]; then
	step "needs an older server in ALLOC_UPGRADE_FROM_PG_CONFIG than PG_CONFIG's (make test-pg18 runs it)"
	exit 77
fi
OLD_BIN=$("$OLD_PGC" --bindir)
NEW_BIN=$("$NEW_PGC" --bindir)
OLD_MAJOR=$(major_of "$OLD_PGC")
NEW_MAJOR=$(major_of "$NEW_PGC")
for pgc in "$OLD_PGC" "$NEW_PGC"; do
	[ -f "$("$pgc" --sharedir)/extension/allocation.control" ] ||
		fail "the extension is not installed into $("$pgc" --version) ($pgc)"
done

DB=allocation_upgrade
ROLE=alloc_stress_plugin	# subscribes the plugin (dump_data.sql)
W=$(mktemp -d /tmp/allocation-upgrade-XXXXXX)
chmod 755 "$W"
mkdir -m 700 "$W/old" "$W/new"
mkdir "$W/sock" "$W/run"
[ "$(id -u)" -ne 0 ] || chown postgres: "$W/old" "$W/new" "$W/sock" "$W/run"
RUNNING=()	# data directories of the servers started here

# as_server_user CMD...: as the user our servers run as (initdb, postgres
# and pg_upgrade refuse root), in $W/run (pg_upgrade writes its scripts
# into the current directory)
as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$W/run" && runuser -u postgres -- "$@")
	else
		(cd "$W/run" && "$@")
	fi
}

cleanup() {
	local d
	for d in "${RUNNING[@]}"; do
		[ -n "$d" ] || continue
		as_server_user "$NEW_BIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 ||
			as_server_user "$OLD_BIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
	done
	rm -rf "$W"
}
trap cleanup EXIT

# start BINDIR DATADIR: start a server of ours on $W/sock, port 5432
start() {
	local log=$W/run/$(basename "$2").log
	as_server_user "$1/pg_ctl" -D "$2" -l "$log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$W/sock' -c port=5432 -c fsync=off" \
		start > "$W/pg_ctl.log" 2>&1 ||
		{ cat "$W/pg_ctl.log" "$log" >&2; fail "the server in $2 does not start"; }
	RUNNING+=("$2")
}
stop() {
	as_server_user "$1/pg_ctl" -D "$2" -m fast -w -t 60 stop >/dev/null ||
		fail "the server in $2 does not stop"
	RUNNING=("${RUNNING[@]/$2/}")
}

# initdb options both clusters share (pg_upgrade wants the same encoding,
# locale and checksum setting; 18's initdb turns checksums on by default)
initdb_opts=(-U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync --no-instructions)
new_initdb_opts=("${initdb_opts[@]}")
[ "$NEW_MAJOR" -lt 18 ] || new_initdb_opts+=(--no-data-checksums)

# --- 1. the old cluster ---------------------------------------------------------

as_server_user "$OLD_BIN/initdb" -D "$W/old" "${initdb_opts[@]}" > "$W/initdb.log" 2>&1 ||
	{ cat "$W/initdb.log" >&2; fail "initdb of the old cluster failed"; }
start "$OLD_BIN" "$W/old"
export PGHOST=$W/sock PGPORT=5432
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d "$DB" -c 'CREATE EXTENSION allocation'
"${PSQL[@]}" -d postgres -c "CREATE ROLE $ROLE NOLOGIN IN ROLE allocation_admin"
xid=$(q "$DB" -c 'SELECT txid_current()')
if [ "$xid" -lt 20000 ]; then
	q "$DB" -c "DO \$\$ BEGIN FOR i IN 1 .. $((20000 - xid)) LOOP PERFORM txid_current(); COMMIT; END LOOP; END \$\$"
fi
q "$DB" -f "$STRESS_DIR/dump_data.sql" >/dev/null
old_version=$(q "$DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'allocation'")

# Not mail_backlog nor consumer_status: they report ages against the
# clock and the sessions running now (and reading consumer_status in the
# new cluster starts its commit clock, which outbox_clock would then
# show); their counts come from notifications, outbox and consumers,
# compared here.
mapfile -t tables < <(q "$DB" -c "SELECT format('%I.%I', n.nspname, c.relname)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
					AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation'
	WHERE c.relkind IN ('r', 'p', 'v')
	  AND c.oid NOT IN ('allocation.mail_backlog'::regclass, 'allocation.consumer_status'::regclass)
	ORDER BY 1")
tables+=(public.plugin_log)
[ "${#tables[@]}" -gt 10 ] || fail "found only ${#tables[@]} tables and views of the extension"

fingerprint() {
	q "$DB" -c "SELECT count(*) || ' ' || md5(COALESCE(string_agg(t::text, E'\n' ORDER BY t::text COLLATE \"C\"), ''))
		FROM $1 t"
}
declare -A before
for t in "${tables[@]}"; do
	before[$t]=$(fingerprint "$t")
	[ "${before[$t]%% *}" -gt 0 ] || fail "$t is empty before the upgrade: dump_data.sql must fill it"
done
mapfile -t identities < <(q "$DB" -c "SELECT format('%I.%I|%I|', n.nspname, c.relname, a.attname)
		|| pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'allocation' AND a.attidentity <> '' AND NOT a.attisdropped
	ORDER BY 1")
[ -z "$(q "$DB" -c 'SELECT 1 FROM allocation.check_invariants() LIMIT 1')" ] ||
	fail "check_invariants() is not empty before the upgrade"
step "old cluster ($("$OLD_BIN/postgres" --version)): ${#tables[@]} tables and views filled, transaction id $(q "$DB" -c 'SELECT txid_current()')"

# Debian 12's PostgreSQL 15.20 on this machine gives every column of every
# relation (the catalog's views included) an attribute option pg_attver
# that upstream PostgreSQL (15.18's source, 18) does not have; 18's
# pg_dump carries it over and 18 refuses it ("unrecognized parameter"),
# for any table, with or without the extension.  It is taken off the
# columns of this database's relations (ALTER ... RESET does not remove
# it), so that what is tested is the extension's own path.
attver=$(q "$DB" -c "SELECT count(*) FROM pg_attribute
	WHERE attrelid >= 16384 AND attoptions::text LIKE '%pg_attver=%'")
if [ "$attver" -gt 0 ]; then
	q "$DB" -c "UPDATE pg_attribute SET attoptions = NULLIF(ARRAY(
			SELECT o FROM unnest(attoptions) o WHERE o NOT LIKE 'pg_attver=%'), '{}')
		WHERE attrelid >= 16384 AND attoptions::text LIKE '%pg_attver=%'" >/dev/null
	step "took the non-upstream option pg_attver off $attver columns (see the comment)"
fi
stop "$OLD_BIN" "$W/old"

# --- 2. pg_upgrade ----------------------------------------------------------------

as_server_user "$NEW_BIN/initdb" -D "$W/new" "${new_initdb_opts[@]}" > "$W/initdb.log" 2>&1 ||
	{ cat "$W/initdb.log" >&2; fail "initdb of the new cluster failed"; }
upgrade=("$NEW_BIN/pg_upgrade" -b "$OLD_BIN" -B "$NEW_BIN" -d "$W/old" -D "$W/new"
	-U postgres --socketdir "$W/sock" -p 50432 -P 50433)
as_server_user "${upgrade[@]}" --check > "$W/check.log" 2>&1 ||
	{ cat "$W/check.log" >&2; find "$W/new" -path '*pg_upgrade_output.d*' -name '*.txt' -exec cat {} + >&2 || true;
	  fail "pg_upgrade --check from $OLD_MAJOR to $NEW_MAJOR failed"; }
as_server_user "${upgrade[@]}" > "$W/upgrade.log" 2>&1 ||
	{ cat "$W/upgrade.log" >&2
	  grep -rh -B 4 -A 8 -E 'ERROR|FATAL' "$W"/new/pg_upgrade_output.d/*/log/ 2>/dev/null | tail -n 60 >&2 || true
	  fail "pg_upgrade from $OLD_MAJOR to $NEW_MAJOR failed"; }
step "pg_upgrade $OLD_MAJOR -> $NEW_MAJOR done"

# --- 3. the upgraded database --------------------------------------------------------

start "$NEW_BIN" "$W/new"
failures=()
problem() {
	printf '%s: PROBLEM: %s\n' "$SUITE_NAME" "$*" >&2
	failures+=("$*")
}
server=$(q "$DB" -c 'SHOW server_version_num')
[ "${server:0:2}" = "$NEW_MAJOR" ] || problem "the upgraded server is $server, not $NEW_MAJOR"
v=$(q "$DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'allocation'")
[ "$v" = "$old_version" ] || problem "extension version $v after the upgrade, $old_version before"
same=0
for t in "${tables[@]}"; do
	b=$(fingerprint "$t")
	if [ "$b" = "${before[$t]}" ]; then
		same=$((same + 1))
	else
		problem "$t changed: ${before[$t]%% *} rows before, ${b%% *} after"
	fi
done
step "$same of ${#tables[@]} tables and views hold the same rows as before"
for t in "${identities[@]}"; do
	IFS='|' read -r tbl col seq <<< "$t"
	last=$(q "$DB" -c "SELECT COALESCE(last_value, 0) FROM pg_sequences
		WHERE format('%I.%I', schemaname, sequencename) = '$seq'")
	max=$(q "$DB" -c "SELECT COALESCE(max($col), 0) FROM $tbl")
	[ "$last" -ge "$max" ] || problem "sequence $seq: last_value $last, below max($tbl.$col) = $max"
done
violations=$(q "$DB" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
if [ -n "$violations" ]; then
	while IFS= read -r line; do problem "check_invariants(): $line"; done <<< "$violations"
fi
after=$(q "$DB" -v ON_ERROR_STOP=0 -f "$STRESS_DIR/dump_after.sql" 2>&1 || true)
if [ -n "$after" ]; then
	while IFS= read -r line; do problem "new commands: $line"; done <<< "$after"
fi
violations=$(q "$DB" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
if [ -n "$violations" ]; then
	while IFS= read -r line; do problem "check_invariants() after new commands: $line"; done <<< "$violations"
fi
stop "$NEW_BIN" "$W/new"

if [ "${#failures[@]}" -gt 0 ]; then
	fail "${#failures[@]} problem(s) after pg_upgrade (listed above)"
fi
step "ok: $OLD_MAJOR -> $NEW_MAJOR keeps all ${#tables[@]} tables and views, the consumers, the invariants, and new commands work"
