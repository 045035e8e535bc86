#!/usr/bin/env bash
# scripts/extra-tests/crash.sh - kill -9 the server under load; lose nothing.
#
# pgbench clients (test/stress/crash_*.sql) allocate new lines and add
# batches, each in its own transaction, and once COMMIT has returned append
# what they saw committed to a file; other clients churn other products
# (deallocate, change_batch_quantity, reallocation).  In the middle of the
# run the postmaster is killed with SIGKILL (odd rounds: the postmaster
# alone, its backends die on their own; even rounds: the postmaster and
# every backend at once), then the server is started again and runs crash
# recovery.  After each restart:
#   - every allocation and batch a client saw committed is there, unchanged,
#     in the write model and the read model, with its event in the outbox;
#     every out-of-stock answer it saw left no line and an OutOfStock event;
#   - no trace (line, view row, event, batch) exists of a transaction no
#     client saw commit, except the one each client may have had in flight;
#   - check_invariants() returns no row; amcheck finds the indexes sound;
#   - no client saw an error other than losing its connection.
# A last round without a crash shows that the database keeps working.
# The cluster is left running.
#
# Environment: PGHOST, PGPORT, PGUSER, ALLOC_PGDATA, ALLOC_PGLOG (as "make
# test" exports them), PG_BINDIR or PG_CONFIG; CRASH_ROUNDS (default 2),
# CRASH_CLIENTS (default 8).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

ROUNDS=${CRASH_ROUNDS:-2}
CLIENTS=${CRASH_CLIENTS:-8}
DB=allocation_crash
: "${ALLOC_PGDATA:?ALLOC_PGDATA must name the cluster data directory}"
: "${ALLOC_PGLOG:?ALLOC_PGLOG must name the server log}"

WORK=$(mktemp -d)
export CRASH_LOG=$WORK/seen.log
: > "$CRASH_LOG"
BENCH_PID=

# --- the server's processes --------------------------------------------------

postmaster_pid() {
	local pid state
	pid=$(head -n 1 "$ALLOC_PGDATA/postmaster.pid" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	case $state in ""|Z|X|x) return 1 ;; esac
	printf '%s\n' "$pid"
}
server_alive() { postmaster_pid >/dev/null; }

# alive PID: the process exists and is not a zombie
alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	case $state in ""|Z|X|x) return 1 ;; esac
}

