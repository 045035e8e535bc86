#!/usr/bin/env bash
# scripts/extra-tests/router_cancel.sh - a caller's statement_timeout (or
# cancel) while the router waits for a node that went silent mid-call must
# end within the router's own bound, query_timeout.
#
# The router's documentation promises that define_cluster's query_timeout
# bounds the wait for a node "whatever the caller's statement_timeout".
# When the caller's statement_timeout fires first, PL/Proxy sends the node
# a cancel request before it gives up; if the node's host is silent as a
# whole (a network that drops the traffic: the cancel request's connection
# is accepted and never answered), that must not hold the router's backend
# beyond query_timeout (+ 5 s).  The silent node is router/test/
# silent_node.py in "partition" mode: a relay to a real node that, once a
# call contains SILENT, answers nothing more on any connection.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or
# PG_CONFIG; a PL/Proxy with router/plproxy-timeouts.patch in the server.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

NODE=alloc_rc_node
ROUTER=alloc_rc_router
QT=3
WORK=$(mktemp -d)
PY_PID='' CALL_PID=''
cleanup() {
	[ -z "$PY_PID" ] || kill "$PY_PID" 2>/dev/null || true
	[ -z "$CALL_PID" ] || kill "$CALL_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	cleanup_dbs
	rm -rf "$WORK"
}
trap cleanup EXIT

fresh_db "$NODE"
drop_db "$ROUTER"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $ROUTER"
CREATED_DBS+=("$ROUTER")
q "$ROUTER" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION allocation_router CASCADE' >/dev/null

python3 "$ROOT/router/test/silent_node.py" partition "${PGHOST:-/tmp}/.s.PGSQL.${PGPORT:-5432}" > "$WORK/port" &
PY_PID=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(head -n 1 "$WORK/port")
q "$ROUTER" -c "SELECT allocation.define_cluster(ARRAY['host=127.0.0.1 port=$PORT dbname=$NODE'], 1,
	query_timeout => $QT, connect_timeout => $QT)" >/dev/null
q "$ROUTER" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('rc-b1', 'RC-SKU', 10)" >/dev/null
step "the router reaches the node through the relay"

step "a call that the node stops answering, statement_timeout = 1s, query_timeout = ${QT}s"
t0=$(date +%s)
"$PG_BINDIR/psql" -X -At -d "$ROUTER" -v VERBOSITY=verbose \
	-c "SET statement_timeout = '1s'" \
	-c "SELECT allocation.allocate('SILENT-1', 'RC-SKU', 1)" > "$WORK/out" 2>&1 &
CALL_PID=$!
limit=$(( QT + 5 ))
for _ in $(seq $(( (limit + 15) * 10 ))); do
	kill -0 "$CALL_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$CALL_PID" 2>/dev/null; then
	stuck=$(q postgres -c "SELECT coalesce(state, '-') || ', wait event ' || coalesce(wait_event_type, '-') || ':' || coalesce(wait_event, '-')
		FROM pg_stat_activity WHERE datname = '$ROUTER' AND query LIKE '%SILENT-1%' AND pid <> pg_backend_pid()")
	# the call's gate: pause_partition waits for it (55P03 under lock_timeout)
	if q "$ROUTER" -c "SET lock_timeout = '500ms'" -c "BEGIN" -c "SELECT allocation.pause_partition(0)" -c "ROLLBACK" >/dev/null 2>&1; then
		locks="its gate free"
	else
		locks="its gate held (pause_partition(0) times out)"
	fi
	q postgres -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = '$ROUTER' AND query LIKE '%SILENT-1%' AND pid <> pg_backend_pid()" >/dev/null
	sleep 2
	kill -0 "$CALL_PID" 2>/dev/null && after_cancel="and pg_cancel_backend does not free it" || after_cancel="(pg_cancel_backend freed it)"
	# unstick the backend: the silent node goes away, the cancel request's read ends
	kill "$PY_PID"; PY_PID=''
	waited=$(( $(date +%s) - t0 ))
	for _ in $(seq 50); do kill -0 "$CALL_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$CALL_PID" 2>/dev/null && freed="still waits" || freed="ended at once"
	fail "the call still waits after $waited s (bound: query_timeout $QT s + 5 s; backend $stuck, $locks), $after_cancel; once the silent node's connections closed it $freed: $(tr '\n' ' ' < "$WORK/out")"
fi
wait "$CALL_PID" || true
CALL_PID=''
ms=$(( $(date +%s) - t0 ))
sed 's/^/  | /' "$WORK/out"
grep -qE 'ERROR:  (57014|08006)' "$WORK/out" || fail "no 57014 or 08006 error"
[ "$ms" -le "$limit" ] || fail "the error came after $ms s, not within $limit s"
step "ok: the call ended after $ms s"
