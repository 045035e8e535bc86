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
# shellcheck source=test/stress/silent_router.bash
. "$ROOT/test/stress/silent_router.bash"

silent_router_setup stall rs

step "a 16 MB call that the node stops reading, query_timeout = ${QT}s, no statement_timeout"
silent_call -c "SELECT allocation.allocate('SILENT-' || repeat('x', 16000000), '$SKU', 1)"
if ! silent_call_wait; then
	silent_call_free
	fail "the call still waits after $WAITED s (bound: query_timeout $QT s + 5 s), $AFTER_CANCEL; once the node's connections closed it $FREED: $(tr '\n' ' ' < "$WORK/out" | cut -c1-300)"
fi
cut -c1-300 "$WORK/out" | sed 's/^/  | /'
grep -qE 'ERROR:  08006' "$WORK/out" || fail "no 08006 error"
[ "$ELAPSED" -le "$LIMIT" ] || fail "the error came after $ELAPSED s, not within $LIMIT s"
step "ok: the call ended after $ELAPSED s"
