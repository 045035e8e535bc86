#!/usr/bin/env bash
# scripts/extra-tests/router_stall.sh - a large call to a node that stops
# reading must end within the router's query_timeout.
#
# The router's documentation promises that query_timeout bounds a call's
# wait for a node that stops answering mid-call ("a stopped backend, a
# network that drops the traffic").  A node that has stopped does not read
# either: when the call's message is larger than the sockets' buffers,
# sending it waits for the node.  That wait must be bounded by
# query_timeout (+ 5 s) like the wait for the answer.  The node is
# router/test/silent_node.py in "stall" mode: a relay to a real node that,
# once a message contains SILENT, never reads that connection again.  The
# call is an allocate whose order id is 16 MB long (the node would refuse
# it; it never gets that far).
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or
# PG_CONFIG; a PL/Proxy with router/plproxy-timeouts.patch in the server.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

NODE=alloc_rs_node
ROUTER=alloc_rs_router
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

python3 "$ROOT/router/test/silent_node.py" stall "${PGHOST:-/tmp}/.s.PGSQL.${PGPORT:-5432}" > "$WORK/port" &
PY_PID=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(head -n 1 "$WORK/port")
q "$ROUTER" -c "SELECT allocation.define_cluster(ARRAY['host=127.0.0.1 port=$PORT dbname=$NODE'], 1,
	query_timeout => $QT, connect_timeout => $QT)" >/dev/null
q "$ROUTER" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('rs-b1', 'RS-SKU', 10)" >/dev/null
step "the router reaches the node through the relay"

step "a 16 MB call that the node stops reading, query_timeout = ${QT}s, no statement_timeout"
t0=$(date +%s)
"$PG_BINDIR/psql" -X -At -d "$ROUTER" -v VERBOSITY=verbose \
	-c "SELECT allocation.allocate('SILENT-' || repeat('x', 16000000), 'RS-SKU', 1)" > "$WORK/out" 2>&1 &
CALL_PID=$!
limit=$(( QT + 5 ))
for _ in $(seq $(( (limit + 15) * 10 ))); do
	kill -0 "$CALL_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$CALL_PID" 2>/dev/null; then
	pid=$(q postgres -c "SELECT pid FROM pg_stat_activity WHERE datname = '$ROUTER' AND query LIKE '%SILENT-%' AND pid <> pg_backend_pid()")
	q postgres -c "SELECT pg_cancel_backend($pid)" >/dev/null
	sleep 2
	kill -0 "$CALL_PID" 2>/dev/null && after_cancel="and pg_cancel_backend does not free it" || after_cancel="(pg_cancel_backend freed it)"
	kill "$PY_PID"; PY_PID=''
	waited=$(( $(date +%s) - t0 ))
	for _ in $(seq 50); do kill -0 "$CALL_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$CALL_PID" 2>/dev/null && freed="still waits" || freed="ended at once"
	fail "the call still waits after $waited s (bound: query_timeout $QT s + 5 s), $after_cancel; once the node's connections closed it $freed: $(tr '\n' ' ' < "$WORK/out" | cut -c1-300)"
fi
wait "$CALL_PID" || true
CALL_PID=''
s=$(( $(date +%s) - t0 ))
cut -c1-300 "$WORK/out" | sed 's/^/  | /'
grep -qE 'ERROR:  08006' "$WORK/out" || fail "no 08006 error"
[ "$s" -le "$limit" ] || fail "the error came after $s s, not within $limit s"
step "ok: the call ended after $s s"