# children_of PID: the processes whose parent is PID
children_of() {
	local f stat fields
	for f in /proc/[0-9]*/stat; do
		stat=$(cat "$f" 2>/dev/null) || continue
		# "pid (comm) state ppid ...": comm may hold blanks, cut after ") "
		read -r -a fields <<< "${stat##*) }"
		if [ "${fields[1]:-}" = "$1" ]; then
			f=${f#/proc/}
			printf '%s\n' "${f%/stat}"
		fi
	done
}

# as_owner CMD...: run CMD as the data directory's owner (the server
# refuses to run as root)
as_owner() {
	local owner
	owner=$(stat -c %U "$ALLOC_PGDATA")
	if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
		(cd / && runuser -u "$owner" -- "$@")
	else
		(cd / && "$@")
	fi
}

start_server() {
	local _
	for _ in 1 2 3 4 5; do
		if as_owner "$PG_BINDIR/pg_ctl" -D "$ALLOC_PGDATA" -l "$ALLOC_PGLOG" \
				-w -t 120 start >"$WORK/pg_ctl.out" 2>&1; then
			return 0
		fi
		# an old backend may still hold the shared memory for a moment
		sleep 2
	done
	cat "$WORK/pg_ctl.out" >&2
	tail -n 30 "$ALLOC_PGLOG" >&2
	return 1
}

# wait_gone SECONDS PID...: wait until none of the processes is alive; the
# ones still alive are left in $left
wait_gone() {
	local i p n=$(($1 * 5))
	shift
	for ((i = 0; i <= n; i++)); do
		left=
		for p in "$@"; do
			if alive "$p"; then left="$left $p"; fi
		done
		[ -n "$left" ] || return 0
		sleep 0.2
	done
	return 1
}

# crash MODE: SIGKILL the postmaster ("postmaster") or the postmaster and
# all its children at once ("all"); return once every one of them is gone
crash() {
	local pm pids p
	pm=$(postmaster_pid) || fail "the server is not running before the crash"
	# shellcheck disable=SC2207
	pids=($(children_of "$pm"))
	if [ "$1" = all ]; then
		kill -KILL "$pm" "${pids[@]}" 2>/dev/null || true
	else
		kill -KILL "$pm"
	fi
	# orphaned backends notice their postmaster's death and exit; give
	# them 15 s, then kill what is left
	if ! wait_gone 15 "$pm" "${pids[@]}"; then
		step "processes$left outlived their postmaster for 15 s; killing them"
		for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
		wait_gone 10 "$pm" "${pids[@]}" || fail "server processes$left do not die"
	fi
}

finish() {
	if [ -n "$BENCH_PID" ]; then kill "$BENCH_PID" 2>/dev/null || true; fi
	# leave the server running for the next suite
	server_alive || start_server >/dev/null 2>&1 || true
	cleanup_dbs
	rm -rf "$WORK"
}
trap finish EXIT

server_alive || fail "no server running on $ALLOC_PGDATA"

# --- the workload -------------------------------------------------------------

# bench ROUND SECONDS: start pgbench in the background (BENCH_PID).  One
# thread (-j 1): pgbench's threads write an error line in pieces, so two
# clients aborted by the same crash in two threads could interleave their
# lines ("pgbench: error: pgbench:client 7 aborted..."), which the check
# of the crash's errors below cannot read
bench() {
	(cd "$STRESS_DIR" &&
		exec "${PGBENCH[@]}" -n -c "$CLIENTS" -j 1 -T "$2" \
			-D run="$1" -D n=0 -D a=0 -D z=0 \
			-f crash_allocate.sql@10 -f crash_add_batch.sql@1 -f crash_churn.sql@3 \
			"$DB" \
	) > "$WORK/pgbench.$1.out" 2>&1 &
	BENCH_PID=$!
}

# What pgbench and libpq say when the server goes away under a client.
CRASH_MESSAGES='FATAL:  terminating connection due to unexpected postmaster exit'
CRASH_MESSAGES+='|server closed the connection unexpectedly'
CRASH_MESSAGES+='|\s*This probably means the server terminated abnormally'
CRASH_MESSAGES+='|\s*before or while processing the request\.'
CRASH_MESSAGES+='|could not (receive|send) data (from|to) server: .*'
CRASH_MESSAGES+='|pgbench: error: client [0-9]+ aborted in command [0-9]+ \(SQL\) of script [0-9]+; perhaps the backend died while processing'
CRASH_MESSAGES+='|pgbench: error: client [0-9]+ script [0-9]+ aborted in command [0-9]+ query [0-9]+: (FATAL:  terminating connection due to unexpected postmaster exit|server closed the connection unexpectedly|could not (receive|send) data (from|to) server: .*|no connection to the server)'
CRASH_MESSAGES+='|pgbench: error: Run was aborted; the above results are incomplete\.'

# bench_wait ROUND EXPECT: wait for pgbench; EXPECT "clean" (exit 0, no
# error) or "crash" (clients may only have lost their connection)
bench_wait() {
	local rc=0 out=$WORK/pgbench.$1.out bad
	wait "$BENCH_PID" || rc=$?
	BENCH_PID=
	if [ "$2" = clean ]; then
		if [ "$rc" -ne 0 ] || grep -qE 'error|abort|FATAL|ERROR|WARNING|PANIC' "$out"; then
			{ grep -E 'error|abort|FATAL|ERROR|WARNING|PANIC' "$out" || tail -n 20 "$out"; } | head -n 20 >&2
			fail "round $1: a client saw an error without a crash (pgbench exit status $rc)"
		fi
		return 0
	fi
	# the errors of a crash, and only they: the connection is gone
	[ "$rc" -ne 0 ] || fail "round $1: pgbench did not notice the crash"
	bad=$(grep -E 'error|abort|FATAL|ERROR|WARNING|PANIC|server' "$out" |
		grep -vxE "$CRASH_MESSAGES" || true)
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad" | head -n 20 >&2
		fail "round $1: a client saw an error other than the crash"
	fi
	step "round $1: $(grep -cE '^pgbench: error: client [0-9]+ (script [0-9]+ )?aborted' "$out") of $CLIENTS clients lost their connection, none saw another error"
}

# verify ROUND: everything the clients saw committed is there, nothing else
verify() {
	local problems violations stats
	q "$DB" -c 'TRUNCATE stress.seen'
	q "$DB" -c "COPY stress.seen FROM STDIN (DELIMITER ' ')" < "$CRASH_LOG"
	problems=$(q "$DB" -F ' | ' -f "$STRESS_DIR/crash_verify.sql")
	if [ -n "$problems" ]; then
		printf '%s\n' "$problems" | head -n 40 >&2
		fail "round $1: $(printf '%s\n' "$problems" | wc -l) committed change(s) lost or uncommitted trace(s) found"
	fi
	violations=$(q "$DB" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
	if [ -n "$violations" ]; then
		printf '%s\n' "$violations" | head -n 40 >&2
		fail "round $1: check_invariants() found $(printf '%s\n' "$violations" | wc -l) violation(s)"
	fi
	if [ "$HAVE_AMCHECK" = yes ]; then
		q "$DB" -c "SELECT count(bt_index_check(c.oid, true))
			FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_am a ON a.oid = c.relam
			WHERE c.relnamespace = 'allocation'::regnamespace AND a.amname = 'btree'" >/dev/null ||
			fail "round $1: amcheck found a corrupt index"
	fi
	stats=$(q "$DB" -c "SELECT format('%s allocations and %s batches seen committed, all there with their events; %s out-of-stock answers kept; %s lines, %s events in all',
		count(*) FILTER (WHERE kind = 'A' AND ref <> '-'), count(*) FILTER (WHERE kind = 'B'),
		count(*) FILTER (WHERE kind = 'A' AND ref = '-'),
		(SELECT count(*) FROM allocation.order_lines), (SELECT count(*) FROM allocation.outbox))
		FROM stress.seen")
	step "round $1 verified: $stats; check_invariants() empty"
}

# --- the run ---------------------------------------------------------------------

fresh_db "$DB"
q "$DB" -v hot_qty=100000 -v cold_qty=30 -f "$STRESS_DIR/setup.sql" >/dev/null
q "$DB" -f "$STRESS_DIR/crash_setup.sql" >/dev/null
HAVE_AMCHECK=no
if [ "$(q "$DB" -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'amcheck'")" = 1 ]; then
	q "$DB" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS amcheck'
	HAVE_AMCHECK=yes
fi
step "synchronous_commit = $(q "$DB" -c 'SHOW synchronous_commit'), fsync = $(q "$DB" -c 'SHOW fsync'), amcheck: $HAVE_AMCHECK"
log_at_start=$(log_offset)

crashes=0
for round in $(seq 1 "$ROUNDS"); do
	mode=postmaster
	[ $((round % 2)) -eq 1 ] || mode=all
	before=$(wc -l < "$CRASH_LOG")
	bench "$round" 60
	# crash after 4 to 7 s of load, once the clients have committed something
	sleep $((4 + RANDOM % 4))
	alive "$BENCH_PID" || { cat "$WORK/pgbench.$round.out" >&2; fail "round $round: pgbench ended before the crash"; }
	[ "$(wc -l < "$CRASH_LOG")" -gt "$before" ] || fail "round $round: no client committed anything"
	if [ "$mode" = all ]; then
		step "round $round: kill -9 of the postmaster and all its processes"
	else
		step "round $round: kill -9 of the postmaster"
	fi
	log_at_crash=$(log_offset)
	crash "$mode"
	bench_wait "$round" crash
	crashes=$((crashes + 1))
	step "round $round: the clients saw $(($(wc -l < "$CRASH_LOG") - before)) commits before the crash; restarting"
	start_server || fail "round $round: the server does not start after the crash"
	log_since "$log_at_crash" | grep -qE 'database system was interrupted|redo (starts|done)' ||
		fail "round $round: the server log shows no crash recovery after the restart"
	verify "$round"
done

# a last round without a crash: the recovered database keeps working
round=$((ROUNDS + 1))
before=$(wc -l < "$CRASH_LOG")
bench "$round" 3
bench_wait "$round" clean
step "round $round (no crash): the clients saw $(($(wc -l < "$CRASH_LOG") - before)) more commits"
verify "$round"

# no failed assertion or PANIC besides the crashes we caused
if log_since "$log_at_start" | grep -qE 'TRAP:|PANIC'; then
	log_since "$log_at_start" | grep -E 'TRAP:|PANIC' | head -n 10 >&2
	fail "the server log shows an assertion failure or a PANIC"
fi
step "ok: $crashes crashes survived, $(wc -l < "$CRASH_LOG") commits seen by clients verified"
