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
# shellcheck source=test/stress/silent_router.bash
. "$ROOT/test/stress/silent_router.bash"

silent_router_setup partition rc

step "a call that the node stops answering, statement_timeout = 1s, query_timeout = ${QT}s"
silent_call -c "SET statement_timeout = '1s'" \
	-c "SELECT allocation.allocate('SILENT-1', '$SKU', 1)"
if ! silent_call_wait; then
	stuck=$(q postgres -c "SELECT coalesce(state, '-') || ', wait event ' || coalesce(wait_event_type, '-') || ':' || coalesce(wait_event, '-')
		FROM pg_stat_activity WHERE datname = '$ROUTER' AND query LIKE '%SILENT-1%' AND pid <> pg_backend_pid()")
	# the call's gate: pause_partition waits for it (55P03 under lock_timeout)
	if q "$ROUTER" -c "SET lock_timeout = '500ms'" -c "BEGIN" -c "SELECT allocation.pause_partition(0)" -c "ROLLBACK" >/dev/null 2>&1; then
		locks="its gate free"
	else
		locks="its gate held (pause_partition(0) times out)"
	fi
	silent_call_free
	fail "the call still waits after $WAITED s (bound: query_timeout $QT s + 5 s; backend $stuck, $locks), $AFTER_CANCEL; once the silent node's connections closed it $FREED: $(tr '\n' ' ' < "$WORK/out")"
fi
sed 's/^/  | /' "$WORK/out"
grep -qE 'ERROR:  (57014|08006)' "$WORK/out" || fail "no 57014 or 08006 error"
[ "$ELAPSED" -le "$LIMIT" ] || fail "the error came after $ELAPSED s, not within $LIMIT s"
step "ok: the call ended after $ELAPSED s"
